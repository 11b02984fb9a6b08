"""How much more often a stranger is named when a person has k enrolled photos instead of one.

facegate.match.operating_point reads its distance table at FPIR / C, C the comparisons a stranger's search makes.
A person with k photos gives k chances, but not independent ones: their photos look alike. Measured here on LFW:
for every person with at least --min-photos photos (k of them drawn at random, the same order for every k), every
photo of every other person is searched against that person's first k photos, and the rate at which the nearest of
them is within the prior distance for a per-pair rate r is divided by the rate for one photo. The product counts a
person with k photos as min(k, PHOTO_SATURATION √k) comparisons; the table shows how that follows the measurement.
LFW embeddings come from the benchmarks' feature cache (search.lfw_faces; the first run embeds 13,233 photos).

Usage: python benchmarks/photos_per_person.py [--min-photos 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from scipy.spatial.distance import cdist
from search import lfw_faces

from facegate.experiments.machine import describe_machine
from facegate.match.operating_point import PRIOR_DISTANCE, person_comparisons

RESULTS = Path(__file__).parent / "results" / "photos_per_person.md"
KS = (1, 2, 3, 5, 10, 20)
RATES = (1e-2, 1e-3, 1e-4)


def named_counts(min_photos: int, seed: int) -> tuple[dict[tuple[int, float], int], int, int]:
    """Stranger searches whose nearest of a person's first k photos is within the prior distance at rate r, for each
    (k, r); the number of searches per k; the number of people searched against."""
    people, embeddings = lfw_faces()
    rng = np.random.default_rng(seed)
    owner = np.repeat(np.arange(len(people)), [len(rows) for rows in people.values()])
    order = np.concatenate(list(people.values()))
    owner_of = np.empty(len(embeddings), np.int64)
    owner_of[order] = owner
    named = {(k, r): 0 for k in KS for r in RATES}
    searched, many = 0, 0
    for i, rows in enumerate(people.values()):
        if len(rows) < min_photos:
            continue
        many += 1
        strangers = np.flatnonzero(owner_of != i)
        nearest = cdist(embeddings[strangers], embeddings[rng.permutation(rows)[: max(KS)]])
        for k in KS:
            closest = nearest[:, :k].min(axis=1)
            for r in RATES:
                named[(k, r)] += int((closest <= PRIOR_DISTANCE[r]).sum())
        searched += len(strangers)
    return named, searched, many


def report(named: dict[tuple[int, float], int], searched: int, many: int, args: argparse.Namespace) -> str:
    """The measured multipliers against the product's person_comparisons, as Markdown."""
    lines = [
        "# Photos per person: how many comparisons a person with k photos is worth",
        "",
        f"- Machine: {describe_machine()}",
        f"- Command: `photos_per_person.py --min-photos {args.min_photos} --seed {args.seed}`",
        f"- {many} LFW people with {args.min_photos}+ photos; {searched:,} stranger searches for each k",
        "",
        "| per-pair rate r (distance) | " + " | ".join(f"k = {k}" for k in KS) + " |",
        "|---|" + "---:|" * len(KS),
    ]
    for r in RATES:
        base = max(named[(1, r)], 1)
        cells = [f"{named[(k, r)] / base:.2f}" for k in KS]
        lines.append(
            f"| {r:g} ({PRIOR_DISTANCE[r]}): named {named[(1, r)] / searched:.1e} at k = 1 | "
            + " | ".join(cells)
            + " |"
        )
    lines.append("| product: min(k, 2.5 √k) | " + " | ".join(f"{person_comparisons(k):.2f}" for k in KS) + " |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--min-photos", type=int, default=max(KS))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    started = time.monotonic()
    text = report(*named_counts(args.min_photos, args.seed), args)
    RESULTS.write_text(text)
    print(text + f"\n({time.monotonic() - started:.0f} s; written to {RESULTS})")


if __name__ == "__main__":
    main()
