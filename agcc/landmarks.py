"""OpenFace landmark tracks (Sec. II-B): reading, inter-pupil normalisation, tracking gaps.

The paper rotates the 68 OpenFace landmarks so that the line between the eyes is parallel to the
x-axis and normalises by the inter-pupil distance; it then analyses the twelve outer-lip landmarks
48-59. OpenFace's 68 points contain no pupil, so the eye centroids (mean of 36-41 and of 42-47)
stand for the pupils (see ``shared/notes/formats.md``).
"""
from __future__ import annotations

import io
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

MOUTH = np.arange(48, 60)  # outer lip contour: the paper's twelve AG landmarks
RIGHT_EYE, LEFT_EYE = np.arange(36, 42), np.arange(42, 48)


# Frame rates a video can have (24-60 fps cameras, up to 240 fps high-speed); timestamps outside
# give a warning and the file is refused (OpenFace on an image sequence writes 0.001 s steps).
PLAUSIBLE_FPS = (5.0, 250.0)
# Windows builds of OpenFace write missing values as "-nan(ind)" (older MSVC: "-1.#IND"); numpy
# reads "nan" and "-nan" itself
_WINDOWS_NAN = re.compile(r"[-+]?nan\([a-z]*\)|[-+]?1\.#(?:IND|QNAN)0*", re.IGNORECASE)


@dataclass
class LandmarkTrack:
    """One clip's 68 landmarks: ``xy`` (frames, 68, 2) pixels, ``success`` (frames,) bool,
    ``timestamps`` (frames,) seconds, strictly increasing; ``notes`` says what the reader
    repaired or chose (frames with missing values, a second face, missing timestamps)."""

    xy: np.ndarray
    success: np.ndarray
    timestamps: np.ndarray
    notes: list = field(default_factory=list)

    @property
    def fps(self) -> float:
        """Frame rate read from the timestamps (never assumed); NaN with fewer than two frames."""
        dt = np.diff(self.timestamps)
        return float(1.0 / np.median(dt)) if dt.size and np.median(dt) > 0 else float("nan")


def _one_face(path: Path, data: np.ndarray, face: np.ndarray | None, confidence: np.ndarray | None,
              success: np.ndarray, notes: list) -> np.ndarray:
    """Rows of the face to keep when the CSV tracks several (``face_id`` 0, 1, ...): the face
    with the most successful frames, ties broken by the higher mean confidence, then the lower id."""
    if face is None:
        return np.ones(len(data), bool)
    ids = np.unique(face[np.isfinite(face)])
    if ids.size <= 1:
        return np.ones(len(data), bool)
    conf = confidence if confidence is not None else np.zeros(len(data))
    score = {f: (int(success[face == f].sum()), float(np.nanmean(conf[face == f])), -f) for f in ids}
    best = max(ids, key=lambda f: score[f])
    notes.append(f"{ids.size} faces tracked (face_id {', '.join(str(int(f)) for f in ids)}); kept face "
                 f"{int(best)}: most successful frames ({score[best][0]}), then highest mean confidence")
    return face == best


def _timestamps(path: Path, t: np.ndarray, keep: np.ndarray, success: np.ndarray, notes: list) -> np.ndarray:
    """Check (and repair what can be) the timestamps; returns the rows to keep.

    * non-finite timestamps inside the clip are interpolated from the rows around them and those
      frames count as failed; at the clip's start or end they are left out;
    * timestamps that do not strictly increase (rows out of order, a file of two runs) refuse the file;
    * a frame rate outside :data:`PLAUSIBLE_FPS` warns and refuses the file."""
    rows = np.flatnonzero(keep)
    finite = np.isfinite(t[rows])
    if finite.sum() < 2:
        raise ValueError(f"{path}: fewer than two frames with a finite timestamp")
    first, last = np.flatnonzero(finite)[[0, -1]]
    inner = rows[first:last + 1]
    bad = ~np.isfinite(t[inner])
    if bad.any() or first > 0 or last < len(rows) - 1:
        good = inner[~bad]
        t[inner[bad]] = np.interp(inner[bad], good, t[good])
        success[inner[bad]] = False
        notes.append(f"{int(bad.sum()) + first + len(rows) - 1 - last} frames without a valid timestamp "
                     "(interpolated inside the clip and counted as failed, left out at its ends)")
    dt = np.diff(t[inner])
    if (dt <= 0).any():
        i = int(np.argmax(dt <= 0))
        raise ValueError(f"{path}: timestamps do not increase ({t[inner[i + 1]]:g} s after {t[inner[i]]:g} s "
                         f"at frame row {inner[i + 1] + 1}): rows out of order or several runs in one file")
    fps = 1.0 / float(np.median(dt))
    lo, hi = PLAUSIBLE_FPS
    if not lo <= fps <= hi:
        message = (f"{path}: implausible frame rate {fps:.0f} fps from the timestamps (plausible {lo:g}-{hi:g}); "
                   "OpenFace run on an image sequence writes 0.001 s steps: re-run it on the video "
                   "(or with -fps set to the video's rate)")
        warnings.warn(message, stacklevel=3)
        raise ValueError(message)
    out = np.zeros(len(t), bool)
    out[inner] = True
    return out


