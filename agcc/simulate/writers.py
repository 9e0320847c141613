"""Writers for what the paper's external tools would have produced for each utterance.

* :func:`write_openface_csv` — an OpenFace 2.x ``FeatureExtraction`` CSV (one row per video frame:
  ``frame, face_id, timestamp, confidence, success``, gaze, head pose, the 68 2D landmarks
  ``x_0..x_67, y_0..y_67`` in pixels, rigid shape parameters ``p_scale, p_rx, ...`` and action-unit
  columns). Like a run configured with ``-2Dfp -pose -gaze -aus``, it omits the eye-region, 3D and
  non-rigid groups, so readers must select columns by name. ``spaced=True`` writes the ``", "``
  separators of older builds (names then carry a leading space).
* :func:`write_textgrid` — a Montreal Forced Aligner TextGrid with ``words`` and ``phones`` tiers,
  ARPAbet labels with stress digits, empty silence intervals, boundaries moved by an aligner-like
  error (about 10 ms) and quantised to MFA's 10 ms frame shift, ``spn`` for out-of-vocabulary words.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
from praatio import textgrid

AU_R = ["AU01", "AU02", "AU04", "AU05", "AU06", "AU07", "AU09", "AU10", "AU12", "AU14", "AU15",
        "AU17", "AU20", "AU23", "AU25", "AU26", "AU45"]
AU_C = AU_R[:-1] + ["AU28", "AU45"]


def openface_columns() -> list[str]:
    """Column names, in OpenFace 2.x order, of the groups this writer emits."""
    cols = ["frame", "face_id", "timestamp", "confidence", "success"]
    cols += [f"gaze_{e}_{a}" for e in (0, 1) for a in "xyz"] + ["gaze_angle_x", "gaze_angle_y"]
    cols += ["pose_Tx", "pose_Ty", "pose_Tz", "pose_Rx", "pose_Ry", "pose_Rz"]
    cols += [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)]
    cols += ["p_scale", "p_rx", "p_ry", "p_rz", "p_tx", "p_ty"]
    cols += [f"{au}_r" for au in AU_R] + [f"{au}_c" for au in AU_C]
    return cols


def _action_units(xy: np.ndarray, scale: np.ndarray) -> dict[str, np.ndarray]:
    """Rough AU intensities (0-5) from the landmark geometry: lips part (AU25), jaw drop (AU26),
    lip-corner puller (AU12). Face units = pixels / inter-eye distance."""
    s = np.maximum(scale, 1e-6)
    inner_open = (xy[:, 66, 1] - xy[:, 62, 1]) / s  # inner-lip aperture
    width = (xy[:, 54, 0] - xy[:, 48, 0]) / s
    jaw = (xy[:, 8, 1] - xy[:, 30, 1]) / s
    return {
        "AU25": np.clip(inner_open * 25.0, 0, 5),
        "AU26": np.clip((jaw - np.median(jaw)) * 20.0 + 1.0, 0, 5),
        "AU12": np.clip((width - np.median(width)) * 15.0 + 1.0, 0, 5),
    }


def write_openface_csv(path: Path, lm: dict, *, spaced: bool = False, face_width_mm: float = 140.0) -> None:
    """Write a landmark track as an OpenFace 2.x ``FeatureExtraction`` CSV.

    Parameters
    ----------
    path
        Output file.
    lm
        Output of :func:`agcc.simulate.face.render_landmarks`: ``xy`` (frames, 68, 2) pixels,
        ``timestamps``, ``success``, ``confidence`` and per-frame ``pose`` (``roll_rad``, ``scale``,
        ``tx``, ``ty``).
    spaced
        Use the ``", "`` separator of older OpenFace builds.
    """
    xy = np.asarray(lm["xy"], dtype=float)  # (T, 68, 2)
    n = xy.shape[0]
    ok = np.asarray(lm["success"]).astype(int)
    pose = lm["pose"]
    roll = np.asarray(pose["roll_rad"], float)
    scale = np.asarray(pose["scale"], float)
    tx, ty = np.asarray(pose["tx"], float), np.asarray(pose["ty"], float)
    au = _action_units(xy, scale)
    zeros = np.zeros(n)

    columns: list[tuple[np.ndarray, str]] = [
        (np.arange(1, n + 1), "%d"), (zeros, "%d"), (np.asarray(lm["timestamps"], float), "%.3f"),
        (np.asarray(lm["confidence"], float), "%.2f"), (ok, "%d"),
    ]
    columns += [(zeros, "%.6f")] * 6 + [(zeros, "%.3f")] * 2
    # Head translation in mm (camera frame): depth from the apparent face size.
    tz = face_width_mm * 600.0 / np.maximum(scale * 2.5, 1e-6)
    columns += [(tx - 320.0, "%.1f"), (ty - 240.0, "%.1f"), (tz, "%.1f"),
                (zeros, "%.3f"), (zeros, "%.3f"), (roll, "%.3f")]
    columns += [(xy[:, i, 0], "%.1f") for i in range(68)] + [(xy[:, i, 1], "%.1f") for i in range(68)]
    columns += [(scale / 60.0, "%.3f"), (zeros, "%.3f"), (zeros, "%.3f"), (roll, "%.3f"),
                (tx, "%.3f"), (ty, "%.3f")]
    for name in AU_R:
        columns.append((au.get(name, zeros), "%.2f"))
    for name in AU_C:
        columns.append(((au.get(name, zeros) >= 1.0).astype(int), "%d"))

    data = np.column_stack([c for c, _ in columns])
    fmts = [f for _, f in columns]
    fail = ok == 0  # OpenFace writes zeros for everything but the frame bookkeeping on failed frames
    data[fail, 5:] = 0.0
    sep = ", " if spaced else ","
    header = sep.join(openface_columns())
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        np.savetxt(fh, data, fmt=fmts, delimiter=sep, header=header, comments="")


def jitter_alignment(phones, rng: np.random.Generator, duration: float, *, sd_s: float = 0.010,
                     frame_s: float = 0.01, min_len_s: float = 0.03):
    """Move each phone boundary as an aligner would: Gaussian error, quantised to the frame shift.

    Shared boundaries of adjacent phones stay shared. Returns ``(label, start, end)`` tuples and the
    mapping old boundary -> new boundary (so that word boundaries follow their phones).
    """
    bounds = sorted({round(t, 6) for _, s, e in phones for t in (s, e)})
    moved = {}
    prev = 0.0
    for b in bounds:
        t = np.round((b + rng.normal(0.0, sd_s)) / frame_s) * frame_s
        t = min(max(t, prev + min_len_s if moved else 0.0), duration)
        moved[b] = round(float(t), 2)
        prev = moved[b]
    out = [(lab, moved[round(s, 6)], moved[round(e, 6)]) for lab, s, e in phones]
    return [p for p in out if p[2] > p[1]], moved


def write_textgrid(path: Path, words, phones, duration: float, rng: np.random.Generator, *,
                   jitter_sd_s: float = 0.010, oov_word: int | None = None) -> None:
    """Write an MFA-style TextGrid (tiers ``words`` then ``phones``; silences empty).

    Parameters
    ----------
    words, phones
        ``(label, start, end)`` tuples with the true (generator) times.
    duration
        Length of the recording in seconds (the tiers' xmax).
    oov_word
        Index of a word the aligner did not know: its phones become one ``spn`` interval.
    """
    duration = round(float(duration), 2)
    new_phones, moved = jitter_alignment(phones, rng, duration, sd_s=jitter_sd_s)
    new_words = []
    for k, (w, s, e) in enumerate(words):
        ns, ne = moved.get(round(s, 6)), moved.get(round(e, 6))
        if ns is None or ne is None or ne <= ns:
            continue
        new_words.append((w, ns, ne))
        if k == oov_word:
            new_phones = [p for p in new_phones if not (p[1] >= ns and p[2] <= ne)]
            new_phones.append(("spn", ns, ne))
    new_phones.sort(key=lambda p: p[1])
    tg = textgrid.Textgrid()
    # praatio wants (start, end, label)
    tg.addTier(textgrid.IntervalTier("words", [(s, e, w) for w, s, e in new_words], 0.0, duration))
    tg.addTier(textgrid.IntervalTier("phones", [(s, e, p) for p, s, e in new_phones], 0.0, duration))
    tg.save(str(path), format="long_textgrid", includeBlankSpaces=True)
