"""From gallery samples to an Identifier, kept fresh in the background as the gallery changes."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from facegate.errors import FaceGateError
from facegate.gallery.operating import OperatingPoint, configured, in_force
from facegate.gallery.repository import Gallery, Head
from facegate.gallery.search import GalleryVectorIndex
from facegate.match.decision import UNKNOWN, Decision, Identifier
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.match.openset import CalibrationError, OpenSetIdentifier
from facegate.match.operating_point import DEFAULT_FPIR, gallery_comparisons, prior_distance

log = logging.getLogger(__name__)

# From this many enrolled people on, the gallery identifies by nearest neighbour over its vector index, which follows
# enrollments and deletions incrementally, instead of refitting the classifier. Measured (benchmarks/gallery_scale.py,
# real LFW people with 2-5 photos, 2,875 real strangers, target FPIR 0.1%, loaded 2-core EPYC): the classifier's FNIR
# and FPIR equalled nearest neighbour's at 100, 300 and 1,000 people (FNIR 11% / 12% / 15% against 10% / 12% / 15%)
# while its fit took 1.2 s, 4.8 s and 47 s. It wins with 5 photos each at 158 people (README, open-set study), so
# it stays where a refit is quick enough for an enrollment to show within seconds.
INDEX_PEOPLE = 300
INDEX_KIND = "nearest neighbour (gallery index)"


class IdentifierUnavailable(FaceGateError):
    """No identifier could be fitted over the gallery (the reason is in the log)."""


def build_identifier(
    embeddings: np.ndarray, labels: np.ndarray | list[str], fpir: float = DEFAULT_FPIR, model: str = "facenet"
) -> Identifier:
    """The open-set classifier, calibrated for the false-accept target `fpir` (galleries too small to calibrate use
    the embedding model's prior distance for it); nearest neighbour at the prior distance for `fpir` over the
    enrolled samples when someone has a single sample, so every gallery keeps the same operating point."""
    y = np.asarray(labels, str)
    try:
        return OpenSetIdentifier(fpir=fpir, model=model).fit(embeddings, y)
    except CalibrationError as exc:  # one person, or one photo of someone
        log.info("nearest-neighbour identification: %s", exc)
        return NearestNeighbourIdentifier(fpir=fpir, model=model).fit(embeddings, y)


def describe(identifier: Identifier) -> str:
    """What decides, in words a user reads (not a class name)."""
    if isinstance(identifier, OpenSetIdentifier):
        return "classifier + distance check"
    if isinstance(identifier, IndexIdentifier):
        return INDEX_KIND
    return "nearest neighbour"


class IndexIdentifier:
    """Open-set nearest neighbour over a GalleryVectorIndex as it stands: the nearest enrolled sample's person (id as
    a string), or UNKNOWN beyond `threshold` (the prior distance for the FPIR target over the enrolled samples)."""

    def __init__(self, index: GalleryVectorIndex, threshold: float) -> None:
        self.index = index
        self.distance_threshold_ = threshold

    def decide(self, embeddings: np.ndarray) -> list[Decision]:
        """One Decision per row of N×D embeddings (probability 1.0, as for any nearest-neighbour decision)."""
        X = np.asarray(embeddings, np.float32).reshape(len(embeddings), -1)
        if not len(X):
            return []
        distances, owners = self.index.nearest(X)
        out = []
        for owner, distance in zip(owners.tolist(), distances.tolist()):
            candidate = str(owner) if owner >= 0 else UNKNOWN
            known = owner >= 0 and distance <= self.distance_threshold_
            out.append(Decision(candidate if known else UNKNOWN, candidate, 1.0, distance))
        return out


@dataclass(frozen=True)
class Fitted:
    """An identifier over person ids (as strings), the gallery revision it was fitted on and the false-accept target
    it decides at."""

    revision: int
    identifier: Identifier | None  # None: nobody is enrolled
    kind: str  # what decides, in plain words ("empty" when nobody is enrolled)
    threshold: float | None  # the distance beyond which a face is unknown
    fpir: float


class GalleryIdentifier:
    """Answers with the latest fitted identifier; a stale one is brought up to date in a background thread, so
    requests never wait for it (only the very first request of a process waits for the first fit).

    Below `index_people` enrolled people that means refitting the classifier on every sample; from there on, the
    gallery's vector index follows the change incrementally (reading only the samples added) and nearest neighbour
    decides at the prior distance for the FPIR over the enrolled samples.

    The false-accept target follows the gallery: the point an admin stored there for the whole site, read with the
    revision in one query on every refresh, else `start` (FACEGATE_FPIR or the default); a `start` given with
    --fpir holds over the stored one. A change of either refits, and `on_point` hears of a new point in force."""

    def __init__(
        self,
        gallery: Gallery,
        start: OperatingPoint | None = None,
        index_people: int = INDEX_PEOPLE,
        on_point: Callable[[OperatingPoint], None] | None = None,
    ) -> None:
        self.gallery = gallery
        self.start = start or configured()
        self.point = self.start  # the point in force as the last refresh read it
        self.index_people = index_people
        self.on_point = on_point
        self.index = GalleryVectorIndex(gallery)
        self._fitted: Fitted | None = None
        self._lock = threading.Lock()
        self._first_fit = threading.Event()
        self._worker: threading.Thread | None = None
        self._failed: tuple[int, float] | None = None  # (revision, FPIR) not retried until either changes

    @property
    def fpir(self) -> float:
        """The false-accept target in force."""
        return self.point.fpir

    def _target(self, head: Head) -> tuple[int, float]:
        """The (revision, FPIR) a fit must match to be current, given the gallery's head."""
        return head.revision, in_force(self.start, head.fpir).fpir

    def _fit_once(self, fpir: float) -> Fitted:
        """A fit at `fpir` for the gallery as it is now: the index brought up to date, and the classifier refit on
        every sample while fewer than `index_people` people are enrolled."""
        revision = self.index.sync()
        photos = self.index.photos_per_person()
        if len(photos) >= self.index_people:
            threshold = prior_distance(fpir, gallery_comparisons(photos), self.gallery.model() or "facenet")
            return Fitted(revision, IndexIdentifier(self.index, threshold), INDEX_KIND, threshold, fpir)
        data = self.gallery.training_set()
        if not len(data.embeddings):
            return Fitted(data.revision, None, "empty", None, fpir)
        identifier = build_identifier(data.embeddings, data.person_ids.astype(str), fpir, data.model)
        return Fitted(data.revision, identifier, describe(identifier), float(identifier.distance_threshold_), fpir)

    def _fit(self, fpir: float) -> None:
        """Fit at `fpir`, and again while the gallery or its point moved on meanwhile."""
        while True:
            fitted = self._fit_once(fpir)
            with self._lock:
                self._fitted = fitted
                self._first_fit.set()
                revision, fpir = self._target(self.gallery.head())
                if (fitted.revision, fitted.fpir) == (revision, fpir):
                    self._worker = None
                    return

    def _run(self, target: tuple[int, float]) -> None:
        try:
            self._fit(target[1])
        except Exception:  # a background thread has nobody to raise to: log, and answer with the previous fit
            log.exception("refitting the gallery identifier failed")
            with self._lock:
                self._worker = None
                self._failed = target
            self._first_fit.set()

    def refresh(self) -> Fitted | None:
        """Read the gallery's revision and stored point (one query) and start a background refit if either changed
        since the last fit; returns the current fit."""
        head = self.gallery.head()
        point = in_force(self.start, head.fpir)
        target = head.revision, point.fpir
        with self._lock:
            moved, self.point = point != self.point, point
            if moved and self.on_point is not None:
                self.on_point(point)
            fitted = self._fitted
            stale = fitted is None or (fitted.revision, fitted.fpir) != target
            if stale and self._worker is None and target != self._failed:
                self._worker = threading.Thread(target=self._run, args=(target,), name="gallery-refit", daemon=True)
                self._worker.start()
            return fitted

    def join(self) -> None:
        """Wait for a running refit to finish (before the process exits)."""
        with self._lock:
            worker = self._worker
        if worker is not None:
            worker.join()

    def current(self) -> Fitted:
        """The fit to answer with now (waiting only for the first fit of this process)."""
        fitted = self.refresh()
        if fitted is None:
            self._first_fit.wait()
            fitted = self._fitted
        if fitted is None:
            raise IdentifierUnavailable("the gallery identifier could not be fitted (see the server log)")
        return fitted

    def wait_until_fresh(self, timeout: float = 60.0) -> Fitted:
        """Block until the fit matches the gallery's current revision and point (for tools, tests and the request
        that changed the point, never for ordinary requests)."""
        deadline = time.monotonic() + timeout
        while True:
            fitted = self.refresh()
            if fitted is not None and (fitted.revision, fitted.fpir) == self._target(self.gallery.head()):
                return fitted
            if time.monotonic() > deadline:
                raise IdentifierUnavailable("the gallery identifier did not catch up with the gallery in time")
            time.sleep(0.05)

    def decide(self, embeddings: np.ndarray) -> tuple[Fitted, list[Decision]]:
        """Decisions over person ids (as strings) for N×128 embeddings, with the fit that made them."""
        fitted = self.current()
        if fitted.identifier is None:
            return fitted, [Decision(UNKNOWN, UNKNOWN, 0.0, float("inf")) for _ in range(len(embeddings))]
        return fitted, fitted.identifier.decide(embeddings)
