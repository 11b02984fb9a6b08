"""The gallery against real databases (SQLite and a throwaway PostgreSQL): schema, samples, events, enrollment
quality, identification and the enroll/people/identify commands."""

from __future__ import annotations

import csv
import io
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import cv2
import numpy as np
import pytest
from alembic.script import ScriptDirectory
from PIL import Image
from service_fixtures import PER_PERSON, people_folder

from facegate import FaceGate
from facegate.cli import main
from facegate.detect.base import Face
from facegate.gallery import ConflictError, NotFoundError, open_gallery
from facegate.gallery.database import MIGRATIONS
from facegate.gallery.enroll import enroll_photo
from facegate.gallery.folders import person_photos
from facegate.gallery.identify import GalleryIdentifier, build_identifier
from facegate.gallery.quality import assess
from facegate.gallery.repository import NewSample
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.match.openset import OpenSetIdentifier


def new_sample(seed: int, sha: str) -> NewSample:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return NewSample(
        embedding=vector / np.linalg.norm(vector),
        thumbnail=b"\xff\xd8jpeg",
        sha256=sha,
        filename=f"{sha}.jpg",
        box=(1.0, 2.0, 101.0, 122.0),
        detection_score=0.99,
        face_px=100.0,
        sharpness=150.0,
        nose_position=0.5,
        faces_found=1,
    )


def test_people_samples_and_events_round_trip(db_url: str) -> None:
    gallery = open_gallery(db_url)
    start = gallery.revision()
    ada = gallery.add_person("Ada")
    with pytest.raises(ConflictError, match="already exists"):
        gallery.add_person("Ada")
    bob = gallery.add_person("Bob")
    first = gallery.add_sample(ada.id, new_sample(1, "a" * 64))
    gallery.add_sample(ada.id, new_sample(2, "b" * 64))
    gallery.add_sample(bob.id, new_sample(3, "c" * 64))
    with pytest.raises(ConflictError, match=f"already enrolled \\(sample {first.id} of Ada\\)"):
        gallery.add_sample(bob.id, new_sample(4, "a" * 64))
    assert gallery.revision() == start + 5  # two people, three samples; the refused duplicate changed nothing

    data = gallery.training_set()
    assert data.revision == gallery.revision() and data.embeddings.shape == (3, 128)
    assert sorted(data.person_ids.tolist()) == [ada.id, ada.id, bob.id]
    np.testing.assert_allclose(np.linalg.norm(data.embeddings, axis=1), 1.0, rtol=1e-6)
    assert gallery.thumbnail(first.id) == b"\xff\xd8jpeg"
    assert [(p.name, p.samples) for p in gallery.people()] == [("Ada", 2), ("Bob", 1)]
    assert gallery.rename_person(bob.id, "Robert").name == "Robert"

    gallery.add_events("door-1", [(ada.id, "match", 0.8, 0.6), (None, "unknown", 0.1, 1.3)])
    gallery.add_events("door-2", [(bob.id, "match", 0.9, 0.4)])
    assert {e.person for e in gallery.events(gate="door-1")} == {"Ada", None}
    assert [e.gate for e in gallery.events(decision="match")] == ["door-2", "door-1"]
    assert [e.decision for e in gallery.events(person_id=bob.id)] == ["match"]
    now = datetime.now(UTC)
    assert len(gallery.events(since=now - timedelta(minutes=5))) == 3
    assert gallery.events(until=now - timedelta(minutes=5)) == []

    gallery.delete_person(ada.id)
    assert [p.name for p in gallery.people()] == ["Robert"]
    assert gallery.sample_by_hash("a" * 64) is None and gallery.training_set().embeddings.shape == (1, 128)
    with pytest.raises(NotFoundError):
        gallery.thumbnail(first.id)
    kept = gallery.events(person_id=ada.id)  # the events keep the id, nothing else of Ada
    assert [(e.person_id, e.person) for e in kept] == [(ada.id, None)]
    with pytest.raises(NotFoundError):
        gallery.delete_person(ada.id)


