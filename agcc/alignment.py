"""Montreal Forced Aligner TextGrids (Sec. II-A/B): the phones tier and the paper's six vowels.

The paper focuses on six vowels {a, ə, ɛ, i, æ, u}. MFA writes ARPAbet labels with stress digits
(``english_us_arpa``) or IPA (``english_mfa``); :func:`paper_vowel` maps both (table in
``shared/notes/formats.md``). ARPAbet separates ə from ʌ only by stress: ``AH0`` is ə, ``AH1``
and ``AH2`` are ʌ and not among the six.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from praatio import textgrid

PAPER_VOWELS = ("a", "ə", "ɛ", "i", "æ", "u")
_ARPA = {"AA": "a", "EH": "ɛ", "IY": "i", "AE": "æ", "UW": "u"}
_IPA = {"ɑ": "a", "ɑː": "a", "a": "a", "ə": "ə", "ɛ": "ɛ", "i": "i", "iː": "i", "æ": "æ",
        "u": "u", "uː": "u", "ʉ": "u", "ʉː": "u"}


def paper_vowel(label: str) -> str | None:
    """The paper's vowel (``a ə ɛ i æ u``) for an ARPAbet or MFA-IPA phone label, else ``None``."""
    label = (label or "").strip()
    if label in _IPA:
        return _IPA[label]
    m = re.fullmatch(r"([A-Z]{2})([012])?", label)
    if not m:
        return None
    base, stress = m.groups()
    if base == "AH":
        return "ə" if stress == "0" else None
    return _ARPA.get(base)


def read_textgrid(path, tier: str = "phones") -> pd.DataFrame:
    """The ``phones`` (or ``words``) tier of an MFA TextGrid as ``label, start, end`` rows.

    Speaker-prefixed tier names (``"<speaker> - phones"``) are accepted; empty (silence) intervals
    are left out. Raises ``ValueError`` naming the tiers present when there is no such tier.
    """
    path = Path(path)
    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as err:  # praatio raises several types for malformed files
        raise ValueError(f"{path}: not a readable TextGrid ({type(err).__name__}: {err})") from None
    names = [n for n in tg.tierNames if n == tier or n.endswith(f" - {tier}")]
    if not names:
        raise ValueError(f"{path}: no '{tier}' tier (tiers: {', '.join(tg.tierNames) or 'none'})")
    entries = tg.getTier(names[0]).entries
    return pd.DataFrame([(e.label, e.start, e.end) for e in entries], columns=["label", "start", "end"])
