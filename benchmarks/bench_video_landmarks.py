"""Benchmark: face landmarks from video (agcc.video_landmarks) — detectors, tracking, decoders.

    .venv/bin/python benchmarks/bench_video_landmarks.py [--frames 60] [--cnn-frames 4]

Clips: scikit-image's ``astronaut`` photo (a real face) placed in a frame of the corpora's sizes
and moved smoothly by known shifts (up to 6 px), rotations (up to 3 degrees) and scalings (up to
5%), encoded as the corpora store it: 480x360 Flash video (Sorenson H.263, CREMA-D's container)
with a face about 120 px wide, and 1440x1080 MPEG-4 Part 2 in AVI (MSP-IMPROV's container) with
a face about 250 px wide. Both sizes are assumptions (neither corpus is on this machine).

Per method, on the decoded grey frames of the 480x360 clip: CPU seconds per frame (face search +
landmarks) and the landmark error against the known motion (frame 0's landmarks of the same method
moved by each frame's transform; mean over the 68 points and the frames, in units of the distance
between the eye centroids), and how far frame 0's landmarks lie from those of dlib's HOG detector
(the predictor was trained on HOG boxes). Methods: dlib HOG on every full frame; dlib HOG with
agcc's tracking (search near the previous face); dlib's CNN (MMOD) detector, on ``--cnn-frames``
frames only (it is slow on a CPU); OpenCV's Haar cascade (``haarcascade_frontalface_default``) if
``cv2`` is importable (it is not a dependency: ``pip install --target DIR opencv-python-headless<5``
and put DIR on PYTHONPATH). All use dlib's 68-point shape predictor.

Decoders: PyAV and, if installed, imageio-ffmpeg (an ffmpeg binary in a pipe; CPU time of both
processes), seconds per grey frame. End to end:
:func:`agcc.video_landmarks.video_landmarks` per clip (decode + tracking + landmarks), seconds per
frame and per 3.5 s clip at 30 frames/s, and the CPU time for each corpus (divide by the worker processes).
"""
from __future__ import annotations

import argparse
import os
import resource
import time
from fractions import Fraction
from pathlib import Path
from tempfile import TemporaryDirectory

import av
import dlib
import numpy as np
from skimage import data, transform

from agcc.landmarks import LEFT_EYE, RIGHT_EYE
from agcc.video_landmarks import FaceTracker, _models, model_path, read_gray_frames, video_landmarks

FACE = np.array([222.0, 127.0])  # centre of the astronaut's face in the photo (x, y)
FACE_PX = 87.0  # width of dlib's HOG box on the photo
FPS = 30
CLIP_S = 3.5  # a typical clip of both corpora (CREMA-D WAVs last 1.3-5 s)
CLIPS = {  # name: (width, height, face width px, container suffix, codec, clips in the corpus)
    "CREMA-D-like 480x360 FLV": (480, 360, 120, ".flv", "flv", 7442),
    "MSP-IMPROV-like 1440x1080 AVI": (1440, 1080, 250, ".avi", "mpeg4", 8438),
}


def motion(k: int, face_px: float) -> transform.SimilarityTransform:
    """Photo -> frame pixels at frame k: the face scaled to ``face_px``, moved about its centre."""
    s = face_px / FACE_PX * (1 + 0.05 * np.sin(2 * np.pi * k / 90))
    rot = np.deg2rad(3 * np.sin(2 * np.pi * k / 70))
    shift = np.array([6 * np.sin(2 * np.pi * k / 40), 4 * np.sin(2 * np.pi * k / 55)])
    return transform.EuclideanTransform(translation=-FACE) + transform.SimilarityTransform(
        scale=s, rotation=rot, translation=shift)


