"""Server settings and the Service that every request handler shares (one per app, kept on app.state)."""

import os
from dataclasses import dataclass, field

from facegate.gallery import Gallery
from facegate.gallery.identify import GalleryIdentifier
from facegate.pipeline import FaceGate


@dataclass(frozen=True)
class Settings:
    """Server settings: the database (default: $FACEGATE_DB, else SQLite at $FACEGATE_HOME/gallery.db) and the
    upload limits."""

    db: str | None = field(default_factory=lambda: os.environ.get("FACEGATE_DB"))
    max_upload_bytes: int = 10 * 1024 * 1024  # per image
    max_pixels: int = 25_000_000  # per image, checked from the header before decoding
    max_files: int = 50  # per enrollment request


@dataclass
class Service:
    """What the request handlers share: settings, gallery, pipeline and the background-refit identifier."""

    settings: Settings
    gallery: Gallery
    fg: FaceGate
    identifier: GalleryIdentifier
