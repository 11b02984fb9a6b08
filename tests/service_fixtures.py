"""Fixtures for the gallery, API and web tests: databases (SQLite and a throwaway PostgreSQL), photos that pass the
enrollment checks, API keys, and a real server process."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import SHARED_DATA
from pg import ThrowawayPostgres, free_port, server_binaries
from PIL import Image

from facegate import FaceGate
from facegate.gallery.quality import assess
from facegate.models import ModelFiles

PEOPLE = ("ben_afflek", "elton_john", "jerry_seinfeld", "madonna", "mindy_kaling")
PER_PERSON = 3


@pytest.fixture(scope="session")
def postgres() -> Iterator[ThrowawayPostgres]:
    """One PostgreSQL cluster for the whole session."""
    if server_binaries() is None:
        pytest.skip("PostgreSQL server binaries missing: run .ci/system-deps.sh as root")
    server = ThrowawayPostgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty gallery database of each kind."""
    if request.param == "sqlite":
        return str(tmp_path / "gallery.db")
    return request.getfixturevalue("postgres").create_database(f"t_{uuid.uuid4().hex[:12]}")


@pytest.fixture(scope="session")
def enrollable(fg: FaceGate, models: ModelFiles) -> dict[str, list[Path]]:
    """PER_PERSON train photos of each celebrity that pass every enrollment check, plus the next passing one
    (index PER_PERSON) kept back as a probe."""
    out: dict[str, list[Path]] = {}
    for person in PEOPLE:
        good = []
        for path in sorted((models.celebrity / "train" / person).glob("*.jpg")):
            found = fg.represent(path)
            # faces of 80 px and up: these tests are about the gallery and the service, not small faces
            if found and assess(found[0].face, found[0].crop, len(found), min_face_px=80).ok:
                good.append(path)
            if len(good) == PER_PERSON + 1:
                break
        assert len(good) == PER_PERSON + 1, f"not enough enrollable photos of {person}"
        out[person] = good
    return out


@pytest.fixture(scope="session")
def stranger() -> Path:
    """A photo of someone not among the five celebrities (LFW)."""
    folder = SHARED_DATA / "lfw" / "images_deepfunneled" / "Colin_Powell"
    if not folder.is_dir():
        pytest.skip(f"LFW photos not found at {folder} (shared data absent)")
    return sorted(folder.glob("*.jpg"))[0]


def people_folder(enrollable: dict[str, list[Path]], root: Path, names: tuple[str, ...]) -> Path:
    """A folder per person under `root` with their first PER_PERSON enrollable photos (for `facegate enroll`)."""
    for name in names:
        (root / name).mkdir(parents=True)
        for path in enrollable[name][:PER_PERSON]:
            shutil.copy(path, root / name / path.name)
    return root


def jpeg_variant(path: Path, n: int) -> bytes:
    """The photo re-encoded so each n gives different bytes (a new photo to the duplicate check)."""
    out = io.BytesIO()
    Image.open(path).convert("RGB").save(out, format="JPEG", quality=95 - n % 20, comment=f"variant {n}".encode())
    return out.getvalue()


@dataclass
class Server:
    """A `uvicorn facegate.api.app:create_app` process on a free port."""

    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def client(self, key: str, timeout: float = 120.0) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"X-API-Key": key}, timeout=timeout)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(30)


def start_server(db: str, log: Path, env: dict[str, str] | None = None, cli: bool = False) -> Server:
    """Start the gate service over `db` (with `env` added to its environment) and wait until /health answers:
    uvicorn on the app factory, or `facegate serve` as a site runs it (cli)."""
    port = free_port()
    env = {**os.environ, "FACEGATE_DB": db, **(env or {})}
    app = ["facegate", "serve"] if cli else ["uvicorn", "facegate.api.app:create_app", "--factory"]
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", *app, "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    server = Server(f"http://127.0.0.1:{port}", process, log)
    for _ in range(600):
        if process.poll() is not None:
            raise RuntimeError(f"server exited: {log.read_text()[-2000:]}")
        try:
            if httpx.get(server.url + "/health", timeout=5).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    server.stop()
    raise RuntimeError("server did not answer /health")


def wait_fitted(client: httpx.Client) -> dict[str, object]:
    """Wait until the server's identifier is fitted on the current gallery revision."""
    for _ in range(1200):
        status = client.get("/gallery").json()
        if status["revision"] == status["fitted_revision"]:
            return status
        time.sleep(0.1)
    raise AssertionError(f"identifier never caught up: {status}")


def upload(path: Path, field: str = "files", data: bytes | None = None) -> tuple[str, tuple[str, bytes, str]]:
    return field, (path.name, data if data is not None else path.read_bytes(), "image/jpeg")


def enroll_all(
    gallery_client: httpx.Client, photos: dict[str, list[Path]], per_person: int = PER_PERSON
) -> dict[str, int]:
    """Create each person and enroll their first `per_person` photos through the API; returns {name: id}."""
    ids = {}
    for name, paths in photos.items():
        person = gallery_client.post("/people", json={"name": name})
        assert person.status_code == 201, person.text
        ids[name] = person.json()["id"]
        response = gallery_client.post(f"/people/{ids[name]}/samples", files=[upload(p) for p in paths[:per_person]])
        assert response.json()["accepted"] == per_person, response.text
    return ids


def fuzz_cases(url: str, own_key_id: int) -> Any:
    """A Hypothesis strategy of Schemathesis cases for every operation of the service at `url`, valid and invalid,
    except deleting the fuzzer's own key (it would lock itself out). Needs the test extra (Schemathesis)."""
    import schemathesis
    from hypothesis import strategies

    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)

    def keeps_key(case: schemathesis.Case) -> bool:
        return not (case.method.upper() == "DELETE" and (case.path_parameters or {}).get("key_id") == own_key_id)

    return strategies.one_of(
        [
            result.ok().as_strategy(generation_mode=mode).filter(keeps_key)
            for result in schema.get_all_operations()
            for mode in modes
        ]
    )
