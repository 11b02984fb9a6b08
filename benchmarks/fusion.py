"""FaceNet and the VGGFace2-trained model fused (facegate.fusion): the weight, LFW verification, open set at low FPIR.

1. The VGGFace2 model's weight: the one with the highest ROC AUC on pairsDevTrain (flip TTA for both models; its
   accuracy is saturated: 99.68% at most weights), checked on pairsDevTest. It becomes fusion.FUSION_WEIGHT.
2. LFW pairs.txt, 10 folds: FaceNet, the VGGFace2 model and the fusion at that weight, and the fusion with its
   weight chosen on the 9 other folds of each fold.
3. Open-set identification on LFW (`facegate benchmark openset`'s protocol: 158 people enrolled with 5 photos,
   4,069 strangers), for each embedding: the open-set default (logistic regression) scored by distance as the gate
   scores it, and nearest neighbour and logistic regression with flip TTA and cohort score normalisation. A fusion
   mode is worth offering only if it lowers FNIR at low FPIR.

Usage: python benchmarks/fusion.py [--threads N] [--skip-openset]
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)
from sklearn.metrics import roc_auc_score

from facegate.experiments import openset_benchmark as openset
from facegate.experiments.feature_cache import FeatureCache
from facegate.experiments.lfw import lfw_dir, read_pairs
from facegate.experiments.lfw_benchmark import (
    VARIANTS,
    LFWEmbedder,
    accuracy,
    best_threshold,
    evaluate,
    pair_distances,
    protocol_pairs,
    results_table,
    run_variant,
    unique_files,
)
from facegate.match.openset import default_classifier

WEIGHTS = np.round(np.arange(0.0, 0.75, 0.05), 2)
PARTS = ("warp+flip", "vggface2+flip")


def pair_sets(embedder: LFWEmbedder, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pairs of an LFW pair file: same-person flags and each model's pair distances (squared)."""
    pairs = read_pairs(lfw_dir() / name)
    files = unique_files(pairs)
    squared = [pair_distances(pairs, files, embedder.embeddings(files, VARIANTS[key])[0]) ** 2 for key in PARTS]
    return np.array([p.same for p in pairs]), squared[0], squared[1]


def fused_distance(facenet_sq: np.ndarray, vggface2_sq: np.ndarray, weight: float) -> np.ndarray:
    """Pair distances of fused embeddings, from the two models' squared distances (same as `fuse` would give)."""
    return np.sqrt((1.0 - weight) * facenet_sq + weight * vggface2_sq)


def choose_weight(same: np.ndarray, facenet_sq: np.ndarray, vggface2_sq: np.ndarray) -> float:
    """The weight with the highest ROC AUC (the smallest among ties to 5 decimals)."""
    scores = [round(roc_auc_score(same, -fused_distance(facenet_sq, vggface2_sq, w)), 5) for w in WEIGHTS]
    return float(WEIGHTS[int(np.argmax(scores))])


def weight_section(embedder: LFWEmbedder) -> float:
    train, test = pair_sets(embedder, "pairsDevTrain.txt"), pair_sets(embedder, "pairsDevTest.txt")
    print(
        "| VGGFace2 weight | DevTrain AUC | DevTrain accuracy | DevTest AUC | DevTest accuracy at DevTrain's "
        "threshold |\n|---|---|---|---|---|"
    )
    for w in WEIGHTS:
        d_train, d_test = fused_distance(*train[1:], w), fused_distance(*test[1:], w)
        t = best_threshold(d_train, train[0])
        print(
            f"| {w:.2f} | {roc_auc_score(train[0], -d_train):.5f} | {accuracy(d_train, train[0], t):.2%} | "
            f"{roc_auc_score(test[0], -d_test):.5f} | {accuracy(d_test, test[0], t):.2%} |"
        )
    chosen = choose_weight(*train)
    print(f"\nchosen on DevTrain: {chosen:.2f}\n")
    return chosen


def lfw_section(embedder: LFWEmbedder) -> None:
    pairs, folds, protocol = protocol_pairs(read_pairs(lfw_dir() / "pairs.txt"))
    keys = ("warp", "vggface2", "fusion", *PARTS, "fusion+flip")
    rows = [run_variant(embedder, pairs, folds, VARIANTS[key]) for key in keys]
    print(f"LFW, {protocol}:\n\n{results_table(rows)}\n")
    files = unique_files(pairs)
    squared = [pair_distances(pairs, files, embedder.embeddings(files, VARIANTS[key])[0]) ** 2 for key in PARTS]
    same = np.array([p.same for p in pairs])
    accs, weights = [], []
    for fold in np.unique(folds):
        test = folds == fold
        w = choose_weight(same[~test], squared[0][~test], squared[1][~test])
        d = fused_distance(squared[0], squared[1], w)
        accs.append(accuracy(d[test], same[test], best_threshold(d[~test], same[~test])))
        weights.append(w)
    print(
        f"fusion, weight chosen on the 9 other folds: {np.mean(accs):.2%} ± {np.std(accs):.2%} "
        f"(weights {min(weights):.2f}–{max(weights):.2f})\n"
    )
    pooled = evaluate(fused_distance(squared[0], squared[1], float(np.median(weights))), same, folds)
    print(f"at the median of those weights: TAR {pooled.tar[0.01]:.2%} @ FAR 1%, {pooled.tar[0.001]:.2%} @ 0.1%\n")


def openset_section(embedder: LFWEmbedder) -> None:
    proto = openset.protocol()
    lr = default_classifier()
    k = openset.COHORT_K
    models = (("warp", "FaceNet"), ("vggface2", "VGGFace2"), ("fusion", "fusion"))
    chosen = [
        openset.Method(f"LR, distance score (as the gate), 5 photos, {name}", key, 5, 0, lr) for key, name in models
    ]
    chosen += [
        openset.Method(f"{how} + flip + cohort, 5 photos, {name}", f"{key}+flip", 5, k, model)
        for key, name in models
        for how, model in (("NN", None), ("LR", lr))
    ]
    rows = openset.run(openset.embedded_sets(embedder, proto), chosen)
    print(f"Open set: {len(proto.gallery)} people enrolled, {len(proto.impostors)} strangers\n")
    print(openset.table(rows))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all usable cores)")
    parser.add_argument("--skip-openset", action="store_true", help="only the weight and LFW verification")
    args = parser.parse_args()
    cache = FeatureCache()
    embedder = LFWEmbedder(cache, threads=args.threads)
    weight_section(embedder)
    lfw_section(embedder)
    if not args.skip_openset:
        openset_section(embedder)
    cache.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
