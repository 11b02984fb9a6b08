"""LFW open-set 1:N identification benchmark, full protocol → benchmarks/results/openset.md and openset_det.png.

Usage: python benchmarks/openset.py [--gallery-people N] [--impostor-people N]   (as `facegate benchmark openset`)
"""

from __future__ import annotations

import sys
from pathlib import Path

import shared_data  # noqa: F401  (sets $FACEGATE_LFW to the checkout's LFW)

from facegate.cli import main

RESULTS = Path(__file__).resolve().parent / "results"

if __name__ == "__main__":
    sys.exit(main(["benchmark", "openset", "--out", str(RESULTS), *sys.argv[1:]]))
