"""FaceNet quantised to int8, an opt-in speed option, checked against fp32 on the CPU that runs it.

Weights are quantised per output channel, activations with ranges calibrated (99.999th percentile) on the aligned
faces of the 5-celebrity train photos, which come with the model package, so every cache builds the same model.
How well int8 holds depends on the CPU: without VNNI, ONNX Runtime's u8×s8 kernels add pairs of products in 16 bits
and saturate (onnx_session.py switches them to u8×u8 there). So the first int8 request on each CPU compares int8
with fp32 on the 93 calibration faces; unless 99% of their pair distances stay within MAX_DISTANCE_GAP of fp32's
(measured: 0.015 with VNNI or u8×u8 products, ~0.1 saturated), FaceGate says so and embeds with fp32 instead.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from filelock import FileLock

from facegate.align import align
from facegate.cpu import cpu_name, instruction_sets
from facegate.detect.base import Detector
from facegate.embed import Embedder, prewhiten
from facegate.errors import ModelError
from facegate.imageio import load_image
from facegate.models.store import ModelFiles

log = logging.getLogger(__name__)

MIN_CALIBRATION_FACES = 32
MAX_DISTANCE_GAP = 0.02  # int8 must keep 99% of the calibration faces' pair distances within this of fp32


def quantise_facenet(fp32: Path, crops: np.ndarray, out: Path) -> None:
    """Write an int8 (QDQ) copy of the fp32 FaceNet at `out`, calibrated on N×160×160×3 uint8 aligned crops."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    if len(crops) < MIN_CALIBRATION_FACES:
        raise ModelError(f"int8 calibration needs at least {MIN_CALIBRATION_FACES} faces, got {len(crops)}")
    with tempfile.TemporaryDirectory(prefix="facegate-int8-", dir=out.parent) as tmp:
        prepared, staged = Path(tmp) / "prepared.onnx", Path(tmp) / "int8.onnx"
        quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)  # folds batch norms into convs
        quantize_static(
            str(prepared),
            str(staged),
            _calibration_reader(crops),
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=True,
            calibrate_method=CalibrationMethod.Percentile,
        )
        os.replace(staged, out)


def _calibration_reader(crops: np.ndarray) -> object:
    """Feeds the quantiser one prewhitened crop at a time (its histograms need equal shapes)."""
    from onnxruntime.quantization import CalibrationDataReader

    class Crops(CalibrationDataReader):
        def __init__(self) -> None:
            self._crops = iter(crops)

        def get_next(self) -> dict[str, np.ndarray] | None:
            crop = next(self._crops, None)
            return None if crop is None else {"crops": prewhiten(crop[None])}

    return Crops()


def calibration_crops(files: ModelFiles, detector: Detector) -> np.ndarray:
    """The largest face of every 5-celebrity train photo, in file order, aligned as the pipeline does by default."""
    crops = []
    for path in sorted(files.celebrity.glob("train/*/*")):
        image = load_image(path)
        faces = detector.detect(image)
        if faces:
            crops.append(align(image, faces[:1])[0])
    return np.stack(crops)


def pair_distance_gaps(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """How much every pairwise distance changes between two embeddings (N×D each) of the same N faces."""

    def pairs(x: np.ndarray) -> np.ndarray:
        return np.linalg.norm(x[:, None] - x[None], axis=2)[np.triu_indices(len(x), 1)]

    return np.abs(pairs(a) - pairs(b))


def ensure_facenet_int8(files: ModelFiles, status: Callable[[str], None] = log.info) -> Path:
    """The int8 model's path, quantising it first (one process at a time) if the cache has none yet. Calibration
    faces are found by MTCNN with its default settings whatever the caller uses, so every cache builds the same
    file; they are kept beside it for the per-CPU check."""
    with FileLock(str(files.facenet_int8) + ".lock"):
        if not (files.facenet_int8.is_file() and files.int8_faces.is_file()):
            from facegate.detect.mtcnn import MTCNNDetector

            status("quantising FaceNet to int8 (once, about a minute)")
            crops = calibration_crops(files, MTCNNDetector(files.pnet, files.rnet, files.onet))
            quantise_facenet(files.facenet, crops, files.facenet_int8)
            np.savez_compressed(files.int8_faces, crops=crops)
            files.int8_checks.unlink(missing_ok=True)  # verdicts were about the previous file
    return files.facenet_int8


def cpu_signature() -> str:
    """What the int8 verdict depends on: the CPU, its instruction sets and the ONNX Runtime build."""
    import onnxruntime

    return f"{cpu_name()} [{' '.join(instruction_sets())}] onnxruntime {onnxruntime.__version__}"


def int8_gap_on_this_cpu(files: ModelFiles, status: Callable[[str], None] = log.info) -> float:
    """The 99th percentile of int8's pair-distance changes from fp32 on the calibration faces, measured once per CPU
    signature."""
    model = ensure_facenet_int8(files, status)
    with FileLock(str(files.int8_checks) + ".lock"):
        checks = json.loads(files.int8_checks.read_text()) if files.int8_checks.is_file() else {}
        signature = cpu_signature()
        if signature not in checks:
            status("checking int8 FaceNet against fp32 on this CPU (once)")
            with np.load(files.int8_faces) as saved:
                crops = saved["crops"]
            gaps = pair_distance_gaps(Embedder(model).embed(crops), Embedder(files.facenet).embed(crops))
            checks[signature] = float(np.percentile(gaps, 99))
            files.int8_checks.write_text(json.dumps(checks, indent=2))
    return float(checks[signature])


def facenet_for_precision(files: ModelFiles, precision: str, status: Callable[[str], None] = log.info) -> Path:
    """The FaceNet file to run: fp32, or int8 where it holds on this CPU (else fp32, with a warning that says why)."""
    if precision != "int8":
        return files.facenet
    gap = int8_gap_on_this_cpu(files, status)
    if gap <= MAX_DISTANCE_GAP:
        return files.facenet_int8
    log.warning(
        "int8 FaceNet is off on this CPU (%s): 1%% of pair distances move by %.3f or more from fp32, more "
        "than %.2f; using fp32 instead",
        ", ".join(instruction_sets()) or "instruction sets unknown",
        gap,
        MAX_DISTANCE_GAP,
    )
    return files.facenet
