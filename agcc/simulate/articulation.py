"""Speakers, emotions, utterance timing and articulatory trajectories.

What it models
--------------
One articulatory trajectory drives both the sound (:mod:`agcc.simulate.synth`) and the mouth landmarks
(:mod:`agcc.simulate.face`), so that the link between mouth gesture and acoustics the paper relies on
is physics here, not a label. The trajectory holds five normalised articulatory parameters
(:data:`ARTIC_PARAMS`: lip opening, spreading, rounding, tongue height, frontness) at 200 frames/s plus
the source controls (voicing, frication noise, level, F0, spectral tilt).

* Timing (:func:`plan_utterance`): intrinsic phone durations by class and stress (Klatt 1976), divided
  by speaker and emotion speaking rate, log-normal jitter, phrase-final lengthening, optional pauses.
* Coarticulation (:func:`articulatory_trajectory`): each phone sets targets on the dimensions it
  constrains (weights from :mod:`agcc.simulate.phones`); unconstrained stretches are interpolated
  between neighbouring anchors (Keating's 1990 window model) and the result is Gaussian-smoothed
  (~20-25 ms), standing in for the articulators' inertia.
* Emotion (:data:`EMOTION_EFFECTS`): documented effects at full intensity, interpolated linearly from
  neutral by :func:`effects`. F0 level and range, intensity, speaking rate and spectral tilt follow the
  reviews of Scherer (2003) and Juslin & Laukka (2003): anger and happiness raise F0, its range and
  intensity and flatten the spectral tilt (more vocal effort); sadness lowers F0, narrows its range,
  softens, slows and steepens the tilt (lax, breathy phonation). Articulation magnitude follows
  articulatory studies of emotional speech (Erickson et al. 2006 and 2016; Kim, Toutios et al. 2020,
  "Vocal tract shaping of emotional speech", rtMRI): anger and happiness are hyper-articulated, sadness
  hypo-articulated; happiness spreads the lips (smile), which also raises formants (Tartter 1980).
* Speakers (:class:`Speaker`): vocal-tract length (formant scale), F0, face proportions, articulatory
  and rate habits, an idiolect (a personal offset of every vowel quality's target; Johnson, Ladefoged &
  Lindau 1993 found that speakers of one dialect differ in how they articulate the same vowel) and an
  expressivity (how strongly this speaker shows any emotion). ``variability`` scales every spread.
* Realisation (:class:`Realisation`, :func:`realised_target`): the articulated vowel is not the
  dictionary's. Its target moves by the speaker's idiolect and a token-to-token deviation, and is
  *undershot* towards the neutral tract the shorter the vowel (Lindblom 1963: undershoot grows as
  duration falls, so it follows speaking rate, stress and emotion) and the more spontaneous the speech
  (Moon & Lindblom 1994; spontaneous vowels are more reduced than read ones). In spontaneous speech
  some vowels are articulated as another vowel than the dictionary's (:data:`VOWEL_SUBSTITUTES`;
  Johnson 2004 on massive reduction in conversational American English): the plan keeps both, so
  the aligner's TextGrid says one vowel while the mouth did something else.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

from .face import FaceGeometry, sample_face_geometry
from .phones import (ARTIC_PARAMS, CONSONANT_TARGETS, FRICATION, VOWEL_TARGETS, base, intrinsic_duration,
                     is_voiced, is_vowel, phone_class, pronounce, stress, vowel_key, vowel_targets)

__all__ = ["ARTIC_PARAMS", "EMOTIONS", "EMOTION_EFFECTS", "effects", "Speaker", "sample_speaker",
           "Realisation", "VOWEL_SUBSTITUTES", "realised_target", "UtterancePlan", "plan_utterance",
           "articulatory_trajectory"]

EMOTIONS = ("neutral", "anger", "happiness", "sadness", "disgust", "fear")

# Effects at full intensity. Multiplicative keys (f0_range, rate, articulation_gain) are 1 for neutral,
# additive ones (semitones, dB, dB/octave, spread offset, breathiness) are 0.
EMOTION_EFFECTS: dict[str, dict[str, float]] = {
    "neutral": dict(f0_semitones=0.0, f0_range=1.0, intensity_db=0.0, tilt_db_per_oct=0.0, rate=1.0,
                    articulation_gain=1.0, spread_offset=0.0, breathiness=0.0),
    "anger": dict(f0_semitones=3.5, f0_range=1.4, intensity_db=6.0, tilt_db_per_oct=3.0, rate=1.10,
                  articulation_gain=1.30, spread_offset=0.03, breathiness=-0.01),
    "happiness": dict(f0_semitones=3.5, f0_range=1.5, intensity_db=4.0, tilt_db_per_oct=2.0, rate=1.05,
                      articulation_gain=1.20, spread_offset=0.15, breathiness=0.0),
    "sadness": dict(f0_semitones=-1.0, f0_range=0.80, intensity_db=-2.0, tilt_db_per_oct=-1.5, rate=0.92,
                    articulation_gain=0.85, spread_offset=-0.04, breathiness=0.02),
    # Disgust: low F0, slow, lip corners pulled down/narrowed; fear: high F0, narrow range, fast, tense.
    "disgust": dict(f0_semitones=-0.5, f0_range=0.9, intensity_db=1.0, tilt_db_per_oct=0.0, rate=0.85,
                    articulation_gain=1.05, spread_offset=-0.05, breathiness=0.01),
    "fear": dict(f0_semitones=4.0, f0_range=0.8, intensity_db=1.0, tilt_db_per_oct=1.0, rate=1.15,
                 articulation_gain=0.90, spread_offset=0.05, breathiness=0.03),
}
_MULTIPLICATIVE = ("f0_range", "rate", "articulation_gain")

# Lip and tongue rest posture in silence (lips lightly closed), and the centre about which articulation
# gain scales deviations (a schwa-like neutral vocal tract).
REST_SILENCE = np.array([0.08, 0.30, 0.15, 0.50, 0.50])
REST_GAIN = np.array([0.35, 0.35, 0.20, 0.50, 0.50])
LIP_SIGMA_S, TONGUE_SIGMA_S = 0.018, 0.025  # coarticulation smoothing (s); the lips are faster
# Undershoot (Lindblom 1963): a vowel of duration d reaches 1 - exp(-d / UNDERSHOOT_TAU_S) of its
# excursion from the neutral tract: ~95 % for a 125 ms stressed vowel, ~80 % for a 65 ms unstressed one.
UNDERSHOOT_TAU_S = 0.04
# Idiolect: between-speaker sd of a vowel quality's target (lip and tongue dimensions), before
# ``variability``. No articulatory study gives it per dimension in these units: a named knob
# (sim_speaker_variability scales it).
IDIOLECT_SD = np.array([0.04, 0.04, 0.03, 0.05, 0.05])
TOKEN_SD = 0.03  # token-to-token deviation of a vowel target (before Realisation.deviation)
EXPRESSIVITY_SD = 0.35  # log-sd of a speaker's expressivity (multiplies the emotion intensity)
# Vowels articulated instead of the dictionary's in spontaneous speech: a neighbour in the vowel
# space, or the first quality of a diphthong (monophthongisation); unstressed vowels go to schwa.
VOWEL_SUBSTITUTES: dict[str, tuple[str, ...]] = {
    "IY": ("IH",), "IH": ("IY", "EH"), "EH": ("IH", "AE"), "AE": ("EH",), "AA": ("AH", "AO"),
    "AO": ("AA",), "AH": ("AA", "EH"), "UH": ("UW", "AH"), "UW": ("UH",), "ER": ("AH",),
    "EY": ("EH",), "AY": ("AA",), "AW": ("AA",), "OW": ("AO",), "OY": ("AO",)}
BASE_TILT_DB_PER_OCT = -6.0  # glottal source (-12 dB/oct) + lip radiation (+6 dB/oct)
BASE_BREATHINESS = 0.03


def effects(emotion: str, intensity: float, style: dict | None = None) -> dict[str, float]:
    """Emotion effects at ``intensity`` (0 = neutral, 1 = the table; above 1 extrapolates).

    ``style`` (from :func:`sample_style`) multiplies each effect's departure from neutral: how one
    corpus's speakers express an emotion differs from another's.

    Raises
    ------
    ValueError
        For an emotion not in :data:`EMOTIONS` or a negative intensity.
    """
    if emotion not in EMOTION_EFFECTS:
        raise ValueError(f"unknown emotion {emotion!r}; allowed: {', '.join(EMOTIONS)}")
    if intensity < 0:
        raise ValueError(f"intensity must be >= 0, got {intensity}")
    neu, full = EMOTION_EFFECTS["neutral"], EMOTION_EFFECTS[emotion]
    mult = (style or {}).get(emotion, {})
    out = {k: neu[k] + intensity * mult.get(k, 1.0) * (full[k] - neu[k]) for k in neu}
    for k in _MULTIPLICATIVE:  # keep multipliers physical when extrapolating
        out[k] = max(out[k], 0.2)
    return out


@dataclass(frozen=True)
class Speaker:
    """A simulated speaker.

    ``vtl_scale`` scales all formant frequencies (1 ~ adult male vocal tract, ~1.15-1.2 female: the
    formants scale inversely with vocal-tract length; Fant 1966); ``articulation_gain`` and
    ``spread_habit`` are personal articulatory habits; ``rate`` multiplies the speaking rate;
    ``f0_range`` the size of pitch excursions; ``idiolect`` maps a vowel quality
    (:func:`~agcc.simulate.phones.vowel_key`) to this speaker's offset of its target, shape (5,) in
    :data:`ARTIC_PARAMS` order; ``expressivity`` multiplies the intensity of every emotion.
    """

    speaker_id: str
    gender: str
    vtl_scale: float
    f0_hz: float
    articulation_gain: float
    spread_habit: float
    face: FaceGeometry
    rate: float
    f0_range: float = 1.0
    idiolect: dict | None = None
    expressivity: float = 1.0

    def vowel_offset(self, key: str) -> np.ndarray:
        """This speaker's offset (5,) of the target of vowel quality ``key`` (0 without an idiolect)."""
        return np.zeros(len(ARTIC_PARAMS)) if not self.idiolect else np.asarray(self.idiolect[key])


