"""What this CPU is and which instruction sets it has: they decide int8 accuracy and every speed figure."""

from __future__ import annotations

import platform
from functools import cache
from pathlib import Path

# The instruction sets that change FaceGate's numbers: AVX2 is the floor ONNX Runtime's fast kernels need, AVX-512
# doubles their width, and VNNI (AVX-512 or AVX) / AMX decide whether int8 matrix products run without saturating.
SPEED_FLAGS = ("avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8")


def _cpuinfo_field(name: str) -> str:
    """The first value of one /proc/cpuinfo field ('' where there is no such file or field)."""
    path = Path("/proc/cpuinfo")
    if not path.is_file():
        return ""
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.partition(":")
        if key.strip() == name:
            return value.strip()
    return ""


@cache
def cpu_name() -> str:
    """The CPU's model name (platform's answer where /proc/cpuinfo is absent)."""
    return _cpuinfo_field("model name") or platform.processor() or platform.machine()


@cache
def instruction_sets() -> tuple[str, ...]:
    """Which of SPEED_FLAGS this CPU has, in that order (empty where the OS does not say)."""
    flags = set(_cpuinfo_field("flags").split())
    return tuple(flag for flag in SPEED_FLAGS if flag in flags)


def describe_cpu() -> str:
    """Model name and speed-relevant instruction sets, e.g. 'AMD EPYC 7B13 (avx2; no avx512f, …)'."""
    have = instruction_sets()
    missing = [flag for flag in SPEED_FLAGS if flag not in have]
    parts = [", ".join(have) or "none known"] + ([f"no {', '.join(missing)}"] if missing else [])
    return f"{cpu_name()} ({'; '.join(parts)})"


def int8_saturates() -> bool:
    """True where ONNX Runtime's fast u8×s8 kernels add products in 16 bits and can saturate: x86 without VNNI/AMX."""
    vnni = {"avx512_vnni", "avx_vnni", "amx_int8"}
    return "avx2" in instruction_sets() and not vnni & set(instruction_sets())
