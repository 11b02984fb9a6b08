"""`facegate video`: recognise every face of a video file and write it back with names drawn, plus track events."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
from tqdm import tqdm

from facegate.video.audio import keep_audio
from facegate.errors import VideoError
from facegate.video.reader import VideoFile, check_output, open_writer
from facegate.video.recognizer import VideoRecognizer, draw_labels


@dataclass(frozen=True)
class VideoSummary:
    """What a run did: frames written, faces drawn, full-frame scans, embedder calls, one event per track."""

    frames: int
    face_frames: int
    full_scans: int
    embedded_faces: int
    events: list[dict[str, Any]]
    sound: bool  # the source's audio was copied into the output


def annotate_video(source: VideoFile, output: Path, recognizer: VideoRecognizer, events: Path | None = None,
                   progress: bool = True) -> VideoSummary:
    """Write `output` (same frame rate, size and sound as the source) with every face boxed and named.

    Unreadable frames of the source are skipped; call `source.check()` afterwards to report them.
    """
    check_output(output)
    pictures = output.with_name(f".{output.stem}.pictures{output.suffix}")  # OpenCV writes no sound: remuxed below
    try:
        writer = open_writer(pictures, source.fps, source.width, source.height)
    except VideoError:  # name the file the user asked for, not the hidden one
        raise VideoError(f"{output}: OpenCV could not open a video writer for it") from None
    frames = face_frames = 0
    finished = []
    try:
        bar = tqdm(total=source.frames or None, desc="video", unit="frame", disable=not progress)
        for index, rgb in source:
            labelled = recognizer.process(index, rgb)
            writer.write(cv2.cvtColor(draw_labels(rgb, labelled), cv2.COLOR_RGB2BGR))
            finished += recognizer.tracker.pop_finished()
            frames += 1
            face_frames += len(labelled)
            bar.update()
        bar.close()
    except BaseException:  # interrupted or failed: keep what was written (without sound), then report
        writer.release()
        os.replace(pictures, output)
        raise
    writer.release()
    sound = keep_audio(source.path, pictures, output)
    finished += recognizer.close()
    records = [t.to_event(source.fps) for t in sorted(finished, key=lambda t: t.id)]
    if events is not None:
        with open(events, "w", encoding="utf-8") as out:
            out.writelines(json.dumps(r) + "\n" for r in records)
    return VideoSummary(frames, face_frames, recognizer.full_scans, recognizer.embedded_faces, records, sound)
