"""Gate service throughput: identify requests per second and p50/p99 latency for a one-face 640×480 JPEG with 1, 4
and 8 concurrent clients, against a real server process (SQLite gallery of the 5 celebrities).

Run: .venv/bin/python benchmarks/service.py [--seconds 20]  → prints a Markdown table, writes
benchmarks/results/service.md.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from service_fixtures import Server, start_server, wait_fitted

from facegate.api.auth import create_key
from facegate.experiments.machine import describe_machine
from facegate.gallery import open_gallery
from facegate.imageio import letterbox
from facegate.models import ensure_models

RESULTS = Path(__file__).resolve().parent / "results" / "service.md"


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


def measure(server: object, key: str, jpeg: bytes, clients: int, seconds: float) -> tuple[float, float, float, int]:
    """(requests/s, p50 ms, p99 ms, requests) with `clients` threads posting /identify for `seconds`."""
    latencies: list[float] = []
    stop = threading.Event()

    def client() -> None:
        with server.client(key) as http:
            while not stop.is_set():
                start = time.perf_counter()
                response = http.post("/identify", files={"image": ("probe.jpg", jpeg, "image/jpeg")})
                response.raise_for_status()
                latencies.append(time.perf_counter() - start)

    elapsed = run_threads([client] * clients, stop, seconds)
    ms = np.asarray(latencies) * 1000
    return len(ms) / elapsed, float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), len(ms)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="measuring time per concurrency level")
    args = parser.parse_args()
    celebrity = ensure_models().celebrity / "train"
    folder = Path(tempfile.mkdtemp(prefix="facegate-bench-"))
    db = str(folder / "gallery.db")
    key = create_key(open_gallery(db), "gate", "bench")[0]
    admin = create_key(open_gallery(db), "admin", "bench-admin")[0]
    server = start_server(db, folder / "server.log")
    try:
        status, samples = enroll_celebrities(server, admin, celebrity)
        jpeg = probe_jpeg(sorted((celebrity.parent / "val" / "madonna").glob("*.jpg"))[0])
        with server.client(key) as http:  # warm-up
            faces = http.post("/identify", files={"image": ("probe.jpg", jpeg, "image/jpeg")}).json()["faces"]
        assert len(faces) == 1, f"the probe should show one face, found {len(faces)}"
        rows = [(n, *measure(server, key, jpeg, n, args.seconds)) for n in (1, 4, 8)]
    finally:
        server.stop()
    lines = [
        f"Gate service, `POST /identify` of a one-face 640×480 JPEG ({len(jpeg) / 1024:.0f} KiB), "
        f"{args.seconds:.0f} s per level; gallery: 5 people, {samples} samples ({status['identifier']}), SQLite.",
        f"Machine: {describe_machine()}; server and clients on the same machine.",
        "",
        "| clients | requests/s | p50 latency (ms) | p99 latency (ms) | requests |",
        "|---:|---:|---:|---:|---:|",
        *(f"| {n} | {rps:.2f} | {p50:.0f} | {p99:.0f} | {count} |" for n, rps, p50, p99, count in rows),
    ]
    publish(RESULTS, "Service benchmark", "\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
