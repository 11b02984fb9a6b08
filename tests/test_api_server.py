"""The gate service as a real process: killed (SIGKILL) in the middle of a bulk enrollment it loses nothing it had
acknowledged, and 20 clients identifying at once (over PostgreSQL) get no errors and lose no events."""

from __future__ import annotations

import os
import signal
import sqlite3
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from service_fixtures import PER_PERSON, Server, enroll_all, jpeg_variant, start_server, upload, wait_fitted
from sqlalchemy import text

from facegate.api.auth import create_key
from facegate.gallery import open_gallery


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[tuple[Server, str, str]]:
    db = str(tmp_path / "gallery.db")
    key = create_key(open_gallery(db), "admin", "lab")[0]
    server = start_server(db, tmp_path / "server.log")
    yield server, db, key
    server.stop()


def test_sigkill_during_bulk_enrollment_keeps_every_acknowledged_sample(
    sqlite_server: tuple[Server, str, str], enrollable: dict[str, list[Path]]
) -> None:
    server, db, key = sqlite_server
    photos = [path for paths in enrollable.values() for path in paths]
    acknowledged: list[int] = []
    in_flight = threading.Event()
    kill_after = 6

    def enroll() -> None:
        with server.client(key) as client:
            person = client.post("/people", json={"name": "bulk"}).json()["id"]
            for n in range(200):  # far more than get through before the kill
                data = jpeg_variant(photos[n % len(photos)], n)
                if len(acknowledged) >= kill_after:
                    in_flight.set()
                try:
                    response = client.post(f"/people/{person}/samples", files=[upload(Path(f"{n}.jpg"), data=data)])
                except httpx.TransportError:
                    return
                acknowledged.extend(r["sample_id"] for r in response.json()["results"] if r["accepted"])

    worker = threading.Thread(target=enroll)
    worker.start()
    assert in_flight.wait(600), server.log.read_text()[-2000:]
    os.kill(server.process.pid, signal.SIGKILL)
    worker.join(120)
    assert server.process.wait(30) == -signal.SIGKILL

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert conn.execute("PRAGMA foreign_key_check").fetchall() == []
        stored = {row[0] for row in conn.execute("SELECT id FROM samples")}
        revision = conn.execute("SELECT revision FROM gallery_state").fetchone()[0]
    assert len(acknowledged) >= kill_after and set(acknowledged) <= stored
    assert revision == 1 + len(stored)  # the person, then one bump per stored sample: nothing half-written
    restarted = start_server(db, server.log)
    try:
        with restarted.client(key) as client:
            assert client.get("/people").json()[0]["samples"] == len(stored)
    finally:
        restarted.stop()


def test_twenty_clients_identifying_at_once_lose_no_frame(
    postgres,
    enrollable: dict[str, list[Path]],
    tmp_path: Path,
) -> None:
    db = postgres.create_database("concurrency")
    gallery = open_gallery(db)
    admin = create_key(gallery, "admin", "lab")[0]
    gate = create_key(gallery, "gate", "door-7")[0]
    server = start_server(db, tmp_path / "server.log")
    try:
        with server.client(admin) as client:
            enroll_all(client, {name: enrollable[name] for name in ("madonna", "elton_john", "mindy_kaling")})
            wait_fitted(client)
        probe = enrollable["madonna"][PER_PERSON].read_bytes()
        stop = threading.Event()
        results: list[tuple[str, list[int]]] = []
        errors: list[str] = []

        def gate_client() -> None:
            with server.client(gate, timeout=300) as client:
                while not stop.is_set():
                    response = client.post("/identify", files={"image": ("probe.jpg", probe, "image/jpeg")})
                    if response.status_code == 503:  # more clients than work slots and queue: wait as told
                        time.sleep(float(response.headers["Retry-After"]))
                        continue
                    if response.status_code != 200:
                        errors.append(f"{response.status_code} {response.text}")
                        return
                    body = response.json()
                    results.append((body["faces"][0]["name"], body["event_ids"]))

        clients = [threading.Thread(target=gate_client) for _ in range(20)]
        for c in clients:
            c.start()
        stop.wait(12)  # the bounded time; every request started before it still completes
        stop.set()
        for c in clients:
            c.join(600)
        assert errors == []
        assert len(results) >= 20 and {name for name, _ in results} == {"madonna"}
        event_ids = {i for _, ids in results for i in ids}
        with gallery.engine.connect() as conn:
            stored = conn.execute(text("SELECT id, gate, decision, frames FROM events")).all()
        # one gate, one face in view: every answer names the same passage, and its event counted every frame
        assert len(stored) == 1 and event_ids == {stored[0].id}
        assert (stored[0].gate, stored[0].decision, stored[0].frames) == ("door-7", "match", len(results))
    finally:
        server.stop()
