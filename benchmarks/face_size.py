"""How verification accuracy falls with face size → benchmarks/results/face_size.md and face_size.png.

LFW pairs (pairs.txt folds, each scored at the threshold best on the others) with the photos downscaled so that
the face (the subject's box in the 250×250 deep-funneled photos, 92 px wide) is 20, 30, 40, 60, 80 or 120 px wide:
either only the second photo of each pair (a small probe against a full-size enrolled photo) or both. Faces are
found by the pipeline's MTCNN (looking for faces down to 12 px); where it finds none, the subject's box scaled to
the photo stands in (counted as a miss). This is what the enrollment minimum (FACEGATE_ENROLL_MIN_FACE) is set from.

Usage: python benchmarks/face_size.py [--folds 1] [--threads N]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from datetime import UTC, datetime
from functools import cache
from pathlib import Path

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)
from PIL import Image

from facegate import FaceGate
from facegate.detect.base import Face
from facegate.experiments.lfw import CENTRE_BOX, lfw_dir, pair_files, read_pairs, subject
from facegate.experiments.lfw_benchmark import evaluate
from facegate.experiments.machine import describe_machine

RESULTS = Path(__file__).resolve().parent / "results"
SIZES = (20, 30, 40, 60, 80, 120)  # face width in pixels
FULL_FACE = CENTRE_BOX[2] - CENTRE_BOX[0]  # 92 px in the 250×250 photos


@cache
def embed_at(fg: FaceGate, path: Path, face_px: int | None) -> tuple[np.ndarray, bool]:
    """The subject's embedding with the photo scaled so its face is `face_px` wide (None: as it is), and whether
    MTCNN found it (each photo and size once)."""
    image = Image.open(path).convert("RGB")
    scale = 1.0 if face_px is None else face_px / FULL_FACE
    method = Image.Resampling.BOX if scale < 1 else Image.Resampling.BICUBIC  # area average down, smooth up
    pixels = np.asarray(image.resize((round(image.width * scale), round(image.height * scale)), method))
    found = subject(fg.detector.detect(pixels), pixels.shape[1], pixels.shape[0])
    face = found or Face(box=tuple(v * scale for v in CENTRE_BOX), score=0.0)  # type: ignore[arg-type]
    return fg.represent(pixels, [face])[0].embedding, found is not None


def measure(fg: FaceGate, pairs: list, folds: np.ndarray, face_px: int | None, both: bool) -> dict[str, float]:
    """Accuracy (mean ± std over folds), TAR at FAR 1%, and the share of scaled photos MTCNN found."""
    distances, found = [], []
    for pair in pairs:
        a, b = pair_files(pair)
        ea, fa = embed_at(fg, a, face_px if both else None)
        eb, fb = embed_at(fg, b, face_px)
        distances.append(float(np.linalg.norm(ea - eb)))
        found += [fa, fb] if both else [fb]
    metrics = evaluate(np.asarray(distances), np.array([p.same for p in pairs]), folds)
    return {
        "accuracy": metrics.accuracy,
        "std": metrics.accuracy_std,
        "tar": metrics.tar[0.01],
        "found": float(np.mean(found)),
    }


def plot(rows: dict[tuple[int | None, bool], dict[str, float]], path: Path) -> None:
    """Accuracy against face width, one line per mode, the full-size accuracy as a dashed line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for both, label in ((False, "probe scaled, enrolled photo full size"), (True, "both photos scaled")):
        ax.plot(SIZES, [100 * rows[(s, both)]["accuracy"] for s in SIZES], marker="o", label=label)
    ax.axhline(100 * rows[(None, False)]["accuracy"], ls="--", c="grey", label="full size (92 px)")
    ax.set(xlabel="face width (px)", ylabel="LFW verification accuracy (%)", title="Accuracy against face size")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def report(rows: dict[tuple[int | None, bool], dict[str, float]], pairs: int, seconds: float) -> str:
    """The markdown table with the machine, date and command."""
    lines = [
        "# Verification accuracy against face size",
        "",
        f"- Command: `{shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])}`",
        f"- Machine: {describe_machine()}",
        f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"- {pairs} LFW pairs (pairs.txt folds as given), {seconds:.0f} s",
        "",
        "| face width | probe scaled: accuracy | TAR@FAR 1% | found | both scaled: accuracy | TAR@FAR 1% | found |",
        "|---|---|---|---|---|---|---|",
    ]
    full = rows[(None, False)]
    lines.append(
        f"| 92 px (as photographed) | {full['accuracy']:.2%} ± {full['std']:.2%} | {full['tar']:.2%} | "
        f"{full['found']:.1%} | | | |"
    )
    for size in SIZES:
        one, two = rows[(size, False)], rows[(size, True)]
        lines.append(
            f"| {size} px | {one['accuracy']:.2%} ± {one['std']:.2%} | {one['tar']:.2%} | {one['found']:.1%} "
            f"| {two['accuracy']:.2%} ± {two['std']:.2%} | {two['tar']:.2%} | {two['found']:.1%} |"
        )
    return "\n".join(lines + ["", "![accuracy against face size](face_size.png)", ""])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=1, help="pairs.txt folds to use (600 pairs each; default 1)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads")
    args = parser.parse_args()
    pairs = [p for p in read_pairs(lfw_dir() / "pairs.txt") if p.fold < args.folds]
    folds = np.arange(len(pairs)) % 10
    fg = FaceGate(min_face=12, alignment="warp", threads=args.threads)
    started = time.monotonic()
    rows = {(None, False): measure(fg, pairs, folds, None, False)}
    for size in SIZES:
        for both in (False, True):
            rows[(size, both)] = measure(fg, pairs, folds, size, both)
            print(f"{size} px, {'both' if both else 'probe'}: {rows[(size, both)]}", file=sys.stderr, flush=True)
    text = report(rows, len(pairs), time.monotonic() - started)
    print(text)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "face_size.md").write_text(text)
    plot(rows, RESULTS / "face_size.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
