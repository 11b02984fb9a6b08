"""`facegate index` speed on LFW: photos/s with 1 and 2 Ray workers, next to a plain single-process loop.

Copies the first `--photos` LFW photos (sorted by person) into a temporary archive. Each Ray run starts its own
local cluster (timed apart, as "Ray start-up") and indexes the archive into a fresh Parquet folder; its time
includes starting the worker actors and loading their models, as every `facegate index` run pays. The plain path
is a loop over FaceGate.represent with the models already loaded, on every core (the default) and on one thread.
Medians of `--runs` runs. Prints the table and writes it, with the machine, date and command, to
benchmarks/results/index.md.
Usage: python benchmarks/index.py [--photos 500] [--runs 3] [--batch-size 16]
"""

from __future__ import annotations

import argparse
import datetime
import os
import shlex
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate.archive.index import index_archive, list_photos, ray_cluster
from facegate.archive.store import ParquetStore
from facegate.experiments.lfw import lfw_dir
from facegate.experiments.machine import describe_machine
from facegate.onnx_session import default_threads
from facegate.pipeline import FaceGate

RESULTS = Path(__file__).resolve().parent / "results"


def make_archive(count: int, root: Path) -> list[str]:
    """The first `count` LFW photos copied under root/<person>/; their relative paths."""
    photos = sorted((lfw_dir() / "images_deepfunneled").glob("*/*.jpg"))[:count]
    if len(photos) < count:
        sys.exit(f"benchmarks/index.py: {count} LFW photos wanted, {len(photos)} found under {lfw_dir()}")
    for photo in photos:
        (root / photo.parent.name).mkdir(exist_ok=True)
        shutil.copy(photo, root / photo.parent.name / photo.name)
    return list_photos(root)


def plain_run(root: Path, photos: list[str], fg: FaceGate) -> tuple[float, int]:
    """Seconds and faces for one pass of FaceGate.represent over the photos."""
    start = time.perf_counter()
    faces = sum(len(fg.represent(root / p)) for p in photos)
    return time.perf_counter() - start, faces


def ray_run(root: Path, workers: int, batch_size: int, out: Path) -> tuple[float, float, int]:
    """Seconds to start a local cluster, seconds to index the archive on it, faces."""
    start = time.perf_counter()
    with ray_cluster(None, workers):
        started = time.perf_counter()
        summary = index_archive(root, ParquetStore(out), workers=workers, batch_size=batch_size, progress=False)
    return started - start, summary.seconds, summary.faces


def row(
    label: str, workers: str, threads: str, photos: int, faces: int, seconds: list[float], startup: list[float] | None
) -> str:
    median = statistics.median(seconds)
    boot = f"{statistics.median(startup):.1f}" if startup else "–"
    return f"| {label} | {workers} | {threads} | {photos} | {faces} | {median:.1f} | {photos / median:.1f} | {boot} |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=500, help="LFW photos to index (default 500)")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per configuration (default 3)")
    parser.add_argument("--batch-size", type=int, default=16, help="photos per worker call (default 16)")
    parser.add_argument("--out", type=Path, default=RESULTS / "index.md")
    args = parser.parse_args()

    load_start = os.getloadavg()
    rows = []
    with tempfile.TemporaryDirectory(prefix="facegate-index-bench-") as tmp:
        root = Path(tmp) / "photos"
        root.mkdir()
        photos = make_archive(args.photos, root)
        for threads in sorted({default_threads(), 1}, reverse=True):  # FaceGate()'s default first
            fg = FaceGate(threads=threads)
            plain_run(root, photos[:5], fg)  # warm-up: load the models
            timed = [plain_run(root, photos, fg) for _ in range(args.runs)]
            rows.append(
                row(
                    "single process, FaceGate.represent loop",
                    "–",
                    str(threads),
                    len(photos),
                    timed[0][1],
                    [t for t, _ in timed],
                    None,
                )
            )
            print(rows[-1], flush=True)
        for workers in (1, 2):
            runs = [
                ray_run(root, workers, args.batch_size, Path(tmp) / f"index-{workers}-{k}") for k in range(args.runs)
            ]
            rows.append(
                row(
                    f"facegate index (Ray Data, batch {args.batch_size})",
                    str(workers),
                    "1",
                    len(photos),
                    runs[0][2],
                    [t for _, t, _ in runs],
                    [s for s, _, _ in runs],
                )
            )
            print(rows[-1], flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report(rows, len(photos), args.runs, (load_start[0], os.getloadavg()[0])))
    print(f"→ {args.out}")


def report(rows: list[str], photos: int, runs: int, load: tuple[float, float]) -> str:
    """The markdown report: date, machine, command, what was measured, the table."""
    command = shlex.join(["python", "benchmarks/index.py", *sys.argv[1:]])
    header = "| path | workers | ORT threads per worker | photos | faces | seconds | photos/s | Ray start-up (s) |"
    return (
        "\n".join(
            [
                "# Photo archive indexing speed (`facegate index`)",
                "",
                f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
                f"- Machine: {describe_machine()}; load average {load[0]:.1f} at the start, {load[1]:.1f} at the end "
                "(this benchmark's own processes included)",
                f"- Command: `{command}`",
                f"- Photos: the first {photos} LFW photos (deep-funnelled, 250×250) in person folders; MTCNN (min face "
                "20) + 5-point warp + FaceNet fp32, every face of every photo.",
                "- Ray runs: a fresh local cluster (num_cpus = workers) and a fresh Parquet folder each run; *seconds* "
                "counts listing, starting the worker actors, loading their models, embedding and writing, but not the "
                "cluster start, which is *Ray start-up*. The single-process rows loop FaceGate.represent with its "
                "models "
                "already loaded, with ONNX Runtime on every core (FaceGate's default) and on one thread.",
                f"- Medians of {runs} runs.",
                "",
                header,
                "|---|---:|---:|---:|---:|---:|---:|---:|",
                *rows,
            ]
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
