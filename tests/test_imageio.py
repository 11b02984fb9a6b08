"""Bad and unusual image input: clear typed errors, never a crash; EXIF orientation honoured."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from conftest import celebrity_photos
from PIL import Image

from facegate import FaceGate, ImageError
from facegate.imageio import MAX_PIXELS, load_image
from facegate.models import ModelFiles


def png_header_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims width×height pixels (a decompression bomb's signature)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")
    )


@pytest.fixture(scope="module")
def photo(models: ModelFiles) -> Path:
    return celebrity_photos(models, "val")[0]


def test_non_image_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("this is not a picture")
    with pytest.raises(ImageError, match="not an image"):
        load_image(path)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(path)


def test_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "absent.jpg")


def test_truncated_jpeg_is_refused(photo: Path) -> None:
    data = photo.read_bytes()
    with pytest.raises(ImageError, match="truncated or corrupt"):
        load_image(data[: len(data) // 2])


def test_one_pixel_image_is_refused() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (1, 1)).save(buf, "PNG")
    with pytest.raises(ImageError, match="too small"):
        load_image(buf.getvalue())


def test_huge_header_is_refused_before_decoding() -> None:
    bomb = png_header_claiming(50_000, 50_000)
    assert len(bomb) < 200
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(bomb)
    assert MAX_PIXELS < 50_000 * 50_000


@pytest.mark.parametrize("side", [8_000, 12_000, 50_000])  # under, over and far over Pillow's own guard
def test_pillows_bomb_guard_stays_on_beside_ours(side: int) -> None:
    with pytest.raises(ImageError, match="exceeds the limit"):
        load_image(png_header_claiming(side, side))
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS > MAX_PIXELS  # the library's, untouched


@pytest.mark.parametrize("bad", [123, None, 4.5, ["a.jpg"], {"path": "a.jpg"}])
def test_wrong_input_types_are_refused(bad: object) -> None:
    with pytest.raises(ImageError, match="unsupported image input"):
        load_image(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize("shape", [(10, 10, 2), (10, 10, 5), (3, 10, 10, 3), (10,)])
def test_wrong_array_shapes_are_refused(shape: tuple[int, ...]) -> None:
    with pytest.raises(ImageError, match="array"):
        load_image(np.zeros(shape, np.uint8))


def test_every_input_kind_gives_the_same_pixels(photo: Path) -> None:
    reference = load_image(photo)
    assert reference.dtype == np.uint8 and reference.shape[2] == 3
    assert np.array_equal(load_image(str(photo)), reference)
    assert np.array_equal(load_image(photo.read_bytes()), reference)
    assert np.array_equal(load_image(Image.open(photo)), reference)
    assert np.array_equal(load_image(reference.copy()), reference)
    assert np.array_equal(load_image(reference.astype(np.float32) / 255.0), reference)


def test_grey_and_rgba_files_become_rgb(photo: Path, tmp_path: Path) -> None:
    rgb = load_image(photo)
    Image.fromarray(rgb).convert("L").save(tmp_path / "grey.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    grey, rgba = load_image(tmp_path / "grey.png"), load_image(tmp_path / "rgba.png")
    assert grey.shape == rgb.shape and np.all(grey[..., 0] == grey[..., 2])
    assert np.array_equal(rgba, rgb)


def test_exif_rotated_photo_is_upright(fg: FaceGate, photo: Path, tmp_path: Path) -> None:
    upright = load_image(photo)
    # store the pixels turned 90° clockwise with EXIF orientation 8 ("rotate 90° counter-clockwise to view")
    stored = Image.fromarray(np.rot90(upright, k=-1).copy())
    exif = Image.Exif()
    exif[0x0112] = 8
    path = tmp_path / "rotated.jpg"
    stored.save(path, exif=exif.tobytes(), quality=95)
    loaded = load_image(path)
    assert loaded.shape == upright.shape
    face = fg.detect(loaded)[0]
    eyes_y, mouth_y = face.landmarks[:2, 1].max(), face.landmarks[3:, 1].min()
    assert eyes_y < mouth_y, "face not upright after honouring EXIF orientation"
    assert fg.verify(loaded, upright).distance < 0.5


def test_pipeline_refuses_bad_input_with_a_typed_error(fg: FaceGate) -> None:
    with pytest.raises(ImageError):
        fg.detect(b"GIF89a nonsense")
    with pytest.raises(ImageError):
        fg.embed(object())  # type: ignore[arg-type]
