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

from .vocab import VOWELS as PAPER_VOWELS

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


def read_textgrid(path, tier: str = "phones", speaker: str | None = None) -> pd.DataFrame:
    """The ``phones`` (or ``words``) tier of an MFA TextGrid as ``label, start, end`` rows.

    MFA names the tiers ``phones`` (one speaker) or ``"<speaker> - phones"`` (one pair of tiers
    per speaker in the same file). With one such tier, it is used; with several, the tier of
    ``speaker`` (the utterance's speaker) is, and without ``speaker`` or with a speaker that has no
    tier a ``ValueError`` names the speakers present: a tier is never picked silently. Empty
    (silence) intervals are left out. Raises ``ValueError`` naming the tiers present when there
    is no such tier.
    """
    path = Path(path)
    try:
        tg = textgrid.openTextgrid(str(path), includeEmptyIntervals=False)
    except Exception as err:  # praatio raises several types for malformed files
        raise ValueError(f"{path}: not a readable TextGrid ({type(err).__name__}: {err})") from None
    names = [n for n in tg.tierNames if n == tier or n.endswith(f" - {tier}")]
    if not names:
        raise ValueError(f"{path}: no '{tier}' tier (tiers: {', '.join(tg.tierNames) or 'none'})")
    if len(names) > 1:
        speakers = [n[: -len(f" - {tier}")] if n != tier else "(unnamed)" for n in names]
        mine = [n for n, s in zip(names, speakers) if speaker is not None and s.strip() == str(speaker).strip()]
        if len(mine) != 1:
            raise ValueError(f"{path}: '{tier}' tiers of several speakers ({', '.join(speakers)}) and "
                             + (f"none of speaker '{speaker}'" if speaker is not None else "no speaker given"))
        names = mine
    entries = tg.getTier(names[0]).entries
    return pd.DataFrame([(e.label, e.start, e.end) for e in entries], columns=["label", "start", "end"])


def prepare_mfa_corpus(utterances: pd.DataFrame, transcripts, out_dir) -> pd.DataFrame:
    """Lay out utterances as the input folder of ``mfa align``: one folder per speaker holding
    ``<utt_id>.wav`` (a symbolic link to the audio) and ``<utt_id>.lab`` (the transcript).

    Parameters
    ----------
    utterances
        A table with ``utt_id``, ``speaker`` and ``audio_path`` (:mod:`agcc.corpora`'s schema).
    transcripts
        The text of each utterance: a mapping ``utt_id -> text`` or a Series indexed like
        ``utterances``.
    out_dir
        Created if needed; speaker folders let MFA adapt to each speaker.

    Returns
    -------
    pandas.DataFrame
        The utterances left out (``utt_id``, ``reason``): no transcript, or no audio file.
    """
    out_dir = Path(out_dir)
    if isinstance(transcripts, pd.Series) and transcripts.index.equals(utterances.index):
        texts = transcripts
    else:
        texts = utterances["utt_id"].map(dict(transcripts))
    skipped = []
    for row, text in zip(utterances.itertuples(), texts):
        audio = Path(row.audio_path)
        if not isinstance(text, str) or not text.strip():
            skipped.append({"utt_id": row.utt_id, "reason": "no transcript"})
            continue
        if not audio.is_file():
            skipped.append({"utt_id": row.utt_id, "reason": "no audio file"})
            continue
        folder = out_dir / str(row.speaker)
        folder.mkdir(parents=True, exist_ok=True)
        link = folder / f"{row.utt_id}{audio.suffix}"
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(audio.resolve())
        (folder / f"{row.utt_id}.lab").write_text(text.strip() + "\n", encoding="utf-8")
    return pd.DataFrame(skipped, columns=["utt_id", "reason"])


def collect_textgrids(mfa_output, dest) -> int:
    """Copy every ``*.TextGrid`` below ``mfa_output`` (MFA mirrors the speaker folders of its
    input) flat into ``dest/<stem>.TextGrid``, where the corpus readers look for them; returns
    how many. Two TextGrids with the same stem raise ``ValueError`` (utterance ids are unique)."""
    import shutil

    found = sorted(Path(mfa_output).rglob("*.TextGrid"))
    stems = [p.stem for p in found]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ValueError(f"TextGrids with the same name in several folders: {', '.join(twice[:5])}")
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    for path in found:
        shutil.copy2(path, dest / path.name)
    return len(found)
