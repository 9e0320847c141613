"""The 68 face landmarks from the corpora's own video, without OpenFace (Sec. II-B).

The paper takes the 68 2D landmarks of OpenFace 2 (Sec. II-B). They follow the iBUG 300-W scheme,
which is also the scheme of dlib's 68-point shape predictor; this module runs that predictor on
every frame of each video and writes what OpenFace's ``FeatureExtraction -2Dfp`` writes, so that
:func:`agcc.landmarks.read_openface` and the book read the result exactly as an OpenFace CSV:

* **decoding**: PyAV (FFmpeg inside the wheel) decodes every frame to 8-bit grey; a frame's
  ``timestamp`` is its presentation time (PTS) in seconds from the start of the file, so
  variable frame rates and dropped frames keep their true times (OpenFace writes frame / fps);
* **face**: dlib's HOG frontal-face detector (no upsampling: one upsampling finds false second
  faces); the highest-scoring face is kept. *Tracking*: after a successful frame the detector
  first searches only a box around the previous face, rescaled so that the face is about
  :data:`TRACK_FACE_PX` pixels wide (cost independent of the video's resolution); when it finds
  nothing there, the whole frame is searched again;
* **landmarks**: dlib's 68-point shape predictor (``shape_predictor_68_face_landmarks.dat``,
  shipped by the ``face-recognition-models`` package) inside the face box, at full resolution;
* **output**: ``<out>/<video stem>.csv`` with ``frame, face_id, timestamp, confidence, success,
  x_0..x_67, y_0..y_67`` (OpenFace 2.2's spelling, ``,`` separators); ``success = 0`` and zero
  coordinates where no face was found; ``confidence`` is the detector's SVM score through the
  logistic function (0.5 at the detection threshold, near 1 for clear faces).

:func:`extract_landmarks` finds the videos of a corpus (CREMA-D ``VideoFlash/*.flv``,
MSP-IMPROV ``*.avi`` in either layout) or of a plain folder, skips those whose CSV is complete
(resumable: CSVs are written to a temp file and renamed), runs the rest in worker processes, and
counts and reports every video it cannot read. The choice of dlib's HOG detector and the
measured speed are in the replication notes and the *Running on the real corpora* page.
Needs the optional extra: ``pip install -e '.[video]'``.
"""
from __future__ import annotations

import importlib.util
import math
import time
from dataclasses import dataclass, field
from functools import lru_cache, partial
from pathlib import Path
from typing import Iterator

import numpy as np

from .io import atomic_write, parallel_map

try:
    import av
    import dlib
except ImportError as err:  # the optional extra is not installed
    raise ImportError(f"agcc.video_landmarks needs the optional 'video' extra (pip install -e '.[video]'): "
                      f"{err}") from err

VIDEO_SUFFIXES = (".flv", ".avi", ".mp4", ".m4v", ".mkv", ".mov", ".webm", ".mpg", ".mpeg", ".wmv")
CSV_COLUMNS = (["frame", "face_id", "timestamp", "confidence", "success"]
               + [f"x_{i}" for i in range(68)] + [f"y_{i}" for i in range(68)])
UPSAMPLE = 0  # detector pyramid upsampling on full frames (HOG finds faces >= 80 px; 1 -> ~40 px, 4x slower)
TRACK_MARGIN = 0.3  # search box around the previous face: its box widened by this fraction of its width per side
TRACK_FACE_PX = 100  # the search box is rescaled so that the previous face is about this wide (HOG's window: 80)
PREDICTOR_FILE = "shape_predictor_68_face_landmarks.dat"
SHORT_BY_S = 0.25  # decoded frames ending this much before the announced duration: reported as truncated


def model_path(name: str = PREDICTOR_FILE) -> Path:
    """Path of a model file shipped in ``face-recognition-models`` (``<package>/models/<name>``).

    The package is located without importing it: its ``__init__`` imports ``pkg_resources``,
    which setuptools >= 81 no longer provides.
    """
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or spec.origin is None:
        raise ImportError("face-recognition-models is not installed (pip install -e '.[video]')")
    path = Path(spec.origin).parent / "models" / name
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing from the face-recognition-models package")
    return path


@lru_cache(maxsize=None)
def _models():
    """dlib's HOG face detector and the 68-point shape predictor, loaded once per process
    (about 0.6 s of CPU each)."""
    return dlib.get_frontal_face_detector(), dlib.shape_predictor(str(model_path()))


