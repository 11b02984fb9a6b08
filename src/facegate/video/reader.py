"""Video files read with OpenCV: RGB frames that survive corrupt or truncated input (video/writer.py writes)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate.errors import VideoError
from facegate.imageio import is_photo

# Give up after this many unreadable frames in a row: the rest of the file is missing, not damaged.
MAX_CONSECUTIVE_FAILURES = 10

CaptureFactory = Callable[[Any], Any]  # cv2.VideoCapture or anything with its isOpened/read/get/set/release


@dataclass
class VideoFile:
    """The frames of a video file as (index, RGB array); unreadable frames are skipped and remembered.

    After iterating, `skipped` lists frame indices that could not be decoded and `missing` counts frames the
    header promises but the file does not hold; `check()` turns either into a VideoError.
    """

    path: Path
    open_capture: CaptureFactory = cv2.VideoCapture
    skipped: list[int] = field(default_factory=list)
    missing: int = 0
    read: int = 0

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such video file")
        if is_photo(self.path):
            raise VideoError(f"{self.path}: a still photo, not a video (`facegate identify` takes photos)")
        self._capture = self.open_capture(str(self.path))
        if not self._capture.isOpened():
            self._capture.release()
            raise VideoError(f"{self.path}: not a readable video (unknown format, or corrupt/truncated beyond repair)")
        self.fps = float(self._capture.get(cv2.CAP_PROP_FPS)) or 25.0
        self.width = int(self._capture.get(cv2.CAP_PROP_FRAME_WIDTH))
        self.height = int(self._capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        self.frames = max(int(self._capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)  # 0: the header does not say

    def __iter__(self) -> Iterator[tuple[int, np.ndarray]]:
        index, failing = 0, list[int]()  # failing: indices of the current run of unreadable frames
        try:
            while self.frames == 0 or index < self.frames:
                ok, bgr = self._capture.read()
                if ok and bgr is not None:
                    self.skipped += failing
                    failing = []
                    self.read += 1
                    yield index, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
                elif self.frames == 0:
                    break
                else:
                    failing.append(index)
                    if len(failing) >= MAX_CONSECUTIVE_FAILURES:
                        break
                    self._capture.set(cv2.CAP_PROP_POS_FRAMES, index + 1)  # jump over the damaged frame
                index += 1
        finally:
            self._capture.release()
        if failing:  # the run of failures reached the end: the rest of the file is missing
            self.missing = self.frames - failing[0]

    def check(self) -> None:
        """Raise VideoError when frames were unreadable or missing (call after iterating)."""
        if self.read == 0:
            raise VideoError(f"{self.path}: no frame could be decoded (corrupt or truncated video)")
        problems = []
        if self.skipped:
            shown = ", ".join(map(str, self.skipped[:10])) + (" …" if len(self.skipped) > 10 else "")
            problems.append(f"{len(self.skipped)} damaged frame(s) skipped ({shown})")
        if self.missing:
            problems.append(f"the file ends {self.missing} frame(s) early (truncated)")
        if problems:
            raise VideoError(
                f"{self.path}: video is corrupt: {'; '.join(problems)}; "
                f"the {self.read} readable frame(s) of {self.frames} were processed"
            )
