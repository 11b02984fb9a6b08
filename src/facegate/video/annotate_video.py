"""`facegate video`: recognise every face of a video file and write it back with names drawn, plus track events."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tqdm import tqdm

from facegate.video.reader import VideoFile
from facegate.video.recognizer import VideoRecognizer, draw_labels
from facegate.video.writer import VideoWriter


@dataclass(frozen=True)
class VideoSummary:
    """What a run did: frames written, faces drawn, full-frame scans, embedder calls, one event per track, the
    output's codec, whether it has the source's sound, and the seconds it took."""

    frames: int
    face_frames: int
    full_scans: int
    embedded_faces: int
    events: list[dict[str, Any]]
    codec: str
    sound: bool
    seconds: float

    @property
    def fps(self) -> float:
        """Frames processed per second, end to end (decode, recognise, draw, encode)."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0


def annotate_video(
    source: VideoFile, output: Path, recognizer: VideoRecognizer, events: Path | None = None, progress: bool = True
) -> VideoSummary:
    """Write `output` (same frame rate, size and sound as the source) with every face boxed and named.

    Unreadable frames of the source are skipped; call `source.check()` afterwards to report them. Interrupted or
    failed, the output keeps the frames written so far (a playable file) and the exception goes on.
    """
    start = time.perf_counter()
    writer = VideoWriter(output, source.path, source.fps, source.width, source.height)
    frames = face_frames = 0
    finished = []
    try:
        with tqdm(total=source.frames or None, desc="video", unit="frame", disable=not progress) as bar:
            for index, rgb in source:
                labelled = recognizer.process(index, rgb)
                writer.write(index, draw_labels(rgb, labelled))
                finished += recognizer.tracker.pop_finished()
                frames += 1
                face_frames += len(labelled)
                bar.update()
    finally:
        writer.close()
    finished += recognizer.close()
    records = [t.to_event(source.fps) for t in sorted(finished, key=lambda t: t.id)]
    if events is not None:
        with open(events, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in records)
    return VideoSummary(
        frames,
        face_frames,
        recognizer.full_scans,
        recognizer.embedded_faces,
        records,
        writer.codec,
        writer.sound,
        time.perf_counter() - start,
    )
