"""Phone photos: HEIC files read by content, 36 Mpx JPEGs decoded at a reduced scale (CLI and REST) instead of
refused, and enrollment's smallest face set per REST request."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pillow_heif
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.cli import main
from facegate.gallery import open_gallery
from facegate.imageio import decoded_size, is_photo, load_image

PHONE_SIZE = (7360, 4912)  # 36.2 Mpx, a 36 Mpx phone camera's frame
PHONE_PIXELS = PHONE_SIZE[0] * PHONE_SIZE[1]


@pytest.fixture(scope="module")
def phone_jpeg(enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real photo of madonna upscaled (its shape kept) to about 36 Mpx and saved as a JPEG, as a phone hands it."""
    path = tmp_path_factory.mktemp("phone") / "IMG_0001.JPG"
    image = Image.open(enrollable["madonna"][PER_PROBE]).convert("RGB")
    scale = (PHONE_PIXELS / (image.width * image.height)) ** 0.5
    big = image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BICUBIC)
    big.save(path, format="JPEG", quality=80)
    return path


PER_PROBE = 3  # enrollable's photo kept back from enrollment


def test_a_36_mpx_jpeg_is_decoded_at_half_scale(phone_jpeg: Path) -> None:
    with Image.open(phone_jpeg) as img:
        assert 0.97 * PHONE_PIXELS < img.width * img.height < 1.03 * PHONE_PIXELS
        half = (-(-img.width // 2), -(-img.height // 2))
        assert decoded_size(img) == half  # the largest of JPEG's scales within 25 Mpx: never the full 36
    assert load_image(phone_jpeg).shape == (half[1], half[0], 3)


def test_cli_verifies_a_36_mpx_photo(phone_jpeg: Path, enrollable: dict[str, list[Path]]) -> None:
    assert main(["verify", str(phone_jpeg), str(enrollable["madonna"][0])]) == 0  # the same person


def test_a_heic_photo_is_read_by_content(
    fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = Image.open(enrollable["madonna"][0]).convert("RGB")
    heic = tmp_path / "IMG_0002.HEIC"
    pillow_heif.from_pillow(source).save(heic, quality=90)
    assert heic.read_bytes()[4:12] == b"ftypheic" and is_photo(heic)
    pixels = load_image(heic)
    assert pixels.shape == np.asarray(source).shape
    assert np.abs(pixels.astype(int) - np.asarray(source, int)).mean() < 8  # lossy, but the same picture
    assert main(["verify", str(heic), str(enrollable["madonna"][1]), "--json"]) == 0
    assert '"same": true' in capsys.readouterr().out


@pytest.fixture
def service(fg: FaceGate, tmp_path: Path) -> Iterator[TestClient]:
    db = str(tmp_path / "g.db")
    key, _ = create_key(open_gallery(db), "admin")
    with TestClient(create_app(Settings(db=db), fg=fg)) as client:
        client.headers["X-API-Key"] = key
        yield client


def jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="JPEG", quality=95)
    return out.getvalue()


def enroll(client: TestClient, person: int, name: str, data: bytes, **form: str) -> dict:
    return client.post(f"/people/{person}/samples", files=[("files", (name, data, "image/jpeg"))], data=form).json()


def test_rest_identifies_a_36_mpx_photo(
    service: TestClient, enrollable: dict[str, list[Path]], phone_jpeg: Path
) -> None:
    person = service.post("/people", json={"name": "madonna"}).json()["id"]
    for path in enrollable["madonna"][:PER_PROBE]:
        assert enroll(service, person, path.name, path.read_bytes())["accepted"] == 1
    answer = service.post("/identify", files={"image": ("IMG_0001.JPG", phone_jpeg.read_bytes(), "image/jpeg")})
    assert answer.status_code == 200, answer.text
    assert [f["name"] for f in answer.json()["faces"]] == ["madonna"]


def test_rest_refuses_what_cannot_be_reduced(service: TestClient) -> None:
    out = io.BytesIO()
    Image.new("L", PHONE_SIZE).save(out, format="PNG", optimize=True)
    answer = service.post("/identify", files={"image": ("big.png", out.getvalue(), "image/png")})
    assert answer.status_code == 413 and "exceeds the limit of 25,000,000 (only JPEGs are reduced)" in answer.text
    small = io.BytesIO()
    Image.new("RGB", (16, 16)).save(small, format="JPEG")
    bomb = bytearray(small.getvalue())
    sof = bomb.index(b"\xff\xc0")
    bomb[sof + 5 : sof + 9] = (60_000).to_bytes(2, "big") * 2  # the header now claims 60,000×60,000 pixels
    answer = service.post("/identify", files={"image": ("bomb.jpg", bytes(bomb), "image/jpeg")})
    assert answer.status_code in (413, 422) and "exceeds the limit" in answer.text


def test_rest_enroll_takes_a_smallest_face(
    service: TestClient, fg: FaceGate, enrollable: dict[str, list[Path]]
) -> None:
    person = service.post("/people", json={"name": "elton_john"}).json()["id"]
    image = load_image(enrollable["elton_john"][0])
    scale = 32 / min(fg.detect(image)[0].width, fg.detect(image)[0].height)
    small = jpeg(
        np.asarray(Image.fromarray(image).resize((round(image.shape[1] * scale), round(image.shape[0] * scale))))
    )
    refused = enroll(service, person, "small.jpg", small)
    assert refused["accepted"] == 0 and "at least 40 px is needed" in refused["results"][0]["reasons"][0]
    assert enroll(service, person, "small.jpg", small, min_face="24")["accepted"] == 1
    bad = service.post(
        f"/people/{person}/samples", files=[("files", ("x.jpg", small, "image/jpeg"))], data={"min_face": "0"}
    )
    assert bad.status_code == 422
