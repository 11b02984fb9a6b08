"""The identifiers FaceGate ships, scored on the LFW open-set protocol at their own calibrated thresholds.

The benchmark's method rows set each threshold on the very strangers they are scored on: the best a score could
do, not what a site gets. Here each shipped identifier is fitted on the enrolled photos the way the product fits
it (the gate's `gallery.identify.build_identifier` at each target FPIR; `OpenSetIdentifier` also given the
background strangers, as `facegate experiment` fits it), and keeps its own thresholds. The stranger probes then give
the FPIR it reaches against its target, the genuine probes its FNIR there and its rank-1, and all probes the
calibration (ECE, reliability diagram) of the probability it shows next to a name: a stranger's "right" answer is
no one, so every candidate named for a stranger counts as wrong.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from threadpoolctl import threadpool_limits

from facegate.experiments.plotting import pyplot
from facegate.experiments.runner import calibration_error, reliability_bins
from facegate.gallery.identify import build_identifier
from facegate.match.decision import UNKNOWN, Decision, Identifier
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.match.openset import OpenSetIdentifier

if TYPE_CHECKING:
    from facegate.experiments.openset_benchmark import Embedded

ECE_BINS = 15

Build = Callable[[np.ndarray, np.ndarray, np.ndarray], Identifier]  # (enrolled, labels, background) → fitted


def gate(fpir: float) -> Build:
    """What the gate and the service run at target `fpir`: build_identifier over the enrolled samples (no
    background strangers; nearest neighbour when someone has one photo)."""

    def build(X: np.ndarray, y: np.ndarray, background: np.ndarray) -> Identifier:
        return build_identifier(X, y, fpir)

    return build


def with_background(fpir: float) -> Build:
    """OpenSetIdentifier at target `fpir` calibrated on the background strangers too, as `facegate experiment` fits
    it."""

    def build(X: np.ndarray, y: np.ndarray, background: np.ndarray) -> Identifier:
        return OpenSetIdentifier(fpir=fpir).fit(X, y, background=background)

    return build


@dataclass(frozen=True)
class Shipped:
    """One shipped configuration: its title, the enrollment size, the FPIR it is calibrated for, how it is built,
    the embeddings it runs on (`warp` is the pipeline's; `warp+flip` is not shipped), and whether it is the gate's."""

    title: str
    photos: int
    target: float
    build: Build
    variant: str = "warp"
    is_gate: bool = False


def shipped_methods(photo_counts: Sequence[int] = (1, 3, 5), fpirs: Sequence[float] = (0.01, 0.001)) -> list[Shipped]:
    """At each target FPIR: the gate at every enrollment size, and at the largest size the identifier calibrated on
    background strangers too and the gate on flip-TTA embeddings."""
    n = max(photo_counts)
    rows = []
    for f in fpirs:
        rows += [
            Shipped(f"Gate (`build_identifier`), fpir={f:g}, {k} photo(s)", k, f, gate(f), is_gate=True)
            for k in photo_counts
        ]
        rows += [
            Shipped(f"`OpenSetIdentifier` + background strangers, fpir={f:g}, {n} photos", n, f, with_background(f)),
            Shipped(f"Gate on flip-TTA embeddings (not shipped), fpir={f:g}, {n} photos", n, f, gate(f), "warp+flip"),
        ]
    return rows


@dataclass(frozen=True)
class Answers:
    """An identifier's decisions on labelled probes: candidate, answer (maybe UNKNOWN), probability, truth."""

    candidate: np.ndarray
    label: np.ndarray
    probability: np.ndarray
    truth: np.ndarray

    @classmethod
    def of(cls, decisions: Sequence[Decision], truth: np.ndarray) -> Answers:
        """The decisions' candidates, answers and probabilities, beside each probe's true person."""
        return cls(
            np.array([d.candidate for d in decisions]),
            np.array([d.label for d in decisions]),
            np.array([d.probability for d in decisions]),
            np.asarray(truth),
        )

    @property
    def hit(self) -> np.ndarray:
        """Whether the candidate is the probe's person (never, for strangers)."""
        return self.candidate == self.truth


@dataclass
class ShippedRow:
    """One shipped configuration's answers to the genuine and the stranger probes, and what they measure."""

    shipped: Shipped
    identifier: Identifier
    genuine: Answers
    strangers: Answers
    rank1: float = field(init=False)
    fnir: float = field(init=False)
    fpir: float = field(init=False)

    def __post_init__(self) -> None:
        self.rank1 = float(self.genuine.hit.mean())
        self.fnir = float(1.0 - np.mean(self.genuine.label == self.genuine.truth))
        self.fpir = self.strangers_named / len(self.strangers.label)

    @property
    def strangers_named(self) -> int:
        """How many stranger probes the identifier named as someone."""
        return int(np.sum(self.strangers.label != UNKNOWN))

    @property
    def has_probability(self) -> bool:
        """Whether the identifier gives probabilities (nearest neighbour answers 1.0 always)."""
        return isinstance(self.identifier, OpenSetIdentifier)

    def confidence_and_hits(self) -> tuple[np.ndarray, np.ndarray]:
        """The candidate's probability and whether it is right, over every probe (genuine and strangers)."""
        return (
            np.concatenate([self.genuine.probability, self.strangers.probability]),
            np.concatenate([self.genuine.hit, self.strangers.hit]),
        )

    def ece(self, genuine_only: bool = False) -> float:
        """ECE over ECE_BINS bins: over every probe, or only over the genuine ones (closed-set calibration)."""
        if genuine_only:
            return calibration_error(self.genuine.probability, self.genuine.hit, ECE_BINS)
        return calibration_error(*self.confidence_and_hits(), ECE_BINS)

    def thresholds(self) -> str:
        """The identifier's own thresholds, as the report shows them."""
        ident = self.identifier
        if isinstance(ident, OpenSetIdentifier):
            return (
                f"p ≥ {ident.probability_threshold_:.3f}, d ≤ {ident.distance_threshold_:.3f} "
                f"({ident.threshold_source_})"
            )
        if isinstance(ident, NearestNeighbourIdentifier):
            return f"d ≤ {ident.distance_threshold_:.3f} (nearest neighbour, prior)"
        return type(ident).__name__


def score_shipped(shipped: Shipped, data: Embedded) -> ShippedRow:
    """Fit the configuration on the enrolled embeddings and answer every probe."""
    identifier = shipped.build(data.gallery, data.gallery_labels.astype(str), data.background)
    genuine = Answers.of(identifier.decide(data.genuine), data.genuine_labels.astype(str))
    strangers = Answers.of(identifier.decide(data.impostors), np.full(len(data.impostors), UNKNOWN))
    return ShippedRow(shipped, identifier, genuine, strangers)


def run_shipped(data: Callable[[str, int], Embedded], chosen: Sequence[Shipped]) -> list[ShippedRow]:
    """Score every configuration on the protocol embedded for its variant and enrollment size."""
    rows = []
    with threadpool_limits(1, user_api="blas"):
        for shipped in chosen:
            rows.append(score_shipped(shipped, data(shipped.variant, shipped.photos)))
            print(
                f"{shipped.title}: FPIR {rows[-1].fpir:.2%} (target {shipped.target:.1%}), "
                f"FNIR {rows[-1].fnir:.2%}, rank-1 {rows[-1].rank1:.2%}",
                file=sys.stderr,
            )
    return rows


def reliability_row(rows: Sequence[ShippedRow]) -> ShippedRow:
    """The row the reliability diagram shows: the gate with the most enrolled photos (its probabilities are the
    same at every target FPIR: only the thresholds differ)."""
    return max((r for r in rows if r.shipped.is_gate), key=lambda r: r.shipped.photos)


def shipped_table(rows: Sequence[ShippedRow]) -> str:
    """Markdown table: target and achieved FPIR, FNIR there, rank-1, the thresholds and ECE."""
    lines = [
        (
            "| Identifier (as shipped) | Target FPIR | Achieved FPIR | FNIR | Rank-1 | Thresholds | "
            f"ECE ({ECE_BINS} bins), all probes / genuine |"
        ),
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ece = f"{r.ece():.3f} / {r.ece(genuine_only=True):.3f}" if r.has_probability else "n/a (no probability)"
        lines.append(
            f"| {r.shipped.title} | {r.shipped.target:.1%} | {r.fpir:.2%} "
            f"({r.strangers_named}/{len(r.strangers.label)}) | {r.fnir:.2%} "
            f"| {r.rank1:.2%} | {r.thresholds()} | {ece} |"
        )
    return "\n".join(lines)


def plot_reliability(row: ShippedRow, path: Path) -> None:
    """Reliability diagram of the gate's probabilities (all probes, and genuine probes only) above a histogram of
    them for genuine and stranger probes, as a PNG."""
    plt = pyplot("the open-set reliability diagram")
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6, 7), dpi=120, height_ratios=(3, 1), sharex=True)
    top.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1, label="perfect calibration")
    for label, colour, (confidence, hit) in (
        (f"all probes (ECE {row.ece():.3f})", "tab:purple", row.confidence_and_hits()),
        (
            f"genuine probes only (ECE {row.ece(genuine_only=True):.3f})",
            "tab:blue",
            (row.genuine.probability, row.genuine.hit),
        ),
    ):
        mean_confidence, accuracy, _ = reliability_bins(confidence, hit, ECE_BINS)
        top.plot(mean_confidence, accuracy, marker="o", color=colour, label=label)
    top.set_ylabel("share of candidates that are right")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1.02)
    top.grid(True, alpha=0.3)
    top.legend(fontsize=8, loc="upper left")
    top.set_title(
        f"Reliability of the gate's probabilities, {row.shipped.photos} photos per person\n"
        f"({ECE_BINS} equal-width bins; the same at every target FPIR)",
        fontsize=9,
    )
    edges = np.linspace(0, 1, ECE_BINS + 1)
    bottom.hist(
        [row.genuine.probability, row.strangers.probability],
        bins=edges,
        label=["genuine", "strangers"],
        color=["tab:blue", "tab:orange"],
    )
    bottom.set_yscale("log")
    bottom.set_xlabel("probability of the candidate")
    bottom.set_ylabel("probes")
    bottom.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
