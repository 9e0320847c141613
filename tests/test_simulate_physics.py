"""Physics of the speech simulator, measured on its outputs (waveforms and landmarks).

The checks measure what a listener or a tracker would see: formants by LPC on the synthesized
waveform, F0 by an autocorrelation pitch tracker, levels and spectra from the samples, mouth opening
and width from the rendered landmarks, rather than reading back the parameters the simulator set.
"""
from __future__ import annotations

import time

from dataclasses import replace

import numpy as np
import pytest
from scipy.linalg import solve_toeplitz
from scipy.signal import welch

from agcc.simulate import articulation as A
from agcc.simulate import face as F
from agcc.simulate import phones as P
from agcc.simulate import synth as S

SR = 16000


# ------------------------------------------------------------------ measurement helpers
def sustained(open_, spread, round_, height, front, *, f0=120.0, dur=0.5, frame_rate=200.0) -> dict:
    """A constant articulatory trajectory (a sustained vowel) built directly."""
    n = int(np.ceil(dur * frame_rate))
    c = lambda v: np.full(n, float(v))  # noqa: E731
    return dict(t=np.arange(n) / frame_rate, open=c(open_), spread=c(spread), round=c(round_), height=c(height),
                front=c(front), voicing=c(1), noise=c(0), frication_hz=c(0), gain_db=c(0), f0_hz=c(f0),
                tilt_db_per_oct=c(-6), duration=np.asarray(dur))


def lpc_formants(x: np.ndarray, sr: int = SR, order: int = 14) -> np.ndarray:
    """Formant frequencies (Hz, ascending) by autocorrelation LPC over the middle of a signal."""
    mid = np.asarray(x, float)[len(x) // 4: 3 * len(x) // 4]
    mid = np.append(mid[0], mid[1:] - 0.97 * mid[:-1]) * np.hanning(len(mid))  # pre-emphasis, window
    r = np.correlate(mid, mid, "full")[len(mid) - 1: len(mid) + order]
    a = solve_toeplitz(r[:order], -r[1:order + 1])
    roots = np.roots(np.concatenate([[1.0], a]))
    roots = roots[np.imag(roots) > 0]
    freq = np.angle(roots) * sr / (2 * np.pi)
    bw = -np.log(np.abs(roots)) * sr / np.pi
    return np.sort(freq[(freq > 90) & (bw < 400)])


def f1_f2(traj: dict, vtl: float = 1.0) -> tuple[float, float]:
    f = lpc_formants(S.synthesize(traj, vtl, np.random.default_rng(0)))
    return float(f[0]), float(f[1])


def pitch_track(x: np.ndarray, sr: int = SR) -> np.ndarray:
    """F0 (Hz) of voiced 40 ms frames by normalised autocorrelation (lags for 60-400 Hz)."""
    n, hop = int(0.04 * sr), int(0.01 * sr)
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(x, float), n)[::hop]
    energy = (frames ** 2).mean(1)
    frames = frames[energy > energy.max() * 1e-2]
    frames = frames - frames.mean(1, keepdims=True)
    spec = np.fft.rfft(frames, 2 * n, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :n]
    ac /= ac[:, :1]
    lo, hi = int(sr / 400), int(sr / 60)
    lag = lo + np.argmax(ac[:, lo:hi], axis=1)
    voiced = ac[np.arange(len(ac)), lag] > 0.6
    return sr / lag[voiced]


