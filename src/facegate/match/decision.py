"""What an identification answers (Decision) and what every identifier provides (Identifier)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

UNKNOWN = "unknown"


def similarity(distance: float) -> float:
    """Cosine similarity of two unit vectors at Euclidean `distance`: the score shown on screen (higher = closer)."""
    return 1.0 - distance * distance / 2.0


@dataclass(frozen=True)
class Decision:
    """The answer for one face: a person, or UNKNOWN when the open-set check refuses every candidate.

    candidate: the best-scoring enrolled person before the open-set check.
    probability: the classifier's probability for the candidate (1.0 for plain nearest neighbour).
    distance: Euclidean distance from the face to the candidate's nearest enrolled sample.
    """

    label: str
    candidate: str
    probability: float
    distance: float

    @property
    def known(self) -> bool:
        return self.label != UNKNOWN


class Identifier(Protocol):
    """Anything that turns N×128 unit embeddings into N decisions (each may be UNKNOWN), fitted with the distance
    beyond which it calls a face unknown."""

    distance_threshold_: float

    def decide(self, embeddings: np.ndarray) -> list[Decision]: ...
