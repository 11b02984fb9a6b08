"""The service's head-turn challenges: one per session, kept in memory, each tied to the gate that started it."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facegate.detect.base import Face
from facegate.liveness import Challenge, ChallengeState

KEEP_S = 60.0  # a challenge (and a passed one's access) is forgotten this long after it started
MAX_OPEN = 1000  # the oldest challenges are dropped beyond this many


class UnknownChallengeError(LookupError):
    """No challenge with that id at this gate (never started, expired, or another gate's)."""


@dataclass
class _Entry:
    gate: str
    challenge: Challenge
    face: np.ndarray | None = None  # the embedding of the face that passed: only that person is let through


class Challenges:
    """Open challenges by id; thread-safe, since request handlers run in a thread pool."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock  # seconds; tests drive their own
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def start(self, gate: str) -> tuple[str, ChallengeState]:
        """A new random two-step challenge at `gate`: its id and first state."""
        now = self.clock()
        challenge_id = secrets.token_urlsafe(16)
        challenge = Challenge.random(now, seed=secrets.randbits(32))
        with self._lock:
            self._forget_old(now)
            self._entries[challenge_id] = _Entry(gate, challenge)
        return challenge_id, challenge.state()

    def observe(self, challenge_id: str, gate: str, faces: list[Face]) -> ChallengeState:
        """Feed one frame's faces to the gate's challenge and give its state."""
        with self._lock:
            entry = self._entry(challenge_id, gate)
            return entry.challenge.observe(self.clock(), faces)

    def needs_face(self, challenge_id: str, gate: str) -> bool:
        """Whether the challenge has passed and the face that passed it is not yet remembered."""
        with self._lock:
            entry = self._entry(challenge_id, gate)
            return entry.challenge.state().passed and entry.face is None

    def remember_face(self, challenge_id: str, gate: str, embedding: np.ndarray) -> None:
        """Keep the embedding of the face that passed, so the challenge lets through that person only."""
        with self._lock:
            self._entry(challenge_id, gate).face = embedding

    def passed_face(self, challenge_id: str | None, gate: str) -> np.ndarray | None:
        """The embedding of the face that passed that challenge at this gate; None when it has not passed (or is
        forgotten, or another gate's)."""
        if not challenge_id:
            return None
        with self._lock:
            try:
                entry = self._entry(challenge_id, gate)
            except UnknownChallengeError:
                return None
            return entry.face if entry.challenge.state().passed else None

    def _entry(self, challenge_id: str, gate: str) -> _Entry:
        self._forget_old(self.clock())
        entry = self._entries.get(challenge_id)
        if entry is None or entry.gate != gate:
            raise UnknownChallengeError(
                f"no liveness challenge {challenge_id!r} at this gate (expired or never started)"
            )
        return entry

    def _forget_old(self, now: float) -> None:
        for key in [k for k, e in self._entries.items() if now - e.challenge.started > KEEP_S]:
            del self._entries[key]
        while len(self._entries) > MAX_OPEN:
            del self._entries[next(iter(self._entries))]
