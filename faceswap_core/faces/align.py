"""Alignment: a mean-face landmark template, the Umeyama similarity transform, crop and uncrop, the
face-core geometry, face masks and head pose from landmarks. Taught in chapter 02.

The face core (`CORE`, the classic central 160 px of a 256 px padded crop) is defined here once: the
network sees the central `coverage` of the padded crop (`view_matrix` aligns a frame straight to that
view; `central` cuts it from a stored crop).

Landmarks are (68, 2) or (68, 3) arrays in iBUG order (x, y in pixels; a third column, if any, is
visibility and is ignored here). A transform is a 2x3 float matrix mapping frame pixels to crop pixels.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from .. import media, synth
from ..errors import FaceswapError

INNER = slice(17, 68)  # brows, eyes, nose, mouth: the jaw line is left out of the fit
PADDING = 48 / 256  # the classic crop: the template box fills the centre 160 px of 256
CORE = 1 - 2 * PADDING  # the face core's share of the padded crop's side (160 / 256): what the network sees
MAX_CROP = 4096  # px: the largest aligned crop (a face crop; 4x a 1024 px model's, for shrinking by area)
MIN_SPREAD = 1.0  # px: inner landmarks spanning less than this in x or y are degenerate (no face)
MAX_COORD = 1e6  # px: landmarks farther off than this are no face in any frame
MARKS_HINT = "give the (68, 2) points of one face (x, y in pixels)"


@lru_cache(maxsize=1)
def mean_face_3d() -> np.ndarray:
    """A generic 3D face: the 68 landmarks averaged over many made-up people (head units, y up, z out);
    read-only, since one array serves the whole process."""
    people = list(synth.CAST.values()) + [synth.Identity.random(s) for s in range(40)]
    return _frozen(np.mean([synth.landmarks_3d(p) for p in people], axis=0))


@lru_cache(maxsize=8)
def template(yaw: float = 0.0) -> np.ndarray:
    """The mean face, (68, 2) with y down, in units where the frontal view's 51 inner points span [0, 1];
    `yaw` turns the head first (degrees), for placing landmarks on profile detections. Read-only."""
    front = mean_face_3d()[:, :2] * [1, -1]
    lo, hi = front[INNER].min(0), front[INNER].max(0)
    p = (mean_face_3d() @ synth.rotation(yaw, 0, 0).T)[:, :2] * [1, -1] if yaw else front
    return _frozen(((p - lo) / (hi - lo)).astype(np.float64))


def _frozen(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


def landmarks68(points, what: str = "landmarks") -> np.ndarray:
    """The one check of a face's landmarks: (68, 2) or (68, 3) (a visibility column, dropped) finite numbers
    whose inner points span at least `MIN_SPREAD` px each way; returns the (68, 2) float64 x, y."""
    if points is None:
        raise FaceswapError(f"{what}: None; {MARKS_HINT}")
    try:
        pts = np.asarray(points)
    except (ValueError, TypeError):
        pts = np.asarray(None)
    if pts.dtype.kind not in "iuf":
        raise FaceswapError(f"{what}: not numbers ({pts.dtype}); {MARKS_HINT}")
    if pts.shape not in ((68, 2), (68, 3)):
        raise FaceswapError(f"{what}: shape {pts.shape}; {MARKS_HINT}")
    pts = pts[:, :2].astype(np.float64)
    if not (np.isfinite(pts).all() and np.abs(pts).max() <= MAX_COORD):
        raise FaceswapError(f"{what}: NaN, infinite or far-off (beyond {MAX_COORD:g} px) coordinates; give "
                            "the 68 points of a detected face")
    w, h = np.ptp(pts[INNER], axis=0)
    if min(w, h) < MIN_SPREAD:
        raise FaceswapError(f"{what}: the inner points span only {w:.3g} x {h:.3g} px (degenerate); give "
                            "the 68 points of a detected face")
    return pts


def _matrix(matrix, what: str = "matrix") -> np.ndarray:
    """A 2x3 transform of finite numbers whose 2x2 part can be inverted, else one line naming it."""
    try:
        m = np.asarray(matrix, np.float64)
    except (ValueError, TypeError):
        m = np.full(1, np.nan)
    if m.shape != (2, 3) or not np.isfinite(m).all() or abs(np.linalg.det(m[:, :2])) < 1e-12:
        raise FaceswapError(f"{what} {np.shape(matrix) if matrix is not None else None}: give a finite, "
                            "invertible 2x3 transform (e.g. from alignment_matrix)")
    return m


def umeyama(src: np.ndarray, dst: np.ndarray, scale: bool = True) -> np.ndarray:
    """The least-squares similarity (rotation, uniform scale, shift) taking src points to dst, as 2x3."""
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    fix = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:  # a reflection would fit better: forbid it
        fix[1, 1] = -1
    rot = u @ fix @ vt
    c = (sig * np.diag(fix)).sum() / s.var(0).sum() if scale else 1.0
    return np.c_[c * rot, mu_d - c * rot @ mu_s]


def alignment_matrix(landmarks: np.ndarray, size: int = 256, padding: float = PADDING) -> np.ndarray:
    """The 2x3 transform taking a frame to an aligned crop of `size` px
    (the inner template box inset by `padding`)."""
    pts = landmarks68(landmarks)
    size = media.positive_int(size, "size", MAX_CROP)
    padding = media.real(padding, "padding", -6.0, 0.45)
    dst = (padding + template()[INNER] * (1 - 2 * padding)) * size
    return umeyama(pts[INNER], dst)


def padding_for(coverage: float = CORE) -> float:
    """The padding whose aligned crop shows exactly the central `coverage` of the classic padded crop."""
    coverage = media.real(coverage, "coverage", 0.05, 4.0)
    return (1 - CORE / coverage) / 2


def view_matrix(landmarks: np.ndarray, size: int, coverage: float = CORE) -> np.ndarray:
    """The 2x3 transform from a frame to the network's view of a face: the central `coverage` of the
    classic padded crop, at `size` px (the face core itself when `coverage` is `CORE`)."""
    return alignment_matrix(landmarks, size, padding_for(coverage))


def central(size: int, coverage: float = CORE) -> slice:
    """The slice of a padded crop of `size` px that keeps its central `coverage` (rows or columns)."""
    lo = int(round(size * (1 - coverage) / 2))
    return slice(lo, size - lo)


def invert(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 similarity (crop pixels back to frame pixels)."""
    return cv2.invertAffineTransform(_matrix(matrix))


