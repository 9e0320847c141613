"""MSP-IMPROV (Sec. II-A): 12 actors in six dyadic sessions, improvised and natural speech; split by session.

Two layouts are in use; both are read (the WAVs are searched below ``Audio/`` if present, else
below the root, extensions in any case)::

    Audio/session<N>/S01A/<R|S|T|P>/MSP-IMPROV-S01A-F01-P-FM01.wav     (.avi under Video/)
    session<N>/S01A/<R|S|T|P>/MSP-IMPROV-S01A-F01-P-FM01.wav           (.wav and .avi side by side)
    Evaluation.txt (or Evalution.txt)                                    consensus and rater lines
    openface/<stem>.csv, mfa/<stem>.TextGrid

Labels (``improv_label``): ``target``, the scenario's target emotion in the file name, or the
raters' ``consensus`` of ``Evaluation.txt``. The simulated twin is
:func:`agcc.simulate.corpora.generate_msp_improv`.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from .base import LETTERS, SIMULATOR_KNOBS, Corpus, finish
from .files import files_with_suffix, find, orphan_reason, orphans, read_text, side_folders, side_index, side_paths

LABELS = ("target", "consensus")
RECORDING_TYPES = {"R": "read", "S": "improvised", "T": "target sentence", "P": "natural interaction"}
TARGETS = "AHSN"  # the target emotions of the scenarios (file name, character 14)
# Category words some copies write in place of the consensus letter.
WORDS = {"angry": "A", "anger": "A", "happy": "H", "happiness": "H", "sad": "S", "sadness": "S",
         "neutral": "N", "other": "O", "no agreement": "X", "no_agreement": "X"}
LAYOUT = ("Audio/session<N>/S01A/<R|S|T|P>/MSP-IMPROV-S01A-F01-P-FM01.wav, or the same without Audio/ "
          "(session<N>/S01A/P/ with .wav and .avi side by side), with Evaluation.txt")
_STEM = re.compile(r"^MSP-IMPROV-S(\d{2})([A-Z])-([FM])(\d{2})-([A-Z])-(\w+)$")
_CLIP = re.compile(r"^(?:UTD|MSP)-IMPROV-(.+)\.(?:avi|wav)$", re.IGNORECASE)


def _consensus_letter(text: str) -> str | None:
    text = text.strip()
    if text.upper() in LETTERS and len(text) == 1:
        return text.upper()
    return WORDS.get(text.lower())


def read_evaluation(root) -> pd.DataFrame:
    """Consensus lines of MSP-IMPROV's ``Evaluation.txt`` (or the misspelt ``Evalution.txt``),
    found wherever it lies below ``root``.

    Returns one row per clip: ``utt_id`` (with the audio files' ``MSP-IMPROV-`` prefix instead of
    the label file's ``UTD-IMPROV-``) and the consensus ``label`` letter. The encoding is detected
    (UTF-8 or UTF-16); fields may be separated by commas instead of semicolons; the label may be a
    word (``Angry``). Everything else is reported in ``attrs["skipped"]`` (records ``utt_id,
    reason``), never dropped silently: a line that is neither a consensus nor a rater line, an
    unknown label, and a clip with conflicting consensus lines (left without a label).
    """
    root = Path(root)
    path = find(root, "Evaluation.txt", "Evalution.txt", is_dir=False)
    if path is None:
        raise FileNotFoundError(f"No Evaluation.txt (or Evalution.txt) under {root}")
    labels: dict[str, str] = {}
    problems: dict[str, str] = {}
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(";" if ";" in line else ",")]
        clip = _CLIP.match(parts[0])
        if clip is None:
            if len(parts) >= 3 and any(p.startswith("A:") for p in parts):
                continue  # a rater's line: not used (the consensus is)
            problems[f"{path.name} line {number}"] = f"{path.name}: line not understood"
            continue
        stem = "MSP-IMPROV-" + clip.group(1)
        letter = _consensus_letter(parts[1]) if len(parts) > 1 else None
        if letter is None:
            problems[stem] = f"{path.name} line {number}: unknown consensus label {parts[1] if len(parts) > 1 else ''!r}"
        elif stem in labels and labels[stem] != letter:
            problems[stem] = (f"{path.name}: conflicting consensus lines ({labels[stem]} and {letter}, "
                              f"line {number})")
        labels.setdefault(stem, letter or "")
    table = pd.DataFrame([{"utt_id": s, "label": "" if s in problems else l} for s, l in labels.items()],
                         columns=["utt_id", "label"])
    table.attrs["skipped"] = [{"utt_id": k, "reason": v} for k, v in problems.items()]
    return table


def read(root, *, label: str = "target", landmarks_dir=None, alignments_dir=None,
         corpus: str = "msp_improv") -> pd.DataFrame:
    """Read an MSP-IMPROV tree (either layout) into the common schema (:mod:`agcc.corpora.base`).

    Parameters
    ----------
    label
        ``"target"`` (default): the scenario's target emotion in the file name (``A H S N``).
        ``"consensus"``: the perceptual consensus of ``Evaluation.txt`` (``O`` -> ``other``,
        ``X`` -> ``no_agreement``; a clip without a consensus line -> ``unlabeled``; a clip with an
        unknown or conflicting label is reported and left out).
    corpus
        Value of the ``corpus`` column.
    """
    if label not in LABELS:
        raise ValueError(f"label must be one of {LABELS}, got {label!r}")
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"MSP-IMPROV root {root} does not exist")
    audio = find(root, "Audio", is_dir=True) or root
    wavs = files_with_suffix(audio, ".wav", recursive=True)
    if not wavs:
        raise FileNotFoundError(f"No WAV files below {audio}: is {root} an MSP-IMPROV root? Expected {LAYOUT}.")
    consensus, label_problems = {}, {}
    skipped_rows = []
    if label == "consensus":
        evaluation = read_evaluation(root)
        consensus = dict(zip(evaluation["utt_id"], evaluation["label"]))
        label_problems = {r["utt_id"]: r["reason"] for r in evaluation.attrs["skipped"]}
        # lines that name no clip are reported here; a clip's problem below, if this copy has its WAV
        skipped_rows += [{"utt_id": k, "reason": v} for k, v in label_problems.items() if not k.startswith("MSP-")]
    rows, seen = [], {}
    for wav in wavs:
        m = _STEM.match(wav.stem)
        if not m:
            skipped_rows.append({"utt_id": wav.stem, "reason": "file name does not follow MSP-IMPROV-SxxE-Gxx-T-..."})
            continue
        if wav.stem in seen:
            skipped_rows.append({"utt_id": wav.stem, "reason": f"a second WAV of the clip ({wav}; kept {seen[wav.stem]})"})
            continue
        seen[wav.stem] = wav
        sent, emo, gender, session, _, _ = m.groups()
        if emo not in TARGETS:
            skipped_rows.append({"utt_id": wav.stem, "reason": f"unknown emotion code '{emo}' in the file name "
                                 f"(expected {' '.join(TARGETS)})"})
            continue
        if label == "target":
            emotion = LETTERS[emo]
        elif wav.stem in label_problems:
            skipped_rows.append({"utt_id": wav.stem, "reason": label_problems[wav.stem]})
            continue
        else:
            emotion = LETTERS[consensus[wav.stem]] if wav.stem in consensus else "unlabeled"
        rows.append({"utt_id": wav.stem, "corpus": corpus, "speaker": f"{gender}{session}", "gender": gender,
                     "sentence": f"S{sent}", "emotion": emotion, "session": f"session{int(session)}",
                     "audio_path": str(wav)})
    if not seen:
        raise ValueError(f"None of the {len(wavs)} WAV files below {audio} is named like an MSP-IMPROV clip: "
                         f"is {root} an MSP-IMPROV root? Expected {LAYOUT}.")
    if label == "consensus" and rows and all(r["emotion"] == "unlabeled" for r in rows):
        raise ValueError(f"Evaluation.txt under {root} gives a consensus label to none of the {len(rows)} clips: "
                         "is it this copy's label file?")
    index = side_index(side_folders(root, landmarks_dir, alignments_dir))
    for row in rows:
        row["landmarks_path"], row["alignment_path"] = side_paths(index, row["utt_id"])
    for stem, kinds in sorted(orphans(index, seen).items()):
        skipped_rows.append({"utt_id": stem, "reason": orphan_reason(kinds)})
    return finish(rows, skipped_rows, corpus)


class MspImprov(Corpus):
    """MSP-IMPROV: weaker, more natural emotion, another room and microphone (the paper's "I")."""

    name = "msp_improv"
    code = "I"
    display = "MSP-IMPROV"
    root_param = "msp_improv_root"
    label_param = "improv_label"
    labels = LABELS
    split_unit = "session"
    layout = LAYOUT
    twin = "agcc.simulate.corpora:generate_msp_improv"
    twin_params = {"n_sessions": "sim_improv_sessions", "per_speaker": "sim_improv_per_speaker",
                   "intensity": "sim_improv_intensity", "channel_shift": "sim_channel_shift", **SIMULATOR_KNOBS}
    reader = read

    def group_of(self, utt_id: str) -> str:
        """The recording type (the stem's character 20): read, improvised, target sentence or
        natural interaction."""
        m = _STEM.match(utt_id)
        return RECORDING_TYPES.get(m.group(5), m.group(5)) if m else "?"
