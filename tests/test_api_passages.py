"""Access events per passage over REST: a person held in front of a gate's camera makes one event however many frames
it sends, and a second one after leaving for longer than the passage expiry; the gate comes from the key; events are
paged, filtered and exported as CSV and JSON."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from PIL import Image
from service_fixtures import PER_PERSON, enroll_all, wait_fitted

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.gallery import NotFoundError, open_engine, open_gallery
from facegate.gallery.database import MIGRATIONS
from facegate.gallery.repository import PassageRecord

EXPIRY_S = 5
FPS = 5  # a browser's live view sends a few frames a second


class FakeClock:
    """The service's clock for passages, moved on by the test (so 10 s of camera take no 10 s of waiting)."""

    def __init__(self) -> None:
        self.now = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def gate_service(
    fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, int], FakeClock]]:
    """The five celebrities enrolled; an admin key, two gate keys of the gate "north entrance", one gate key without
    a gate, a viewer key; the passages' clock is the test's."""
    db = str(tmp_path_factory.mktemp("passages") / "gallery.db")
    gallery = open_gallery(db)
    keys = {
        "admin": create_key(gallery, "admin", "admin")[0],
        "north-1": create_key(gallery, "gate", "north-1", gate="north entrance")[0],
        "north-2": create_key(gallery, "gate", "north-2", gate="north entrance")[0],
        "side-door": create_key(gallery, "gate", "side-door")[0],
        "viewer": create_key(gallery, "viewer", "viewer")[0],
    }
    clock = FakeClock()
    with TestClient(create_app(Settings(db=db, passage_s=EXPIRY_S), fg=fg)) as client:
        client.app.state.service.passages.clock = clock  # type: ignore[attr-defined]
        client.headers["X-API-Key"] = keys["admin"]
        ids = enroll_all(client, enrollable)
        wait_fitted(client)
        yield client, keys, ids, clock


def camera_frames(photo: Path, n: int, seed: int) -> Iterator[bytes]:
    """`n` JPEG frames of a photo as a camera on a person standing still gives them: each shifted by a few pixels,
    slightly rescaled, lighter or darker, with sensor noise."""
    rng = np.random.default_rng(seed)
    base = Image.open(photo).convert("RGB")
    for _ in range(n):
        scale = rng.uniform(0.97, 1.03)
        size = (round(base.width * scale), round(base.height * scale))
        pixels = np.asarray(base.resize(size, Image.Resampling.BILINEAR), np.float32)
        pixels = np.roll(pixels, tuple(rng.integers(-4, 5, 2)), axis=(0, 1))
        pixels = pixels * rng.uniform(0.9, 1.1) + rng.normal(0, 3, pixels.shape)
        out = io.BytesIO()
        Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(out, format="JPEG", quality=85)
        yield out.getvalue()


def send(client: TestClient, key: str, frames: Iterator[bytes], clock: FakeClock) -> list[list[int]]:
    """Each frame to /identify with `key`, FPS frames a second by the clock; each frame's event ids."""
    ids = []
    for frame in frames:
        answer = client.post(
            "/identify", files=[("image", ("frame.jpg", frame, "image/jpeg"))], headers={"X-API-Key": key}
        )
        assert answer.status_code == 200, answer.text
        ids.append(answer.json()["event_ids"])
        clock.advance(1 / FPS)
    return ids


def gate_events(client: TestClient, gate: str) -> list[dict]:
    return client.get("/events", params={"gate": gate, "limit": 1000}).json()


