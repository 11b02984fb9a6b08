"""Ids are never handed out twice, and deleting a person leaves nothing of their face behind: no reused id inherits
events or thumbnails (SQLite and PostgreSQL), galleries made before are migrated, the SQLite files hold no byte of a
deleted person's name, embeddings or thumbnails while the server still runs, and the CLI deletes and renames."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from service_fixtures import start_server, upload, wait_fitted
from sqlalchemy import create_engine, text

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.cli import main as facegate_main
from facegate.gallery import open_gallery
from facegate.gallery.database import MIGRATIONS


@pytest.fixture
def client(db_url: str, fg: FaceGate) -> Iterator[TestClient]:
    """The service in process over an empty gallery of each kind, with an admin key."""
    key = create_key(open_gallery(db_url), "admin", "admin")[0]
    with TestClient(create_app(Settings(db=db_url), fg=fg)) as served:
        served.headers["X-API-Key"] = key
        yield served


def test_ids_are_never_reused_and_thumbnails_are_not_cached(
    client: TestClient, enrollable: dict[str, list[Path]]
) -> None:
    gallery = client.app.state.service.gallery
    first = client.post("/people", json={"name": "first"}).json()["id"]
    gone = client.post("/people", json={"name": "gone"}).json()["id"]
    enrolled = client.post(f"/people/{gone}/samples", files=[upload(enrollable["madonna"][0])]).json()
    old_sample = enrolled["results"][0]["sample_id"]
    thumb = client.get(f"/samples/{old_sample}/thumbnail")
    assert thumb.headers["cache-control"] == "no-store"
    gallery.add_events("door", [(gone, "match", 0.9, 0.4)])
    assert client.delete(f"/people/{gone}").status_code == 204

    newcomer = client.post("/people", json={"name": "newcomer"}).json()["id"]
    assert newcomer > gone > first
    assert client.get("/events", params={"person_id": newcomer}).json() == []
    assert [e["gate"] for e in client.get("/events", params={"person_id": gone}).json()] == ["door"]
    again = client.post(f"/people/{newcomer}/samples", files=[upload(enrollable["elton_john"][0])]).json()
    assert again["results"][0]["sample_id"] > old_sample
    assert client.get(f"/samples/{old_sample}/thumbnail").status_code == 404


def test_existing_sqlite_galleries_are_migrated_without_losing_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:  # a gallery as the previous release left it
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text("INSERT INTO people (id, name, created_at) VALUES (1, 'a', '2024-01-01'), (2, 'b', '2024-01-01')")
        )
        connection.execute(
            text(
                "INSERT INTO samples (id, person_id, embedding, thumbnail, sha256, box_x1, box_y1, "
                "box_x2, box_y2, detection_score, face_px, sharpness, faces_found, created_at) "
                "VALUES (1, 1, x'00', x'00', 'h1', 0, 0, 1, 1, 1, 100, 1, 1, '2024-01-01')"
            )
        )
        connection.execute(
            text(
                "INSERT INTO events (time, gate, person_id, decision, score) "
                "VALUES ('2024-01-01', 'door', 3, 'match', 0.9)"
            )
        )  # person 3 was deleted
    engine.dispose()

    gallery = open_gallery(str(path))
    assert [(p.id, p.name, p.samples) for p in gallery.people()] == [(1, "a", 1), (2, "b", 0)]
    assert gallery.add_person("c").id == 4  # past the deleted person the event names
    with sqlite3.connect(path) as conn:
        tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
        assert all("AUTOINCREMENT" in tables[t] for t in ("people", "samples", "events", "api_keys"))
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
    gallery.delete_person(1)
    assert gallery.people()[0].name == "b" and gallery.sample_by_hash("h1") is None


def _traces(files: list[Path], needles: dict[str, bytes]) -> set[str]:
    """Which needles have any 48-byte piece (every 24 bytes) somewhere in the files: thumbnails span pages."""
    data = b"".join(f.read_bytes() for f in files if f.exists())
    return {
        name
        for name, needle in needles.items()
        if any(needle[i : i + 48] in data for i in range(0, max(1, len(needle) - 47), 24))
    }


def test_deleting_a_person_leaves_no_byte_of_them_in_the_sqlite_files(
    enrollable: dict[str, list[Path]], tmp_path: Path
) -> None:
    db = tmp_path / "gallery.db"
    key = create_key(open_gallery(str(db)), "admin", "lab")[0]
    server = start_server(str(db), tmp_path / "server.log")
    target = f"Erasure Target {uuid.uuid4().hex[:8]}"
    try:
        with server.client(key) as client:
            person = client.post("/people", json={"name": target}).json()["id"]
            other = client.post("/people", json={"name": "Stays"}).json()["id"]
            assert (
                client.post(f"/people/{person}/samples", files=[upload(p) for p in enrollable["madonna"]]).json()[
                    "accepted"
                ]
                == 4
            )
            client.post(f"/people/{other}/samples", files=[upload(enrollable["elton_john"][0])])
            wait_fitted(client)
            with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
                rows = conn.execute(
                    "SELECT id, embedding, thumbnail FROM samples WHERE person_id = ?", (person,)
                ).fetchall()
            conn.close()
            needles = {"name": target.encode()}
            for sample_id, embedding, thumbnail in rows:
                needles[f"embedding {sample_id}"] = embedding
                # from the scan header on: the tables before it are alike in every thumbnail
                needles[f"thumbnail {sample_id}"] = thumbnail[thumbnail.index(b"\xff\xda") :]
            files = [db, db.with_name(db.name + "-wal")]
            assert _traces(files, needles) == set(needles)  # the scan finds them while they are enrolled
            assert client.delete(f"/people/{person}").status_code == 204
            assert _traces(files, needles) == set()
            assert [p["name"] for p in client.get("/people").json()] == ["Stays"]
    finally:
        server.stop()


def test_cli_deletes_and_renames_people(db_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    gallery = open_gallery(db_url)
    ada = gallery.add_person("Ada")
    gallery.add_person("Grace")
    assert facegate_main(["people", "rename", str(ada.id), "Ada Lovelace", "--db", db_url]) == 0
    assert facegate_main(["people", "delete", "Grace", "--db", db_url]) == 2  # not a terminal: needs --yes
    assert "add --yes" in capsys.readouterr().err
    assert facegate_main(["people", "delete", "Grace", "--yes", "--db", db_url]) == 0
    assert facegate_main(["people", "delete", "Grace", "--yes", "--db", db_url]) == 2
    assert facegate_main(["people", "delete", "99999999999", "--yes", "--db", db_url]) == 2
    assert facegate_main(["people", "rename", str(ada.id), "bad\u202ename", "--db", db_url]) == 2
    capsys.readouterr()
    assert facegate_main(["people", "--db", db_url, "--json"]) == 0
    assert '"name": "Ada Lovelace"' in capsys.readouterr().out
    assert facegate_main(["people", "list", "--db", db_url]) == 0
    out = capsys.readouterr().out
    assert "1 people" in out and "Grace" not in out
    assert np.all([p.name != "Grace" for p in gallery.people()])
