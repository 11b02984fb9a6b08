"""One operating point for every path: the operator's false-accept target (FPIR) decides each distance threshold.

The thresholds come from the model's measured prior: PRIOR_DISTANCE[rate] is the distance below which photos of
two different people fall only `rate` of the time, for the pipeline's default embeddings (FaceNet 20170512,
MTCNN + warp alignment): lower quantiles of the 5.9 million different-person pairs among the 3,443 photos named by
LFW pairsDevTrain.txt (never the test pairs), measured by benchmarks/derive_openset_prior.py. A stranger searched
against a gallery is compared with every enrolled photo and named if any one of them is near enough, so
identification reads the table at FPIR / C, where C counts the comparisons (a union bound; log-linear in between);
1:1 verification against one photo reads it at the FPIR itself. A person's photos are not independent chances,
though: benchmarks/photos_per_person.py measured, for 62 LFW people with 20+ photos and 817,423 stranger searches each,
how often a stranger falls within the 1e-4 distance of any of k photos: 2.2, 3.8, 6.6, 8.4 and 11.3 times as often as
of one for k = 2, 3, 5, 10, 20. So a person with k photos counts min(k, 2.5 √k) comparisons (`person_comparisons`):
every photo while there are few, fewer than k beyond six. The measured ratios grow toward k in the deeper tail (at
1e-3 they are 1.5, 2.3, 3.4, 4.5, 5.9), so for people with many photos a gallery's rates below 1e-4 may count too
few. Until 2026-12 C counted people: real strangers searched against LFW people with 2-5 photos each were then named
at 2-4 times the target (benchmarks/gallery_scale.py).

Large galleries need rates below the table's 1e-5 (10,000 people with 3 photos each at FPIR 1e-3: 3e-8), which 5.9
million pairs cannot measure. There the distance is extrapolated by a quadratic in log rate fitted to the table's
rows (the distance falls a little less with each decade: FaceNet 0.139, 0.122, 0.111, 0.097 per decade), down to
TAIL_RATE; before, the table's last row held for every larger gallery (0.787 at 100 people and at 100,000 alike).
Checked by benchmarks/gallery_scale.py against every different-person pair of all 13,233 LFW photos (87 million):
0.881 and 0.784 at 1e-4 and 1e-5 (the table: 0.884, 0.787), but 0.649 at 1e-6 (87 pairs; extrapolated: 0.704), where
LFW's tail also holds mislabelled and duplicated photos.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

PRIOR_DISTANCE = {1e-1: 1.256, 1e-2: 1.117, 1e-3: 0.995, 1e-4: 0.884, 1e-5: 0.787}
# The same quantiles for the VGGFace2-trained faceres network (same photos, detector and alignment; 1024-d;
# `derive_openset_prior.py --variant vggface2`). It separates people less well: at 1e-3 it turns away 13.0% of the
# same-person DevTrain pairs.
PRIOR_DISTANCE_VGGFACE2 = {1e-1: 1.037, 1e-2: 0.949, 1e-3: 0.880, 1e-4: 0.821, 1e-5: 0.761}
# And for the two fused (facegate.fusion, weight 0.3; `--variant fusion`): at 1e-3 it turns away 2.1% of them.
PRIOR_DISTANCE_FUSION = {1e-1: 1.204, 1e-2: 1.083, 1e-3: 0.981, 1e-4: 0.890, 1e-5: 0.812}
PRIORS = {"facenet": PRIOR_DISTANCE, "vggface2": PRIOR_DISTANCE_VGGFACE2, "fusion": PRIOR_DISTANCE_FUSION}
DEFAULT_FPIR = 1e-3  # one stranger in a thousand named as someone: the default false-accept target


def check_fpir(fpir: float) -> float:
    """The FPIR itself when it is a usable target (0 < FPIR < 1), else a ValueError that says so."""
    if not 0.0 < fpir < 1.0:
        raise ValueError(f"the false-accept target (FPIR) must be between 0 and 1, not {fpir}")
    return fpir


TAIL_RATE = 1e-9  # extrapolated down to here (1,000,000 samples at FPIR 1e-3), flat below


PHOTO_SATURATION = 2.5  # a person with k photos counts min(k, 2.5 √k) comparisons (module docstring)


def person_comparisons(photos: int) -> float:
    """How many independent 1:1 comparisons a search against one person with `photos` enrolled photos is worth."""
    return gallery_comparisons((photos,))


def gallery_comparisons(photos_per_person: Iterable[int]) -> float:
    """The comparisons a stranger's search against a whole gallery is worth (people's `person_comparisons` added)."""
    counts = np.fromiter(photos_per_person, np.float64)
    return float(np.minimum(counts, PHOTO_SATURATION * np.sqrt(counts)).sum())


def prior_distance(fpir: float, comparisons: float = 1, model: str = "facenet") -> float:
    """The model's prior distance threshold for a target FPIR when a face is compared `comparisons` times (a
    stranger is named if any one is near enough): its PRIORS table at rate fpir / comparisons, interpolated in log
    rate, extrapolated below the table (see the module docstring) and clamped above it and below TAIL_RATE."""
    table = PRIORS[model]
    rates = sorted(table)
    distances = [table[r] for r in rates]
    rate = fpir / max(comparisons, 1.0)
    if rate >= rates[0]:
        return float(np.interp(np.log10(rate), np.log10(rates), distances))
    tail = np.polyfit(np.log10(rates), distances, 2)
    return float(np.polyval(tail, np.log10(max(rate, TAIL_RATE))))


def verify_threshold(fpir: float = DEFAULT_FPIR, model: str = "facenet", photos: int = 1) -> float:
    """The 1:1 distance threshold at a false-accept rate of `fpir` against the nearest of a person's `photos`
    (FaceNet, one photo: 0.995 at the default 1e-3)."""
    return prior_distance(check_fpir(fpir), person_comparisons(photos), model)