def sample_speaker(speaker_id: str, gender: str, rng: np.random.Generator, *,
                   variability: float = 1.0) -> Speaker:
    """Draw a speaker of ``gender`` ("F" or "M") from adult population norms.

    ``variability`` multiplies every between-speaker spread (vocal tract, F0, habits, face, idiolect,
    expressivity): 0 gives the average speaker of that gender, 1 the documented spreads.
    """
    if gender not in ("F", "M"):
        raise ValueError(f"gender must be 'F' or 'M', got {gender!r}")
    if variability < 0:
        raise ValueError(f"variability must be >= 0, got {variability}")
    v = float(variability)
    z = rng.normal(size=7) * v
    fem = gender == "F"
    face = sample_face_geometry(gender, rng, variability=v)
    idiolect = {key: (rng.normal(size=len(ARTIC_PARAMS)) * IDIOLECT_SD * v).round(4).tolist()
                for key in VOWEL_TARGETS}
    return Speaker(
        speaker_id=str(speaker_id), gender=gender,
        vtl_scale=float((1.17 if fem else 1.0) + 0.035 * z[0]),
        f0_hz=float((205.0 if fem else 115.0) * np.exp(0.10 * z[1])),
        articulation_gain=float(np.clip(1.0 + 0.08 * z[2], 0.8, 1.2)),
        spread_habit=float(0.04 * z[3]), face=face,
        rate=float(np.clip(1.0 + 0.07 * z[4], 0.8, 1.2)), f0_range=float(np.exp(0.15 * z[5])),
        idiolect=idiolect, expressivity=float(np.exp(EXPRESSIVITY_SD * z[6])))


