"""Derive align.TEMPLATE: where the 5 landmarks of upright faces fall in a 160×160 box-plus-margin crop.

Runs MTCNN over the LFW DevTrain people (never the test pairs), keeps near-upright faces (eye line within 5°),
maps their landmarks through the crop geometry FaceNet was trained on, averages, and mirrors left/right.
Usage: python benchmarks/derive_template.py [--limit N]
"""

from __future__ import annotations

import argparse

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)
from tqdm import tqdm

from facegate.align import crop_matrix
from facegate.experiments.lfw import lfw_dir, pair_files, read_pairs
from facegate.imageio import load_image
from facegate.pipeline import FaceGate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--limit", type=int, default=1500, help="photos to use")
    args = parser.parse_args()
    files = sorted({f for pair in read_pairs(lfw_dir() / "pairsDevTrain.txt") for f in pair_files(pair)})[: args.limit]
    fg = FaceGate(alignment="crop")
    points = []
    for path in tqdm(files, desc="landmarks"):
        faces = fg.detect(load_image(path))
        if not faces or faces[0].landmarks is None:
            continue
        lm = faces[0].landmarks
        dx, dy = lm[1] - lm[0]
        if abs(np.degrees(np.arctan2(dy, dx))) > 5:
            continue
        m = crop_matrix(faces[0])
        points.append(lm @ m[:, :2].T + m[:, 2])
    mean = np.mean(points, axis=0)
    mirrored = mean[[1, 0, 2, 4, 3]].copy()
    mirrored[:, 0] = 160 - mirrored[:, 0]
    template = (mean + mirrored) / 2
    print(f"{len(points)} upright faces of {len(files)} photos")
    print("TEMPLATE = np.array(" + np.array2string(template.round(1), separator=", ") + ", dtype=np.float32)")


if __name__ == "__main__":
    main()
