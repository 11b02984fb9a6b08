"""LFW verification, the standard protocol: per-image embeddings for each variant, 10-fold accuracy, ROC, report.

Every photo is detected once per detector and embedded once per (detector, alignment, mirrored) combination;
all of it is cached by file content (FeatureCache), so a rerun reads arrays instead of running networks.
The LFW subject is the detected face nearest the image centre; where the detector finds nothing, the fixed
centre box the photos are built around is used instead, and counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
from PIL import Image
from sklearn.metrics import roc_auc_score, roc_curve

from facegate.align import Alignment, align
from facegate.detect.base import Face
from facegate.embed import Embedder, EmbeddingModel, l2_normalise
from facegate.experiments.feature_cache import FeatureCache, faces_from_array, faces_to_array, model_key
from facegate.experiments.lfw import Pair, centre_face, pair_files, subject
from facegate.experiments.machine import describe_machine
from facegate.fusion import fuse
from facegate.imageio import load_image
from facegate.pipeline import FaceGate, Precision

if TYPE_CHECKING:
    from facegate.faceres import FaceResNet
    from facegate.fusion import FusedEmbedder

FARS = (0.01, 0.001)
# LFW subjects are 80 px or more in the 250 px photos; skipping the smallest pyramid levels saves a third of MTCNN.
MIN_FACE = 40


@dataclass(frozen=True)
class Variant:
    """One way to turn an LFW photo into an embedding."""

    key: str
    label: str
    detector: Literal["mtcnn", "haar"]
    alignment: Alignment
    flip: bool = False
    precision: Precision = "fp32"
    model: EmbeddingModel = "facenet"
    fuses: tuple[str, ...] = ()  # a FaceNet and a VGGFace2 variant whose embeddings are fused (facegate.fusion)


VARIANTS: dict[str, Variant] = {
    v.key: v
    for v in (
        Variant("warp", "MTCNN + warp (default)", "mtcnn", "warp"),
        Variant("crop", "MTCNN + crop", "mtcnn", "crop"),
        Variant("warp+flip", "MTCNN + warp + flip TTA", "mtcnn", "warp", flip=True),
        Variant("crop+flip", "MTCNN + crop + flip TTA", "mtcnn", "crop", flip=True),
        Variant("haar", "Haar + crop", "haar", "crop"),
        Variant("warp+int8", "MTCNN + warp, int8 FaceNet", "mtcnn", "warp", precision="int8"),
        Variant("vggface2", "MTCNN + warp, VGGFace2 model (faceres)", "mtcnn", "warp", model="vggface2"),
        Variant(
            "vggface2+flip", "MTCNN + warp + flip TTA, VGGFace2 model", "mtcnn", "warp", flip=True, model="vggface2"
        ),
        Variant(
            "fusion",
            "MTCNN + warp, FaceNet + VGGFace2 model fused",
            "mtcnn",
            "warp",
            model="fusion",
            fuses=("warp", "vggface2"),
        ),
        Variant(
            "fusion+flip",
            "MTCNN + warp + flip TTA, FaceNet + VGGFace2 model fused",
            "mtcnn",
            "warp",
            flip=True,
            model="fusion",
            fuses=("warp+flip", "vggface2+flip"),
        ),
    )
}
DEFAULT_VARIANT = "warp"

# Published LFW accuracies printed beside ours.
ANCHORS = (
    ("FaceNet 20170512-110547, as published by its trainer (D. Sandberg)", 0.992),
    ("face_recognition (dlib ResNet)", 0.9938),
    ("FaceNet paper (Schroff et al. 2015)", 0.9963),
)


def _size(path: Path) -> tuple[int, int]:
    """Width and height from the image header (LFW photos carry no EXIF rotation)."""
    with Image.open(path) as img:
        return img.size


class LFWEmbedder:
    """Subject faces and embeddings of LFW photos per variant, computed once and cached by file content."""

    def __init__(self, cache: FeatureCache, threads: int | None = None, batch_size: int = 32) -> None:
        self.cache = cache
        self.threads = threads
        self.batch_size = batch_size
        self._gates: dict[tuple[str, str, str], FaceGate] = {}

    def _gate(
        self, detector: Literal["mtcnn", "haar"], precision: Precision = "fp32", model: EmbeddingModel = "facenet"
    ) -> FaceGate:
        if (detector, precision, model) not in self._gates:
            self._gates[detector, precision, model] = FaceGate(
                detector=detector, min_face=MIN_FACE, threads=self.threads, precision=precision, model=model
            )
        return self._gates[detector, precision, model]

    def embedder(self, variant: Variant) -> Embedder | FaceResNet | FusedEmbedder:
        """One session per model and precision, shared by every variant."""
        return self._gate("mtcnn", variant.precision, variant.model).embedder

    def subjects(self, paths: Sequence[Path], detector: Literal["mtcnn", "haar"]) -> list[Face | None]:
        """The subject face of each photo (None where the detector found nothing)."""
        gate = self._gate(detector)

        def detect(batch: list[Path]) -> list[np.ndarray]:
            return [faces_to_array(gate.detect(p)) for p in batch]

        found = self.cache.compute(
            f"detect/{detector}-min{MIN_FACE}", paths, detect, self.batch_size, desc=f"detect {detector}"
        )
        return [subject(faces_from_array(rows), *_size(p)) for p, rows in zip(paths, found)]

    def embeddings(self, paths: Sequence[Path], variant: Variant) -> tuple[np.ndarray, np.ndarray]:
        """N×D unit embeddings and a boolean mask of the photos that needed the centre-box fallback."""
        if variant.fuses:
            (facenet, fallback), (vggface2, _) = (self.embeddings(paths, VARIANTS[key]) for key in variant.fuses)
            return fuse(facenet, vggface2), fallback
        faces = self.subjects(paths, variant.detector)
        fallback = np.array([f is None for f in faces])
        face_of = {p: f if f is not None else centre_face() for p, f in zip(paths, faces)}
        embedder = self.embedder(variant)

        def one_pass(mirror: bool) -> np.ndarray:
            def embed(batch: list[Path]) -> np.ndarray:
                crops = np.concatenate([align(load_image(p), [face_of[p]], variant.alignment) for p in batch])
                return embedder.embed(np.ascontiguousarray(crops[:, :, ::-1]) if mirror else crops)

            name = (
                f"embed/{model_key(embedder.model)}/{variant.detector}-min{MIN_FACE}-{variant.alignment}-lfw"
                f"{'-mirror' if mirror else ''}"
            )
            desc = (
                f"embed {variant.model} {variant.detector} {variant.alignment} {variant.precision}"
                f"{' mirrored' if mirror else ''}"
            )
            return np.stack(self.cache.compute(name, paths, embed, self.batch_size, desc=desc))

        plain = one_pass(mirror=False)
        return (l2_normalise(plain + one_pass(mirror=True)) if variant.flip else plain), fallback


def best_threshold(distances: np.ndarray, same: np.ndarray) -> float:
    """The distance threshold (accept ≤ t) with the highest accuracy; the middle of the best run of cut points."""
    order = np.argsort(distances, kind="stable")
    d, s = distances[order], same[order].astype(bool)
    accepted_same = np.concatenate([[0], np.cumsum(s)])
    accepted_diff = np.concatenate([[0], np.cumsum(~s)])
    correct = accepted_same + (accepted_diff[-1] - accepted_diff)  # cut after the first i distances
    cut_ok = np.ones(len(d) + 1, dtype=bool)
    cut_ok[1:-1] = d[1:] > d[:-1]  # never split tied distances
    best = np.flatnonzero(cut_ok & (correct == correct[cut_ok].max()))
    i = int(best[len(best) // 2])
    if i == 0:
        return float(d[0] - 1e-6)
    if i == len(d):
        return float(d[-1] + 1e-6)
    return float((d[i - 1] + d[i]) / 2)


def accuracy(distances: np.ndarray, same: np.ndarray, threshold: float) -> float:
    """Fraction of pairs decided correctly by `distance ≤ threshold`."""
    return float(np.mean((distances <= threshold) == same))


@dataclass(frozen=True)
class Metrics:
    """Verification quality on a set of pairs under the k-fold protocol."""

    fold_accuracies: np.ndarray
    fold_thresholds: np.ndarray
    auc: float
    tar: dict[float, float]
    fpr: np.ndarray = field(repr=False)
    tpr: np.ndarray = field(repr=False)

    @property
    def accuracy(self) -> float:
        return float(self.fold_accuracies.mean())

    @property
    def accuracy_std(self) -> float:
        return float(self.fold_accuracies.std())

    @property
    def threshold(self) -> float:
        return float(self.fold_thresholds.mean())


def evaluate(distances: np.ndarray, same: np.ndarray, folds: np.ndarray) -> Metrics:
    """k-fold protocol: each fold is scored at the threshold that is best on the other folds; ROC over all pairs."""
    same = same.astype(bool)
    accs, thresholds = [], []
    for fold in np.unique(folds):
        test = folds == fold
        t = best_threshold(distances[~test], same[~test])
        thresholds.append(t)
        accs.append(accuracy(distances[test], same[test], t))
    fpr, tpr, _ = roc_curve(same, -distances)
    tar = {far: float(tpr[fpr <= far].max()) for far in FARS}
    return Metrics(np.array(accs), np.array(thresholds), float(roc_auc_score(same, -distances)), tar, fpr, tpr)


def pair_distances(pairs: Sequence[Pair], files: Sequence[Path], embeddings: np.ndarray) -> np.ndarray:
    """Euclidean distance between the two photos' embeddings, per pair."""
    row = {p: i for i, p in enumerate(files)}
    a, b = zip(*(pair_files(pair) for pair in pairs))
    return np.linalg.norm(embeddings[[row[p] for p in a]] - embeddings[[row[p] for p in b]], axis=1)