STYLE_SD = 0.4  # log-sd of a corpus's style multipliers at mismatch 1
STYLE_RANGE = (0.5, 2.0)  # a corpus may halve or double an effect, no more


def sample_style(rng: np.random.Generator, mismatch: float = 1.0) -> dict[str, dict[str, float]]:
    """A corpus's style of expressing emotion: per emotion and effect of :data:`EMOTION_EFFECTS`, a
    log-normal multiplier (log-sd ``STYLE_SD * mismatch``, clipped to :data:`STYLE_RANGE`) of the
    effect's departure from neutral; an emotion's log-multipliers are centred, so a corpus weighs
    the cues of an emotion differently without expressing it more or less strongly overall.

    Acted and improvised emotion differ in which cues carry it (a reason cross-corpus SER is hard),
    but no study gives per-cue factors between two corpora: ``mismatch`` is a knob
    (``sim_style_mismatch``); 0 gives the table itself.
    """
    keys = list(EMOTION_EFFECTS["neutral"])
    out = {}
    for e in EMOTIONS[1:]:
        z = rng.normal(size=len(keys))
        z -= z.mean()  # re-weights the cues of an emotion without making it more or less salient overall
        out[e] = {k: float(np.clip(np.exp(STYLE_SD * mismatch * v), *STYLE_RANGE)) for k, v in zip(keys, z)}
    return out


