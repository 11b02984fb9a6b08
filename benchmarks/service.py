"""Gate service throughput against what the same cores do in-process, on the same photo, in one run.

First the pipeline in-process (decode → detect → align → embed → decide, as /identify does it, without HTTP) with
W worker threads × T ONNX Runtime threads, for the best throughput the cores give; then a real server process
(uvicorn, SQLite gallery of the 5 celebrities) under 1, 2, 4 and 8 closed-loop clients, and an overload of 20
clients that honour Retry-After (the service should refuse excess load early with 503 rather than queue it).

Run: .venv/bin/python benchmarks/service.py [--seconds 20]  → prints Markdown tables, writes
benchmarks/results/service.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from service_fixtures import Server, start_server, wait_fitted

from facegate.api.auth import create_key
from facegate.experiments.machine import describe_machine
from facegate.gallery import open_gallery
from facegate.gallery.identify import GalleryIdentifier
from facegate.imageio import letterbox, load_image
from facegate.models import ensure_models
from facegate.onnx_session import usable_cores
from facegate.pipeline import FaceGate

RESULTS = Path(__file__).resolve().parent / "results" / "service.md"
OVERLOAD = 20  # clients of the overload level


def probe_jpeg(photo: Path) -> bytes:
    """The photo letterboxed into 640×480, as a JPEG (quality 90)."""
    image = cv2.imread(str(photo))
    canvas = letterbox(image, 640, 480)
    return cv2.imencode(".jpg", canvas, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()


def publish(path: Path, title: str, text: str) -> None:
    """Print the Markdown report and write it, under its title, to `path`."""
    print(text)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"# {title}\n\n{text}\n")


def enroll_celebrities(server: Server, admin: str, celebrity: Path) -> tuple[dict[str, object], int]:
    """Enroll every train photo of the 5 celebrities through the API; (the fitted gallery status, samples)."""
    with server.client(admin) as http:
        for person in sorted(p.name for p in celebrity.iterdir()):
            pid = http.post("/people", json={"name": person}).json()["id"]
            files = [
                ("files", (p.name, p.read_bytes(), "image/jpeg")) for p in sorted((celebrity / person).glob("*.jpg"))
            ]
            http.post(f"/people/{pid}/samples", files=files)
        status = wait_fitted(http)
        return status, sum(p["samples"] for p in http.get("/people").json())


def run_threads(targets: list[Callable[[], None]], stop: threading.Event, seconds: float) -> float:
    """Run each target in a thread for `seconds`, then set `stop` and wait for them all; the seconds it took."""
    threads = [threading.Thread(target=target) for target in targets]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    time.sleep(seconds)
    stop.set()
    for thread in threads:
        thread.join()
    return time.perf_counter() - began


@dataclass
class Load:
    """What one load level measured: answered requests' latencies (ms), refusals (503), stage times, wall time."""

    latencies: list[float] = field(default_factory=list)
    refused: int = 0
    stages: dict[str, list[float]] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, q: float) -> float:
        return float(np.percentile(self.latencies, q))


def server_timing(header: str) -> dict[str, float]:
    """The stage durations (ms) of a Server-Timing header ("decode;dur=1.2, faces;dur=30.1")."""
    stages = {}
    for part in filter(None, (p.strip() for p in header.split(","))):
        name, *params = part.split(";")
        durations = [float(p.split("=", 1)[1]) for p in params if p.strip().startswith("dur=")]
        if durations:
            stages[name.strip()] = durations[0]
    return stages


def in_process(jpeg: bytes, db: str, workers: int, threads: int, seconds: float) -> Load:
    """`workers` threads each decoding the JPEG, finding and embedding its faces and deciding who they are, over one
    FaceGate whose models run `threads` ONNX Runtime threads each: the pipeline /identify runs, without HTTP."""
    fg = FaceGate(threads=threads)
    identifier = GalleryIdentifier(open_gallery(db))
    identifier.wait_until_fresh()
    load, stop = Load(), threading.Event()

    def identify() -> None:
        found = fg.represent(load_image(jpeg))
        identifier.decide(np.stack([f.embedding for f in found]))

    def worker() -> None:
        while not stop.is_set():
            start = time.perf_counter()
            identify()
            load.latencies.append((time.perf_counter() - start) * 1000)

    identify()  # warm-up: loads the models
    load.seconds = run_threads([worker] * workers, stop, seconds)
    return load


