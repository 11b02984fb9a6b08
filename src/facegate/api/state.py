"""Server settings and the Service that every request handler shares (one per app, kept on app.state)."""

from dataclasses import dataclass, field

from facegate import settings
from facegate.api.challenges import Challenges
from facegate.api.work import WorkLimit
from facegate.gallery import Gallery
from facegate.gallery.identify import GalleryIdentifier
from facegate.gallery.operating import DEFAULT, SETTING, OperatingPoint
from facegate.gallery.passages import Passages
from facegate.match.operating_point import DEFAULT_FPIR
from facegate.onnx_session import usable_cores
from facegate.pipeline import FaceGate


@dataclass(frozen=True)
class Settings:
    """Server settings: the database (default: $FACEGATE_DB, else SQLite gallery.db in $FACEGATE_DATA), the
    upload limits, the bounds on heavy work and on wrong keys, and how long a face may be out of view."""

    db: str | None = field(default_factory=lambda: settings.current().db)
    fpir: float = field(default_factory=lambda: settings.current().fpir)  # the operating point, unless the gallery's
    max_upload_bytes: int = field(default_factory=lambda: settings.current().max_upload_mb * 1024 * 1024)  # per image
    max_pixels: int = field(default_factory=lambda: settings.current().max_pixels)  # per image, from the header
    max_files: int = field(default_factory=lambda: settings.current().max_files)  # per enrollment request
    max_request_pixels: int = field(default_factory=lambda: 4 * settings.current().max_pixels)  # all images decoded
    work_slots: int = field(default_factory=usable_cores)  # requests decoding/detecting/embedding at once
    # More requests that may wait for a slot (then 503 at once): one per slot, so an answered request waits for at
    # most one other and latency stays near twice a request's own time under any load, while excess load is refused
    # early (a queue of 32 made p99 at 20 clients 4.7× the p50 at 4; benchmarks/service.py)
    work_queue: int = field(default_factory=usable_cores)
    work_wait_s: float = 5.0  # the longest a request waits for a slot (then 503)
    failed_key_limit: int = 10  # wrong keys from one address within the window (then 429)
    failed_key_window_s: float = 60.0
    passage_s: float = field(default_factory=lambda: settings.current().passage_s)  # out of view: a new passage
    liveness: str = field(default_factory=lambda: settings.current().liveness)  # which gates ask for a head turn

    @property
    def point(self) -> OperatingPoint:
        """The operating point the service decides at while the gallery stores none: `fpir` (FACEGATE_FPIR or the
        default), with where it comes from."""
        return OperatingPoint(self.fpir, SETTING if settings.is_set("fpir") or self.fpir != DEFAULT_FPIR else DEFAULT)


@dataclass
class Service:
    """What the request handlers share: settings, gallery, pipeline, the background-refit identifier and each gate's
    passages (one access event per person per passage) and open liveness challenges."""

    settings: Settings
    gallery: Gallery
    fg: FaceGate
    identifier: GalleryIdentifier
    work: WorkLimit
    passages: Passages
    challenges: Challenges = field(default_factory=Challenges)
