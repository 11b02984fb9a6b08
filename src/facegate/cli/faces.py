"""`facegate detect`, `embed`, `verify` and `demo`: the pipeline on photos, without a gallery."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from facegate.cli.common import (
    Subparsers,
    add_aligned_option,
    add_attributes_option,
    add_detection_options,
    add_model_option,
    add_operating_point_options,
    add_precision_option,
    facegate_from,
    say,
)


def cmd_detect(args: argparse.Namespace) -> int:
    """Print (or draw) every face of one photo: box, score and landmarks."""
    from facegate.draw import check_picture_path, draw_faces
    from facegate.imageio import load_image

    if args.draw:
        check_picture_path(args.draw)  # before any work: a bad --draw path is the user's first answer
    image = load_image(args.image)
    fg = facegate_from(args)
    found = fg.attributes(image) if args.attributes else [(f, None) for f in fg.find_faces(image)]
    faces = [f for f, _ in found]
    rows = [f.to_dict() | (a.to_dict() if a else {}) for f, a in found]
    if args.json:
        print(json.dumps({"image": str(args.image), "faces": rows}, indent=2))
    else:
        print(f"{args.image}: {len(faces)} face(s)")
        for i, d in enumerate(rows, 1):
            marks = " ".join(f"{k}=({v[0]:.0f},{v[1]:.0f})" for k, v in d.get("landmarks", {}).items())
            said = f" age={d['age']:.0f} {d['gender']} ({d['gender_probability']:.2f})" if "age" in d else ""
            print(f"  {i}. box={d['box']} score={d['score']:.3f} {marks}{said}")
    if args.draw:
        draw_faces(image, faces, args.draw)
        say(f"wrote {args.draw}")
    return 0


def cmd_embed(args: argparse.Namespace) -> int:
    """One embedding per face of every photo, with where it came from, into one .npz file."""
    import numpy as np
    from tqdm import tqdm

    from facegate.errors import FaceCountError, FaceGateError

    out = args.out if args.out.suffix == ".npz" else args.out.with_name(args.out.name + ".npz")  # as numpy names it
    if not out.parent.is_dir():
        raise FaceGateError(f"{out.parent}: no such folder for {out.name}")
    fg = facegate_from(args)
    sources, boxes, landmarks, embeddings, face_index = [], [], [], [], []
    for path in tqdm(args.images, desc="embedding", unit="img", disable=len(args.images) < 2):
        represented = fg.represent(path)
        if not represented:
            say(f"no face in {path}")
        for i, found in enumerate(represented):
            sources.append(str(path))
            face_index.append(i)
            boxes.append(found.face.box)
            lm = found.face.landmarks
            landmarks.append(lm if lm is not None else np.full((5, 2), np.nan, np.float32))
            embeddings.append(found.embedding)
    if not embeddings:
        raise FaceCountError(f"no face in any of the {len(args.images)} photo(s); nothing written")
    np.savez_compressed(
        out,
        embeddings=np.asarray(embeddings, np.float32).reshape(-1, fg.dim),
        model=np.asarray(fg.model),
        sources=np.asarray(sources, dtype=str),
        face_index=np.asarray(face_index, np.int32),
        boxes=np.asarray(boxes, np.float32).reshape(-1, 4),
        landmarks=np.asarray(landmarks, np.float32).reshape(-1, 5, 2),
    )
    print(f"{len(embeddings)} face(s) from {len(args.images)} image(s) → {out}")
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    """Compare the largest faces of two photos; exit 0 for the same person, 1 for different people."""
    fg = facegate_from(args)
    result = fg.verify(args.a, args.b)
    source = "--threshold" if args.threshold is not None else f"FPIR {fg.fpir:g}"
    if args.json:
        print(
            json.dumps(
                {
                    "distance": round(result.distance, 4),
                    "threshold": round(result.threshold, 4),
                    "fpir": None if args.threshold is not None else fg.fpir,
                    "same": result.same,
                    "verdict": result.verdict,
                }
            )
        )
    else:
        print(f"distance {result.distance:.3f}  threshold {result.threshold:.3f} ({source})  → {result.verdict}")
    return 0 if result.same else 1


def cmd_demo(args: argparse.Namespace) -> int:
    """Enroll the 5-celebrity train photos and identify the val photos."""
    from facegate.demo import run_demo

    return run_demo(facegate_from(args))


def register(sub: Subparsers) -> None:
    """Add detect, embed, verify and demo."""
    detect = sub.add_parser("detect", help="find faces: boxes, scores, 5 landmarks")
    detect.add_argument("image", type=Path)
    add_detection_options(detect)
    add_attributes_option(detect)
    add_aligned_option(detect)
    detect.add_argument("--json", action="store_true")
    detect.add_argument("--draw", type=Path, metavar="OUT.png", help="write the image with boxes and landmarks")
    detect.set_defaults(handler=cmd_detect)

    embed = sub.add_parser("embed", help="one embedding per face (128-d FaceNet, 1024-d vggface2) → .npz")
    embed.add_argument("images", type=Path, nargs="+")
    embed.add_argument("--out", type=Path, required=True, metavar="FILE.npz")
    add_detection_options(embed)
    add_precision_option(embed)
    add_model_option(embed)
    add_aligned_option(embed)
    embed.set_defaults(handler=cmd_embed)

    verify = sub.add_parser("verify", help="are the largest faces of A and B the same person? (exit 0 yes, 1 no)")
    verify.add_argument("a", type=Path)
    verify.add_argument("b", type=Path)
    add_operating_point_options(verify, threshold="accept pairs at most this far apart (overrides --fpir)")
    verify.add_argument("--json", action="store_true")
    add_detection_options(verify)
    add_precision_option(verify)
    add_model_option(verify)
    add_aligned_option(verify)
    verify.set_defaults(handler=cmd_verify)

    demo = sub.add_parser("demo", help="enroll the 5-celebrity train photos, identify the val photos")
    add_detection_options(demo)
    add_precision_option(demo)
    demo.set_defaults(handler=cmd_demo)