@dataclass(frozen=True)
class Realisation:
    """How far an utterance's articulation departs from the dictionary.

    ``spontaneity`` 0 = read or acted from a script, 1 = natural conversation; ``deviation``
    multiplies the token-to-token deviation of vowel targets and the substitution probabilities (the
    articulatory deviation from the dictionary, a knob); ``reduction`` is the share of a vowel's
    excursion from the neutral tract lost in fully spontaneous speech (beyond the duration-driven
    undershoot); ``p_substitute`` / ``p_schwa`` the probabilities that a stressed / unstressed
    vowel of fully spontaneous speech is articulated as another vowel / as schwa; ``style`` the
    corpus's style of expressing emotion (:func:`sample_style`; ``None`` = the table).
    """

    spontaneity: float = 0.0
    deviation: float = 1.0
    reduction: float = 0.2
    p_substitute: float = 0.10
    p_schwa: float = 0.30
    style: dict | None = None  # the corpus's style of expressing emotion (sample_style)

    def __post_init__(self):
        if not 0.0 <= self.spontaneity <= 1.0:
            raise ValueError(f"spontaneity must be in [0, 1], got {self.spontaneity}")
        if self.deviation < 0 or not 0.0 <= self.reduction < 1.0:
            raise ValueError(f"deviation must be >= 0 and reduction in [0, 1), got {self.deviation}, {self.reduction}")


READ = Realisation()


def realised_target(target: np.ndarray, duration_s: float, realisation: Realisation,
                    rng: np.random.Generator) -> np.ndarray:
    """The articulated target (5,) of a vowel token from its intended ``target`` (dictionary plus
    idiolect): a token-to-token deviation, then undershoot towards the neutral tract
    (:data:`REST_GAIN`) that grows as the vowel gets shorter (Lindblom 1963) and with spontaneity."""
    reach = (1.0 - np.exp(-duration_s / UNDERSHOOT_TAU_S)) * (1.0 - realisation.reduction * realisation.spontaneity)
    noisy = target + rng.normal(0.0, TOKEN_SD * realisation.deviation, len(ARTIC_PARAMS))
    return REST_GAIN + reach * (noisy - REST_GAIN)


@dataclass
class UtterancePlan:
    """True timing of an utterance: phones and words as ``(label, start_s, end_s)``; gaps are silence.

    ``phones`` are the phones articulated; ``dictionary`` (same length) the dictionary's phone at each
    position, which is what a forced aligner labels (they differ where a spontaneous vowel was
    substituted or reduced)."""

    phones: list[tuple[str, float, float]]
    words: list[tuple[str, float, float]]
    duration: float
    dictionary: list[str] | None = None

    def aligner_phones(self) -> list[tuple[str, float, float]]:
        """The phones with the dictionary's labels and the true times (an aligner's input)."""
        labels = self.dictionary or [p for p, _, _ in self.phones]
        return [(lab, s, e) for lab, (_, s, e) in zip(labels, self.phones)]