class FaceTracker:
    """Face box and 68 landmarks per grey frame, tracking the face between consecutive frames.

    Call it on the frames of one video in order (``reset()`` between videos); each call returns
    ``(xy, confidence)``: ``xy`` (68, 2) float pixel coordinates, or ``None`` when no face is found.

    Parameters
    ----------
    track
        Search near the previous face first (see the module docstring); ``False`` runs the
        detector on every full frame.
    upsample
        Pyramid upsamplings of the full-frame detector (0: faces of at least 80 pixels).
    """

    def __init__(self, *, track: bool = True, upsample: int = UPSAMPLE):
        self.detector, self.predictor = _models()
        self.track, self.upsample = track, upsample
        self.box: tuple[float, float, float, float] | None = None  # previous face (left, top, right, bottom)

    def reset(self) -> None:
        self.box = None

    @staticmethod
    def _best(rects, scores, sx: float = 1.0, sy: float = 1.0, dx: float = 0.0, dy: float = 0.0):
        """The highest-scoring detection as a box in frame pixels (detections made on a crop at
        ``(dx, dy)`` scaled by ``(sx, sy)``) and its score; ``None`` without detections."""
        if not len(rects):
            return None
        k = int(np.argmax(scores))
        r = rects[k]
        box = (r.left() / sx + dx, r.top() / sy + dy, r.right() / sx + dx, r.bottom() / sy + dy)
        return box, float(scores[k])

    def _near_previous(self, gray: np.ndarray):
        """Search the previous face's box widened by :data:`TRACK_MARGIN` per side, rescaled so that
        the previous face is :data:`TRACK_FACE_PX` wide: the cost no longer grows with the frame."""
        left, top, right, bottom = self.box
        w = right - left
        x0, y0 = max(0, int(left - TRACK_MARGIN * w)), max(0, int(top - TRACK_MARGIN * w))
        x1 = min(gray.shape[1], int(math.ceil(right + TRACK_MARGIN * w)))
        y1 = min(gray.shape[0], int(math.ceil(bottom + TRACK_MARGIN * w)))
        if x1 - x0 < 8 or y1 - y0 < 8:
            return None
        scale = TRACK_FACE_PX / max(w, 1.0)
        crop = np.ascontiguousarray(gray[y0:y1, x0:x1])
        rows, cols = max(1, round((y1 - y0) * scale)), max(1, round((x1 - x0) * scale))
        small = dlib.resize_image(crop, rows, cols)
        rects, scores, _ = self.detector.run(small, 0, 0.0)
        return self._best(rects, scores, sx=cols / (x1 - x0), sy=rows / (y1 - y0), dx=x0, dy=y0)

    def __call__(self, gray: np.ndarray) -> tuple[np.ndarray | None, float]:
        found = self._near_previous(gray) if (self.track and self.box is not None) else None
        if found is None:
            rects, scores, _ = self.detector.run(gray, self.upsample, 0.0)
            found = self._best(rects, scores)
        if found is None:
            self.box = None
            return None, 0.0
        self.box, score = found
        rect = dlib.rectangle(*(int(round(v)) for v in self.box))
        shape = self.predictor(gray, rect)
        xy = np.array([(p.x, p.y) for p in shape.parts()], dtype=float)  # (68, 2)
        return xy, 1.0 / (1.0 + math.exp(-score))


