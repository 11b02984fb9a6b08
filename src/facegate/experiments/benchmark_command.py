"""`facegate benchmark lfw`: LFW verification under the standard 10-fold protocol, as a table, report and ROC plot."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

Handler = Callable[[argparse.Namespace], int]


def add_lfw_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `facegate benchmark lfw` (benchmarks/lfw.py runs the same command)."""
    from facegate.experiments.lfw_benchmark import DEFAULT_VARIANT, VARIANTS

    parser.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS),
                        help=f"variants to score (default: all; '{DEFAULT_VARIANT}' is the pipeline default)")
    parser.add_argument("--fold", type=int, choices=range(1, 11), metavar="1-10",
                        help="score only this fold of pairs.txt, split into 10 sub-folds (quick check)")
    parser.add_argument("--no-devtrain", action="store_true",
                        help="skip the global threshold on pairsDevTrain")
    parser.add_argument("--out", type=Path, metavar="DIR", help="write lfw.md and lfw_roc.png here")
    parser.add_argument("--cache", type=Path, metavar="DIR", help="feature cache folder (default: in the model cache)")
    parser.add_argument("--threads", type=int, help="ONNX Runtime threads (default: all usable cores)")


def run_lfw(args: argparse.Namespace) -> int:
    """Score the chosen variants, print the table, and write the report and plot when --out is given."""
    from facegate.errors import FaceGateError
    from facegate.experiments import lfw_benchmark as bench
    from facegate.experiments.feature_cache import FeatureCache
    from facegate.experiments.lfw import LFW_DIR, read_pairs

    pairs_file = LFW_DIR / "pairs.txt"
    if not pairs_file.is_file():
        raise FaceGateError(f"{pairs_file}: not found; set $FACEGATE_LFW to the LFW folder")
    started = time.monotonic()
    pairs, folds, protocol = bench.protocol_pairs(read_pairs(pairs_file), args.fold)
    cache = FeatureCache(args.cache)
    embedder = bench.LFWEmbedder(cache, threads=args.threads)
    results = [bench.run_variant(embedder, pairs, folds, bench.VARIANTS[key]) for key in args.variants]
    devtrain = None
    if not args.no_devtrain:
        train, test = (read_pairs(LFW_DIR / name) for name in ("pairsDevTrain.txt", "pairsDevTest.txt"))
        devtrain = bench.global_threshold(embedder, train, test, bench.VARIANTS[bench.DEFAULT_VARIANT])
    seconds = time.monotonic() - started
    cache.close()
    command = shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])
    text = bench.report(results, devtrain, protocol, command, seconds, "lfw_roc.png")
    print(text)
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "lfw.md").write_text(text)
        bench.plot_roc(results, args.out / "lfw_roc.png", f"LFW verification ROC\n{protocol}")
        print(f"wrote {args.out / 'lfw.md'} and {args.out / 'lfw_roc.png'}", file=sys.stderr)
    return 0


def register(subparsers: argparse._SubParsersAction) -> dict[str, Handler]:
    """Add `benchmark` with its `lfw`, `openset` and `detect` sub-commands; return the handler for `benchmark`."""
    from facegate.experiments.detect_benchmark import register_detect
    from facegate.experiments.openset_benchmark import register_openset

    benchmark = subparsers.add_parser("benchmark", help="public benchmarks (LFW verification, open-set identification, detector accuracy)")
    bsub = benchmark.add_subparsers(dest="benchmark_command", required=True)
    lfw = bsub.add_parser("lfw", help="LFW pairs.txt, 10-fold verification: accuracy, ROC AUC, TAR@FAR, ROC plot")
    add_lfw_arguments(lfw)
    lfw.set_defaults(handler=run_lfw)
    register_openset(bsub)
    register_detect(bsub)
    return {"benchmark": lambda args: args.handler(args)}
