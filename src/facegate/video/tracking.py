"""Follow faces from frame to frame and name each track from all its faces together.

Detections are matched to tracks by box overlap (IoU with the box predicted from the track's motion, Hungarian
assignment); faces no track claims are matched to recently lost tracks by embedding distance (re-identification).
A track's name comes from its faces together: the identifier decides on the track's quality-weighted mean embedding
(frontal, large faces count most), with the same open-set check and operating point as a single photo. Averaging keeps
what stays the same, the person, and cancels what changes from frame to frame (expression, blur, noise), so a known
person is named even when single frames fall just beyond the threshold, and frames that say "unknown" cannot outvote
a consistent name; a stranger's mean stays as far from the gallery as their frames are. The embedder runs on a
track's first faces, then when the face looks different from the last one embedded, when a clearly better view comes
(larger or more frontal), and now and then while the track is still unknown; a new embedding far from the track's
mean splits the track, so a track never switches identity.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np
from scipy.optimize import linear_sum_assignment

from facegate.detect.base import Face, iou_matrix
from facegate.match.decision import UNKNOWN, Decision, similarity

Embed = Callable[[np.ndarray], np.ndarray]  # aligned crops (N×160×160×3) → N unit embeddings
Decide = Callable[[np.ndarray], list[Decision]]  # N unit embeddings → N open-set decisions (the identifier's)

FULL_SIZE = 160.0  # a face this wide (pixels) fills FaceNet's input: it counts fully in its track's mean
LEAST_WEIGHT = 0.05  # what a profile or a tiny face still counts
# A track's mean takes the views at least this fraction as good as its best one: all of them while the view stays
# alike, the latest few while a person walks up (a causal mean of every view lags behind the improving face).
KEPT_QUALITY = 0.85
MAX_VIEWS = 32  # embedded views a track keeps (its best)


def appearance(crop: np.ndarray) -> np.ndarray:
    """A cheap signature of an aligned crop: 24×24 grey, zero mean, unit norm (dot product = correlation)."""
    grey = cv2.resize(cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY), (24, 24), interpolation=cv2.INTER_AREA)
    v = grey.astype(np.float32).ravel()
    v -= v.mean()
    return v / max(float(np.linalg.norm(v)), 1e-6)


def face_quality(face: Face) -> float:
    """How much a face's embedding counts in its track's mean, in [LEAST_WEIGHT, 1]: its size (full from FULL_SIZE
    pixels wide) times how frontal it is (the nose's offset from the eyes' midpoint, in eye distances: 0 frontal,
    about 1 in profile, where FaceNet's embedding says little about who it is: Alex Lacamoire's profile in the
    Hamilton clip is as far from his photo, 1.35, as from Lin-Manuel Miranda's)."""
    size = min(float(face.box[2] - face.box[0]) / FULL_SIZE, 1.0)
    frontal = 1.0
    if face.landmarks is not None:
        eyes, nose = face.landmarks[:2], face.landmarks[2]
        span = max(float(np.linalg.norm(eyes[1] - eyes[0])), 1.0)
        frontal = 1.0 - abs(float(nose[0] - eyes[:, 0].mean())) / span
    return min(max(size * frontal, LEAST_WEIGHT), 1.0)


@dataclass
class Track:
    """One face followed over frames, with the quality-weighted sum of its embeddings and the decision on it."""

    id: int
    face: Face
    first_frame: int
    last_frame: int
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(4, np.float32))
    frames: int = 1
    missed: int = 0
    views: list[tuple[float, np.ndarray]] = field(default_factory=list)  # (quality, embedding), best first
    embedded: int = 0
    decision: Decision | None = None
    best_score: dict[str, float] = field(default_factory=dict)
    last_embedded: int = -1
    signature: np.ndarray | None = None

    @property
    def best_quality(self) -> float:
        return self.views[0][0] if self.views else 0.0

    @property
    def template(self) -> np.ndarray | None:
        """The track's mean face: the quality-weighted mean of its embedded views at least KEPT_QUALITY times as good
        as its best one (the faces it had far away drop out once it comes close), unit length; None before any."""
        if not self.views:
            return None
        kept = [(q, e) for q, e in self.views if q >= KEPT_QUALITY * self.best_quality]
        total = np.sum([q * e for q, e in kept], axis=0)
        return total / max(float(np.linalg.norm(total)), 1e-6)

    @property
    def label(self) -> str:
        return UNKNOWN if self.decision is None else self.decision.label

    @property
    def score(self) -> float:
        """Cosine similarity of the track's mean face to its candidate's nearest enrolled sample."""
        return 0.0 if self.decision is None else similarity(self.decision.distance)

    def predicted_box(self, frame: int) -> np.ndarray:
        """The box moved on by the track's velocity to `frame`."""
        return np.asarray(self.face.box, np.float32) + self.velocity * (frame - self.last_frame)

    def add(self, embedding: np.ndarray, quality: float, signature: np.ndarray, frame: int) -> None:
        """Add one embedded face to the track's mean."""
        self.views.append((quality, embedding))
        self.views.sort(key=lambda view: -view[0])
        del self.views[MAX_VIEWS:]
        self.embedded += 1
        self.last_embedded, self.signature = frame, signature

    def decide(self, decision: Decision) -> None:
        """Take the identifier's decision on the track's mean face."""
        self.decision = decision
        self.best_score[decision.label] = max(self.best_score.get(decision.label, -1.0), self.score)

    def to_event(self, fps: float | None = None) -> dict[str, Any]:
        """The track as an access event: who, the best score its name had, first and last frame (and time in
        seconds given fps), frames followed and faces embedded."""
        event: dict[str, Any] = {
            "track": self.id,
            "label": self.label,
            "best_score": round(self.best_score.get(self.label, self.score), 4),
            "first_frame": self.first_frame,
            "last_frame": self.last_frame,
        }
        if fps:
            event |= {"first_time": round(self.first_frame / fps, 3), "last_time": round(self.last_frame / fps, 3)}
        return event | {"frames": self.frames, "embedded": self.embedded}


