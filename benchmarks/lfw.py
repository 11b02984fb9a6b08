"""LFW verification benchmark, all variants, full 10-fold protocol → benchmarks/results/lfw.md and lfw_roc.png.

Usage: python benchmarks/lfw.py [--variants ...] [--fold N]   (same options as `facegate benchmark lfw`)
"""

from __future__ import annotations

import sys
from pathlib import Path

import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate.cli import main

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    sys.exit(main(["benchmark", "lfw", "--out", str(RESULTS), *sys.argv[1:]]))
