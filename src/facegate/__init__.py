"""FaceGate: face detection, alignment, FaceNet embeddings and open-set identification on ONNX Runtime."""

from facegate.detect.base import Face
from facegate.errors import FaceCountError, FaceGateError, ImageError, ModelError
from facegate.pipeline import FaceEmbedding, FaceGate, Verification

__all__ = ["Face", "FaceEmbedding", "FaceGate", "FaceGateError", "FaceCountError", "ImageError", "ModelError",
           "Verification"]
__version__ = "0.1.0"
