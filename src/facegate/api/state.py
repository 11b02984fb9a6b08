"""Server settings and the Service that every request handler shares (one per app, kept on app.state)."""

from dataclasses import dataclass, field

from facegate import settings
from facegate.gallery import Gallery
from facegate.gallery.identify import GalleryIdentifier
from facegate.pipeline import FaceGate


@dataclass(frozen=True)
class Settings:
    """Server settings: the database (default: $FACEGATE_DB, else SQLite at $FACEGATE_HOME/gallery.db) and the
    upload limits."""

    db: str | None = field(default_factory=lambda: settings.current().db)
    fpir: float = field(default_factory=lambda: settings.current().fpir)  # the operating point of every route
    max_upload_bytes: int = field(default_factory=lambda: settings.current().max_upload_mb * 1024 * 1024)  # per image
    max_pixels: int = field(default_factory=lambda: settings.current().max_pixels)  # per image, from the header
    max_files: int = field(default_factory=lambda: settings.current().max_files)  # per enrollment request


@dataclass
class Service:
    """What the request handlers share: settings, gallery, pipeline and the background-refit identifier."""

    settings: Settings
    gallery: Gallery
    fg: FaceGate
    identifier: GalleryIdentifier
