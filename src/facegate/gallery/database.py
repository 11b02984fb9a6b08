"""Open the gallery database (SQLite in WAL mode by default, PostgreSQL on request) and bring its schema up to date."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, create_engine, event, inspect
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DatabaseError as SQLDatabaseError

from facegate import settings
from facegate.errors import FaceGateError
from facegate.extras import require

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
log = logging.getLogger(__name__)


class DatabaseError(FaceGateError):
    """The gallery database URL is unusable or the server cannot be reached."""


def default_url() -> str:
    """The gallery when none is named: $FACEGATE_DB, else SQLite at gallery.db in the data folder."""
    return settings.current().db or f"sqlite:///{default_gallery_file()}"


def default_gallery_file() -> Path:
    """gallery.db in the data folder ($FACEGATE_DATA). Galleries used to live in the model cache, which cache
    cleaners empty: one still there, with none in the data folder, is used where it is (never moved behind the
    back of a server that may have it open), with a notice saying how to move it."""
    now = settings.current()
    new, old = now.data / "gallery.db", now.home / "gallery.db"
    if new.exists() or not old.exists():
        return new
    if old not in _told:
        _told.add(old)
        log.warning(
            "using the gallery at its old place %s, in the model cache, which cache cleaners may empty; with no "
            "server running, move it to the data folder: mkdir -p %s && mv %s* %s/ (or set FACEGATE_DB)",
            old,
            now.data,
            old,
            now.data,
        )
    return old


_told: set[Path] = set()  # old galleries already announced (once per process)


def normalise_url(url: str | None) -> str:
    """A SQLAlchemy URL from what a user types: nothing (the default gallery), a file path or a database URL."""
    url = url or default_url()
    for scheme in ("postgresql://", "postgres://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme) :]
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    return url


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # SQLAlchemy's "begin" hook below issues BEGIN itself
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # in WAL mode a commit survives a killed process
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA secure_delete=ON")  # deleted rows (faces, names) are overwritten, not left in free space
    cursor.close()


def sqlite_file(url: str | None = None) -> Path | None:
    """The file of a SQLite gallery at `url` (see normalise_url); None for a server database or one in memory."""
    sa_url = make_url(normalise_url(url))
    if sa_url.get_backend_name() != "sqlite" or not sa_url.database or sa_url.database == ":memory:":
        return None
    return Path(sa_url.database)


def open_engine(url: str | None = None) -> Engine:
    """An engine for the gallery at `url` (see normalise_url); the SQLite folder is created when missing."""
    sa_url = make_url(normalise_url(url))
    if sa_url.get_backend_name() == "sqlite":
        if (path := sqlite_file(url)) is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(sa_url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        # BEGIN IMMEDIATE: a writer waits for the lock up front instead of failing when it upgrades a read lock
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    if sa_url.get_backend_name() != "postgresql":
        raise DatabaseError(f"unsupported database {sa_url.get_backend_name()!r}: use a SQLite file or postgresql://")
    require("server", "psycopg", what="a PostgreSQL gallery")
    return create_engine(sa_url, pool_size=10, max_overflow=20, pool_pre_ping=True)


def migrate(engine: Engine) -> None:
    """Apply every Alembic migration not yet applied (safe to call on every start, from several servers).

    On SQLite foreign keys are off meanwhile: a migration that rebuilds a table drops the old copy, and with them on
    that drop would cascade to the rows that point at it. They are checked once the migrations are done.
    A gallery already at the newest revision is left as it is without loading Alembic (a second of every start)."""
    try:
        with engine.connect() as connection:
            if _revision(connection) == head_revision():
                return
            from alembic.config import Config

            config = Config()
            config.set_main_option("script_location", str(MIGRATIONS))
            if connection.dialect.name != "sqlite":
                _upgrade(connection, config)
                return
            driver = _sqlite3(connection.connection.driver_connection)
            driver.execute("PRAGMA foreign_keys=OFF")  # outside a transaction, where SQLite obeys it
            try:
                _upgrade(connection, config)
            finally:
                driver.execute("PRAGMA foreign_keys=ON")
    except SQLDatabaseError as exc:  # unreachable server, locked or unreadable file, or not a database at all
        reason = str(exc.orig) if exc.orig is not None else str(exc)
        raise DatabaseError(f"cannot open the gallery at {engine.url.render_as_string()}: {reason}") from exc


def head_revision() -> str:
    """The newest migration's revision: migrations are numbered files, each revising the one before it
    (0005_passages.py is revision "0005", down from "0004")."""
    return max(path.name[:4] for path in (MIGRATIONS / "versions").glob("[0-9][0-9][0-9][0-9]_*.py"))


def _revision(connection: Connection) -> str | None:
    """The revision the database is at (None: a new database, never migrated); read-only, ends its transaction."""
    try:
        if not inspect(connection).has_table("alembic_version"):
            return None
        return connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        connection.rollback()


def _sqlite3(driver: Any) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy one (SQLAlchemy types it as possibly absent)."""
    if not isinstance(driver, sqlite3.Connection):
        raise DatabaseError(f"expected a SQLite connection, got {type(driver).__name__}")
    return driver


def _upgrade(connection: Connection, config: Config) -> None:
    """Run the pending migrations in one transaction; on SQLite, refuse (roll back) any that breaks a foreign key."""
    from alembic import command

    with connection.begin():
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if connection.dialect.name == "sqlite" and connection.exec_driver_sql("PRAGMA foreign_key_check").first():
            raise DatabaseError("a migration left rows that point at nothing; the gallery was not changed")


def scrub_deleted(engine: Engine) -> None:
    """After a delete on SQLite: copy the WAL into the main file and empty it, so the deleted rows (overwritten by
    secure_delete) leave no older copy behind in the WAL. PostgreSQL keeps its own WAL; nothing to do there."""
    if engine.dialect.name != "sqlite":
        return
    raw = engine.raw_connection()
    try:  # outside a transaction: a checkpoint cannot run inside one
        _sqlite3(raw.driver_connection).execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
    finally:
        raw.close()
