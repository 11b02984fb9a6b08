"""`facegate benchmark openset`: open-set 1:N identification on LFW, with the NIST FRVT 1:N measures.

Gallery: LFW people with at least 10 photos, enrolled with their first 1, 3 or 5 photos; genuine probes: their
photos from the 6th on (the same probes for every enrollment size); impostor probes: every photo of the people
with exactly one photo (never enrolled). Background (the cohort for score normalisation and the open-set
calibration's strangers): the pairsDevTrain photos of everyone else, i.e. people with 2 to 9 photos.

Reported per method: rank-1 accuracy (the candidate is right) and FNIR at FPIR 1% and 0.1% (a genuine probe is
missed when its candidate is wrong or its score fails the threshold at which that share of impostors passes).
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from difflib import SequenceMatcher
from pathlib import Path

import numpy as np
from sklearn.base import ClassifierMixin, clone
from threadpoolctl import threadpool_limits

from facegate.experiments.feature_cache import FeatureCache
from facegate.experiments.lfw import configured_lfw, lfw_dir, read_pairs
from facegate.experiments.lfw_benchmark import (
    VARIANTS,
    LFWEmbedder,
    unique_files,
)
from facegate.experiments.machine import describe_machine
from facegate.match.learners import study_learners
from facegate.match.nearest import pairwise_distances
from facegate.match.openset import default_classifier, nearest_own_distance
from facegate.match.stacking import StackedEnsemble
from facegate.match.superlearner import SuperLearnerClassifier

FPIRS = (0.01, 0.001)
MIN_PHOTOS = 10
PROBES_FROM = 5  # genuine probes are photos 6 and later, whatever the enrollment size
NAME_MATCH = 0.85  # difflib ratio of normalised names above which a stranger may be an enrolled person


@dataclass(frozen=True)
class Protocol:
    """Photo lists of the open-set protocol (paths are LFW deep-funneled photos)."""

    gallery: dict[str, list[Path]]  # person → all their photos, in LFW order
    impostors: list[Path]
    background: list[Path]

    def enrolled(self, photos: int) -> tuple[list[Path], np.ndarray]:
        """The first `photos` photos of every gallery person, with their labels."""
        files = [p for person in self.gallery.values() for p in person[:photos]]
        return files, np.array([p.parent.name for p in files])

    def genuine(self) -> tuple[list[Path], np.ndarray]:
        """Every gallery person's photos from the (PROBES_FROM + 1)th on, with their labels."""
        files = [p for person in self.gallery.values() for p in person[PROBES_FROM:]]
        return files, np.array([p.parent.name for p in files])


def lfw_people(root: Path | None = None) -> dict[str, list[Path]]:
    """Every LFW person's deep-funneled photos, sorted, by name."""
    folder = (root or lfw_dir()) / "images_deepfunneled"
    return {d.name: sorted(d.glob("*.jpg")) for d in sorted(folder.iterdir()) if d.is_dir()}


def _normalised(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch.isalpha())


def strangers(files: Iterable[Path], enrolled: Iterable[str]) -> list[Path]:
    """The LFW photos whose person's name matches no enrolled name (case, separators and small misspellings,
    e.g. the 5-celebrity set's "ben_afflek", are ignored)."""
    names = [_normalised(n) for n in set(enrolled)]
    return [f for f in files
            if all(SequenceMatcher(None, _normalised(f.parent.name), n).ratio() < NAME_MATCH for n in names)]


def devtrain_files(root: Path | None = None) -> list[Path]:
    """The photos pairsDevTrain.txt names (LFW's development training split)."""
    return unique_files(read_pairs((root or lfw_dir()) / "pairsDevTrain.txt"))


def lfw_background(enrolled: Iterable[str], threads: int | None = None) -> np.ndarray | None:
    """Default-variant embeddings of the pairsDevTrain photos of people not enrolled (strangers for open-set
    calibration); None when no LFW folder is configured."""
    if configured_lfw() is None:
        return None
    cache = FeatureCache()
    try:
        return LFWEmbedder(cache, threads=threads).embeddings(strangers(devtrain_files(), enrolled), VARIANTS["warp"])[0]
    finally:
        cache.close()


