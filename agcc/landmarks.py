"""OpenFace landmark tracks (Sec. II-B): reading, inter-pupil normalisation, tracking gaps.

The paper rotates the 68 OpenFace landmarks so that the line between the eyes is parallel to the
x-axis and normalises by the inter-pupil distance; it then analyses the twelve outer-lip landmarks
48-59. OpenFace's 68 points contain no pupil, so the eye centroids (mean of 36-41 and of 42-47)
stand for the pupils (see ``shared/notes/formats.md``).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

MOUTH = np.arange(48, 60)  # outer lip contour: the paper's twelve AG landmarks
RIGHT_EYE, LEFT_EYE = np.arange(36, 42), np.arange(42, 48)


@dataclass
class LandmarkTrack:
    """One clip's 68 landmarks: ``xy`` (frames, 68, 2) pixels, ``success`` (frames,) bool,
    ``timestamps`` (frames,) seconds."""

    xy: np.ndarray
    success: np.ndarray
    timestamps: np.ndarray

    @property
    def fps(self) -> float:
        """Frame rate read from the timestamps (never assumed); NaN with fewer than two frames."""
        dt = np.diff(self.timestamps)
        return float(1.0 / np.median(dt)) if dt.size and np.median(dt) > 0 else float("nan")


def read_openface(path) -> LandmarkTrack:
    """Read an OpenFace 2.x ``FeatureExtraction`` CSV into a :class:`LandmarkTrack`.

    Columns are selected by name after stripping the leading spaces older builds write, so the
    CSV may hold any other column groups (or none). Raises ``ValueError`` naming the missing
    columns when the file is not a landmark CSV.
    """
    path = Path(path)
    xs, ys = [f"x_{i}" for i in range(68)], [f"y_{i}" for i in range(68)]
    with open(path, encoding="utf-8", errors="replace") as fh:
        header = fh.readline()
    if not header.strip():
        raise ValueError(f"{path}: empty file, not an OpenFace CSV")
    names = [c.strip() for c in header.strip().split(",")]
    index = {n: i for i, n in enumerate(names)}
    missing = [c for c in ["timestamp", "success", *xs, *ys] if c not in index]
    if missing:
        raise ValueError(f"{path}: not an OpenFace 2D-landmark CSV; missing columns "
                         f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    cols = [index[c] for c in ["timestamp", "success", *xs, *ys]]
    # numpy's C reader on the needed columns only (a full OpenFace CSV has ~700): ~5x faster
    # than pandas here; the ", " separators of older builds parse as floats with a leading space.
    try:
        data = np.loadtxt(path, delimiter=",", skiprows=1, usecols=cols, ndmin=2)
    except ValueError as err:
        raise ValueError(f"{path}: malformed OpenFace CSV ({err})") from None
    xy = np.stack([data[:, 2:70], data[:, 70:138]], axis=-1)  # (T, 68, 2)
    return LandmarkTrack(xy=xy, success=data[:, 1] > 0, timestamps=data[:, 0])


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
