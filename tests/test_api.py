"""The REST API in process (FastAPI TestClient over SQLite): keys and roles, people and samples, identify, verify,
events, and bad uploads answered with a clear 4xx."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from service_fixtures import PER_PERSON, enroll_all, upload, wait_fitted

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.gallery import open_gallery

MAX_BYTES = 2_000_000


@pytest.fixture(scope="module")
def service(
    fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str], dict[str, int]]]:
    """A served gallery of the five celebrities (PER_PERSON photos each) and one key per role."""
    db = str(tmp_path_factory.mktemp("api") / "gallery.db")
    gallery = open_gallery(db)
    keys = {role: create_key(gallery, role, f"{role}-1")[0] for role in ("admin", "gate", "viewer")}
    with TestClient(create_app(Settings(db=db, max_upload_bytes=MAX_BYTES), fg=fg)) as client:
        client.headers["X-API-Key"] = keys["admin"]
        ids = enroll_all(client, enrollable)
        yield client, keys, ids


def as_role(keys: dict[str, str], role: str) -> dict[str, str]:
    return {"X-API-Key": keys[role]}


def test_every_endpoint_but_health_needs_a_key_with_the_right_role(service: tuple) -> None:
    client, keys, _ = service
    assert client.get("/health", headers={"X-API-Key": ""}).status_code == 200
    assert client.get("/people", headers={"X-API-Key": ""}).json() == {"detail": "missing X-API-Key header"}
    assert client.get("/people", headers={"X-API-Key": "fg_wrong"}).status_code == 401
    assert client.get("/people", headers=as_role(keys, "viewer")).status_code == 200
    assert client.post("/people", json={"name": "x"}, headers=as_role(keys, "viewer")).status_code == 403
    assert client.get("/events", headers=as_role(keys, "gate")).status_code == 403
    assert client.post("/keys", json={"role": "gate"}, headers=as_role(keys, "gate")).status_code == 403
    made = client.post("/keys", json={"role": "viewer", "name": "kiosk"})
    assert made.status_code == 201 and made.json()["key"].startswith("fg_")
    assert client.get("/people", headers={"X-API-Key": made.json()["key"]}).status_code == 200
    listed = client.get("/keys").json()
    assert "key" not in listed[0] and {k["name"] for k in listed} >= {"admin-1", "kiosk"}
    assert client.delete(f"/keys/{made.json()['id']}").status_code == 204
    assert client.get("/people", headers={"X-API-Key": made.json()["key"]}).status_code == 401
    assert client.get("/openapi.json").json()["paths"].keys() >= {"/identify", "/verify", "/events", "/people"}


def test_people_and_samples(service: tuple, enrollable: dict[str, list[Path]]) -> None:
    client, _, ids = service
    people = {p["name"]: p for p in client.get("/people").json()}
    assert set(people) == set(enrollable) and {p["samples"] for p in people.values()} == {PER_PERSON}
    samples = client.get(f"/people/{ids['madonna']}/samples").json()
    assert len(samples) == PER_PERSON and all(s["face_px"] >= 80 for s in samples)
    thumb = client.get(f"/samples/{samples[0]['id']}/thumbnail")
    assert thumb.headers["content-type"] == "image/jpeg" and Image.open(io.BytesIO(thumb.content)).size == (160, 160)
    again = client.post(f"/people/{ids['madonna']}/samples", files=[upload(enrollable["madonna"][0])])
    assert again.status_code == 422 and "already enrolled" in again.json()["results"][0]["reasons"][0]

    temp = client.post("/people", json={"name": "temp"}).json()
    assert client.post("/people", json={"name": "temp"}).status_code == 409
    assert client.patch(f"/people/{temp['id']}", json={"name": "temporary"}).json()["name"] == "temporary"
    mixed = client.post(
        f"/people/{temp['id']}/samples",
        files=[upload(enrollable["madonna"][PER_PERSON]), ("files", ("x.jpg", b"junk", "image/jpeg"))],
    )
    body = mixed.json()
    assert mixed.status_code == 201 and (body["accepted"], body["refused"]) == (1, 1)
    assert "x.jpg: not an image file" in body["results"][1]["reasons"][0]
    sample = body["results"][0]["sample_id"]
    assert client.delete(f"/samples/{sample}").status_code == 204
    assert client.get(f"/samples/{sample}/thumbnail").status_code == 404
    assert client.delete(f"/people/{temp['id']}").status_code == 204
    assert client.get(f"/people/{temp['id']}").status_code == 404


def test_identify_names_known_people_and_refuses_strangers(
    service: tuple, enrollable: dict[str, list[Path]], stranger: Path
) -> None:
    client, keys, ids = service
    assert wait_fitted(client)["identifier"] == "classifier + distance check"
    gate = as_role(keys, "gate")
    for name in ("elton_john", "mindy_kaling"):
        answer = client.post("/identify", files=[upload(enrollable[name][PER_PERSON], "image")], headers=gate).json()
        face = answer["faces"][0]
        assert (face["name"], face["person_id"], face["decision"]) == (name, ids[name], "match")
        assert 0 < face["score"] <= 1 and len(answer["event_ids"]) == len(answer["faces"])
    unknown = client.post("/identify", files=[upload(stranger, "image")], headers=gate).json()["faces"][0]
    assert (unknown["name"], unknown["person_id"], unknown["decision"]) == ("unknown", None, "unknown")
    assert unknown["probability"] is None  # nobody's probability is shown for a face that is nobody

    events = client.get("/events", params={"gate": "gate-1"}, headers=as_role(keys, "viewer")).json()
    assert [e["decision"] for e in events[:3]] == ["unknown", "match", "match"]
    mindy = client.get("/events", params={"person_id": ids["mindy_kaling"]}).json()
    assert [e["name"] for e in mindy] == ["mindy_kaling"]
    assert (
        client.get("/events", params={"decision": "unknown", "since": events[0]["time"]}).json()[0]["gate"] == "gate-1"
    )
    assert client.get("/events", params={"decision": "maybe"}).status_code == 422


def test_identify_says_where_its_time_went_in_server_timing(service: tuple, enrollable: dict[str, list[Path]]) -> None:
    client, keys, _ = service
    photo = [upload(enrollable["mindy_kaling"][PER_PERSON], "image")]
    timing = client.post("/identify", files=photo, headers=as_role(keys, "gate")).headers["Server-Timing"]
    stages = {part.split(";")[0]: float(part.split("dur=")[1]) for part in timing.split(", ")}
    assert list(stages) == ["queue", "decode", "faces", "decide", "events", "total"]
    assert stages["faces"] > 0 and stages["total"] >= sum(ms for name, ms in stages.items() if name != "total")
    assert client.get("/health").headers["Server-Timing"].startswith("total;dur=")  # no stages: the total alone


def test_identify_estimates_age_and_gender_only_when_asked(service: tuple, enrollable: dict[str, list[Path]]) -> None:
    client, keys, _ = service
    photo = [upload(enrollable["mindy_kaling"][PER_PERSON], "image")]
    plain = client.post("/identify", files=photo, headers=as_role(keys, "gate")).json()["faces"][0]
    assert plain["age"] is None and plain["gender"] is None
    asked = client.post("/identify", params={"attributes": "true"}, files=photo, headers=as_role(keys, "gate")).json()[
        "faces"
    ][0]
    assert asked["name"] == "mindy_kaling" and asked["gender"] == "female" and 15 < asked["age"] < 60
    assert 0.5 <= asked["gender_probability"] <= 1


def test_verify_image_against_image_and_person(
    service: tuple, enrollable: dict[str, list[Path]], stranger: Path
) -> None:
    client, keys, ids = service
    gate = as_role(keys, "gate")
    madonna = enrollable["madonna"]
    same = client.post("/verify", files=[upload(madonna[0], "image"), upload(madonna[1], "other")], headers=gate)
    assert same.json()["same"] is True
    person = client.post(
        "/verify", files=[upload(madonna[PER_PERSON], "image")], data={"person_id": ids["madonna"]}, headers=gate
    ).json()
    assert person["same"] is True and person["distance"] <= person["threshold"]
    other = client.post("/verify", files=[upload(stranger, "image")], data={"person_id": ids["madonna"]}, headers=gate)
    assert other.json()["same"] is False
    assert client.post("/verify", files=[upload(stranger, "image")], headers=gate).status_code == 422


def png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("L", (width, height)).save(out, format="PNG", optimize=True)
    return out.getvalue()


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"", 422, "empty file"),
        (b"GIF89a not really", 422, "photo.jpg: not an image file"),
        (png(6000, 5000), 413, "6000×5000 pixels exceeds the limit"),
        (b"\xff\xd8\xff" + bytes(MAX_BYTES), 413, "larger than the limit of 2,000,000 bytes"),
    ],
)
def test_bad_uploads_are_a_clear_4xx(service: tuple, data: bytes, status: int, message: str) -> None:
    client, keys, _ = service
    response = client.post(
        "/identify", files={"image": ("photo.jpg", data, "image/jpeg")}, headers=as_role(keys, "gate")
    )
    assert response.status_code == status and message in response.json()["detail"]


def test_truncated_jpeg_and_faceless_image(service: tuple, enrollable: dict[str, list[Path]]) -> None:
    client, keys, _ = service
    data = enrollable["madonna"][0].read_bytes()
    truncated = client.post(
        "/identify", files={"image": ("cut.jpg", data[: len(data) // 3], "image/jpeg")}, headers=as_role(keys, "gate")
    )
    assert truncated.status_code in (200, 422)  # PIL may decode a partial JPEG; it must never be a 500
    out = io.BytesIO()
    Image.fromarray(np.full((240, 320, 3), 200, np.uint8)).save(out, format="JPEG")
    empty = client.post(
        "/identify", files={"image": ("wall.jpg", out.getvalue(), "image/jpeg")}, headers=as_role(keys, "gate")
    ).json()
    assert empty["faces"] == [] and empty["event_ids"] == []
    assert client.post(
        "/verify",
        files={"image": ("wall.jpg", out.getvalue(), "image/jpeg")},
        data={"person_id": 1},
        headers=as_role(keys, "gate"),
    ).json() == {"detail": "no face found in the image"}


def test_deleted_person_leaves_events_with_only_an_id(service: tuple, enrollable: dict[str, list[Path]]) -> None:
    client, keys, ids = service
    wait_fitted(client)
    seen = client.post(
        "/identify", files=[upload(enrollable["jerry_seinfeld"][PER_PERSON], "image")], headers=as_role(keys, "gate")
    ).json()
    assert seen["faces"][0]["name"] == "jerry_seinfeld"
    assert client.delete(f"/people/{ids['jerry_seinfeld']}").status_code == 204
    events = client.get("/events", params={"person_id": ids["jerry_seinfeld"]}).json()
    assert events and all(e["name"] is None and e["person_id"] == ids["jerry_seinfeld"] for e in events)
    assert wait_fitted(client)["revision"] > seen["gallery_revision"]
    after = client.post(
        "/identify", files=[upload(enrollable["jerry_seinfeld"][PER_PERSON], "image")], headers=as_role(keys, "gate")
    ).json()
    assert after["faces"][0]["name"] == "unknown"
