"""Vowel tokens with their articulatory-gesture (AG) and acoustic segments (Sec. II-B, II-C).

"Phoneme-specific AG segments are extracted by segmenting frames based on phonetic boundaries":
for every token of the paper's six vowels, this module cuts

* the **AG segment**: the normalised outer-lip landmarks 48-59 (:func:`agcc.landmarks.normalize_landmarks`),
  with short tracking gaps interpolated, sampled at the acoustic frame times inside the phone's
  interval — shape (n_frames, 24), columns ``x48, y48, x49, y49, ..., x59, y59``;
* the **acoustic segment**: the feature frames (50 per second) whose centres fall inside the same
  interval — shape (n_frames, n_features).

Sampling the landmarks (30 fps video) at the 50 fps feature frame times by linear interpolation
gives both segments the same length and time base, which the anchored loss later relies on.

:attr:`SegmentSet.quality` is the **ledger of utterances** that the later stages follow: one line
per utterance of the table, with its status — ``used`` (vowel tokens cut), ``SER only`` (audio
and label usable, so it takes part in SER training, but no vowel token: no landmarks or
alignment, or every token dropped) or ``dropped`` (no usable label or audio: used by no later
stage) — and the ``stage`` and ``reason`` of what it lost. :func:`agcc.train.prepare_training_data`
leaves out exactly the ``dropped`` ones, with the same stage and reason. Every dropped vowel token
is counted by reason (:attr:`SegmentSet.token_drops`).
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping

import numpy as np
import pandas as pd

from .alignment import paper_vowel, read_textgrid
from .audio import inspect_audio
from .features import FRAME_RATE, frame_times
from .io import atomic_write, cached_by_key, parallel_map, verify_folder
from .landmarks import MOUTH, fill_gaps, normalize_landmarks, read_openface
from .vocab import FOUR_CLASSES

FRAME_HOP_S = 1.0 / FRAME_RATE  # 50 feature frames per second
# a phone may end this much after the last audio sample (half of MFA's 10 ms frame shift: its
# boundaries are quantised) before it counts as running past the end of the audio
END_TOLERANCE_S = 0.005
# the ledger's statuses: vowel tokens cut; used for SER training only (no vowel token); used by no stage
USED, SER_ONLY, DROPPED = "used", "SER only", "dropped"
QUALITY_COLUMNS = ["utt_id", "corpus", "status", "stage", "reason", "n_tokens", "note"]
TOKEN_COLUMNS = ["token_id", "utt_id", "corpus", "speaker", "session", "split", "emotion", "vowel",
                 "phone", "start", "end", "n_frames", "offset"]
META = ["utt_id", "corpus", "speaker", "session", "split", "emotion"]


@dataclass
class SegmentSet:
    """All vowel tokens of a run.

    ``tokens`` has one row per token (:data:`TOKEN_COLUMNS`); the segments of token ``i`` are
    ``ag_frames[offset:offset + n_frames]`` and ``acoustic_frames[offset:offset + n_frames]``
    (use :meth:`ag` and :meth:`acoustic`). ``quality`` is the ledger, one row per utterance
    (:data:`QUALITY_COLUMNS`; ``status`` ``used``, ``SER only`` or ``dropped``, with the ``stage``
    and ``reason``, and a ``note`` on what the readers repaired or chose); ``token_drops`` counts
    dropped tokens by reason.
    """

    tokens: pd.DataFrame
    ag_frames: np.ndarray
    acoustic_frames: np.ndarray
    quality: pd.DataFrame
    token_drops: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=["corpus", "reason", "tokens"]))

    def ag(self, i: int) -> np.ndarray:
        """AG segment of token ``i``: (n_frames, 24) normalised lip coordinates."""
        r = self.tokens.iloc[i]
        return self.ag_frames[r.offset:r.offset + r.n_frames]

    def acoustic(self, i: int) -> np.ndarray:
        """Acoustic segment of token ``i``: (n_frames, n_features)."""
        r = self.tokens.iloc[i]
        return self.acoustic_frames[r.offset:r.offset + r.n_frames]

    def save(self, folder) -> None:
        """Write the set to ``folder`` (CSV tables + two ``.npy`` arrays), atomically per file."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        for name, table in (("tokens", self.tokens), ("quality", self.quality), ("token_drops", self.token_drops)):
            atomic_write(folder / f"{name}.csv", lambda fh, t=table: t.to_csv(fh, index=False))
        for name, arr in (("ag_frames", self.ag_frames), ("acoustic_frames", self.acoustic_frames)):
            atomic_write(folder / f"{name}.npy", lambda fh, a=arr: np.save(fh, a))

    @classmethod
    def load(cls, folder, verify: bool = True) -> "SegmentSet":
        """Read a set saved by :func:`prepare_segments`; ``verify`` first checks every file
        against the digests of its stamp (:func:`agcc.io.verify_folder`: a damaged file raises
        :class:`agcc.io.CacheError` naming it)."""
        folder = Path(folder)
        if verify:
            verify_folder(folder, "run the data preparation notebook (01) again to recompute it")
        read = lambda n: pd.read_csv(folder / f"{n}.csv", dtype={"speaker": str, "session": str},  # noqa: E731
                                     keep_default_na=False)
        out = cls(tokens=read("tokens"), quality=read("quality"), token_drops=read("token_drops"),
                  ag_frames=np.load(folder / "ag_frames.npy"),
                  acoustic_frames=np.load(folder / "acoustic_frames.npy"))
        out.validate(folder)
        return out

    def validate(self, where="") -> None:
        """Raise ``ValueError`` unless the tables and arrays fit together (columns, frame counts,
        token spans inside the arrays)."""
        t = self.tokens
        problems = [f"{name} lacks columns {sorted(set(cols) - set(table.columns))}"
                    for name, table, cols in (("tokens", t, TOKEN_COLUMNS), ("quality", self.quality, QUALITY_COLUMNS))
                    if not set(cols) <= set(table.columns)]
        if not problems:
            if len(self.ag_frames) != len(self.acoustic_frames) or self.ag_frames.ndim != 2:
                problems.append(f"ag_frames {self.ag_frames.shape} and acoustic_frames "
                                f"{self.acoustic_frames.shape} differ in frames")
            elif len(t) and int((t["offset"] + t["n_frames"]).max()) > len(self.ag_frames):
                problems.append("token spans run past the frame arrays")
            used = int(self.quality.loc[self.quality["status"] == USED, "n_tokens"].sum())
            if used != len(t):
                problems.append(f"quality counts {used} tokens, tokens.csv has {len(t)}")
        if problems:
            raise ValueError(f"{where or 'segment set'}: inconsistent ({'; '.join(problems)})")


