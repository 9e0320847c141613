"""Generators of the two simulated corpora, written in the real releases' layouts.

:func:`generate_crema_d` writes a CREMA-D-like corpus::

    <root>/AudioWAV/<actor>_<SENT>_<EMO>_<LVL>.wav       16 kHz mono PCM
    <root>/VideoDemographics.csv                         "ActorID","Age","Sex","Race","Ethnicity"
    <root>/processedResults/summaryTable.csv             perceptual votes, real header
    <root>/openface/<stem>.csv                           OpenFace 2.x FeatureExtraction output
    <root>/mfa/<stem>.TextGrid                           Montreal Forced Aligner output

:func:`generate_msp_improv` writes an MSP-IMPROV-like corpus::

    <root>/Audio/session<N>/S<NN><E>/<R|S|T|P>/MSP-IMPROV-S<NN><E>-<G><NN>-<T>-<XY><NN>.wav  (22.05 kHz)
    <root>/Evaluation.txt                                consensus + rater lines, UTD-IMPROV- names
    <root>/openface/<stem>.csv, <root>/mfa/<stem>.TextGrid

Both corpora share the articulation-to-sound physics (:mod:`~agcc.simulate.articulation`,
:mod:`~agcc.simulate.synth`, :mod:`~agcc.simulate.face`). They differ as the real ones do: the
CREMA-D-like one is scripted, intense and clean; the MSP-IMPROV-like one has weaker, more variable
emotion, other speakers, a different microphone, reverberation and noise, a different camera, and
more tracking failures. A few faults of the real releases are reproduced on purpose so that readers
must report them (listed under ``faults`` in ``simulation.json``).

Every utterance is rendered from its own seed (derived from the corpus seed and its index), so the
output is byte-identical for a seed whatever the number of worker processes.
"""
from __future__ import annotations

import csv
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import soundfile as sf
from scipy.signal import resample_poly

from ..corpora.base import LETTERS
from ..corpora.crema_d import CODES as CREMA_CODES
from ..corpora.msp_improv import TARGETS as IMPROV_TARGETS
from ..io import CacheError, atomic_write, dumps_checked, loads_checked, parallel_map, report
from . import articulation, face, synth
from .phones import words_of
from .sentences import CREMA_D_SENTENCES, MSP_IMPROV_CONVERSATION, MSP_IMPROV_TARGET_SENTENCES
from .writers import write_openface_csv, write_textgrid

SIM_VERSION = 4  # bump when the generator's output changes, so cached corpora are regenerated
MANIFEST = "simulation.json"
SYNTH_SR = 16000

# The codes of the corpora the twins imitate, as their corpus modules define them.
CREMA_EMOTIONS = CREMA_CODES  # ANG -> anger, ... in the release's order
CREMA_VOTE = {code: letter for code, emotion in CREMA_CODES.items() for letter, e in LETTERS.items() if e == emotion}
IMPROV_EMOTIONS = {letter: LETTERS[letter] for letter in IMPROV_TARGETS}
IMPROV_CATEGORY = {"A": "Angry", "H": "Happy", "S": "Sad", "N": "Neutral", "O": "Other"}
# Forced-alignment boundary error (sd, s) on read speech: HMM aligners put 80-89 % of TIMIT's phone
# boundaries within 20 ms of the manual ones (Stolcke et al. 2014), i.e. a Gaussian sd of 13-16 ms;
# spontaneous speech is aligned worse (Buckeye vs TIMIT; McAuliffe et al. 2017), by a factor that no
# source gives in these terms: ALIGN_SPONTANEOUS_FACTOR at spontaneity 1 (a constant, documented).
ALIGN_SD_S = 0.014
ALIGN_SPONTANEOUS_FACTOR = 1.5
# Spontaneity of the MSP-IMPROV recording types: read (R), improvised target sentence (T), other
# improvised turns (S), natural interaction between takes (P). CREMA-D is read/acted: 0.
IMPROV_SPONTANEITY = {"R": 0.0, "T": 0.6, "S": 0.8, "P": 1.0}
# Share of recording types in the real corpus (R, S, T, P: 652, 620, 4381, 2785 of 8438 turns).
IMPROV_TYPES = {"R": 652, "S": 620, "T": 4381, "P": 2785}