def test_ten_seconds_in_view_is_one_event_and_coming_back_later_is_another(
    gate_service: tuple, enrollable: dict[str, list[Path]]
) -> None:
    client, keys, ids, clock = gate_service
    probe = enrollable["madonna"][PER_PERSON]  # not enrolled: a new photo of her
    start = clock.now
    first = send(client, keys["north-1"], camera_frames(probe, 10 * FPS, seed=1), clock)
    assert all(len(frame) == 1 for frame in first)  # one face in every frame
    assert len({frame[0] for frame in first}) == 1  # ... and one passage
    events = gate_events(client, "north entrance")
    assert len(events) == 1
    event = events[0]
    assert (event["name"], event["person_id"], event["decision"]) == ("madonna", ids["madonna"], "match")
    assert event["frames"] == 10 * FPS and event["id"] == first[0][0]
    seen = datetime.fromisoformat(event["last_seen"]) - datetime.fromisoformat(event["first_seen"])
    assert seen == timedelta(seconds=(10 * FPS - 1) / FPS) and datetime.fromisoformat(event["first_seen"]) == start
    assert 0.5 < event["score"] <= 1 and event["distance"] is not None
    snapshot = client.get(event["snapshot"], headers={"X-API-Key": keys["viewer"]})
    assert snapshot.headers["content-type"] == "image/jpeg"
    assert Image.open(io.BytesIO(snapshot.content)).size == (160, 160)

    clock.advance(EXPIRY_S + 3)  # she left; the other key of the same gate sees her come back
    second = send(client, keys["north-2"], camera_frames(probe, 3 * FPS, seed=2), clock)
    assert len({frame[0] for frame in second}) == 1 and second[0][0] != first[0][0]
    events = gate_events(client, "north entrance")
    assert [e["frames"] for e in events] == [3 * FPS, 10 * FPS]  # newest first
    assert {e["name"] for e in events} == {"madonna"}


def test_a_short_look_away_stays_one_passage_and_gates_are_kept_apart(
    gate_service: tuple, enrollable: dict[str, list[Path]], stranger: Path
) -> None:
    client, keys, _, clock = gate_service
    probe = enrollable["elton_john"][PER_PERSON]
    clock.advance(EXPIRY_S + 1)
    before = send(client, keys["side-door"], camera_frames(probe, 5, seed=3), clock)
    empty = Image.new("RGB", (320, 240), (90, 90, 90))
    blank = io.BytesIO()
    empty.save(blank, format="JPEG")
    send(client, keys["side-door"], iter([blank.getvalue()] * 10), clock)  # 2 s without a face: within the expiry
    after = send(client, keys["side-door"], camera_frames(probe, 5, seed=4), clock)
    assert {f[0] for f in before} == {f[0] for f in after}
    send(client, keys["side-door"], camera_frames(stranger, 5, seed=5), clock)
    events = gate_events(client, "side-door")  # a key without a gate records at its own name
    assert [(e["decision"], e["name"]) for e in events] == [("unknown", None), ("match", "elton_john")]
    assert events[1]["frames"] == 10 and events[0]["person_id"] is None
    assert all(e["gate"] == "side-door" for e in events)
    assert not any(e["name"] == "elton_john" for e in gate_events(client, "north entrance"))


def test_events_are_paged_filtered_and_exported(gate_service: tuple) -> None:
    client, keys, ids, _ = gate_service
    gallery = client.app.state.service.gallery  # type: ignore[attr-defined]
    people = [ids["madonna"], None, ids["mindy_kaling"], None, ids["madonna"]]
    for person in people:
        gallery.add_events("paging", [(person, "match" if person else "unknown", 0.7 if person else 0.1, 0.8)])
    viewer = {"X-API-Key": keys["viewer"]}
    pages = [
        client.get("/events", params={"gate": "paging", "limit": 2, "offset": offset}, headers=viewer).json()
        for offset in (0, 2, 4)
    ]
    assert [len(p) for p in pages] == [2, 2, 1]
    listed = [e["id"] for p in pages for e in p]
    assert listed == sorted(listed, reverse=True) and len(set(listed)) == 5
    madonna = client.get("/events", params={"gate": "paging", "person_id": ids["madonna"]}, headers=viewer).json()
    assert len(madonna) == 2 and {e["name"] for e in madonna} == {"madonna"}
    unknown = client.get("/events", params={"gate": "paging", "decision": "unknown"}, headers=viewer).json()
    assert len(unknown) == 2
    later = datetime.now(UTC) + timedelta(hours=1)
    assert client.get("/events", params={"gate": "paging", "since": later.isoformat()}, headers=viewer).json() == []

    exported = client.get("/events/export", params={"gate": "paging", "format": "csv"}, headers=viewer)
    assert exported.headers["content-type"].startswith("text/csv")
    assert 'filename="events.csv"' in exported.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(exported.text)))
    assert [int(r["id"]) for r in rows] == listed
    assert [r["name"] for r in rows] == ["madonna", "", "mindy_kaling", "", "madonna"][::-1]
    as_json = client.get(
        "/events/export", params={"gate": "paging", "format": "json", "decision": "match"}, headers=viewer
    )
    body = json.loads(as_json.text)
    assert [e["id"] for e in body] == [e["id"] for e in pages[0] + pages[1] + pages[2] if e["decision"] == "match"]
    assert client.get("/events/export", params={"format": "xml"}, headers=viewer).status_code == 422
    assert client.get("/events/export", headers={"X-API-Key": keys["north-1"]}).status_code == 403
    assert client.get(f"/events/{listed[0]}/snapshot", headers=viewer).status_code == 404  # /verify-like: none