def test_migrations_are_idempotent_and_at_head(db_url: str) -> None:
    first = open_gallery(db_url)
    first.add_person("Ada")
    second = open_gallery(db_url)  # a second server (or a restart) migrates again: nothing changes
    assert [p.name for p in second.people()] == ["Ada"]
    with second.engine.connect() as conn:
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
        assert head is not None and conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() == head
    if second.engine.dialect.name == "sqlite":
        with second.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


def test_unreachable_postgres_is_a_clear_error() -> None:
    from pg import free_port

    from facegate.gallery.database import DatabaseError

    with pytest.raises(DatabaseError, match="cannot open the gallery"):
        open_gallery(f"postgresql://nobody@127.0.0.1:{free_port()}/none")


def test_quality_checks_say_why(fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path: Path) -> None:
    gallery = open_gallery(str(tmp_path / "g.db"))
    person = gallery.add_person("madonna").id
    good = enrollable["madonna"][0]
    image = np.asarray(Image.open(good).convert("RGB"))

    def jpeg(pixels: np.ndarray) -> bytes:
        out = io.BytesIO()
        Image.fromarray(pixels).save(out, format="JPEG", quality=95)
        return out.getvalue()

    accepted = enroll_photo(fg, gallery, person, good.read_bytes(), good.name)
    assert accepted.accepted and accepted.figures["face_px"] >= 40
    again = enroll_photo(fg, gallery, person, good.read_bytes(), "copy.jpg")
    assert not again.accepted and "already enrolled" in again.reasons[0]

    face = fg.detect(image)[0]
    blurred = cv2.GaussianBlur(image, (0, 0), face.width / 25)
    assert any("blurred" in r for r in enroll_photo(fg, gallery, person, jpeg(blurred), "blur.jpg").reasons)
    scale = 30 / face.width
    small = cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    assert any("at least 40 px" in r for r in enroll_photo(fg, gallery, person, jpeg(small), "small.jpg").reasons)
    other = np.asarray(Image.open(enrollable["elton_john"][0]).convert("RGB").resize(image.shape[1::-1]))
    pair = jpeg(np.concatenate([image, other], axis=1))
    two = enroll_photo(fg, gallery, person, pair, "pair.jpg")
    assert not two.accepted and "2 faces" in two.reasons[0]
    assert enroll_photo(fg, gallery, person, pair, "pair.jpg", largest=True).accepted
    blank = enroll_photo(fg, gallery, person, jpeg(np.full((200, 200, 3), 128, np.uint8)), "wall.jpg")
    assert blank.reasons == ["no face found in the photo"]
    broken = enroll_photo(fg, gallery, person, b"not a photo", "notes.txt")
    assert "notes.txt: not an image file" in broken.reasons[0]
    assert gallery.person(person).samples == 2


def test_profile_landmarks_are_refused() -> None:
    crop = (np.random.default_rng(0).random((160, 160, 3)) * 255).astype(np.uint8)
    frontal = np.array([[40, 50], [80, 50], [60, 70], [45, 90], [75, 90]], np.float32)
    profile = frontal.copy()
    profile[2, 0] = 85  # the nose beyond the right eye: the head is turned
    face = Face((20.0, 20.0, 120.0, 130.0), 0.99, frontal)
    assert assess(face, crop, 1).ok
    turned = assess(Face(face.box, face.score, profile), crop, 1)
    assert turned.reasons == ["face is turned away (profile or implausible landmarks); use a frontal photo"]


@pytest.fixture(scope="module")
def embedded(fg: FaceGate, enrollable: dict[str, list[Path]]) -> dict[str, np.ndarray]:
    """Embeddings of every enrollable photo (PER_PERSON + the probe) per person."""
    return {name: np.stack([fg.embed_one(p).embedding for p in paths]) for name, paths in enrollable.items()}


