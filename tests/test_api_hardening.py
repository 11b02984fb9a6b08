"""The gate service on bad input, on SQLite and PostgreSQL alike: ids outside the integer range, undecodable and
invisible text, impossible dates, over-long file names and a failure half-way through an enrollment each get a
clear 4xx (or a per-photo verdict), never a 500; an unexpected error is a JSON 500 that does not escape the app."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_fixtures import upload
from test_imageio import png_header_claiming

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.gallery import open_gallery

HUGE = 2**63  # past SQLite's and PostgreSQL's integers
BIG = 2**31  # past PostgreSQL's INTEGER


@dataclass
class Gate:
    client: TestClient
    db: str
    keys: dict[str, str]


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def gate(request: pytest.FixtureRequest, fg: FaceGate, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gate]:
    """The service in process over an empty gallery of each kind, with an admin and a gate key."""
    if request.param == "sqlite":
        db = str(tmp_path_factory.mktemp("hardening") / "gallery.db")
    else:
        db = request.getfixturevalue("postgres").create_database(f"h_{uuid.uuid4().hex[:12]}")
    gallery = open_gallery(db)
    keys = {role: create_key(gallery, role, f"{role}-key")[0] for role in ("admin", "gate")}
    with TestClient(create_app(Settings(db=db), fg=fg)) as client:
        client.headers["X-API-Key"] = keys["admin"]
        yield Gate(client, db, keys)


def raw_multipart(files: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """A multipart body of `files` fields with the file names exactly as given (UTF-8, nothing escaped)."""
    boundary = uuid.uuid4().hex
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: image/jpeg\r\n\r\n".encode("utf-8", "surrogatepass")
        + data
        + b"\r\n"
        for name, data in files
    ]
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize("big", [HUGE, BIG, -1, 0])
def test_ids_out_of_range_are_a_4xx(gate: Gate, big: int) -> None:
    client = gate.client
    answers = [
        client.get(f"/people/{big}"),
        client.patch(f"/people/{big}", json={"name": "x"}),
        client.delete(f"/people/{big}"),
        client.get(f"/people/{big}/samples"),
        client.post(f"/people/{big}/samples", files=[("files", ("a.jpg", b"x", "image/jpeg"))]),
        client.get(f"/samples/{big}/thumbnail"),
        client.delete(f"/samples/{big}"),
        client.delete(f"/keys/{big}"),
        client.get("/events", params={"person_id": big}),
        client.get("/events", params={"offset": big or -1}),
        client.post("/verify", data={"person_id": str(big)}, files={"image": ("a.jpg", b"x", "image/jpeg")}),
    ]
    assert all(a.status_code in (404, 422) and "detail" in a.json() for a in answers), [
        (a.request.url, a.status_code, a.text[:200]) for a in answers if a.status_code not in (404, 422)
    ]


def test_a_lone_surrogate_is_a_422_that_does_not_echo_it(gate: Gate) -> None:
    for body in (b'{"name": "\\ud800"}', b'{"name": "ok\\udfff"}', b'{"role": "gate", "name": "\\ud800"}'):
        answer = gate.client.post(
            "/people" if b"role" not in body else "/keys", content=body, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 422 and "\\ud800" not in answer.text and "input" not in answer.text
        assert answer.json()["detail"][0]["loc"][:2] == ["body", "name"]


@pytest.mark.parametrize(
    "query",
    [
        {"since": "0001-01-01T00:00:00+05:00"},
        {"until": "9999-12-31T23:59:59-05:00"},
        {"since": "0000-01-01T00:00:00"},
        {"since": "10000-01-01T00:00:00"},
    ],
)
def test_impossible_dates_are_a_422(gate: Gate, query: dict[str, str]) -> None:
    assert gate.client.get("/events", params=query).status_code == 422


@pytest.mark.parametrize(
    "name",
    ["nul\x00name", "two\r\nlines", "zero\u200bwidth", "evil\u202egpj.exe", "bom\ufeff", "x" * 201, "   ", "tab\there"],
)
def test_names_with_invisible_characters_or_too_long_are_refused(gate: Gate, name: str) -> None:
    client = gate.client
    created = client.post("/people", json={"name": name})
    assert created.status_code == 422, created.text
    assert name not in created.text
    person = client.post("/people", json={"name": f"valid {uuid.uuid4().hex[:6]}"}).json()
    assert client.patch(f"/people/{person['id']}", json={"name": name}).status_code == 422
    assert client.post("/keys", json={"role": "viewer", "name": name}).status_code == 422
    assert client.get("/events", params={"gate": name}).status_code == 422
    assert client.get(f"/people/{person['id']}").json()["name"] == person["name"]


def test_names_are_stored_normalised(gate: Gate) -> None:
    decomposed = "Zoe\u0301 Ma\u0301rquez"  # e + combining acute: NFC makes it one character
    person = gate.client.post("/people", json={"name": f"  {decomposed}  "})
    assert person.status_code == 201 and person.json()["name"] == "Zoé Márquez"


def test_long_and_odd_file_names_are_mended_and_enrollment_is_per_photo(
    gate: Gate, enrollable: dict[str, list[Path]], monkeypatch: pytest.MonkeyPatch
) -> None:
    client = gate.client
    person = client.post("/people", json={"name": f"files {uuid.uuid4().hex[:6]}"}).json()["id"]
    photos = enrollable["madonna"]
    odd = "\u202e" + "n" * 600 + "\x00.jpg"  # sent raw: httpx would percent-encode the NUL
    body, content_type = raw_multipart([(photos[0].name, photos[0].read_bytes()), (odd, photos[1].read_bytes())])
    both = client.post(f"/people/{person}/samples", content=body, headers={"Content-Type": content_type})
    assert both.status_code == 201 and both.json()["accepted"] == 2, both.text
    stored = client.get(f"/people/{person}/samples").json()
    assert [len(s["filename"]) for s in stored] == [len(photos[0].name), 255]
    assert stored[1]["filename"].endswith("nnn.jpg") and "\x00" not in stored[1]["filename"]

    gallery = client.app.state.service.gallery
    real_add = gallery.add_sample
    calls: list[int] = []

    def fail_second(person_id: int, new: object) -> object:
        calls.append(person_id)
        if len(calls) == 2:
            raise RuntimeError("the database went away")
        return real_add(person_id, new)

    monkeypatch.setattr(gallery, "add_sample", fail_second)
    partial = client.post(f"/people/{person}/samples", files=[upload(photos[2]), upload(photos[3])])
    body = partial.json()
    assert partial.status_code == 201 and [r["accepted"] for r in body["results"]] == [True, False], partial.text
    assert "could not be stored" in body["results"][1]["reasons"][0]
    assert len(client.get(f"/people/{person}/samples").json()) == 3


def test_an_unexpected_error_is_a_json_500_that_stays_inside_the_app(gate: Gate) -> None:
    app = gate.client.app

    @app.get("/test-boom")
    def boom() -> None:
        raise RuntimeError("boom")

    # TestClient re-raises whatever escapes the app; uvicorn would drop the connection on it
    answer = gate.client.get("/test-boom")
    assert answer.status_code == 500 and answer.json() == {"detail": "internal error (logged on the server)"}


def test_cli_refuses_a_long_key_name_in_one_line(gate: Gate) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "facegate", "keys", "create", "--role", "gate", "--name", "k" * 250, "--db", gate.db],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "at most 200 characters" in done.stderr


def test_a_decompression_bomb_is_a_4xx(gate: Gate) -> None:
    bomb = png_header_claiming(50_000, 50_000)  # past Pillow's own guard, which now stays on
    answer = gate.client.post(
        "/identify", files={"image": ("bomb.png", bomb, "image/png")}, headers={"X-API-Key": gate.keys["gate"]}
    )
    assert answer.status_code == 422 and "bomb.png" in answer.json()["detail"] and "exceeds the limit" in answer.text
