"""Follow faces from frame to frame and name each track by a vote over several frames.

Detections are matched to tracks by box overlap (IoU with the box predicted from the track's motion, Hungarian
assignment); faces no track claims are matched to recently lost tracks by embedding distance (re-identification).
The embedder runs on a track's face only while the track still collects votes, or when the aligned face stops
looking like the one last embedded; a new embedding far from the track's own faces splits the track, so a track
never switches identity. A track's name is the vote leader and changes only when another name overtakes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from facegate.detect.base import Face, iou_matrix
from facegate.match.decision import UNKNOWN, Decision, similarity

# Embed the given aligned crops (N×160×160×3) and decide who they are: (N×128 embeddings, N decisions).
Recognise = Callable[[np.ndarray], tuple[np.ndarray, list[Decision]]]


def appearance(crop: np.ndarray) -> np.ndarray:
    """A cheap signature of an aligned crop: 24×24 grey, zero mean, unit norm (dot product = correlation)."""
    grey = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (24, 24), interpolation=cv2.INTER_AREA)
    v = grey.astype(np.float32).ravel()
    v -= v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


@dataclass
class Track:
    """One face followed over frames, with the votes of its embedded frames."""

    id: int
    face: Face
    first_frame: int
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    frames: int = 1
    missed: int = 0
    votes: Counter[str] = field(default_factory=Counter)
    best_score: dict[str, float] = field(default_factory=dict)
    label: str = UNKNOWN
    template: np.ndarray | None = None
    embedded: int = 0
    last_embedded: int = -1
    signature: np.ndarray | None = None

    @property
    def score(self) -> float:
        """Best similarity among the frames that voted for the track's name."""
        return self.best_score.get(self.label, 0.0)

    def predicted_box(self, frame: int) -> np.ndarray:
        """The box moved on by the track's velocity to `frame`."""
        return np.asarray(self.face.box, np.float32) + self.velocity * (frame - self.last_frame)

    def vote(self, embedding: np.ndarray, decision: Decision, signature: np.ndarray, frame: int) -> None:
        """Add one embedded frame: its vote, score, and the running mean embedding."""
        self.votes[decision.label] += 1
        score = similarity(decision.distance)
        self.best_score[decision.label] = max(self.best_score.get(decision.label, -1.0), score)
        leader, count = self.votes.most_common(1)[0]
        if self.embedded == 0 or count > self.votes[self.label]:
            self.label = leader
        total = embedding if self.template is None else self.template * self.embedded + embedding
        self.embedded += 1
        self.template = total / max(float(np.linalg.norm(total)), 1e-6)
        self.last_embedded, self.signature = frame, signature

    def to_event(self, fps: float | None = None) -> dict[str, Any]:
        """The track as an access event: who, best score, first and last frame (and time in seconds given fps)."""
        event: dict[str, Any] = {"track": self.id, "label": self.label, "best_score": round(self.score, 4),
                                 "first_frame": self.first_frame, "last_frame": self.last_frame}
        if fps:
            event |= {"first_time": round(self.first_frame / fps, 3), "last_time": round(self.last_frame / fps, 3)}
        return event | {"frames": self.frames, "votes": dict(self.votes)}