def read_gray_frames(path, info: dict | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Decode a video: ``(timestamp, frame)`` per frame, ``timestamp`` the frame's presentation
    time in seconds from the start of the file, ``frame`` (height, width) uint8 grey.

    A frame without a presentation time (rare; some AVI files) gets the previous frame's time plus
    one frame at the stream's average rate. ``info``, if given, receives ``duration``: the length
    the container announces, in seconds (NaN if it announces none). Raises
    ``av.error.FFmpegError`` (or ``ValueError`` for a file without a video stream) when the file
    cannot be read; a file cut short simply yields fewer frames (compare with ``duration``).
    """
    with av.open(str(path)) as container:
        if not container.streams.video:
            raise ValueError("no video stream")
        stream = container.streams.video[0]
        start = container.start_time / av.time_base if container.start_time is not None else 0.0
        if info is not None:
            info["duration"] = container.duration / av.time_base if container.duration else float("nan")
        rate = stream.average_rate or stream.guessed_rate
        previous = None
        for frame in container.decode(stream):
            t = frame.time
            if t is None:
                if rate is None:
                    raise ValueError("frames carry no presentation time and the stream no frame rate")
                t = (previous + 1.0 / float(rate)) if previous is not None else start
            previous = t
            yield t - start, frame.to_ndarray(format="gray")


@dataclass
class VideoLandmarks:
    """One video's landmarks: ``xy`` (frames, 68, 2) pixels (0 where no face), ``success`` (frames,)
    bool, ``confidence`` (frames,), ``timestamps`` (frames,) seconds, and the ``duration`` the
    container announces (seconds, NaN if none)."""

    xy: np.ndarray
    success: np.ndarray
    confidence: np.ndarray
    timestamps: np.ndarray
    duration: float = float("nan")

    def truncated(self) -> bool:
        """Whether the decoded frames end more than :data:`SHORT_BY_S` before the announced
        duration (a file cut short: FFmpeg decodes what is there without an error)."""
        step = float(np.median(np.diff(self.timestamps))) if len(self.timestamps) > 1 else 0.0
        return bool(self.duration - (self.timestamps[-1] + step) > SHORT_BY_S)


def video_landmarks(path, tracker: FaceTracker | None = None) -> VideoLandmarks:
    """Landmarks of every frame of one video (see the module docstring). Raises ``ValueError``
    when the video has no decodable frame, and PyAV's errors when it cannot be opened."""
    tracker = tracker or FaceTracker()
    tracker.reset()
    xy, ok, conf, ts, info = [], [], [], [], {}
    for t, gray in read_gray_frames(path, info):
        points, c = tracker(gray)
        ok.append(points is not None)
        xy.append(points if points is not None else np.zeros((68, 2)))
        conf.append(c)
        ts.append(t)
    if not ts:
        raise ValueError("no decodable video frame")
    return VideoLandmarks(xy=np.stack(xy), success=np.array(ok), confidence=np.array(conf),
                          timestamps=np.array(ts), duration=info["duration"])


def write_openface_csv(path, lm: VideoLandmarks) -> None:
    """Write ``lm`` as an OpenFace 2.2 ``FeatureExtraction`` CSV with the columns of
    :data:`CSV_COLUMNS` (frames numbered from 1, ``face_id`` 0), atomically."""
    n = len(lm.timestamps)
    table = np.column_stack([np.arange(1, n + 1), np.zeros(n), lm.timestamps, lm.confidence,
                             lm.success.astype(int), lm.xy[:, :, 0], lm.xy[:, :, 1]])
    fmt = ["%d", "%d", "%.6f", "%.3f", "%d"] + ["%.1f"] * 136  # dlib gives whole pixels

    def write(fh):
        np.savetxt(fh, table, fmt=fmt, delimiter=",", header=",".join(CSV_COLUMNS), comments="")

    atomic_write(path, write)


def is_complete(csv) -> bool:
    """Whether ``csv`` is a finished landmark CSV (ours or OpenFace's): a header naming every
    column :func:`agcc.landmarks.read_openface` needs, and a last line ending in a newline."""
    csv = Path(csv)
    if not csv.is_file() or csv.stat().st_size == 0:
        return False
    with open(csv, "rb") as fh:
        header = {c.strip() for c in fh.readline().decode("utf-8", "replace").split(",")}
        fh.seek(-1, 2)
        last = fh.read(1)
    return set(CSV_COLUMNS) - {"frame", "face_id", "confidence"} <= header and last == b"\n"


def find_videos(root) -> list[Path]:
    """The videos below ``root``, sorted: CREMA-D's ``VideoFlash/*.flv`` when such a folder
    exists, MSP-IMPROV's ``Video/**/*.avi`` when a ``Video/`` folder exists, else every file with a
    video suffix (:data:`VIDEO_SUFFIXES`) below ``root`` (MSP-IMPROV's ``session*/`` layout, a
    plain folder). ``root`` may also be one video file.

    Raises ``FileNotFoundError`` when there is no video, ``ValueError`` when two videos share a
    stem (they would write the same CSV).
    """
    root = Path(root)
    if root.is_file():
        return [root]
    if not root.is_dir():
        raise FileNotFoundError(f"{root} does not exist")
    flash = sorted(p for p in root.rglob("VideoFlash") if p.is_dir())
    video = sorted(p for p in root.rglob("Video") if p.is_dir())
    if flash:
        videos = [v for d in flash for v in d.glob("*.flv")]
    elif video:
        videos = [v for d in video for v in d.rglob("*.avi")]
    else:
        videos = [p for p in root.rglob("*") if p.suffix.lower() in VIDEO_SUFFIXES and p.is_file()]
    if not videos:
        raise FileNotFoundError(f"No video below {root} (CREMA-D VideoFlash/*.flv, MSP-IMPROV *.avi, "
                                f"or files ending in {', '.join(VIDEO_SUFFIXES)})")
    stems: dict[str, Path] = {}
    clashes = []
    for v in sorted(videos):
        if v.stem in stems:
            clashes.append(f"{stems[v.stem]} and {v}")
        stems[v.stem] = v
    if clashes:
        raise ValueError("Videos sharing a stem would write the same CSV: " + "; ".join(clashes[:5]))
    return sorted(videos)


@dataclass
class ExtractionSummary:
    """What :func:`extract_landmarks` did: videos ``written``, ``skipped`` (CSV already complete),
    ``failed`` (``(video, reason)``; no CSV), and among those written ``no_face`` (no face on any
    frame) and ``truncated`` (``(video, reason)``: the frames end well before the announced
    duration); the number of ``frames`` processed and of ``face_frames`` among them; the wall time."""

    out_dir: Path
    written: list[Path] = field(default_factory=list)
    skipped: list[Path] = field(default_factory=list)
    failed: list[tuple[Path, str]] = field(default_factory=list)
    no_face: list[Path] = field(default_factory=list)
    truncated: list[tuple[Path, str]] = field(default_factory=list)
    frames: int = 0
    face_frames: int = 0
    seconds: float = 0.0

    def __str__(self) -> str:
        lines = [f"{len(self.written)} CSVs written to {self.out_dir}, {len(self.skipped)} videos skipped "
                 f"(CSV already complete), {len(self.failed)} failed."]
        if self.frames:
            lines.append(f"{self.frames} frames, a face on {self.face_frames} ({100 * self.face_frames / self.frames:.1f}%); "
                         f"{self.seconds:.1f} s wall time.")
        if self.no_face:
            lines.append(f"No face on any frame of {len(self.no_face)} videos: "
                         + ", ".join(p.name for p in self.no_face[:10]) + (" ..." if len(self.no_face) > 10 else ""))
        lines += [f"TRUNCATED {video}: {reason} (CSV written for the frames decoded)" for video, reason in self.truncated]
        lines += [f"FAILED {video}: {reason}" for video, reason in self.failed]
        return "\n".join(lines)


def _process(video: Path, out_dir: Path, track: bool, upsample: int) -> dict:
    """Worker: one video to one CSV; never raises, so that one bad video cannot stop the others."""
    try:
        lm = video_landmarks(video, FaceTracker(track=track, upsample=upsample))
        write_openface_csv(out_dir / f"{video.stem}.csv", lm)
    except (av.error.FFmpegError, ValueError, OSError) as err:
        return {"video": video, "error": f"{type(err).__name__}: {err}"}
    short = (f"frames end at {lm.timestamps[-1]:.2f} s of {lm.duration:.2f} s announced"
             if lm.truncated() else None)
    return {"video": video, "error": None, "frames": len(lm.success), "face_frames": int(lm.success.sum()),
            "truncated": short}


def extract_landmarks(root, out_dir=None, *, workers: int = 0, track: bool = True, upsample: int = UPSAMPLE,
                      progress: bool = True) -> ExtractionSummary:
    """Write ``<out_dir>/<stem>.csv`` (OpenFace format) for every video below ``root``.

    Videos whose CSV is already complete (:func:`is_complete`) are skipped, so an interrupted run
    resumes. A video that cannot be decoded is counted in ``failed`` with the reason and gets no
    CSV; one cut short gets a CSV of the frames decoded and is listed in ``truncated``; neither is
    ever silently skipped.

    Parameters
    ----------
    root
        A corpus root (CREMA-D, MSP-IMPROV), a folder of videos, or one video (:func:`find_videos`).
    out_dir
        Where the CSVs go; default ``<root>/openface``, where the corpus readers and the book look
        for OpenFace CSVs (for a single video: ``openface/`` beside it).
    workers
        Worker processes over videos (0: one per core).
    track, upsample
        See :class:`FaceTracker`.
    progress
        Show a progress bar (one step per video).
    """
    root = Path(root)
    videos = find_videos(root)
    out_dir = Path(out_dir) if out_dir is not None else (root.parent if root.is_file() else root) / "openface"
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = ExtractionSummary(out_dir=out_dir)
    todo = []
    for v in videos:
        (summary.skipped if is_complete(out_dir / f"{v.stem}.csv") else todo).append(v)
    start = time.perf_counter()
    results = [] if not todo else parallel_map(partial(_process, out_dir=out_dir, track=track, upsample=upsample), todo,
                           workers=workers, desc="landmarks", unit="video", progress=progress,
                           min_items=2, chunksize=1)
    summary.seconds = time.perf_counter() - start
    for r in results:
        if r["error"] is not None:
            summary.failed.append((r["video"], r["error"]))
            continue
        summary.written.append(r["video"])
        summary.frames += r["frames"]
        summary.face_frames += r["face_frames"]
        if r["face_frames"] == 0:
            summary.no_face.append(r["video"])
        if r["truncated"]:
            summary.truncated.append((r["video"], r["truncated"]))
    return summary
