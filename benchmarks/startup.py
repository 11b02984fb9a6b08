"""How long `facegate` commands take to start and answer → benchmarks/results/startup.md.

Each command runs as a new process (as a user types it), `--runs` times; the table gives the median wall time for
this checkout and, with `--before REF`, for the `src/` of a git revision run the same way (PYTHONPATH; the two take
turns run by run), each with a small gallery of its own (2 people, 3 photos each, enrolled by that tree). Then
where the time goes: Python's `-X importtime` for each command in this checkout (modules over 100 ms, cumulative).

Usage: python benchmarks/startup.py [--runs 5] [--before REF]
"""

from __future__ import annotations

import argparse
import os
import shlex
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from datetime import UTC, datetime
from io import BytesIO
from pathlib import Path

from facegate.experiments.machine import describe_machine
from facegate.models import ensure_models

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PEOPLE = ("madonna", "elton_john")


def commands(work: Path) -> dict[str, list[str]]:
    """The commands timed, by what a user would type (paths shortened)."""
    val = ensure_models().celebrity / "val" / "madonna"
    a, b = sorted(val.glob("*.jpg"))[:2]
    db = str(work / "g.db")
    return {
        "facegate --version": ["--version"],
        "facegate people": ["people", "--db", db],
        "facegate verify A B": ["verify", str(a), str(b)],
        "facegate identify A (2-person gallery)": ["identify", str(a), "--db", db],
    }


def run(src: Path, args: list[str], python: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    """`python [PYTHON OPTIONS] -m facegate ARGS` with `src` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    return subprocess.run([sys.executable, *python, "-m", "facegate", *args], env=env, capture_output=True, text=True)


def enroll_gallery(src: Path, work: Path) -> None:
    """A gallery of PEOPLE, three train photos each, enrolled by the tree under test."""
    train = ensure_models().celebrity / "train"
    for person in PEOPLE:
        (work / "people" / person).mkdir(parents=True)
        for photo in sorted((train / person).glob("*.jpg"))[:3]:
            (work / "people" / person / photo.name).symlink_to(photo)
    done = run(src, ["enroll", str(work / "people"), "--db", str(work / "g.db")])
    if "enrolled" not in done.stdout:
        raise SystemExit(f"enrolling the startup gallery failed:\n{done.stderr}")


def medians(trees: dict[str, tuple[Path, Path]], runs: int) -> dict[str, dict[str, float]]:
    """Median wall seconds of each command over `runs` fresh processes, per tree ({label: (src, work)}); the trees
    take turns, run by run, so a change in the machine's load falls on all of them alike."""
    times: dict[str, dict[str, list[float]]] = {label: {} for label in trees}
    for _ in range(runs):
        for label, (src, work) in trees.items():
            for title, args in commands(work).items():
                started = time.perf_counter()
                run(src, args)
                times[label].setdefault(title, []).append(time.perf_counter() - started)
    out = {label: {title: statistics.median(t) for title, t in rows.items()} for label, rows in times.items()}
    print(out, file=sys.stderr, flush=True)
    return out


def slow_imports(src: Path, work: Path) -> dict[str, list[str]]:
    """Per command, the modules whose import (cumulative) took over 100 ms, outermost first."""
    return {title: _importtime(src, args) for title, args in commands(work).items()}


def _importtime(src: Path, args: list[str]) -> list[str]:
    """`python -X importtime -m facegate ARGS`: top-level and second-level modules over 100 ms."""
    done = run(src, args, ("-X", "importtime"))
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _, cumulative, name = line.split("|")
        depth = (len(name) - len(name.lstrip())) // 2
        if depth <= 1 and int(cumulative) > 100_000:
            rows.append(f"{'  ' * depth}{name.strip()} {int(cumulative) / 1e6:.2f} s")
    return rows


def tree_of(ref: str, into: Path) -> Path:
    """The src/ folder of a git revision, unpacked under `into`."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], capture_output=True, check=True).stdout
    with tarfile.open(fileobj=BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--before", metavar="REF", help="also time the src/ of this git revision")
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"now": ROOT / "src"}
        if args.before:
            trees = {args.before: tree_of(args.before, Path(tmp) / "before"), **trees}
        setups = {}
        for label, src in trees.items():
            work = Path(tmp) / f"work-{label}"
            work.mkdir()
            enroll_gallery(src, work)
            setups[label] = (src, work)
        timings = medians(setups, args.runs)
        imports = slow_imports(*setups["now"])
    labels = list(trees)
    table = [
        f"| command | {' | '.join(labels)} |",
        "|---|" + "---|" * len(labels),
        *(
            f"| `{title}` | " + " | ".join(f"{timings[label][title]:.2f} s" for label in labels) + " |"
            for title in timings["now"]
        ),
    ]
    where = [line for title, rows in imports.items() for line in (f"- `{title}`:", *(f"    {r}" for r in rows))]
    load = os.getloadavg()
    report = "\n".join(
        [
            "# Command start-up (benchmarks/startup.py)",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python benchmarks/{Path(__file__).name} "
            f"{shlex.join(sys.argv[1:])}`, {time.perf_counter() - started:.0f} s; {describe_machine()}; load average "
            f"{load[0]:.1f} (the machine is shared: absolute times are inflated, compare columns)",
            "",
            f"Median wall time of {args.runs} fresh processes per command (process start to exit, answer included).",
            "",
            *table,
            "",
            "Imports over 100 ms (cumulative, `python -X importtime`; nested lines are part of the line above):",
            "",
            *where,
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "startup.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
