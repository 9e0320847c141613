"""Worked examples of the simulator, for the book page *The simulated corpora*.

Everything is rendered in memory by the simulator's own functions (:mod:`.articulation`,
:mod:`.synth`, :mod:`.face`), so the page shows the generative model itself, not a description
of it: the same sentence by one speaker in the four emotions, the same utterance through the two
corpora's recording channels, and where the six vowels of the paper fall in articulation and in
formant space. Nothing here writes files or is used by the pipeline.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.signal import welch

from ..alignment import paper_vowel
from ..corpora import corpora
from ..vocab import VOWELS
from . import articulation, face, synth
from .corpora import SYNTH_SR, improv_channel, manifest
from .phones import ARTIC_PARAMS, words_of
from .sentences import CREMA_D_SENTENCES

FOUR_EMOTIONS = ("neutral", "anger", "happiness", "sadness")


@dataclass
class Example:
    """One rendered utterance: the dry (source-filter) and recorded waveforms at ``sr``, the
    articulatory trajectory, the timing plan and the face landmark track."""

    text: str
    emotion: str
    intensity: float
    sr: int
    dry: np.ndarray
    wav: np.ndarray
    traj: dict
    plan: articulation.UtterancePlan
    landmarks: dict


def example_speaker(gender: str = "F", seed: int = 0) -> articulation.Speaker:
    """A speaker drawn from the simulator's population (same draw for the same seed)."""
    return articulation.sample_speaker(f"demo-{gender}", gender, np.random.default_rng([seed, 99]))


def render(text: str, emotion: str, intensity: float, speaker: articulation.Speaker, *, seed: int = 0,
           channel: synth.Channel = synth.CLEAN) -> Example:
    """Render ``text`` as the corpus generators do (timing, articulation, synthesis, channel,
    landmarks), without writing files. The same ``seed`` gives the same random draws, so two
    emotions differ only by the emotion's effects (and the timing they imply)."""
    rng = np.random.default_rng([seed, 7])
    plan = articulation.plan_utterance(words_of(text), speaker, emotion, intensity, rng)
    traj = articulation.articulatory_trajectory(plan, speaker, emotion, intensity, rng)
    dry = synth.synthesize(traj, speaker.vtl_scale, rng, sr=SYNTH_SR)
    wav = synth.apply_channel(dry, SYNTH_SR, channel, np.random.default_rng([seed, 8]))
    pose = face.sample_pose(rng, scale_px_mean=60.0, scale_px_sd=0.0, image_size=(640, 480))
    landmarks = face.render_landmarks(traj, speaker, pose, rng, noise_px=0.0, p_fail_gap=0.0,
                                      p_long_gap=0.0)
    return Example(text, emotion, intensity, SYNTH_SR, dry, wav, traj, plan, landmarks)


def emotion_examples(text: str = CREMA_D_SENTENCES["DFA"], intensity: float = 0.9, *, seed: int = 0,
                     gender: str = "F", emotions=FOUR_EMOTIONS) -> dict[str, Example]:
    """The same sentence by the same speaker with the same seed, once per emotion."""
    speaker = example_speaker(gender, seed)
    return {e: render(text, e, intensity, speaker, seed=seed) for e in emotions}


def recorded_twice(example: Example, channel_shift: float, *, seed: int = 0) -> dict[str, np.ndarray]:
    """The dry waveform of ``example`` through the CREMA-D-like channel (clean) and through the
    MSP-IMPROV-like channel of severity ``channel_shift``."""
    return {"CREMA-D-like channel": synth.apply_channel(example.dry, example.sr, synth.CLEAN,
                                                        np.random.default_rng([seed, 8])),
            "MSP-IMPROV-like channel": synth.apply_channel(example.dry, example.sr,
                                                           improv_channel(channel_shift),
                                                           np.random.default_rng([seed, 8]))}


def channel_table(channel_shift: float) -> pd.DataFrame:
    """The two corpora's recording channels, parameter by parameter (:class:`~.synth.Channel`)."""
    return pd.DataFrame({"CREMA-D-like": asdict(synth.CLEAN),
                         f"MSP-IMPROV-like (shift {channel_shift:g})": asdict(improv_channel(channel_shift))}
                        ).rename_axis("channel parameter")