def unique_files(pairs: Sequence[Pair]) -> list[Path]:
    """Every photo the pairs refer to, once, sorted."""
    return sorted({path for pair in pairs for path in pair_files(pair)})


@dataclass(frozen=True)
class VariantResult:
    """One row of the results table."""

    variant: Variant
    metrics: Metrics
    fallbacks: int
    photos: int


def run_variant(embedder: LFWEmbedder, pairs: Sequence[Pair], folds: np.ndarray, variant: Variant) -> VariantResult:
    """Embed the pairs' photos with `variant` and score them under the k-fold protocol."""
    files = unique_files(pairs)
    embeddings, fallback = embedder.embeddings(files, variant)
    distances = pair_distances(pairs, files, embeddings)
    same = np.array([pair.same for pair in pairs])
    return VariantResult(variant, evaluate(distances, same, folds), int(fallback.sum()), len(files))


@dataclass(frozen=True)
class GlobalThreshold:
    """The one threshold best on a training pair set, and how it does there and on held-out pairs."""

    threshold: float
    train_accuracy: float
    test_accuracy: float


def global_threshold(
    embedder: LFWEmbedder, train: Sequence[Pair], test: Sequence[Pair], variant: Variant
) -> GlobalThreshold:
    """Best single threshold on `train` (e.g. pairsDevTrain), checked on `test` (e.g. pairsDevTest)."""
    scored = []
    for pairs in (train, test):
        files = unique_files(pairs)
        embeddings, _ = embedder.embeddings(files, variant)
        scored.append((pair_distances(pairs, files, embeddings), np.array([p.same for p in pairs])))
    (d_train, s_train), (d_test, s_test) = scored
    t = best_threshold(d_train, s_train)
    return GlobalThreshold(t, accuracy(d_train, s_train, t), accuracy(d_test, s_test, t))


