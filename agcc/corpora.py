"""Readers of the two corpora (Sec. II-A): one table schema for CREMA-D and MSP-IMPROV.

Both readers return one row per audio file with the columns

==================  ==========================================================================
``utt_id``           file stem (``1001_DFA_ANG_XX``, ``MSP-IMPROV-S01A-F01-P-FM01``)
``corpus``           ``crema_d`` or ``msp_improv``
``speaker``          actor id (``1001``) or speaker code (``F01``)
``gender``           ``F``, ``M`` or ``""`` when unknown
``sentence``         sentence code (``DFA``) or number (``S01``)
``emotion``          ``neutral``, ``anger``, ``happiness``, ``sadness`` (the paper's four classes) or
                     another explicit value (``disgust``, ``fear``, ``other``, ``no_agreement``,
                     ``unlabeled``), which later stages filter out
``session``          the unit of speaker-independent splits: the CREMA-D actor, the MSP-IMPROV
                     session (``session1`` ... ``session6``; one female and one male speaker each)
``audio_path``       the WAV file
``landmarks_path``   OpenFace CSV (default ``<root>/openface/<utt_id>.csv``), ``""`` if absent
``alignment_path``   MFA TextGrid (default ``<root>/mfa/<utt_id>.TextGrid``), ``""`` if absent
==================  ==========================================================================

Files that cannot be used are never dropped silently: they are listed, with the reason, in
``df.attrs["skipped"]`` (records ``{"utt_id", "reason"}``; :func:`skipped` returns them as a table).
The same code reads the real releases and the simulated corpora of :mod:`agcc.simulate`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .vocab import FOUR_CLASSES

COLUMNS = ["utt_id", "corpus", "speaker", "gender", "sentence", "emotion", "session",
           "audio_path", "landmarks_path", "alignment_path"]
LETTERS = {"A": "anger", "D": "disgust", "F": "fear", "H": "happiness", "N": "neutral",
           "S": "sadness", "O": "other", "X": "no_agreement"}
CREMA_CODES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
               "NEU": "neutral", "SAD": "sadness"}
# Files the CREMA-D README flags; they are reported and left out (see the replication notes).
CREMA_KNOWN_BAD = {
    "1076_MTI_SAD_XX": "known bad CREMA-D file: no signal (corpus README)",
    "1076_MTI_NEU_XX": "known bad CREMA-D file: flagged by the corpus README",
    "1064_TIE_SAD_XX": "known bad CREMA-D file: flagged by the corpus README",
    "1064_IEO_DIS_MD": "known bad CREMA-D file: one minute long (corpus README)",
}
CREMA_LABELS = ("acted", "voice", "face", "multimodal")
IMPROV_LABELS = ("target", "consensus")
_CREMA_STEM = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
_IMPROV_STEM = re.compile(r"^MSP-IMPROV-S(\d{2})([A-Z])-([FM])(\d{2})-([A-Z])-(\w+)$")


def _side_paths(root: Path, stem: str, landmarks_dir, alignments_dir) -> tuple[str, str]:
    lm = Path(landmarks_dir or root / "openface") / f"{stem}.csv"
    tg = Path(alignments_dir or root / "mfa") / f"{stem}.TextGrid"
    return (str(lm) if lm.is_file() else "", str(tg) if tg.is_file() else "")


def _finish(rows: list[dict], skipped_rows: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS).sort_values("utt_id", ignore_index=True)
    df.attrs["skipped"] = [dict(r) for r in skipped_rows]  # plain records: pandas compares attrs on concat
    return df


def skipped(df: pd.DataFrame) -> pd.DataFrame:
    """The files a reader could not use, with the reason (``utt_id``, ``corpus``, ``reason``)."""
    corpus = df["corpus"].iloc[0] if len(df) else ""
    out = pd.DataFrame(df.attrs.get("skipped", []), columns=["utt_id", "reason"])
    return out.assign(corpus=corpus)[["utt_id", "corpus", "reason"]]


def _find(root: Path, name: str, *, is_dir: bool) -> Path | None:
    """``root/name`` if present, else the shallowest match below ``root`` (release layouts differ)."""
    direct = root / name
    if direct.is_dir() if is_dir else direct.is_file():
        return direct
    hits = [p for p in root.rglob(name) if (p.is_dir() if is_dir else p.is_file())]
    return min(hits, key=lambda p: (len(p.parts), str(p))) if hits else None


def _vote_to_emotion(vote: str) -> str:
    vote = str(vote).strip()
    if ":" in vote:  # a tie between emotions
        return "no_agreement"
    return LETTERS.get(vote, "unlabeled")


def read_crema_d(root, *, label: str = "acted", landmarks_dir=None, alignments_dir=None,
                 drop_known_bad: bool = True) -> pd.DataFrame:
    """Read a CREMA-D tree into the common schema.

    Parameters
    ----------
    root
        The corpus root. ``AudioWAV/`` is found wherever it lies below it (or WAVs directly in
        ``root``); ``VideoDemographics.csv`` and ``summaryTable.csv`` likewise.
    label
        ``"acted"`` (default): the intended emotion of the file name. ``"voice"``, ``"face"`` or
        ``"multimodal"``: the perceived majority vote of ``summaryTable.csv`` (ties become
        ``no_agreement``; a file without a vote ``unlabeled``).
    landmarks_dir, alignments_dir
        Folders of the OpenFace CSVs and MFA TextGrids (defaults ``<root>/openface``, ``<root>/mfa``).
    drop_known_bad
        Leave out (and report) the files the corpus README flags.
    """
    if label not in CREMA_LABELS:
        raise ValueError(f"label must be one of {CREMA_LABELS}, got {label!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CREMA-D root {root} does not exist")
    wav_dir = _find(root, "AudioWAV", is_dir=True) or root
    wavs = sorted(wav_dir.glob("*.wav"))
    if not wavs:
        raise FileNotFoundError(f"No WAV files in {wav_dir}: is {root} a CREMA-D root (AudioWAV/*.wav)?")
    sex = {}
    demo_path = _find(root, "VideoDemographics.csv", is_dir=False)
    if demo_path is not None:
        demo = pd.read_csv(demo_path, skipinitialspace=True)
        sex = {str(a): ("F" if str(s).strip().lower().startswith("f") else "M")
               for a, s in zip(demo["ActorID"], demo["Sex"])}
    votes: dict[str, str] = {}
    summary = _find(root, "summaryTable.csv", is_dir=False)
    if summary is not None:
        table = pd.read_csv(summary, dtype=str, keep_default_na=False)
        if label != "acted":
            column = {"voice": "VoiceVote", "face": "FaceVote", "multimodal": "MultiModalVote"}[label]
            votes = dict(zip(table["FileName"], table[column]))
    elif label != "acted":
        raise FileNotFoundError(f"label={label!r} needs summaryTable.csv, which is not under {root}")
    rows, skipped_rows = [], []
    for wav in wavs:
        m = _CREMA_STEM.match(wav.stem)
        if not m:
            skipped_rows.append({"utt_id": wav.stem, "reason": "file name does not follow Actor_SENT_EMO_LVL"})
            continue
        if drop_known_bad and wav.stem in CREMA_KNOWN_BAD:
            skipped_rows.append({"utt_id": wav.stem, "reason": CREMA_KNOWN_BAD[wav.stem]})
            continue
        actor, sent, code, _ = m.groups()
        emotion = CREMA_CODES.get(code, code.lower()) if label == "acted" else _vote_to_emotion(votes.get(wav.stem, ""))
        lm, tg = _side_paths(root, wav.stem, landmarks_dir, alignments_dir)
        rows.append({"utt_id": wav.stem, "corpus": "crema_d", "speaker": actor,
                     "gender": sex.get(actor, ""), "sentence": sent, "emotion": emotion,
                     "session": actor, "audio_path": str(wav), "landmarks_path": lm, "alignment_path": tg})
    if summary is not None:
        have = {p.stem for p in wavs}
        listed = set(pd.read_csv(summary, dtype=str)["FileName"])
        skipped_rows += [{"utt_id": n, "reason": "listed in summaryTable.csv but no WAV"}
                         for n in sorted(listed - have)]
    return _finish(rows, skipped_rows)


def read_evaluation(root) -> pd.DataFrame:
    """Consensus lines of MSP-IMPROV's ``Evaluation.txt`` (or the misspelt ``Evalution.txt``),
    found wherever it lies below ``root``: one row per clip with ``utt_id`` (with the audio files'
    ``MSP-IMPROV-`` prefix instead of the label file's ``UTD-IMPROV-``) and the consensus ``label``
    letter."""
    root = Path(root)
    path = _find(root, "Evaluation.txt", is_dir=False) or _find(root, "Evalution.txt", is_dir=False)
    if path is None:
        raise FileNotFoundError(f"No Evaluation.txt (or Evalution.txt) under {root}")
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = [p.strip() for p in line.split(";")]
        if len(parts) > 2 and parts[0].lower().endswith(".avi"):
            stem = parts[0][: -len(".avi")]
            stem = re.sub(r"^UTD-IMPROV-", "MSP-IMPROV-", stem)
            rows.append({"utt_id": stem, "label": parts[1]})
    return pd.DataFrame(rows, columns=["utt_id", "label"])


def read_msp_improv(root, *, label: str = "target", landmarks_dir=None, alignments_dir=None) -> pd.DataFrame:
    """Read an MSP-IMPROV tree (``Audio/session*/S*/[RSTP]/*.wav``) into the common schema.

    Parameters
    ----------
    label
        ``"target"`` (default): the scenario's target emotion in the file name (``A H S N``).
        ``"consensus"``: the perceptual consensus of ``Evaluation.txt`` (``O`` -> ``other``,
        ``X`` -> ``no_agreement``; a clip without a consensus line -> ``unlabeled``).
    """
    if label not in IMPROV_LABELS:
        raise ValueError(f"label must be one of {IMPROV_LABELS}, got {label!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MSP-IMPROV root {root} does not exist")
    audio = _find(root, "Audio", is_dir=True) or root
    wavs = sorted(audio.rglob("*.wav"))
    if not wavs:
        raise FileNotFoundError(f"No WAV files below {audio}: is {root} an MSP-IMPROV root (Audio/session*/...)?")
    consensus = {}
    if label == "consensus":
        evaluation = read_evaluation(root)
        consensus = dict(zip(evaluation["utt_id"], evaluation["label"]))
    rows, skipped_rows = [], []
    for wav in wavs:
        m = _IMPROV_STEM.match(wav.stem)
        if not m:
            skipped_rows.append({"utt_id": wav.stem, "reason": "file name does not follow MSP-IMPROV-SxxE-Gxx-T-..."})
            continue
        sent, emo, gender, session, _, _ = m.groups()
        emotion = LETTERS.get(emo, "unlabeled") if label == "target" else LETTERS.get(consensus.get(wav.stem, ""), "unlabeled")
        lm, tg = _side_paths(root, wav.stem, landmarks_dir, alignments_dir)
        rows.append({"utt_id": wav.stem, "corpus": "msp_improv", "speaker": f"{gender}{session}",
                     "gender": gender, "sentence": f"S{sent}", "emotion": emotion,
                     "session": f"session{int(session)}", "audio_path": str(wav),
                     "landmarks_path": lm, "alignment_path": tg})
    return _finish(rows, skipped_rows)


def pick_example(table: pd.DataFrame, emotion: str) -> pd.Series:
    """The first utterance of ``emotion`` that has both landmarks and an alignment (for displays)."""
    ok = table[(table["emotion"] == emotion) & table["landmarks_path"].ne("") & table["alignment_path"].ne("")]
    if ok.empty:
        raise LookupError(f"No {emotion} utterance with both landmarks and an alignment.")
    return ok.iloc[0]
