"""`facegate benchmark lfw|openset|detect`: the public benchmarks, each printed as a table and written as a report."""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from collections.abc import Callable
from pathlib import Path

from facegate.cli.common import Subparsers, add_lfw_option, positive_int, say, use_lfw_option
from facegate.errors import FaceGateError
from facegate.extras import require


def _variants(text: str) -> str:
    """An argparse type: one LFW benchmark variant name."""
    from facegate.experiments.lfw_benchmark import VARIANTS

    if text not in VARIANTS:
        raise argparse.ArgumentTypeError(f"unknown variant {text!r}; choose from {', '.join(VARIANTS)}")
    return text


def _command_line() -> str:
    """The command as the user typed it, for the report's header."""
    return shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])


def _write(out: Path | None, report: str, text: str, plot: tuple[str, Callable[[Path], None]] | None = None) -> None:
    """Write the report (and its plot: file name, drawing function) into `out` when the user asked for it."""
    if out is None:
        return
    out.mkdir(parents=True, exist_ok=True)
    (out / report).write_text(text)
    written = [out / report]
    if plot is not None:
        plot[1](out / plot[0])
        written.append(out / plot[0])
    say("wrote " + " and ".join(map(str, written)))


def _plots_need_report(args: argparse.Namespace, benchmark: str) -> None:
    """With --out the benchmark draws a plot: check for matplotlib before the long run, not after it."""
    if args.out is not None:
        require("report", "matplotlib", what=f"`facegate benchmark {benchmark} --out`")


def run_lfw(args: argparse.Namespace) -> int:
    """Score the chosen variants under the 10-fold protocol, print the table, write report and ROC plot."""
    from facegate.experiments import lfw_benchmark as bench
    from facegate.experiments.feature_cache import FeatureCache
    from facegate.experiments.lfw import lfw_dir, read_pairs

    _plots_need_report(args, "lfw")
    use_lfw_option(args)
    pairs_file = lfw_dir() / "pairs.txt"
    started = time.monotonic()
    pairs, folds, protocol = bench.protocol_pairs(read_pairs(pairs_file), args.fold)
    cache = FeatureCache(args.cache)
    embedder = bench.LFWEmbedder(cache, threads=args.threads)
    variants = args.variants or [key for key, v in bench.VARIANTS.items() if args.model in (None, v.model)]
    results = [bench.run_variant(embedder, pairs, folds, bench.VARIANTS[key]) for key in variants]
    devtrain = None
    if not args.no_devtrain:
        train, test = (read_pairs(lfw_dir() / name) for name in ("pairsDevTrain.txt", "pairsDevTest.txt"))
        devtrain = bench.global_threshold(embedder, train, test, bench.VARIANTS[bench.DEFAULT_VARIANT])
    seconds = time.monotonic() - started
    cache.close()
    text = bench.report(results, devtrain, protocol, _command_line(), seconds, "lfw_roc.png")
    print(text)
    _write(
        args.out,
        "lfw.md",
        text,
        ("lfw_roc.png", lambda path: bench.plot_roc(results, path, f"LFW verification ROC\n{protocol}")),
    )
    return 0


def run_detect(args: argparse.Namespace) -> int:
    """Score every detector setting on both labelled photo sets, print the table, write detect.md."""
    from facegate.experiments import detect_benchmark as bench
    from facegate.imageio import load_image

    if not (args.data / "dlib_faces" / bench.DLIB_FILES[0]).is_file():
        raise FaceGateError(
            f"{args.data}: no dlib_faces/{bench.DLIB_FILES[0]}; pass --data with the folder that "
            "holds dlib_faces/ and compreface_samples/"
        )
    started = time.monotonic()
    sets = bench.datasets(args.data)
    images = {d.name: [load_image(p.path) for p in d.photos] for d in sets}
    rows = [
        bench.evaluate(name, detect, d, images[d.name], args.runs)
        for name, detect in bench.detectors(args.min_faces, not args.no_haar, args.threads).items()
        for d in sets
    ]
    text = bench.report(rows, _command_line(), time.monotonic() - started, args.runs)
    print(text)
    _write(args.out, "detect.md", text)
    return 0


