"""FaceGate: face detection, alignment, FaceNet embeddings and open-set identification on ONNX Runtime.

The public names are loaded on first use, so `import facegate` (and `facegate --help`) stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from facegate.errors import FaceCountError, FaceGateError, ImageError, ModelError

if TYPE_CHECKING:
    from facegate.detect.base import Face
    from facegate.pipeline import FaceEmbedding, FaceGate, Verification

__all__ = [
    "Face",
    "FaceCountError",
    "FaceEmbedding",
    "FaceGate",
    "FaceGateError",
    "ImageError",
    "ModelError",
    "Verification",
    "__version__",
]
__version__ = "0.1.0"

_LAZY = {
    "Face": "facegate.detect.base",
    "FaceEmbedding": "facegate.pipeline",
    "FaceGate": "facegate.pipeline",
    "Verification": "facegate.pipeline",
}


def __getattr__(name: str) -> Any:
    """Import a public class from its module the first time it is asked for."""
    if name not in _LAZY:
        raise AttributeError(f"module 'facegate' has no attribute {name!r}")
    return getattr(import_module(_LAZY[name]), name)
