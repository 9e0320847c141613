"""Audio input: read any WAV and resample it to the pipeline's 16 kHz (Sec. IV: wav2vec2 input),
and check what is read (:func:`inspect_audio`: truncated files, silence of the mono mix).

The sample rate is read from the file header, never assumed (MSP-IMPROV's is unverified).
"""
from __future__ import annotations

import os
from math import gcd
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

SAMPLE_RATE = 16000
# peak amplitude (full scale 1) below which a file counts as having no signal: -80 dBFS, a few
# steps of 16-bit quantisation (the mix of channels that cancel, L = -R, keeps one such step)
SILENCE_PEAK = 1e-4


def load_audio(path, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Mono float32 waveform of ``path`` at ``sr`` Hz (channels averaged, polyphase resampling)."""
    wav, native = sf.read(str(Path(path)), dtype="float32", always_2d=True)
    wav = wav.mean(axis=1)
    if native != sr:
        g = gcd(int(native), int(sr))
        wav = resample_poly(wav, sr // g, int(native) // g).astype(np.float32)
    return wav


def wav_truncation(path) -> str | None:
    """Why a RIFF/WAVE file is truncated (its ``data`` chunk declares more bytes than the file
    holds), or ``None``. Decoders read such a file without complaint, only shorter; other formats,
    and sizes left unknown by streaming writers (0 or 0xFFFFFFFF), give ``None``."""
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        size = os.fstat(fh.fileno()).st_size
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            declared = int.from_bytes(chunk[4:], "little")
            if chunk[:4] == b"data":
                held = size - pos - 8
                if declared not in (0, 0xFFFFFFFF) and held < declared:
                    return f"truncated WAV: its header declares {declared} bytes of audio, the file holds {held}"
                return None
            pos += 8 + declared + (declared & 1)  # chunks are padded to an even size
    return None


def inspect_audio(path) -> tuple[float, str | None]:
    """Duration in seconds of ``path`` and why it cannot be used (``None`` if it can).

    The checks are made on what the pipeline uses: the mono mix of the channels (a stereo file
    whose channels cancel, L = -R, has no signal); a truncated WAV (:func:`wav_truncation`) is
    named as such rather than read shorter."""
    try:
        truncated = wav_truncation(path)
        if truncated:
            return float("nan"), truncated
        wav, native = sf.read(str(Path(path)), dtype="float32", always_2d=True)
    except Exception as err:  # soundfile raises several types for unreadable files
        return float("nan"), f"audio unreadable: {type(err).__name__}"
    mono = wav.mean(axis=1)  # as load_audio mixes it
    if not np.isfinite(mono).all():
        return len(mono) / native, "audio has NaN or infinite samples"
    if float(np.abs(mono).max(initial=0.0)) < SILENCE_PEAK:
        why = ("peak below -80 dBFS" if wav.shape[1] == 1
               else f"the mix of its {wav.shape[1]} channels peaks below -80 dBFS")
        return len(mono) / native, f"audio has no signal ({why})"
    return len(mono) / native, None
