"""Audio input: read any WAV and resample it to the pipeline's 16 kHz (Sec. IV: wav2vec2 input).

The sample rate is read from the file header, never assumed (MSP-IMPROV's is unverified).
"""
from __future__ import annotations

from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000


def load_audio(path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 waveform of ``path`` at ``sr`` Hz (channels averaged, polyphase resampling)."""
    wav, native = sf.read(str(Path(path)), dtype="float32", always_2d=True)
    wav = wav.mean(axis=1)
    if native != sr:
        g = gcd(int(native), int(sr))
        wav = resample_poly(wav, sr // g, int(native) // g).astype(np.float32)
    return wav
