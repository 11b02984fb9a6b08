"""LFW verification benchmark, all variants, full 10-fold protocol → benchmarks/results/lfw.md and lfw_roc.png.

Usage: python benchmarks/lfw.py [--variants ...] [--fold N]   (same options as `facegate benchmark lfw`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facegate.experiments.benchmark_command import add_lfw_arguments, run_lfw


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_lfw_arguments(parser)
    parser.set_defaults(out=Path(__file__).resolve().parent / "results")
    return run_lfw(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