def _outcome(row, status: str, stage: str, reason: str, n_tokens: int = 0, notes=()) -> dict:
    return {"utt_id": row["utt_id"], "corpus": row["corpus"], "status": status, "stage": stage,
            "reason": reason, "n_tokens": n_tokens, "note": "; ".join(notes)}


def _drop(row, stage: str, reason: str):
    """The utterance is used by no stage (its audio or label is unusable)."""
    return _outcome(row, DROPPED, stage, reason), [], Counter()


def _ser_only(row, stage: str, reason: str, drops=None, notes=()):
    """The utterance is used for SER training but gives no vowel token."""
    return _outcome(row, SER_ONLY, stage, reason, notes=notes), [], drops or Counter()


def _short(err: Exception, path) -> str:
    """A reader's message without the file's path (the table names the utterance)."""
    return str(err).replace(f"{path}: ", "")


def utterance_tokens(row: Mapping, feats: np.ndarray | None, feat_error: str | None, *,
                     max_gap: int = 3, min_frames: int = 3):
    """Cut the vowel tokens of one utterance.

    Returns ``(quality_row, tokens, drops)``: ``quality_row`` is the utterance's line of the
    ledger (:data:`QUALITY_COLUMNS`: its status, the stage and reason when it lost something,
    notes on what the readers repaired); ``tokens`` is a list of
    ``(meta dict, ag (n, 24), acoustic (n, D))``; ``drops`` a Counter of token-drop reasons.
    """
    if row["emotion"] not in FOUR_CLASSES:
        return _drop(row, "labels", f"emotion '{row['emotion']}' is not one of the four classes")
    if feat_error is not None or feats is None:
        return _drop(row, "audio", f"audio unusable: {feat_error or 'no features'}")
    duration, problem = inspect_audio(row["audio_path"])  # truncation, silence of the mono mix
    if problem:
        return _drop(row, "audio", problem)
    # from here on the utterance is used for SER training, with or without vowel tokens
    if not row["landmarks_path"]:
        return _ser_only(row, "landmarks", "no OpenFace landmark CSV")
    if not row["alignment_path"]:
        return _ser_only(row, "alignment", "no MFA TextGrid")
    try:
        with warnings.catch_warnings():  # the implausible-frame-rate warning is counted by build_segments
            warnings.simplefilter("ignore")
            track = read_openface(row["landmarks_path"])
    except ValueError as err:
        return _ser_only(row, "landmarks", f"landmarks unusable: {_short(err, row['landmarks_path'])}")
    if not track.success.any():
        return _ser_only(row, "landmarks", "face tracking failed on every frame", notes=track.notes)
    try:
        phones = read_textgrid(row["alignment_path"], speaker=row.get("speaker"))
    except ValueError as err:
        return _ser_only(row, "alignment", f"alignment unusable: {_short(err, row['alignment_path'])}",
                         notes=track.notes)
    phones = phones.assign(vowel=[paper_vowel(l) for l in phones["label"]]).dropna(subset=["vowel"])
    if phones.empty:
        return _ser_only(row, "alignment", "no token of the six vowels in the alignment", notes=track.notes)

    norm = normalize_landmarks(track.xy)[:, MOUTH].reshape(len(track.xy), -1)  # (T, 24)
    filled, usable = fill_gaps(norm, track.success, max_gap=max_gap)
    centres = frame_times(len(feats))  # (n_frames,) s
    t_video = track.timestamps
    tokens, drops = [], Counter()
    for ph in phones.itertuples():
        if ph.end > duration + END_TOLERANCE_S:  # runs past the audio: misaligned, or the audio is cut
            drops["interval past the end of the audio"] += 1
            continue
        k = np.flatnonzero((centres >= ph.start) & (centres < ph.end))
        if len(k) < min_frames:
            drops[f"shorter than {min_frames} frames"] += 1
            continue
        t = centres[k]
        if t[0] < t_video[0] or t[-1] > t_video[-1]:
            drops["outside the landmark track"] += 1
            continue
        # a frame is usable only if both video frames around it are (interp of the mask == 1)
        if (np.interp(t, t_video, usable.astype(float)) < 1.0 - 1e-9).any():
            drops["landmark tracking gap"] += 1
            continue
        ag = np.stack([np.interp(t, t_video, filled[:, c]) for c in range(filled.shape[1])], axis=1)
        meta = {**{c: row[c] for c in META}, "vowel": ph.vowel, "phone": ph.label,
                "start": float(ph.start), "end": float(ph.end), "n_frames": len(k)}
        tokens.append((meta, ag.astype(np.float32), np.asarray(feats[k], dtype=np.float32)))
    if not tokens:
        reason = "every vowel token dropped (" + ", ".join(f"{r}: {n}" for r, n in drops.items()) + ")"
        return _ser_only(row, "tokens", reason, drops, track.notes)
    return _outcome(row, USED, "", "", len(tokens), track.notes), tokens, drops


