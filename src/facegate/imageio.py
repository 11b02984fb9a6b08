"""Load any supported image input into an RGB uint8 array, refusing bad input with a clear ImageError.

Accepts a path, raw bytes, a numpy array (H×W, H×W×3 RGB or H×W×4 RGBA) or a PIL image, in any format Pillow reads,
and HEIC/HEIF (iPhone photos, through pillow-heif). EXIF orientation is honoured. A JPEG of more than `MAX_PIXELS`
pixels (a 36-50 Mpx phone photo) is decoded at 1/2, 1/4 or 1/8 scale, the largest that fits, so its full size is
never held in memory; any other image whose header claims more is refused before any pixel is decoded.
"""

from __future__ import annotations

import io
import os
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, JpegImagePlugin, UnidentifiedImageError

from facegate.errors import ImageError

MAX_PIXELS = 25_000_000  # pixels decoded at most (~5000×5000); a decompression bomb is refused from its header
MIN_SIDE = 2
JPEG_SCALES = (2, 4, 8)  # the reductions libjpeg decodes at directly (Image.draft)
# File types treated as photos when a folder is scanned (enrollment, galleries, archives, datasets).
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".heic", ".heif"})
# ISO base media brands of HEIF stills (bytes 8-12 of the file, after the `ftyp` box's size and type)
HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"})

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


def decode_scale(img: Image.Image, max_pixels: int = MAX_PIXELS) -> int | None:
    """The reduction an image is decoded at within `max_pixels`: 1 (its own size), or for a larger JPEG the least of
    libjpeg's 2, 4 and 8 that fits; None when none fits (the image must be refused)."""
    width, height = img.size
    if width * height <= max_pixels:
        return 1
    if not isinstance(img, JpegImagePlugin.JpegImageFile):
        return None
    return next((s for s in JPEG_SCALES if -(-width // s) * -(-height // s) <= max_pixels), None)


def decoded_size(img: Image.Image, max_pixels: int = MAX_PIXELS) -> tuple[int, int] | None:
    """The width and height the image is decoded at within `max_pixels` (libjpeg rounds up); None: refused."""
    scale = decode_scale(img, max_pixels)
    return None if scale is None else (-(-img.width // scale), -(-img.height // scale))


def too_large(img: Image.Image, name: str, max_pixels: int) -> str:
    """Why an image that `decoded_size` cannot fit is refused."""
    width, height = img.size
    how = "even at 1/8 scale" if isinstance(img, JpegImagePlugin.JpegImageFile) else "(only JPEGs are reduced)"
    return f"{name}: {width}×{height} pixels exceeds the limit of {max_pixels:,} {how}"


def _from_pil(img: Image.Image, name: str, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    scale = decode_scale(img, max_pixels)
    if scale is None:
        raise ImageError(too_large(img, name, max_pixels))
    try:
        if scale > 1:  # libjpeg decodes straight at the reduced scale (draft takes the scale that fits this size)
            img.draft("RGB", (img.width // scale, img.height // scale))
        img = ImageOps.exif_transpose(img)
        if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
            rgba = img.convert("RGBA")
            background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
            img = Image.alpha_composite(background, rgba)
        return np.asarray(img.convert("RGB"), dtype=np.uint8).copy()
    except (OSError, ValueError, SyntaxError) as exc:  # truncated or corrupt pixel data
        raise ImageError(f"{name}: image data is truncated or corrupt ({exc})") from exc


@cache
def _read_heif() -> None:
    """Teach Pillow HEIC/HEIF (once, on the first such file: pillow-heif takes ~0.4 s to load)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()


def _prepare_for(head: bytes) -> None:
    """Load the reader a file's first bytes call for, where Pillow has none of its own."""
    if head[4:8] == b"ftyp" and head[8:12] in HEIF_BRANDS:
        _read_heif()


def open_image(data: bytes, name: str) -> Image.Image:
    """The image with only its header read (no pixel decoded), or ImageError. Pillow's own decompression-bomb guard
    stays on: a header past twice its limit is refused here, with the same message as FaceGate's lower limit."""
    _prepare_for(data[:16])
    try:
        return Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(
            f"{name}: the header claims more pixels than Pillow's decompression-bomb guard allows, "
            f"which exceeds the limit of {MAX_PIXELS:,}"
        ) from exc
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{name}: not an image file (or a format FaceGate cannot read)") from exc


def load_image(source: ImageInput, max_pixels: int = MAX_PIXELS) -> np.ndarray:
    """Return the image as a contiguous H×W×3 RGB uint8 array, or raise ImageError saying why not; an encoded JPEG
    over `max_pixels` comes out reduced (see `decoded_size`)."""
    if isinstance(source, np.ndarray):
        arr = _from_array(source)
    elif isinstance(source, Image.Image):
        arr = _from_pil(source, "image", max_pixels)
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
        arr = _from_pil(open_image(data, name), name, max_pixels)
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
        with path.open("rb") as file:
            _prepare_for(file.read(16))
        with Image.open(path):
            return True
    except Image.DecompressionBombError:  # a picture, too big to decode: load_image says so when it is used
        return True
    except (UnidentifiedImageError, OSError, ValueError):
        return False