def test_build_identifier_chooses_by_samples_per_person(
    embedded: dict[str, np.ndarray], fg: FaceGate, stranger: Path
) -> None:
    names = list(embedded)
    several = build_identifier(np.concatenate([embedded[n][:PER_PERSON] for n in names]), np.repeat(names, PER_PERSON))
    single = build_identifier(np.stack([embedded[n][0] for n in names]), names)
    assert isinstance(several, OpenSetIdentifier) and isinstance(single, NearestNeighbourIdentifier)
    probes = np.stack([embedded[n][PER_PERSON] for n in names])
    stranger_embedding = fg.embed_one(stranger).embedding[None]
    for identifier in (several, single):
        assert [d.label for d in identifier.decide(probes)] == names
        assert identifier.decide(stranger_embedding)[0].label == "unknown"


def test_identifier_refits_in_the_background(embedded: dict[str, np.ndarray], tmp_path: Path) -> None:
    gallery = open_gallery(str(tmp_path / "g.db"))
    identifier = GalleryIdentifier(gallery)
    assert identifier.current().identifier is None
    ids = {}
    for i, name in enumerate(["madonna", "elton_john", "jerry_seinfeld"]):
        ids[name] = gallery.add_person(name).id
        for j, vector in enumerate(embedded[name][:PER_PERSON]):
            gallery.add_sample(
                ids[name],
                NewSample(vector, b"", f"{i}{j}".ljust(64, "0"), None, (0, 0, 1, 1), 1.0, 100.0, 100.0, 0.5, 1),
            )
    fitted = identifier.wait_until_fresh()
    assert fitted.kind == "classifier + distance check" and fitted.revision == gallery.revision()
    _, decisions = identifier.decide(embedded["madonna"][PER_PERSON:])
    assert decisions[0].label == str(ids["madonna"])
    gallery.delete_person(ids["madonna"])
    stale = identifier.refresh()  # answers at once with the fit it has; the refit runs in the background
    assert stale is not None and stale.revision <= gallery.revision()
    refit = identifier.wait_until_fresh()  # 2 people: too few to hold anyone out, so the model's prior decides
    assert refit.kind == "classifier + distance check" and refit.identifier.threshold_source_ == "prior"
    identifier.join()


def run(argv: list[str]) -> int:
    return main(argv)


