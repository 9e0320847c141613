"""CREMA-D (Sec. II-A): 91 actors reading 12 sentences in six acted emotions; split by actor.

Layout, searched below the root (release layouts differ)::

    AudioWAV/<ActorID>_<SENT>_<EMO>_<LVL>.wav     e.g. 1001_DFA_ANG_XX.wav (extension in any case)
    VideoDemographics.csv                         "ActorID","Age","Sex","Race","Ethnicity"
    .../processedResults/summaryTable.csv         perceptual votes ("FileName" or "Filename")
    openface/<stem>.csv, mfa/<stem>.TextGrid      the landmarks and alignments this book reads

Labels (``crema_label``): ``acted``, the intended emotion of the file name, or the perceived
majority ``voice``, ``face`` or ``multimodal`` vote of ``summaryTable.csv``. The simulated twin is
:func:`agcc.simulate.corpora.generate_crema_d`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .base import LETTERS, SIMULATOR_KNOBS, Corpus, finish
from .files import (files_with_suffix, find, orphan_reason, orphans, read_table, side_folders, side_index,
                    side_paths)

CODES = {"ANG": "anger", "DIS": "disgust", "FEA": "fear", "HAP": "happiness", "NEU": "neutral",
         "SAD": "sadness"}
VOTE_COLUMNS = {"voice": "VoiceVote", "face": "FaceVote", "multimodal": "MultiModalVote"}
LABELS = ("acted", *VOTE_COLUMNS)
# Media the corpus README flags. This book reads the WAV and the OpenFace landmarks of the video
# (FLV), so a file is left out (and reported) when either is bad; a bad MP3 alone would not matter.
KNOWN_BAD = {
    "1076_MTI_SAD_XX": "known bad CREMA-D file: no signal in its WAV and MP3 (corpus README)",
    "1076_MTI_NEU_XX": "known bad CREMA-D file: MP3 and FLV video very short, its landmarks do not "
                       "cover the audio (corpus README; the WAV is fine)",
    "1064_TIE_SAD_XX": "known bad CREMA-D file: MP3 and FLV video without duration (corpus README; "
                       "the WAV is fine)",
    "1064_IEO_DIS_MD": "known bad CREMA-D file: MP3 and FLV video one minute long (corpus README; "
                       "the WAV is 4.1 s)",
}
LAYOUT = ("AudioWAV/<ActorID>_<SENT>_<EMO>_<LVL>.wav (e.g. AudioWAV/1001_DFA_ANG_XX.wav) with "
          "VideoDemographics.csv and processedResults/summaryTable.csv")
# The level is two letters; copies cloned before the 2022 rename hold 1040_ITH_SAD_X.wav (one X).
_STEM = re.compile(r"^(\d{4})_([A-Z]{3})_([A-Z]{3})_([A-Z]{2}|X)$")


def canonical_stem(stem: str) -> str:
    """The current release's name of a file stem (``1040_ITH_SAD_X`` -> ``1040_ITH_SAD_XX``)."""
    return stem + "X" if _STEM.match(stem) and stem.endswith("_X") else stem


def _vote_emotion(vote: str) -> str | None:
    """Emotion of a summaryTable vote: a letter, ``no_agreement`` for a tie (``"A:F"``),
    ``unlabeled`` for no vote, ``None`` for a value that is not a vote."""
    letters = [v.strip() for v in str(vote).split(":")]
    if letters == [""]:
        return "unlabeled"
    if not all(v in LETTERS and v not in "OX" for v in letters):
        return None
    return "no_agreement" if len(letters) > 1 else LETTERS[letters[0]]


