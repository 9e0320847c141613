"""Readers of the two corpora (Sec. II-A): one table schema for CREMA-D and MSP-IMPROV.

Both readers return one row per utterance with the columns

=================  ===========================================================================
``utt_id``          file stem (``1001_DFA_ANG_XX``, ``MSP-IMPROV-S01A-F01-P-FM01``)
``corpus``          ``crema_d`` or ``msp_improv``
``speaker``         actor id (``1001``) or speaker code (``F01``)
``gender``          ``F`` or ``M``
``sentence``        sentence code (``DFA``) or number (``S01``)
``emotion``         ``neutral``, ``anger``, ``happiness``, ``sadness`` (the paper's four classes) or
                    another explicit value (``disgust``, ``fear``, ``other``, ``no_agreement``, ...)
``fold``            split unit: CREMA-D actor group (0-4), MSP-IMPROV session (1-6)
``audio_path``      WAV file
``landmarks_path``  OpenFace CSV, or ``""`` if absent
``alignment_path``  MFA TextGrid, or ``""`` if absent
=================  ===========================================================================

Rows that cannot be used are never dropped silently: they are listed, with the reason, in
``df.attrs["skipped"]`` (a list of ``{"utt_id", "reason"}`` records; :func:`skipped` gives them as a
DataFrame).

The same code reads the real releases and the simulated corpora of :mod:`agcc.simulate`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

FOUR_CLASSES = ("neutral", "anger", "happiness", "sadness")
COLUMNS = ["utt_id", "corpus", "speaker", "gender", "sentence", "emotion", "fold",
           "audio_path", "landmarks_path", "alignment_path"]
CREMA_EMOTIONS = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness",
                  "NEU": "neutral", "SAD": "sadness"}
IMPROV_EMOTIONS = {"A": "anger", "H": "happiness", "S": "sadness", "N": "neutral",
                   "O": "other", "X": "no_agreement"}
_CREMA_STEM = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2})$")
_IMPROV_STEM = re.compile(r"^MSP-IMPROV-S(\d{2})([AHSN])-([FM])(\d{2})-([RSTP])-([A-Z]{2}\d{2})$")


def _side_paths(root: Path, stem: str, landmarks_dir, alignments_dir) -> tuple[str, str]:
    lm = Path(landmarks_dir or root / "openface") / f"{stem}.csv"
    tg = Path(alignments_dir or root / "mfa") / f"{stem}.TextGrid"
    return (str(lm) if lm.is_file() else "", str(tg) if tg.is_file() else "")


def _finish(rows: list[dict], skipped: list[dict]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=COLUMNS).sort_values("utt_id", ignore_index=True)
    df.attrs["skipped"] = [dict(r) for r in skipped]  # plain records: pandas compares attrs on concat
    return df


def skipped(df: pd.DataFrame) -> pd.DataFrame:
    """The files a reader could not use, with the reason (``utt_id``, ``corpus``, ``reason``)."""
    corpus = df["corpus"].iloc[0] if len(df) else ""
    out = pd.DataFrame(df.attrs.get("skipped", []), columns=["utt_id", "reason"])
    return out.assign(corpus=corpus)[["utt_id", "corpus", "reason"]]


def read_crema_d(root, *, landmarks_dir=None, alignments_dir=None) -> pd.DataFrame:
    """Read a CREMA-D tree (``AudioWAV/``, ``VideoDemographics.csv``) into the common schema.

    The emotion is the acted (intended) one from the file name.
    """
    root = Path(root)
    wav_dir = root / "AudioWAV"
    if not wav_dir.is_dir():
        raise FileNotFoundError(f"{wav_dir} not found: is {root} a CREMA-D root?")
    demo_path = root / "VideoDemographics.csv"
    sex = {}
    if demo_path.is_file():
        demo = pd.read_csv(demo_path)
        sex = {str(a): ("F" if str(s).lower().startswith("f") else "M")
               for a, s in zip(demo["ActorID"], demo["Sex"])}
    rows, skipped = [], []
    for wav in sorted(wav_dir.glob("*.wav")):
        m = _CREMA_STEM.match(wav.stem)
        if not m:
            skipped.append({"utt_id": wav.stem, "reason": "file name does not follow Actor_SENT_EMO_LVL"})
            continue
        actor, sent, emo, _ = m.groups()
        lm, tg = _side_paths(root, wav.stem, landmarks_dir, alignments_dir)
        rows.append({"utt_id": wav.stem, "corpus": "crema_d", "speaker": actor,
                     "gender": sex.get(actor, ""), "sentence": sent,
                     "emotion": CREMA_EMOTIONS.get(emo, emo.lower()), "fold": int(actor) % 5,
                     "audio_path": str(wav), "landmarks_path": lm, "alignment_path": tg})
    summary = next(iter(sorted(root.rglob("summaryTable.csv"))), None)
    if summary is not None:
        names = set(pd.read_csv(summary)["FileName"].astype(str))
        have = {r["utt_id"] for r in rows}
        skipped += [{"utt_id": n, "reason": "listed in summaryTable.csv but no WAV"}
                    for n in sorted(names - have)]
    return _finish(rows, skipped)


def read_evaluation(root) -> pd.DataFrame:
    """Consensus labels of MSP-IMPROV's ``Evaluation.txt`` (or ``Evalution.txt``): one row per
    clip with ``utt_id`` (``MSP-IMPROV-`` prefix) and the consensus letter ``label``."""
    root = Path(root)
    path = next((p for p in (root / "Evaluation.txt", root / "Evalution.txt") if p.is_file()), None)
    if path is None:
        found = sorted(root.rglob("Evalua*.txt")) + sorted(root.rglob("Evalu*.txt"))
        path = found[0] if found else None
    if path is None:
        raise FileNotFoundError(f"No Evaluation.txt (or Evalution.txt) under {root}")
    rows = []
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        parts = [p.strip() for p in line.split(";")]
        if len(parts) > 2 and parts[0].endswith(".avi"):
            stem = parts[0][: -len(".avi")].replace("UTD-IMPROV-", "MSP-IMPROV-")
            rows.append({"utt_id": stem, "label": parts[1]})
    return pd.DataFrame(rows, columns=["utt_id", "label"])


def read_msp_improv(root, *, landmarks_dir=None, alignments_dir=None, label: str = "target") -> pd.DataFrame:
    """Read an MSP-IMPROV tree (``Audio/session*/.../*.wav``) into the common schema.

    Parameters
    ----------
    label
        ``"target"``: the scenario's target emotion in the file name; ``"consensus"``: the
        perceptual consensus of ``Evaluation.txt`` (``O`` -> ``other``, ``X`` -> ``no_agreement``).
    """
    root = Path(root)
    if label not in ("target", "consensus"):
        raise ValueError("label must be 'target' or 'consensus'")
    audio = root / "Audio"
    if not audio.is_dir():
        raise FileNotFoundError(f"{audio} not found: is {root} an MSP-IMPROV root?")
    consensus = dict(zip(*read_evaluation(root).T.values)) if label == "consensus" else {}
    rows, skipped = [], []
    for wav in sorted(audio.rglob("*.wav")):
        m = _IMPROV_STEM.match(wav.stem)
        if not m:
            skipped.append({"utt_id": wav.stem, "reason": "file name does not follow MSP-IMPROV-SxxE-Gxx-T-XXxx"})
            continue
        sent, emo, gender, session, _, _ = m.groups()
        if label == "consensus":
            if wav.stem not in consensus:
                skipped.append({"utt_id": wav.stem, "reason": "no consensus line in Evaluation.txt"})
                continue
            emo = consensus[wav.stem]
        lm, tg = _side_paths(root, wav.stem, landmarks_dir, alignments_dir)
        rows.append({"utt_id": wav.stem, "corpus": "msp_improv", "speaker": f"{gender}{session}",
                     "gender": gender, "sentence": f"S{sent}",
                     "emotion": IMPROV_EMOTIONS.get(emo, emo.lower()), "fold": int(session),
                     "audio_path": str(wav), "landmarks_path": lm, "alignment_path": tg})
    return _finish(rows, skipped)


def pick_example(table: pd.DataFrame, emotion: str) -> pd.Series:
    """The first utterance of ``emotion`` that has both landmarks and an alignment (for displays)."""
    ok = table[(table["emotion"] == emotion) & table["landmarks_path"].ne("") & table["alignment_path"].ne("")]
    if ok.empty:
        raise LookupError(f"No {emotion} utterance with both landmarks and an alignment.")
    return ok.iloc[0]
