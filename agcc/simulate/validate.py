"""Validation of the simulated speech with a standard tool: formants measured by Praat.

The simulator claims that the sound follows the articulation (:mod:`agcc.simulate.synth`): within a
vowel, F1 rises with lip/jaw opening and F2 with tongue frontness and lip spreading, and the vowels
sit where adult speakers put them. :func:`formant_tokens` checks this from the outside: it renders
utterances as the two corpus generators do (timing, realisation, articulation, synthesis, recording
channel), and measures F1 and F2 at the midpoint of every token of the paper's six vowels with
Praat's Burg formant tracker (``praat-parselmouth``; 5 formants below 5 kHz for men, 5.5 kHz for
women, Praat's standard settings). :func:`formant_checks` gives, per corpus, the rank correlations of
the measured formants with the articulation within each vowel and speaker, and
:func:`vowel_means` the mean F1/F2 per vowel and gender beside Hillenbrand et al. (1995).
"""
from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import spearmanr

from ..alignment import paper_vowel
from . import articulation, synth
from .corpora import IMPROV_SPONTANEITY, SYNTH_SR, improv_channel
from .phones import ARTIC_PARAMS, words_of
from .sentences import CREMA_D_SENTENCES, MSP_IMPROV_CONVERSATION

# Hillenbrand, Getty, Clark & Wheeler (1995), Table V: mean F1, F2 (Hz) of American English vowels
# (45 men, 48 women), for the paper's vowels (schwa, not measured there, by /ʌ/).
HILLENBRAND_1995 = {
    ("M", "i"): (342, 2322), ("M", "æ"): (588, 1952), ("M", "a"): (768, 1333), ("M", "ɛ"): (580, 1799),
    ("M", "u"): (378, 997), ("M", "ə"): (623, 1200),
    ("F", "i"): (437, 2761), ("F", "æ"): (669, 2349), ("F", "a"): (936, 1551), ("F", "ɛ"): (731, 2058),
    ("F", "u"): (459, 1105), ("F", "ə"): (753, 1426),
}
CORPORA = ("CREMA-D-like", "MSP-IMPROV-like")


def _praat_formants(wav: np.ndarray, sr: int, times, gender: str) -> np.ndarray:
    """F1, F2 (Hz; NaN where Praat finds none) at ``times`` (s); returns (n, 2)."""
    import parselmouth

    snd = parselmouth.Sound(np.asarray(wav, float), sampling_frequency=sr)
    fm = snd.to_formant_burg(time_step=0.005, max_number_of_formants=5,
                             maximum_formant=5500.0 if gender == "F" else 5000.0)
    return np.array([[fm.get_value_at_time(k, t) for k in (1, 2)] for t in times], float)


