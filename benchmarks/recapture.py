"""Recaptured photos, simulated from real ones: what a camera sees when a face is replayed on a screen or printed.

These are the attacks a passive texture model is meant to catch: the face is real in shape, but it comes back
through a second imaging chain. Both start from a real photo and end as a camera image of the same size:

- screen replay: the photo shown on a display (each display pixel three vertical R, G, B stripes and a dark gap,
  at 6×6 sub-pixels), seen by the camera slightly rotated (±3°) at 1.2-1.9 camera pixels per display pixel,
  integrated over each camera pixel's area (which aliases the stripes into moiré); then the display's tone (black
  level lifted by glare, highlights compressed, gamma) and a bluish cast.
- print recapture: the photo printed with a clustered-dot halftone (C, M, Y screens at 15°, 75° and 0°, 4
  sub-pixels a dot), seen by the camera at 1.6-2.6 halftone dots per camera pixel
  (moiré again), with the print's narrow range (paper white, ink black), paler colours, a warm cast and a paper
  texture.

Both then get defocus blur, sensor noise and a JPEG re-encode (quality 60-85). Every parameter is drawn at random
per photo from the ranges above. This is a simulation: no real spoof footage is involved.
"""

from __future__ import annotations

import cv2
import numpy as np

SUB = 6  # display sub-pixels per display pixel, each way


def _camera_view(canvas: np.ndarray, out_size: tuple[int, int], angle: float) -> np.ndarray:
    """The canvas (float RGB 0-1) rotated by `angle` degrees and integrated over each camera pixel (area resampling,
    no optical low-pass: fine periodic patterns alias into moiré, as on a real sensor)."""
    h, w = canvas.shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2, h / 2), angle, 1.0)
    rotated = cv2.warpAffine(canvas, turn, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    return np.asarray(cv2.resize(rotated, out_size, interpolation=cv2.INTER_AREA))


def _finish(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Defocus blur, sensor noise and a JPEG re-encode of a float RGB image (0-1) → uint8 RGB."""
    blurred = cv2.GaussianBlur(image, (0, 0), rng.uniform(0.5, 1.2))
    noisy = blurred * 255 + rng.normal(0.0, rng.uniform(2.0, 4.0), image.shape)
    as_bgr = np.clip(noisy, 0, 255).astype(np.uint8)[..., ::-1]
    quality = int(rng.integers(60, 86))
    _, jpeg = cv2.imencode(".jpg", as_bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
    return np.ascontiguousarray(cv2.imdecode(jpeg, cv2.IMREAD_COLOR)[..., ::-1])


def screen_replay(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera image (same size as `photo`, uint8 RGB) of `photo` shown on a striped-sub-pixel display."""
    h, w = photo.shape[:2]
    per_pixel = rng.uniform(1.2, 1.9)  # camera pixels per display pixel
    dh, dw = max(8, round(h / per_pixel)), max(8, round(w / per_pixel))
    shown = cv2.resize(photo, (dw, dh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    canvas = np.repeat(np.repeat(shown, SUB, axis=0), SUB, axis=1)
    mask = np.zeros((SUB, SUB, 3), np.float32)
    for channel in range(3):  # stripes R | G | B, each a third of the pixel wide
        mask[:, channel * SUB // 3 : (channel + 1) * SUB // 3, channel] = 3.0
    mask[-1] *= 0.3  # the black matrix between rows
    canvas *= np.tile(mask, (dh, dw, 1))
    seen = _camera_view(canvas, (w, h), rng.uniform(-3, 3))
    black, white = rng.uniform(0.08, 0.18), rng.uniform(0.85, 0.95)
    toned = black + (white - black) * np.clip(seen, 0, 1) ** rng.uniform(0.8, 1.1)
    cast = np.array([rng.uniform(0.9, 0.97), rng.uniform(0.96, 1.0), 1.0], np.float32)
    return _finish(toned * cast, rng)


def _halftone(channel: np.ndarray, angle: float, period: float) -> np.ndarray:
    """A clustered-dot halftone of one ink channel (coverage 0-1): ink wherever the coverage exceeds a rotated
    cosine dot screen of the given period (sub-pixels)."""
    h, w = channel.shape
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    a = np.radians(angle)
    u, v = x * np.cos(a) + y * np.sin(a), -x * np.sin(a) + y * np.cos(a)
    screen = 0.5 + 0.25 * (np.cos(2 * np.pi * u / period) + np.cos(2 * np.pi * v / period))
    return (channel > screen).astype(np.float32)


def print_recapture(photo: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A camera image (same size as `photo`, uint8 RGB) of `photo` printed with a CMY halftone."""
    h, w = photo.shape[:2]
    dots_per_pixel = rng.uniform(1.6, 2.6)  # halftone dots per camera pixel
    period = 4.0
    scale = dots_per_pixel * period  # sub-pixels per camera pixel
    big = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_LINEAR)
    ink = 1.0 - big.astype(np.float32) / 255  # C, M, Y coverage from R, G, B
    printed = np.stack([1.0 - _halftone(ink[..., c], a, period) for c, a in enumerate((15.0, 75.0, 0.0))], -1)
    seen = _camera_view(printed, (w, h), rng.uniform(-3, 3))
    grey = seen.mean(axis=2, keepdims=True)
    paler = grey + rng.uniform(0.7, 0.85) * (seen - grey)
    black, white = rng.uniform(0.12, 0.22), rng.uniform(0.8, 0.9)
    toned = black + (white - black) * paler
    cast = np.array([1.0, rng.uniform(0.95, 0.99), rng.uniform(0.82, 0.92)], np.float32)
    paper = cv2.GaussianBlur(rng.normal(1.0, 0.03, (h, w)).astype(np.float32), (0, 0), 2.0)[..., None]
    return _finish(toned * cast * paper, rng)
