"""OpenFace landmark tracks (Sec. II-B): reading ``FeatureExtraction`` CSVs.

Columns are selected by name (a run may write only some column groups) after stripping the
leading spaces that older OpenFace builds leave in names (``", "`` separators).
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

MOUTH = list(range(48, 60))  # outer lip contour, the paper's twelve AG landmarks


@dataclass
class LandmarkTrack:
    """One clip's 68 landmarks: ``xy`` (frames, 68, 2) pixels, ``success`` (frames,) bool,
    ``timestamps`` (frames,) seconds."""

    xy: np.ndarray
    success: np.ndarray
    timestamps: np.ndarray

    @property
    def fps(self) -> float:
        """Frame rate read from the timestamps (never assumed)."""
        dt = np.diff(self.timestamps)
        return float(1.0 / np.median(dt)) if dt.size else float("nan")


def read_openface(path) -> LandmarkTrack:
    """Read an OpenFace 2.x CSV into a :class:`LandmarkTrack`."""
    df = pd.read_csv(Path(path), skipinitialspace=True)
    df.columns = [c.strip() for c in df.columns]
    need = ["timestamp", "success"] + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: not an OpenFace landmark CSV, missing columns {missing[:5]}...")
    x = df[[f"x_{i}" for i in range(68)]].to_numpy(float)
    y = df[[f"y_{i}" for i in range(68)]].to_numpy(float)
    return LandmarkTrack(xy=np.stack([x, y], axis=-1), success=df["success"].to_numpy() > 0,
                         timestamps=df["timestamp"].to_numpy(float))
