"""One line describing the machine a measurement ran on, for every benchmark report's header."""

from __future__ import annotations

import os
import platform

from facegate.cpu import describe_cpu


def describe_machine() -> str:
    """CPU model with its speed-relevant instruction sets, usable cores, OS and Python."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return (
        f"{describe_cpu()}, {cores} cores, {platform.system()} {platform.release()}, Python {platform.python_version()}"
    )
