"""Video recognition speed at 720p: frames per second with 1 and 4 faces, with and without tracking.

Builds 720p test videos from the 5-celebrity val photos (pasted on a textured background, panning), runs the
whole `facegate video` path (decode → detect/track → embed → draw → encode) and reports fps and how many
embedder calls tracking saves. Usage: python benchmarks/video.py [--frames 75] [--out benchmarks/results/video.md]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from facegate.experiments.machine import describe_machine
from facegate.gallery.folders import person_photos
from facegate.imageio import load_image
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.pipeline import FaceGate
from facegate.video.annotate_video import annotate_video
from facegate.video.reader import VideoFile
from facegate.video.recognizer import VideoRecognizer

WIDTH, HEIGHT, FPS = 1280, 720, 25.0
PEOPLE = ("ben_afflek", "elton_john", "jerry_seinfeld", "madonna")


def write_video(path: Path, faces: int, frames: int, val: Path) -> None:
    """`faces` val photos (260×300 px) drifting across a 720p frame, one pixel a frame (at most 100 frames)."""
    rng = np.random.default_rng(0)
    background = np.clip(90 + rng.normal(0, 12, (HEIGHT, WIDTH, 3)), 0, 255).astype(np.uint8)
    photos = [cv2.resize(load_image(sorted((val / p).iterdir())[0]), (260, 300)) for p in PEOPLE[:faces]]
    starts = [(40 + 290 * i, 120 + 60 * (i % 2)) for i in range(faces)]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, (WIDTH, HEIGHT))
    for k in range(frames):
        frame = background.copy()
        for (x, y), photo in zip(starts, photos):
            x, y = x + k, y + k
            frame[y : y + 300, x : x + 260] = photo
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    writer.release()


def measure(
    fg: FaceGate, identifier: NearestNeighbourIdentifier, video: Path, tracking: bool, every: int
) -> dict[str, float]:
    """Process the video end to end once; fps (wall clock and from CPU time), faces drawn, embedder calls."""
    recognizer = VideoRecognizer(fg, identifier, every=every, tracking=tracking)
    with tempfile.TemporaryDirectory() as tmp:
        start, cpu = time.perf_counter(), time.process_time()
        summary = annotate_video(VideoFile(video), Path(tmp) / "out.mp4", recognizer, progress=False)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
    return {
        "fps": summary.frames / seconds,
        "cpu_fps": summary.frames / cpu_seconds,
        "face_frames": summary.face_frames,
        "embedded": summary.embedded_faces,
        "full_scans": summary.full_scans,
        "frames": summary.frames,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--frames",
        type=int,
        default=75,
        choices=range(10, 101),
        metavar="10-100",
        help="frames per test video (default 75: 3 s at 25 fps)",
    )
    parser.add_argument("--every", type=int, default=3, help="full-frame detection every N frames (tracking)")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "video.md")
    args = parser.parse_args()

    fg = FaceGate()
    celebrity = fg.models.celebrity
    enrol = [
        (person, path)
        for person, paths in person_photos(celebrity / "train").items()
        if person in PEOPLE
        for path in paths
    ]
    enrol = [pair for i, pair in enumerate(enrol) if i % 4 == 0]  # a few photos each: speed does not need more
    found = [(person, fg.represent(path)) for person, path in enrol]
    identifier = NearestNeighbourIdentifier().fit(
        np.stack([r[0].embedding for _, r in found if r]), [person for person, r in found if r]
    )
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for faces in (1, 4):
            video = Path(tmp) / f"{faces}.mp4"
            write_video(video, faces, args.frames, celebrity / "val")
            measure(fg, identifier, video, True, args.every)  # warm-up: sessions, caches
            for tracking in (False, True):
                r = measure(fg, identifier, video, tracking, args.every)
                saved = 1 - r["embedded"] / r["face_frames"] if r["face_frames"] else 0.0
                rows.append(
                    f"| {faces} | {'yes (every ' + str(args.every) + ')' if tracking else 'no'} | "
                    f"{r['fps']:.1f} | {r['cpu_fps']:.1f} | {r['face_frames']:.0f} | {r['full_scans']:.0f} | "
                    f"{r['embedded']:.0f} | {saved:.0%} |"
                )
                print(rows[-1], flush=True)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    table = "\n".join(
        [
            f"# Video recognition speed, {WIDTH}×{HEIGHT}, {args.frames} frames",
            "",
            f"Machine: {describe_machine()}; load average at the end "
            f"{load:.1f} (this benchmark's own threads included; compare runs only at similar load). End to end: "
            "decode → detect/track → embed → "
            "draw → encode (H.264, PyAV). *fps (CPU time)* = frames / CPU seconds of this process (all its threads): "
            "what one otherwise idle core would sustain, a conservative estimate for a quiet 2-core machine when "
            "other jobs share it. Tracking: full-frame MTCNN every N frames, tracked faces re-detected in a small "
            "region around their predicted box on the other frames; embedder on a track's first faces, on a better or "
            "changed view, and on every face of a track still unknown.",
            "",
            "| faces | tracking | fps (wall) | fps (CPU time) | face-frames | full-frame scans | embedder calls "
            "| embedder calls saved |",
            "|---|---|---|---|---|---|---|---|",
            *rows,
            "",
        ]
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(table)
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