def formant_tokens(n_speakers: int = 4, utterances: int = 6, *, channel_shift: float = 1.0, intensity: float = 0.6,
                   seed: int = 0) -> pd.DataFrame:
    """Praat-measured F1, F2 and the articulation at the midpoint of every paper-vowel token.

    Each of ``n_speakers`` speakers (alternating F, M) says ``utterances`` sentences in each of the
    four emotions, once as CREMA-D-like speech (read sentences, clean channel) and once as
    MSP-IMPROV-like speech (natural interaction, spontaneity 1, through :func:`improv_channel` of
    ``channel_shift``). Columns: ``corpus, speaker, gender, emotion, vowel``, the five
    articulatory parameters, ``F1, F2`` (Praat) and ``F1_model, F2_model`` (the synthesiser's).
    """
    rng = np.random.default_rng([seed, 15])
    crema = list(CREMA_D_SENTENCES.values())
    rows = []
    for k in range(n_speakers):
        gender = "F" if k % 2 == 0 else "M"
        speaker = articulation.sample_speaker(f"v{k}", gender, rng)
        for corpus in CORPORA:
            improv = corpus == CORPORA[1]
            real = articulation.Realisation(spontaneity=IMPROV_SPONTANEITY["P"] if improv else 0.0)
            channel = improv_channel(channel_shift) if improv else synth.CLEAN
            for u in range(utterances):
                text = str(rng.choice(MSP_IMPROV_CONVERSATION)) if improv else crema[u % len(crema)]
                emotion = ("neutral", "anger", "happiness", "sadness")[u % 4]
                plan = articulation.plan_utterance(words_of(text), speaker, emotion, intensity, rng, realisation=real)
                traj = articulation.articulatory_trajectory(plan, speaker, emotion, intensity, rng, realisation=real)
                wav = synth.apply_channel(synth.synthesize(traj, speaker.vtl_scale, rng, sr=SYNTH_SR), SYNTH_SR,
                                          channel, rng)
                fr = float(traj["frame_rate"])
                # tokens long enough for a formant estimate (Praat's window is 25 ms)
                tokens = [(ph, (s + e) / 2) for ph, s, e in plan.phones if paper_vowel(ph) and e - s >= 0.04]
                if not tokens:
                    continue
                measured = _praat_formants(wav, SYNTH_SR, [t for _, t in tokens], gender)
                for (ph, t), (f1, f2) in zip(tokens, measured):
                    i = min(int(round(t * fr)), len(traj["t"]) - 1)
                    art = {p: float(traj[p][i]) for p in ARTIC_PARAMS}
                    model, _ = synth.formants({p: np.array([v]) for p, v in art.items()}, speaker.vtl_scale)
                    rows.append({"corpus": corpus, "speaker": speaker.speaker_id, "gender": gender,
                                 "emotion": emotion, "vowel": paper_vowel(ph), **art, "F1": f1, "F2": f2,
                                 "F1_model": float(model[0, 0]), "F2_model": float(model[0, 1])})
    return pd.DataFrame(rows)


def formant_checks(tokens: pd.DataFrame, min_tokens: int = 3) -> pd.DataFrame:
    """Per corpus: the Spearman correlation of Praat's F1 with lip opening, of F2 with frontness
    and of F2 with spreading *within a vowel and speaker* (each token's formant and articulation
    minus the means of its vowel and speaker, pooled over the groups of at least ``min_tokens``
    tokens; so neither vowel identity nor vocal-tract length makes the correlation), the tokens
    pooled, and how often Praat's F1 lies within 20 % of the synthesiser's (``f1_found``: a channel
    that hid low formants would make Praat report F2 as F1)."""
    rows = []
    for corpus, part in tokens.groupby("corpus", sort=False):
        ok = part.dropna(subset=["F1", "F2"])
        groups = ok.groupby(["vowel", "speaker"], observed=True)
        ok = ok[groups["F1"].transform("size") >= min_tokens]
        cols = ["F1", "F2", "open", "front", "spread", "F1_model", "F2_model"]
        centred = ok[cols] - ok.groupby(["vowel", "speaker"], observed=True)[cols].transform("mean")
        found = np.abs(part["F1"] / part["F1_model"] - 1.0) <= 0.2
        rows.append({"corpus": corpus, "tokens": len(part), "pooled": len(centred),
                     **{name: float(spearmanr(centred[f], centred[a]).statistic) if len(centred) > 2 else float("nan")
                        for name, (f, a) in {"F1~open": ("F1", "open"), "F2~front": ("F2", "front"),
                                             "F2~spread": ("F2", "spread"), "F1~model": ("F1", "F1_model"),
                                             "F2~model": ("F2", "F2_model")}.items()},
                     "f1_found": float(found.mean())})
    return pd.DataFrame(rows)


def vowel_means(tokens: pd.DataFrame) -> pd.DataFrame:
    """Mean Praat F1, F2 per corpus, gender and vowel beside Hillenbrand et al. (1995), with the
    ratio measured / reference."""
    means = tokens.groupby(["corpus", "gender", "vowel"], observed=True)[["F1", "F2"]].median().reset_index()
    ref = means.apply(lambda r: HILLENBRAND_1995.get((r["gender"], r["vowel"]), (np.nan, np.nan)), axis=1)
    means["F1_ref"], means["F2_ref"] = [r[0] for r in ref], [r[1] for r in ref]
    means["F1_ratio"] = means["F1"] / means["F1_ref"]
    means["F2_ratio"] = means["F2"] / means["F2_ref"]
    return means.round({"F1": 0, "F2": 0, "F1_ratio": 2, "F2_ratio": 2})