class Tracker:
    """Associate detections with tracks, decide which faces to embed, name each track, and retire lost tracks.

    embed: the embedder; decide: the identifier's decision (the same one single photos get).
    iou_min: overlap needed to continue a track. max_missed: frames a track survives undetected.
    first_faces: faces a new track embeds one after another before it relies on appearance checks (a track still
    unknown embeds every face, as a photo would be). better_view: how much higher a face's quality must be than the
    best embedded so far to embed it. reid_distance: embedding distance to re-attach a face to a lost track.
    split_distance: distance from the track's mean embedding beyond which a face starts a new track.
    appearance_min: correlation with the last embedded crop below which the face is embedded again.
    """

    def __init__(
        self,
        embed: Embed,
        decide: Decide,
        iou_min: float = 0.3,
        max_missed: int = 8,
        first_faces: int = 3,
        better_view: float = 1.25,
        reid_distance: float = 0.8,
        split_distance: float = 1.0,
        appearance_min: float = 0.6,
    ) -> None:
        self.embed = embed
        self.decide = decide
        self.iou_min = iou_min
        self.max_missed = max_missed
        self.first_faces = first_faces
        self.better_view = better_view
        self.reid_distance = reid_distance
        self.split_distance = split_distance
        self.appearance_min = appearance_min
        self.tracks: list[Track] = []
        self.finished: list[Track] = []
        self._next_id = 1

    def _needs_embedding(self, track: Track, signature: np.ndarray, quality: float) -> bool:
        """Embed the face of a track still unknown or with few faces, and a face that is a clearly better view or
        looks different from the last one embedded."""
        if track.label == UNKNOWN or track.embedded < self.first_faces:
            return True
        if quality >= self.better_view * track.best_quality or track.signature is None:
            return True
        return float(track.signature @ signature) < self.appearance_min

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
        qualities = [face_quality(f) for f in faces]
        matched = {} if cut else self._associate(faces, frame)
        owners: list[Track | None] = [self.tracks[matched[i]] if i in matched else None for i in range(len(faces))]
        todo = [i for i, t in enumerate(owners) if t is None or self._needs_embedding(t, signatures[i], qualities[i])]
        fresh = dict(zip(todo, self.embed(crops[todo]))) if todo else {}
        self._split_or_reattach(fresh, owners)
        for i, face in enumerate(faces):
            track = owners[i]
            if track is None:
                track = owners[i] = Track(id=self._next_id, face=face, first_frame=frame, last_frame=frame)
                self._next_id += 1
                self.tracks.append(track)
            else:
                self._move(track, face, frame)
            if i in fresh:
                track.add(fresh[i], qualities[i], signatures[i], frame)
        self._name([t for i, t in enumerate(owners) if i in fresh and t is not None])
        seen = {id(t) for t in owners}
        for track in list(self.tracks):
            if id(track) not in seen:
                track.missed += 1
                if cut or track.missed > self.max_missed:
                    self._retire(track)
        return [t for t in owners if t is not None]

    def _split_or_reattach(self, fresh: dict[int, np.ndarray], owners: list[Track | None]) -> None:
        """End a track whose new face is someone else's; give unclaimed faces back to lost tracks they match."""
        claimed = {id(t) for t in owners if t is not None}
        for i, embedding in fresh.items():
            track = owners[i]
            if track is not None and float(np.linalg.norm(track.template - embedding)) > self.split_distance:
                claimed.discard(id(track))
                self._retire(track)  # someone else now stands where the track was: end it, start anew
                owners[i] = track = None
            if track is None:
                owners[i] = self._reidentify(embedding, claimed)
                if owners[i] is not None:
                    claimed.add(id(owners[i]))

    def _name(self, tracks: list[Track]) -> None:
        """Decide who the tracks that just embedded a face are, each from its mean face (one identifier call)."""
        templates = [t.template for t in tracks]
        if tracks:
            for track, decision in zip(tracks, self.decide(np.stack([m for m in templates if m is not None]))):
                track.decide(decision)

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