def test_enroll_people_identify_commands(
    enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    flat, nested = tmp_path / "flat", tmp_path / "nested"
    flat.mkdir()
    for i, path in enumerate(enrollable["madonna"][:2]):  # named after the person, as in the original web app
        shutil.copy(path, flat / f"madonna_{i + 1}.jpg")
    for name in ("elton_john", "jerry_seinfeld"):
        (nested / name).mkdir(parents=True)
        for path in enrollable[name][:2]:
            shutil.copy(path, nested / name / path.name)
    (nested / "jerry_seinfeld" / "notes.jpg").write_bytes(b"not a photo")
    assert person_photos(flat) == {"madonna": sorted(flat.glob("*.jpg"))}
    db = str(tmp_path / "g.db")

    assert run(["enroll", str(flat), "--db", db]) == 0
    assert run(["enroll", str(nested), "--db", db, "-v"]) == 0
    out = capsys.readouterr().out
    assert "enrolled 4 new photo(s) of 4 for 2 people" in out
    assert "notes.jpg: not a picture FaceGate can read" in out  # listed, not silently skipped
    assert run(["enroll", str(nested), "--db", db]) == 0  # nothing new is not a failure
    assert "0 new,   2 already enrolled,   0 refused" in capsys.readouterr().out
    assert run(["people", "--db", db]) == 0
    listing = capsys.readouterr().out
    assert "3 people" in listing and all(n in listing for n in ("madonna", "elton_john", "jerry_seinfeld"))
    assert run(["identify", str(enrollable["elton_john"][PER_PERSON]), "--db", db]) == 0
    answer = capsys.readouterr().out
    assert "elton_john" in answer and "1 face(s)" in answer
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM samples").fetchone() == (6,)


def test_a_persons_name_is_the_same_however_the_files_spell_it(tmp_path: Path) -> None:
    """Pictures are found by content (web suffixes, upper case, no suffix), names by one rule."""
    (tmp_path / "Ada Lovelace").mkdir()
    picture = io.BytesIO()
    Image.new("RGB", (8, 8)).save(picture, format="PNG")
    names = ("Bill Gates 2.JPG", "bill_gates.tif", "bill-gates-10.png", "bill gates 3.png?w=740", "Ada Lovelace/x")
    for name in names:
        (tmp_path / name).write_bytes(picture.getvalue())
    (tmp_path / "notes.jpg").write_text("not a picture")
    others: list[Path] = []
    people = person_photos(tmp_path, others)
    assert set(people) == {"Ada Lovelace", "Bill Gates"} and others == [tmp_path / "notes.jpg"]
    assert [p.name for p in people["Bill Gates"]] == [
        "Bill Gates 2.JPG",
        "bill gates 3.png?w=740",
        "bill-gates-10.png",
        "bill_gates.tif",
    ]


def test_enroll_names_whoever_is_left_without_a_sample(
    enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "people"
    for name in ("madonna", "nobody"):
        (folder / name).mkdir(parents=True)
    shutil.copy(enrollable["madonna"][0], folder / "madonna" / "m.jpg")
    Image.new("RGB", (300, 300), (80, 80, 80)).save(folder / "nobody" / "blank.png")  # no face at all
    assert run(["enroll", str(folder), "--db", str(tmp_path / "g.db")]) == 1
    captured = capsys.readouterr()
    assert "no usable photo for: nobody" in captured.err and "1 × no face found in the photo" in captured.out


def test_small_faces_are_refused_with_an_honest_size_and_a_way_out() -> None:
    face = Face(box=(0.0, 0.0, 39.6, 50.0), score=0.99)
    crop = np.random.default_rng(0).integers(0, 255, (160, 160, 3), np.uint8)
    refused = assess(face, crop, 1)
    assert "face is 39 px; at least 40 px is needed" in refused.reasons[0] and "--min-face" in refused.reasons[0]
    assert assess(face, crop, 1, min_face_px=30).ok


def test_identify_takes_files_and_folders_in_one_process(
    enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "g.db")
    people = people_folder(enrollable, tmp_path / "people", ("elton_john", "madonna"))
    assert run(["enroll", str(people), "--db", db]) == 0
    probes = tmp_path / "probes" / "deeper"
    probes.mkdir(parents=True)
    shutil.copy(enrollable["madonna"][PER_PERSON], probes / "madonna.jpg")
    (probes / "broken.jpg").write_bytes(b"\xff\xd8\xff")  # looks like a JPEG by its first bytes only
    single = enrollable["elton_john"][PER_PERSON]
    capsys.readouterr()
    assert run(["identify", str(single), str(tmp_path / "probes"), "--db", db, "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    photos = {Path(p["image"]).name: p for p in answer["photos"]}
    assert answer["operating_point"]["fpir"] == 1e-3 and answer["identifier"] == "classifier + distance check"
    assert photos[single.name]["faces"][0]["name"] == "elton_john"
    assert photos["madonna.jpg"]["faces"][0]["name"] == "madonna" and photos["madonna.jpg"]["faces"][0]["probability"]
    assert "broken.jpg" not in photos  # not a picture by content: the folder search leaves it out
    assert run(["identify", str(probes / "broken.jpg"), str(single), "--db", db, "--csv"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert rows[0]["error"] and rows[1]["name"] == "elton_john" and float(rows[1]["distance"]) < 1.0


def test_one_face_is_not_enrolled_under_two_names(
    enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, db = tmp_path / "people", str(tmp_path / "g.db")
    for name, photos in (("madonna", enrollable["madonna"][:2]), ("someone_else", enrollable["madonna"][2:3])):
        (folder / name).mkdir(parents=True)
        for photo in photos:
            shutil.copy(photo, folder / name / photo.name)
    assert run(["enroll", str(folder), "--db", db]) == 1  # someone_else ends with no sample
    captured = capsys.readouterr()
    assert "looks like 'madonna'" in captured.out and "no usable photo for: someone_else" in captured.err
    assert run(["enroll", str(folder), "--db", db, "--allow-lookalike"]) == 0  # twins exist: the operator decides
    assert {p.name: p.samples for p in open_gallery(db).people()} == {"madonna": 2, "someone_else": 1}
