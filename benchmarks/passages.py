"""What writing one access event per passage costs /identify per frame → benchmarks/results/passages.md.

A real photo's face (detected and embedded once, outside the timing) is handed to the service's Passages, as
/identify hands it each frame: the tracker follows it and the passage's event row is updated (SQLite, WAL, on disk).
Compared with the per-frame event the service wrote before (Gallery.add_events). Detection and embedding, the bulk of
an /identify, are the same either way and not timed here. Medians of `--runs` runs of `--frames` frames each.

Usage: python benchmarks/passages.py [--frames 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from facegate import FaceGate
from facegate.experiments.machine import describe_machine
from facegate.gallery import open_gallery
from facegate.gallery.identify import GalleryIdentifier
from facegate.gallery.passages import Passages
from facegate.models import ensure_models

RESULTS = Path(__file__).resolve().parent / "results"


def per_frame_ms(frames: int, runs: int, fg: FaceGate, photo: Path) -> dict[str, float]:
    """Median milliseconds per frame of each way of recording a frame, over `runs` fresh galleries."""
    found = fg.represent(photo)[:1]
    times: dict[str, list[float]] = {"passage (tracker + row update)": [], "event per frame (before)": []}
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as folder:
            gallery = open_gallery(str(Path(folder) / "gallery.db"))
            passages = Passages(gallery, expiry_s=5)
            fitted = GalleryIdentifier(gallery).current()
            started = time.perf_counter()
            for _ in range(frames):
                passages.observe("gate", found, fitted)
            times["passage (tracker + row update)"].append((time.perf_counter() - started) / frames * 1000)
            started = time.perf_counter()
            for _ in range(frames):
                gallery.add_events("gate", [(None, "unknown", 0.0, None)])
            times["event per frame (before)"].append((time.perf_counter() - started) / frames * 1000)
            assert len(gallery.events(gate="gate", limit=frames + 10)) == frames + 1  # one passage + one per frame
            gallery.engine.dispose()
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    models = ensure_models()
    photo = sorted((models.celebrity / "val" / "madonna").glob("*.jpg"))[0]
    result = per_frame_ms(args.frames, args.runs, FaceGate(), photo)
    lines = [
        "# Access events per passage: cost per /identify frame",
        "",
        f"`python benchmarks/passages.py {shlex.join(sys.argv[1:])}` on {datetime.now(UTC):%Y-%m-%d}; "
        f"{describe_machine()}; load average {os.getloadavg()[0]:.1f}. One face per frame ({photo.name}), "
        f"{args.frames} frames, median of {args.runs} runs; SQLite gallery on disk (WAL). Detection and embedding "
        "(tens of milliseconds per frame) are not included: they are the same either way.",
        "",
        "| recording a frame | ms per frame |",
        "|---|---|",
        *[f"| {name} | {ms:.2f} |" for name, ms in result.items()],
        "",
    ]
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "passages.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
