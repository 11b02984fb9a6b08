"""`facegate experiment`: the study's model comparison on person folders (or one of its scenarios), as a report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from facegate.cli.common import Subparsers, add_lfw_option, use_lfw_option
from facegate.errors import FaceGateError
from facegate.extras import require


class ExperimentError(FaceGateError, ValueError):
    """The experiment's arguments do not describe a runnable experiment."""


def _models(text: str) -> tuple[str, ...]:
    """An argparse type: comma-separated model names, each one the experiment knows ("all" for every one)."""
    from facegate.experiments.runner import ALL_MODELS

    if text == "all":
        return ALL_MODELS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in ALL_MODELS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown model(s) {unknown}; choose from {','.join(ALL_MODELS)}")
    return names


def _open_set_model(text: str) -> str | None:
    """An argparse type: the one model of the open-set test, or "none" to skip it."""
    if text == "none":
        return None
    names = _models(text)
    if len(names) != 1:
        raise argparse.ArgumentTypeError(f"give one model, not {len(names)}")
    return names[0]


def cmd_experiment(args: argparse.Namespace) -> int:
    require("report", "matplotlib", what="`facegate experiment`")
    from facegate.experiments.embedding_cache import EmbeddingCache
    from facegate.experiments.openset_benchmark import lfw_background
    from facegate.experiments.report import write_report
    from facegate.experiments.runner import run_experiment
    from facegate.experiments.scenarios import scenario
    from facegate.pipeline import FaceGate

    if (args.scenario is None) == (args.train is None or args.val is None):
        raise ExperimentError("give either --scenario 1|2|3, or both --train DIR and --val DIR")
    if args.scenario is not None and (args.train or args.val):
        raise ExperimentError("--scenario chooses its own folders; leave out --train/--val")
    if args.folds < 2 or args.repeats < 0:
        raise ExperimentError("--folds must be at least 2 and --repeats at least 0")
    chosen = scenario(args.scenario) if args.scenario is not None else None
    train_dir, val_dir = (chosen.train, chosen.val) if chosen else (args.train, args.val)
    cache = EmbeddingCache(FaceGate(detector=args.detector))
    train, val = cache.folder(train_dir, "embedding train"), cache.folder(val_dir, "embedding val")
    if len(set(train.labels)) < 2:
        raise ExperimentError(f"{train_dir} has faces of {len(set(train.labels))} person; need at least 2")
    open_set = args.open_set
    use_lfw_option(args)
    background = lfw_background(set(train.labels) | set(val.labels)) if open_set else None
    if open_set and background is None:
        print(
            "LFW not found (--lfw DIR or $FACEGATE_LFW): open-set calibration without background strangers",
            file=sys.stderr,
        )
    result = run_experiment(
        train, val, args.models, args.folds, args.repeats, open_set, args.fpir, args.seed, background
    )
    path = write_report(result, args.report, chosen)
    print(f"report: {path}", file=sys.stderr)
    for m in result.models:
        print(f"{m.title:22s} train {100 * m.train_accuracy:5.1f}%  val {100 * m.val_accuracy:5.1f}%")
    if result.open_set:
        print(
            f"open set ({result.open_set.classifier}): FPIR {100 * result.open_set.fpir:.1f}%  "
            f"FNIR {100 * result.open_set.fnir:.1f}%"
        )
    return 0


def register(subparsers: Subparsers) -> None:
    """Add the `experiment` subcommand."""
    p = subparsers.add_parser("experiment", help="compare the study's classifiers and ensembles; write a report")
    p.add_argument(
        "--scenario",
        type=int,
        choices=[1, 2, 3],
        help="the study's scenario on the 5-celebrity photos (2, 3: stylised training stand-in)",
    )
    p.add_argument("--train", type=Path, metavar="DIR", help="training photos, one sub-folder per person")
    p.add_argument("--val", type=Path, metavar="DIR", help="validation photos, one sub-folder per person")
    p.add_argument(
        "--models",
        type=_models,
        default="all",
        metavar="A,B,...",
        help="models to compare: lr,cart,svc,bayes,knn,ada,bag,rf,et (the study's learners), "
        "stacked, sl (Super Learner), dsl (Deep Super Learner); default all",
    )
    p.add_argument("--folds", type=int, default=5, metavar="K", help="k of every stratified k-fold (default 5)")
    p.add_argument(
        "--repeats",
        type=int,
        default=2,
        metavar="R",
        help="repeats of the k-fold accuracy boxplot (default 2; 0 skips it)",
    )
    p.add_argument(
        "--open-set",
        type=_open_set_model,
        default="svc",
        metavar="MODEL",
        help="classifier for the held-out-person open-set test: one of --models' names, or none (default svc)",
    )
    p.add_argument("--fpir", type=float, default=0.01, help="target false-positive identification rate")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--detector", choices=["mtcnn", "haar"], default="mtcnn")
    add_lfw_option(p)
    p.add_argument("--report", type=Path, required=True, metavar="OUT/", help="folder for report.html/.md and plots")
    p.set_defaults(handler=cmd_experiment)
