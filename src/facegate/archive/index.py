"""Embed a photo archive in parallel with Ray Data, resumably: `index_archive(root, store)`.

A pool of worker actors (one FaceGate pipeline each, one ONNX Runtime thread per CPU the actor holds) turns
batches of photo paths into index rows; the driver streams them out and appends them to the store a chunk of
photos at a time. Photos whose (path, sha256) the store already holds are skipped, so an interrupted run
continues where it stopped; photos that fail are recorded with their reason and not tried again.
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
import warnings
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tqdm import tqdm

from facegate.archive import NEEDS_SCALE, ArchiveError
from facegate.extras import optional_imports

with optional_imports("scale", NEEDS_SCALE):
    import pyarrow as pa
    import pyarrow.compute as pc

from facegate.archive.rows import FAILURES, NO_FACE, OK, embed_photos
from facegate.archive.store import Indexed, IndexStore
from facegate.imageio import IMAGE_SUFFIXES
from facegate.models import ensure_models
from facegate.models.store import sha256_of
from facegate.onnx_session import usable_cores

CHUNK = 256  # photos per write: what a crash can lose


@contextmanager
def ray_cluster(address: str | None = None, workers: int | None = None) -> Iterator[int]:
    """Connected to Ray for the block; yields the worker count (default: one per CPU of the cluster).

    address None starts a private local cluster of `workers` CPUs (no dashboard, quiet, state under the
    system temp folder) and stops it afterwards; "auto" or HOST:PORT joins a running cluster. A process
    already connected to Ray keeps its connection.
    """
    with optional_imports("scale", NEEDS_SCALE):
        import ray

    owned = not ray.is_initialized()
    if owned:
        os.environ.setdefault("RAY_DATA_LOG_LEVEL", "ERROR")  # read when ray.data is imported
        quiet: dict[str, Any] = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if address:
                ray.init(address=address, **quiet)
            else:
                ray.init(
                    num_cpus=workers or usable_cores(),
                    include_dashboard=False,
                    _temp_dir=str(Path(tempfile.gettempdir()) / "facegate-ray"),
                    **quiet,
                )
        except ConnectionError as exc:
            raise ArchiveError(f"cannot join the Ray cluster at {address}: {exc}") from exc
    try:
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < (workers or 1):
            raise ArchiveError(f"{workers or 1} worker(s) need a CPU each; the Ray cluster has {cpus}")
        yield workers or cpus
    finally:
        if owned:
            ray.shutdown()


class PhotoEmbedder:
    """Ray Data worker: one FaceGate per actor, one ONNX Runtime (and OpenCV) thread per CPU the actor holds."""

    def __init__(self, root: str) -> None:
        import cv2
        import ray

        from facegate.pipeline import FaceGate

        threads = max(1, int(ray.get_runtime_context().get_assigned_resources().get("CPU", 1)))
        cv2.setNumThreads(threads)
        self.root = Path(root)
        self.fg = FaceGate(threads=threads)
        _ = self.fg.detector, self.fg.embedder  # load the models now, not inside the first batch

    def __call__(self, batch: pa.Table) -> pa.Table:
        return embed_photos(self.fg, self.root, batch["path"].to_pylist())


def embed_on_ray(root: Path, paths: list[str], workers: int, batch_size: int) -> Iterator[pa.Table]:
    """Index rows of `paths` from `workers` actors, `batch_size` photos per call, as blocks finish (any order)."""
    import ray

    with warnings.catch_warnings():  # Ray's own deprecated settings; and 2.60 has no named max_restarts yet
        warnings.simplefilter("ignore", DeprecationWarning)
        ray.data.DataContext.get_current().enable_progress_bars = False  # the caller shows one bar for the run
        photos = ray.data.from_items([{"path": p} for p in paths])
        # max_restarts=0: a photo that kills its worker fails the run instead of being retried forever
        rows = photos.map_batches(
            PhotoEmbedder,
            fn_constructor_args=(str(root),),
            batch_size=batch_size,
            batch_format="pyarrow",
            compute=ray.data.ActorPoolStrategy(size=workers),
            num_cpus=1,
            max_restarts=0,
        )
    yield from rows.iter_batches(batch_format="pyarrow", batch_size=None)


def list_photos(root: Path) -> list[str]:
    """Photo paths under root (any depth), relative, with forward slashes, sorted; ArchiveError when none."""
    if not root.is_dir():
        raise ArchiveError(f"{root}: not a folder")
    photos = sorted(
        p.relative_to(root).as_posix() for p in root.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    if not photos:
        raise ArchiveError(f"{root}: no photos found ({', '.join(sorted(IMAGE_SUFFIXES))})")
    return photos


def still_to_index(root: Path, photos: list[str], indexed: Indexed) -> list[str]:
    """The photos not yet in the index; only files whose path is there already are hashed."""
    return [p for p in photos if p not in indexed or sha256_of(root / p) not in indexed[p]]


@dataclass
class IndexSummary:
    """What a run did: photos indexed (every status), faces, photos without one, skipped, failures by reason."""

    photos: int = 0
    faces: int = 0
    no_face: int = 0
    skipped: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)  # "path: error" of the first few failures
    seconds: float = 0.0

    def add(self, rows: pa.Table) -> int:
        """Count a block of rows; returns how many photos it holds."""
        photos = len(pc.unique(rows["path"]))
        status = rows["status"].to_pylist()
        self.photos += photos
        self.faces += status.count(OK)
        self.no_face += status.count(NO_FACE)
        for path, reason, error in zip(rows["path"].to_pylist(), status, rows["error"].to_pylist()):
            if reason in FAILURES:
                self.failures[reason] += 1
                if len(self.examples) < 5:
                    self.examples.append(f"{path}: {error}")
        return photos


def index_archive(
    root: Path,
    store: IndexStore,
    workers: int | None = None,
    batch_size: int = 16,
    ray_address: str | None = None,
    chunk: int = CHUNK,
    progress: bool = True,
) -> IndexSummary:
    """Index every photo under root not yet in `store`, on Ray (started only when there is work)."""
    started = time.perf_counter()
    photos = list_photos(root)
    todo = still_to_index(root, photos, store.indexed())
    summary = IndexSummary(skipped=len(photos) - len(todo))
    if todo:
        ensure_models()  # here, once: local workers fetching on first use at the same time would race
        with (
            ray_cluster(ray_address, workers) as pool,
            tqdm(total=len(todo), desc="indexing", unit="img", disable=not progress) as bar,
        ):
            _stream(embed_on_ray(root, todo, min(pool, len(todo)), batch_size), store, summary, bar, chunk)
    summary.seconds = time.perf_counter() - started
    return summary


def _stream(blocks: Iterator[pa.Table], store: IndexStore, summary: IndexSummary, bar: tqdm, chunk: int) -> None:
    """Append the blocks to the store `chunk` photos at a time, counting them; a failed worker becomes an
    ArchiveError once the photos finished before it are saved."""
    from ray.exceptions import RayError

    pending: list[pa.Table] = []
    pending_photos = 0
    try:
        for rows in blocks:
            photos = summary.add(rows)
            bar.update(photos)
            pending.append(rows)
            pending_photos += photos
            if pending_photos >= chunk:
                store.append(pa.concat_tables(pending))
                pending, pending_photos = [], 0
    except RayError as exc:
        raise ArchiveError(
            f"a Ray worker failed ({str(exc).strip().splitlines()[-1]}); the photos indexed so far "
            "are saved: run again to continue"
        ) from exc
    finally:  # also on Ctrl-C
        if pending:
            store.append(pa.concat_tables(pending))
