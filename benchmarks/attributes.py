"""How well the VGGFace2-trained network (facegate/faceres.py) tells gender and age, on photos whose answer we know.

- Gender, 5-celebrity set: all 118 photos of its two women and three men (labelled by person).
- Gender, LFW: one photo (the first) of every person benchmarks/data/lfw_gender.csv labels: by first name, with
  gender-guesser's dictionary, plus the few set by hand (benchmarks/label_lfw_gender.py says how).
- Age, LFW: every photo of the 80 well-known people in benchmarks/data/lfw_birth_years.csv, against their age in
  2002 (LFW's photos are Yahoo News photos of 2002-2003, so the true age is known to about ±1.5 years, worse for the
  odd archive photo).
Faces: MTCNN (min face 40) + warp crops, as FaceGate makes them; LFW detections come from the feature cache.

Usage: python benchmarks/attributes.py [--out benchmarks/results] [--disagreements FILE]
"""

from __future__ import annotations

import argparse
import csv
import sys
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate.align import align
from facegate.experiments.feature_cache import FeatureCache
from facegate.experiments.lfw import centre_face, lfw_dir
from facegate.experiments.lfw_benchmark import LFWEmbedder
from facegate.experiments.machine import describe_machine
from facegate.faceres import Attributes
from facegate.imageio import load_image
from facegate.models import ensure_models
from facegate.pipeline import FaceGate

DATA = Path(__file__).parent / "data"
PHOTO_YEAR = 2002
WOMEN = {"madonna", "mindy_kaling"}


def read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open() as f:
        return list(csv.DictReader(f))


def lfw_attributes(embedder: LFWEmbedder, fg: FaceGate, paths: list[Path]) -> list[Attributes]:
    """Age and gender of each LFW photo's subject (the centre box where MTCNN finds none), 64 photos at a time."""
    faces = embedder.subjects(paths, "mtcnn")
    out: list[Attributes] = []
    for start in range(0, len(paths), 64):
        crops = [
            align(load_image(p), [f or centre_face()], "warp")[0]
            for p, f in zip(paths[start : start + 64], faces[start : start + 64])
        ]
        out += fg.faceres.attributes(np.stack(crops))
    return out


def gender_row(name: str, truth: list[str], said: list[Attributes]) -> tuple[str, float]:
    """A table row: accuracy overall and per gender, and how sure the network was when wrong."""
    truth_a, said_a = np.array(truth), np.array([a.gender for a in said])
    right = truth_a == said_a
    per = {g: f"{right[truth_a == g].mean():.1%} of {(truth_a == g).sum()}" for g in ("female", "male")}
    wrong_p = [a.gender_probability for a, ok in zip(said, right) if not ok]
    sure = f"{np.median(wrong_p):.2f}" if wrong_p else "–"
    return (
        f"| {name} | {len(truth)} | **{right.mean():.1%}** | {per['female']} | {per['male']} | {sure} |",
        float(right.mean()),
    )


def celebrity_gender(fg: FaceGate) -> str:
    photos = sorted(p for p in ensure_models().celebrity.glob("*/*/*") if p.suffix.lower() in (".jpg", ".jpeg"))
    found = [(p.parent.name, fg.represent(p)) for p in photos]
    crops = np.stack([r[0].crop for _, r in found if r])
    truth = ["female" if name in WOMEN else "male" for name, r in found if r]
    return gender_row("5-celebrity set, every photo", truth, fg.faceres.attributes(crops))[0]


def lfw_gender(embedder: LFWEmbedder, fg: FaceGate, disagreements: Path | None) -> tuple[str, str]:
    labels = read_csv("lfw_gender.csv")
    paths = [lfw_dir() / "images_deepfunneled" / r["person"] / f"{r['person']}_0001.jpg" for r in labels]
    said = lfw_attributes(embedder, fg, paths)
    truth = [r["gender"] for r in labels]
    row, _ = gender_row("LFW, first photo of each labelled person", truth, said)
    hand = sum(r["source"] == "hand" for r in labels)
    if disagreements is not None:
        with disagreements.open("w") as f:
            for r, a in sorted(zip(labels, said), key=lambda x: -x[1].gender_probability):
                if a.gender != r["gender"]:
                    f.write(f"{r['person']},{r['gender']},{a.gender},{a.gender_probability:.3f}\n")
    return row, f"{len(labels)} people labelled, {hand} of them by hand"


def lfw_age(embedder: LFWEmbedder, fg: FaceGate) -> list[str]:
    people = read_csv("lfw_birth_years.csv")
    paths, truth, owner = [], [], []
    for r in people:
        for p in sorted((lfw_dir() / "images_deepfunneled" / r["person"]).glob("*.jpg")):
            paths.append(p)
            truth.append(PHOTO_YEAR - int(r["birth_year"]))
            owner.append(r["person"])
    said = np.array([a.age for a in lfw_attributes(embedder, fg, paths)])
    true = np.array(truth, float)
    error = said - true
    persons = np.array(owner)
    medians = np.array([np.median(said[persons == p]) - true[persons == p][0] for p in dict.fromkeys(owner)])
    bands = [(0, 40), (40, 55), (55, 70), (70, 100)]
    lines = [
        f"| photos | {len(paths)} of {len(people)} people |",
        f"| mean absolute error, per photo | {np.abs(error).mean():.1f} years |",
        f"| mean error (estimate − truth), per photo | {error.mean():+.1f} years |",
        f"| within ±5 / ±10 years | {np.mean(np.abs(error) <= 5):.0%} / {np.mean(np.abs(error) <= 10):.0%} |",
        f"| mean absolute error of each person's median estimate | {np.abs(medians).mean():.1f} years |",
    ]
    for low, high in bands:
        band = (true >= low) & (true < high)
        if band.any():
            lines.append(
                f"| true age {low}–{high - 1}: mean error ({band.sum()} photos) | {error[band].mean():+.1f} "
                f"years (MAE {np.abs(error[band]).mean():.1f}) |"
            )
    corr = np.corrcoef(said, true)[0, 1]
    lines.append(f"| correlation of estimate and truth | {corr:.2f} |")
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, help="write attributes.md into this folder")
    parser.add_argument("--disagreements", type=Path, help="write LFW people where label and network disagree")
    args = parser.parse_args()
    fg = FaceGate(min_face=40)
    embedder = LFWEmbedder(FeatureCache())
    celebrity = celebrity_gender(fg)
    lfw_row, labelled = lfw_gender(embedder, fg, args.disagreements)
    age = lfw_age(embedder, fg)
    text = "\n".join(
        [
            "# Age and gender (VGGFace2-trained HSE faceres network)",
            "",
            f"- Date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC; machine: {describe_machine()}",
            "- Command: `python benchmarks/attributes.py`; method and labels: see the script's docstring.",
            "",
            "| photos | faces | gender accuracy | women right | men right | median confidence when wrong |",
            "|---|---|---|---|---|---|",
            celebrity,
            lfw_row,
            "",
            f"LFW labels: {labelled}.",
            "",
            f"Age against the age in {PHOTO_YEAR}:",
            "",
            "| | |",
            "|---|---|",
            *age,
            "",
        ]
    )
    print(text)
    if args.out is not None:
        (args.out / "attributes.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
