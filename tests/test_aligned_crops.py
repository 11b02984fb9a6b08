"""Pre-aligned face crops (112×112 ArcFace, 160×160 FaceNet layout) cut from real LFW photos with FaceGate's own
aligner: enrolled and identified as faces, by the detector, as the whole crop, or forced with --aligned; scenery
crops stay faceless."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.cli import main
from facegate.crops import ARCFACE, FACENET, CropLayout, make_crop
from facegate.experiments.lfw import subject
from facegate.gallery import open_gallery
from facegate.imageio import load_image

PEOPLE = ("Colin_Powell", "Gerhard_Schroeder", "Tony_Blair")
STRANGER = "Aaron_Eckhart"
NO_FACE = "media/compreface_samples/017_0.jpg"  # a photo without a face (the annotations list none)


def lfw_photo(shared_data: Path, person: str, number: int) -> Path:
    return shared_data / "lfw" / "images_deepfunneled" / person / f"{person}_{number:04d}.jpg"


def crop_of(fg: FaceGate, path: Path, layout: CropLayout) -> np.ndarray:
    """The photo's subject cut as a dataset of this layout publishes it."""
    pixels = load_image(path)
    face = subject(fg.detector.detect(pixels), pixels.shape[1], pixels.shape[0])
    assert face is not None
    return make_crop(pixels, face, layout)


def write_crops(fg: FaceGate, shared_data: Path, layout: CropLayout, root: Path) -> tuple[Path, Path]:
    """enroll/<person>/1.png, 2.png (photos 1-2) and probe/<person>_<n>.png (photos 3-4) plus the stranger's."""
    enroll, probe = root / "enroll", root / "probe"
    probe.mkdir(parents=True)
    for person in PEOPLE:
        (enroll / person).mkdir(parents=True)
        for number in (1, 2, 3, 4):
            out = enroll / person / f"{number}.png" if number <= 2 else probe / f"{person}_{number}.png"
            Image.fromarray(crop_of(fg, lfw_photo(shared_data, person, number), layout)).save(out)
    Image.fromarray(crop_of(fg, lfw_photo(shared_data, STRANGER, 1), layout)).save(probe / "stranger.png")
    return enroll, probe


@pytest.mark.parametrize("layout", [ARCFACE, FACENET], ids=lambda layout: layout.name)
@pytest.mark.parametrize("flags", [[], ["--aligned"]], ids=["automatic", "forced"])
def test_crops_are_enrolled_and_identified(
    fg: FaceGate,
    shared_data: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    layout: CropLayout,
    flags: list[str],
) -> None:
    enroll, probe = write_crops(fg, shared_data, layout, tmp_path)
    db = str(tmp_path / "g.db")
    assert main(["enroll", str(enroll), "--db", db, *flags]) == 0
    assert f"enrolled {2 * len(PEOPLE)} new photo(s) of {2 * len(PEOPLE)}" in capsys.readouterr().out
    assert main(["identify", str(probe), "--json", "--db", db, *flags]) == 0
    photos = json.loads(capsys.readouterr().out)["photos"]
    names = {Path(p["image"]).stem: [f["name"] for f in p["faces"]] for p in photos}
    assert names.pop("stranger") == ["unknown"]
    assert names == {f"{person}_{n}": [person] for person in PEOPLE for n in (3, 4)}


def test_a_crop_the_detector_misses_is_taken_whole(fg: FaceGate, shared_data: Path) -> None:
    photo = lfw_photo(shared_data, "Tony_Blair", 5)
    crop = crop_of(fg, photo, ARCFACE)
    blind = FaceGate(min_face=300)  # looks only for faces larger than the crop: its detector finds none
    assert blind.detector.detect(crop) == []
    found = blind.represent(crop)
    assert len(found) == 1 and found[0].face.box == (0.0, 0.0, 112.0, 112.0) and found[0].face.score >= 0.7
    forced = FaceGate(aligned=True).represent(crop)[0]
    assert np.allclose(found[0].embedding, forced.embedding, atol=1e-5)
    assert np.linalg.norm(forced.embedding - fg.embed_one(photo).embedding) <= fg.threshold  # the same person
    assert FaceGate(min_face=300, aligned=False).represent(crop) == []  # never: only the detector's faces


@pytest.mark.parametrize("side", [112, 160])
def test_scenery_crops_stay_faceless(shared_data: Path, side: int) -> None:
    pixels = load_image(shared_data / NO_FACE)
    height, width = pixels.shape[:2]
    windows = [
        np.ascontiguousarray(pixels[y : y + side, x : x + side])
        for y in np.linspace(0, height - side, 3).astype(int)
        for x in np.linspace(0, width - side, 4).astype(int)
    ]
    for gate in (FaceGate(), FaceGate(min_face=300)):  # the detector, and the whole-image check alone
        assert [len(gate.represent(w)) for w in windows] == [0] * len(windows)


def test_faces_at_the_enrollment_minimum_are_enrolled(
    fg: FaceGate, shared_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "people" / "Colin_Powell"
    folder.mkdir(parents=True)
    for number in (1, 2):
        image = Image.open(lfw_photo(shared_data, "Colin_Powell", number))
        face = fg.detect(np.asarray(image))[0]
        scale = 45 / min(face.width, face.height)  # the face's shorter side a few px above 40 (detection varies)
        image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BOX).save(
            folder / f"{number}.png"
        )
    db = str(tmp_path / "g.db")
    assert main(["enroll", str(folder.parent), "--db", db, "-v"]) == 0
    assert "enrolled 2 new photo(s) of 2" in capsys.readouterr().out
    gallery = open_gallery(db)
    sizes = [s.face_px for s in gallery.samples(gallery.people()[0].id)]
    assert all(40 <= size < 50 for size in sizes), sizes


def test_rest_enroll_takes_a_crop_whole_when_asked(fg: FaceGate, shared_data: Path, tmp_path: Path) -> None:
    db = str(tmp_path / "g.db")
    key, _ = create_key(open_gallery(db), "admin")
    crop = io.BytesIO()
    Image.fromarray(crop_of(fg, lfw_photo(shared_data, "Tony_Blair", 1), ARCFACE)).save(crop, format="PNG")
    with TestClient(create_app(Settings(db=db), fg=fg)) as client:
        client.headers["X-API-Key"] = key
        person = client.post("/people", json={"name": "Tony_Blair"}).json()["id"]
        answer = client.post(
            f"/people/{person}/samples",
            files=[("files", ("blair.png", crop.getvalue(), "image/png"))],
            data={"aligned": "true"},
        ).json()
        assert answer["accepted"] == 1 and answer["results"][0]["figures"]["face_px"] == 112.0  # the whole crop
        sample = client.get(f"/people/{person}/samples").json()[0]
        assert sample["box"] == [0.0, 0.0, 112.0, 112.0]