def read(root, *, label: str = "acted", landmarks_dir=None, alignments_dir=None, drop_known_bad: bool = True,
         corpus: str = "crema_d") -> pd.DataFrame:
    """Read a CREMA-D tree into the common schema (:mod:`agcc.corpora.base`).

    Parameters
    ----------
    root
        The corpus root; ``AudioWAV/``, ``VideoDemographics.csv`` and ``summaryTable.csv`` are
        found wherever they lie below it (or the WAVs directly in ``root``).
    label
        ``"acted"`` (default): the intended emotion of the file name. ``"voice"``, ``"face"`` or
        ``"multimodal"``: the perceived majority vote of ``summaryTable.csv`` (ties become
        ``no_agreement``; a file without a vote ``unlabeled``; a value that is not a vote, or
        rows of one file with different votes, are reported and the file left out).
    landmarks_dir, alignments_dir
        Folders of the OpenFace CSVs and MFA TextGrids (defaults ``<root>/openface``, ``<root>/mfa``).
    drop_known_bad
        Leave out (and report) the files whose WAV or video the corpus README flags.
    corpus
        Value of the ``corpus`` column.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"CREMA-D root {root} does not exist")
    wav_dir = find(root, "AudioWAV", is_dir=True) or root
    wavs = files_with_suffix(wav_dir, ".wav")
    if not wavs:
        raise FileNotFoundError(f"No WAV files in {wav_dir}: is {root} a CREMA-D root? Expected {LAYOUT}.")
    sex = {}
    demo_path = find(root, "VideoDemographics.csv", is_dir=False)
    if demo_path is not None:
        demo = read_table(demo_path, ["ActorID", "Sex"])
        # "Female"/"Male"; anything else stays unknown ("") rather than a guess
        sex = {a.strip(): {"f": "F", "m": "M"}.get(s.strip().lower()[:1], "") for a, s in zip(demo["ActorID"], demo["Sex"])}
    summary_path = find(root, "summaryTable.csv", is_dir=False)
    column = VOTE_COLUMNS.get(label)
    if summary_path is None and column:
        raise FileNotFoundError(f"label={label!r} needs summaryTable.csv, which is not under {root}")
    summary = read_table(summary_path, ["FileName", *([column] if column else [])]) if summary_path else None
    votes, conflicts = {}, {}
    if column:  # a file listed twice with different votes is reported, not overwritten
        for name, vote in zip(summary["FileName"].str.strip(), summary[column].str.strip()):
            if votes.setdefault(name, vote) != vote:
                conflicts[name] = f"summaryTable.csv: conflicting {column} rows ({votes[name]!r} and {vote!r})"

    rows, skipped_rows, seen = [], [], {}
    for wav in wavs:
        m = _STEM.match(wav.stem)
        if not m:
            skipped_rows.append({"utt_id": wav.stem, "reason": "file name does not follow Actor_SENT_EMO_LVL"})
            continue
        stem = canonical_stem(wav.stem)
        if stem in seen:
            skipped_rows.append({"utt_id": wav.stem, "reason": f"a second WAV of {stem} (kept {seen[stem].name})"})
            continue
        seen[stem] = wav
        if drop_known_bad and stem in KNOWN_BAD:
            skipped_rows.append({"utt_id": stem, "reason": KNOWN_BAD[stem]})
            continue
        actor, sent, code, _ = m.groups()
        if code not in CODES:
            skipped_rows.append({"utt_id": stem, "reason": f"unknown emotion code '{code}' in the file name "
                                 f"(expected {' '.join(CODES)})"})
            continue
        if stem in conflicts:
            skipped_rows.append({"utt_id": stem, "reason": conflicts[stem]})
            continue
        emotion = CODES[code] if label == "acted" else _vote_emotion(votes.get(stem, ""))
        if emotion is None:
            skipped_rows.append({"utt_id": stem, "reason": f"summaryTable.csv {column} {votes[stem]!r} is not a "
                                 "vote (letters A D F H N S, ties joined by ':')"})
            continue
        rows.append({"utt_id": stem, "corpus": corpus, "speaker": actor, "gender": sex.get(actor, ""),
                     "sentence": sent, "emotion": emotion, "session": actor, "audio_path": str(wav)})
    if not seen:
        raise ValueError(f"None of the {len(wavs)} WAV files in {wav_dir} is named like a CREMA-D clip: is "
                         f"{root} a CREMA-D root? Expected {LAYOUT}.")

    index = side_index(side_folders(root, landmarks_dir, alignments_dir))
    for row in rows:
        row["landmarks_path"], row["alignment_path"] = side_paths(index, row["utt_id"], Path(row["audio_path"]).stem)
    listed = set(summary["FileName"].str.strip()) if summary is not None else set()
    lonely = orphans(index, seen, canonical_stem)
    for stem in sorted((listed | set(lonely)) - set(seen)):
        if stem in listed:
            reason = "listed in summaryTable.csv but no WAV"
            if stem in lonely:
                reason += f" ({' and '.join(lonely[stem])} present)"
        else:
            reason = orphan_reason(lonely[stem])
        skipped_rows.append({"utt_id": stem, "reason": reason})
    return finish(rows, skipped_rows, corpus)


class CremaD(Corpus):
    """CREMA-D: intense, clean, scripted speech (the paper's "C")."""

    name = "crema_d"
    code = "C"
    display = "CREMA-D"
    root_param = "crema_d_root"
    label_param = "crema_label"
    labels = LABELS
    split_unit = "actor"
    layout = LAYOUT
    twin = "agcc.simulate.corpora:generate_crema_d"
    twin_params = {"n_actors": "sim_crema_actors", "n_sentences": "sim_crema_sentences",
                   "intensity": "sim_crema_intensity", **SIMULATOR_KNOBS}
    reader = read
