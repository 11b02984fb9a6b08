"""Gate service hardening, measured: a 20-client × 60 s /identify load (with /health probed meanwhile), then a long
Schemathesis fuzz (10,000 valid and invalid requests over every operation, admin key, one keep-alive connection),
against a real server on 127.0.0.1 (SQLite gallery of the 5 celebrities). Counts answers by status, connections the
server dropped, p50/p99 latency and the server's RSS before and after.

Run: .venv/bin/python benchmarks/service_fuzz.py [--requests 10000] [--clients 20] [--seconds 60]
→ prints a Markdown report, writes benchmarks/results/service_fuzz.md.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import numpy as np
import requests
from hypothesis import HealthCheck, Phase, given, settings

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from service import enroll_celebrities, probe_jpeg, publish, run_threads
from service_fixtures import Server, fuzz_cases, start_server

from facegate.api.auth import create_key
from facegate.experiments.machine import describe_machine
from facegate.gallery import open_gallery
from facegate.models import ensure_models

RESULTS = Path(__file__).resolve().parent / "results" / "service_fuzz.md"


@dataclass
class Tally:
    """Answers by status, failures (transport errors, dropped connections) and latencies in ms."""

    statuses: Counter[int] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    ms: list[float] = field(default_factory=list)

    def percentiles(self) -> str:
        p50, p99 = np.percentile(self.ms, [50, 99]) if self.ms else (float("nan"), float("nan"))
        return f"p50 {p50:.0f} ms, p99 {p99:.0f} ms"

    def statuses_text(self) -> str:
        return ", ".join(f"{status}: {count:,}" for status, count in sorted(self.statuses.items()))


def rss_mb(pid: int) -> float:
    """The process's resident memory in MB (Linux /proc)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def load(server: Server, key: str, jpeg: bytes, clients: int, seconds: float) -> tuple[Tally, Tally]:
    """`clients` threads posting /identify for `seconds`, and /health asked every 0.25 s meanwhile."""
    work, health, stop = Tally(), Tally(), threading.Event()

    def ask(tally: Tally, http: httpx.Client, send: object) -> None:
        start = time.perf_counter()
        try:
            response = send()  # type: ignore[operator]
        except httpx.TransportError as exc:
            tally.failures[type(exc).__name__] += 1
            return
        tally.ms.append((time.perf_counter() - start) * 1000)
        tally.statuses[response.status_code] += 1

    def client() -> None:
        with server.client(key, timeout=300) as http:
            while not stop.is_set():
                ask(work, http, lambda: http.post("/identify", files={"image": ("probe.jpg", jpeg, "image/jpeg")}))

    def prober() -> None:
        with server.client("", timeout=60) as http:
            while not stop.wait(0.25):
                ask(health, http, lambda: http.get("/health"))

    run_threads([client] * clients + [prober], stop, seconds)
    return work, health


def fuzz(server: Server, key: str, key_id: int, count: int) -> Tally:
    """`count` Schemathesis cases sent over one keep-alive session; a `Connection: close` answer is a dropped one."""
    tally, session = Tally(), requests.Session()

    @given(case=fuzz_cases(server.url, key_id))
    @settings(
        max_examples=count,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def send(case: object) -> None:
        case.headers = {**(case.headers or {}), "X-API-Key": key}  # type: ignore[attr-defined]
        start = time.perf_counter()
        try:
            response = case.call(base_url=server.url, session=session, timeout=120)  # type: ignore[attr-defined]
        except requests.RequestException as exc:
            tally.failures[type(exc).__name__] += 1
            return
        tally.ms.append((time.perf_counter() - start) * 1000)
        tally.statuses[response.status_code] += 1
        if response.headers.get("connection", "").lower() == "close":
            tally.failures["connection closed by the server"] += 1

    send()
    return tally


def report(
    args: argparse.Namespace, jpeg: bytes, rss: list[float], work: Tally, health: Tally, fuzzed: Tally, escaped: int
) -> str:
    """The Markdown report."""

    def errors(tally: Tally) -> str:
        bad = sum(n for status, n in tally.statuses.items() if status >= 500) + sum(tally.failures.values())
        return f"{bad:,}" + (f" ({dict(tally.failures)})" if tally.failures else "")

    lines = [
        (
            f"Machine: {describe_machine()}; server and clients on the same machine (load average "
            f"{os.getloadavg()[1]:.1f} over the last 5 minutes of the run); SQLite gallery of the 5 celebrities "
            "(their train photos)."
        ),
        "",
        (
            f"## Load: {args.clients} clients × {args.seconds:.0f} s of `POST /identify` (one-face 640×480 JPEG, "
            f"{len(jpeg) / 1024:.0f} KiB, gate key)"
        ),
        "",
        f"- answers: {sum(work.statuses.values()):,} ({work.statuses_text()}); errors: {errors(work)}",
        f"- latency: {work.percentiles()}; {sum(work.statuses.values()) / args.seconds:.1f} requests/s",
        (
            f"- `/health` during the load: {sum(health.statuses.values())} probes ({health.statuses_text()}), "
            f"{health.percentiles()}"
        ),
        "",
        (
            f"## Fuzz: {sum(fuzzed.statuses.values()):,} Schemathesis requests (valid and invalid cases of every "
            "operation, admin key, one keep-alive connection)"
        ),
        "",
        f"- answers by status: {fuzzed.statuses_text()}",
        f"- 5xx or dropped connections: {errors(fuzzed)}; errors escaping the app (server log): {escaped}",
        f"- latency: {fuzzed.percentiles()}",
        "",
        (
            f"## Server memory (RSS): {rss[0]:.0f} MB after start-up and enrollment, {rss[1]:.0f} MB after the load, "
            f"{rss[2]:.0f} MB after the fuzz"
        ),
        "",
        (
            f"Command: `.venv/bin/python benchmarks/service_fuzz.py --requests {args.requests} --clients "
            f"{args.clients} "
            f"--seconds {args.seconds:g}`"
        ),
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10_000, help="fuzzed requests (default 10,000)")
    parser.add_argument("--clients", type=int, default=20, help="concurrent /identify clients in the load")
    parser.add_argument("--seconds", type=float, default=60.0, help="length of the load")
    args = parser.parse_args()
    celebrity = ensure_models().celebrity / "train"
    folder = Path(tempfile.mkdtemp(prefix="facegate-fuzz-"))
    db = str(folder / "gallery.db")
    admin, admin_info = create_key(open_gallery(db), "admin", "fuzzer")
    gate = create_key(open_gallery(db), "gate", "load")[0]
    server = start_server(db, folder / "server.log")
    try:
        enroll_celebrities(server, admin, celebrity)
        jpeg = probe_jpeg(min((celebrity.parent / "val" / "madonna").glob("*.jpg")))
        rss = [rss_mb(server.process.pid)]
        work, health = load(server, gate, jpeg, args.clients, args.seconds)
        rss.append(rss_mb(server.process.pid))
        fuzzed = fuzz(server, admin, admin_info.id, args.requests)
        rss.append(rss_mb(server.process.pid))
    finally:
        server.stop()
    escaped = server.log.read_text().count("Exception in ASGI application")
    publish(RESULTS, "Gate service under fuzz and load", report(args, jpeg, rss, work, health, fuzzed, escaped))
    return 0


if __name__ == "__main__":
    sys.exit(main())