def test_keys_belong_to_gates(gate_service: tuple) -> None:
    client, _, _, _ = gate_service
    made = client.post("/keys", json={"role": "gate", "name": "lobby-2", "gate": "lobby"})
    assert made.status_code == 201 and made.json()["gate"] == "lobby"
    assert client.post("/keys", json={"role": "viewer", "gate": "lobby"}).status_code == 409
    assert {k["name"]: k["gate"] for k in client.get("/keys").json()}["north-1"] == "north entrance"


def test_events_and_keys_from_before_passages_migrate(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with open_engine(str(db)).begin() as connection:  # a gallery as it was before passages and gates
        config.attributes["connection"] = connection
        command.upgrade(config, "0004")
    with sqlite3.connect(db) as conn:
        conn.execute(
            "INSERT INTO events (time, gate, person_id, decision, score, distance) "
            "VALUES ('2026-01-01 08:00:00', 'door-7', NULL, 'unknown', 0.1, NULL)"
        )
        conn.execute(
            "INSERT INTO api_keys (name, role, key_hash, prefix, created_at) "
            "VALUES ('door-7', 'gate', 'h', 'fg_x', '2026-01-01 00:00:00')"
        )
    gallery = open_gallery(str(db))
    (event,) = gallery.events()
    assert event.last_seen == event.time == datetime(2026, 1, 1, 8, tzinfo=UTC)
    assert (event.frames, event.snapshot, event.gate) == (1, False, "door-7")
    (key,) = gallery.keys()
    assert key.gate is None and key.gate_name == "door-7"  # a key made before gates records at its name, as it did
    with open_engine(str(db)).begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0004")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT gate FROM events").fetchall() == [("door-7",)]
        tables = dict(conn.execute("SELECT name, sql FROM sqlite_master WHERE type = 'table'").fetchall())
    assert "AUTOINCREMENT" in tables["events"] and "AUTOINCREMENT" in tables["api_keys"]  # ids still never reused


def test_deleting_a_person_deletes_the_snapshots_of_their_passages(tmp_path: Path) -> None:
    db = tmp_path / "gallery.db"
    gallery = open_gallery(str(db))
    ada = gallery.add_person("Ada")
    marker = b"\xff\xd8 face of Ada, nowhere else \xff\xd9"
    now = datetime.now(UTC)
    event = gallery.record_passage(PassageRecord(None, "door", now, now, 3, ada.id, "match", 0.8, 0.6, marker))
    stranger = gallery.record_passage(PassageRecord(None, "door", now, now, 1, None, "unknown", 0.1, None, b"other"))
    assert gallery.snapshot(event) == marker
    gallery.delete_person(ada.id)
    with pytest.raises(NotFoundError):
        gallery.snapshot(event)
    assert gallery.snapshot(stranger) == b"other"  # an unknown face's snapshot stays with its event
    assert [(e.id, e.snapshot, e.frames) for e in gallery.events()] == [(stranger, True, 1), (event, False, 3)]
    files = [p for p in tmp_path.iterdir() if p.name.startswith("gallery.db")]
    assert files and not any(marker in p.read_bytes() for p in files)  # not in the database file, nor its WAL
