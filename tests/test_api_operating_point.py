"""/operating-point in process: viewers read the false-accept target and its thresholds, only admins change it, and
the next /identify and /verify decide at the new one."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_fixtures import PER_PERSON, enroll_all, upload, wait_fitted

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.gallery import open_gallery
from facegate.match.operating_point import verify_threshold


@pytest.fixture(scope="module")
def service(
    fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """Two celebrities served at FPIR 1e-3, and one key per role."""
    db = str(tmp_path_factory.mktemp("operating-point") / "gallery.db")
    gallery = open_gallery(db)
    keys = {role: create_key(gallery, role, f"{role}-1")[0] for role in ("admin", "gate", "viewer")}
    with TestClient(create_app(Settings(db=db, fpir=1e-3), fg=fg)) as client:
        client.headers["X-API-Key"] = keys["admin"]
        enroll_all(client, {n: enrollable[n] for n in ("elton_john", "madonna")})
        wait_fitted(client)
        yield client, keys


def test_only_an_admin_changes_the_operating_point(service: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = service
    point = client.get("/operating-point", headers={"X-API-Key": keys["viewer"]})
    assert point.status_code == 200
    assert point.json()["fpir"] == point.json()["default_fpir"] == 1e-3 and point.json()["people"] == 2
    for role in ("viewer", "gate"):
        refused = client.put("/operating-point", json={"fpir": 1e-5}, headers={"X-API-Key": keys[role]})
        assert refused.status_code == 403 and "may not manage" in refused.json()["detail"]
    assert client.get("/operating-point", headers={"X-API-Key": keys["gate"]}).status_code == 403
    for bad in (0, 1, -1e-3, "often"):
        assert client.put("/operating-point", json={"fpir": bad}).status_code == 422
    assert client.get("/operating-point").json() == point.json()


def test_the_next_identification_and_verification_use_the_new_point(
    service: tuple[TestClient, dict[str, str]], enrollable: dict[str, list[Path]]
) -> None:
    client, keys = service
    probe = enrollable["elton_john"][PER_PERSON]  # not enrolled
    elton = next(p["id"] for p in client.get("/people").json() if p["name"] == "elton_john")
    thresholds = {}
    try:
        for fpir in (1e-2, 1e-5):
            point = client.put("/operating-point", json={"fpir": fpir}).json()
            assert point["fpir"] == fpir and point["verify_threshold"] == round(verify_threshold(fpir), 4)
            answer = client.post("/identify", files=[upload(probe, "image")], headers={"X-API-Key": keys["gate"]})
            assert answer.json()["threshold"] == point["identify_threshold"]
            assert answer.json()["faces"][0]["name"] == "elton_john"
            pair = [upload(probe, "image"), upload(enrollable["elton_john"][0], "other")]
            assert client.post("/verify", files=pair).json()["threshold"] == point["verify_threshold"]
            against = client.post("/verify", files=[upload(probe, "image")], data={"person_id": elton}).json()
            # the nearest of the person's 3 photos: a stranger gets 3 chances, so the prior is read at FPIR / 3
            assert against["threshold"] == round(verify_threshold(fpir, "facenet", PER_PERSON), 4)
            assert against["threshold"] < point["verify_threshold"] and against["same"]
            thresholds[fpir] = point["identify_threshold"]
    finally:
        client.put("/operating-point", json={"fpir": 1e-3})
    assert thresholds[1e-5] < thresholds[1e-2]
