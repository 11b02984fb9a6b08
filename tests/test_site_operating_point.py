"""The site's operating point is stored in the gallery: an admin's PUT outlives the service and holds for every server
sharing the gallery (two `facegate serve` processes on one PostgreSQL gallery follow within 2 s), DELETE goes back to
FACEGATE_FPIR or the default, only admins change it, galleries from before migrate with none set, and CLI commands
reading a gallery decide at it unless given --fpir."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from alembic import command
from alembic.config import Config
from fastapi.testclient import TestClient
from pg import ThrowawayPostgres
from service_fixtures import PEOPLE, PER_PERSON, enroll_all, people_folder, start_server, upload, wait_fitted
from sqlalchemy import create_engine

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.cli import build_parser, main
from facegate.cli.service import startup_lines
from facegate.cli.video import _recognizer
from facegate.gallery import open_gallery
from facegate.gallery.database import MIGRATIONS
from facegate.match.operating_point import verify_threshold

BOUND_S = 2.0  # a change made through one gate shows at every other within 2 s
SAME = ("fpir", "source", "identify_threshold", "verify_threshold")  # what a restart keeps


@pytest.fixture
def site_fg(fg: FaceGate) -> Iterator[FaceGate]:
    """The session's pipeline, its operating point put back afterwards (a service moves it to the point in force)."""
    saved = fg.fpir, fg.threshold
    yield fg
    fg.fpir, fg.threshold = saved


def identify_threshold(client: TestClient | httpx.Client, probe: Path) -> float:
    """The distance threshold an /identify answer reports for the probe."""
    answer = client.post("/identify", files=[upload(probe, "image")])
    assert answer.status_code == 200, answer.text
    return float(answer.json()["threshold"])


