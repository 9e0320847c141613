"""Landmarks from video (agcc.video_landmarks) on a real face: scikit-image's ``astronaut`` photo
moved by known shifts, rotations and scalings, with face-less frames, encoded as a Flash video
(CREMA-D's container) with irregular frame times."""
import importlib.util
from fractions import Fraction

import numpy as np
import pytest

REASON = "needs the optional 'video' extra: pip install -e '.[video]'"
av = pytest.importorskip("av", reason=REASON)
pytest.importorskip("dlib", reason=REASON)
skimage_data = pytest.importorskip("skimage.data", reason=REASON)
skimage_transform = pytest.importorskip("skimage.transform", reason=REASON)
if importlib.util.find_spec("face_recognition_models") is None:  # importing it needs pkg_resources
    pytest.skip(REASON, allow_module_level=True)

from agcc.cli import main  # noqa: E402
from agcc.landmarks import LEFT_EYE, MOUTH, RIGHT_EYE, normalize_landmarks, read_openface  # noqa: E402
from agcc.video_landmarks import (FaceTracker, extract_landmarks, find_videos, is_complete,  # noqa: E402
                                  video_landmarks)

SIZE = 320  # frame width and height (pixels)
FACE = np.array([222.0, 127.0])  # centre of the astronaut's face in the photo (x, y)
# One entry per frame: (dx, dy, rotation in degrees, scale) of the face about its centre, or None
# for a face-less frame (grey, then black); times in ms, one frame "dropped" (120 ms step).
MOTION = [(0, 0, 0, 1.0), (6, 0, 0, 1.0), (12, 4, 0, 1.0), (-10, -8, 0, 1.0), None, None,
          (0, 0, 5, 1.0), (0, 0, 10, 1.0), (4, 2, -8, 1.0), (0, 0, 0, 1.15), (0, 0, 0, 0.9),
          (-6, 6, 6, 1.1), None, (8, -4, -5, 0.95), (0, 0, 0, 1.0)]
TIMES_MS = [40 * k for k in range(8)] + [40 * k + 80 for k in range(8, len(MOTION))]
# Six landmarks marked by hand on a zoomed view of the photo (x, y pixels, about +-2 px): the eye
# corners 36, 39, 42, 45 and the mouth corners 48, 54.
MARKED = {36: (193, 101), 39: (211, 102), 42: (236, 102), 45: (256, 103), 48: (203, 140), 54: (244, 140)}


def _transform(dx, dy, deg, scale):
    """Photo pixels -> frame pixels: the face turned and scaled about its centre, which lands at
    the frame's centre shifted by (dx, dy)."""
    centre = skimage_transform.EuclideanTransform(translation=-FACE)
    move = skimage_transform.SimilarityTransform(scale=scale, rotation=np.deg2rad(deg),
                                                 translation=(SIZE / 2 + dx, SIZE / 2 + dy))
    return centre + move


def _frames():
    photo = skimage_data.astronaut()
    for k, m in enumerate(MOTION):
        if m is None:
            yield np.full((SIZE, SIZE, 3), 128 if k % 2 == 0 else 0, np.uint8)
            continue
        img = skimage_transform.warp(photo, _transform(*m).inverse, output_shape=(SIZE, SIZE))
        yield (img * 255).round().astype(np.uint8)


@pytest.fixture(scope="module")
def video(tmp_path_factory):
    """The test clip as ``<tmp>/clips/astronaut.flv`` (Sorenson H.263 in FLV, ms time base)."""
    folder = tmp_path_factory.mktemp("clips")
    path = folder / "astronaut.flv"
    with av.open(str(path), "w") as out:
        stream = out.add_stream("flv", rate=25)
        stream.width = stream.height = SIZE
        stream.pix_fmt = "yuv420p"
        stream.time_base = Fraction(1, 1000)
        stream.bit_rate = 8_000_000
        for pts, rgb in zip(TIMES_MS, _frames()):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = pts, Fraction(1, 1000)
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


@pytest.fixture(scope="module")
def tracker():
    return FaceTracker()


@pytest.fixture(scope="module")
def csv(video):
    """The CSV written by the command line, as a user would run it."""
    assert main(["landmarks", str(video.parent), "--workers", "1", "--no-progress"]) == 0
    return video.parent / "openface" / "astronaut.csv"


def _expected(xy0, k):
    """Frame 0's landmarks moved by frame k's known motion: (68, 2)."""
    back = _transform(*MOTION[0]).inverse
    return _transform(*MOTION[k])(back(xy0))


def _iod(xy):
    return float(np.linalg.norm(xy[LEFT_EYE].mean(0) - xy[RIGHT_EYE].mean(0)))


def test_landmarks_lie_on_the_hand_marked_points(csv):
    xy0 = read_openface(csv).xy[0]
    photo = _transform(*MOTION[0]).inverse(xy0)  # frame 0 -> photo pixels
    marked = np.array(list(MARKED.values()), float)
    err = np.linalg.norm(photo[list(MARKED)] - marked, axis=1) / _iod(xy0)
    assert err.max() < 0.12, err  # 0.12 of the inter-eye distance: about 5 pixels here


