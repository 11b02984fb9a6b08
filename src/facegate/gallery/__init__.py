"""The gallery: people and their face samples in a SQL database, enrollment with quality checks, identification."""

from facegate.gallery.database import migrate, open_engine
from facegate.gallery.repository import ConflictError, Gallery, NotFoundError


def open_gallery(url: str | None = None) -> Gallery:
    """The gallery at `url` (default: SQLite gallery.db in the data folder), its schema migrated to the latest."""
    engine = open_engine(url)
    migrate(engine)
    return Gallery(engine)


__all__ = ["ConflictError", "Gallery", "NotFoundError", "migrate", "open_engine", "open_gallery"]
