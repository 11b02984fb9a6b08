"""The `facegate video` and `facegate watch` subcommands (wired into the CLI by `register`)."""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from facegate.cli.common import (
    Subparsers,
    add_detection_options,
    add_operating_point_options,
    open_cli_gallery,
    operating_point,
    positive_int,
    say,
)
from facegate.errors import VideoError
from facegate.extras import require
from facegate.video import DEFAULT_RETRIES

if TYPE_CHECKING:
    from facegate.gallery.operating import OperatingPoint
    from facegate.match.decision import Identifier
    from facegate.pipeline import FaceGate
    from facegate.video.recognizer import VideoRecognizer


def _recognizer(args: argparse.Namespace) -> VideoRecognizer:
    """FaceGate + the known people (a photo folder, or the gallery database) → a VideoRecognizer."""
    from facegate.pipeline import FaceGate
    from facegate.video.recognizer import VideoRecognizer

    fg = FaceGate(detector=args.detector, min_face=args.min_face, alignment=args.alignment)
    if args.db:  # --fpir, else the point an admin stored in the gallery, else the setting
        identifier, point = _database_identifier(args)
    else:
        point = operating_point(args)
        identifier = _folder_identifier(fg, args.gallery, point.fpir, args.threshold)
    said = "--threshold" if args.threshold is not None and not args.db else str(point)
    say(f"unknown beyond distance {identifier.distance_threshold_:.3f} ({said})")
    return VideoRecognizer(fg, identifier, every=args.every)


def _folder_identifier(fg: FaceGate, folder: Path, fpir: float, threshold: float | None) -> Identifier:
    """Open-set nearest neighbour over a one-photo-per-person (or person sub-folder) gallery folder."""
    from facegate.gallery.folders import embed_gallery_folder
    from facegate.match.nearest import NearestNeighbourIdentifier

    gallery = embed_gallery_folder(fg, folder, progress=True, checked=True)
    for path, reasons in gallery.skipped.items():
        print(f"facegate: warning: gallery photo {path} refused: {'; '.join(reasons)}", file=sys.stderr)
    people = sorted(set(gallery.labels))
    print(
        f"facegate: gallery of {len(people)} people ({len(gallery.labels)} photos): {', '.join(people)}",
        file=sys.stderr,
    )
    return NearestNeighbourIdentifier(fpir=fpir, threshold=threshold).fit(gallery.embeddings, gallery.labels)


def _database_identifier(args: argparse.Namespace) -> tuple[Identifier, OperatingPoint]:
    """The identifier of the gallery database --db names (calibrated open set, as the gate service uses), answering
    names, at the command's operating point (--fpir, else the gallery's stored one, else the setting), with that
    point; a SQLite file that does not exist is an error, not a new empty gallery."""
    import numpy as np

    from facegate.gallery.identify import build_identifier

    url = args.db
    gallery = open_cli_gallery(args)
    data = gallery.training_set()
    if not len(data.embeddings):
        raise VideoError(f"nobody is enrolled in the gallery at {url}; run `facegate enroll DIR --db {url}` first")
    names = gallery.names(sorted(set(data.person_ids.tolist())))
    labels = np.array([names[int(p)] for p in data.person_ids])
    print(f"facegate: gallery database: {len(names)} people, {len(labels)} samples", file=sys.stderr)
    point = operating_point(args, gallery)
    return build_identifier(data.embeddings, labels, point.fpir), point


def _check_events_path(path: Path | None) -> None:
    if path is not None and not path.parent.is_dir():
        raise VideoError(f"{path.parent}: events folder does not exist")


def _describe(event: dict[str, Any]) -> str:
    when = f"{event['first_time']:.2f}–{event['last_time']:.2f} s" if "first_time" in event else event.get("at", "")
    return (
        f"track {event['track']:3d}  {event['label']:20s}  score {event['best_score']:.2f}  "
        f"frames {event['first_frame']}–{event['last_frame']}  {when}"
    )


def _names(events: list[dict[str, Any]]) -> str:
    """Who the tracks were: each name with its track count, the known people first, most tracks first."""
    from facegate.match.decision import UNKNOWN

    counts = Counter(e["label"] for e in events)
    order = sorted(counts, key=lambda name: (name == UNKNOWN, -counts[name], name))
    return ", ".join(f"{name} ×{counts[name]}" for name in order) or "nobody"


def _megabytes(path: Path) -> str:
    """A file's size for the summary line."""
    return f"{path.stat().st_size / 1e6:.2f} MB"


def cmd_video(args: argparse.Namespace) -> int:
    require("video", "av", what="`facegate video`")
    from facegate.video.annotate_video import annotate_video
    from facegate.video.reader import VideoFile
    from facegate.video.writer import check_output

    if args.out.resolve() == args.input.resolve():
        raise VideoError("--out must differ from the input video")
    check_output(args.out)  # before the gallery is enrolled: a bad --out is the first answer
    _check_events_path(args.events)
    source = VideoFile(args.input)  # opened first: a bad input fails before the gallery is enrolled
    summary = annotate_video(source, args.out, _recognizer(args), events=args.events)
    for event in summary.events:
        print("  " + _describe(event))
    if args.events:
        print(f"events → {args.events}")
    saved = 1 - summary.embedded_faces / summary.face_frames if summary.face_frames else 0.0
    print(
        f"wrote {args.out}: {summary.codec} {'with' if summary.sound else 'without'} sound, "
        f"{_megabytes(args.out)} (input {_megabytes(args.input)})"
    )
    print(
        f"{summary.frames} frames in {summary.seconds:.1f} s ({summary.fps:.1f} fps), {summary.face_frames} faces, "
        f"{len(summary.events)} tracks: {_names(summary.events)}; "
        f"embedder ran on {summary.embedded_faces} faces ({saved:.0%} saved)"
    )
    source.check()  # unreadable frames: the readable ones are written above, now say what was lost
    return 0