def read_openface(path) -> LandmarkTrack:
    """Read an OpenFace 2.x ``FeatureExtraction`` CSV into a :class:`LandmarkTrack`.

    Columns are selected by name after stripping the leading spaces older builds write, so the
    CSV may hold any other column groups (or none). What it trusts is checked:

    * missing values (``nan``, ``-nan``, Windows builds' ``-nan(ind)``) in a frame's landmarks
      make that frame failed; the file is not refused;
    * with several faces (``face_id`` 0, 1, ...), one is kept (:func:`_one_face`: most successful
      frames, then highest mean confidence) and a note says so;
    * timestamps must be finite (else interpolated, frame failed), strictly increasing and of a
      plausible frame rate (:func:`_timestamps`).

    Raises ``ValueError`` naming the file and the reason when it is not a landmark CSV, holds no
    frame, or fails the timestamp checks.
    """
    path = Path(path)
    xs, ys = [f"x_{i}" for i in range(68)], [f"y_{i}" for i in range(68)]
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
        body = fh.read()
    if not header.strip():
        raise ValueError(f"{path}: empty file, not an OpenFace CSV")
    names = [c.strip() for c in header.strip().split(",")]
    index = {n: i for i, n in enumerate(names)}
    missing = [c for c in ["timestamp", "success", *xs, *ys] if c not in index]
    if missing:
        raise ValueError(f"{path}: not an OpenFace 2D-landmark CSV; missing columns "
                         f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    if not body.strip():
        raise ValueError(f"{path}: header only, no frame")
    extra = [c for c in ("face_id", "confidence") if c in index]
    cols = [index[c] for c in ["timestamp", "success", *xs, *ys, *extra]]
    if "nan(" in body.lower() or "#" in body:
        body = _WINDOWS_NAN.sub("nan", body)
    # numpy's C reader on the needed columns only (a full OpenFace CSV has ~700): ~5x faster
    # than pandas here; the ", " separators of older builds parse as floats with a leading space.
    try:
        data = np.loadtxt(io.StringIO(body), delimiter=",", usecols=cols, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: malformed OpenFace CSV ({err})") from None
    column = {c: data[:, 138 + i] for i, c in enumerate(extra)}
    xy = np.stack([data[:, 2:70], data[:, 70:138]], axis=-1)  # (T, 68, 2)
    success = (data[:, 1] > 0) & np.isfinite(xy).all(axis=(1, 2))  # NaN success compares False
    notes: list[str] = []
    n_missing = int(((data[:, 1] > 0) & ~np.isfinite(xy).all(axis=(1, 2))).sum())
    if n_missing:
        notes.append(f"{n_missing} frames with missing landmark values counted as failed")
    keep = _one_face(path, data, column.get("face_id"), column.get("confidence"), success, notes)
    t = data[:, 0].copy()
    keep = _timestamps(path, t, keep, success, notes)
    return LandmarkTrack(xy=xy[keep], success=success[keep], timestamps=t[keep], notes=notes)


def normalize_landmarks(xy: np.ndarray) -> np.ndarray:
    """Rotate, centre and scale each frame by the eyes (the paper's inter-pupil normalisation).

    Parameters
    ----------
    xy
        (frames, 68, 2) pixel coordinates (image y pointing down).

    Returns
    -------
    numpy.ndarray
        (frames, 68, 2): per frame, the eye centroids lie on the x-axis at (-0.5, 0) and (0.5, 0)
        (right eye, i.e. landmarks 36-41, on the left of the image). Frames whose eye centroids
        coincide (failed frames written as zeros) are NaN.
    """
    xy = np.asarray(xy, dtype=float)
    right, left = xy[:, RIGHT_EYE].mean(1), xy[:, LEFT_EYE].mean(1)  # (T, 2) each
    centre = (right + left) / 2
    d = left - right
    dist = np.hypot(d[:, 0], d[:, 1])
    dist = np.where(dist > 1e-9, dist, np.nan)
    cos, sin = d[:, 0] / dist, d[:, 1] / dist  # eye-line angle
    rot = np.stack([np.stack([cos, sin], -1), np.stack([-sin, cos], -1)], 1)  # (T, 2, 2): R(-angle)
    centred = xy - centre[:, None, :]
    return np.einsum("tij,tkj->tki", rot, centred) / dist[:, None, None]


def fill_gaps(values: np.ndarray, ok: np.ndarray, max_gap: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Interpolate runs of failed frames up to ``max_gap`` frames long; longer runs stay NaN.

    Parameters
    ----------
    values
        (frames, ...) per-frame values (e.g. normalised landmarks).
    ok
        (frames,) bool, True where tracking succeeded.
    max_gap
        Longest run of failed frames that is linearly interpolated (between successful frames).

    Returns
    -------
    filled, usable
        ``filled`` like ``values`` with short gaps interpolated and every other failed frame NaN;
        ``usable`` (frames,) bool, False on the frames left NaN. Runs at the start or end of the
        clip have only one neighbour and are never interpolated.
    """
    values = np.asarray(values, dtype=float).copy()
    ok = np.asarray(ok, bool) & np.isfinite(values.reshape(len(values), -1)).all(1)
    values[~ok] = np.nan
    usable = ok.copy()
    n = len(ok)
    good = np.flatnonzero(ok)
    if good.size == 0:
        return values, usable
    flat = values.reshape(n, -1)
    i = 0
    while i < n:
        if ok[i]:
            i += 1
            continue
        j = i
        while j < n and not ok[j]:
            j += 1
        # failed run i..j-1, neighbours i-1 and j
        if i > 0 and j < n and j - i <= max_gap:
            w = (np.arange(i, j) - (i - 1)) / (j - (i - 1))
            flat[i:j] = flat[i - 1] + w[:, None] * (flat[j] - flat[i - 1])
            usable[i:j] = True
        i = j
    return values, usable
