"""Photo attacks on the liveness challenge, simulated from real photos: a print or phone held up to a webcam.

The photo is a plane in front of a pinhole camera (focal length in pixels, 640×480 frames): the attacker moves it
(translation, in-plane rotation, distance, so scale) and tilts it about its vertical and horizontal axes, so every
frame is the photo under a true perspective projection, over a real background, with sensor noise and blur. A
bent print (the photo wrapped round a vertical cylinder) is a second, harder kind: a curved surface is not a plane.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

FRAME = (480, 640)  # height, width of the simulated webcam


@dataclass(frozen=True)
class Pose:
    """Where the held-up photo is: face centre offset in frame pixels, its width in frame pixels, angles in degrees,
    and the bend (cylinder radius in face widths; 0: flat)."""

    dx: float = 0.0
    dy: float = 0.0
    face_width: float = 160.0
    roll: float = 0.0
    yaw: float = 0.0
    pitch: float = 0.0
    bend: float = 0.0


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """3-D rotation: pitch about x, then yaw about y, then roll about the optical axis (degrees)."""
    a, b, c = np.radians([pitch, yaw, roll])
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def surface(u: np.ndarray, v: np.ndarray, bend: float, width: float) -> np.ndarray:
    """Photo coordinates (centred on the face, frame pixels) as 3-D points of the print: flat, or wrapped round a
    vertical cylinder of radius bend×width whose crest is the face's centre line (its sides bent away from the
    camera, at most a quarter turn round)."""
    if bend <= 0:
        return np.stack([u, v, np.zeros_like(u)], axis=-1)
    radius = bend * width
    angle = u / radius
    return np.stack([radius * np.sin(angle), v, radius * (1 - np.cos(angle))], axis=-1)


def project(points: np.ndarray, pose: Pose, focal: float) -> np.ndarray:
    """Frame pixel coordinates of 3-D print points (face centre at the origin) seen by the camera at `pose`."""
    # The face's real width is fixed by how large it looks: at depth Z a face of width W spans focal*W/Z pixels.
    depth = focal  # one print unit per frame pixel at the reference depth, so face_width sets the scale
    moved = points @ rotation(pose.yaw, pose.pitch, pose.roll).T
    moved[..., 2] += depth
    h, w = FRAME
    x = focal * moved[..., 0] / moved[..., 2] + w / 2 + pose.dx
    y = focal * moved[..., 1] / moved[..., 2] + h / 2 + pose.dy
    return np.stack([x, y], axis=-1)


def print_of(photo: np.ndarray, face_box: tuple[float, float, float, float]) -> tuple[np.ndarray, tuple[float, ...]]:
    """What the attacker holds up: the photo cut to the face and a margin (0.8 face widths each side, a face height
    above and below), and the face's box in it."""
    x1, y1, x2, y2 = face_box
    fw, fh = x2 - x1, y2 - y1
    left, top = max(0, int(x1 - 0.8 * fw)), max(0, int(y1 - fh))
    right, bottom = min(photo.shape[1], int(x2 + 0.8 * fw)), min(photo.shape[0], int(y2 + fh))
    return photo[top:bottom, left:right], (x1 - left, y1 - top, x2 - left, y2 - top)


def held_up(
    photo: np.ndarray,
    face_box: tuple[float, float, float, float],
    pose: Pose,
    background: np.ndarray,
    rng: np.random.Generator,
    focal: float = 600.0,
    noise: float = 4.0,
) -> np.ndarray:
    """One webcam frame (RGB uint8) of `photo` held up at `pose` in front of `background`, with noise and blur."""
    photo, (x1, y1, x2, y2) = print_of(photo, face_box)
    scale = pose.face_width / max(x2 - x1, 1.0)
    centre = np.array([(x1 + x2) / 2, (y1 + y2) / 2])
    h, w = FRAME
    frame = background.copy()
    if pose.bend <= 0:
        ph, pw = photo.shape[:2]
        corners = np.array([[0, 0], [pw - 1, 0], [pw - 1, ph - 1], [0, ph - 1]], np.float64)
        target = project(surface(*((corners - centre) * scale).T, 0.0, pose.face_width), pose, focal)
        matrix = cv2.getPerspectiveTransform(corners.astype(np.float32), target.astype(np.float32))
        warped = cv2.warpPerspective(photo, matrix, (w, h), flags=cv2.INTER_LINEAR)
        mask = cv2.warpPerspective(np.ones((ph, pw), np.uint8), matrix, (w, h), flags=cv2.INTER_NEAREST)
    else:
        warped, mask = _curved(photo, centre, scale, pose, focal)
    frame[mask > 0] = warped[mask > 0]
    frame = cv2.GaussianBlur(frame, (3, 3), 0.6)
    noisy = frame.astype(np.float32) + rng.normal(0.0, noise, frame.shape).astype(np.float32)
    return np.asarray(np.clip(noisy, 0, 255).astype(np.uint8))


def _curved(
    photo: np.ndarray, centre: np.ndarray, scale: float, pose: Pose, focal: float
) -> tuple[np.ndarray, np.ndarray]:
    """A bent print drawn forwards: the photo sampled finer than one frame pixel, each sample splatted where its
    point of the cylinder projects, the last pinholes closed. Returns the frame's pixels and where the print is."""
    h, w = FRAME
    ph, pw = photo.shape[:2]
    step = 1.0 / max(1, int(np.ceil(scale * 1.5)))
    gv, gu = np.mgrid[0 : ph - 1 : step, 0 : pw - 1 : step].astype(np.float32)
    colours = cv2.remap(photo, gu, gv, cv2.INTER_LINEAR)
    points = surface((gu - centre[0]) * scale, (gv - centre[1]) * scale, pose.bend, pose.face_width)
    xy = np.round(project(points.astype(np.float64), pose, focal)).astype(np.int64)
    angle = (gu - centre[0]) * scale / (pose.bend * pose.face_width)
    normals = np.stack([np.sin(angle), np.zeros_like(angle), -np.cos(angle)], axis=-1)
    rotate = rotation(pose.yaw, pose.pitch, pose.roll)
    seen = points @ rotate.T + np.array([0.0, 0.0, focal])
    visible = (np.abs(angle) < np.pi / 2) & (np.einsum("...i,...i", normals @ rotate.T, seen) < 0)
    inside = visible & (xy[..., 0] >= 0) & (xy[..., 0] < w) & (xy[..., 1] >= 0) & (xy[..., 1] < h)
    out = np.zeros((h, w, 3), np.uint8)
    mask = np.zeros((h, w), np.uint8)
    out[xy[..., 1][inside], xy[..., 0][inside]] = colours[inside]
    mask[xy[..., 1][inside], xy[..., 0][inside]] = 1
    closed = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    out = cv2.dilate(out, np.ones((3, 3), np.uint8)) * (1 - mask)[..., None] + out * mask[..., None]
    return out, closed
