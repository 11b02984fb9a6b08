"""One place that creates ONNX Runtime sessions, tuned for small CPU machines."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
from pathlib import Path

import onnxruntime as ort

from facegate import settings
from facegate.cpu import int8_saturates

log = logging.getLogger(__name__)
# Models above this size are loaded from a copy saved after ONNX Runtime's graph optimisations (FaceNet: 0.25 s
# instead of 1.0 s, the same embeddings to 1e-7); the MTCNN nets load in tens of milliseconds either way.
OPTIMISED_COPY_BYTES = 10_000_000


def usable_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_threads() -> int:
    """Threads per session: `$FACEGATE_THREADS`, else the cores this process may use."""
    return settings.current().threads or usable_cores()


def make_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU inference session with full graph optimisation and a fixed intra-op thread count (large models from
    their optimised copy: see optimised_copy).

    Worker threads sleep as soon as a run ends instead of spinning: between MTCNN's many short runs the Python
    thread resizes and suppresses boxes, and spinning workers took its cores (2 cores: 58–80 → 28–38 ms per
    640×480 photo; FaceNet batches alike either way). On x86 CPUs without VNNI, int8 products run as u8×u8
    (`session.x64quantprecision`): the default u8×s8 kernels saturate there (int8 FaceNet distances off by up to
    0.19 instead of 0.015). With VNNI the option would only slow int8 down (3.1 → 11.4 ms per face), so it stays off.
    """
    opts = _options(threads)
    return ort.InferenceSession(str(optimised_copy(path)), sess_options=opts, providers=["CPUExecutionProvider"])


def optimised_copy(path: Path) -> Path:
    """The model in ONNX Runtime's own format with the hardware-independent graph optimisations done, saved once
    under $FACEGATE_HOME/sessions (keyed by the file's path, size and time and the ONNX Runtime version); the model
    itself where it is small or the copy cannot be made. The layout optimisations that depend on the CPU are still
    applied at every load."""
    stat = path.stat()
    if stat.st_size < OPTIMISED_COPY_BYTES:
        return path
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}|{ort.__version__}"
    copy = settings.current().home / "sessions" / f"{path.stem}-{hashlib.sha256(key.encode()).hexdigest()[:16]}.ort"
    if copy.is_file():
        return copy
    partial = copy.with_name(f"{copy.name}.{os.getpid()}.tmp")
    try:
        copy.parent.mkdir(parents=True, exist_ok=True)
        opts = _options(1)
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
        opts.optimized_model_filepath = str(partial)
        opts.add_session_config_entry("session.save_model_format", "ORT")
        ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
        os.replace(partial, copy)  # whole or not at all, whoever else is saving it meanwhile
    except Exception as exc:  # a read-only cache, a full disk, an ONNX Runtime error: the model itself still loads
        log.debug("no optimised copy of %s: %s", path, exc)
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        return path
    return copy


def _options(threads: int | None) -> ort.SessionOptions:
    """Session options for FaceGate's CPU runs (see make_session)."""
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if int8_saturates():
        opts.add_session_config_entry("session.x64quantprecision", "1")
    return opts
