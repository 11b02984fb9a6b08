"""A persistent cache of per-file numpy arrays (detections, embeddings), keyed by file content and a variant name.

One SQLite file, `cache_dir()/features/features.sqlite`, holds every variant: rows of (variant, sha256 of the
file's bytes, array saved with `np.save`). Renaming or copying a photo keeps its entries; editing it does not.
Name a variant after every setting that changes its arrays (detector and its minimum face, alignment, model file,
precision), e.g. "embed/facenet/mtcnn-min40-warp"; the cache files it under `code_version()` as well, so arrays
made by other detection, alignment or embedding code, or from other model files, are never read back.
"""

from __future__ import annotations

import hashlib
import io
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from facegate.detect.base import Face
from facegate.models import cache_dir
from facegate.models.store import CONVERTER_VERSION, FACENET, MTCNN, sha256_of

# Bump when detection, alignment, embedding or int8 quantisation code changes what it computes (not for speed-ups
# that give the same arrays): entries stored under the old version are then ignored.
FEATURES_VERSION = 1

BatchFunction = Callable[[list[Path]], Sequence[np.ndarray] | np.ndarray]


def code_version() -> str:
    """What every cached array depends on besides its variant's settings: FEATURES_VERSION, the model converter's
    version and the checksums of the model files converted."""
    return f"features{FEATURES_VERSION}-converter{CONVERTER_VERSION}-{FACENET.sha256[:12]}-{MTCNN.sha256[:12]}"


def model_key(model: Path) -> str:
    """A FaceNet file as a variant name part: its stem ("facenet", "facenet_int8"), and for int8 a short hash of
    the CPU signature, since ONNX Runtime's int8 kernels differ between CPUs (facegate.models.facenet_int8)."""
    if "int8" not in model.stem:
        return model.stem
    from facegate.models.facenet_int8 import cpu_signature

    return f"{model.stem}@{hashlib.sha256(cpu_signature().encode()).hexdigest()[:8]}"


def default_root() -> Path:
    """The feature cache folder when none is given: `features/` in the model cache (tests point it elsewhere)."""
    return cache_dir() / "features"


def _encode(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


def _decode(blob: bytes) -> np.ndarray:
    return np.load(io.BytesIO(blob), allow_pickle=False)


def faces_to_array(faces: Sequence[Face]) -> np.ndarray:
    """Detections as an N×15 float32 array (box, score, 10 landmark coordinates or NaN) for the cache."""
    rows = [
        [*face.box, face.score, *(face.landmarks.ravel() if face.landmarks is not None else [np.nan] * 10)]
        for face in faces
    ]
    return np.asarray(rows, dtype=np.float32).reshape(-1, 15)


def faces_from_array(rows: np.ndarray) -> list[Face]:
    """Inverse of `faces_to_array`."""
    return [
        Face(
            box=(float(r[0]), float(r[1]), float(r[2]), float(r[3])),
            score=float(r[4]),
            landmarks=None if np.isnan(r[5]) else r[5:].reshape(5, 2).copy(),
        )
        for r in rows
    ]


class FeatureCache:
    """Arrays per (code version, variant, file sha256); `compute` counts `hits` (files read) and `misses` (files
    computed). `version` defaults to `code_version()`."""

    def __init__(self, root: Path | None = None, version: str | None = None) -> None:
        self.version = version or code_version()
        self.path = (root or default_root()) / "features.sqlite"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=60)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS features (variant TEXT NOT NULL, sha256 TEXT NOT NULL, "
            "array BLOB NOT NULL, PRIMARY KEY (variant, sha256))"
        )
        self._db.commit()
        self._keys: dict[Path, str] = {}
        self.hits = 0
        self.misses = 0

    def key(self, path: Path) -> str:
        """The sha256 of the file's bytes (hashed once per path and cache object)."""
        if path not in self._keys:
            self._keys[path] = sha256_of(Path(path))
        return self._keys[path]

    def _stored(self, variant: str) -> str:
        """The name a variant's rows are stored under: the code version, then the variant."""
        return f"{self.version}/{variant}"

    def get_many(self, variant: str, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """The stored arrays among `keys` (missing keys are absent from the result)."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            rows = self._db.execute(
                f"SELECT sha256, array FROM features WHERE variant = ? AND sha256 IN ({','.join('?' * len(chunk))})",
                [self._stored(variant), *chunk],
            )
            found.update((key, _decode(blob)) for key, blob in rows)
        return found

    def put_many(self, variant: str, arrays: Mapping[str, np.ndarray]) -> None:
        """Store (or replace) arrays under `variant`, in one transaction."""
        with self._db:
            self._db.executemany(
                "INSERT OR REPLACE INTO features VALUES (?, ?, ?)",
                [(self._stored(variant), key, _encode(a)) for key, a in arrays.items()],
            )

    def compute(
        self, variant: str, paths: Sequence[Path], fn: BatchFunction, batch_size: int = 32, desc: str | None = None
    ) -> list[np.ndarray]:
        """One array per path: cached ones are read, the rest computed by `fn` in batches (stored as they finish)."""
        keys = [self.key(p) for p in paths]
        found = self.get_many(variant, keys)
        todo = list({k: p for k, p in zip(keys, paths) if k not in found}.items())
        self.misses += len(todo)
        self.hits += len(keys) - len(todo)
        with tqdm(total=len(todo), desc=desc or variant, unit="img", disable=not todo) as bar:
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                arrays = fn([p for _, p in batch])
                if len(arrays) != len(batch):
                    raise ValueError(f"{variant}: batch function returned {len(arrays)} arrays for {len(batch)} files")
                fresh = {k: np.asarray(a) for (k, _), a in zip(batch, arrays)}
                self.put_many(variant, fresh)
                found.update(fresh)
                bar.update(len(batch))
        return [found[k] for k in keys]

    def close(self) -> None:
        """Close the database connection."""
        self._db.close()
