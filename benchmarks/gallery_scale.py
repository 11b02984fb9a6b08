"""Identification against gallery size: 1,000 to 100,000 enrolled people → benchmarks/results/gallery_scale.md and
gallery_scale.png.

Usage: python benchmarks/gallery_scale.py [--sizes 1000 10000 100000] [--switch-sizes 100 300 1000 3000]
(`OPENBLAS_NUM_THREADS=1` as for benchmarks/search.py: a second BLAS thread brings p99 spikes on two shared cores).

Faces: every LFW photo embedded by the pipeline's default (FaceNet, MTCNN + warp; cached by the feature cache). LFW's
5,749 people are split at random (seeded) in two halves: the enrolled half (up to 5 photos each enrolled; of those
with two photos or more the last photo is held out as their probe) and the strangers (one photo each searched, never
enrolled). Galleries bigger than the enrolled half are filled with synthetic people from search.FaceModel fitted to
the enrolled half only: identity centres drawn from a Gaussian fitted to the real per-person mean embeddings, 1 to 5
photos each made of the centre plus a real within-person residual, L2-normalised. The report checks that model: the
distances of same-person and different-person pairs, and how near real strangers come to a gallery of synthetic
people against one of as many real people (what FPIR depends on).

Each size runs in a fresh process: the gallery is a SQLite file filled through Gallery.add_people in batches, then
GalleryIdentifier (what the service and CLI use, at the shipped switch and thresholds) answers:
- identify p50/p99: one probe per call of GalleryIdentifier.decide (revision check included; the face pipeline not),
  median of 3 passes over 500 probes (genuine and strangers) after a warm-up pass;
- enrollment to visible: a new person enrolled through another Gallery connection (another gate or admin process)
  with add_person + add_sample, then decide() called in a loop until it names them, and the same after deleting them
  until it no longer does (median and largest of several); identification keeps answering meanwhile (the slowest
  decide() during those updates is reported). The index learns of a deletion from the gallery's deletion log;
  `every_id_reads` counts the times it read every sample id instead (0 unless the log fell short);
- rank-1 (nearest candidate right, threshold aside), FNIR (genuine probes not named as themselves) and the measured
  FPIR (strangers named as someone) for identifiers built at FPIR targets 1% and 0.1%: the product's thresholds, not
  thresholds tuned on these probes;
- memory: the process's peak resident set (ru_maxrss) and its resident set at the end.
The switch study compares, on the same people, the classifier (OpenSetIdentifier) with nearest neighbour at the prior
distance: open-set FNIR and measured FPIR at target FPIR 0.1% and the time to fit, real enrolled people first, then
synthetic ones (3 photos enrolled, a 4th as the probe).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import multiprocessing
import os
import resource
import shlex
import statistics
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)
from search import FaceModel, RealFaces, blas_threads, lfw_faces, realism, resident_mb

from facegate.experiments.machine import describe_machine
from facegate.experiments.plotting import pyplot
from facegate.gallery import open_gallery
from facegate.gallery.identify import INDEX_PEOPLE, GalleryIdentifier
from facegate.gallery.operating import configured
from facegate.gallery.repository import Gallery, NewSample
from facegate.match.nearest import NearestNeighbourIdentifier, pairwise_distances
from facegate.match.openset import OpenSetIdentifier
from facegate.match.operating_point import gallery_comparisons, prior_distance

RESULTS = Path(__file__).resolve().parent / "results"
MAX_ENROLLED = 5  # photos enrolled per real person at most, as a site enrolls
BATCH = 2_000  # people per Gallery.add_people transaction
TARGETS = (0.01, 0.001)
PROBES = 500  # probes timed per pass
ROUNDS = 5  # enrollments (and deletions) timed per size
SEED = 0


@dataclass(frozen=True)
class Split:
    """Real LFW faces: enrolled people with their enrolled embeddings, held-out probes of some, and strangers."""

    enrolled: dict[str, np.ndarray]  # person: K×128 enrolled embeddings
    probes: dict[str, np.ndarray]  # person (enrolled, two photos or more): the held-out photo's embedding
    strangers: np.ndarray  # one photo of each stranger

    def face_model(self) -> FaceModel:
        names = list(self.enrolled)
        labels = np.repeat(names, [len(self.enrolled[n]) for n in names])
        return FaceModel.fit(np.concatenate([self.enrolled[n] for n in names]), labels)


def lfw_split(seed: int = SEED) -> Split:
    """LFW's people split into enrolled people and strangers (see the module docstring)."""
    people, embeddings = lfw_faces()
    names = np.random.default_rng(seed).permutation(list(people))
    enrolled, probes = {}, {}
    for name in names[: len(names) // 2]:
        rows = people[name]
        enrolled[name] = embeddings[(rows[:-1] if len(rows) >= 2 else rows)[:MAX_ENROLLED]]
        if len(rows) >= 2:
            probes[name] = embeddings[rows[-1]]
    strangers = embeddings[[people[name][0] for name in names[len(names) // 2 :]]]
    return Split(enrolled, probes, strangers)


def impostor_tail(embeddings: np.ndarray, person: np.ndarray, below: float = 0.9) -> tuple[np.ndarray, int]:
    """The distances under `below` of every pair of photos of two different people (sorted), and how many such
    pairs there are in all."""
    tail, pairs = [], 0
    for start in range(0, len(embeddings), 1_000):
        d = pairwise_distances(embeddings[start : start + 1_000], embeddings)
        i = np.arange(start, min(start + 1_000, len(embeddings)))[:, None]
        counted = (np.arange(len(embeddings))[None, :] > i) & (person[i] != person[None, :])
        pairs += int(counted.sum())
        tail.append(d[counted & (d < below)])
    return np.sort(np.concatenate(tail)), pairs


def prior_check() -> str:
    """Markdown table: the shipped prior distance at each rate against the quantile of every different-person pair
    of all LFW photos (87 million), and the share of same-person pairs it turns away."""
    people, embeddings = lfw_faces()
    person = np.repeat(np.arange(len(people)), [len(rows) for rows in people.values()])
    order = np.concatenate(list(people.values()))
    x, tail_rows = embeddings[order], []
    tail, pairs = impostor_tail(x, person)
    same = np.concatenate(
        [
            pairwise_distances(x[person == p], x[person == p])[np.triu_indices(n, 1)]
            for p, n in enumerate(np.bincount(person))
            if n >= 2
        ]
    )
    for rate in (1e-4, 1e-5, 1e-6, 1e-7, 1e-8):
        k = int(rate * pairs)
        measured = f"{tail[k]:.3f} ({k:,} pairs below)" if k >= 1 else f"– (fewer than one pair in {pairs:,})"
        prior = prior_distance(rate)
        tail_rows.append(f"| {rate:g} | {prior:.3f} | {measured} | {np.mean(same > prior):.1%} |")
    return "\n".join(
        [
            "| rate per pair | shipped prior distance | all LFW different-person pairs: quantile | same-person pairs "
            "turned away |",
            "|---|---|---|---|",
            *tail_rows,
        ]
    )


def new_sample(embedding: np.ndarray, key: str) -> NewSample:
    """A sample as enrollment stores it (the thumbnail and quality figures play no part in identification)."""
    sha = hashlib.sha256(key.encode()).hexdigest()
    return NewSample(embedding, b"\xff\xd8", sha, f"{key}.jpg", (0.0, 0.0, 100.0, 100.0), 0.99, 100.0, 100.0, 0.5, 1)


def synthetic_people(model: FaceModel, n: int, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
    """n synthetic people with 1 to MAX_ENROLLED photos each (names "synthetic-<i>")."""
    counts = rng.integers(1, MAX_ENROLLED + 1, size=n)
    embeddings, _ = model.people(counts, rng)
    return [(f"synthetic-{i}", x) for i, x in enumerate(np.split(embeddings, np.cumsum(counts)[:-1]))]


def fill_gallery(gallery: Gallery, split: Split, size: int, rng: np.random.Generator) -> dict[str, int]:
    """Enrol `size` people (real ones first: a random subset when fewer are wanted), in batches; returns the real
    people's ids."""
    real = sorted(split.enrolled)
    if size < len(real):
        real = sorted(rng.choice(real, size, replace=False))
    people = [(name, split.enrolled[name]) for name in real]
    people += synthetic_people(split.face_model(), size - len(real), rng) if size > len(real) else []
    ids: dict[str, int] = {}
    for start in range(0, len(people), BATCH):
        batch = people[start : start + BATCH]
        samples = [[new_sample(x, f"{name}-{i}") for i, x in enumerate(xs)] for name, xs in batch]
        made = gallery.add_people([(name, s) for (name, _), s in zip(batch, samples)])
        ids.update((name, i) for (name, _), i in zip(batch, made) if not name.startswith("synthetic-"))
    return ids


def latency_ms(identifier: GalleryIdentifier, probes: np.ndarray, runs: int = 3) -> tuple[float, float]:
    """Median over `runs` passes of the p50 and p99 of one decide() per probe, after a warm-up pass."""
    for x in probes:
        identifier.decide(x[None])
    p50s, p99s = [], []
    for _ in range(runs):
        times = []
        for x in probes:
            start = time.perf_counter()
            identifier.decide(x[None])
            times.append(time.perf_counter() - start)
        p50s.append(np.percentile(times, 50) * 1000)
        p99s.append(np.percentile(times, 99) * 1000)
    return statistics.median(p50s), statistics.median(p99s)


def accuracy(identifier: GalleryIdentifier, split: Split, ids: dict[str, int]) -> dict[str, float]:
    """Rank-1 and FNIR over the probes of enrolled real people, FPIR over the strangers."""
    people = [p for p in split.probes if p in ids]
    truth = np.array([str(ids[p]) for p in people])
    _, genuine = identifier.decide(np.stack([split.probes[p] for p in people]))
    _, strangers = identifier.decide(split.strangers)
    return {
        "probes": len(people),
        "rank1": float(np.mean([d.candidate == t for d, t in zip(genuine, truth)])),
        "fnir": float(np.mean([d.label != t for d, t in zip(genuine, truth)])),
        "fpir": float(np.mean([d.known for d in strangers])),
        "false_accepts": sum(d.known for d in strangers),
    }


class CountingGallery(Gallery):
    """A Gallery that counts its reads of every sample id: what following a deletion should not need."""

    every_id_reads = 0

    def sample_ids(self) -> np.ndarray:
        self.every_id_reads += 1
        return super().sample_ids()


def until(identifier: GalleryIdentifier, probe: np.ndarray, named: bool, label: str, slowest: list[float]) -> float:
    """Seconds until decide() on `probe` names `label` (named) or stops naming it; every decide() is timed into
    `slowest`."""
    start = time.perf_counter()
    while time.perf_counter() - start < 60:
        before = time.perf_counter()
        answer = identifier.decide(probe[None])[1][0].label
        slowest.append(time.perf_counter() - before)
        if (answer == label) == named:
            return time.perf_counter() - start
    return float("inf")


def visibility(url: str, identifier: GalleryIdentifier, split: Split) -> dict[str, float]:
    """Enrol ROUNDS new people through another connection and time until the identifier names them; then delete
    them and time until it no longer does."""
    admin = open_gallery(url)
    enrolled, deleted, slowest = [], [], []
    for k, probe in enumerate(split.strangers[:ROUNDS]):
        person = admin.add_person(f"newcomer-{k}").id
        admin.add_sample(person, new_sample(probe, f"newcomer-{k}"))
        enrolled.append(until(identifier, probe, True, str(person), slowest))
        admin.delete_person(person)
        deleted.append(until(identifier, probe, False, str(person), slowest))
    return {
        "enroll_s": statistics.median(enrolled),
        "enroll_max_s": max(enrolled),
        "delete_s": statistics.median(deleted),
        "delete_max_s": max(deleted),
        "slowest_ms": max(slowest) * 1000,
    }


def measure_size(size: int) -> dict[str, float]:
    """Everything the report prints for one gallery size (run in a fresh process)."""
    split = lfw_split()
    rng = np.random.default_rng(SEED + size)
    with tempfile.TemporaryDirectory() as folder:
        url = str(Path(folder) / "gallery.db")
        gallery = open_gallery(url)
        start = time.perf_counter()
        ids = fill_gallery(gallery, split, size, rng)
        row: dict[str, float] = {"size": size, "fill_s": time.perf_counter() - start}
        for fpir in TARGETS:
            identifier = GalleryIdentifier(gallery, configured(fpir))
            start = time.perf_counter()
            fitted = identifier.wait_until_fresh(timeout=3600)
            row[f"first_fit_s@{fpir}"] = time.perf_counter() - start
            row[f"threshold@{fpir}"] = fitted.threshold or float("nan")
            row.update({f"{k}@{fpir}": v for k, v in accuracy(identifier, split, ids).items()})
            row["kind"] = fitted.kind  # type: ignore[assignment]
            del identifier
        watched = CountingGallery(gallery.engine)
        identifier = GalleryIdentifier(watched)  # the default operating point, as the service starts
        identifier.wait_until_fresh(timeout=3600)
        probes = np.concatenate([np.stack(list(split.probes.values())), split.strangers])
        row["p50_ms"], row["p99_ms"] = latency_ms(identifier, probes[rng.choice(len(probes), PROBES, replace=False)])
        row.update(visibility(url, identifier, split))
        row["every_id_reads"] = watched.every_id_reads
    row["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row["rss_mb"] = resident_mb()
    print(row, file=sys.stderr, flush=True)
    return row


def switch_gallery(split: Split, n: int, model: FaceModel) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """n people with two or more enrolled photos and a probe each (real ones first, then synthetic with 3 enrolled
    and a 4th as the probe): enrolled embeddings, their labels, the probes, their labels."""
    real = [p for p in split.probes if len(split.enrolled[p]) >= 2][:n]
    X = [split.enrolled[p] for p in real]
    y = [np.full(len(x), p) for p, x in zip(real, X)]
    probes, labels = [split.probes[p] for p in real], list(real)
    if n > len(real):
        made, person = model.people(np.full(n - len(real), 4), np.random.default_rng(SEED + n))
        last = np.r_[person[1:] != person[:-1], True]  # each synthetic person's 4th photo is the probe
        X.append(made[~last])
        y.append(np.char.add("synthetic-", person[~last].astype(str)))
        probes += list(made[last])
        labels += [f"synthetic-{i}" for i in person[last]]
    return np.concatenate(X), np.concatenate(y), np.stack(probes), np.array(labels)


def switch_study(split: Split, sizes: list[int], fpir: float = 0.001) -> list[dict[str, float | str]]:
    """Classifier against nearest neighbour at each size: time to fit, FNIR and measured FPIR at target `fpir`."""
    model, rows = split.face_model(), []
    for n in sizes:
        X, y, probes, truth = switch_gallery(split, n, model)
        for name, identifier in (
            ("classifier", OpenSetIdentifier(fpir=fpir)),
            ("nearest neighbour", NearestNeighbourIdentifier(fpir=fpir)),
        ):
            start = time.perf_counter()
            identifier.fit(X, y)
            fit_s = time.perf_counter() - start
            genuine, strangers = identifier.decide(probes), identifier.decide(split.strangers)
            rows.append(
                {
                    "people": n,
                    "identifier": name,
                    "fit_s": fit_s,
                    "fnir": float(np.mean([d.label != t for d, t in zip(genuine, truth)])),
                    "fpir": float(np.mean([d.known for d in strangers])),
                }
            )
            print(rows[-1], file=sys.stderr, flush=True)
    return rows


def stranger_check(split: Split) -> str:
    """Markdown table: real strangers searched against the real enrolled people and against as many synthetic
    people: nearest distance and FPIR at the shipped thresholds (what synthetic people must reproduce)."""
    real = list(split.enrolled.values())
    synthetic = [x for _, x in synthetic_people(split.face_model(), len(real), np.random.default_rng(SEED))]
    lines = [
        f"| {len(real):,} enrolled people | strangers' nearest sample: median / 1st percentile | FPIR at target 1% "
        "/ 0.1% (false accepts) |",
        "|---|---|---|",
    ]
    for name, people in (("real LFW people", real), ("synthetic people (FaceModel)", synthetic)):
        nearest = pairwise_distances(split.strangers, np.concatenate(people)).min(axis=1)
        rates = [
            f"{np.mean(nearest <= t):.2%} ({np.sum(nearest <= t)})"
            for t in (prior_distance(fpir, gallery_comparisons(len(x) for x in people)) for fpir in TARGETS)
        ]
        lines.append(f"| {name} | {np.median(nearest):.3f} / {np.percentile(nearest, 1):.3f} | {' / '.join(rates)} |")
    return "\n".join(lines)


def realism_tables(split: Split) -> str:
    """The synthetic people checked against the real ones: pair distances, then strangers' nearest distances."""
    names = list(split.enrolled)
    stored = np.concatenate([split.enrolled[n] for n in names])
    stored_labels = np.repeat(names, [len(split.enrolled[n]) for n in names])
    queries = np.stack(list(split.probes.values()))
    real = RealFaces(queries, np.array(list(split.probes)), stored, stored_labels)
    return realism(real, split.face_model()) + "\n\n" + stranger_check(split)


def size_table(rows: list[dict[str, float]]) -> str:
    lines = [
        "| people | identifier | identify p50 / p99 ms | enrolled → named, median / max s | deleted → unknown, "
        "median / max s (reads of every sample id) | slowest identify during updates ms | peak / end RSS MB | rank-1 "
        "| target FPIR 1%: threshold, FNIR, FPIR (false accepts) | target FPIR 0.1%: threshold, FNIR, FPIR "
        "(false accepts) |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        at = [
            f"{r[f'threshold@{t}']:.3f}, {r[f'fnir@{t}']:.1%}, {r[f'fpir@{t}']:.2%} ({r[f'false_accepts@{t}']:.0f})"
            for t in TARGETS
        ]
        lines.append(
            f"| {r['size']:,} | {r['kind']} | {r['p50_ms']:.2f} / {r['p99_ms']:.2f} | {r['enroll_s']:.2f} / "
            f"{r['enroll_max_s']:.2f} | {r['delete_s']:.2f} / {r['delete_max_s']:.2f} ({r['every_id_reads']:.0f}) | "
            f"{r['slowest_ms']:.0f} | {r['peak_rss_mb']:,.0f} / {r['rss_mb']:,.0f} | {r['rank1@0.001']:.1%} | "
            f"{at[0]} | {at[1]} |"
        )
    return "\n".join(lines)


def switch_table(rows: list[dict[str, float | str]]) -> str:
    lines = ["| people | identifier | fit s | FNIR | measured FPIR |", "|---|---|---|---|---|"]
    lines += [
        f"| {r['people']:,} | {r['identifier']} | {r['fit_s']:.2f} | {r['fnir']:.1%} | {r['fpir']:.2%} |" for r in rows
    ]
    return "\n".join(lines)


def plot(rows: list[dict[str, float]], path: Path) -> None:
    plt = pyplot("the gallery-scale plot")
    sizes = [r["size"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for t, style in zip(TARGETS, ("o-", "s-")):
        left.plot(sizes, [r[f"fnir@{t}"] * 100 for r in rows], style, label=f"FNIR, target FPIR {t:.1%}")
        left.plot(sizes, [r[f"fpir@{t}"] * 100 for r in rows], style, alpha=0.5, label=f"measured FPIR, target {t:.1%}")
    left.set(xscale="log", xlabel="enrolled people", ylabel="%", title="Open-set errors at the shipped thresholds")
    right.plot(sizes, [r["p99_ms"] for r in rows], "o-", label="identify p99 ms")
    right.plot(sizes, [r["enroll_max_s"] * 1000 for r in rows], "s-", label="enrolled → named, max ms")
    right.plot(sizes, [r["delete_max_s"] * 1000 for r in rows], "^-", label="deleted → unknown, max ms")
    right.plot(sizes, [r["slowest_ms"] for r in rows], "v-", label="slowest identify during updates ms")
    right.set(xscale="log", yscale="log", xlabel="enrolled people", title="Speed (face pipeline excluded)")
    for axes in (left, right):
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(
    rows: list[dict[str, float]], switch: list[dict[str, float | str]], realism_text: str, prior_text: str, header: str
) -> str:
    return "\n".join(
        [
            "# Identification against gallery size",
            "",
            header,
            "",
            size_table(rows),
            "",
            "![FNIR, FPIR and speed against gallery size](gallery_scale.png)",
            "",
            "## Where the classifier gives way to nearest neighbour (target FPIR 0.1%)",
            "",
            f"GalleryIdentifier switches to nearest neighbour over the gallery index from {INDEX_PEOPLE:,} people on.",
            "",
            switch_table(switch),
            "",
            "## The prior distance below its table (large galleries)",
            "",
            "facegate.match.operating_point extrapolates the table measured on pairsDevTrain (1e-1 to 1e-5) to lower "
            "rates; a gallery at target FPIR f reads it at f / C, C the comparisons a stranger's search makes (one per "
            "enrolled photo, min(k, 2.5 √k) for a person with k photos). Checked here against the quantiles of "
            "every different-person pair among all 13,233 LFW photos:",
            "",
            prior_text,
            "",
            "## How real the synthetic people are",
            "",
            realism_text,
            "",
        ]
    )


def run_sizes(sizes: list[int]) -> list[dict[str, float]]:
    """measure_size for each size, each in a fresh process (so each peak RSS is its own)."""
    rows = []
    for size in sizes:
        with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
            rows.append(pool.submit(measure_size, size).result())
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000])
    parser.add_argument("--switch-sizes", type=int, nargs="*", default=[100, 300, 1_000, 3_000])
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    started, load = time.monotonic(), os.getloadavg()[0]
    split = lfw_split()
    realism_text, prior_text = realism_tables(split), prior_check()
    print(prior_text, file=sys.stderr)
    switch = switch_study(split, args.switch_sizes)
    rows = run_sizes(args.sizes)
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    header = "\n".join(
        [
            f"- Date: {datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {describe_machine()}; BLAS threads: {blas_threads()}",
            f"- Command: `{command}` ({time.monotonic() - started:.0f} s); load average (1 min) at the start / end: "
            f"{load:.1f} / {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs (a shared machine: latencies vary)",
            f"- Real LFW: {len(split.enrolled):,} enrolled people ({len(split.probes):,} with a held-out probe), "
            f"{len(split.strangers):,} strangers (one photo each); the rest of each gallery synthetic (module "
            "docstring). Gallery in SQLite.",
        ]
    )
    text = report(rows, switch, realism_text, prior_text, header)
    print(text)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gallery_scale.md").write_text(text)
    plot(rows, args.out / "gallery_scale.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