def make_clip(path: Path, width: int, height: int, face_px: float, codec: str, frames: int) -> list:
    photo = data.astronaut()
    centre = np.array([width / 2, height / 2])
    moves = []
    with av.open(str(path), "w") as out:
        stream = out.add_stream(codec, rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.bit_rate = 4_000_000
        for k in range(frames):
            m = motion(k, face_px) + transform.EuclideanTransform(translation=centre)
            moves.append(m)
            rgb = (transform.warp(photo, m.inverse, output_shape=(height, width)) * 255).round().astype(np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return moves


def iod(xy):
    return float(np.linalg.norm(xy[LEFT_EYE].mean(0) - xy[RIGHT_EYE].mean(0)))


def error(xys: list, moves: list) -> float:
    """Mean landmark distance to frame 0's landmarks moved by the known motion, in inter-eye units."""
    ok = [k for k, xy in enumerate(xys) if xy is not None]
    if not ok or ok[0] != 0:
        return float("nan")
    back = moves[0].inverse
    errs = [np.linalg.norm(xys[k] - moves[k](back(xys[0])), axis=1).mean() / iod(xys[0]) for k in ok[1:]]
    return float(np.mean(errs))


def landmarks_in(gray, rect):
    shape = _models()[1](gray, rect)
    return np.array([(p.x, p.y) for p in shape.parts()], dtype=float)


def run_method(name, grays):
    """(CPU seconds per frame, landmarks per frame or None)."""
    if name.startswith("dlib HOG"):
        tracker = FaceTracker(track="tracking" in name)
        start = time.process_time()
        out = [tracker(g)[0] for g in grays]
        return (time.process_time() - start) / len(grays), out
    if name.startswith("dlib CNN"):
        cnn = dlib.cnn_face_detection_model_v1(str(model_path("mmod_human_face_detector.dat")))
        start, out = time.process_time(), []
        for g in grays:
            found = cnn(g, 0)
            best = max(found, key=lambda d: d.confidence).rect if len(found) else None
            out.append(landmarks_in(g, best) if best is not None else None)
        return (time.process_time() - start) / len(grays), out
    import cv2  # only for this comparison; not a dependency

    cascade = cv2.CascadeClassifier(os.path.join(cv2.data.haarcascades, "haarcascade_frontalface_default.xml"))
    start, out = time.process_time(), []
    for g in grays:
        found = cascade.detectMultiScale(g, scaleFactor=1.1, minNeighbors=5, minSize=(60, 60))
        if len(found):
            x, y, w, h = max(found, key=lambda r: r[2] * r[3])
            out.append(landmarks_in(g, dlib.rectangle(int(x), int(y), int(x + w), int(y + h))))
        else:
            out.append(None)
    return (time.process_time() - start) / len(grays), out


def decode_times(path: Path) -> dict:
    start = time.process_time()
    n = sum(1 for _ in read_gray_frames(path))
    pyav = (time.process_time() - start) / n
    try:
        import imageio_ffmpeg  # not a dependency: only compared here
    except ImportError:
        return {"PyAV": pyav}
    # imageio-ffmpeg decodes in a child ffmpeg process: count the child's CPU time too
    child0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.process_time()
    reader = imageio_ffmpeg.read_frames(str(path), pix_fmt="gray", bpp=1)
    meta = next(reader)
    w, h = meta["size"]
    m = sum(1 for buf in reader if np.frombuffer(buf, np.uint8).reshape(h, w) is not None)
    child1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    child = (child1.ru_utime + child1.ru_stime) - (child0.ru_utime + child0.ru_stime)
    return {"PyAV": pyav, "imageio-ffmpeg": (time.process_time() - start + child) / m}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--frames", type=int, default=60)
    parser.add_argument("--cnn-frames", type=int, default=4)
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores; "
          f"dlib {dlib.__version__}, PyAV {av.__version__}")
    _models()  # load once, outside the timings
    with TemporaryDirectory() as tmp:
        clips = {}
        for label, (w, h, face, suffix, codec, _) in CLIPS.items():
            path = Path(tmp) / f"clip{suffix}"
            clips[label] = (path, make_clip(path, w, h, face, codec, args.frames))
        path, moves = clips["CREMA-D-like 480x360 FLV"]
        grays = [g for _, g in read_gray_frames(path)]
        methods = ["dlib HOG, full frame", "dlib HOG, tracking", "dlib CNN (MMOD)", "OpenCV Haar"]
        if args.cnn_frames < 1:
            methods.remove("dlib CNN (MMOD)")
        try:
            import cv2  # noqa: F401
        except ImportError:
            methods.remove("OpenCV Haar")
        reference = None
        print("\n| method | CPU s / frame | faces found | error vs known motion (IOD) | frame 0 vs HOG (IOD) |")
        print("|---|---|---|---|---|")
        for name in methods:
            frames = grays[: args.cnn_frames] if "CNN" in name else grays
            per_frame, xys = run_method(name, frames)
            if reference is None:
                reference = xys[0]
            shift = (np.linalg.norm(xys[0] - reference, axis=1).mean() / iod(reference)
                     if xys[0] is not None else float("nan"))
            found = sum(x is not None for x in xys)
            print(f"| {name} | {per_frame:.4f} | {found}/{len(xys)} | {error(xys, moves[:len(xys)]):.3f} | {shift:.3f} |")
        print("\n| clip | decoder | CPU s / frame |\n|---|---|---|")
        for label, (path, _) in clips.items():
            for dec, t in decode_times(path).items():
                print(f"| {label} | {dec} | {t:.4f} |")
        print("\n| clip | tracking | faces | error (IOD) | wall s / frame | CPU s / frame | "
              "CPU s per 3.5 s clip at 30 fps | corpus, CPU hours |")
        print("|---|---|---|---|---|---|---|---|")
        for label, (path, moves) in clips.items():
            for track in (True, False):
                wall, cpu = time.perf_counter(), time.process_time()
                lm = video_landmarks(path, FaceTracker(track=track))
                n = len(lm.success)
                wall, cpu = (time.perf_counter() - wall) / n, (time.process_time() - cpu) / n
                clip = cpu * FPS * CLIP_S
                print(f"| {label} | {'yes' if track else 'no'} | {lm.success.sum()}/{n} | "
                      f"{error(list(lm.xy), moves):.3f} | {wall:.4f} | {cpu:.4f} | {clip:.2f} | "
                      f"{CLIPS[label][-1]} clips: {CLIPS[label][-1] * clip / 3600:.1f} h |")
    print(f"\nload average at end: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