def protocol(gallery_people: int | None = None, impostor_people: int | None = None) -> Protocol:
    """The protocol over all of LFW, or a slice: the `gallery_people` gallery people with the fewest photos and
    the first `impostor_people` single-photo people by name (the tests' quick version)."""
    people = lfw_people()
    gallery = sorted((p for p, f in people.items() if len(f) >= MIN_PHOTOS), key=lambda p: (len(people[p]), p))
    singles = sorted(p for p, f in people.items() if len(f) == 1)
    gallery, singles = gallery[:gallery_people], singles[:impostor_people]
    used = set(gallery) | {p for p, f in people.items() if len(f) == 1}
    background = [f for f in devtrain_files() if f.parent.name not in used]
    return Protocol({p: people[p] for p in sorted(gallery)}, [people[p][0] for p in singles], background)


@dataclass(frozen=True)
class Probes:
    """Scored probes: the candidate each probe names and its score (lower = more confident)."""

    genuine_candidates: np.ndarray
    genuine_labels: np.ndarray
    genuine_scores: np.ndarray
    impostor_scores: np.ndarray

    @property
    def rank1(self) -> float:
        return float(np.mean(self.genuine_candidates == self.genuine_labels))

    def threshold(self, fpir: float) -> float:
        """The largest score threshold (accept ≤ t) that lets at most `fpir` of the impostors through."""
        s = np.sort(self.impostor_scores)
        allowed = int(np.floor(fpir * len(s)))
        return float(np.nextafter(s[allowed], -np.inf)) if allowed < len(s) else np.inf

    def fnir(self, fpir: float) -> float:
        """Share of genuine probes missed (wrong candidate, or score over the threshold) at that FPIR."""
        hit = (self.genuine_candidates == self.genuine_labels) & (self.genuine_scores <= self.threshold(fpir))
        return float(1.0 - hit.mean())

    def det(self) -> tuple[np.ndarray, np.ndarray]:
        """(FPIR, FNIR) over every impostor score as the threshold."""
        thresholds = np.unique(self.impostor_scores)
        correct = self.genuine_candidates == self.genuine_labels
        fpir = np.searchsorted(np.sort(self.impostor_scores), thresholds, side="right") / len(self.impostor_scores)
        fnir = np.array([1.0 - np.mean(correct & (self.genuine_scores <= t)) for t in thresholds])
        return fpir, fnir


@dataclass(frozen=True)
class Embedded:
    """One variant's embeddings of everything the protocol needs."""

    gallery: np.ndarray
    gallery_labels: np.ndarray
    genuine: np.ndarray
    genuine_labels: np.ndarray
    impostors: np.ndarray
    background: np.ndarray


def embed_protocol(embedder: LFWEmbedder, proto: Protocol, variant: str, photos: int) -> Embedded:
    """Embed the gallery (first `photos` each), the probes and the background with one variant."""
    gallery_files, gallery_labels = proto.enrolled(photos)
    genuine_files, genuine_labels = proto.genuine()
    v = VARIANTS[variant]
    return Embedded(embedder.embeddings(gallery_files, v)[0], gallery_labels, embedder.embeddings(genuine_files, v)[0],
                    genuine_labels, embedder.embeddings(proto.impostors, v)[0], embedder.embeddings(proto.background, v)[0])


def cohort_scale(probes: np.ndarray, cohort: np.ndarray, k: int) -> np.ndarray:
    """Each probe's mean distance to its k nearest cohort faces: how close strangers come to it (score norm)."""
    d = pairwise_distances(probes, cohort)
    return np.partition(d, k - 1, axis=1)[:, :k].mean(axis=1)


Candidates = Callable[[Embedded, np.ndarray], np.ndarray]


def nearest_candidates(data: Embedded, probes: np.ndarray) -> np.ndarray:
    """The person of each probe's nearest enrolled sample."""
    return data.gallery_labels[pairwise_distances(probes, data.gallery).argmin(axis=1)]


def classifier_candidates(model: ClassifierMixin) -> Candidates:
    """Candidates by a classifier fitted on the gallery (fitted once per Embedded)."""
    fitted: dict[int, ClassifierMixin] = {}

    def candidates(data: Embedded, probes: np.ndarray) -> np.ndarray:
        if id(data) not in fitted:
            fitted[id(data)] = clone(model).fit(data.gallery.astype(np.float64), data.gallery_labels)
        m = fitted[id(data)]
        return m.classes_[m.predict_proba(probes.astype(np.float64)).argmax(axis=1)]

    return candidates


