"""One access event per person per passage at a gate, from the frames a gate sends one after another.

Each gate's frames go through the same Tracker as `facegate video`/`watch`, which follows faces from frame to frame
and names each track from its faces together. A track's passage is one event row, updated while the face stays in
view: last seen, frames, the decision (unknown becomes a match once the track is named, never the reverse), the
best score and a snapshot of the best view. A face out of view for longer than `expiry_s` starts a new passage when
it comes back; within it, a new track of the same person (or, unknown, of a face that close) continues the old one.
State lives in the process: servers behind one load balancer should send a gate's frames to the same process.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np

from facegate.gallery.enroll import thumbnail_jpeg
from facegate.gallery.identify import Fitted
from facegate.gallery.repository import Gallery, PassageRecord
from facegate.gallery.schema import utcnow
from facegate.match.decision import UNKNOWN, Decision, similarity
from facegate.pipeline import FaceEmbedding
from facegate.video.tracking import Track, Tracker, face_quality


@dataclass
class Passage:
    """An open passage: its event row and what the next update of that row needs."""

    event_id: int
    first_seen: datetime
    last_seen: datetime
    template: np.ndarray  # the track's mean face when last seen (to continue the passage with a new track)
    frames: int = 1
    person_id: int | None = None
    score: float = 0.0
    distance: float | None = None
    quality: float = 0.0  # of the snapshot's face


class _Frame:
    """What the Tracker learns of the frame /identify has already handled: the embedding of each crop, and the
    decisions of the fit that answered the request (so a passage and the answer agree on the operating point)."""

    def __init__(self) -> None:
        self.by_crop: dict[bytes, np.ndarray] = {}
        self.fitted: Fitted | None = None

    def embed(self, crops: np.ndarray) -> np.ndarray:
        return np.stack([self.by_crop[c.tobytes()] for c in crops])

    def decide(self, embeddings: np.ndarray) -> list[Decision]:
        if self.fitted is None or self.fitted.identifier is None:  # nobody enrolled: every face is unknown
            return [Decision(UNKNOWN, UNKNOWN, 0.0, float("inf")) for _ in range(len(embeddings))]
        return self.fitted.identifier.decide(embeddings)


@dataclass
class _Gate:
    """One gate's tracker and open passages (its frames are handled one at a time, under `lock`)."""

    tracker: Tracker
    current: _Frame
    lock: threading.Lock = field(default_factory=threading.Lock)
    frame: int = 0
    last_time: datetime | None = None
    open: list[Passage] = field(default_factory=list)
    of_track: dict[int, Passage] = field(default_factory=dict)


class Passages:
    """Turns each gate's frames into passage events in `gallery`."""

    def __init__(self, gallery: Gallery, expiry_s: float, clock: Callable[[], datetime] = utcnow) -> None:
        self.gallery = gallery
        self.expiry = timedelta(seconds=expiry_s)
        self.clock = clock
        self._gates: dict[str, _Gate] = {}
        self._lock = threading.Lock()

    def _gate(self, name: str) -> _Gate:
        with self._lock:
            if name not in self._gates:
                frame = _Frame()
                self._gates[name] = _Gate(Tracker(frame.embed, frame.decide), frame)
            return self._gates[name]

    def observe(self, gate: str, found: list[FaceEmbedding], fitted: Fitted | None) -> list[int]:
        """Record one frame of `gate` with its embedded faces, tracks named by `fitted` (the identifier's fit that
        answered the frame; None names nobody, e.g. while the gate waits for a liveness check); the event id of each
        face's passage, in face order."""
        state = self._gate(gate)
        with state.lock:
            now = self.clock()
            self._expire(state, now)
            state.frame += 1
            state.last_time = now
            state.current.by_crop = {f.crop.tobytes(): f.embedding for f in found}
            state.current.fitted = fitted
            crops = np.stack([f.crop for f in found]) if found else np.zeros((0, 160, 160, 3), np.uint8)
            tracks = state.tracker.update(state.frame, [f.face for f in found], crops)
            for ended in state.tracker.pop_finished():
                state.of_track.pop(ended.id, None)
            named = self.gallery.names([int(t.label) for t in tracks if t.decision is not None and t.decision.known])
            return [self._sighting(state, gate, t, f, named, now) for t, f in zip(tracks, found)]

    def _expire(self, state: _Gate, now: datetime) -> None:
        """Close the passages out of view for longer than the expiry; after such a gap in the gate's frames, end
        its tracks too (a face in the same place later is a new passage)."""
        if state.last_time is not None and now - state.last_time > self.expiry:
            state.tracker.close()
            state.of_track.clear()
        state.open = [p for p in state.open if now - p.last_seen <= self.expiry]
        alive = {id(p) for p in state.open}
        state.of_track = {t: p for t, p in state.of_track.items() if id(p) in alive}

    def _sighting(
        self, state: _Gate, gate: str, track: Track, found: FaceEmbedding, named: dict[int, str], now: datetime
    ) -> int:
        """Update (or open) the passage of one tracked face and write it; its event id."""
        decision = track.decision
        person_id = int(decision.label) if decision is not None and decision.known else None
        person_id = person_id if person_id in named else None  # deleted since the identifier's last fit: unknown
        passage = state.of_track.get(track.id) or self._continued(state, track, person_id)
        template = track.template if track.template is not None else found.embedding
        quality = face_quality(found.face)
        snapshot = thumbnail_jpeg(found.crop) if passage is None or quality > passage.quality else None
        if passage is None:
            passage = Passage(0, now, now, template)
            state.open.append(passage)
        else:
            passage.frames += 1
        state.of_track[track.id] = passage
        passage.last_seen, passage.template = now, template
        passage.quality = max(passage.quality, quality)
        self._decide(passage, person_id, decision)
        passage.event_id = self.gallery.record_passage(
            PassageRecord(
                passage.event_id or None,
                gate,
                passage.first_seen,
                passage.last_seen,
                passage.frames,
                passage.person_id,
                "match" if passage.person_id is not None else "unknown",
                passage.score,
                passage.distance,
                snapshot,
            )
        )
        return passage.event_id

    @staticmethod
    def _decide(passage: Passage, person_id: int | None, decision: Decision | None) -> None:
        """Take the track's decision: a name replaces unknown (and is kept when the track is unknown again); the
        score is the best its person had."""
        distance = decision.distance if decision is not None and math.isfinite(decision.distance) else None
        if person_id is None and passage.person_id is not None:
            return
        if person_id != passage.person_id:  # unknown → named (or a track's name changed): start its score afresh
            passage.person_id, passage.score, passage.distance = person_id, 0.0, None
        score = round(similarity(distance), 4) if distance is not None else 0.0
        if passage.distance is None or score > passage.score:
            passage.score, passage.distance = score, distance

    def _continued(self, state: _Gate, track: Track, person_id: int | None) -> Passage | None:
        """An open passage no live track holds that a new track continues: the same person's, or for an unknown
        face the nearest within the tracker's re-identification distance."""
        held = {id(p) for p in state.of_track.values()}  # ended tracks leave of_track as the tracker retires them
        free = [p for p in state.open if id(p) not in held]
        if person_id is not None:
            return next((p for p in free if p.person_id == person_id), None)
        if track.template is None or not free:
            return None
        distances = [float(np.linalg.norm(p.template - track.template)) for p in free]
        best = int(np.argmin(distances))
        return free[best] if distances[best] <= state.tracker.reid_distance else None
