"""Recognise the faces of consecutive frames: detect, follow, embed only when needed, name each track as a whole.

Every `every`-th frame (and on a shot change, or when a track was just lost) the detector scans the whole frame;
on the frames between, each tracked face is looked for only in a small region around its predicted box, scaled
so the face is about `FACE_PX` pixels: a fraction of the cost of a full-frame scan.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import cv2
import numpy as np

from facegate.align import align
from facegate.detect.base import Face, as_box, iou_matrix
from facegate.draw import annotate
from facegate.match.decision import UNKNOWN, Identifier, similarity
from facegate.pipeline import FaceGate
from facegate.video.tracking import Track, Tracker

FACE_PX = 64  # face side in the rescaled search region around a track (region = 2 × face)
# Mean absolute difference (0-255) of 32×18 colour thumbnails that marks a shot change: the Hamilton clip's three
# cuts measure 25.9-29.1, motion within its shots at most 12.4 (a close-up turning), the pedestrians clip 5.5.
CUT_DIFFERENCE = 20.0
KNOWN_COLOUR, UNKNOWN_COLOUR = (0, 210, 0), (235, 60, 60)


@dataclass(frozen=True)
class LabelledFace:
    """A face in one frame with its name (or "unknown"), score (cosine similarity) and track (None untracked)."""

    face: Face
    label: str
    score: float
    track: int | None


class VideoRecognizer:
    """Feed frames in order with `process`; `tracker.pop_finished()` / `close()` give the ended tracks.

    every: full-frame detection every N frames (tracked faces are followed on every frame in between).
    tracking: False detects and embeds every face of every frame and names it from that frame alone.
    """

    def __init__(self, fg: FaceGate, identifier: Identifier, every: int = 3, tracking: bool = True) -> None:
        if every < 1:
            raise ValueError(f"every must be ≥ 1, got {every}")
        self.fg = fg
        self.identifier = identifier
        self.every = every
        self.tracking = tracking
        self.tracker = Tracker(self._embed, identifier.decide)
        self.face_px = max(FACE_PX, 2 * fg.min_face)
        self.full_scans = 0
        self.embedded_faces = 0
        self._last_full = -every
        self._thumb: np.ndarray | None = None

    def _embed(self, crops: np.ndarray) -> np.ndarray:
        """Embeddings of aligned crops, counted (tracking's point is to need few)."""
        self.embedded_faces += len(crops)
        return self.fg.embedder.embed(crops)

    def _is_cut(self, rgb: np.ndarray) -> bool:
        thumb = cv2.resize(rgb, (32, 18), interpolation=cv2.INTER_AREA).astype(np.float32)
        previous, self._thumb = self._thumb, thumb
        return previous is not None and float(np.abs(previous - self._thumb).mean()) > CUT_DIFFERENCE

    def _search_near(self, rgb: np.ndarray, box: np.ndarray) -> Face | None:
        """The face best overlapping `box`, detected in a rescaled region twice its size around it."""
        side = float(max(box[2] - box[0], box[3] - box[1], 1.0))
        cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
        h, w = rgb.shape[:2]
        x0, y0 = int(max(cx - side, 0)), int(max(cy - side, 0))
        x1, y1 = int(min(cx + side, w)), int(min(cy + side, h))
        if x1 - x0 < 4 or y1 - y0 < 4:
            return None
        scale = self.face_px / side
        region = cv2.resize(
            rgb[y0:y1, x0:x1],
            (max(int((x1 - x0) * scale), 1), max(int((y1 - y0) * scale), 1)),
            interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        )
        found = self.fg.detector.detect(region)
        if not found:
            return None
        offset = np.array([x0, y0], np.float32)
        faces = [
            replace(
                f,
                box=as_box((np.asarray(f.box).reshape(2, 2) / scale + offset).ravel()),
                landmarks=None if f.landmarks is None else f.landmarks / scale + offset,
            )
            for f in found
        ]
        iou = iou_matrix(np.asarray([f.box for f in faces], np.float32), box[None, :])[:, 0]
        best = int(iou.argmax())
        return faces[best] if iou[best] >= self.tracker.iou_min else None

    def _follow(self, rgb: np.ndarray, frame: int) -> list[Face]:
        """Tracked faces found near their predicted boxes (one face per place)."""
        faces: list[Face] = []
        for track in self.tracker.tracks:
            face = self._search_near(rgb, track.predicted_box(frame))
            if face is not None and not any(
                iou_matrix(np.asarray([face.box]), np.asarray([f.box]))[0, 0] > 0.5 for f in faces
            ):
                faces.append(face)
        return faces

    def process(self, frame: int, rgb: np.ndarray) -> list[LabelledFace]:
        """The labelled faces of one RGB frame (frames must come in increasing order)."""
        if not self.tracking:
            faces = self.fg.detector.detect(rgb)
            self.full_scans += 1
            if not faces:
                return []
            decisions = self.identifier.decide(self._embed(align(rgb, faces, self.fg.alignment)))
            return [LabelledFace(f, d.label, similarity(d.distance), None) for f, d in zip(faces, decisions)]
        cut = self._is_cut(rgb)
        just_lost = any(t.missed == 1 for t in self.tracker.tracks)
        if cut or just_lost or frame - self._last_full >= self.every:
            faces = self.fg.detector.detect(rgb)
            self._last_full = frame
            self.full_scans += 1
        else:
            faces = self._follow(rgb, frame)
        tracks = self.tracker.update(frame, faces, align(rgb, faces, self.fg.alignment), cut=cut)
        return [LabelledFace(f, t.label, t.score, t.id) for f, t in zip(faces, tracks)]

    def close(self) -> list[Track]:
        """End every track; returns all tracks not yet reported."""
        return self.tracker.close()


def draw_labels(rgb: np.ndarray, labelled: list[LabelledFace]) -> np.ndarray:
    """A copy of the frame with each face's box and "name score" (green known, red unknown)."""
    out = rgb
    for known, colour in ((True, KNOWN_COLOUR), (False, UNKNOWN_COLOUR)):
        group = [x for x in labelled if (x.label != UNKNOWN) == known]
        if group:
            out = annotate(
                out,
                [replace(x.face, landmarks=None) for x in group],
                [f"{x.label} {x.score:.2f}" for x in group],
                colour=colour,
            )
    return out if out is not rgb else rgb.copy()