def active_db(x: np.ndarray, sr: int = SR) -> float:
    """RMS level (dB) over the 10 ms frames within 40 dB of the loudest."""
    n = int(0.01 * sr)
    e = (np.asarray(x, float)[: len(x) // n * n].reshape(-1, n) ** 2).mean(1)
    return float(10 * np.log10(e[e > e.max() * 1e-4].mean()))


def speech_span(x: np.ndarray, sr: int = SR) -> float:
    """Seconds from the first to the last 10 ms frame within 35 dB of the loudest."""
    n = int(0.01 * sr)
    e = (np.asarray(x, float)[: len(x) // n * n].reshape(-1, n) ** 2).mean(1)
    idx = np.flatnonzero(e > e.max() * 10 ** -3.5)
    return (idx[-1] - idx[0] + 1) * n / sr


def hf_lf_ratio_db(x: np.ndarray, sr: int = SR) -> float:
    """Long-term average spectrum: energy above 4 kHz relative to energy below 1 kHz (dB)."""
    f, p = welch(np.asarray(x, float), sr, nperseg=512)
    return float(10 * np.log10(p[f > 4000].sum() / p[(f > 50) & (f < 1000)].sum()))


def speaker(gender="M", seed=3) -> A.Speaker:
    # expressivity 1: these tests read the emotion table's effects at the intensity they ask for
    return replace(A.sample_speaker("t", gender, np.random.default_rng(seed)), expressivity=1.0)


def render(words, spk, emotion="neutral", intensity=1.0, seed=0):
    """plan, trajectory, waveform and noiseless landmarks of one utterance."""
    rng = np.random.default_rng(seed)
    plan = A.plan_utterance(words, spk, emotion, intensity, rng)
    traj = A.articulatory_trajectory(plan, spk, emotion, intensity, rng)
    wav = S.synthesize(traj, spk.vtl_scale, rng)
    pose = F.HeadPose(roll_deg=0.0, scale_px=60.0, center_px=(320.0, 200.0), drift_px=0.0, roll_drift_deg=0.0)
    lm = F.render_landmarks(traj, spk, pose, rng, noise_px=0.0, p_fail_gap=0.0, p_long_gap=0.0)
    return plan, traj, wav, lm


# ------------------------------------------------------------------ 1. formants follow articulation
def test_f1_rises_with_opening_and_f2_with_frontness():
    f1 = [f1_f2(sustained(o, 0.35, 0.1, 0.5, 0.5))[0] for o in (0.2, 0.5, 0.8)]
    f2 = [f1_f2(sustained(0.4, 0.35, 0.1, 0.5, fr))[1] for fr in (0.2, 0.5, 0.8)]
    assert f1[0] + 60 < f1[1] and f1[1] + 60 < f1[2], f1
    assert f2[0] + 150 < f2[1] and f2[1] + 150 < f2[2], f2


def test_corner_vowels_by_lpc():
    meas = {v: f1_f2(sustained(*P.VOWEL_TARGETS[v][0])) for v in ("IY", "AA", "UW")}
    assert meas["IY"][0] + 250 < meas["AA"][0], meas  # /i/ close, /a/ open
    assert meas["IY"][1] > meas["UW"][1] + 1000, meas  # /i/ front, /u/ back and rounded
    # A shorter (female) vocal tract raises the formants.
    assert f1_f2(sustained(*P.VOWEL_TARGETS["AA"][0]), vtl=1.18)[0] > meas["AA"][0] * 1.08


# ------------------------------------------------------------------ 2. emotion in the voice
@pytest.mark.parametrize("gender", ["M", "F"])
def test_emotion_prosody(gender):
    spk = speaker(gender)
    words = ["the", "surface", "is", "slick"]
    wav = {e: render(words, spk, e, 1.0, seed=11)[2] for e in ("neutral", "anger", "happiness", "sadness")}
    f0 = {e: np.median(pitch_track(w)) for e, w in wav.items()}
    level = {e: active_db(w) for e, w in wav.items()}
    span = {e: speech_span(w) for e, w in wav.items()}
    assert f0["anger"] > f0["neutral"] * 1.08 and f0["happiness"] > f0["neutral"] * 1.08, f0
    assert f0["sadness"] < f0["neutral"], f0
    assert 0.5 * spk.f0_hz < f0["neutral"] < 1.5 * spk.f0_hz, f0
    assert level["anger"] > level["neutral"] + 3 and level["sadness"] < level["neutral"] - 1, level
    assert span["sadness"] > span["neutral"] * 1.05, span


def test_no_normalisation_and_no_clipping():
    spk = speaker("F")
    words = P.words_of("I think I have a doctor's appointment")
    loud = render(words, spk, "anger", 1.2, seed=2)[2]
    soft = render(words, spk, "sadness", 1.0, seed=2)[2]
    assert np.abs(loud).max() < 1.0 and np.abs(soft).max() < 0.5
    assert active_db(loud) - active_db(soft) > 10


# ------------------------------------------------------------------ 3. articulation in the landmarks
def _mid_frame(plan, lm, vowel):
    s, e = next((s, e) for ph, s, e in plan.phones if P.base(ph) == vowel)
    return int(np.argmin(np.abs(lm["timestamps"] - (s + e) / 2)))


def test_landmarks_open_and_spread():
    spk = speaker("M")
    out = {}
    for word, vowel in (("hot", "AA"), ("heat", "IY"), ("hoot", "UW")):
        plan, _, _, lm = render([word], spk, seed=4)
        xy = lm["xy"][_mid_frame(plan, lm, vowel)]
        out[vowel] = (np.linalg.norm(xy[57] - xy[51]), np.linalg.norm(xy[54] - xy[48]))
    assert out["AA"][0] > out["IY"][0] * 1.3, out  # jaw drop for /a/ (paper Fig. 1a)
    assert out["IY"][1] > out["UW"][1] * 1.2, out  # spread corners for /i/ (Fig. 1c/d)


def test_bilabial_closes_lips_and_template_eyes():
    spk = speaker("F")
    plan, _, _, lm = render(["maybe"], spk, seed=1)
    xy = lm["xy"]
    m = xy[_mid_frame(plan, lm, "M"), 66, 1] - xy[_mid_frame(plan, lm, "M"), 62, 1]
    ey = xy[_mid_frame(plan, lm, "EY"), 66, 1] - xy[_mid_frame(plan, lm, "EY"), 62, 1]
    assert m < 0.35 * ey, (m, ey)
    tpl = F.face_template(spk.face)
    np.testing.assert_allclose(tpl[36:42].mean(0), [-0.5, 0.0], atol=1e-12)
    np.testing.assert_allclose(tpl[42:48].mean(0), [0.5, 0.0], atol=1e-12)


def test_anger_opens_the_mouth_more_than_sadness():
    spk = speaker("F")
    words = P.words_of("I would like a new alarm clock")
    rng_open = {}
    for e in ("anger", "sadness"):
        xy = render(words, spk, e, 1.0, seed=5)[3]["xy"]
        d = np.linalg.norm(xy[:, 57] - xy[:, 51], axis=1)
        rng_open[e] = np.percentile(d, 95) - np.percentile(d, 5)
    assert rng_open["anger"] > 1.2 * rng_open["sadness"], rng_open


def test_tracking_failures_look_like_openface():
    spk = speaker("M")
    rng = np.random.default_rng(0)
    plan = A.plan_utterance(["hello"], spk, "neutral", 1.0, rng)
    traj = A.articulatory_trajectory(plan, spk, "neutral", 1.0, rng)
    pose = F.sample_pose(rng, scale_px_mean=60, scale_px_sd=5, image_size=(640, 480))
    lm = F.render_landmarks(traj, spk, pose, rng, p_all_fail=1.0)
    assert lm["success"].sum() == 0 and np.all(lm["xy"] == 0) and lm["confidence"].max() < 0.3
    lm = F.render_landmarks(traj, spk, pose, rng, p_fail_gap=1.0, p_long_gap=0.0)
    assert 1 <= (lm["success"] == 0).sum() <= 4 and lm["confidence"].max() <= 0.98
    assert len(lm["timestamps"]) == int(np.floor(plan.duration * 30.0)) + 1


# ------------------------------------------------------------------ 4. recording channel
def test_channel_changes_spectrum_and_clean_does_not():
    wav = render(P.words_of("We'll stop in a couple of minutes"), speaker("F"), seed=6)[2]
    base = hf_lf_ratio_db(wav)
    clean = S.apply_channel(wav, SR, S.CLEAN, np.random.default_rng(1))
    room = S.Channel(mic_lowcut_hz=150, mic_highcut_hz=3400, mic_peak_hz=2500, mic_peak_db=6, rt60_s=0.4, snr_db=20)
    other = S.apply_channel(wav, SR, room, np.random.default_rng(1))
    assert len(clean) == len(other) == len(wav)
    assert abs(hf_lf_ratio_db(clean) - base) < 1.0
    assert abs(hf_lf_ratio_db(other) - base) > 3.0


# ------------------------------------------------------------------ 5. determinism and API contracts
def test_deterministic_given_rng():
    spk = speaker("F")
    words = P.words_of("Don't forget a jacket")
    a, b, c = (render(words, spk, "happiness", 0.8, seed=s) for s in (7, 7, 8))
    for key in ("open", "f0_hz", "gain_db"):
        assert np.array_equal(a[1][key], b[1][key])
    assert np.array_equal(a[2], b[2]) and np.array_equal(a[3]["xy"], b[3]["xy"])
    assert not np.array_equal(a[2][:1000], c[2][:1000]) or len(a[2]) != len(c[2])
    assert not np.array_equal(a[1]["f0_hz"][:50], c[1]["f0_hz"][:50])


def test_api_contracts():
    assert len(P.VOWELS) == 15 and len(P.CONSONANTS) == 24
    assert P.pronounce("It's") == ["IH1", "T", "S"]
    assert P.words_of("It's eleven o'clock.") == ["it's", "eleven", "o'clock"]
    with pytest.raises(KeyError):
        P.pronounce("qwzxv")
    with pytest.raises(ValueError, match="anger"):
        A.effects("boredom", 1.0)
    assert A.effects("sadness", 0.0) == A.EMOTION_EFFECTS["neutral"]
    assert A.effects("anger", 0.5)["articulation_gain"] == pytest.approx(1.15)
    spk = speaker("M")
    plan, traj, wav, _ = render(["stop"], spk)
    assert len(traj["t"]) == int(np.ceil(plan.duration * 200.0)) and len(wav) == round(plan.duration * SR)
    assert wav.dtype == np.float32
    assert all(0.0 <= traj[k].min() and traj[k].max() <= 1.0 for k in A.ARTIC_PARAMS)
    assert plan.phones[0][1] >= 0.15 and plan.duration - plan.phones[-1][2] >= 0.15


if __name__ == "__main__":  # speed of one ~2.5 s utterance, all stages (no timed test on purpose)
    spk = speaker("F")
    words = P.words_of("I think I have a doctor's appointment")
    P.pronounce("a")  # load CMUdict (about 1 s, once per process) before timing
    room = S.Channel(mic_lowcut_hz=110, mic_highcut_hz=5600, mic_peak_db=6, rt60_s=0.4, snr_db=20)
    rng = np.random.default_rng(0)
    times, durs = [], []
    for _ in range(100):
        t0 = time.perf_counter()
        plan = A.plan_utterance(words, spk, "anger", 1.0, rng)
        traj = A.articulatory_trajectory(plan, spk, "anger", 1.0, rng)
        wav = S.apply_channel(S.synthesize(traj, spk.vtl_scale, rng), SR, room, rng)
        pose = F.sample_pose(rng, scale_px_mean=60, scale_px_sd=5, image_size=(640, 480))
        F.render_landmarks(traj, spk, pose, rng)
        times.append(time.perf_counter() - t0)
        durs.append(plan.duration)
    print(f"{1000 * np.median(times):.1f} ms per utterance (median of 100; mean duration {np.mean(durs):.2f} s)")