def transform_points(points: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """Apply a 2x3 transform to (N, 2+) points; extra columns are kept."""
    pts = np.asarray(points, np.float64)
    out = pts.copy()
    out[:, :2] = pts[:, :2] @ matrix[:, :2].T + matrix[:, 2]
    return out


def crop(frame: np.ndarray, matrix: np.ndarray, size: int) -> np.ndarray:
    """The aligned crop of a frame (uint8 or float; a mask too), border pixels replicated."""
    frame, matrix = media.image_array(frame, "frame"), _matrix(matrix)
    size = media.positive_int(size, "size", MAX_CROP)
    return cv2.warpAffine(frame, matrix, (size, size),
                          flags=cv2.INTER_AREA if matrix[0, 0] ** 2 + matrix[0, 1] ** 2 < 1
                          else cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def uncrop(face: np.ndarray, matrix: np.ndarray, frame_shape: tuple[int, ...]) -> np.ndarray:
    """Warp an aligned crop back into frame coordinates (zeros outside the crop)."""
    face, matrix = media.image_array(face, "face"), _matrix(matrix)
    h, w = media.frame_size(frame_shape)
    return cv2.warpAffine(face, matrix, (w, h), flags=cv2.WARP_INVERSE_MAP | cv2.INTER_LINEAR,
                          borderMode=cv2.BORDER_CONSTANT)


def align_face(frame: np.ndarray, landmarks: np.ndarray, size: int = 256,
               padding: float = PADDING) -> tuple[np.ndarray, np.ndarray]:
    """Crop a face so its landmarks sit on the template: returns (uint8 RGB crop, 2x3 matrix)."""
    frame = media.rgb_image(frame)
    m = alignment_matrix(landmarks, size, padding)
    return crop(frame, m, size), m


def face_mask(landmarks: np.ndarray, shape: tuple[int, ...], forehead: float = 0.25) -> np.ndarray:
    """A uint8 mask (0/255) of the landmark hull, raised over the forehead by `forehead` of the face
    height."""
    pts, size = landmarks68(landmarks), media.frame_size(shape)
    brows = pts[17:27].copy()
    up = pts[17:27].mean(0) - pts[8]  # chin to brows
    brows += forehead * up
    hull = cv2.convexHull(np.round(np.r_[pts, brows]).astype(np.int32))
    mask = np.zeros(size, np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_AA)
    return mask


def core_mask(landmarks: np.ndarray, shape: tuple[int, ...], grow: float = 0.0) -> np.ndarray:
    """A uint8 mask (0/255) of the face core the classic method swaps: the hull of the inner landmarks
    (brows, eyes, nose, mouth), scaled about its centre by 1 + `grow`."""
    inner, size = landmarks68(landmarks)[INNER], media.frame_size(shape)
    centre = inner.mean(0)
    inner = centre + (inner - centre) * (1 + grow)
    hull = cv2.convexHull(np.round(inner).astype(np.int32))
    mask = np.zeros(size, np.uint8)
    cv2.fillConvexPoly(mask, hull, 255, cv2.LINE_AA)
    return mask


def euler_from_rotation(rot: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a head-to-camera rotation built as in `synth.rotation`."""
    pitch = np.degrees(np.arcsin(np.clip(-rot[2, 1], -1, 1)))
    yaw = np.degrees(np.arctan2(-rot[2, 0], rot[2, 2]))
    roll = np.degrees(np.arctan2(-rot[0, 1], rot[1, 1]))
    return float(yaw), float(pitch), float(roll)


def head_pose(landmarks: np.ndarray, frame_shape: tuple[int, ...],
              focal: float | None = None) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from 2D landmarks, by solvePnP against the generic 3D face."""
    pts, (h, w) = landmarks68(landmarks), media.frame_size(frame_shape)
    # a long lens by default: close to the near-orthographic look of most face video
    f = 4.0 * max(h, w) if focal is None else media.real(focal, "focal", 0.0, 1e7)
    cam = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]], np.float64)
    flip = np.diag([1.0, -1.0, -1.0])  # our head frame (y up, z out) to OpenCV's (y down, z forward)
    model = mean_face_3d() @ flip
    # start in front of the camera, at the distance the face's size implies (else the solver may settle
    # on the mirror solution behind the camera, which projects the same)
    size_ratio = np.ptp(model[:, 0]) / max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1e-6)
    rvec0 = np.zeros((3, 1))
    tvec0 = np.array([[0.0], [0.0], [f * size_ratio]])
    ok, rvec, tvec = cv2.solvePnP(model, np.ascontiguousarray(pts), cam, None, rvec0, tvec0,
                                  useExtrinsicGuess=True, flags=cv2.SOLVEPNP_ITERATIVE)
    if not ok:
        return float("nan"), float("nan"), float("nan")
    rot_cv, _ = cv2.Rodrigues(rvec)
    return euler_from_rotation(flip @ rot_cv @ flip)
