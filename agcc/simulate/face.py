"""68-point face landmarks driven by the lips, with head pose and an OpenFace-like tracker's errors.

What it models
--------------
The paper reads articulatory gestures from the 68 iBUG landmarks that OpenFace tracks on the video,
normalised by roll and inter-pupil distance, and looks at the outer lip points 48-59: the lower-mid
point 57 drops for /a/ (jaw opening) and the corners 48/54 move outwards for /i/ (lip spreading; its
Fig. 1). This module makes those landmarks from the *same* articulatory trajectory that drives the
synthesiser, so mouth shape and sound are causally linked:

* a parametric neutral face (:func:`face_template`) in *face units*: origin at the midpoint of the eye
  centroids, which lie exactly at (±0.5, 0), so the inter-eye distance is 1; y points down;
* a lip model (:func:`mouth_shape`) mapping lip opening, spreading and rounding to the 20 lip points:
  opening drops the jaw and lower lip (most of the aperture, as the jaw carries the lower lip) and lifts
  the upper lip a little; spreading widens the mouth and lifts the corners (smile, zygomaticus major);
  rounding narrows the mouth, makes the outline rounder and the visible lips thicker (protrusion and
  eversion seen from the front);
* head pose (roll, scale = pixels per face unit, translation) with slow random drift, Gaussian
  landmark noise, and tracking failures laid out as OpenFace writes them (``success = 0``, low
  confidence, zero coordinates) in short gaps, long gaps or whole failed clips.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter1d

# Rest posture of the lips used in the template (lips lightly closed, relaxed).
REST_LIPS = (0.08, 0.30, 0.15)  # open, spread, round
JAW_POINTS = np.arange(5, 12)
JAW_WEIGHTS = np.array([0.30, 0.60, 0.85, 1.00, 0.85, 0.60, 0.30])  # share of the chin's drop
# Positions of the lip points along the mouth width (-1 = image-left corner 48, +1 = corner 54).
_U_OUTER = np.array([-1.0, -0.62, -0.25, 0.0, 0.25, 0.62, 1.0, 0.62, 0.25, 0.0, -0.25, -0.62])
_U_INNER = np.array([-0.85, -0.40, 0.0, 0.40, 0.85, 0.40, 0.0, -0.40])  # 60-67
_BOW = np.array([0.0, 0.0, -0.012, 0.012, -0.012, 0.0, 0.0])  # cupid's bow on 48-54 (50/52 higher)


@dataclass(frozen=True)
class FaceGeometry:
    """Speaker-specific face proportions (multiplicative factors, 1 = average face).

    ``eye_distance`` is the speaker's true inter-eye distance relative to the average; since face units
    are defined by the eye distance, a larger value makes every non-eye feature *smaller* in face units.
    """

    mouth_width: float = 1.0
    lip_thickness: float = 1.0
    eye_distance: float = 1.0
    jaw_width: float = 1.0
    face_length: float = 1.0
    eye_size: float = 1.0


def sample_face_geometry(gender: str, rng: np.random.Generator, *, variability: float = 1.0) -> FaceGeometry:
    """Draw face proportions; male faces slightly longer and wider-jawed (anthropometric norms).
    ``variability`` multiplies the between-speaker spreads (0 = the average face of the gender)."""
    m = 1.0 if gender == "M" else 0.0
    z = rng.normal(size=6) * variability
    f = (1.0 + 0.03 * m + 0.07 * z[0], 1.0 - 0.05 * m + 0.15 * z[1], 1.0 + 0.05 * z[2],
         1.0 + 0.05 * m + 0.06 * z[3], 1.0 + 0.04 * m + 0.05 * z[4], 1.0 + 0.08 * z[5])
    return FaceGeometry(*(float(v) for v in f))


def _superellipse(u: np.ndarray, k: np.ndarray) -> np.ndarray:
    # Profile (1 - |u|^k)^(1/k): k = 2 is an ellipse (round mouth), larger k a flatter, boxier outline.
    return (1.0 - np.minimum(np.abs(u), 1.0) ** k) ** (1.0 / k)


def jaw_drop(open_: np.ndarray) -> np.ndarray:
    """Downward chin displacement (face units, before ``eye_distance`` scaling) for a lip opening."""
    return 0.75 * 0.34 * np.asarray(open_, float)


def mouth_shape(open, spread, round, face: FaceGeometry) -> np.ndarray:  # noqa: A002 (names of the API)
    """Lip landmarks 48-67 for lip parameters, in face units.

    Parameters
    ----------
    open, spread, round
        Arrays (n,) in [0, 1]: lip opening, spreading, rounding.
    face
        The speaker's :class:`FaceGeometry`.

    Returns
    -------
    numpy.ndarray
        (n, 20, 2): rows 0-11 are the outer lip points 48-59, rows 12-19 the inner points 60-67.
    """
    o = np.atleast_1d(np.asarray(open, float))[:, None]  # (n, 1) broadcasts over the points
    s = np.atleast_1d(np.asarray(spread, float))[:, None]
    r = np.atleast_1d(np.asarray(round, float))[:, None]
    # Half-width: spreading pulls the corners out, rounding (orbicularis oris) pulls them in, a wide jaw
    # opening narrows the mouth slightly.
    w = 0.40 * face.mouth_width * (1.0 + 0.30 * (s - 0.3) - 0.25 * r - 0.08 * o)
    a = 0.34 * o  # inner aperture height; closed lips (open = 0) touch
    k = 2.0 + 2.5 * (1.0 - r)  # rounding -> elliptical outline, otherwise flatter
    smile = 0.08 * (s - 0.3)  # corners rise (-y) with spreading
    tu = 0.085 * face.lip_thickness * (1.0 + 0.4 * r)  # visible upper / lower lip heights
    tl = 0.110 * face.lip_thickness * (1.0 + 0.4 * r)
    yc = 1.0 * face.face_length  # stomion at rest

    def stomion(u):  # lip meeting line, bent upwards at the corners by a smile
        return yc - smile * u ** 2

    out = np.empty((o.shape[0], 20, 2))
    u = _U_OUTER[None, :]
    thick = np.sqrt(np.maximum(1.0 - np.abs(u) ** 3, 0.0))  # lip thickness vanishes at the corners
    ap = _superellipse(u, k)
    upper = stomion(u) - 0.25 * a * ap - tu * thick
    lower = stomion(u) + 0.75 * a * ap + tl * thick  # the jaw carries the lower lip: 3/4 of the aperture
    out[:, :12, 0] = w * u
    out[:, :12, 1] = np.where(np.arange(12) <= 6, upper, lower)
    out[:, :7, 1] += _BOW * face.lip_thickness
    ui = _U_INNER[None, :]
    api = _superellipse(ui, k)
    inner_upper = stomion(ui) - 0.25 * a * api
    inner_lower = stomion(ui) + 0.75 * a * api
    inner_mid = stomion(ui) + 0.25 * a * api  # inner corners 60 and 64 sit inside the gap
    idx = np.arange(8)
    out[:, 12:, 0] = w * ui
    out[:, 12:, 1] = np.where(np.isin(idx, (0, 4)), inner_mid, np.where(idx < 4, inner_upper, inner_lower))
    return out / face.eye_distance


def face_template(face: FaceGeometry) -> np.ndarray:
    """Neutral 68-point face (lips at rest) in face units, shape (68, 2); eye centroids at (±0.5, 0)."""
    p = np.empty((68, 2))
    L = face.face_length
    # Jaw 0-16: a superellipse arc from ear level through the chin (0, 1.55).
    a = np.linspace(0.0, np.pi, 17)
    c = np.cos(a)
    p[:17, 0] = -0.98 * face.jaw_width * np.sign(c) * np.abs(c) ** 0.75
    p[:17, 1] = 0.05 + (1.55 * L - 0.05) * np.sin(a) ** 1.2
    # Brows 17-21 (image left) and 22-26 (mirror), arched.
    bx = np.linspace(-0.92, -0.17, 5)
    by = -0.30 - 0.10 * np.sin(np.pi * (bx + 0.92) / 0.75)
    p[17:22] = np.column_stack([bx, by])
    p[22:27] = np.column_stack([-bx[::-1], by[::-1]])
    # Nose: bridge 27-30 down to the tip, nostrils 31-35.
    p[27:31] = np.column_stack([np.zeros(4), np.linspace(-0.02, 0.52, 4) * L])
    p[31:36] = np.column_stack([[-0.20, -0.10, 0.0, 0.10, 0.20], 0.64 * L + np.array([-0.02, 0.01, 0.03, 0.01, -0.02])])
    p[:36] /= face.eye_distance
    # Mouth at rest, jaw as in the template.
    p[48:68] = mouth_shape(*[np.array([v]) for v in REST_LIPS], face)[0]
    # Eyes: symmetric hexagons, so each centroid is exactly the eye centre (±0.5, 0).
    ew, eh = 0.30 * face.eye_size, 0.055 * face.eye_size
    hexagon = np.array([[-ew / 2, 0], [-ew / 6, -eh], [ew / 6, -eh], [ew / 2, 0], [ew / 6, eh], [-ew / 6, eh]])
    p[36:42] = hexagon + [-0.5, 0.0]  # 36 outer corner, 39 inner corner (subject's right eye)
    p[42:48] = hexagon + [0.5, 0.0]  # 42 inner corner, 45 outer corner
    return p


@dataclass
class HeadPose:
    """Head pose of one clip: roll (deg), pixels per face unit, eye-midpoint position and drifts."""

    roll_deg: float = 0.0
    scale_px: float = 60.0
    center_px: tuple[float, float] = (320.0, 200.0)
    drift_px: float = 0.0
    roll_drift_deg: float = 0.0


def sample_pose(rng: np.random.Generator, *, scale_px_mean: float, scale_px_sd: float,
                image_size: tuple[int, int]) -> HeadPose:
    """Draw a head pose for a clip in an image of ``image_size = (width, height)`` pixels."""
    w, h = image_size
    z = rng.normal(size=5)
    scale = max(scale_px_mean + scale_px_sd * z[0], 0.3 * scale_px_mean)
    center = (w / 2 + 0.04 * w * z[1], 0.42 * h + 0.04 * h * z[2])
    return HeadPose(roll_deg=3.0 * z[3], scale_px=float(scale), center_px=(float(center[0]), float(center[1])),
                    drift_px=float(0.02 * scale * abs(z[4]) + 0.5), roll_drift_deg=float(rng.uniform(0.3, 1.5)))


def _slow_walk(n: int, rng: np.random.Generator, sigma_frames: float = 4.0) -> np.ndarray:
    """Smoothed random walk with zero mean and unit standard deviation, shape (n,)."""
    w = gaussian_filter1d(np.cumsum(rng.normal(size=n)), sigma_frames, mode="nearest")
    w -= w.mean()
    sd = w.std()
    return w / sd if sd > 1e-9 else np.zeros(n)


def render_landmarks(traj: dict, speaker, pose: HeadPose, rng: np.random.Generator, *, fps: float = 30.0,
                     noise_px: float = 1.0, p_fail_gap: float = 0.05, p_long_gap: float = 0.01,
                     p_all_fail: float = 0.0) -> dict:
    """Landmark track of a clip, as an OpenFace-like tracker would output it.

    Parameters
    ----------
    traj
        Articulatory trajectory (:func:`agcc.simulate.articulation.articulatory_trajectory`): uses
        ``t``, ``open``, ``spread``, ``round`` and ``duration`` (if present).
    speaker
        Anything with a ``face`` attribute (:class:`FaceGeometry`).
    pose
        Head pose of the clip.
    fps, noise_px
        Video frame rate; standard deviation of the landmark noise in pixels.
    p_fail_gap, p_long_gap, p_all_fail
        Probabilities of a short gap (1-4 frames), a long gap (10-30 frames), a wholly failed clip.

    Returns
    -------
    dict
        ``xy`` (n, 68, 2) pixels, ``timestamps`` (n,) = k / fps, ``success`` (n,) int, ``confidence`` (n,)
        in [0, 0.98], ``pose``: dict of (n,) arrays ``roll_rad`` (angle of the eye line, atan2 of dy, dx
        in image coordinates), ``scale`` (pixels per face unit), ``tx``, ``ty`` (eye midpoint, px).
    """
    t = np.asarray(traj["t"], float)
    duration = float(traj["duration"]) if "duration" in traj else t[-1] + (t[1] - t[0] if len(t) > 1 else 0.0)
    n = int(np.floor(duration * fps + 1e-9)) + 1
    ts = np.arange(n) / fps
    o, s, r = (np.interp(ts, t, np.asarray(traj[k], float)) for k in ("open", "spread", "round"))
    face = speaker.face
    pts = np.repeat(face_template(face)[None], n, axis=0)  # (n, 68, 2)
    pts[:, 48:68] = mouth_shape(o, s, r, face)
    pts[:, JAW_POINTS, 1] += (jaw_drop(o) / face.eye_distance)[:, None] * JAW_WEIGHTS

    roll = np.deg2rad(pose.roll_deg + pose.roll_drift_deg * _slow_walk(n, rng))
    scale = pose.scale_px * (1.0 + 0.01 * _slow_walk(n, rng))  # small back-and-forth head motion
    tx = pose.center_px[0] + pose.drift_px * _slow_walk(n, rng)
    ty = pose.center_px[1] + pose.drift_px * _slow_walk(n, rng)
    c, sn = np.cos(roll)[:, None], np.sin(roll)[:, None]
    x, y = pts[..., 0], pts[..., 1]
    xy = np.stack([scale[:, None] * (c * x - sn * y) + tx[:, None],
                   scale[:, None] * (sn * x + c * y) + ty[:, None]], axis=-1)
    xy += noise_px * rng.normal(size=xy.shape)

    # Tracking failures. Draw every random number unconditionally so that the stream stays aligned.
    u = rng.random(3)
    lengths = (int(rng.integers(1, 5)), int(rng.integers(10, 31)))  # short, long gap (frames)
    starts = rng.random(2)
    ok = np.ones(n, dtype=bool)
    for i, p in enumerate((p_fail_gap, p_long_gap)):
        if u[i] < p:
            length = min(lengths[i], n)
            i0 = int(starts[i] * (n - length + 1))
            ok[i0:i0 + length] = False
    if u[2] < p_all_fail:
        ok[:] = False
    conf_ok = np.clip(0.95 - 0.3 * np.abs(roll) + 0.015 * rng.normal(size=n), 0.0, 0.98)
    conf_fail = rng.uniform(0.0, 0.25, size=n)
    confidence = np.where(ok, conf_ok, conf_fail)
    xy[~ok] = 0.0
    return {"xy": xy, "timestamps": ts, "success": ok.astype(int), "confidence": confidence,
            "pose": {"roll_rad": roll, "scale": scale, "tx": tx, "ty": ty}}
