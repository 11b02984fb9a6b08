"""Deployment: the gallery in the data folder (an old one in the model cache still found), a missing --db refused
unless a command creates, keys that belong to gates, what `serve` says on start, and the sample systemd unit."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pg import free_port

from facegate.api.auth import create_key
from facegate.cli import main
from facegate.gallery import open_gallery
from facegate.gallery.database import default_url

UNIT = Path(__file__).resolve().parents[1] / "deploy" / "facegate.service"


@pytest.fixture
def places(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> tuple[Path, Path]:
    """A data folder and a model cache of the test's own, and no FACEGATE_DB."""
    data, home = tmp_path / "data", tmp_path / "cache"
    monkeypatch.setenv("FACEGATE_DATA", str(data))
    monkeypatch.setenv("FACEGATE_HOME", str(home))
    monkeypatch.delenv("FACEGATE_DB", raising=False)
    return data, home


def test_the_default_gallery_is_in_the_data_folder_and_an_old_one_is_used_in_place(
    places: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    data, home = places
    assert default_url() == f"sqlite:///{data / 'gallery.db'}"
    old = home / "gallery.db"
    open_gallery(str(old)).add_person("Ada")  # a gallery made by an older FaceGate, in the model cache
    assert main(["people"]) == 0
    out, err = capsys.readouterr()
    assert "Ada" in out and f"using the gallery at its old place {old}" in err and f"mv {old}* {data}/" in err
    assert not (data / "gallery.db").exists()  # used where it is, not moved behind a server's back
    data.mkdir()
    for part in old.parent.glob("gallery.db*"):
        part.rename(data / part.name)  # what the notice says to do
    assert main(["people"]) == 0
    out, err = capsys.readouterr()
    assert "Ada" in out and "old place" not in err


def test_a_missing_gallery_is_refused_unless_the_command_creates_one(
    places: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, _ = places
    typo = tmp_path / "galery.db"
    for command in (["people"], ["people", "--db", str(typo)], ["keys", "list", "--db", str(typo)]):
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "there is no gallery at" in err and "--create" in err
    assert not typo.exists() and not (data / "gallery.db").exists()
    assert main(["people", "--db", str(typo), "--create"]) == 0
    assert f"starting a new, empty gallery at {typo}" in capsys.readouterr().err and typo.exists()
    assert main(["keys", "create", "--role", "gate", "--name", "cam-1", "--gate", "north entrance"]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("fg_") and "starting a new, empty gallery at" in err and "at gate 'north entrance'" in err
    assert main(["keys", "list"]) == 0
    assert "gate 'north entrance'" in capsys.readouterr().out
    assert main(["keys", "create", "--role", "viewer", "--gate", "north entrance"]) == 2
    assert "belongs to no gate" in capsys.readouterr().err


def test_serve_says_where_the_page_is_which_database_and_whether_a_key_exists(tmp_path: Path) -> None:
    db = tmp_path / "site.db"
    env = {**os.environ, "FACEGATE_DATA": str(tmp_path / "data")}
    refused = subprocess.run(
        [sys.executable, "-m", "facegate", "serve", "--db", str(db)], env=env, capture_output=True, text=True
    )
    assert refused.returncode == 2 and "there is no gallery at" in refused.stderr and not db.exists()
    assert _startup(db, env, "--create") == [
        f"starting a new, empty gallery at {db}",
        "web page and REST API at http://127.0.0.1:{port}/ (API docs at /docs)",
        f"gallery database: sqlite:///{db}",
        "operating point: FPIR 0.001 (the default); an admin sets it for every server sharing this gallery (page: "
        "Settings, or PUT /operating-point; DELETE goes back to FACEGATE_FPIR, else 0.001)",
        f"no API key yet: nothing can sign in. Create one with: facegate keys create --role admin --name NAME "
        f"--db {db}",
    ]
    gallery = open_gallery(str(db))
    create_key(gallery, "admin", "office")
    create_key(gallery, "gate", "cam-1", gate="north")
    gallery.set_operating_point(1e-4)  # an admin's, for the whole site: it comes before FACEGATE_FPIR
    lines = _startup(db, {**env, "FACEGATE_FPIR": "0.01"}, "--host", "0.0.0.0")
    assert lines[0] == "web page and REST API at http://localhost:{port}/ (API docs at /docs)"
    assert "only on https://" in lines[2] and lines[4] == "API keys: 1 admin, 1 gate"
    assert lines[3].startswith("operating point: FPIR 0.0001 (stored in the gallery by an admin); ")


def _startup(db: Path, env: dict[str, str], *options: str) -> list[str]:
    """The lines `facegate serve` writes before the server starts (the port shown as {port}); then it is stopped."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "facegate", "serve", "--db", str(db), "--port", str(port), *options],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if not line.startswith("facegate: "):
                break  # uvicorn's own log: the server is starting
            lines.append(line.removeprefix("facegate: ").rstrip("\n").replace(str(port), "{port}"))
    finally:
        server.terminate()
        server.wait(timeout=60)
    return lines


def _verify(unit: Path) -> list[str]:
    """What `systemd-analyze verify` says about the unit file (it exits 0 on unknown keys and bad values too, so
    its messages about the file are the verdict)."""
    done = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True, timeout=60)
    said = [line for line in (done.stdout + done.stderr).splitlines() if unit.name in line]
    return said + ([f"exit status {done.returncode}"] if done.returncode else [])


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed (no systemd here)")
def test_the_sample_systemd_unit_passes_systemd_analyze_verify(tmp_path: Path) -> None:
    # ExecStart must name an executable that exists: this environment's facegate stands in for /opt/facegate's
    facegate = shutil.which("facegate") or str(Path(sys.executable).parent / "facegate")
    text = UNIT.read_text().replace("/opt/facegate/bin/facegate", facegate)
    unit = tmp_path / "facegate.service"
    unit.write_text(text)
    assert _verify(unit) == []
    broken = tmp_path / "broken" / "facegate.service"
    broken.parent.mkdir()
    broken.write_text(text.replace("ProtectSystem=strict", "ProtectSytem=strict"))
    assert any("ProtectSytem" in line for line in _verify(broken))  # the check does see a mistake