def _work(args):
    row, feats, err, max_gap, min_frames = args
    return utterance_tokens(row, feats, err, max_gap=max_gap, min_frames=min_frames)


def build_segments(utterances: pd.DataFrame, features: Mapping[str, np.ndarray],
                   failed: Mapping[str, str] | None = None, *, max_gap: int = 3, min_frames: int = 3,
                   workers: int = 0, progress: bool = True) -> SegmentSet:
    """Vowel tokens of every utterance (see the module docstring).

    Parameters
    ----------
    utterances
        Reader table with a ``split`` column (:func:`agcc.splits.assign_splits`).
    features, failed
        Frame features by audio path, and the audio paths whose extraction failed with the reason
        (:func:`agcc.features.extract_features`).
    max_gap
        Longest run of failed video frames that is interpolated (longer gaps drop the tokens they touch).
    min_frames
        Shortest token kept, in 20 ms feature frames.
    workers
        Processes (0 = one per core).
    """
    failed = failed or {}
    rows = utterances.to_dict("records")
    jobs = [(r, features.get(r["audio_path"]), failed.get(r["audio_path"]) if r["audio_path"] not in features
             else None, max_gap, min_frames) for r in rows]
    # below 256 utterances, starting worker processes costs more than it saves
    results = parallel_map(_work, jobs, workers=workers, desc="vowel tokens", unit="utt", progress=progress,
                           min_items=256, chunksize=32)

    quality, metas, ags, acs, drops = [], [], [], [], []
    offset = 0
    for (q, tokens, d), row in zip(results, rows):
        quality.append(q)
        drops += [(row["corpus"], reason, n) for reason, n in d.items()]
        for meta, ag, ac in tokens:
            metas.append({**meta, "token_id": len(metas), "offset": offset})
            ags.append(ag)
            acs.append(ac)
            offset += len(ag)
    n_feat = next((a.shape[1] for a in acs), 0)
    fps = sum("implausible frame rate" in q["reason"] for q in quality)
    if fps:
        warnings.warn(f"{fps} OpenFace CSVs have an implausible frame rate (image-sequence timestamps?) and "
                      "give no vowel token; see the data-quality table (segments/quality.csv)", stacklevel=2)
    token_drops = (pd.DataFrame(drops, columns=["corpus", "reason", "tokens"])
                   .groupby(["corpus", "reason"], as_index=False)["tokens"].sum())
    return SegmentSet(
        tokens=pd.DataFrame(metas, columns=TOKEN_COLUMNS),
        ag_frames=np.concatenate(ags) if ags else np.zeros((0, 24), np.float32),
        acoustic_frames=np.concatenate(acs) if acs else np.zeros((0, n_feat), np.float32),
        quality=pd.DataFrame(quality, columns=QUALITY_COLUMNS),
        token_drops=token_drops)


