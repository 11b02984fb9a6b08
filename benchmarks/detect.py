"""Face detector accuracy on dlib's and CompreFace's labelled photos → benchmarks/results/detect.md.

Usage: python benchmarks/detect.py [--runs N] [--threads N]   (as `facegate benchmark detect`)
"""

from __future__ import annotations

import sys
from pathlib import Path

from shared_data import SHARED_DATA

from facegate.cli import main

RESULTS = Path(__file__).resolve().parent / "results"
MEDIA = SHARED_DATA / "media"

if __name__ == "__main__":
    sys.exit(main(["benchmark", "detect", "--data", str(MEDIA), "--out", str(RESULTS), *sys.argv[1:]]))