# --------------------------------------------------------------------------------------------
# Rendering one utterance (runs in worker processes)
# --------------------------------------------------------------------------------------------
def render_utterance(spec: dict[str, Any]) -> dict[str, Any]:
    """Render one utterance and write its WAV, OpenFace CSV and (unless the aligner "failed")
    TextGrid. ``spec`` is a plain dict made by the generators; returns the true timing."""
    rng = np.random.default_rng(spec["seed"])
    speaker = spec["speaker"]
    words = words_of(spec["text"])
    real = spec.get("realisation", articulation.READ)
    plan = articulation.plan_utterance(words, speaker, spec["emotion"], spec["intensity"], rng, realisation=real)
    traj = articulation.articulatory_trajectory(plan, speaker, spec["emotion"], spec["intensity"], rng,
                                                realisation=real)
    wav = synth.synthesize(traj, speaker.vtl_scale, rng, sr=SYNTH_SR)
    wav = synth.apply_channel(wav, SYNTH_SR, spec["channel"], rng)
    if spec.get("silent"):
        wav = np.zeros_like(wav)
    if spec["sample_rate"] != SYNTH_SR:
        g = np.gcd(spec["sample_rate"], SYNTH_SR)
        wav = resample_poly(wav, spec["sample_rate"] // g, SYNTH_SR // g)
    if spec["audio_path"] is not None:
        Path(spec["audio_path"]).parent.mkdir(parents=True, exist_ok=True)
        sf.write(spec["audio_path"], np.clip(wav, -1, 1), spec["sample_rate"], subtype="PCM_16")

    pose = face.sample_pose(rng, **spec["pose_args"])
    pose = replace(pose, roll_deg=float(rng.normal(0.0, spec["roll_sd_deg"])))
    lm = face.render_landmarks(traj, speaker, pose, rng, **spec["landmark_args"])
    write_openface_csv(Path(spec["openface_path"]), lm, spaced=spec["openface_spaced"])
    if not spec.get("align_fail"):
        oov = None
        if spec.get("oov") and len(plan.words) > 1:
            oov = int(rng.integers(len(plan.words)))
        # the aligner labels the dictionary's phones; its boundaries err by align_sd_s
        write_textgrid(Path(spec["textgrid_path"]), plan.words, plan.aligner_phones(), plan.duration, rng,
                       jitter_sd_s=spec.get("align_sd_s", ALIGN_SD_S), oov_word=oov)
    return {"utt_id": spec["utt_id"], "duration": plan.duration}


def _render_all(specs: list[dict], workers: int, desc: str, progress: bool) -> list[dict]:
    return parallel_map(render_utterance, specs, workers=workers, desc=desc, unit="utt", progress=progress)


# --------------------------------------------------------------------------------------------
# Caching: regenerate only when the parameters or the generator changed
# --------------------------------------------------------------------------------------------
def _cached(root: Path, params: dict) -> bool:
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        return False
    try:
        info = loads_checked(manifest_path)
    except CacheError as err:  # truncated, edited or from an older version: regenerated
        report(f"{err}; regenerating the corpus")
        return False
    return info.get("version") == SIM_VERSION and info.get("params") == params


def _ours(root: Path) -> bool:
    """Whether ``root`` may be deleted: absent, empty, or written by this module."""
    return (not root.exists() or not any(root.iterdir()) or (root / MANIFEST).is_file()
            or (root / ".agcc-generating").is_file())


def _finish(root: Path, params: dict, faults: dict, n: int) -> None:
    info = {"generator": "agcc.simulate", "version": SIM_VERSION, "params": params,
            "n_utterances": n, "faults": faults}
    text = dumps_checked(info, indent=2, sort_keys=True)
    atomic_write(root / MANIFEST, lambda fh: fh.write(text))
    (root / ".agcc-generating").unlink(missing_ok=True)


def _ensure(root: Path, params: dict, build: Callable[[Path], tuple[dict, int]], force: bool) -> Path:
    """Reuse ``root`` if its manifest matches ``params``; else generate the corpus into the
    temporary folder ``.<name>.generating`` beside it and rename that into place when complete,
    so that ``root`` is always a whole corpus or absent (a killed generation leaves only the
    temporary folder, which the next run deletes; one build per artifacts folder holds the
    lock, see :func:`agcc.io.build_lock`)."""
    root = Path(root)
    if not force and _cached(root, params):
        return root
    if not _ours(root):
        raise FileExistsError(
            f"{root} exists, is not empty and was not written by agcc.simulate; "
            "refusing to overwrite it. Choose another artifacts_dir or remove it yourself.")
    tmp, old = root.with_name(f".{root.name}.generating"), root.with_name(f".{root.name}.old")
    for leftover in (tmp, old):
        shutil.rmtree(leftover, ignore_errors=True)
    tmp.mkdir(parents=True)
    (tmp / ".agcc-generating").write_text("generation in progress; an interrupted run leaves this folder\n")
    faults, n = build(tmp)  # the corpus's files hold no path, so the folder can move
    _finish(tmp, params, faults, n)
    if root.exists():
        root.rename(old)
    tmp.rename(root)
    shutil.rmtree(old, ignore_errors=True)
    return root


def _landmark_args(noise_px: float, p_gap: float, p_long: float, p_all: float) -> dict:
    return {"fps": 30.0, "noise_px": noise_px, "p_fail_gap": p_gap, "p_long_gap": p_long,
            "p_all_fail": p_all}


# --------------------------------------------------------------------------------------------
# CREMA-D-like
# --------------------------------------------------------------------------------------------
def generate_crema_d(root, *, n_actors: int = 18, n_sentences: int = 12, intensity: float = 0.9,
                     landmark_noise: float = 1.0, speaker_variability: float = 1.0,
                     articulatory_deviation: float = 1.0, spontaneous_reduction: float = 0.2,
                     style_mismatch: float = 0.0, seed: int = 0, workers: int = 0, progress: bool = True,
                     force: bool = False) -> Path:
    """Write (or reuse) the CREMA-D-like corpus under ``root``; returns ``root``.

    Parameters
    ----------
    n_actors
        Actors (ids drawn from 1001-1091; 1076 is always included, for its known silent file).
    n_sentences
        The first ``n_sentences`` of the 12 CREMA-D sentences.
    intensity
        Mean emotion intensity (scripted, intense: default 0.9).
    landmark_noise
        Multiplier on the tracking noise (default 0.8 px at this camera's face size).
    speaker_variability, articulatory_deviation, spontaneous_reduction
        Between-speaker spreads (:func:`~.articulation.sample_speaker`), deviation of the articulated
        vowels from the dictionary and reduction of spontaneous speech (:class:`~.articulation.Realisation`;
        CREMA-D is read, so only the deviation acts here).
    style_mismatch
        How far this corpus's style of expressing emotion departs from the table
        (:func:`~.articulation.sample_style`, drawn once per corpus).
    """
    if not 1 <= n_actors <= 91 or not 1 <= n_sentences <= 12:
        raise ValueError("n_actors must be in 1..91 and n_sentences in 1..12")
    params = dict(n_actors=n_actors, n_sentences=n_sentences, intensity=intensity,
                  landmark_noise=landmark_noise, speaker_variability=speaker_variability,
                  articulatory_deviation=articulatory_deviation, style_mismatch=style_mismatch, seed=seed)
    realisation = articulation.Realisation(
        spontaneity=0.0, deviation=articulatory_deviation, reduction=spontaneous_reduction,
        style=articulation.sample_style(np.random.default_rng([seed, 1, 5]), style_mismatch))

    def build(root: Path):
        # Two streams: ``rng`` draws the corpus's structure (actors, their traits, each clip's
        # intensity and faults), always the same number of draws whatever the knobs' values;
        # ``votes`` draws the perceptual votes, whose number of draws depends on the intensity.
        # One shared stream made a change of intensity redraw every later actor.
        rng, votes_rng = np.random.default_rng([seed, 1]), np.random.default_rng([seed, 1, 7])
        ids = sorted(rng.choice(np.arange(1001, 1092), size=n_actors, replace=False).tolist())
        if 1076 not in ids:
            ids[-1] = 1076
            ids.sort()
        sentences = list(CREMA_D_SENTENCES)[:n_sentences]
        demo, specs, votes = [], [], []
        for k, actor in enumerate(ids):
            gender = "F" if k % 2 else "M"
            speaker = articulation.sample_speaker(str(actor), gender, rng, variability=speaker_variability)
            demo.append([actor, int(rng.integers(20, 75)), "Female" if gender == "F" else "Male",
                         str(rng.choice(["Caucasian", "African American", "Asian", "Unknown"])),
                         str(rng.choice(["Not Hispanic", "Hispanic"], p=[0.85, 0.15]))])
            for sent in sentences:
                for emo in CREMA_EMOTIONS:
                    levels = ["LO", "MD", "HI"] if sent == "IEO" and emo != "NEU" else ["XX"]
                    for lvl in levels:
                        stem = f"{actor}_{sent}_{emo}_{lvl}"
                        scale = {"LO": 0.55, "MD": 0.85, "HI": 1.15, "XX": 1.0}[lvl]
                        inten = float(np.clip(rng.normal(intensity * scale, 0.1), 0.2, 1.3))
                        specs.append(dict(
                            utt_id=stem, seed=[seed, 1, len(specs)], speaker=speaker,
                            text=CREMA_D_SENTENCES[sent], emotion=CREMA_EMOTIONS[emo],
                            intensity=inten, channel=synth.CLEAN, sample_rate=SYNTH_SR,
                            realisation=realisation, align_sd_s=ALIGN_SD_S,
                            audio_path=str(root / "AudioWAV" / f"{stem}.wav"),
                            openface_path=str(root / "openface" / f"{stem}.csv"),
                            textgrid_path=str(root / "mfa" / f"{stem}.TextGrid"),
                            openface_spaced=True, roll_sd_deg=3.0,
                            pose_args=dict(scale_px_mean=55.0, scale_px_sd=4.0, image_size=(480, 360)),
                            landmark_args=_landmark_args(0.8 * landmark_noise, 0.05, 0.01, 0.0),
                            silent=stem == "1076_MTI_SAD_XX",
                            align_fail=bool(rng.random() < 0.005)))
                        votes.append(_crema_votes(stem, emo, inten, votes_rng))
        # A summaryTable row whose WAV is missing, as in the real release.
        missing = specs[min(1, len(specs) - 1)]
        missing["audio_path"] = None
        faults = {"missing_wav": [missing["utt_id"]],
                  "silent_wav": [s["utt_id"] for s in specs if s["silent"]],
                  "alignment_missing": [s["utt_id"] for s in specs if s["align_fail"]]}

        for sub in ("AudioWAV", "openface", "mfa", "processedResults"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        with open(root / "VideoDemographics.csv", "w", newline="") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_NONNUMERIC)
            w.writerow(["ActorID", "Age", "Sex", "Race", "Ethnicity"])
            w.writerows(demo)
        with open(root / "processedResults" / "summaryTable.csv", "w", newline="") as fh:
            w = csv.writer(fh, quoting=csv.QUOTE_ALL)
            w.writerow(["", "FileName", "VoiceVote", "VoiceLevel", "FaceVote", "FaceLevel",
                        "MultiModalVote", "MultiModalLevel"])
            for i, row in enumerate(votes, start=1):
                w.writerow([str(i), *row])
        _render_all(specs, workers, "CREMA-D-like", progress)
        return faults, len(specs)

    return _ensure(Path(root), params, build, force)


def _vote(true_letter: str, p_correct: float, letters: str, rng) -> tuple[str, str]:
    """One perceptual vote (letter, level) with an occasional tie, as in summaryTable.csv."""
    letter = true_letter if rng.random() < p_correct else str(rng.choice([c for c in letters if c != true_letter]))
    level = float(np.clip(rng.normal(20 + 60 * p_correct, 12), 5, 100))
    if rng.random() < 0.05:  # tie between two emotions
        other = str(rng.choice([c for c in letters if c != letter]))
        level2 = float(np.clip(rng.normal(40, 10), 5, 100))
        return f"{letter}:{other}", f"{level:.2f}:{level2:.2f}"
    return letter, f"{level:.2f}"


def _crema_votes(stem: str, emo: str, intensity: float, rng) -> list[str]:
    true = CREMA_VOTE[emo]
    p = 0.75 if emo == "NEU" else float(np.clip(0.3 + 0.5 * intensity, 0.2, 0.9))
    voice = _vote(true, p, "ADFHNS", rng)
    face_ = _vote(true, min(p + 0.1, 0.95), "ADFHNS", rng)
    multi = _vote(true, min(p + 0.15, 0.97), "ADFHNS", rng)
    return [stem, *voice, *face_, *multi]


# --------------------------------------------------------------------------------------------
# MSP-IMPROV-like
# --------------------------------------------------------------------------------------------
IMPROV_SAMPLE_RATE = 22050  # the real rate is unverified; not 16 kHz, so that readers must resample (22.05 kHz halves the disk use of 44.1)


def improv_channel(shift: float) -> synth.Channel:
    """The MSP-IMPROV-like recording channel at a given severity (0 = the clean CREMA-D channel).

    MSP-IMPROV was recorded in a sound booth with microphones worn by the actors (Busso et al. 2017),
    so its channel differs from CREMA-D's by the microphone's response and a little room, not by a
    reverberant, noisy room: at severity 1, a band of 110 Hz to 6.8 kHz with a +5 dB presence peak at
    2.5 kHz, RT60 0.15 s (a booth's) heard 12 dB below the direct sound (a worn microphone is close to
    the mouth; Praat's formant tracker reads through it: see
    :mod:`agcc.simulate.validate`) and a 32 dB SNR. An earlier version (0.4 s, 20 dB of pink noise)
    hid F1 from an LPC formant tracker, which a booth recording does not do.
    """
    c = synth.CLEAN
    return replace(c, mic_lowcut_hz=c.mic_lowcut_hz + 90.0 * shift,
                   mic_highcut_hz=max(c.mic_highcut_hz - 1200.0 * shift, 2000.0),
                   mic_peak_hz=2500.0, mic_peak_db=5.0 * shift, rt60_s=0.15 * shift,
                   snr_db=c.snr_db - 13.0 * shift, gain_db=-3.0 * shift, drr_db=c.drr_db + 9.0 * shift)


def generate_msp_improv(root, *, n_sessions: int = 6, per_speaker: int = 125, intensity: float = 0.5,
                        channel_shift: float = 1.0, landmark_noise: float = 1.0, speaker_variability: float = 1.0,
                        articulatory_deviation: float = 1.0, spontaneous_reduction: float = 0.2,
                        style_mismatch: float = 0.0, seed: int = 0, workers: int = 0, progress: bool = True,
                        force: bool = False) -> Path:
    """Write (or reuse) the MSP-IMPROV-like corpus under ``root``; returns ``root``.

    Parameters
    ----------
    n_sessions
        Sessions (1-6), one female and one male speaker each (``F01``, ``M01``, ...).
    per_speaker
        Utterances per speaker; recording types R/S/T/P in the real corpus's proportions.
    intensity
        Mean emotion intensity before the per-type factor (read 1.1, target 1.0, improvised 1.0,
        natural interaction 0.7); drawn from a Beta distribution, so weaker and more variable
        than CREMA-D.
    channel_shift
        Severity of the recording channel (see :func:`improv_channel`).
    speaker_variability, articulatory_deviation, spontaneous_reduction, style_mismatch
        As for :func:`generate_crema_d`; each recording type has its spontaneity
        (:data:`IMPROV_SPONTANEITY`), which also scales the aligner's boundary error.
    """
    if not 1 <= n_sessions <= 6 or per_speaker < 1:
        raise ValueError("n_sessions must be in 1..6 and per_speaker >= 1")
    params = dict(n_sessions=n_sessions, per_speaker=per_speaker, intensity=intensity,
                  channel_shift=channel_shift, landmark_noise=landmark_noise,
                  speaker_variability=speaker_variability, articulatory_deviation=articulatory_deviation,
                  spontaneous_reduction=spontaneous_reduction, style_mismatch=style_mismatch, seed=seed)
    style = articulation.sample_style(np.random.default_rng([seed, 2, 5]), style_mismatch)
    type_share = np.array(list(IMPROV_TYPES.values()), float)
    type_share /= type_share.sum()
    type_factor = {"R": 1.1, "S": 1.0, "T": 1.0, "P": 0.7}

    def build(root: Path):
        # Three streams (see generate_crema_d): the structure (speakers, types, sentences, emotions,
        # channels, faults), a fixed number of draws per clip; the intensities (Beta draws, whose
        # number of underlying draws depends on the mean); the raters' evaluations.
        rng = np.random.default_rng([seed, 2])
        intensity_rng, votes_rng = np.random.default_rng([seed, 2, 8]), np.random.default_rng([seed, 2, 7])
        base_channel = improv_channel(channel_shift)
        specs, evaluations, counters = [], [], {}
        for session in range(1, n_sessions + 1):
            for gender in ("F", "M"):
                spk = f"{gender}{session:02d}"
                speaker = articulation.sample_speaker(spk, gender, rng, variability=speaker_variability)
                pair = "FM" if gender == "F" else "MF"
                for _ in range(per_speaker):
                    rtype = str(rng.choice(list(IMPROV_TYPES), p=type_share))
                    sent = int(rng.integers(1, 21))
                    if rtype == "P":
                        emo = str(rng.choice(list("NHAS"), p=[0.4, 0.3, 0.15, 0.15]))
                    else:
                        emo = str(rng.choice(list("AHSN")))
                    key = (sent, emo, spk, rtype)
                    counters[key] = counters.get(key, 0) + 1
                    stem = f"MSP-IMPROV-S{sent:02d}{emo}-{spk}-{rtype}-{pair}{counters[key]:02d}"
                    text = (MSP_IMPROV_TARGET_SENTENCES[sent - 1] if rtype in "RT"
                            else str(rng.choice(MSP_IMPROV_CONVERSATION)))
                    mean = float(np.clip(intensity * type_factor[rtype], 0.05, 0.95))
                    inten = float(intensity_rng.beta(mean * 5.0, (1.0 - mean) * 5.0))
                    channel = replace(base_channel, snr_db=base_channel.snr_db + float(rng.normal(0, 3)),
                                      rt60_s=base_channel.rt60_s * float(rng.uniform(0.8, 1.2)))
                    folder = root / "Audio" / f"session{session}" / f"S{sent:02d}{emo}" / rtype
                    specs.append(dict(
                        utt_id=stem, seed=[seed, 2, len(specs)], speaker=speaker, text=text,
                        emotion=IMPROV_EMOTIONS[emo], intensity=inten, channel=channel,
                        realisation=articulation.Realisation(spontaneity=IMPROV_SPONTANEITY[rtype],
                                                             deviation=articulatory_deviation,
                                                             reduction=spontaneous_reduction, style=style),
                        align_sd_s=ALIGN_SD_S * (1 + (ALIGN_SPONTANEOUS_FACTOR - 1) * IMPROV_SPONTANEITY[rtype]),
                        sample_rate=IMPROV_SAMPLE_RATE, audio_path=str(folder / f"{stem}.wav"),
                        openface_path=str(root / "openface" / f"{stem}.csv"),
                        textgrid_path=str(root / "mfa" / f"{stem}.TextGrid"),
                        openface_spaced=False, roll_sd_deg=6.0,
                        pose_args=dict(scale_px_mean=80.0, scale_px_sd=10.0, image_size=(640, 480)),
                        landmark_args=_landmark_args(1.2 * landmark_noise, 0.10, 0.03, 0.005),
                        align_fail=bool(rng.random() < 0.01),
                        oov=bool(rtype == "P" and rng.random() < 0.03)))
                    evaluations.append(_improv_evaluation(stem, emo, inten, votes_rng))
        faults = {"alignment_missing": [s["utt_id"] for s in specs if s["align_fail"]],
                  "oov_word": [s["utt_id"] for s in specs if s.get("oov")]}
        for sub in ("Audio", "openface", "mfa"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "Evaluation.txt").write_text("\n".join(evaluations) + "\n", encoding="utf-8")
        _render_all(specs, workers, "MSP-IMPROV-like", progress)
        return faults, len(specs)

    return _ensure(Path(root), params, build, force)


_AVD = {"A": (4.0, 2.0, 3.8), "H": (3.6, 4.2, 3.4), "S": (2.0, 1.9, 2.2), "N": (2.8, 3.0, 3.0)}


def _fmt(x: float) -> str:
    return "NaN" if np.isnan(x) else f"{x:.1f}"


def _improv_evaluation(stem: str, emo: str, intensity: float, rng) -> str:
    """The Evaluation.txt block of one clip: consensus line, then one line per rater."""
    p = 0.7 if emo == "N" else float(np.clip(0.3 + 0.6 * intensity, 0.2, 0.95))
    if rng.random() < p:
        consensus = emo
    else:
        consensus = str(rng.choice(["O", "X", *[c for c in "AHSN" if c != emo]],
                                   p=[0.3, 0.2, 0.5 / 3, 0.5 / 3, 0.5 / 3]))
    base = np.array(_AVD[emo])
    neutral = np.array(_AVD["N"])
    avd = neutral + intensity * (base - neutral) + rng.normal(0, 0.3, 3)
    nat = rng.normal(3.0, 0.6)
    values = [float(np.clip(v, 1, 5)) for v in (*avd, nat)]
    if rng.random() < 0.02:
        values[int(rng.integers(4))] = float("nan")
    name = stem.replace("MSP-IMPROV-", "UTD-IMPROV-")
    lines = [f"{name}.avi; {consensus}; A:{_fmt(values[0])}; V:{_fmt(values[1])}; "
             f"D:{_fmt(values[2])} ; N:{_fmt(values[3])};"]
    for r in range(int(rng.integers(5, 8))):
        letter = emo if rng.random() < p else str(rng.choice(list("AHSNO")))
        rv = [float(np.clip(v + rng.normal(0, 0.7), 1, 5)) for v in values]
        lines.append(f"rater{int(rng.integers(100, 999))}; {IMPROV_CATEGORY[letter]}; "
                     f"{IMPROV_CATEGORY[letter]}; A:{_fmt(rv[0])}; V:{_fmt(rv[1])}; "
                     f"D:{_fmt(rv[2])}; N:{_fmt(rv[3])};")
    return "\n".join(lines) + "\n"


def manifest(root) -> dict | None:
    """The generator's manifest of a simulated corpus (``None`` for a real one); raises
    :class:`agcc.io.CacheError` naming the file when it is unreadable or fails its digest."""
    path = Path(root) / MANIFEST
    return loads_checked(path) if path.is_file() else None


__all__ = ["generate_crema_d", "generate_msp_improv", "manifest",
           "render_utterance", "improv_channel"]