def cmd_watch(args: argparse.Namespace) -> int:
    from facegate.video.watch import Watcher, check_display, check_source, parse_source

    _check_events_path(args.events)
    source = parse_source(args.source)
    check_source(source)  # before the gallery is enrolled: fail fast
    if args.show:
        check_display()

    store = _event_store(args.db, args.gate) if args.db else None

    def on_event(event: dict[str, Any]) -> None:
        print(_describe(event), flush=True)
        if args.events:
            with open(args.events, "a", encoding="utf-8") as out:
                out.write(json.dumps(event) + "\n")
        if store is not None:
            store(event)

    watcher = Watcher(
        _recognizer(args),
        on_event,
        retries=args.retries,
        show=args.show,
        status=lambda line: print(f"facegate: {line}", file=sys.stderr, flush=True),
    )
    print(f"facegate: watching {args.source} (Ctrl-C to stop)", file=sys.stderr)
    summary = watcher.run(source)
    how = "stopped" if summary.interrupted else "source ended"
    print(
        f"facegate: {how} after {summary.frames} frames, {len(summary.events)} event(s), "
        f"{summary.reconnects} reconnection(s)",
        file=sys.stderr,
    )
    return 0


def _event_store(url: str, gate: str) -> Callable[[dict[str, Any]], None]:
    """Writes each watch event into the gallery database as an access event of `gate` (like the REST API's)."""
    from facegate.gallery import open_gallery
    from facegate.match.decision import UNKNOWN

    gallery = open_gallery(url)
    ids = {p.name: p.id for p in gallery.people()}

    def store(event: dict[str, Any]) -> None:
        known = event["label"] != UNKNOWN
        gallery.add_events(
            gate,
            [
                (
                    ids.get(event["label"]) if known else None,
                    "match" if known else "unknown",
                    float(event["best_score"]),
                    None,
                )
            ],
        )

    return store


def retry_count(text: str) -> int | None:
    """An argparse type: a whole number ≥ 0, or 'forever' (None: never give up)."""
    if text == "forever":
        return None
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number ≥ 0 or 'forever', got {text!r}")
    return int(text)


def _common(p: argparse.ArgumentParser) -> None:
    known = p.add_mutually_exclusive_group(required=True)
    known.add_argument(
        "--gallery",
        type=Path,
        metavar="DIR",
        help="known people: DIR/<person>.jpg (one photo each) and/or DIR/<person>/*.jpg; each photo's largest face "
        "must pass enrollment's checks (at least $FACEGATE_ENROLL_MIN_FACE px, else 40; sharp; frontal)",
    )
    known.add_argument(
        "--db",
        metavar="URL",
        help="known people from the gallery database (sqlite:///… or "
        "postgresql://…), identified with its calibrated open-set identifier",
    )
    p.add_argument(
        "--every",
        type=positive_int,
        default=3,
        metavar="N",
        help="scan the whole frame for new faces every N frames; tracked faces are followed on every frame (default 3)",
    )
    add_operating_point_options(
        p,
        threshold="with --gallery: a fixed distance to the nearest gallery photo beyond "
        "which a face is unknown (overrides --fpir)",
    )
    add_detection_options(p)


def register(sub: Subparsers) -> None:
    """Add the `video` and `watch` parsers."""
    video = sub.add_parser("video", help="write a video back with every face boxed and named; one event per track")
    video.add_argument("input", type=Path, help="video file")
    video.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="OUTPUT.mp4",
        help=".mp4/.m4v/.mov/.mkv (H.264) or .webm (VP9); same frame rate, size and sound as the input",
    )
    video.add_argument("--events", type=Path, metavar="EVENTS.jsonl", help="one JSON line per track")
    _common(video)

    watch = sub.add_parser("watch", help="recognise people live from a webcam, stream or file; print access events")
    watch.add_argument("source", help="webcam index (0), RTSP/HTTP URL, or video file")
    watch.add_argument("--events", type=Path, metavar="EVENTS.jsonl", help="also append each event as a JSON line")
    watch.add_argument("--show", action="store_true", help="show the annotated picture in a window ('q' stops)")
    watch.add_argument(
        "--retries",
        type=retry_count,
        default=DEFAULT_RETRIES,
        metavar="N",
        help=f"give up, saying why, after N attempts in a row that bring no frame (the source does not open, or "
        f"sends nothing), waiting 0.5, 1, 2 … 30 s between them; 'forever' never gives up (default {DEFAULT_RETRIES})",
    )
    watch.add_argument("--gate", default="watch", help="gate name of the access events stored with --db")
    _common(watch)
    video.set_defaults(handler=cmd_video)
    watch.set_defaults(handler=cmd_watch)
