"""`facegate watch`: recognise people live from a webcam, an RTSP/HTTP stream or a file, and report access events.

An event is reported once per track, as soon as it has `confirm_faces` embedded faces; shorter tracks are mostly
false detections and are not reported. A track first reported unknown is reported again, once, if it is named later
(its mean face came close enough to someone as better views arrived). A live source that fails to open or stops
delivering frames is reopened with exponential back-off; after `retries` attempts in a row that gave no frame (10 by
default, about 2.5 minutes) watch gives up and says why, so that a service manager can restart it or raise the
alarm.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import cv2

from facegate.errors import VideoError
from facegate.match.decision import UNKNOWN
from facegate.video import DEFAULT_RETRIES
from facegate.video.reader import CaptureFactory
from facegate.video.recognizer import VideoRecognizer, draw_labels
from facegate.video.tracking import Track

WINDOW = "facegate watch"


def parse_source(source: str) -> int | str:
    """A webcam index ("0") as int; URLs and file paths as they are."""
    return int(source) if source.isdigit() else source


def is_live(source: int | str) -> bool:
    """Webcams and network streams are live (reconnect when they drop); files are not (they end)."""
    return isinstance(source, int) or "://" in source


def check_source(source: int | str) -> None:
    """Raise VideoError for a file source that does not exist (live sources are tried when watching)."""
    if not is_live(source) and not Path(str(source)).is_file():
        raise VideoError(f"{source}: no such video file (webcams are numbers, streams are URLs)")


def check_display() -> None:
    """Raise VideoError unless OpenCV can open a window here."""
    if sys.platform.startswith("linux") and not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        raise VideoError("--show needs a display (no DISPLAY or WAYLAND_DISPLAY is set)")
    try:
        cv2.namedWindow(WINDOW, cv2.WINDOW_NORMAL)
    except cv2.error as exc:
        raise VideoError(
            "--show needs OpenCV with GUI support: pip install opencv-python (opencv-python-headless has no windows)"
        ) from exc


@dataclass
class Backoff:
    """Delays between reconnection attempts: first, doubling up to `cap` seconds."""

    first: float = 0.5
    cap: float = 30.0
    attempt: int = 0

    def next(self) -> float:
        delay = min(self.first * 2**self.attempt, self.cap)
        self.attempt += 1
        return delay

    def reset(self) -> None:
        self.attempt = 0


@dataclass
class WatchSummary:
    """How a watch ended: frames seen, reconnections, events reported, and whether Ctrl-C/'q' stopped it."""

    frames: int = 0
    reconnects: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    interrupted: bool = False


class Watcher:
    """Run a VideoRecognizer over a live source and hand each access event to `on_event` as it happens.

    retries: attempts in a row that give no frame (the source does not open, or opens and sends nothing) tolerated
    before giving up with a VideoError that says why (None: keep trying forever).
    status: receives one line per connection problem.
    """

    def __init__(
        self,
        recognizer: VideoRecognizer,
        on_event: Callable[[dict[str, Any]], None],
        open_capture: CaptureFactory = cv2.VideoCapture,
        retries: int | None = DEFAULT_RETRIES,
        backoff: Backoff | None = None,
        sleep: Callable[[float], None] = time.sleep,
        confirm_faces: int = 3,
        show: bool = False,
        status: Callable[[str], None] = lambda _: None,
    ) -> None:
        self.recognizer = recognizer
        self.on_event = on_event
        self.open_capture = open_capture
        self.retries = retries
        self.backoff = backoff or Backoff()
        self.sleep = sleep
        self.confirm_faces = confirm_faces
        self.show = show
        self.status = status
        self.summary = WatchSummary()
        self._reported: dict[int, str] = {}  # track id → the label reported for it
        self._failures = 0  # attempts in a row that gave no frame

    def _report(self, track: Track) -> None:
        """Hand the track to `on_event` when it has enough embedded faces, and once more if it was unknown then and
        has a name now."""
        said = self._reported.get(track.id)
        named_since = said == UNKNOWN and track.label != UNKNOWN
        if track.embedded < self.confirm_faces or not (said is None or named_since):
            return
        self._reported[track.id] = track.label
        event = track.to_event() | {"at": datetime.now(UTC).isoformat(timespec="seconds")}
        self.summary.events.append(event)
        self.on_event(event)

    def _connect(self, source: int | str) -> Any:
        """An opened capture, after as many back-off waits as it takes (VideoError after `retries`)."""
        while True:
            capture = self.open_capture(source)
            if capture.isOpened():
                return capture
            capture.release()
            self._failed(f"cannot open {source}", f"{source}: cannot open the video source")

    def _failed(self, what: str, why: str) -> None:
        """One more attempt without a frame: wait the back-off and say so, or give up (VideoError) past `retries`."""
        self._failures += 1
        if self.retries is not None and self._failures > self.retries:
            raise VideoError(f"{why} (gave up after {self._failures} attempts in a row; --retries sets how many)")
        delay = self.backoff.next()
        self.status(f"{what}; retrying in {delay:g} s")
        self.sleep(delay)

    def run(self, source: int | str) -> WatchSummary:
        """Watch until the source ends (files), retries run out, or Ctrl-C / 'q' in the window."""
        check_source(source)
        live = is_live(source)
        capture = None
        try:
            while True:
                capture = self._connect(source)
                if live:
                    capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # keep the newest frame, not a backlog
                frames = self.summary.frames
                if self._read(capture):
                    return self.summary
                capture.release()
                capture = None
                self.recognizer.close()  # a dropped source breaks every track
                if not live:
                    return self.summary
                self.summary.reconnects += 1
                if self.summary.frames == frames:
                    self._failed(f"{source} opened but sent no frame", f"{source}: the video source sends no frames")
                    continue
                delay = self.backoff.next()
                self.status(f"{source} stopped sending frames; reconnecting in {delay:g} s")
                self.sleep(delay)
        except KeyboardInterrupt:
            self.summary.interrupted = True
            return self.summary
        finally:
            if capture is not None:
                capture.release()
            if self.show:
                cv2.destroyAllWindows()

    def _read(self, capture: Any) -> bool:
        """Process the capture's frames until it stops sending; True when the user asked to stop."""
        while True:
            ok, bgr = capture.read()
            if not ok or bgr is None:
                return False
            self.backoff.reset()
            self._failures = 0
            if self._step(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)):
                return True

    def _step(self, rgb: Any) -> bool:
        """Process one frame; True when the user asked to stop (key 'q' in the window)."""
        frame = self.summary.frames
        self.summary.frames += 1
        labelled = self.recognizer.process(frame, rgb)
        for track in self.recognizer.tracker.tracks:
            self._report(track)
        self.recognizer.tracker.pop_finished()  # ended tracks were reported while live, or never qualified
        if self.show:
            cv2.imshow(WINDOW, cv2.cvtColor(draw_labels(rgb, labelled), cv2.COLOR_RGB2BGR))
            if cv2.waitKey(1) & 0xFF == ord("q"):
                self.summary.interrupted = True
                return True
        return False
