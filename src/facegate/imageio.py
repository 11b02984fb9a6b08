"""Load any supported image input into an RGB uint8 array, refusing bad input with a clear ImageError.

Accepts a path, raw bytes, a numpy array (H×W, H×W×3 RGB or H×W×4 RGBA) or a PIL image. EXIF orientation is
honoured; images whose header claims more than `MAX_PIXELS` pixels are refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from facegate.errors import ImageError

MAX_PIXELS = 50_000_000  # ~7000×7000; a decompression bomb is refused from its header
MIN_SIDE = 2
# File types treated as photos when a folder is scanned (enrollment, galleries, archives, datasets).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})

ImageInput = str | os.PathLike | bytes | bytearray | memoryview | np.ndarray | Image.Image


def _from_array(arr: np.ndarray) -> np.ndarray:
    if arr.ndim == 2:
        arr = np.repeat(arr[:, :, None], 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 1:
        arr = np.repeat(arr, 3, axis=2)
    elif arr.ndim == 3 and arr.shape[2] == 4:
        arr = arr[:, :, :3]
    if arr.ndim != 3 or arr.shape[2] != 3:
        raise ImageError(f"expected an H×W, H×W×3 or H×W×4 array, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        if np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = arr * 255.0
        if not (np.issubdtype(arr.dtype, np.number) and not np.issubdtype(arr.dtype, np.complexfloating)):
            raise ImageError(f"unsupported array dtype {arr.dtype}")
        arr = np.clip(np.nan_to_num(arr), 0, 255).astype(np.uint8)
    return np.ascontiguousarray(arr)


def _from_pil(img: Image.Image, name: str) -> np.ndarray:
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageError(f"{name}: {w}×{h} pixels exceeds the limit of {MAX_PIXELS:,}")
    try:
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
        raise ImageError(f"{name}: image data is truncated or corrupt ({exc})") from exc


def open_image(data: bytes, name: str) -> Image.Image:
    """The image with only its header read (no pixel decoded), or ImageError. Pillow's own decompression-bomb guard
    stays on: a header past twice its limit is refused here, with the same message as FaceGate's lower limit."""
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{name}: the header claims more pixels than Pillow's decompression-bomb guard allows, "
            f"which exceeds the limit of {MAX_PIXELS:,}"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{name}: not an image file (or a format FaceGate cannot read)") from exc


def load_image(source: ImageInput) -> np.ndarray:
    """Return the image as a contiguous H×W×3 RGB uint8 array, or raise ImageError saying why not."""
    if isinstance(source, np.ndarray):
        arr = _from_array(source)
    elif isinstance(source, Image.Image):
        arr = _from_pil(source, "image")
    elif isinstance(source, (bytes, bytearray, memoryview, str, os.PathLike)):
        if isinstance(source, (str, os.PathLike)):
            path = Path(source)
            name = str(path)
            if path.is_dir():
                raise ImageError(f"{name}: a folder, not an image file")
            if not path.is_file():
                raise ImageError(f"{name}: no such file")
            data = path.read_bytes()
        else:
            name, data = "image bytes", bytes(source)
        if not data:
            raise ImageError(f"{name}: empty file")
        arr = _from_pil(open_image(data, name), name)
    else:
        raise ImageError(
            f"unsupported image input of type {type(source).__name__}; "
            "pass a path, bytes, a numpy RGB array or a PIL image"
        )
    if min(arr.shape[:2]) < MIN_SIDE:
        raise ImageError(f"image of {arr.shape[1]}×{arr.shape[0]} pixels is too small to hold a face")
    return arr


def letterbox(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """The image scaled to fit width×height without distortion, centred on black (for fixed-size test frames)."""
    import cv2

    scale = min(width / image.shape[1], height / image.shape[0])
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    resized = cv2.resize(image, None, fx=scale, fy=scale, interpolation=interpolation)
    canvas = np.zeros((height, width, *image.shape[2:]), image.dtype)
    y, x = (height - resized.shape[0]) // 2, (width - resized.shape[1]) // 2
    canvas[y : y + resized.shape[0], x : x + resized.shape[1]] = resized
    return canvas


def is_photo(path: Path) -> bool:
    """Whether a file holds a picture Pillow can read, judged by its content (its header), not its name: web
    downloads are called `photo.png?w=740`, cameras write `.JPG`."""
    try:
        with Image.open(path):
            return True
    except Image.DecompressionBombError:  # a picture, too big to decode: load_image says so when it is used
        return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False
