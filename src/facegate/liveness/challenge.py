"""The head-turn challenge: one face, asked to turn left and right in a random order, each turn within a time limit.

A turn counts when, against the frontal reference frame, the head's yaw changed in the asked direction, the nose
left the plane of the eyes and mouth (`nose_parallax`) by as much in the same direction, the face kept a plausible
width for its height (a print tilted far enough to fool the landmark network is squashed to half its width), and this
held on consecutive frames. The same face must stay in view throughout (its box overlapping the last one).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np

from facegate.detect.base import Face, iou_matrix
from facegate.liveness.geometry import nose_parallax, width_ratio, yaw

Direction = Literal["left", "right"]  # the person's own left and right
Status = Literal["waiting", "turning", "passed", "failed"]
DIRECTIONS: tuple[Direction, ...] = ("left", "right")
# A person turning to their left moves the nose to the right of an unmirrored camera's picture: yaw grows.
SIGN: dict[Direction, float] = {"left": 1.0, "right": -1.0}
LOOK = "look straight at the camera"


@dataclass(frozen=True)
class Limits:
    """What a turn must show, in eye distances; times in seconds. Set from the geometry (a 25-30° turn moves the
    nose ~0.3 eye distances) and simulated prints of knn_examples photos, not from the benchmark's material."""

    frontal: float = 0.15  # |yaw| of the reference frame
    turn: float = 0.2  # yaw change in the asked direction
    parallax: float = 0.25  # nose off the eyes-mouth plane, in the asked direction
    min_width: float = 0.65  # eye distance / eyes-to-mouth height, relative to the reference frame
    hold: int = 2  # consecutive frames showing the turn
    step_seconds: float = 5.0  # time for each step (finding the frontal face, each turn)
    lost_seconds: float = 0.5  # longest gap without the tracked face
    min_iou: float = 0.3  # the tracked face's box overlaps its last box at least this much


@dataclass(frozen=True)
class ChallengeState:
    """Where a challenge stands: status, what to tell the person, the steps and how many are done, why it failed."""

    status: Status
    instruction: str
    steps: tuple[Direction, ...]
    done: int
    reason: str | None = None

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def to_dict(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "instruction": self.instruction,
            "steps": list(self.steps),
            "done": self.done,
            "reason": self.reason,
        }


def instruction(direction: Direction) -> str:
    return f"turn your head to your {direction}"


@dataclass
class Challenge:
    """One person's challenge, fed frames in time order with `observe`; stateful, so one per session."""

    steps: tuple[Direction, ...]
    started: float
    limits: Limits = field(default_factory=Limits)
    _reference: np.ndarray | None = None
    _box: np.ndarray | None = None
    _seen: float = 0.0
    _step_started: float = 0.0
    _done: int = 0
    _held: int = 0
    _failure: str | None = None

    @classmethod
    def random(cls, started: float, steps: int = 2, limits: Limits | None = None, seed: int | None = None) -> Challenge:
        """A challenge of `steps` turns, alternating, starting with a random side."""
        first = random.Random(seed).randrange(2)
        order = tuple(DIRECTIONS[(first + i) % 2] for i in range(steps))
        return cls(order, started, limits or Limits())

    def __post_init__(self) -> None:
        if not self.steps or any(step not in DIRECTIONS for step in self.steps):
            raise ValueError(f"steps must be a non-empty sequence of {DIRECTIONS}, got {self.steps!r}")
        self._seen = self._step_started = self.started

    def state(self) -> ChallengeState:
        """The current state, without a new frame."""
        if self._failure:
            return ChallengeState("failed", LOOK, self.steps, self._done, self._failure)
        if self._done == len(self.steps):
            return ChallengeState("passed", "done", self.steps, self._done)
        if self._reference is None:
            return ChallengeState("waiting", LOOK, self.steps, 0)
        return ChallengeState("turning", instruction(self.steps[self._done]), self.steps, self._done)

    def _fail(self, reason: str) -> ChallengeState:
        self._failure = reason
        return self.state()

    def observe(self, now: float, faces: list[Face]) -> ChallengeState:
        """Take one frame's faces (with landmarks) seen at time `now` (seconds) and say where the challenge stands."""
        status = self.state().status
        if status in ("passed", "failed"):
            return self.state()
        if now - self._step_started > self.limits.step_seconds:
            waited = "no frontal face seen" if status == "waiting" else f"no turn to the {self.steps[self._done]}"
            return self._fail(f"{waited} within {self.limits.step_seconds:g} s")
        face = self._tracked(faces)
        if face is None:
            if self._box is not None and now - self._seen > self.limits.lost_seconds:
                return self._fail("the face left the camera's view")
            return self.state()
        self._box, self._seen = np.asarray(face.box, np.float64), now
        assert face.landmarks is not None  # _tracked keeps faces with landmarks
        if self._reference is None:
            if abs(yaw(face.landmarks)) <= self.limits.frontal:
                self._reference, self._step_started = np.asarray(face.landmarks, np.float64), now
            return self.state()
        self._held = self._held + 1 if self.turned(face.landmarks, self.steps[self._done]) else 0
        if self._held >= self.limits.hold:
            self._done, self._held, self._step_started = self._done + 1, 0, now
        return self.state()

    def turned(self, landmarks: np.ndarray, direction: Direction) -> bool:
        """Whether these landmarks show the head turned to `direction` from the reference, and not a flat picture."""
        assert self._reference is not None
        sign = SIGN[direction]
        return (
            sign * (yaw(landmarks) - yaw(self._reference)) >= self.limits.turn
            and sign * nose_parallax(self._reference, landmarks) >= self.limits.parallax
            and width_ratio(self._reference, landmarks) >= self.limits.min_width
        )

    def _tracked(self, faces: list[Face]) -> Face | None:
        """The challenged face: the largest one at first, then the one overlapping its last box (None if gone)."""
        faces = [f for f in faces if f.landmarks is not None]
        if not faces:
            return None
        if self._box is None:
            return max(faces, key=lambda f: f.area)
        overlap = iou_matrix(self._box[None, :], np.array([f.box for f in faces], np.float64))[0]
        best = int(np.argmax(overlap))
        return faces[best] if overlap[best] >= self.limits.min_iou else None
