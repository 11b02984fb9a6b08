"""`facegate benchmark openset`: open-set 1:N identification on LFW, with the NIST FRVT 1:N measures.

Gallery: LFW people with at least 10 photos, enrolled with their first 1, 3 or 5 photos; genuine probes: their
photos from the 6th on (the same probes for every enrollment size); impostor probes: every photo of the people
with exactly one photo (never enrolled). Background (the cohort for score normalisation and the open-set
calibration's strangers): the pairsDevTrain photos of everyone else, i.e. people with 2 to 9 photos.

Two kinds of rows. The identifiers FaceGate ships (openset_shipped.py) are fitted on the gallery the way the
product fits them and keep their own calibrated thresholds: the report gives the FPIR they reach on the stranger
probes against their target, FNIR there, rank-1 and the calibration (ECE) of their probabilities. The benchmark-only
methods score each probe and read FNIR at FPIR 1% and 0.1% at thresholds set on the very impostor probes scored (a
genuine probe is missed when its candidate is wrong or its score fails the threshold at which that share of
impostors passes): the best each score could do, with flip TTA and cohort normalisation, which the product lacks.
"""

from __future__ import annotations

import argparse
import functools
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
from facegate.experiments.openset_shipped import (
    ECE_BINS,
    ShippedRow,
    plot_reliability,
    reliability_row,
    run_shipped,
    shipped_methods,
    shipped_table,
)
from facegate.experiments.plotting import pyplot
from facegate.match.learners import study_learners
from facegate.match.nearest import pairwise_distances
from facegate.match.openset import default_classifier, nearest_own_distance
from facegate.match.stacking import StackedEnsemble
from facegate.match.superlearner import SuperLearnerClassifier

FPIRS = (0.01, 0.001)
MIN_PHOTOS = 10
PROBES_FROM = 5  # genuine probes are photos 6 and later, whatever the enrollment size
NAME_MATCH = 0.85  # difflib ratio of normalised names above which a stranger may be an enrolled person
DET_PLOT, RELIABILITY_PLOT = "openset_det.png", "openset_reliability.png"


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
    return [
        f
        for f in files
        if all(SequenceMatcher(None, _normalised(f.parent.name), n).ratio() < NAME_MATCH for n in names)
    ]


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
        return LFWEmbedder(cache, threads=threads).embeddings(strangers(devtrain_files(), enrolled), VARIANTS["warp"])[
            0
        ]
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
    return Embedded(
        embedder.embeddings(gallery_files, v)[0],
        gallery_labels,
        embedder.embeddings(genuine_files, v)[0],
        genuine_labels,
        embedder.embeddings(proto.impostors, v)[0],
        embedder.embeddings(proto.background, v)[0],
    )


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
    at the largest size the shipped classifier plain, with each of them and with both, and the other learners
    with both."""
    rows: list[Method] = []
    for n in photo_counts:
        rows += [
            Method(f"Nearest neighbour, {n} photo(s)", "warp", n),
            Method(f"NN + flip TTA, {n} photo(s)", "warp+flip", n),
            Method(f"NN + flip + cohort norm, {n} photo(s)", "warp+flip", n, COHORT_K),
        ]
    n = max(photo_counts)
    svc = study_learners(0, ("svc",))[0][1]
    lr = default_classifier()
    rows += [
        Method(f"LR (open-set default), {n} photos", "warp", n, 0, lr),
        Method(f"LR + flip TTA, {n} photos", "warp+flip", n, 0, lr),
        Method(f"LR + cohort norm, {n} photos", "warp", n, COHORT_K, lr),
        Method(f"LR + flip + cohort norm, {n} photos", "warp+flip", n, COHORT_K, lr),
        Method(f"SVC + flip + cohort norm, {n} photos", "warp+flip", n, COHORT_K, svc),
        Method(
            f"Stacked + flip + cohort norm, {n} photos",
            "warp+flip",
            n,
            COHORT_K,
            StackedEnsemble(_ensemble_learners(), folds=min(5, n), random_state=0),
        ),
        Method(
            f"Super Learner + flip + cohort norm, {n} photos",
            "warp+flip",
            n,
            COHORT_K,
            SuperLearnerClassifier(_ensemble_learners(), folds=min(5, n), random_state=0),
        ),
    ]
    return rows


EmbeddedSets = Callable[[str, int], Embedded]


def embedded_sets(embedder: LFWEmbedder, proto: Protocol) -> EmbeddedSets:
    """The protocol embedded for a (variant, enrollment size), each embedded once however often it is asked for."""
    return functools.cache(lambda variant, photos: embed_protocol(embedder, proto, variant, photos))


def run(data: EmbeddedSets, chosen: Sequence[Method]) -> list[Row]:
    """Score every method (embeddings are shared between methods of the same variant and size)."""
    rows = []
    with threadpool_limits(1, user_api="blas"):
        for m in chosen:
            embedded = data(m.variant, m.photos)
            start = time.monotonic()
            candidates = classifier_candidates(m.model) if m.model is not None else nearest_candidates
            probes = score_probes(embedded, candidates, m.cohort_k)
            rows.append(Row(m, probes, time.monotonic() - start))
            print(
                f"{m.title}: rank-1 {probes.rank1:.2%}, "
                + ", ".join(f"FNIR {rows[-1].fnir[f]:.2%} @ FPIR {f:g}" for f in FPIRS),
                file=sys.stderr,
            )
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
    plt = pyplot("the open-set DET plot")
    fig, ax = plt.subplots(figsize=(8, 6), dpi=120)
    for r in rows:
        fpir, fnir = r.probes.det()
        ax.plot(
            np.maximum(fpir, 1e-5),
            np.maximum(fnir, 1e-4),
            drawstyle="steps-post",
            label=r.method.title,
            linestyle="-" if r.method.photos == max(m.method.photos for m in rows) else ":",
        )
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


def _protocol_lines(proto: Protocol) -> list[str]:
    """The report's description of the protocol and of how each kind of row is scored."""
    genuine = sum(max(0, len(p) - PROBES_FROM) for p in proto.gallery.values())
    return [
        (
            f"- Gallery: {len(proto.gallery)} LFW people with ≥ {MIN_PHOTOS} photos, enrolled with their first 1, 3 or "
            f"5 photos; genuine probes: their {genuine} photos from the 6th on; impostor (stranger) probes: "
            f"{len(proto.impostors)} photos of people with one photo; cohort/background: {len(proto.background)} "
            "pairsDevTrain photos of the other people (2-9 photos each)."
        ),
        (
            "- Flip TTA: embedding of the photo plus that of its mirror image, re-normalised (`warp+flip`). The "
            "pipeline "
            "embeds without it (`warp`)."
        ),
    ]