def inputs_key(utterances: pd.DataFrame, feature_config: Mapping, **params) -> str:
    """A hash of everything a segment set depends on: the utterance table, the sizes and
    modification times of its input files, the feature configuration and the parameters."""
    h = hashlib.sha256(utterances.to_csv(index=False).encode())
    for col in ("audio_path", "landmarks_path", "alignment_path"):
        for p in utterances[col]:
            if p:
                st = os.stat(p)
                h.update(f"{p}:{st.st_size}:{st.st_mtime_ns};".encode())
    h.update(json.dumps({"features": dict(feature_config), **params}, sort_keys=True, default=str).encode())
    return h.hexdigest()


def prepare_segments(utterances: pd.DataFrame, extractor, folder, cache_dir, *, max_gap: int = 3,
                     min_frames: int = 3, workers: int = 0, progress: bool = True) -> SegmentSet:
    """Features (cached per file) and vowel tokens (cached as a whole in ``folder``).

    The segment set is rebuilt only when :func:`inputs_key` changes (the utterance table, its
    input files, the feature configuration or the parameters); otherwise it is loaded.
    """
    from .features import extract_features

    key = inputs_key(utterances, extractor.config(), max_gap=max_gap, min_frames=min_frames)

    def compute() -> SegmentSet:
        features, failed = extract_features(utterances["audio_path"].tolist(), extractor, cache_dir,
                                            progress=progress)
        return build_segments(utterances, features, failed, max_gap=max_gap, min_frames=min_frames,
                              workers=workers, progress=progress)

    return cached_by_key(folder, key, lambda: SegmentSet.load(folder, verify=False), compute,
                         lambda segs: segs.save(folder))