def long_term_spectrum(wav: np.ndarray, sr: int, nperseg: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Long-term average spectrum (Welch), ``(frequencies in Hz, level in dB)``."""
    f, p = welch(np.asarray(wav, float), fs=sr, nperseg=min(nperseg, len(wav)))
    return f, 10 * np.log10(p + 1e-20)


def vowel_space(n_speakers: int = 4, intensity: float = 0.9, *, seed: int = 0, emotions=FOUR_EMOTIONS,
                sentences=tuple(CREMA_D_SENTENCES.values())) -> pd.DataFrame:
    """Articulation and formants at the middle of every token of the paper's six vowels.

    ``n_speakers`` speakers (alternating F and M) say each sentence in each emotion at
    ``intensity``; only the timing plan and articulatory trajectory are computed (no audio). For
    each vowel token the five articulatory parameters at its midpoint and F1, F2 from
    :func:`~.synth.formants` with the speaker's vocal-tract scale are returned, one row per token
    (columns ``speaker, gender, emotion, vowel, phone``, the five parameters, ``F1``, ``F2``).
    """
    rows = []
    rng = np.random.default_rng([seed, 11])
    for k in range(n_speakers):
        gender = "F" if k % 2 == 0 else "M"
        speaker = articulation.sample_speaker(f"s{k}", gender, rng)
        for emotion in emotions:
            for text in sentences:
                plan = articulation.plan_utterance(words_of(text), speaker, emotion, intensity, rng)
                traj = articulation.articulatory_trajectory(plan, speaker, emotion, intensity, rng)
                fr = float(traj["frame_rate"])
                for phone, start, end in plan.phones:
                    vowel = paper_vowel(phone)
                    if vowel is None:
                        continue
                    i = min(int(round((start + end) / 2 * fr)), len(traj["t"]) - 1)
                    art = {p: float(traj[p][i]) for p in ARTIC_PARAMS}
                    freqs, _ = synth.formants({p: np.array([v]) for p, v in art.items()}, speaker.vtl_scale)
                    rows.append({"speaker": speaker.speaker_id, "gender": gender, "emotion": emotion,
                                 "vowel": vowel, "phone": phone, **art,
                                 "F1": float(freqs[0, 0]), "F2": float(freqs[0, 1])})
    frame = pd.DataFrame(rows)
    frame["vowel"] = pd.Categorical(frame["vowel"], VOWELS, ordered=True)
    return frame


def emotion_effects_table(emotions=FOUR_EMOTIONS) -> pd.DataFrame:
    """The emotion effects at full intensity (:data:`~.articulation.EMOTION_EFFECTS`), one row
    per emotion."""
    return pd.DataFrame({e: articulation.EMOTION_EFFECTS[e] for e in emotions}).T.rename_axis("emotion")


def corpus_spectra(utterances: pd.DataFrame, n_files: int = 20, *, seed: int = 0,
                   nperseg: int = 1024) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Long-term average spectrum of each corpus of a run, measured on ``n_files`` of its audio
    files picked at random (power averaged over files, read at 16 kHz): ``{corpus: (Hz, dB)}``."""
    from ..audio import SAMPLE_RATE, load_audio

    out = {}
    rng = np.random.default_rng(seed)
    for corpus, part in utterances.groupby("corpus"):
        paths = part["audio_path"].to_numpy()
        pick = rng.choice(paths, size=min(n_files, len(paths)), replace=False)
        powers = []
        for path in pick:
            wav = load_audio(path)
            if len(wav) >= nperseg and np.any(wav):
                f, p = welch(wav.astype(float), fs=SAMPLE_RATE, nperseg=nperseg)
                powers.append(p)
        if powers:
            out[str(corpus)] = (f, 10 * np.log10(np.mean(powers, axis=0) + 1e-20))
    return out


def corpora_table(params, paths) -> pd.DataFrame:
    """What the generator wrote for a run: per corpus, whether it is real or simulated and, for a
    simulated one, its ``simulation.json`` (utterances, generator parameters, and how many of each
    reproduced fault). A simulated corpus not generated yet is marked so."""
    rows = {}
    for corpus in corpora():
        name, sim_root = corpus.name, paths.corpus(corpus.name)
        if params.get(corpus.root_param):
            rows[name] = {"source": f"real: {params[corpus.root_param]}"}
            continue
        info = manifest(sim_root) if sim_root.is_dir() else None
        if info is None:
            rows[name] = {"source": "simulated, not generated yet (notebook 01)"}
            continue
        rows[name] = {"source": "simulated", "utterances": info["n_utterances"],
                      **{f"param {k}": v for k, v in info["params"].items()},
                      **{f"fault {k}": len(v) for k, v in info["faults"].items()}}
    frame = pd.DataFrame(rows).fillna("")
    order = ["source", "utterances", *sorted(i for i in frame.index if i.startswith("param ")),
             *sorted(i for i in frame.index if i.startswith("fault "))]
    return frame.reindex([i for i in order if i in frame.index])