def test_a_stored_point_outlives_the_service_and_comes_before_the_setting(
    site_fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = str(tmp_path / "gallery.db")
    gallery = open_gallery(db)
    keys = {role: create_key(gallery, role, f"{role}-1")[0] for role in ("admin", "gate", "viewer")}
    probe = enrollable["madonna"][PER_PERSON]
    with TestClient(create_app(Settings(db=db), fg=site_fg)) as client:
        client.headers["X-API-Key"] = keys["admin"]
        enroll_all(client, {n: enrollable[n] for n in ("elton_john", "madonna")})
        wait_fitted(client)
        default = client.get("/operating-point").json()
        assert (default["fpir"], default["source"], default["default_source"]) == (1e-3, "default", "default")
        for role in ("viewer", "gate"):
            for refused in (
                client.put("/operating-point", json={"fpir": 1e-5}, headers={"X-API-Key": keys[role]}),
                client.delete("/operating-point", headers={"X-API-Key": keys[role]}),
            ):
                assert refused.status_code == 403 and "may not manage" in refused.json()["detail"]
        assert gallery.operating_point() is None
        revision = gallery.revision()
        stored = client.put("/operating-point", json={"fpir": 1e-5}).json()
        assert (stored["fpir"], stored["source"]) == (1e-5, "gallery")
        assert stored["identify_threshold"] < default["identify_threshold"]
        assert gallery.operating_point() == 1e-5 and gallery.revision() == revision  # no sample changed
    monkeypatch.setenv("FACEGATE_FPIR", "0.01")  # a restart with a setting: the stored point still comes first
    with TestClient(create_app(Settings(db=db), fg=site_fg)) as client:
        client.headers["X-API-Key"] = keys["admin"]
        wait_fitted(client)
        after = client.get("/operating-point", headers={"X-API-Key": keys["viewer"]}).json()
        assert {k: after[k] for k in SAME} == {k: stored[k] for k in SAME} and after["default_fpir"] == 0.01
        assert identify_threshold(client, probe) == stored["identify_threshold"]
        pair = [upload(probe, "image"), upload(enrollable["madonna"][0], "other")]
        assert client.post("/verify", files=pair).json()["threshold"] == round(verify_threshold(1e-5), 4)
        cleared = client.delete("/operating-point").json()
        assert (cleared["fpir"], cleared["source"], cleared["default_source"]) == (
            0.01,
            "FACEGATE_FPIR",
            "FACEGATE_FPIR",
        )
        assert cleared["identify_threshold"] > default["identify_threshold"]
        assert identify_threshold(client, probe) == cleared["identify_threshold"]
        assert client.post("/verify", files=pair).json()["threshold"] == round(verify_threshold(0.01), 4)
    assert gallery.operating_point() is None


def test_galleries_from_before_migrate_with_no_point_set(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    engine.dispose()
    gallery = open_gallery(str(path))
    assert gallery.head() == (0, None)
    gallery.set_operating_point(1e-4)
    assert gallery.head() == (0, 1e-4)
    with pytest.raises(ValueError, match="between 0 and 1"):
        gallery.set_operating_point(2.0)


def test_cli_commands_reading_a_gallery_use_its_stored_point_unless_given_fpir(
    enrollable: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    db = str(tmp_path / "g.db")
    people = people_folder(enrollable, tmp_path / "people", ("elton_john", "madonna"))
    assert main(["enroll", str(people), "--db", db]) == 0
    probe = str(enrollable["madonna"][PER_PERSON])

    def point(*options: str) -> dict[str, Any]:
        capsys.readouterr()
        assert main(["identify", probe, "--db", db, "--json", *options]) == 0
        answer = json.loads(capsys.readouterr().out)
        assert answer["photos"][0]["faces"][0]["name"] == "madonna"
        return dict(answer["operating_point"])

    default = point()
    assert (default["fpir"], default["source"]) == (1e-3, "default")
    open_gallery(db).set_operating_point(1e-5)
    stored = point()
    assert (stored["fpir"], stored["source"]) == (1e-5, "gallery") and stored["threshold"] < default["threshold"]
    given = point("--fpir", "0.01")
    assert (given["fpir"], given["source"]) == (0.01, "--fpir") and given["threshold"] > default["threshold"]
    video = _recognizer(build_parser().parse_args(["video", "in.mp4", "--out", "out.mp4", "--db", db]))
    assert round(video.identifier.distance_threshold_, 3) == stored["threshold"]
    assert "stored in the gallery by an admin" in capsys.readouterr().err
    lines = startup_lines(open_gallery(db), "127.0.0.1", 8000, db)
    assert any(line.startswith("operating point: FPIR 1e-05 (stored in the gallery by an admin)") for line in lines)


def until(check: Callable[[], bool], limit: float = 30.0) -> float:
    """Seconds from now until `check()` holds, asking again and again (at most `limit`)."""
    start = time.monotonic()
    while not check() and time.monotonic() - start < limit:
        time.sleep(0.02)
    return time.monotonic() - start


def test_two_serve_processes_sharing_postgresql_follow_a_point_set_through_either_within_2_s(
    postgres: ThrowawayPostgres, enrollable: dict[str, list[Path]], tmp_path: Path
) -> None:
    db = postgres.create_database(f"point_{uuid.uuid4().hex[:12]}")
    key = create_key(open_gallery(db), "admin", "lab")[0]
    servers = [start_server(db, tmp_path / f"{name}.log", cli=True) for name in ("a", "b")]
    probe = enrollable[PEOPLE[0]][PER_PERSON]
    try:
        a, b = (server.client(key) for server in servers)
        enroll_all(a, {name: enrollable[name] for name in PEOPLE[:3]})
        for client in (a, b):
            wait_fitted(client)
        assert "operating point: FPIR 0.001 (the default)" in servers[1].log.read_text()
        for setter, follower, change in ((a, b, "PUT"), (b, a, "DELETE")):
            body = {"json": {"fpir": 1e-5}} if change == "PUT" else {}
            before = follower.get("/operating-point").json()
            changed = setter.request(change, "/operating-point", **body).json()
            assert changed["source"] == ("gallery" if change == "PUT" else "default")
            assert changed["identify_threshold"] != before["identify_threshold"]

            def followed(follower: httpx.Client = follower, changed: dict[str, Any] = changed) -> bool:
                return follower.get("/operating-point").json() == changed and (
                    identify_threshold(follower, probe) == changed["identify_threshold"]
                )

            seconds = until(followed)
            assert seconds <= BOUND_S, (change, seconds, follower.get("/operating-point").json(), changed)
            pair = [upload(probe, "image"), upload(enrollable[PEOPLE[0]][0], "other")]
            assert follower.post("/verify", files=pair).json()["threshold"] == changed["verify_threshold"]
    finally:
        for server in servers:
            server.stop()