def run_openset(args: argparse.Namespace) -> int:
    """LFW open-set identification (the benchmark module prints and writes its own report)."""
    from facegate.experiments.openset_benchmark import run_openset as run

    _plots_need_report(args, "openset")
    use_lfw_option(args)
    return run(args)


def _common(p: argparse.ArgumentParser, report: str) -> None:
    """--lfw, --out, --cache and --threads, shared by the LFW benchmarks."""
    add_lfw_option(p)
    p.add_argument("--out", type=Path, metavar="DIR", help=f"write {report} (and its plot) here")
    p.add_argument("--cache", type=Path, metavar="DIR", help="feature cache folder (default: in the model cache)")
    p.add_argument("--threads", type=positive_int, help="ONNX Runtime threads (default: all usable cores)")


def register(subparsers: Subparsers) -> None:
    """Add `benchmark` with its `lfw`, `openset` and `detect` sub-commands."""
    benchmark = subparsers.add_parser(
        "benchmark", help="public benchmarks (LFW verification, open-set identification, detector accuracy)"
    )
    bsub = benchmark.add_subparsers(dest="benchmark_command", required=True)
    lfw = bsub.add_parser("lfw", help="LFW pairs.txt, 10-fold verification: accuracy, ROC AUC, TAR@FAR, ROC plot")
    lfw.add_argument(
        "--variants",
        nargs="+",
        type=_variants,
        metavar="NAME",
        help="variants to score (default: all; 'warp' is the pipeline default)",
    )
    lfw.add_argument(
        "--model", choices=["facenet", "vggface2", "fusion"], help="score only this embedding model's variants"
    )
    lfw.add_argument(
        "--fold",
        type=int,
        choices=range(1, 11),
        metavar="1-10",
        help="score only this fold of pairs.txt, split into 10 sub-folds (quick check)",
    )
    lfw.add_argument("--no-devtrain", action="store_true", help="skip the global threshold on pairsDevTrain")
    _common(lfw, "lfw.md")
    lfw.set_defaults(handler=run_lfw)

    openset = bsub.add_parser("openset", help="LFW open-set 1:N identification: rank-1, FNIR at FPIR, DET")
    openset.add_argument(
        "--gallery-people",
        type=positive_int,
        metavar="N",
        help="only the N gallery people with the fewest photos (quick slice; default all)",
    )
    openset.add_argument(
        "--impostor-people",
        type=positive_int,
        metavar="N",
        help="only the first N single-photo people as impostors (default all)",
    )
    _common(openset, "openset.md")
    openset.set_defaults(handler=run_openset)

    detect = bsub.add_parser(
        "detect", help="detector recall/precision on dlib's and CompreFace's labelled photos, and ms per photo"
    )
    detect.add_argument(
        "--data",
        type=Path,
        required=True,
        metavar="DIR",
        help="folder holding dlib_faces/ and compreface_samples/ (shared/data/media in a checkout)",
    )
    detect.add_argument(
        "--min-faces",
        type=positive_int,
        nargs="+",
        default=[20, 40],
        metavar="PX",
        help="MTCNN minimum face sizes to compare (default: 20 40); Haar uses the smallest",
    )
    detect.add_argument("--no-haar", action="store_true", help="leave out the Haar cascade")
    detect.add_argument("--runs", type=positive_int, default=3, help="timed passes per detector and dataset")
    detect.add_argument("--threads", type=positive_int, help="ONNX Runtime threads for MTCNN (default: all cores)")
    detect.add_argument("--out", type=Path, metavar="DIR", help="write detect.md here")
    detect.set_defaults(handler=run_detect)