class Tracker:
    """Associate detections with tracks, decide which faces to embed, vote, and retire lost tracks.

    iou_min: overlap needed to continue a track. max_missed: frames a track survives undetected.
    votes: embedded frames a track collects before it relies on appearance checks. embed_every: frames between
    those embeddings. reid_distance: embedding distance to re-attach a face to a lost track. split_distance:
    distance from the track's mean embedding beyond which a face starts a new track. appearance_min: correlation
    with the last embedded crop below which the face is embedded again.
    """

    def __init__(self, recognise: Recognise, iou_min: float = 0.3, max_missed: int = 8, votes: int = 5,
                 embed_every: int = 3, reid_distance: float = 0.8, split_distance: float = 1.0,
                 appearance_min: float = 0.6) -> None:
        self.recognise = recognise
        self.iou_min = iou_min
        self.max_missed = max_missed
        self.votes = votes
        self.embed_every = embed_every
        self.reid_distance = reid_distance
        self.split_distance = split_distance
        self.appearance_min = appearance_min
        self.tracks: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1

    def _needs_embedding(self, track: Track, signature: np.ndarray, frame: int) -> bool:
        if track.embedded < self.votes and frame - track.last_embedded >= self.embed_every:
            return True
        return track.signature is None or float(track.signature @ signature) < self.appearance_min

    def _associate(self, faces: list[Face], frame: int) -> dict[int, int]:
        """Face index → track index by IoU with the predicted boxes (one-to-one, IoU ≥ iou_min)."""
        if not self.tracks or not faces:
            return {}
        predicted = np.stack([t.predicted_box(frame) for t in self.tracks])
        iou = iou_matrix(np.asarray([f.box for f in faces], np.float32), predicted)
        rows, cols = linear_sum_assignment(-iou)
        return {int(r): int(c) for r, c in zip(rows, cols) if iou[r, c] >= self.iou_min}

    def update(self, frame: int, faces: list[Face], crops: np.ndarray, cut: bool = False) -> list[Track]:
        """Advance to `frame` with its detections and aligned crops; the track of each face, in face order.

        cut: the frame starts a new shot, so boxes say nothing about who is who (only embeddings re-attach).
        """
        signatures = [appearance(c) for c in crops]
        matched = {} if cut else self._associate(faces, frame)
        owners: list[Track | None] = [self.tracks[matched[i]] if i in matched else None for i in range(len(faces))]
        todo = [i for i, t in enumerate(owners) if t is None or self._needs_embedding(t, signatures[i], frame)]
        embeddings, decisions = self.recognise(crops[todo]) if todo else (np.zeros((0, 128), np.float32), [])
        fresh = {i: (e, d) for i, e, d in zip(todo, embeddings, decisions)}
        claimed = {id(t) for t in owners if t is not None}
        for i, (embedding, _) in fresh.items():
            track = owners[i]
            if track is not None and float(np.linalg.norm(track.template - embedding)) > self.split_distance:
                claimed.discard(id(track))
                self._retire(track)  # someone else now stands where the track was: end it, start anew
                owners[i] = track = None
            if track is None:
                owners[i] = self._reidentify(embedding, claimed)
                if owners[i] is not None:
                    claimed.add(id(owners[i]))
        for i, face in enumerate(faces):
            track = owners[i]
            if track is None:
                track = owners[i] = Track(id=self._next_id, face=face, first_frame=frame, last_frame=frame)
                self._next_id += 1
                self.tracks.append(track)
            else:
                self._move(track, face, frame)
            if i in fresh:
                track.vote(fresh[i][0], fresh[i][1], signatures[i], frame)
        seen = {id(t) for t in owners}
        for track in list(self.tracks):
            if id(track) not in seen:
                track.missed += 1
                if cut or track.missed > self.max_missed:
                    self._retire(track)
        return [t for t in owners if t is not None]

    def _reidentify(self, embedding: np.ndarray, claimed: set[int]) -> Track | None:
        """The nearest unclaimed track (by mean embedding) within reid_distance, if any."""
        best, best_distance = None, self.reid_distance
        for track in self.tracks:
            if id(track) in claimed or track.template is None:
                continue
            distance = float(np.linalg.norm(track.template - embedding))
            if distance <= best_distance:
                best, best_distance = track, distance
        return best

    @staticmethod
    def _move(track: Track, face: Face, frame: int) -> None:
        gap = max(frame - track.last_frame, 1)
        step = (np.asarray(face.box, np.float32) - np.asarray(track.face.box, np.float32)) / gap
        track.velocity = 0.5 * track.velocity + 0.5 * step
        track.face, track.last_frame, track.missed = face, frame, 0
        track.frames += 1

    def _retire(self, track: Track) -> None:
        self.tracks.remove(track)
        self.finished.append(track)

    def pop_finished(self) -> list[Track]:
        """Tracks that ended since the last call (for events), oldest first."""
        done, self.finished = self.finished, []
        return done

    def close(self) -> list[Track]:
        """End every live track and return all unreported finished ones."""
        for track in list(self.tracks):
            self._retire(track)
        return self.pop_finished()