def results_table(results: Sequence[VariantResult]) -> str:
    """Markdown table of the variants, then the published anchors."""
    far_heads = " | ".join(f"TAR @ FAR {far:.1%}" for far in FARS)
    lines = [
        f"| Variant | Accuracy (mean ± std) | ROC AUC | {far_heads} | Threshold | Fallbacks |",
        "|---|---|---|" + "---|" * len(FARS) + "---|---|",
    ]
    for r in results:
        m = r.metrics
        tars = " | ".join(f"{m.tar[far]:.2%}" for far in FARS)
        lines.append(
            f"| {r.variant.label} | {m.accuracy:.2%} ± {m.accuracy_std:.2%} | {m.auc:.4f} | {tars} | "
            f"{m.threshold:.3f} ± {m.fold_thresholds.std():.3f} | {r.fallbacks} / {r.photos} |"
        )
    for name, acc in ANCHORS:
        lines.append("| " + " | ".join([f"*{name}*", f"*{acc:.2%}*"] + [""] * (len(FARS) + 3)) + " |")
    return "\n".join(lines)


def plot_roc(results: Sequence[VariantResult], path: Path, title: str) -> None:
    """ROC curves of all variants (FAR on a log axis) as a PNG."""
    from facegate.extras import optional_imports

    with optional_imports("report", "the LFW ROC plot"):
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 5), dpi=120)
    for r in results:
        m = r.metrics
        ax.plot(np.maximum(m.fpr, 1e-4), m.tpr, label=f"{r.variant.label} (AUC {m.auc:.4f}, acc {m.accuracy:.2%})")
    for far in FARS:
        ax.axvline(far, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("log")
    ax.set_xlim(1e-4, 1)
    low = min(r.metrics.tar[FARS[-1]] for r in results)
    ax.set_ylim(max(0.0, np.floor((low - 0.05) * 20) / 20), 1.002)
    ax.set_xlabel("False accept rate (log scale)")
    ax.set_ylabel("True accept rate")
    ax.set_title(title, fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def report(
    results: Sequence[VariantResult],
    devtrain: GlobalThreshold | None,
    protocol: str,
    command: str,
    seconds: float,
    plot_name: str,
) -> str:
    """The Markdown report: what was run, where, the table, the DevTrain threshold and the plot."""
    default = next((r for r in results if r.variant.key == DEFAULT_VARIANT), None)
    lines = [
        "# LFW verification",
        "",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- Machine: {describe_machine()}",
        f"- Command: `{command}` ({seconds:.0f} s, cached arrays included)",
        f"- Protocol: {protocol}. Distance: Euclidean between unit embeddings; the threshold is chosen on the "
        "other folds and applied to the held-out fold. TAR at FAR and AUC pool all pairs.",
        "- Subject: the detected face nearest the image centre; *Fallbacks* counts photos where the detector "
        "found none and the fixed centre box (`lfw.CENTRE_BOX`, crop geometry) was used instead.",
        "- int8: FaceNet quantised by `facegate.models.facenet_int8` (per-channel weights, activations calibrated "
        "on the 5-celebrity train faces), detections shared with the fp32 rows.",
        "",
        results_table(results),
        "",
    ]
    if devtrain is not None:
        lines += [
            f"Single global threshold for the default variant, chosen on pairsDevTrain: "
            f"**{devtrain.threshold:.3f}** (DevTrain accuracy {devtrain.train_accuracy:.2%}, "
            f"pairsDevTest accuracy at it {devtrain.test_accuracy:.2%}).",
            "",
        ]
    if default is not None:
        best = max(results, key=lambda r: r.metrics.accuracy)
        lines += [
            f"Default variant: {default.metrics.accuracy:.2%}; best: {best.variant.label} {best.metrics.accuracy:.2%}.",
            "",
        ]
    lines += [f"![ROC curves]({plot_name})", ""]
    return "\n".join(lines)


def protocol_pairs(pairs: Sequence[Pair], fold: int | None = None) -> tuple[list[Pair], np.ndarray, str]:
    """The pairs to score, their fold labels and a description: all of pairs.txt with its own folds, or only
    fold `fold` (1-based) split round-robin into 10 sub-folds (the quick slice the tests use)."""
    if fold is None:
        chosen = list(pairs)
        folds = np.array([pair.fold for pair in chosen])
        return chosen, folds, f"pairs.txt, {len(np.unique(folds))} folds, {len(chosen)} pairs"
    chosen = [pair for pair in pairs if pair.fold == fold - 1]
    if not chosen:
        raise ValueError(f"pairs.txt has no fold {fold}")
    described = f"pairs.txt fold {fold} only, {len(chosen)} pairs in 10 round-robin sub-folds"
    return chosen, np.arange(len(chosen)) % 10, described
