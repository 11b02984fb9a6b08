"""Where index rows go: a Parquet dataset folder (one part file per chunk) or the gallery database's photo_index.

Both are append-only from the indexer's side and written one chunk of photos at a time, so a crash loses at most
the chunk in flight; `indexed()` says which (path, sha256) pairs are already there, for resuming.
"""

from __future__ import annotations

import os
import secrets
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from facegate.archive import NEEDS_SCALE, ArchiveError
from facegate.extras import optional_imports

with optional_imports("scale", NEEDS_SCALE):
    import pyarrow as pa

from facegate.archive.rows import SCHEMA

Indexed = dict[str, set[str]]  # path → sha256 of every version of the file already indexed


class IndexStore(Protocol):
    """An index output: what is in it, add rows, read them all back."""

    location: str

    def indexed(self) -> Indexed:
        """The (path, sha256) pairs already indexed."""
        ...

    def append(self, rows: pa.Table) -> None:
        """Add the rows of complete photos, durably, in one piece."""
        ...

    def read(self) -> pa.Table:
        """Every row, with SCHEMA."""
        ...


def _pairs(paths: list[str], hashes: list[str | None]) -> Indexed:
    """{path: its indexed sha256s} from parallel columns."""
    indexed: Indexed = defaultdict(set)
    for path, sha256 in zip(paths, hashes):
        if sha256 is not None:  # a file that could not be read is tried again
            indexed[path].add(sha256)
    return dict(indexed)


class ParquetStore:
    """A folder of Parquet part files; each chunk becomes a new part, written under a temporary name first."""

    def __init__(self, folder: Path) -> None:
        if folder.exists() and not folder.is_dir():
            raise ArchiveError(f"{folder}: not a folder (--out names a Parquet dataset folder)")
        self.folder = folder
        self.location = str(folder)
        self._run = f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"
        self._parts = 0

    def parts(self) -> list[Path]:
        """The part files, oldest first."""
        return sorted(self.folder.glob("part-*.parquet"))

    def _table(self, columns: list[str] | None = None) -> pa.Table:
        import pyarrow.parquet as pq

        parts = self.parts()
        if not parts:
            return SCHEMA.empty_table().select(columns or SCHEMA.names)
        try:
            for part in parts:
                if not pq.read_schema(part).equals(SCHEMA):
                    raise ArchiveError(f"{part}: not a part of a facegate index (other columns)")
            return pq.read_table(parts, schema=SCHEMA, columns=columns)
        except (pa.ArrowException, OSError) as exc:
            raise ArchiveError(f"{self.folder}: not a facegate index ({exc})") from exc

    def indexed(self) -> Indexed:
        table = self._table(["path", "sha256"])
        return _pairs(table["path"].to_pylist(), table["sha256"].to_pylist())

    def append(self, rows: pa.Table) -> None:
        import pyarrow.parquet as pq

        self.folder.mkdir(parents=True, exist_ok=True)
        self._parts += 1
        part = self.folder / f"part-{self._run}-{self._parts:05d}.parquet"
        partial = part.with_name(f".{part.name}.tmp")  # readers skip dot files; the rename is atomic
        pq.write_table(rows, partial)
        os.replace(partial, part)

    def read(self) -> pa.Table:
        return self._table()


def _floats(blob: bytes | None) -> list[float] | None:
    return None if blob is None else np.frombuffer(blob, "<f4").tolist()


def _blob(values: list[float] | None) -> bytes | None:
    return None if values is None else np.asarray(values, "<f4").tobytes()


class DatabaseStore:
    """The gallery database's photo_index table (its schema migrated on open); a changed file's old rows are
    replaced by its new ones."""

    def __init__(self, url: str | None) -> None:
        from facegate.gallery import migrate, open_engine

        self.engine = open_engine(url)
        migrate(self.engine)
        self.location = self.engine.url.render_as_string()

    def indexed(self) -> Indexed:
        from sqlalchemy import select

        from facegate.gallery.schema import IndexedFace

        with self.engine.connect() as connection:
            pairs = connection.execute(select(IndexedFace.path, IndexedFace.sha256).distinct()).all()
        return _pairs([p for p, _ in pairs], [s for _, s in pairs])

    def append(self, rows: pa.Table) -> None:
        from sqlalchemy import delete, insert

        from facegate.gallery.schema import IndexedFace

        records: list[dict[str, Any]] = []
        for row in rows.to_pylist():
            box = row.pop("box") or [None] * 4
            records.append(
                {
                    **row,
                    "box_x1": box[0],
                    "box_y1": box[1],
                    "box_x2": box[2],
                    "box_y2": box[3],
                    "landmarks": _blob(row["landmarks"]),
                    "embedding": _blob(row["embedding"]),
                }
            )
        paths = sorted({r["path"] for r in records})
        with self.engine.begin() as connection:
            connection.execute(delete(IndexedFace).where(IndexedFace.path.in_(paths)))
            connection.execute(insert(IndexedFace), records)

    def read(self) -> pa.Table:
        from sqlalchemy import select

        from facegate.gallery.schema import IndexedFace

        with self.engine.connect() as connection:
            found = connection.execute(select(IndexedFace.__table__).order_by(IndexedFace.id)).all()
        return pa.Table.from_pylist(
            [
                {
                    "path": r.path,
                    "sha256": r.sha256,
                    "status": r.status,
                    "face": r.face,
                    "box": None if r.box_x1 is None else [r.box_x1, r.box_y1, r.box_x2, r.box_y2],
                    "score": r.score,
                    "landmarks": _floats(r.landmarks),
                    "embedding": _floats(r.embedding),
                    "error": r.error,
                }
                for r in found
            ],
            schema=SCHEMA,
        )


def open_store(out: Path | None, db: str | None) -> IndexStore:
    """The Parquet dataset folder `out`, or the gallery database at `db`."""
    if (out is None) == (db is None):
        raise ArchiveError("give exactly one output: --out PARQUET_DIR or --db URL")
    return ParquetStore(out) if out is not None else DatabaseStore(db)
