"""What a command loads when it starts (no timings here: benchmarks/startup.py measures them): no NumPy for
`--version`, no Alembic for a gallery already up to date, FaceNet from its optimised copy with the same results."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from alembic.script import ScriptDirectory

from facegate.embed import Embedder
from facegate.gallery import open_gallery
from facegate.gallery.database import MIGRATIONS, head_revision
from facegate.models import ModelFiles
from facegate.onnx_session import make_session, optimised_copy


def modules_after(code: str) -> set[str]:
    """The modules a fresh interpreter holds after running `code`."""
    done = subprocess.run(
        [sys.executable, "-c", f"{code}\nimport sys; print(' '.join(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    return set(done.stdout.split())


def test_the_version_and_help_load_no_numpy() -> None:
    loaded = modules_after("from facegate.cli import build_parser; build_parser()")
    assert "facegate.cli.gallery" in loaded and "numpy" not in loaded


def test_an_up_to_date_gallery_opens_without_alembic(tmp_path: Path) -> None:
    db = tmp_path / "g.db"
    open_gallery(str(db))  # new: migrated by Alembic, in this process
    assert head_revision() == ScriptDirectory(str(MIGRATIONS)).get_current_head()
    loaded = modules_after(f"from facegate.gallery import open_gallery; open_gallery({str(db)!r}).people()")
    assert "facegate.gallery.database" in loaded and not any(m.split(".")[0] == "alembic" for m in loaded)


def test_facenet_runs_from_its_optimised_copy_with_the_same_embeddings(
    models: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path))
    copy = optimised_copy(models.facenet)
    assert copy.parent == tmp_path / "sessions" and copy.suffix == ".ort" and copy.is_file()
    made = copy.stat().st_mtime_ns
    assert optimised_copy(models.facenet) == copy and copy.stat().st_mtime_ns == made  # made once, then reused
    assert optimised_copy(models.pnet) == models.pnet  # small models load as they are
    crops = np.random.default_rng(0).integers(0, 255, (4, 160, 160, 3), np.uint8)
    embedder = Embedder(models.facenet)
    direct = ort.InferenceSession(str(models.facenet), providers=["CPUExecutionProvider"])
    embedder._session = direct
    reference = embedder.embed(crops)
    embedder._session = make_session(models.facenet)
    assert np.abs(embedder.embed(crops) - reference).max() < 1e-5


def test_an_unwritable_cache_loads_the_model_itself(
    models: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocked = tmp_path / "file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("FACEGATE_HOME", str(blocked))
    assert optimised_copy(models.facenet) == models.facenet
    assert os.listdir(tmp_path) == ["file"]