def measure(server: Server, key: str, jpeg: bytes, clients: int, seconds: float) -> Load:
    """`clients` threads posting /identify for `seconds`, each waiting Retry-After when refused."""
    load, stop = Load(), threading.Event()

    def client() -> None:
        with server.client(key) as http:
            while not stop.is_set():
                start = time.perf_counter()
                response = http.post("/identify", files={"image": ("probe.jpg", jpeg, "image/jpeg")})
                if response.status_code == 503:
                    load.refused += 1
                    stop.wait(float(response.headers.get("Retry-After", "1")))
                    continue
                response.raise_for_status()
                load.latencies.append((time.perf_counter() - start) * 1000)
                for name, ms in server_timing(response.headers.get("Server-Timing", "")).items():
                    load.stages.setdefault(name, []).append(ms)

    load.seconds = run_threads([client] * clients, stop, seconds)
    return load


def in_process_table(jpeg: bytes, db: str, seconds: float) -> tuple[list[str], Load, Load]:
    """Rows for each workers × threads setting; (rows, the single-worker run at the service's threads, the best)."""
    cores = usable_cores()
    settings = sorted({(1, 1), (1, cores), (cores, 1), (cores, cores), (2 * cores, 1)})
    runs = {(w, t): in_process(jpeg, db, w, t, seconds) for w, t in settings}
    best = max(runs.values(), key=lambda load: load.rate)
    rows = [
        f"| {w} | {t} | {load.rate:.2f} | {load.percentile(50):.0f} | {load.percentile(99):.0f} |"
        + (" best |" if load is best else " |")
        for (w, t), load in runs.items()
    ]
    return rows, runs[(1, cores)], best


def service_rows(levels: dict[int, Load]) -> list[str]:
    """One row per client count: throughput, latency, refusals and where an answered request's time went."""
    rows = []
    for clients, load in levels.items():
        stages = ", ".join(f"{name} {np.median(ms):.1f}" for name, ms in load.stages.items())
        rows.append(
            f"| {clients} | {load.rate:.2f} | {load.percentile(50):.0f} | {load.percentile(99):.0f} | "
            f"{len(load.latencies)} | {load.refused} | {stages} |"
        )
    return rows


def verdicts(single: Load, best: Load, levels: dict[int, Load]) -> list[str]:
    """The issue's three goals, each with the measured ratio."""
    p50_ratio = levels[1].percentile(50) / single.percentile(50)
    share = levels[4].rate / best.rate
    tail = levels[OVERLOAD].percentile(99) / levels[4].percentile(50)
    return [
        f"- p50 at one client / in-process p50 (1 worker): {p50_ratio:.2f} (goal ≤ 1.3)",
        f"- throughput at 4 clients / best in-process: {share:.0%} (goal ≥ 80%)",
        f"- p99 at {OVERLOAD} clients / p50 at 4 clients: {tail:.2f} (goal ≤ 3; "
        f"{levels[OVERLOAD].refused} requests refused with 503)",
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per level")
    args = parser.parse_args()
    celebrity = ensure_models().celebrity / "train"
    folder = Path(tempfile.mkdtemp(prefix="facegate-bench-"))
    db = str(folder / "gallery.db")
    key = create_key(open_gallery(db), "gate", "bench")[0]
    admin = create_key(open_gallery(db), "admin", "bench-admin")[0]
    jpeg = probe_jpeg(sorted((celebrity.parent / "val" / "madonna").glob("*.jpg"))[0])
    server = start_server(db, folder / "server.log")
    try:
        status, samples = enroll_celebrities(server, admin, celebrity)
        with server.client(key) as http:  # warm-up
            faces = http.post("/identify", files={"image": ("probe.jpg", jpeg, "image/jpeg")}).json()["faces"]
        assert len(faces) == 1, f"the probe should show one face, found {len(faces)}"
        levels = {n: measure(server, key, jpeg, n, args.seconds) for n in (1, 2, 4, 8, OVERLOAD)}
    finally:
        server.stop()
    local_rows, single, best = in_process_table(jpeg, db, args.seconds)
    lines = [
        f"`POST /identify` of a one-face 640×480 JPEG ({len(jpeg) / 1024:.0f} KiB), {args.seconds:.0f} s per level; "
        f"gallery: 5 people, {samples} samples ({status['identifier']}), SQLite. Machine: {describe_machine()}; "
        f"server, clients and the in-process runs on the same machine, one after another; load average at the end "
        f"{os.getloadavg()[0]:.1f}.",
        "",
        "In-process, the same steps without HTTP:",
        "",
        "| worker threads | ORT threads per model | photos/s | p50 (ms) | p99 (ms) | |",
        "|---:|---:|---:|---:|---:|---|",
        *local_rows,
        "",
        "The service (stage medians in ms from its Server-Timing header):",
        "",
        "| clients | requests/s | p50 (ms) | p99 (ms) | answered | refused (503) | stages |",
        "|---:|---:|---:|---:|---:|---:|---|",
        *service_rows(levels),
        "",
        *verdicts(single, best, levels),
    ]
    publish(RESULTS, "Service benchmark", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
