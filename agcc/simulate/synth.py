"""Source-filter synthesis from the articulatory trajectory, and the recording channel.

What it models
--------------
The sound is made from the *same* articulatory trajectory as the mouth landmarks, so formants follow
articulation (Fant 1960, acoustic theory of speech production; Klatt 1980 cascade synthesiser):

* :func:`formants` maps lip opening/spreading/rounding and tongue height/frontness to F1-F5 with the
  textbook dependencies: F1 rises with jaw/lip opening and falls with tongue height; F2 rises with
  tongue frontness and falls with lip rounding (which lengthens the front cavity); F3 falls with
  rounding; spreading raises and rounding lowers all formants a little (a shorter or longer tract);
  all formants scale with ``vtl_scale`` (inverse vocal-tract length; Fant 1966).
* :func:`synthesize` builds a glottal pulse train from the F0 contour and white noise, and filters
  them in the short-time Fourier domain (5 ms hop, 20 ms window, overlap-add): voiced pulses and
  aspiration pass through the cascade of five two-pole formant resonators and the source spectral tilt;
  frication noise is shaped by its own band (place of constriction) instead. Per-frame gain sets
  the level. A single global scale (no per-utterance normalisation) keeps loudness differences
  between emotions; a tanh soft limiter acts only near full scale.
* :class:`Channel` / :func:`apply_channel`: the recording chain that differs between corpora —
  microphone band limits and presence peak, room reverberation (exponentially decaying noise impulse
  response with a given RT60, Schroeder's statistical model), additive coloured room noise at an SNR
  relative to the active speech level, and a gain.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy import fft as sp_fft
from scipy.signal import butter, lfilter, sosfilt

from .phones import ARTIC_PARAMS

GLOBAL_SCALE = 0.2  # fixed output scale: neutral speech ~ -37 dBFS active level, full anger peaks ~ -2 dBFS
F0_REF_HZ = 100.0  # pulse amplitude ~ sqrt(F0_REF / f0): the source power does not depend on F0
TILT_KNEE_HZ = 500.0  # the tilt acts above this frequency (spectral balance, cf. Hammarberg index)
ASPIRATION_LEVEL = 0.35  # formant-shaped noise relative to the pulses (aspiration, breathiness)
FRICATION_LEVEL = 0.5  # band noise relative to the pulses
LIMIT_AT = 0.9  # soft limiter knee (full scale = 1)


def formants(params: dict[str, np.ndarray], vtl_scale: float) -> tuple[np.ndarray, np.ndarray]:
    """Formant frequencies and bandwidths (Hz) from articulatory parameters.

    Parameters
    ----------
    params
        Arrays (n,) for the five :data:`~agcc.simulate.phones.ARTIC_PARAMS` in [0, 1].
    vtl_scale
        Formant scale factor (1 = adult male).

    Returns
    -------
    freqs, bandwidths
        Each (n, 5), for F1..F5.
    """
    o, s, r, h, f = (np.atleast_1d(np.asarray(params[k], float)) for k in ARTIC_PARAMS)
    F = np.empty((o.shape[0], 5))
    F[:, 0] = 200.0 + 450.0 * o + 250.0 * (1.0 - h)
    F[:, 1] = 1000.0 + 1300.0 * f - 300.0 * r + 100.0 * s
    F[:, 2] = 2500.0 + 300.0 * f - 300.0 * r
    F[:, 3], F[:, 4] = 3500.0, 4500.0
    # Spreading retracts the lip corners (shorter tract: all formants up, as in smiled speech; Tartter
    # 1980); rounding protrudes the lips (longer tract: all formants down).
    F *= (1.0 + 0.05 * (s - 0.35) - 0.05 * (r - 0.2))[:, None]
    # Keep the formants ordered and apart (two resonances of one tube never coincide).
    for k in range(1, 5):
        F[:, k] = np.maximum(F[:, k], F[:, k - 1] + 200.0)
    B = np.empty_like(F)
    B[:, 0] = 60.0 + 20.0 * o
    B[:, 1:] = (90.0, 120.0, 200.0, 250.0)
    return F * vtl_scale, B


def _resonator_gain(freqs: np.ndarray, bws: np.ndarray, fk: np.ndarray, sr: int) -> np.ndarray:
    """|H| of a cascade of unity-DC-gain two-pole resonators; freqs, bws (K, 5), fk (nb,) -> (K, nb).

    For poles r e^{±jθ}: |H(ω)| = (1 - 2r cosθ + r²) / sqrt(a⁺ a⁻) with a^± = 1 + r² - 2r cos(ω ∓ θ).
    Expanding the cosines, a⁺a⁻ = α + β cosω + γ sin²ω with α = (1 + r²)² + 4r²cos²θ,
    β = -4r(1 + r²)cosθ, γ = -4r²: one small matrix product per formant, (K, 3) @ (3, nb).
    """
    r = np.exp(-np.pi * bws / sr)  # (K, 5) pole radii
    th = 2.0 * np.pi * freqs / sr
    one, rc = 1.0 + r * r, 2.0 * r * np.cos(th)
    coef = np.stack([one * one + rc * rc, -2.0 * one * rc, -4.0 * r * r], axis=-1)  # (K, 5, 3)
    w = 2.0 * np.pi * fk / sr
    basis = np.stack([np.ones_like(w), np.cos(w), np.sin(w) ** 2])  # (3, nb)
    acc = coef[:, 0] @ basis  # float64: the terms nearly cancel at a formant peak
    for k in range(1, freqs.shape[1]):
        acc *= coef[:, k] @ basis
    num = np.prod(one - rc, axis=1)  # (K,) DC normalisation
    return (num[:, None] / np.sqrt(acc)).astype(np.float32)


def _frames_spectrum(x: np.ndarray, K: int, hop: int, win: np.ndarray, nfft: int, rows: np.ndarray) -> np.ndarray:
    """rfft of the Hann-windowed frames ``rows`` (of K) centred on k*hop; x (N,) -> (len(rows), nfft//2 + 1)."""
    L = len(win)
    pad = np.zeros(K * hop + L, np.float32)
    n = min(len(x), K * hop + L - L // 2)
    pad[L // 2:L // 2 + n] = x[:n]
    frames = np.zeros((len(rows), nfft), np.float32)  # zero-padded to nfft in place
    np.multiply(sliding_window_view(pad, L)[::hop][rows], win, out=frames[:, :L])
    return sp_fft.rfft(frames, axis=1)


def _overlap_add(frames: np.ndarray, hop: int, n_out: int, offset: int) -> np.ndarray:
    """Overlap-add (K, R*hop) frames placed at k*hop; returns n_out samples from ``offset`` on."""
    K, L = frames.shape
    R = L // hop
    out = np.zeros((K + R) * hop, frames.dtype)
    parts = frames.reshape(K, R, hop)  # R vectorised adds instead of a loop over frames
    for j in range(R):
        out[j * hop:j * hop + K * hop] += parts[:, j, :].reshape(-1)
    return out[offset:offset + n_out]


def synthesize(traj: dict, vtl_scale: float, rng: np.random.Generator, *, sr: int = 16000) -> np.ndarray:
    """Waveform (float32, mono, ``round(duration * sr)`` samples) of an articulatory trajectory.

    Parameters
    ----------
    traj
        Output of :func:`agcc.simulate.articulation.articulatory_trajectory`, or a dict with at least
        ``t``, the five articulatory parameters, ``voicing``, ``noise``, ``frication_hz``, ``gain_db``,
        ``f0_hz`` and ``tilt_db_per_oct`` (``frication_bw_oct``, ``breathiness``, ``duration`` optional).
    vtl_scale
        The speaker's formant scale; also shifts frication bands (smaller front cavities).
    rng
        Source of the noise.
    sr
        Sample rate (Hz).
    """
    t_tr = np.asarray(traj["t"], float)
    step = t_tr[1] - t_tr[0] if len(t_tr) > 1 else 0.005
    dur = float(traj["duration"]) if "duration" in traj else t_tr[-1] + step
    N = int(round(dur * sr))
    hop = int(round(sr * 0.005))
    # 20 ms frames (the filter changes smoothly, no need to resolve harmonics) in 30 ms FFTs: the
    # 10 ms of zero padding hold the resonators' ringing (B = 60 Hz decays with a 5 ms constant).
    L, nfft = 4 * hop, 6 * hop
    K = N // hop + 1
    tk = np.arange(K) * hop / sr

    def at_frames(key, default=0.0):
        v = traj.get(key)
        return np.full(K, default) if v is None else np.interp(tk, t_tr, np.asarray(v, float))

    # Glottal source: phase accumulation, one pulse per wrap, split between two samples by its
    # fractional position (a cheap band-limiting); amplitude ~ 1/sqrt(f0) keeps source power flat.
    f0 = np.maximum(np.interp(np.arange(N) / sr, t_tr, np.asarray(traj["f0_hz"], float)), 20.0)
    phase = np.cumsum(f0 / sr)
    wraps = np.flatnonzero(np.diff(np.floor(phase)) > 0) + 1
    frac = np.clip((phase[wraps] - np.floor(phase[wraps])) / (f0[wraps] / sr), 0.0, 1.0)
    amp = np.sqrt(F0_REF_HZ / f0[wraps])
    pulses = np.zeros(N, np.float32)
    pulses[wraps] += amp * (1.0 - frac)  # wraps are distinct samples: no need for np.add.at
    pulses[wraps - 1] += amp * frac
    noise = rng.standard_normal(N, dtype=np.float32)

    # Only frames within 60 dB of the loudest are filtered (silence would come out below the
    # quantisation and channel-noise floors anyway); the others stay zero.
    gain_db = at_frames("gain_db", -80.0)
    act = np.flatnonzero(gain_db > gain_db.max() - 60.0)  # (Ka,) frame indices
    win = (0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(L) / L)).astype(np.float32)  # periodic Hann
    Xp = _frames_spectrum(pulses, K, hop, win, nfft, act)  # (Ka, nb) complex64
    Xn = _frames_spectrum(noise, K, hop, win, nfft, act)
    fk = np.fft.rfftfreq(nfft, 1.0 / sr)  # (nb,)

    F, B = formants({k: at_frames(k)[act] for k in ARTIC_PARAMS}, vtl_scale)
    tract = _resonator_gain(F, B, fk, sr)  # (Ka, nb) float32
    octaves = np.log2(np.maximum(fk, TILT_KNEE_HZ) / TILT_KNEE_HZ)  # (nb,)
    tilt = at_frames("tilt_db_per_oct", -6.0)[act]
    if np.ptp(tilt) == 0:  # the usual case: one tilt per utterance
        tract *= (10.0 ** (tilt[0] * octaves / 20.0)).astype(np.float32)
    else:
        tract *= (10.0 ** (tilt[:, None] * octaves / 20.0)).astype(np.float32)

    level = 10.0 ** (gain_db[act] / 20.0)
    voicing, amount = at_frames("voicing")[act], at_frames("noise")[act]
    fhz = at_frames("frication_hz")[act] * vtl_scale
    band_amt = np.where(fhz > 0, amount, 0.0)
    asp = ASPIRATION_LEVEL * (np.where(fhz > 0, 0.0, amount) + at_frames("breathiness", 0.03)[act] * voicing)
    Y = Xp * (tract * (voicing * level)[:, None].astype(np.float32))
    noise_filter = tract * (asp * level)[:, None].astype(np.float32)
    fr = np.flatnonzero(band_amt > 0)  # frication band only where there is frication
    if len(fr):  # Gaussian in log-frequency around the (scaled) centre
        sig = np.maximum(at_frames("frication_bw_oct", 1.0)[act][fr], 0.1) / 2.355  # FWHM (octaves) -> std
        z = (np.log2(np.maximum(fk, 50.0))[None, :] - np.log2(np.maximum(fhz[fr], 50.0))[:, None]) / sig[:, None]
        noise_filter[fr] += (FRICATION_LEVEL * band_amt[fr] * level[fr])[:, None] * np.exp(-0.5 * z * z)
    Y += Xn * noise_filter
    frames = np.zeros((K, nfft), np.float32)
    frames[act] = sp_fft.irfft(Y, nfft, axis=1)
    y = _overlap_add(frames, hop, N, L // 2).astype(float) / (L / hop * 0.5)

    y *= GLOBAL_SCALE
    mag = np.abs(y)  # soft limiter: identity below the knee, tanh into [knee, 1)
    over = mag > LIMIT_AT
    y[over] = np.sign(y[over]) * (LIMIT_AT + (1 - LIMIT_AT) * np.tanh((mag[over] - LIMIT_AT) / (1 - LIMIT_AT)))
    return y.astype(np.float32)


@dataclass
class Channel:
    """Recording channel: microphone response, room, noise and gain.

    A cut-off <= 0 (or a high cut at or above 0.49 * sr) switches that filter off; ``mic_peak_db = 0``
    no presence peak; ``rt60_s = 0`` no reverberation; ``snr_db = inf`` no noise. ``noise_color`` is the
    exponent of the noise spectrum 1/f^c (0 white, 1 pink, 2 brown); ``drr_db`` the direct-to-
    reverberant energy ratio.
    """

    mic_lowcut_hz: float = 20.0
    mic_highcut_hz: float = 8000.0
    mic_peak_hz: float = 2500.0
    mic_peak_db: float = 0.0
    rt60_s: float = 0.0
    snr_db: float = 45.0
    gain_db: float = 0.0
    drr_db: float = 3.0
    noise_color: float = 1.0


CLEAN = Channel()  # flat studio chain: no reverberation, 45 dB SNR


def _peaking(x: np.ndarray, sr: int, f0: float, db: float, q: float = 1.2) -> np.ndarray:
    """RBJ audio-EQ-cookbook peaking filter."""
    A, w0 = 10.0 ** (db / 40.0), 2.0 * np.pi * f0 / sr
    alpha = np.sin(w0) / (2.0 * q)
    b = [1 + alpha * A, -2 * np.cos(w0), 1 - alpha * A]
    a = [1 + alpha / A, -2 * np.cos(w0), 1 - alpha / A]
    return lfilter(b, a, x)


def active_level(x: np.ndarray, sr: int) -> float:
    """RMS over the 20 ms frames within 40 dB of the loudest (a simple active speech level)."""
    n = max(int(0.02 * sr), 1)
    m = len(x) // n
    if m == 0:
        return float(np.sqrt(np.mean(x ** 2))) if len(x) else 0.0
    e = np.mean(x[:m * n].reshape(m, n) ** 2, axis=1)
    act = e >= e.max() * 1e-4
    return float(np.sqrt(e[act].mean())) if e.max() > 0 else 0.0


@lru_cache(maxsize=64)
def _butter_sos(order: int, cutoff: float, kind: str, sr: int) -> np.ndarray:
    return butter(order, cutoff, kind, fs=sr, output="sos")  # designs are reused across utterances


def apply_channel(wav: np.ndarray, sr: int, channel: Channel, rng: np.random.Generator) -> np.ndarray:
    """Pass a waveform through ``channel``; returns float32 of the same length.

    Order: microphone (high-pass, low-pass, presence peak), room reverberation, room noise at
    ``snr_db`` below the active level of the reverberant speech, gain.
    """
    x = np.asarray(wav, np.float32)
    N = len(x)
    if channel.mic_lowcut_hz > 0:
        x = sosfilt(_butter_sos(2, float(channel.mic_lowcut_hz), "highpass", sr), x)
    if 0 < channel.mic_highcut_hz < 0.49 * sr:
        x = sosfilt(_butter_sos(4, float(channel.mic_highcut_hz), "lowpass", sr), x)
    if channel.mic_peak_db != 0 and 0 < channel.mic_peak_hz < 0.49 * sr:
        x = _peaking(x, sr, channel.mic_peak_hz, channel.mic_peak_db)
    if channel.rt60_s > 0:
        # Exponentially decaying Gaussian noise (60 dB down at rt60) after a 2 ms pre-delay, scaled to
        # the direct-to-reverberant ratio; the direct path is a unit impulse. Linear convolution by FFT.
        n_ir = max(int(channel.rt60_s * sr), 2)
        t = np.arange(n_ir) / sr
        tail = rng.standard_normal(n_ir) * np.exp(-6.908 * t / channel.rt60_s)
        tail[: int(0.002 * sr) + 1] = 0.0
        tail *= np.sqrt(10.0 ** (-channel.drr_db / 10.0) / max(np.sum(tail ** 2), 1e-12))
        tail[0] = 1.0
        M = sp_fft.next_fast_len(N + n_ir, real=True)
        x = sp_fft.irfft(sp_fft.rfft(x, M) * sp_fft.rfft(tail.astype(np.float32), M), M)[:N]
    x = np.asarray(x, float)
    if np.isfinite(channel.snr_db):
        # Stationary coloured noise drawn directly in the frequency domain (power ~ 1/f^c).
        M = sp_fft.next_fast_len(N, real=True)
        nb = M // 2 + 1
        spec = rng.standard_normal((2, nb), dtype=np.float32)
        shape = np.maximum(np.fft.rfftfreq(M, 1.0 / sr), 20.0) ** (-channel.noise_color / 2.0)
        shape[0] = 0.0
        nz = sp_fft.irfft((spec[0] + 1j * spec[1]) * shape.astype(np.float32), M)[:N].astype(float)
        nz /= max(np.sqrt(np.mean(nz ** 2)), 1e-20)
        x = x + nz * active_level(x, sr) * 10.0 ** (-channel.snr_db / 20.0)
    x *= 10.0 ** (channel.gain_db / 20.0)
    return x.astype(np.float32)
