"""LFW open-set 1:N identification benchmark, full protocol → benchmarks/results/openset.md and openset_det.png.

Usage: python benchmarks/openset.py [--gallery-people N] [--impostor-people N]   (as `facegate benchmark openset`)
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facegate.experiments.openset_benchmark import add_openset_arguments, run_openset


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_openset_arguments(parser)
    parser.set_defaults(out=Path(__file__).resolve().parent / "results")
    return run_openset(parser.parse_args())


if __name__ == "__main__":
    sys.exit(main())
