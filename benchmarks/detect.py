"""Face detector accuracy on dlib's and CompreFace's labelled photos → benchmarks/results/detect.md.

Usage: python benchmarks/detect.py [--runs N] [--threads N]   (as `facegate benchmark detect`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facegate.experiments.detect_benchmark import add_detect_arguments, run_detect


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_detect_arguments(parser)
    parser.set_defaults(out=Path(__file__).resolve().parent / "results")
    return run_detect(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
