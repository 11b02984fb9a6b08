"""Uploaded images: size and pixel limits checked before decoding, and decoding to RGB pixels."""

import numpy as np
from fastapi import HTTPException, UploadFile

from facegate.api.state import Settings
from facegate.api.work import PixelBudget
from facegate.errors import ImageError
from facegate.gallery.text import safe_filename
from facegate.imageio import decoded_size, load_image, open_image, too_large


def read_upload(upload: UploadFile, settings: Settings) -> bytes:
    """The upload's bytes; 413 when it is over the size limit, 422 when it is empty."""
    data = upload.file.read(settings.max_upload_bytes + 1)
    name = safe_filename(upload.filename)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"{name}: larger than the limit of {settings.max_upload_bytes:,} bytes")
    if not data:
        raise HTTPException(422, f"{name}: empty file")
    return data


def check_pixels(data: bytes, name: str, settings: Settings, budget: PixelBudget) -> None:
    """413 when the image would decode at more pixels than one image or the request's budget allows (nothing is
    decoded; a JPEG over the limit counts at the reduced scale it will be decoded at)."""
    with open_image(data, name) as img:
        size = decoded_size(img, settings.max_pixels)
        if size is None:
            raise HTTPException(413, too_large(img, name, settings.max_pixels))
    budget.take(size[0] * size[1], name)


def decode_upload(upload: UploadFile, settings: Settings, budget: PixelBudget) -> np.ndarray:
    """An uploaded image as RGB pixels, or a 4xx saying what is wrong with it."""
    data = read_upload(upload, settings)
    name = safe_filename(upload.filename)
    check_pixels(data, name, settings, budget)
    try:
        return load_image(data, settings.max_pixels)
    except ImageError as exc:
        raise ImageError(str(exc).replace("image bytes", name, 1)) from exc
