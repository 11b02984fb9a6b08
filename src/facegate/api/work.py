"""Bounds on the expensive part of a request (decoding images, detecting and embedding faces): how many run at once,
how many may wait, and how many pixels one request may have decoded in all."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import HTTPException

from facegate.api.timing import stage


class WorkLimit:
    """At most `slots` requests doing heavy work at once and `queue` more waiting up to `wait_s` for a slot; past
    that a 503 with Retry-After, instead of every request slowing down and memory growing with the load."""

    def __init__(self, slots: int, queue: int, wait_s: float) -> None:
        self.slots, self.queue, self.wait_s = slots, queue, wait_s
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._admitted = 0  # at work or waiting

    def _busy(self, why: str) -> HTTPException:
        """The 503 a request gets when it cannot have a slot."""
        return HTTPException(503, f"the service is busy ({why}); try again shortly", headers={"Retry-After": "1"})

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one slot for the body of the with-block (waiting in the queue for it when all are taken)."""
        with self._lock:
            if self._admitted >= self.slots + self.queue:
                raise self._busy(f"{self.slots} requests at work and {self.queue} waiting")
            self._admitted += 1
        try:
            with stage("queue"):
                free = self._free.acquire(timeout=self.wait_s)
            if not free:
                raise self._busy(f"no slot came free within {self.wait_s:g} s")
            try:
                yield
            finally:
                self._free.release()
        finally:
            with self._lock:
                self._admitted -= 1


class PixelBudget:
    """The pixels one request may have decoded, all its images together (each image has its own limit too)."""

    def __init__(self, pixels: int) -> None:
        self.left = pixels

    def take(self, pixels: int, name: str) -> None:
        """Count an image of `pixels` against the budget; 413 when it does not fit (nothing is decoded then)."""
        if pixels > self.left:
            raise HTTPException(
                413,
                f"{name}: {pixels:,} pixels is more than this request has left to decode "
                f"({self.left:,}); send it in another request",
            )
        self.left -= pixels
