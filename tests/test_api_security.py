"""What a security review asks of the service: security headers on every answer (page, files, API, docs, errors),
docs served from installed files only, and /verify leaving an access event like /identify without telling a gate
which person ids exist (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from service_fixtures import upload

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.gallery import open_gallery


@pytest.fixture
def served(db_url: str, fg: FaceGate) -> Iterator[tuple[TestClient, dict[str, str]]]:
    gallery = open_gallery(db_url)
    keys = {role: create_key(gallery, role, f"{role}-door")[0] for role in ("admin", "gate")}
    with TestClient(create_app(Settings(db=db_url), fg=fg)) as client:
        client.headers["X-API-Key"] = keys["admin"]
        yield client, keys


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_answer_carries_the_security_headers(served: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = served
    answers = [
        client.get("/"),
        client.get("/static/app.js"),
        client.get("/people"),
        client.get("/health"),
        client.get("/people", headers={"X-API-Key": "fg_wrong"}),
        client.get("/nowhere"),
        client.get("/people/0"),
        client.get("/openapi.json"),
        client.get("/docs"),
        client.get("/redoc"),
        client.get("/docs-assets/swagger-ui-bundle.js"),
    ]
    for answer in answers:
        headers = answer.headers
        assert headers["x-content-type-options"] == "nosniff" and headers["x-frame-options"] == "DENY"
        assert (
            headers["referrer-policy"] == "no-referrer"
            and "frame-ancestors 'none'" in headers["content-security-policy"]
        ), answer.request.url
    assert "script-src 'self';" in client.get("/").headers["content-security-policy"]  # no inline script at all


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_docs_name_only_files_of_this_server(served: tuple[TestClient, dict[str, str]]) -> None:
    client, _ = served
    for page in ("/docs", "/redoc"):
        html = client.get(page).text
        assert not re.search(r"https?://", html), page  # no CDN, no web fonts
        for url in re.findall(r'(?:src|href)="([^"]+)"', html):
            assert client.get(url).status_code == 200, url
        inline = re.findall(r"<script>(.*?)</script>", html, re.DOTALL)
        assert len(inline) == (1 if page == "/docs" else 0)
        assert len(re.findall("'sha256-", client.get(page).headers["content-security-policy"])) == len(inline)


def test_verify_writes_an_event_and_reads_the_same_for_unknown_ids(
    served: tuple[TestClient, dict[str, str]], enrollable: dict[str, list[Path]], stranger: Path
) -> None:
    client, keys = served
    gate = {"X-API-Key": keys["gate"]}
    madonna = client.post("/people", json={"name": "madonna"}).json()["id"]
    client.post(f"/people/{madonna}/samples", files=[upload(p) for p in enrollable["madonna"][:2]])
    empty = client.post("/people", json={"name": "nobody yet"}).json()["id"]
    probe, other = enrollable["madonna"][3], stranger

    def check(path: Path, person: int) -> dict[str, object]:
        answer = client.post("/verify", files=[upload(path, "image")], data={"person_id": str(person)}, headers=gate)
        assert answer.status_code == 200, answer.text
        return answer.json()

    match = check(probe, madonna)
    assert match["same"] is True and match["distance"] <= match["threshold"]
    failed = [check(other, madonna), check(other, empty), check(other, madonna + 1000)]
    assert [(f["same"], f["distance"]) for f in failed] == [(False, None)] * 3
    pair = client.post(
        "/verify", files=[upload(probe, "image"), upload(enrollable["madonna"][0], "other")], headers=gate
    ).json()
    events = client.get("/events", params={"gate": "gate-door"}).json()[::-1]  # oldest first
    assert [(e["person_id"], e["decision"]) for e in events] == [
        (madonna, "match"),
        (madonna, "unknown"),
        (empty, "unknown"),
        (None, "unknown"),
        (None, "match"),
    ]
    assert events[0]["distance"] == pytest.approx(match["distance"], abs=1e-3) and pair["same"] is True
