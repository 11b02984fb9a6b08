"""A gallery records which embedding model made each sample, keeps to one model, and identifies with it."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from service_fixtures import PER_PERSON
from test_gallery import new_sample

from facegate.cli import main as run
from facegate.gallery import open_gallery
from facegate.gallery.database import MIGRATIONS, open_engine
from facegate.gallery.enroll import enroll_photo
from facegate.gallery.identify import GalleryIdentifier
from facegate.gallery.repository import ConflictError, NewSample
from facegate.match.operating_point import prior_distance
from facegate.models import ModelFiles
from facegate.pipeline import FaceGate


def sample(embedding: np.ndarray, sha: str, model: str) -> NewSample:
    """test_gallery's sample with this embedding, made by `model`."""
    return replace(new_sample(0, sha), embedding=embedding, model=model)


def test_gallery_keeps_to_the_model_of_its_first_sample(db_url: str) -> None:
    gallery = open_gallery(db_url)
    ada = gallery.add_person("Ada")
    assert gallery.model() is None and gallery.training_set().model == "facenet"
    vector = np.full(1024, 1 / 32, np.float32)
    gallery.add_sample(ada.id, sample(vector, "a", "vggface2"))
    assert gallery.model() == "vggface2"
    with pytest.raises(ConflictError, match="holds vggface2 embeddings"):
        gallery.add_sample(ada.id, sample(np.full(128, 128**-0.5, np.float32), "b", "facenet"))
    with pytest.raises(ValueError, match="1024 values"):
        gallery.add_sample(ada.id, sample(np.zeros(128, np.float32), "c", "vggface2"))
    data = gallery.training_set()
    assert data.model == "vggface2" and data.embeddings.shape == (1, 1024)
    assert np.allclose(gallery.embeddings_of(ada.id), vector)
    gallery.delete_person(ada.id)
    assert gallery.model() is None  # empty again: any model may start it


def test_samples_enrolled_before_the_migration_are_facenets(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with open_engine(str(db)).begin() as connection:  # the gallery as it was before samples named their model
        config.attributes["connection"] = connection
        command.upgrade(config, "0003")
    with sqlite3.connect(db) as conn:
        conn.execute("INSERT INTO people (id, name, created_at) VALUES (1, 'Ada', '2026-01-01 00:00:00')")
        conn.execute(
            "INSERT INTO samples (person_id, embedding, thumbnail, sha256, box_x1, box_y1, box_x2, box_y2, "
            "detection_score, face_px, sharpness, faces_found, created_at) VALUES (1, ?, x'00', 'h', 0, 0, "
            "1, 1, 1, 100, 100, 1, '2026-01-01 00:00:00')",
            (np.zeros(128, "<f4").tobytes(),),
        )
    gallery = open_gallery(str(db))
    assert gallery.model() == "facenet" and gallery.training_set().embeddings.shape == (1, 128)


def test_a_vggface2_gallery_enrolls_and_identifies_with_that_models_thresholds(
    enrollable: dict[str, list[Path]], models: ModelFiles, tmp_path: Path
) -> None:
    gallery = open_gallery(str(tmp_path / "g.db"))
    vgg = FaceGate(model="vggface2")
    for name in ("madonna", "elton_john", "jerry_seinfeld"):
        person = gallery.add_person(name)
        for path in enrollable[name][:PER_PERSON]:
            assert enroll_photo(vgg, gallery, person.id, path.read_bytes(), str(path)).accepted
    refused = enroll_photo(FaceGate(), gallery, person.id, enrollable[name][PER_PERSON].read_bytes(), "f.jpg")
    assert not refused.accepted and "holds vggface2 embeddings" in refused.reasons[0]
    fitted, decisions = GalleryIdentifier(gallery).decide(vgg.embed(enrollable["madonna"][PER_PERSON]))
    assert fitted.identifier is not None and fitted.identifier.model == "vggface2"
    assert fitted.threshold is not None and fitted.threshold <= prior_distance(1e-3, 1, "vggface2")
    assert gallery.names([int(decisions[0].label)]) == {int(decisions[0].label): "madonna"}


def test_enroll_command_takes_the_galleries_model_and_identify_estimates_attributes(
    enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "people" / "madonna"
    folder.mkdir(parents=True)
    for path in enrollable["madonna"][:2]:
        (folder / path.name).write_bytes(path.read_bytes())
    db = str(tmp_path / "g.db")
    assert run(["enroll", str(folder.parent), "--db", db, "--model", "vggface2"]) == 0
    assert open_gallery(db).model() == "vggface2"
    assert run(["enroll", str(folder.parent), "--db", db, "--model", "facenet"]) == 2
    assert "holds vggface2 embeddings" in capsys.readouterr().err
    assert run(["identify", str(enrollable["madonna"][PER_PERSON]), "--db", db]) == 0  # the gallery's model
    assert "madonna" in capsys.readouterr().out
    assert run(["identify", str(enrollable["madonna"][PER_PERSON]), "--db", db, "--json", "--attributes"]) == 0
    face = json.loads(capsys.readouterr().out)["photos"][0]["faces"][0]
    assert face["name"] == "madonna" and face["gender"] == "female" and 15 < face["age"] < 70
