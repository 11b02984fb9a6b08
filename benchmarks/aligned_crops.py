"""Identification from pre-aligned face crops against the original photos → benchmarks/results/aligned_crops.md.

LFW people with at least four photos (every k-th of them, by name): the first two photos enrolled, the next two
identified; people with one photo are the strangers. Each photo is used as it is (250×250) or as a dataset would
publish it: cut with FaceGate's own MTCNN landmarks into ArcFace's 112×112 or FaceNet's 160×160 layout
(facegate.crops.make_crop). Crops are enrolled and identified with FaceGate's default (`aligned=None`: the
detector's face where it finds one, else the whole crop when R-Net and O-Net call it a face) and with
`aligned=True` (the whole crop, the layout's landmarks). Open-set 1-NN at FPIR 1e-3 (the prior distance for the
enrolled people), as `video --gallery` and a small gallery decide.

Usage: python benchmarks/aligned_crops.py [--people 100] [--strangers 100]
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate import FaceGate
from facegate.crops import ARCFACE, FACENET, CropLayout, make_crop
from facegate.experiments.lfw import lfw_dir, subject
from facegate.experiments.machine import describe_machine
from facegate.imageio import load_image
from facegate.match.nearest import NearestNeighbourIdentifier

RESULTS = Path(__file__).resolve().parent / "results"


def lfw_people(people: int, strangers: int) -> tuple[dict[str, list[Path]], list[Path]]:
    """{person: 4 photos} for `people` spread over LFW's names, and one photo each of `strangers` others."""
    folders = sorted(p for p in (lfw_dir() / "images_deepfunneled").iterdir() if p.is_dir())
    photos = {f.name: sorted(f.glob("*.jpg")) for f in folders}
    many = [name for name, files in photos.items() if len(files) >= 4]
    single = [name for name, files in photos.items() if len(files) == 1]
    chosen = many[:: max(1, len(many) // people)][:people]
    return {n: photos[n][:4] for n in chosen}, [
        photos[n][0] for n in single[:: max(1, len(single) // strangers)][:strangers]
    ]


def variant(fg: FaceGate, path: Path, layout: CropLayout | None) -> np.ndarray | None:
    """The photo as it is (layout None), or its subject cut as a crop of the layout; None when MTCNN finds no face."""
    pixels = load_image(path)
    if layout is None:
        return pixels
    face = subject(fg.detector.detect(pixels), pixels.shape[1], pixels.shape[0])
    return None if face is None else make_crop(pixels, face, layout)


def embedding(fg: FaceGate, pixels: np.ndarray | None) -> tuple[np.ndarray | None, str]:
    """The largest face's embedding and how it was found: by the detector, as the whole crop, or not at all."""
    if pixels is None:
        return None, "no face"
    found = fg.represent(pixels)
    if not found:
        return None, "no face"
    whole = found[0].face.box == (0.0, 0.0, float(pixels.shape[1]), float(pixels.shape[0]))
    return found[0].embedding, "whole crop" if whole else "detector"


def score(fg: FaceGate, people: dict[str, list[Path]], strangers: list[Path], layout: CropLayout | None) -> dict:
    """Enroll photos 1-2, identify photos 3-4 and the strangers; the counts of each outcome."""
    how: dict[str, int] = defaultdict(int)
    gallery, labels = [], []
    for name, files in people.items():
        for path in files[:2]:
            vector, found = embedding(fg, variant(fg, path, layout))
            how[found] += 1
            if vector is not None:
                gallery.append(vector)
                labels.append(name)
    identifier = NearestNeighbourIdentifier(fpir=1e-3).fit(np.stack(gallery), labels)
    out = {"right": 0, "wrong": 0, "unknown": 0, "genuine": 0, "false_names": 0, "strangers": len(strangers)}
    for name, files in people.items():
        for path in files[2:]:
            vector, found = embedding(fg, variant(fg, path, layout))
            how[found] += 1
            out["genuine"] += 1
            if vector is None:
                out["unknown"] += 1
                continue
            label = identifier.decide(vector[None])[0].label
            out["right" if label == name else "unknown" if label == "unknown" else "wrong"] += 1
    for path in strangers:
        vector, found = embedding(fg, variant(fg, path, layout))
        how[found] += 1
        out["false_names"] += vector is not None and identifier.decide(vector[None])[0].known
    return out | {"how": dict(how), "enrolled": len(gallery)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--people", type=int, default=100)
    parser.add_argument("--strangers", type=int, default=100)
    args = parser.parse_args()
    people, strangers = lfw_people(args.people, args.strangers)
    runs = [
        ("original photos (250×250)", None, None),
        ("ArcFace 112×112 crops, automatic", ARCFACE, None),
        ("ArcFace 112×112 crops, --aligned", ARCFACE, True),
        ("FaceNet 160×160 crops, automatic", FACENET, None),
        ("FaceNet 160×160 crops, --aligned", FACENET, True),
    ]
    rows = []
    started = time.perf_counter()
    for title, layout, aligned in runs:
        out = score(FaceGate(aligned=aligned), people, strangers, layout)
        print(title, out, file=sys.stderr, flush=True)
        how = ", ".join(f"{k} {v}" for k, v in sorted(out["how"].items()))
        rows.append(
            f"| {title} | {out['enrolled']} | {100 * out['right'] / out['genuine']:.1f}% | "
            f"{out['wrong']} | {out['unknown']} | {out['false_names']} of {out['strangers']} | {how} |"
        )
    report = "\n".join(
        [
            "# Identification from pre-aligned crops (benchmarks/aligned_crops.py)",
            "",
            f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC, `python benchmarks/{Path(__file__).name} "
            f"{shlex.join(sys.argv[1:])}`, {time.perf_counter() - started:.0f} s; {describe_machine()}",
            "",
            f"LFW: {len(people)} people enrolled with 2 photos each, 2 more photos each identified "
            f"({2 * len(people)} searches), {len(strangers)} strangers (one photo each); open-set 1-NN at FPIR 1e-3.",
            "",
            "| photos | enrolled | named right | named wrong | unknown | strangers named | faces found by |",
            "|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "aligned_crops.md").write_text(report)
    print(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