def score_probes(data: Embedded, candidates: Candidates, cohort_k: int) -> Probes:
    """Candidates and scores: distance to the candidate's nearest enrolled sample, divided by the probe's
    cohort scale when cohort_k > 0 (plain distance otherwise)."""
    def scored(probes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cand = candidates(data, probes)
        d = nearest_own_distance(probes, data.gallery, data.gallery_labels, cand)
        return cand, (d / cohort_scale(probes, data.background, cohort_k) if cohort_k else d)

    g_cand, g_score = scored(data.genuine)
    _, i_score = scored(data.impostors)
    return Probes(g_cand, data.genuine_labels, g_score, i_score)


@dataclass(frozen=True)
class Method:
    """One row of the table."""

    title: str
    variant: str
    photos: int
    cohort_k: int = 0
    model: ClassifierMixin | None = None


@dataclass
class Row:
    """A method's scored probes, scoring time and FNIR at each of FPIRS."""

    method: Method
    probes: Probes
    seconds: float
    fnir: dict[float, float] = field(init=False)

    def __post_init__(self) -> None:
        self.fnir = {f: self.probes.fnir(f) for f in FPIRS}


COHORT_K = 20


def _ensemble_learners() -> list[tuple[str, ClassifierMixin]]:
    """Level-0 learners for the ensembles: the study's linear ones and k-nearest neighbours."""
    return study_learners(0, ("lr", "svc", "knn"))


def methods(photo_counts: Sequence[int] = (1, 3, 5)) -> list[Method]:
    """Nearest neighbour plain, with flip TTA and with cohort score normalisation for each enrollment size;
    the learners (flip TTA, normalised scores) at the largest size."""
    rows: list[Method] = []
    for n in photo_counts:
        rows += [Method(f"Nearest neighbour, {n} photo(s)", "warp", n),
                 Method(f"NN + flip TTA, {n} photo(s)", "warp+flip", n),
                 Method(f"NN + flip + cohort norm, {n} photo(s)", "warp+flip", n, COHORT_K)]
    n = max(photo_counts)
    svc = study_learners(0, ("svc",))[0][1]
    rows += [Method(f"SVC + flip + cohort norm, {n} photos", "warp+flip", n, COHORT_K, svc),
             Method(f"LR (open-set default) + flip + cohort norm, {n} photos", "warp+flip", n, COHORT_K,
                    default_classifier()),
             Method(f"Stacked + flip + cohort norm, {n} photos", "warp+flip", n, COHORT_K,
                    StackedEnsemble(_ensemble_learners(), folds=min(5, n), random_state=0)),
             Method(f"Super Learner + flip + cohort norm, {n} photos", "warp+flip", n, COHORT_K,
                    SuperLearnerClassifier(_ensemble_learners(), folds=min(5, n), random_state=0))]
    return rows


def run(embedder: LFWEmbedder, proto: Protocol, chosen: Sequence[Method]) -> list[Row]:
    """Score every method (embeddings are shared between methods of the same variant and size)."""
    data: dict[tuple[str, int], Embedded] = {}
    rows = []
    with threadpool_limits(1, user_api="blas"):
        for m in chosen:
            key = (m.variant, m.photos)
            if key not in data:
                data[key] = embed_protocol(embedder, proto, m.variant, m.photos)
            start = time.monotonic()
            candidates = classifier_candidates(m.model) if m.model is not None else nearest_candidates
            probes = score_probes(data[key], candidates, m.cohort_k)
            rows.append(Row(m, probes, time.monotonic() - start))
            print(f"{m.title}: rank-1 {probes.rank1:.2%}, " + ", ".join(
                f"FNIR {rows[-1].fnir[f]:.2%} @ FPIR {f:g}" for f in FPIRS), file=sys.stderr)
    return rows


def table(rows: Sequence[Row]) -> str:
    """Markdown table of the rows."""
    heads = " | ".join(f"FNIR @ FPIR {f:.1%}" for f in FPIRS)
    lines = [f"| Method | Rank-1 | {heads} | Seconds |", "|---|---|" + "---|" * len(FPIRS) + "---|"]
    for r in rows:
        fnirs = " | ".join(f"{r.fnir[f]:.2%}" for f in FPIRS)
        lines.append(f"| {r.method.title} | {r.probes.rank1:.2%} | {fnirs} | {r.seconds:.1f} |")
    return "\n".join(lines)


def plot_det(rows: Sequence[Row], path: Path, title: str) -> None:
    """DET curves (FNIR against FPIR, both log scale) of every row, as a PNG."""
    from facegate.extras import optional_imports

    with optional_imports("report", "the open-set DET plot"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    for r in rows:
        fpir, fnir = r.probes.det()
        ax.plot(np.maximum(fpir, 1e-5), np.maximum(fnir, 1e-4), drawstyle="steps-post", label=r.method.title,
                linestyle="-" if r.method.photos == max(m.method.photos for m in rows) else ":")
    for f in FPIRS:
        ax.axvline(f, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(1 / max(len(r.probes.impostor_scores) for r in rows), 1)
    ax.set_xlabel("FPIR (impostor probes named as someone)")
    ax.set_ylabel("FNIR (genuine probes missed)")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=6, loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report(rows: Sequence[Row], proto: Protocol, command: str, seconds: float, plot_name: str) -> str:
    """The Markdown report: what was run, where, the protocol's sizes and the table."""
    genuine = sum(max(0, len(p) - PROBES_FROM) for p in proto.gallery.values())
    return "\n".join([
        "# LFW open-set identification (1:N)",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {describe_machine()}",
        f"- Command: `{command}` ({seconds:.0f} s, cached embeddings included)",
        (f"- Gallery: {len(proto.gallery)} LFW people with ≥ {MIN_PHOTOS} photos, enrolled with their first 1, 3 or "
         f"5 photos; genuine probes: their {genuine} photos from the 6th on; impostor probes: "
         f"{len(proto.impostors)} photos of people with one photo; cohort/background: {len(proto.background)} "
         "pairsDevTrain photos of the other people (2-9 photos each)."),
        ("- Score: distance from the probe to the candidate's nearest enrolled sample (Euclidean, unit "
         f"embeddings); *cohort norm* divides it by the probe's mean distance to its {COHORT_K} nearest background "
         "faces. Candidate: nearest sample, or the classifier's top class. FNIR counts a wrong candidate as a miss; "
         "the threshold is the one that lets that share of impostor probes through."),
        "- Flip TTA: embedding of the photo plus that of its mirror image, re-normalised (`warp+flip`).",
        "",
        table(rows),
        "",
        f"![DET curves]({plot_name})",
        "",
    ])


def add_openset_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `facegate benchmark openset` (benchmarks/openset.py runs the same command)."""
    parser.add_argument("--gallery-people", type=int, metavar="N",
                        help="only the N gallery people with the fewest photos (quick slice; default all)")
    parser.add_argument("--impostor-people", type=int, metavar="N",
                        help="only the first N single-photo people as impostors (default all)")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write openset.md and openset_det.png here")
    parser.add_argument("--cache", type=Path, metavar="DIR", help="feature cache folder (default: in the model cache)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all usable cores)")


def run_openset(args: argparse.Namespace) -> int:
    """Run the benchmark, print the table, and write the report and DET plot when --out is given."""
    lfw_dir()  # a clear error before any work when LFW is not set up
    started = time.monotonic()
    proto = protocol(args.gallery_people, args.impostor_people)
    cache = FeatureCache(args.cache)
    rows = run(LFWEmbedder(cache, threads=args.threads), proto, methods())
    cache.close()
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    text = report(rows, proto, command, time.monotonic() - started, "openset_det.png")
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "openset.md").write_text(text)
        plot_det(rows, args.out / "openset_det.png", f"LFW open-set DET, {len(proto.gallery)} enrolled people")
        print(f"wrote {args.out / 'openset.md'} and {args.out / 'openset_det.png'}", file=sys.stderr)
    return 0


def register_openset(benchmark_subparsers: argparse._SubParsersAction) -> None:
    """Add `benchmark openset` (its handler is the parser's `handler` default)."""
    p = benchmark_subparsers.add_parser("openset", help="LFW open-set 1:N identification: rank-1, FNIR at FPIR, DET")
    add_openset_arguments(p)
    p.set_defaults(handler=run_openset)
