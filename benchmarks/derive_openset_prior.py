"""Derive `facegate.match.openset.PRIOR_DISTANCE`: the distance below which photos of different people fall only a
given share of the time, for the pipeline's default embeddings (FaceNet 20170512, MTCNN + warp alignment), and
`PRIOR_DISTANCE_VGGFACE2` with `--variant vggface2`.

Every photo that pairsDevTrain.txt names (LFW's development training split: never the test pairs) is embedded
(cached by file content), then every pair of those photos showing two different people is compared; the table
holds the lower quantiles of those distances. Same-person pairs are printed for context (how many a threshold
at each quantile would reject).

Usage: python benchmarks/derive_openset_prior.py [--threads N] [--variant vggface2]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate.experiments.feature_cache import FeatureCache
from facegate.experiments.lfw import lfw_dir, read_pairs
from facegate.experiments.lfw_benchmark import (
    DEFAULT_VARIANT,
    VARIANTS,
    LFWEmbedder,
    unique_files,
)
from facegate.match.nearest import pairwise_distances

RATES = (0.1, 0.01, 0.001, 0.0001, 0.00001)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all usable cores)")
    parser.add_argument(
        "--variant",
        choices=list(VARIANTS),
        default=DEFAULT_VARIANT,
        help="embedding variant, e.g. vggface2 for that model's table (default: the pipeline's)",
    )
    args = parser.parse_args()
    files = unique_files(read_pairs(lfw_dir() / "pairsDevTrain.txt"))
    cache = FeatureCache()
    embeddings, fallback = LFWEmbedder(cache, threads=args.threads).embeddings(files, VARIANTS[args.variant])
    cache.close()
    people = np.array([path.parent.name for path in files])
    upper = np.triu_indices(len(files), k=1)
    distances = pairwise_distances(embeddings, embeddings)[upper]
    same = (people[:, None] == people[None, :])[upper]
    different, genuine = distances[~same], distances[same]
    print(
        f"{len(files)} pairsDevTrain photos of {len(set(people))} people ({int(fallback.sum())} centre-box "
        f"fallbacks): {len(different):,} different-person pairs, {len(genuine):,} same-person pairs"
    )
    print("| share of different-person pairs below | distance | same-person pairs above |")
    print("|---|---|---|")
    for rate in RATES:
        d = float(np.quantile(different, rate))
        print(f"| {rate:g} | {d:.3f} | {np.mean(genuine > d):.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
