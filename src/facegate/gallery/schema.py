"""The gallery's tables: people, their face samples, access events, API keys, the gallery revision with its deletion
log and the site's operating point, and the photo archive index (`facegate index --db`)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime, Float, ForeignKey, Integer, LargeBinary, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(TypeDecorator[datetime]):
    """Timestamps stored as naive UTC and read back timezone-aware, identically in SQLite and PostgreSQL."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("timestamps must be timezone-aware")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


# SQLite hands the highest id out again after it is deleted unless the table is AUTOINCREMENT: a new person would
# take over the deleted one's events and sample ids (thumbnail URLs). PostgreSQL's sequences never go back.
NEVER_REUSE_IDS = {"sqlite_autoincrement": True}


class Person(Base):
    __tablename__ = "people"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Sample(Base):
    """One enrolled face: its embedding and the model that made it, aligned-crop thumbnail (JPEG), source file hash
    and quality figures. A gallery holds one model's embeddings only (the repository refuses to mix them)."""

    __tablename__ = "samples"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)  # little-endian float32, as many as the model gives
    model: Mapped[str] = mapped_column(String(32), default="facenet", server_default="facenet")  # made `embedding`
    thumbnail: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64), unique=True)
    filename: Mapped[str | None] = mapped_column(String(500))
    box_x1: Mapped[float] = mapped_column(Float)
    box_y1: Mapped[float] = mapped_column(Float)
    box_x2: Mapped[float] = mapped_column(Float)
    box_y2: Mapped[float] = mapped_column(Float)
    detection_score: Mapped[float] = mapped_column(Float)
    face_px: Mapped[float] = mapped_column(Float)
    sharpness: Mapped[float] = mapped_column(Float)
    nose_position: Mapped[float | None] = mapped_column(Float)
    faces_found: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Event(Base):
    """One passage of a face at a gate: first seen (`time`), last seen, the best score and its face's snapshot (JPEG
    of the aligned crop). person_id is a bare id (no foreign key): it outlives the person."""

    __tablename__ = "events"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    gate: Mapped[str] = mapped_column(String(200), index=True)
    person_id: Mapped[int | None] = mapped_column(Integer, index=True)
    decision: Mapped[str] = mapped_column(String(16), index=True)
    score: Mapped[float] = mapped_column(Float)
    distance: Mapped[float | None] = mapped_column(Float)
    last_seen: Mapped[datetime | None] = mapped_column(UTCDateTime)  # None: a single sighting (events before 0005)
    frames: Mapped[int] = mapped_column(Integer, default=1, server_default="1")  # frames the face was seen in
    snapshot: Mapped[bytes | None] = mapped_column(LargeBinary)  # the passage's best view of the face


class ApiKey(Base):
    """An API key, kept only as its SHA-256 (keys are 256-bit random, so a plain hash cannot be guessed back)."""

    __tablename__ = "api_keys"
    __table_args__ = NEVER_REUSE_IDS

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    role: Mapped[str] = mapped_column(String(16))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))
    gate: Mapped[str | None] = mapped_column(String(200))  # the gate its events name (None: the key's name)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class GalleryState(Base):
    """A single row whose revision grows with every change to people or samples (servers refit on a change).
    Every sample deleted at a revision after `deletions_from` is in the deletion log (sample_deletions). `fpir` is the
    site's operating point an admin set (None: not set, FACEGATE_FPIR or the default decide); every server reads it
    with the revision."""

    __tablename__ = "gallery_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    revision: Mapped[int] = mapped_column(Integer)
    deletions_from: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    fpir: Mapped[float | None] = mapped_column(Float)


class SampleDeletion(Base):
    """The deletion log: a sample deleted at a gallery revision, written in the deleting transaction, so that each
    server's vector index drops what went since the revision it follows without reading every sample id. Only ids
    and times: nothing of the person. Rows older than the repository's DELETION_LOG_DAYS are pruned."""

    __tablename__ = "sample_deletions"

    sample_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # never reused (0003)
    revision: Mapped[int] = mapped_column(Integer, index=True)
    deleted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class IndexedFace(Base):
    """One row of the photo archive index: a face found in a photo, or a photo without a face or that failed.

    Keyed by the photo's path relative to the indexed folder and the sha256 of its bytes (`facegate index --db`).
    """

    __tablename__ = "photo_index"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(Text, index=True)
    sha256: Mapped[str | None] = mapped_column(String(64))  # None when the file could not be read
    status: Mapped[str] = mapped_column(String(16), index=True)  # ok | no_face | unreadable | read_error | error
    face: Mapped[int | None] = mapped_column(Integer)  # 0 = the largest face of the photo
    box_x1: Mapped[float | None] = mapped_column(Float)
    box_y1: Mapped[float | None] = mapped_column(Float)
    box_x2: Mapped[float | None] = mapped_column(Float)
    box_y2: Mapped[float | None] = mapped_column(Float)
    score: Mapped[float | None] = mapped_column(Float)
    landmarks: Mapped[bytes | None] = mapped_column(LargeBinary)  # 10 little-endian float32: 5 (x, y) points
    embedding: Mapped[bytes | None] = mapped_column(LargeBinary)  # 128 little-endian float32
    error: Mapped[str | None] = mapped_column(Text)
    indexed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