def _substitute(phone: str, realisation: Realisation, rng: np.random.Generator) -> str:
    """The vowel articulated for dictionary vowel ``phone`` (itself unless spontaneity substitutes it)."""
    k = realisation.spontaneity * realisation.deviation
    if k <= 0 or not is_vowel(phone):
        return phone
    if stress(phone) == 0 and base(phone) != "AH" and rng.random() < min(k * realisation.p_schwa, 1.0):
        return "AH0"
    if stress(phone) != 0 and rng.random() < min(k * realisation.p_substitute, 1.0):
        return str(rng.choice(VOWEL_SUBSTITUTES[base(phone)])) + str(stress(phone))
    return phone


def plan_utterance(words: list[str], speaker: Speaker, emotion: str, intensity: float,
                   rng: np.random.Generator, *, rate_jitter: float = 0.15, p_pause: float = 0.08,
                   realisation: Realisation = READ) -> UtterancePlan:
    """Time the phones of ``words`` (CMUdict pronunciations).

    Parameters
    ----------
    rate_jitter
        Standard deviation of the log-normal jitter of each phone's duration; the whole utterance's
        rate also varies, with half this spread.
    p_pause
        Probability of a short pause (80-200 ms before rate scaling) between two words.
    realisation
        Spontaneity and deviation from the dictionary (:class:`Realisation`): in spontaneous speech
        some vowels are articulated as another (``UtterancePlan.phones``) than the dictionary's
        (``UtterancePlan.dictionary``).
    """
    if not words:
        raise ValueError("an utterance needs at least one word")
    eff = effects(emotion, intensity * speaker.expressivity, realisation.style)
    rate = speaker.rate * eff["rate"] * np.exp(rng.normal(0.0, rate_jitter / 2))
    prons = [pronounce(w) for w in words]
    last = prons[-1]
    # Phrase-final lengthening (Klatt 1976) from the last vowel of the last word to its end.
    final_from = max([i for i, p in enumerate(last) if is_vowel(p)], default=0)
    n_ph = sum(len(p) for p in prons)
    jit = np.exp(rng.normal(0.0, rate_jitter, n_ph))
    t = float(rng.uniform(0.15, 0.40))
    phones, dictionary, out_words, k = [], [], [], 0
    for wi, (w, pron) in enumerate(zip(words, prons)):
        w0 = t
        for pi, ph in enumerate(pron):
            said = _substitute(ph, realisation, rng)
            d = intrinsic_duration(said) / rate * jit[k]
            if wi == len(words) - 1 and pi >= final_from:
                d *= 1.4
            phones.append((said, t, t + max(d, 0.025)))
            dictionary.append(ph)
            t, k = t + max(d, 0.025), k + 1
        out_words.append((w, w0, t))
        if wi < len(words) - 1 and rng.random() < p_pause:
            t += rng.uniform(0.08, 0.20) / rate
    return UtterancePlan(phones=phones, words=out_words, duration=t + float(rng.uniform(0.15, 0.40)),
                         dictionary=dictionary)


def _phone_source(ph: str, m: int, voiced: bool):
    """Per-frame (gain_db, voicing, noise, frication_hz, frication_bw_oct) of a consonant of m frames."""
    cls, b = phone_class(ph), base(ph)
    fhz, fbw, fdb = FRICATION.get(b, (0.0, 1.0, -20.0))
    g, v, nz = np.zeros(m), np.full(m, float(voiced)), np.zeros(m)
    if cls in ("glide", "liquid"):
        g[:] = -6.0
    elif cls == "nasal":
        g[:] = -12.0
    elif cls == "fricative":  # voiced fricatives: voicing plus weaker noise
        g[:], nz[:] = fdb, (0.5 if voiced else 1.0)
    else:  # stops and affricates: closure (silence or voice bar) then release (burst or frication)
        rel = max(2, round(m * (0.5 if cls == "affricate" else 0.25)))
        cl = slice(0, max(m - rel, 0))
        g[cl], v[cl] = (-28.0, 0.5) if voiced else (-45.0, 0.0)
        g[m - rel:], nz[m - rel:] = fdb, 1.0
        v[m - rel:] *= 0.4
    return g, v, nz, np.full(m, fhz), np.full(m, fbw)


