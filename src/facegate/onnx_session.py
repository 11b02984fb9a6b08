"""One place that creates ONNX Runtime sessions, tuned for small CPU machines."""

from __future__ import annotations

import os
from pathlib import Path

import onnxruntime as ort

from facegate import settings
from facegate.cpu import int8_saturates


def usable_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def default_threads() -> int:
    """Threads per session: `$FACEGATE_THREADS`, else the cores this process may use."""
    return settings.current().threads or usable_cores()


def make_session(path: Path, threads: int | None = None) -> ort.InferenceSession:
    """A CPU inference session with full graph optimisation and a fixed intra-op thread count.

    Worker threads sleep as soon as a run ends instead of spinning: between MTCNN's many short runs the Python
    thread resizes and suppresses boxes, and spinning workers took its cores (2 cores: 58–80 → 28–38 ms per
    640×480 photo; FaceNet batches alike either way). On x86 CPUs without VNNI, int8 products run as u8×u8
    (`session.x64quantprecision`): the default u8×s8 kernels saturate there (int8 FaceNet distances off by up to
    0.19 instead of 0.015). With VNNI the option would only slow int8 down (3.1 → 11.4 ms per face), so it stays off.
    """
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = threads or default_threads()
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if int8_saturates():
        opts.add_session_config_entry("session.x64quantprecision", "1")
    return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