def shipped_section(rows: Sequence[ShippedRow], plot_name: str) -> list[str]:
    """The shipped identifiers' table, what it measures, and the reliability diagram."""
    shown = reliability_row(rows).shipped
    return [
        "## The shipped identifier at its own calibrated thresholds",
        "",
        (
            "Each identifier is fitted on the enrolled photos as the product fits it: the gate and the service call "
            "`build_identifier(embeddings, labels, fpir)` (`OpenSetIdentifier`: temperature-scaled logistic regression "
            "plus the distance check, calibrated on the gallery alone and capped by the model's prior distance where "
            "the gallery holds too few strangers of its own; nearest neighbour at the prior distance when someone has "
            "one photo); *+ background strangers* also calibrates on the background photos, as `facegate experiment` "
            "does. The thresholds are the identifier's own: nothing is tuned on the probes. *Achieved FPIR*: share of "
            "the stranger probes it names as someone; *FNIR*: share of the genuine probes not named as their own "
            "person "
            "(wrong candidate or refused); *rank-1*: the candidate is right, before the open-set check. *ECE*: "
            "expected "
            f"calibration error of the probability shown with the candidate, {ECE_BINS} equal-width bins, over all "
            "probes (a stranger's candidate is always wrong) and over the genuine probes only."
        ),
        "",
        shipped_table(rows),
        "",
        f"![Reliability of the gate's probabilities, {shown.photos} photos per person]({plot_name})",
        "",
    ]


def benchmark_section(rows: Sequence[Row], plot_name: str) -> list[str]:
    """The benchmark-only methods' table, what it measures, and the DET plot."""
    return [
        "## Benchmark-only methods: thresholds set on the evaluated strangers",
        "",
        (
            "Not what a site gets: each score's threshold is the one that lets that share of these impostor probes "
            "through, read off the probes themselves. Score: distance from the probe to the candidate's nearest "
            "enrolled "
            "sample (Euclidean, unit embeddings); *cohort norm* divides it by the probe's mean distance to its "
            f"{COHORT_K} nearest background faces. Candidate: nearest sample, or the classifier's top class. FNIR "
            "counts "
            "a wrong candidate as a miss. The shipped identifier uses neither flip TTA nor cohort normalisation."
        ),
        "",
        table(rows),
        "",
        f"![DET curves]({plot_name})",
        "",
    ]


def report(rows: Sequence[Row], shipped: Sequence[ShippedRow], proto: Protocol, command: str, seconds: float) -> str:
    """The Markdown report: what was run and where, the protocol, the shipped identifiers, the other methods."""
    return "\n".join(
        [
            "# LFW open-set identification (1:N)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
            f"- Machine: {describe_machine()}",
            f"- Command: `{command}` ({seconds:.0f} s, cached embeddings included)",
            *_protocol_lines(proto),
            "",
            *shipped_section(shipped, RELIABILITY_PLOT),
            *benchmark_section(rows, DET_PLOT),
        ]
    )


def run_openset(args: argparse.Namespace) -> int:
    """Run the benchmark, print the report, and write it with its plots when --out is given."""
    lfw_dir()  # a clear error before any work when LFW is not set up
    started = time.monotonic()
    proto = protocol(args.gallery_people, args.impostor_people)
    cache = FeatureCache(args.cache)
    data = embedded_sets(LFWEmbedder(cache, threads=args.threads), proto)
    shipped = run_shipped(data, shipped_methods())
    rows = run(data, methods())
    cache.close()
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    text = report(rows, shipped, proto, command, time.monotonic() - started)
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "openset.md").write_text(text)
        plot_det(
            rows,
            args.out / DET_PLOT,
            f"LFW open-set DET of the benchmark-only methods (thresholds swept "
            f"over the strangers), {len(proto.gallery)} enrolled people",
        )
        plot_reliability(reliability_row(shipped), args.out / RELIABILITY_PLOT)
        print(f"wrote openset.md, {DET_PLOT} and {RELIABILITY_PLOT} in {args.out}", file=sys.stderr)
    return 0