def _smooth_noise(n: int, sigma_frames: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian-smoothed white noise rescaled to unit variance, shape (n,)."""
    # The smoothed noise has variance 1 / (2 sqrt(pi) sigma): undo it.
    w = gaussian_filter1d(rng.normal(size=n), sigma_frames, mode="nearest")
    return w * np.sqrt(2.0 * np.sqrt(np.pi) * sigma_frames)


def articulatory_trajectory(plan: UtterancePlan, speaker: Speaker, emotion: str, intensity: float,
                            rng: np.random.Generator, *, frame_rate: float = 200.0,
                            realisation: Realisation = READ) -> dict[str, np.ndarray]:
    """Frame-wise articulatory and source parameters of a planned utterance.

    Vowel targets are :func:`realised_target` of the articulated phone's target plus the speaker's
    idiolect; emotion acts at ``intensity`` times the speaker's expressivity.

    Returns
    -------
    dict
        Arrays of shape (n_frames,), ``n_frames = ceil(duration * frame_rate)``: ``t`` (s), the five
        :data:`ARTIC_PARAMS` in [0, 1], ``voicing`` and ``noise`` (0..1), ``frication_hz`` (centre of the
        frication band; 0 = aspiration shaped by the formants), ``frication_bw_oct``, ``gain_db``,
        ``f0_hz``, ``tilt_db_per_oct``, ``breathiness``; and 0-d arrays ``duration`` (s) and
        ``frame_rate``.
    """
    eff = effects(emotion, intensity * speaker.expressivity, realisation.style)
    fr = float(frame_rate)
    n = int(np.ceil(plan.duration * fr - 1e-9))
    t = np.arange(n) / fr
    P = len(ARTIC_PARAMS)
    col = {k: j for j, k in enumerate(ARTIC_PARAMS)}
    tgt = np.tile(REST_SILENCE, (n, 1))  # (n, P) targets; silence frames anchor to the rest posture
    wgt = np.ones((n, P))  # (n, P) how strongly each frame's phone constrains each dimension
    speech = np.zeros(n)
    gain, voicing, noise = np.full(n, -80.0), np.zeros(n), np.zeros(n)
    fric_hz, fric_bw = np.zeros(n), np.ones(n)
    accents = []  # (centre, sigma) of pitch accents on primary-stressed vowels
    labels = [base(p[0]) for p in plan.phones]
    for i, (ph, s, e) in enumerate(plan.phones):
        i0 = min(int(round(s * fr)), n - 1)
        i1 = min(max(i0 + 1, int(round(e * fr))), n)
        m, sl = i1 - i0, slice(i0, i1)
        speech[sl] = 1.0
        if is_vowel(ph):
            offset = speaker.vowel_offset(vowel_key(ph))
            a, z = (realised_target(np.asarray(v) + offset, e - s, realisation, rng) for v in vowel_targets(ph))
            frac = np.linspace(0.0, 1.0, m)[:, None]  # diphthongs glide from a to z
            tgt[sl] = (1 - frac) * a + frac * z
            wgt[sl] = 1.0
            voicing[sl] = 1.0
            gain[sl] = {0: -3.0, 1: 1.5, 2: 0.0}[stress(ph)]
            if stress(ph) == 1 and rng.random() < 0.75:
                accents.append(((s + e) / 2, max(0.45 * (e - s), 0.04)))
            # Aspiration (long voice onset time) after a voiceless stop, except after /s/ ("stop").
            if i > 0 and labels[i - 1] in ("P", "T", "K") and (i < 2 or labels[i - 2] != "S"):
                asp = slice(i0, i0 + min(int(0.04 * fr), m // 2))
                voicing[asp], noise[asp], fric_hz[asp] = 0.0, 0.5, 0.0
        else:
            wgt[sl] = 0.0
            for k, (v, w) in CONSONANT_TARGETS[base(ph)].items():
                tgt[sl, col[k]], wgt[sl, col[k]] = v + rng.normal(0.0, 0.02), w
            gain[sl], voicing[sl], noise[sl], fric_hz[sl], fric_bw[sl] = _phone_source(ph, m, is_voiced(ph))

    # Coarticulation: fill free dimensions from the anchors (weight ~1), blend, smooth.
    idx = np.arange(n)
    art = np.empty((n, P))
    for j in range(P):
        anchor = wgt[:, j] >= 0.95
        filled = np.interp(idx, idx[anchor], tgt[anchor, j]) if anchor.any() else tgt[:, j]
        art[:, j] = wgt[:, j] * tgt[:, j] + (1 - wgt[:, j]) * filled
    art[:, :3] = gaussian_filter1d(art[:, :3], LIP_SIGMA_S * fr, axis=0, mode="nearest")
    art[:, 3:] = gaussian_filter1d(art[:, 3:], TONGUE_SIGMA_S * fr, axis=0, mode="nearest")

    # Emotion and speaker: scale deviations from the neutral tract during speech (hyper/hypo-articulation).
    g = speaker.articulation_gain * eff["articulation_gain"]
    in_speech = gaussian_filter1d(speech, 0.03 * fr, mode="nearest")[:, None]  # (n, 1), 0 in silence
    art = REST_GAIN + (1 + (g - 1) * in_speech) * (art - REST_GAIN)
    art[:, col["spread"]] += eff["spread_offset"] + speaker.spread_habit
    art = np.clip(art, 0.0, 1.0)

    # Level: per-phone class level, emotion intensity, a slight declination and a per-utterance offset.
    gain = gaussian_filter1d(gain, 1.5, mode="nearest") + eff["intensity_db"] - 2.0 * t / max(t[-1], 1e-9)
    gain += rng.normal(0.0, 1.0)

    # F0 (semitones re speaker F0): declination, pitch accents, final fall, all scaled by the range;
    # plus slow drift and frame jitter.
    s0, s1 = plan.phones[0][1], plan.phones[-1][2]
    x = np.clip((t - s0) / max(s1 - s0, 1e-3), 0.0, 1.0)
    contour = 1.0 - 3.0 * x - 2.5 * np.clip((t - (s1 - 0.3)) / 0.3, 0.0, 1.0) ** 1.5
    for c, sig in accents:
        contour += rng.uniform(1.5, 3.5) * np.exp(-0.5 * ((t - c) / sig) ** 2)
    contour *= eff["f0_range"] * speaker.f0_range
    semitones = eff["f0_semitones"] + contour + 0.4 * _smooth_noise(n, 0.06 * fr, rng) + rng.normal(0.0, 0.08, n)

    out = {k: art[:, j] for j, k in enumerate(ARTIC_PARAMS)}
    out.update(
        t=t,
        voicing=np.clip(gaussian_filter1d(voicing, 1.0, mode="nearest"), 0.0, 1.0),
        noise=np.clip(gaussian_filter1d(noise, 0.7, mode="nearest"), 0.0, 1.0),
        frication_hz=fric_hz, frication_bw_oct=fric_bw, gain_db=gain,
        f0_hz=speaker.f0_hz * 2.0 ** (semitones / 12.0),
        tilt_db_per_oct=np.full(n, BASE_TILT_DB_PER_OCT + eff["tilt_db_per_oct"]),
        breathiness=np.full(n, max(BASE_BREATHINESS + eff["breathiness"], 0.0)),
        duration=np.asarray(float(plan.duration)), frame_rate=np.asarray(fr),
    )
    return out
