"""Optional extras: a command or module whose extra is not installed says which one to install, in one line."""

from __future__ import annotations

import importlib
import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from facegate.cli import main
from facegate.extras import MissingExtraError, require
from facegate.match.vector_index import VectorIndex


def test_require_names_the_extra_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if it were not installed
    with pytest.raises(MissingExtraError) as caught:
        require("server", "numpy", "fastapi", what="the thing")
    assert str(caught.value) == "the thing needs the server extra: pip install 'facegate[server]'"
    assert isinstance(caught.value, ImportError) and caught.value.extra == "server"


@pytest.mark.parametrize(
    ("argv", "missing", "extra", "what"),
    [
        (["serve"], "uvicorn", "server", "`facegate serve`"),
        (["video", "in.mp4", "--out", "out.mp4", "--gallery", "faces"], "av", "video", "`facegate video`"),
        (["index", "photos", "--out", "index"], "ray", "scale", "`facegate index`"),
        (["experiment", "--scenario", "1", "--report", "out"], "matplotlib", "report", "`facegate experiment`"),
        (["people", "--db", "postgresql://nobody@localhost/none"], "psycopg", "server", "a PostgreSQL gallery"),
    ],
)
def test_command_without_its_extra_says_what_to_install(
    argv: list[str],
    missing: str,
    extra: str,
    what: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setitem(sys.modules, missing, None)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"facegate: error: {what} needs the {extra} extra: pip install 'facegate[{extra}]'\n"


@pytest.mark.parametrize(
    ("module", "missing", "extra"),
    [
        ("facegate.api.app", "fastapi", "server"),
        ("facegate.video.writer", "av", "video"),
        ("facegate.archive.index", "pyarrow", "scale"),
        ("facegate.experiments.report", "matplotlib", "report"),
    ],
)
def test_library_module_without_its_extra_says_what_to_install(
    module: str, missing: str, extra: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delitem(sys.modules, module, raising=False)  # imported afresh below (restored afterwards)
    monkeypatch.setitem(sys.modules, missing, None)
    with pytest.raises(MissingExtraError, match=rf"needs the {extra} extra: pip install 'facegate\[{extra}\]'"):
        importlib.import_module(module)


def test_vector_index_without_faiss_stays_exact_and_says_so(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "faiss", None)
    vectors = np.random.default_rng(0).normal(size=(40, 8)).astype(np.float32)
    index = VectorIndex(dim=8, exact_limit=16)
    with caplog.at_level(logging.WARNING, logger="facegate"):
        for start in range(0, 40, 10):  # past the limit, and on growing further: one warning
            index.add(np.arange(start, start + 10), vectors[start : start + 10])
    assert len(index) == 40 and not index.uses_faiss
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "pip install 'facegate[scale]'" in warnings[0] and "exactly" in warnings[0]
    distances, ids = index.search(vectors[[3, 17, 38]], 2)
    assert ids[:, 0].tolist() == [3, 17, 38] and np.allclose(distances[:, 0], 0, atol=1e-3)
