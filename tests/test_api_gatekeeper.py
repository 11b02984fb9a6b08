"""Work before authentication and cost without limits: a request without a usable key is answered before its body
is read (nothing spooled), a body is capped while it streams (chunked included), wrong keys from one address are
slowed down, heavy work runs a bounded number at a time (503 + Retry-After past the queue) and one request may
only have so many pixels decoded."""

from __future__ import annotations

import io
import select
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from fastapi import HTTPException
from fastapi.testclient import TestClient
from PIL import Image
from service_fixtures import Server, start_server

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.api.work import WorkLimit
from facegate.gallery import open_gallery

MB = 1024 * 1024


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, dict[str, str], Path]]:
    """A real server (1 MB per image) whose temporary files go to a folder of its own, and a key per role."""
    folder = tmp_path_factory.mktemp("gatekeeper")
    spool = folder / "tmp"
    spool.mkdir()
    gallery = open_gallery(str(folder / "gallery.db"))
    keys = {role: create_key(gallery, role, role)[0] for role in ("admin", "gate")}
    server = start_server(
        str(folder / "gallery.db"), folder / "server.log", env={"TMPDIR": str(spool), "FACEGATE_MAX_UPLOAD_MB": "1"}
    )
    yield server, keys, spool
    server.stop()


def spooled(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file())


def chunked_upload(server: Server, path: str, key: str | None, megabytes: int) -> tuple[str, int]:
    """POST a chunked body of up to `megabytes` MB, reading the answer while sending; (status line, MB sent)."""
    url = urlsplit(server.url)
    with socket.create_connection((url.hostname, url.port), timeout=30) as conn:
        head = [
            f"POST {path} HTTP/1.1",
            f"Host: {url.netloc}",
            "Transfer-Encoding: chunked",
            "Content-Type: multipart/form-data; boundary=x",
        ] + ([f"X-API-Key: {key}"] if key else [])
        part = b'--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\n'
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + f"{len(part):x}\r\n".encode() + part + b"\r\n")
        chunk = f"{MB:x}\r\n".encode() + b"\0" * MB + b"\r\n"
        for sent in range(megabytes + 1):
            if select.select([conn], [], [], 0.2 if sent == 0 else 0)[0]:
                return conn.recv(4096).split(b"\r\n", 1)[0].decode(), sent
            try:
                conn.sendall(chunk)
            except OSError:  # the server closed the connection after answering
                break
        return conn.recv(4096).split(b"\r\n", 1)[0].decode(), megabytes


@pytest.mark.parametrize("key", [None, "fg_not-a-key"])
def test_a_request_without_a_usable_key_is_refused_before_its_body(
    served: tuple[Server, dict[str, str], Path], key: str | None
) -> None:
    server, _, spool = served
    started = time.monotonic()
    status, sent = chunked_upload(server, "/people/1/samples", key, 600)
    assert status == "HTTP/1.1 401 Unauthorized" and sent == 0
    assert time.monotonic() - started < 5 and spooled(spool) < MB


def test_a_gate_key_cannot_upload_where_only_admins_may(served: tuple[Server, dict[str, str], Path]) -> None:
    server, keys, _ = served
    status, sent = chunked_upload(server, "/people/1/samples", keys["gate"], 100)
    assert status == "HTTP/1.1 403 Forbidden" and sent == 0


def test_a_chunked_body_is_cut_off_at_the_limit(served: tuple[Server, dict[str, str], Path]) -> None:
    server, keys, spool = served
    status, sent = chunked_upload(server, "/identify", keys["gate"], 600)  # /identify takes one 1 MB image
    assert status == "HTTP/1.1 413 Request Entity Too Large" and sent <= 8
    assert spooled(spool) < 3 * MB
    with server.client(keys["gate"]) as client:  # and the server goes on answering
        assert client.get("/health").status_code == 200


@pytest.fixture
def small(fg: FaceGate, tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The service in process with small limits: 3 wrong keys per second, 100,000 pixels per request."""
    db = str(tmp_path / "gallery.db")
    gallery = open_gallery(db)
    keys = {role: create_key(gallery, role, role)[0] for role in ("admin", "gate")}
    settings = Settings(db=db, failed_key_limit=3, failed_key_window_s=1.0, max_request_pixels=100_000)
    with TestClient(create_app(settings, fg=fg)) as client:
        yield client, keys


def test_wrong_keys_from_one_address_are_slowed_down(small: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = small
    assert [client.get("/people", headers={"X-API-Key": f"fg_guess{i}"}).status_code for i in range(3)] == [401] * 3
    blocked = client.get("/people", headers={"X-API-Key": keys["admin"]})  # even a good key waits: no oracle
    assert blocked.status_code == 429 and blocked.headers["retry-after"] == "1"
    assert client.get("/people", headers={"X-API-Key": ""}).status_code == 429
    assert client.get("/health").status_code == 200
    time.sleep(1.1)
    assert client.get("/people", headers={"X-API-Key": keys["admin"]}).status_code == 200


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (120, 110, 100)).save(out, format="PNG")
    return out.getvalue()


def test_one_request_has_a_pixel_budget(small: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = small
    files = {"image": ("a.png", png(300, 300), "image/png"), "other": ("b.png", png(200, 200), "image/png")}
    answer = client.post("/verify", files=files, headers={"X-API-Key": keys["gate"]})
    assert answer.status_code == 413 and "b.png: 40,000 pixels is more than this request has left" in answer.text
    person = client.post("/people", json={"name": "p"}, headers={"X-API-Key": keys["admin"]}).json()["id"]
    enrolled = client.post(
        f"/people/{person}/samples",
        headers={"X-API-Key": keys["admin"]},
        files=[("files", ("c.png", png(300, 300), "image/png")), ("files", ("d.png", png(300, 300), "image/png"))],
    ).json()
    assert "no face" in enrolled["results"][0]["reasons"][0]  # decoded and looked at
    assert "more than this request has left" in enrolled["results"][1]["reasons"][0]  # refused before decoding


def take_a_slot(limit: WorkLimit, refusal: str) -> None:
    """Ask `limit` for a slot, expecting the 503 whose detail says `refusal`."""
    with pytest.raises(HTTPException, match=refusal), limit.slot():
        pass


def test_heavy_work_is_bounded_with_a_clear_503(small: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = small
    limit = WorkLimit(slots=1, queue=1, wait_s=0.3)
    client.app.state.service.work = limit
    with limit.slot():  # one request at work
        started = time.monotonic()
        answer = client.post(
            "/identify", files={"image": ("a.png", png(64, 64), "image/png")}, headers={"X-API-Key": keys["gate"]}
        )
        assert answer.status_code == 503 and answer.headers["retry-after"] == "1"
        assert "no slot came free within 0.3 s" in answer.json()["detail"] and time.monotonic() - started < 3
        waiting = threading.Thread(target=take_a_slot, args=(limit, "no slot came free"))
        waiting.start()  # a second request waits in the queue...
        time.sleep(0.05)
        take_a_slot(limit, "1 requests at work and 1 waiting")  # ...so a third is turned away at once
        waiting.join()
    assert (
        client.post(
            "/identify", files={"image": ("a.png", png(64, 64), "image/png")}, headers={"X-API-Key": keys["gate"]}
        ).status_code
        == 200
    )