def test_landmarks_follow_the_known_motion(csv):
    track = read_openface(csv)
    faces = [k for k, m in enumerate(MOTION) if m is not None]
    assert track.success[faces].all()
    xy0 = track.xy[0]
    iod = _iod(xy0)
    assert 35 < iod < 55  # eye centroids about 43 pixels apart in the photo (outer corners 60)
    for k in faces[1:]:
        err = np.linalg.norm(track.xy[k] - _expected(xy0, k), axis=1) / iod  # (68,)
        assert err.mean() < 0.04 and err.max() < 0.12, (k, MOTION[k], err.mean(), err.max())


def test_normalised_mouth_is_invariant(csv):
    track = read_openface(csv)
    faces = [k for k, m in enumerate(MOTION) if m is not None]
    mouth = normalize_landmarks(track.xy[faces])[:, MOUTH]  # (faces, 12, 2), inter-eye units
    dev = np.linalg.norm(mouth - mouth[0], axis=-1)  # (faces, 12)
    assert dev.mean() < 0.03 and dev.max() < 0.1, (dev.mean(), dev.max())
    # the raw pixels do move (by up to ~15% of the face): the invariance is the normalisation's
    assert np.abs(track.xy[faces][:, MOUTH] - track.xy[0, MOUTH]).max() > 10


def test_faceless_frames_fail_and_times_are_the_frame_times(csv):
    track = read_openface(csv)
    faceless = np.array([m is None for m in MOTION])
    np.testing.assert_array_equal(track.success, ~faceless)
    assert (track.xy[faceless] == 0).all()
    np.testing.assert_allclose(track.timestamps, np.array(TIMES_MS) / 1000, atol=1e-6)


def test_tracking_matches_full_detection(video, tracker):
    tracked = video_landmarks(video, tracker)
    full = video_landmarks(video, FaceTracker(track=False))
    np.testing.assert_array_equal(tracked.success, full.success)
    ok = tracked.success
    iod = _iod(full.xy[0])
    assert np.linalg.norm(tracked.xy[ok] - full.xy[ok], axis=-1).mean() / iod < 0.03


def test_resumes_and_reports_unreadable_videos(video, tmp_path, capsys):
    """A corrupt video is counted, named, and fails the command (exit status 1), without a CSV;
    a video cut short is written and reported; a second run skips the finished videos."""
    folder = tmp_path / "videos"
    folder.mkdir()
    (folder / "astronaut.flv").write_bytes(video.read_bytes())
    (folder / "broken.avi").write_bytes(b"RIFF\x00\x00\x00\x00AVI not really a video" * 10)
    (folder / "cut.flv").write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    out = tmp_path / "csv"
    assert main(["landmarks", str(folder), "--out", str(out), "--workers", "1", "--no-progress"]) == 1
    report = capsys.readouterr().out
    assert "2 CSVs written" in report and "1 failed" in report and "FAILED" in report and "broken.avi" in report
    assert "TRUNCATED" in report and "cut.flv" in report
    assert sorted(p.name for p in out.iterdir()) == ["astronaut.csv", "cut.csv"]
    assert is_complete(out / "astronaut.csv")
    stamp = (out / "astronaut.csv").stat().st_mtime_ns
    summary = extract_landmarks(folder, out, workers=1, progress=False)
    assert [p.name for p in summary.skipped] == ["astronaut.flv", "cut.flv"]
    assert [p.name for p, _ in summary.failed] == ["broken.avi"] and summary.written == []
    assert (out / "astronaut.csv").stat().st_mtime_ns == stamp
    # a truncated CSV (no final newline) is not complete: it is redone
    text = (out / "astronaut.csv").read_text()
    (out / "astronaut.csv").write_text(text[: len(text) // 2])
    assert not is_complete(out / "astronaut.csv")


def test_finds_the_corpora_layouts(tmp_path):
    crema = tmp_path / "CREMA-D"
    for name in ["VideoFlash/1001_DFA_ANG_XX.flv", "VideoFlash/1001_DFA_HAP_XX.flv", "AudioWAV/1001_DFA_ANG_XX.wav"]:
        (crema / name).parent.mkdir(parents=True, exist_ok=True)
        (crema / name).touch()
    assert [p.name for p in find_videos(crema)] == ["1001_DFA_ANG_XX.flv", "1001_DFA_HAP_XX.flv"]
    stem = "MSP-IMPROV-S01A-F01-R-FM01"
    for layout in ("Video/session1/S01A/R", "session1/S01A/R"):
        root = tmp_path / layout.split("/")[0]
        (tmp_path / layout).mkdir(parents=True)
        (tmp_path / layout / f"{stem}.avi").touch()
        (tmp_path / layout / f"{stem}.wav").touch()
        assert [p.relative_to(tmp_path).as_posix() for p in find_videos(root)] == [f"{layout}/{stem}.avi"]
    plain = tmp_path / "plain"
    (plain / "a").mkdir(parents=True)
    (plain / "a" / "x.mp4").touch()
    (plain / "x.MKV").touch()
    with pytest.raises(ValueError, match="sharing a stem"):
        find_videos(plain)
    with pytest.raises(FileNotFoundError, match="No video"):
        find_videos(crema / "AudioWAV")
