"""The gallery's one way in and out of the database: people, samples, events, API keys and the site's operating point.

Every change to people or samples bumps the gallery revision in the same transaction, so each server (one
process or many sharing PostgreSQL) can tell cheaply that its fitted identifier is stale. A deletion also logs the
deleted sample ids at that revision (sample_deletions), so a server's vector index learns what went since the revision
it follows without reading every sample id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple, cast

import numpy as np
from sqlalchemy import (
    ColumnElement,
    CursorResult,
    Delete,
    Engine,
    and_,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, defer, sessionmaker

from facegate.embed import MODEL_DIMS, EmbeddingModel
from facegate.errors import FaceGateError
from facegate.gallery.database import scrub_deleted
from facegate.gallery.schema import ApiKey, Event, GalleryState, Person, Sample, SampleDeletion, utcnow
from facegate.gallery.text import clean_name, valid_id
from facegate.match.operating_point import check_fpir

# Deletions stay in the log this long: a server whose index followed no change for longer reads every sample id once
# (as a newly started one reads every sample anyway). A row is a sample id, a revision and a time (no person).
DELETION_LOG_DAYS = 30


class NotFoundError(FaceGateError, LookupError):
    """No person, sample or key with that id or name."""


class ConflictError(FaceGateError):
    """The change would break a uniqueness rule (a name in use, a photo already enrolled, a second model)."""


@dataclass(frozen=True)
class PersonInfo:
    id: int
    name: str
    created_at: datetime
    samples: int


@dataclass(frozen=True)
class SampleInfo:
    id: int
    person_id: int
    sha256: str
    filename: str | None
    box: tuple[float, float, float, float]
    detection_score: float
    face_px: float
    sharpness: float
    nose_position: float | None
    faces_found: int
    created_at: datetime


@dataclass(frozen=True)
class NewSample:
    """What enrollment hands to the gallery for one accepted face."""

    embedding: np.ndarray
    thumbnail: bytes
    sha256: str
    filename: str | None
    box: tuple[float, float, float, float]
    detection_score: float
    face_px: float
    sharpness: float
    nose_position: float | None
    faces_found: int
    model: str = "facenet"  # the embedding model that made `embedding`


@dataclass(frozen=True)
class EventInfo:
    id: int
    time: datetime  # first seen
    gate: str
    person_id: int | None
    person: str | None  # None for unknown faces and for people deleted since
    decision: str
    score: float
    distance: float | None
    last_seen: datetime
    frames: int
    snapshot: bool  # whether the event holds a picture of the face


@dataclass(frozen=True)
class PassageRecord:
    """One passage as the service writes it: a new event (id None) or the new state of an open one."""

    id: int | None
    gate: str
    first_seen: datetime
    last_seen: datetime
    frames: int
    person_id: int | None
    decision: str
    score: float
    distance: float | None
    snapshot: bytes | None  # None: keep the stored one


@dataclass(frozen=True)
class EventFilter:
    """Which events: time range [since, until) of first sight, person, gate and decision."""

    since: datetime | None = None
    until: datetime | None = None
    person_id: int | None = None
    gate: str | None = None
    decision: str | None = None


@dataclass(frozen=True)
class KeyInfo:
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    gate: str | None = None  # the gate its access events name; None: the key's name

    @property
    def gate_name(self) -> str:
        """The gate this key's access events are recorded at."""
        return self.gate or self.name


class SampleRef(NamedTuple):
    """What tells a stored sample from a later one under the same id (galleries made before ids were never reused
    may still hand out a freed id once)."""

    person_id: int
    sha256: str


class Head(NamedTuple):
    """What a server follows, read in one query: the gallery revision and the site's stored operating point."""

    revision: int
    fpir: float | None  # the false-accept target an admin set for every gate (None: not set)


@dataclass(frozen=True)
class SampleChanges:
    """What an index following one revision must apply to reach `revision`, all read in one snapshot."""

    revision: int
    added: dict[int, SampleRef]  # the samples with an id from the one asked about on
    deleted: list[int] | None  # samples deleted after the revision asked about; None: the log no longer reaches back
    count: int | None  # samples at `revision` (PostgreSQL only, see Gallery.sample_changes)


@dataclass(frozen=True)
class TrainingSet:
    """Every enrolled embedding with its person id, as of one gallery revision."""

    revision: int
    embeddings: np.ndarray
    person_ids: np.ndarray
    model: str  # the model of every embedding ("facenet" for an empty gallery)


def _deleted(session: Session, statement: Delete) -> int:
    """Run a DELETE and say how many rows it removed."""
    return cast("CursorResult[Any]", session.execute(statement)).rowcount


def _require_id(value: int, what: str) -> None:
    """NotFoundError for an id no row can have (out of the databases' integer range), before any query sees it."""
    if not valid_id(value):
        raise NotFoundError(f"no {what} with id {value}")


def _vectors(blobs: Sequence[bytes], model: str) -> np.ndarray:
    """Stored embeddings (little-endian float32 bytes) of `model` as an N×D array."""
    return np.frombuffer(b"".join(blobs), "<f4").reshape(len(blobs), MODEL_DIMS[model]).astype(np.float32)


def _refs(session: Session, since: int) -> dict[int, SampleRef]:
    """{sample id: (person id, photo hash)} of the samples with an id from `since` on."""
    rows = session.execute(select(Sample.id, Sample.person_id, Sample.sha256).where(Sample.id >= since)).all()
    return {i: SampleRef(p, h) for i, p, h in rows}


def _model(session: Session) -> str | None:
    """The embedding model of the gallery's samples (None when there are none)."""
    return session.scalar(select(Sample.model).limit(1))


def _sample_row(person_id: int, new: NewSample, created_at: datetime) -> dict[str, Any]:
    """The Sample columns for one accepted face of a person."""
    embedding = np.asarray(new.embedding, "<f4").reshape(-1)
    if len(embedding) != MODEL_DIMS[new.model]:
        raise ValueError(f"a {new.model} embedding has {MODEL_DIMS[new.model]} values, not {len(embedding)}")
    return {
        "person_id": person_id,
        "embedding": embedding.tobytes(),
        "model": new.model,
        "thumbnail": new.thumbnail,
        "sha256": new.sha256,
        "filename": new.filename,
        "box_x1": new.box[0],
        "box_y1": new.box[1],
        "box_x2": new.box[2],
        "box_y2": new.box[3],
        "detection_score": new.detection_score,
        "face_px": new.face_px,
        "sharpness": new.sharpness,
        "nose_position": new.nose_position,
        "faces_found": new.faces_found,
        "created_at": created_at,
    }


def _sample_info(s: Sample) -> SampleInfo:
    return SampleInfo(
        s.id,
        s.person_id,
        s.sha256,
        s.filename,
        (s.box_x1, s.box_y1, s.box_x2, s.box_y2),
        s.detection_score,
        s.face_px,
        s.sharpness,
        s.nose_position,
        s.faces_found,
        s.created_at,
    )


def _key_info(k: ApiKey) -> KeyInfo:
    return KeyInfo(k.id, k.name, k.role, k.prefix, k.created_at, k.gate)


def _event_info(e: Event, person: str | None, snapshot: bool) -> EventInfo:
    return EventInfo(
        e.id,
        e.time,
        e.gate,
        e.person_id,
        person,
        e.decision,
        e.score,
        e.distance,
        e.last_seen or e.time,
        e.frames,
        snapshot,
    )


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    """The WHERE conditions that select the events `f` names."""
    conditions = [
        Event.time >= f.since if f.since is not None else None,
        Event.time < f.until if f.until is not None else None,
        Event.person_id == f.person_id if f.person_id is not None else None,
        Event.gate == f.gate if f.gate is not None else None,
        Event.decision == f.decision if f.decision is not None else None,
    ]
    return [c for c in conditions if c is not None]


class Gallery:
    """People, samples, events and keys in one SQL database (see facegate.gallery.database)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    @contextmanager
    def _session(self) -> Iterator[Session]:
        with self._sessions.begin() as session:
            yield session

    @contextmanager
    def _snapshot(self) -> Iterator[Session]:
        """A read transaction whose statements all see one snapshot: SQLite's transactions do; PostgreSQL's default
        (READ COMMITTED) gives each statement its own, so REPEATABLE READ there."""
        with self._sessions.begin() as session:
            if self.engine.dialect.name == "postgresql":
                session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
            yield session

    @staticmethod
    def _bump(session: Session) -> int:
        """Move the gallery revision on by one (the row stays locked until commit: writers take turns); returns it."""
        statement = update(GalleryState).where(GalleryState.id == 1).values(revision=GalleryState.revision + 1)
        return int(session.execute(statement.returning(GalleryState.revision)).scalar_one())

    @classmethod
    def _delete_samples(cls, session: Session, where: ColumnElement[bool]) -> int:
        """Delete the samples `where` selects and log them at the revision this bumps to, in the caller's
        transaction; prune the log's rows older than DELETION_LOG_DAYS. Returns how many were deleted."""
        revision, now = cls._bump(session), utcnow()
        ids = session.scalars(delete(Sample).where(where).returning(Sample.id)).all()
        if ids:
            session.execute(
                insert(SampleDeletion), [{"sample_id": i, "revision": revision, "deleted_at": now} for i in ids]
            )
        cutoff = now - timedelta(days=DELETION_LOG_DAYS)
        pruned = session.scalar(select(func.max(SampleDeletion.revision)).where(SampleDeletion.deleted_at < cutoff))
        if pruned is not None:  # revisions up to `pruned` are no longer complete in the log
            session.execute(delete(SampleDeletion).where(SampleDeletion.revision <= pruned))
            session.execute(update(GalleryState).where(GalleryState.id == 1).values(deletions_from=pruned))
        return len(ids)

    @staticmethod
    def _person(session: Session, person_id: int) -> Person:
        _require_id(person_id, "person")
        person = session.get(Person, person_id)
        if person is None:
            raise NotFoundError(f"no person with id {person_id}")
        return person

    def revision(self) -> int:
        """The gallery revision (moved on by every change to people or samples)."""
        return self.head().revision

    def head(self) -> Head:
        """The revision and the stored operating point in one query (servers read it on every request)."""
        with self.engine.connect() as connection:
            row = connection.execute(
                select(GalleryState.revision, GalleryState.fpir).where(GalleryState.id == 1)
            ).one_or_none()
        return Head(0, None) if row is None else Head(row.revision, row.fpir)

    # the site's operating point
    def operating_point(self) -> float | None:
        """The false-accept target an admin stored for every gate sharing this gallery (None: not set)."""
        return self.head().fpir

    def set_operating_point(self, fpir: float | None) -> None:
        """Store the site's false-accept target (None clears it: FACEGATE_FPIR or the default decide again). The
        revision stays: no sample changed, and each server reads the point with the revision and refits on it."""
        value = None if fpir is None else check_fpir(fpir)
        with self._session() as s:
            s.execute(update(GalleryState).where(GalleryState.id == 1).values(fpir=value))

    # people
    def add_person(self, name: str) -> PersonInfo:
        name = clean_name(name, "a person's name")
        try:
            with self._session() as s:
                person = Person(name=name, created_at=utcnow())
                s.add(person)
                s.flush()
                self._bump(s)
                return PersonInfo(person.id, person.name, person.created_at, 0)
        except IntegrityError as exc:
            raise ConflictError(f"a person named {name!r} already exists") from exc

    def people(self) -> list[PersonInfo]:
        with self._session() as s:
            rows = s.execute(
                select(Person, func.count(Sample.id)).outerjoin(Sample).group_by(Person.id).order_by(Person.name)
            ).all()
            return [PersonInfo(p.id, p.name, p.created_at, n) for p, n in rows]

    def person(self, person_id: int) -> PersonInfo:
        with self._session() as s:
            p = self._person(s, person_id)
            count = s.scalar(select(func.count(Sample.id)).where(Sample.person_id == person_id)) or 0
            return PersonInfo(p.id, p.name, p.created_at, count)

    def person_by_name(self, name: str) -> PersonInfo | None:
        with self._session() as s:
            person_id = s.scalar(select(Person.id).where(Person.name == clean_name(name, "a person's name")))
        return None if person_id is None else self.person(person_id)

    def names(self, person_ids: list[int]) -> dict[int, str]:
        """{id: name} of those ids that still name a person."""
        if not person_ids:
            return {}
        with self._session() as s:
            return dict(s.execute(select(Person.id, Person.name).where(Person.id.in_(set(person_ids)))).all())

    def rename_person(self, person_id: int, name: str) -> PersonInfo:
        name = clean_name(name, "a person's name")
        try:
            with self._session() as s:
                self._person(s, person_id).name = name
        except IntegrityError as exc:
            raise ConflictError(f"a person named {name!r} already exists") from exc
        return self.person(person_id)

    def delete_person(self, person_id: int) -> None:
        """Remove the person with every sample (embedding and thumbnail) and the snapshots of their access events,
        leaving no copy in the database files; their events keep time, gate and decision, and an id that is never
        given to anyone else."""
        with self._session() as s:
            self._person(s, person_id)
            s.execute(update(Event).where(Event.person_id == person_id).values(snapshot=None))
            self._delete_samples(s, Sample.person_id == person_id)
            s.execute(delete(Person).where(Person.id == person_id))
        scrub_deleted(self.engine)

    # samples
    def model(self) -> EmbeddingModel | None:
        """The embedding model every sample was made with (None while nobody is enrolled)."""
        with self._session() as s:
            return cast("EmbeddingModel | None", _model(s))

    def add_sample(self, person_id: int, new: NewSample) -> SampleInfo:
        """Store one accepted face; ConflictError when the same photo (by SHA-256) is already enrolled, or when the
        gallery holds another model's embeddings (they cannot be compared)."""
        try:
            with self._session() as s:
                self._person(s, person_id)
                if (held := _model(s)) not in (None, new.model):
                    raise ConflictError(
                        f"the gallery holds {held} embeddings and this face was embedded with "
                        f"{new.model}; enroll with the gallery's model (--model {held})"
                    )
                sample = Sample(**_sample_row(person_id, new, utcnow()))
                s.add(sample)
                s.flush()
                self._bump(s)
                return _sample_info(sample)
        except IntegrityError as exc:
            owner = self.sample_by_hash(new.sha256)
            raise ConflictError(self.duplicate_message(owner) if owner else "the photo is already enrolled") from exc

    def add_people(self, people: Sequence[tuple[str, Sequence[NewSample]]]) -> list[int]:
        """Enrol many people with their accepted faces in one transaction and one revision bump (bulk imports: one
        row at a time costs a transaction each); returns their ids in order. All or nothing: ConflictError when a
        name or photo is taken or the gallery holds another model's embeddings."""
        if not people:
            return []
        names = [clean_name(name, "a person's name") for name, _ in people]
        models = {new.model for _, samples in people for new in samples}
        if len(models) > 1:
            raise ConflictError(f"the faces were embedded with several models ({', '.join(sorted(models))})")
        now = utcnow()
        try:
            with self._session() as s:
                if models and (held := _model(s)) not in (None, *models):
                    raise ConflictError(f"the gallery holds {held} embeddings, not {models.pop()}")
                statement = insert(Person).returning(Person.id, sort_by_parameter_order=True)
                ids = list(s.scalars(statement, [{"name": name, "created_at": now} for name in names]))
                rows = [
                    _sample_row(person_id, new, now) for person_id, (_, samples) in zip(ids, people) for new in samples
                ]
                if rows:
                    s.execute(insert(Sample), rows)
                self._bump(s)
                return ids
        except IntegrityError as exc:
            raise ConflictError("a name or a photo is already enrolled (nothing was added)") from exc

    def duplicate_message(self, sample: SampleInfo) -> str:
        owner = self.names([sample.person_id]).get(sample.person_id, "someone")
        return f"the same photo is already enrolled (sample {sample.id} of {owner})"

    def sample_by_hash(self, sha256: str) -> SampleInfo | None:
        with self._session() as s:
            sample = s.scalar(select(Sample).where(Sample.sha256 == sha256))
            return None if sample is None else _sample_info(sample)

    def samples(self, person_id: int) -> list[SampleInfo]:
        with self._session() as s:
            self._person(s, person_id)
            return [
                _sample_info(x)
                for x in s.scalars(select(Sample).where(Sample.person_id == person_id).order_by(Sample.id))
            ]

    def sample(self, sample_id: int) -> SampleInfo:
        with self._session() as s:
            _require_id(sample_id, "sample")
            sample = s.get(Sample, sample_id)
            if sample is None:
                raise NotFoundError(f"no sample with id {sample_id}")
            return _sample_info(sample)

    def thumbnail(self, sample_id: int) -> bytes:
        _require_id(sample_id, "sample")
        with self._session() as s:
            data = s.scalar(select(Sample.thumbnail).where(Sample.id == sample_id))
        if data is None:
            raise NotFoundError(f"no sample with id {sample_id}")
        return data

    def delete_sample(self, sample_id: int) -> None:
        _require_id(sample_id, "sample")
        with self._session() as s:
            if self._delete_samples(s, Sample.id == sample_id) == 0:  # the error rolls the revision bump back
                raise NotFoundError(f"no sample with id {sample_id}")
        scrub_deleted(self.engine)

    def embeddings_of(self, person_id: int) -> np.ndarray:
        """The person's enrolled embeddings (K×D); NotFoundError when there is no such person."""
        with self._session() as s:
            self._person(s, person_id)
            rows = s.scalars(select(Sample.embedding).where(Sample.person_id == person_id)).all()
            model = _model(s) or "facenet"
        return _vectors(rows, model)

    def sample_refs(self, since: int = 0) -> dict[int, SampleRef]:
        """{sample id: (person id, photo hash)} of every sample with an id from `since` on, without embeddings:
        enough to see what changed."""
        with self._session() as s:
            return _refs(s, since)

    def sample_changes(self, after: int | None, since: int) -> SampleChanges:
        """For an index that follows revision `after` (None: it holds nothing yet) and holds sample ids up to
        `since`: the revision now, the samples from id `since` on and those deleted after `after` (from the deletion
        log), in one snapshot. Reads no sample id older than `since`.

        On PostgreSQL also how many samples there are: writers overlap there, and a sample can commit after one with
        a higher id, which `since` would miss. SQLite's writers take turns (ids commit in order), and counting there
        would hold the database's lock for 25-50 ms at 300,000 samples while identifications wait for it."""
        with self._snapshot() as s:
            revision, complete_from = s.execute(
                select(GalleryState.revision, GalleryState.deletions_from).where(GalleryState.id == 1)
            ).one()
            deleted: list[int] | None = []
            if after is not None and after < complete_from:
                deleted = None
            elif after is not None:
                deleted = list(s.scalars(select(SampleDeletion.sample_id).where(SampleDeletion.revision > after)))
            count = s.scalar(select(func.count(Sample.id))) if self.engine.dialect.name == "postgresql" else None
            return SampleChanges(revision, _refs(s, since), deleted, count)

    def sample_count(self) -> int:
        with self._session() as s:
            return s.scalar(select(func.count(Sample.id))) or 0

    def sample_ids(self) -> np.ndarray:
        """Every sample id (sorted): which of those an index holds were deleted."""
        with self.engine.connect() as connection:  # Core, not the ORM session: a tenth of the time per row
            rows = connection.exec_driver_sql("SELECT id FROM samples ORDER BY id").fetchall()
        return np.fromiter((i for (i,) in rows), np.int64, len(rows))

    def embeddings_by_ids(self, sample_ids: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """The samples among `sample_ids` that still exist: their ids and embeddings (K×D), in id order."""
        wanted, found, blobs = sorted(sample_ids), [], []
        with self._session() as s:
            for start in range(0, len(wanted), 900):  # bound parameters per statement: SQLite allows 999 at least
                rows = s.execute(
                    select(Sample.id, Sample.embedding)
                    .where(Sample.id.in_(wanted[start : start + 900]))
                    .order_by(Sample.id)
                ).all()
                found += [i for i, _ in rows]
                blobs += [e for _, e in rows]
            model = _model(s) or "facenet"
        return np.array(found, np.int64), _vectors(blobs, model)

    def training_set(self) -> TrainingSet:
        """All embeddings and person ids, read in one transaction together with the revision they belong to."""
        with self._session() as s:
            revision = s.scalar(select(GalleryState.revision).where(GalleryState.id == 1)) or 0
            rows = s.execute(select(Sample.person_id, Sample.embedding).order_by(Sample.id)).all()
            model = _model(s) or "facenet"
        embeddings = _vectors([e for _, e in rows], model)
        return TrainingSet(revision, embeddings, np.array([p for p, _ in rows], np.int64), model)

    # events
    def add_events(self, gate: str, decisions: list[tuple[int | None, str, float, float | None]]) -> list[int]:
        """Record (person_id, decision, score, distance) for faces seen at `gate` now; returns the event ids."""
        with self._session() as s:
            now = utcnow()
            rows = [
                Event(time=now, gate=gate, person_id=p, decision=d, score=sc, distance=di) for p, d, sc, di in decisions
            ]
            s.add_all(rows)
            s.flush()
            return [r.id for r in rows]

    def events(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        person_id: int | None = None,
        gate: str | None = None,
        decision: str | None = None,
        limit: int = 100,
        offset: int = 0,
        after: tuple[datetime, int] | None = None,
    ) -> list[EventInfo]:
        """Events newest first, filtered by time range [since, until), person, gate and decision; `after` (time, id)
        of the last event of a previous page continues from there (a cursor that new events do not shift)."""
        query = (
            select(Event, Person.name, Event.snapshot.is_not(None))
            .outerjoin(Person, Person.id == Event.person_id)
            .options(defer(Event.snapshot))
            .where(*_conditions(EventFilter(since, until, person_id, gate, decision)))
        )
        if after is not None:
            query = query.where(or_(Event.time < after[0], and_(Event.time == after[0], Event.id < after[1])))
        with self._session() as s:
            rows = s.execute(query.order_by(Event.time.desc(), Event.id.desc()).limit(limit).offset(offset)).all()
        return [_event_info(e, name, bool(snap)) for e, name, snap in rows]

    def iter_events(self, f: EventFilter, chunk: int = 1000) -> Iterator[EventInfo]:
        """Every event `f` selects, newest first, read `chunk` at a time (for exports of any size)."""
        after: tuple[datetime, int] | None = None
        while rows := self.events(f.since, f.until, f.person_id, f.gate, f.decision, limit=chunk, after=after):
            yield from rows
            after = (rows[-1].time, rows[-1].id)

    def record_passage(self, p: PassageRecord) -> int:
        """Write a passage: a new event when p.id is None, else the open event's new state; returns its id."""
        values: dict[str, Any] = {
            "gate": p.gate,
            "time": p.first_seen,
            "last_seen": p.last_seen,
            "frames": p.frames,
            "person_id": p.person_id,
            "decision": p.decision,
            "score": p.score,
            "distance": p.distance,
        } | ({} if p.snapshot is None else {"snapshot": p.snapshot})
        with self.engine.begin() as connection:  # SQL without the ORM: this runs for every frame of every gate
            if p.id is None:
                return int(connection.execute(insert(Event).values(**values).returning(Event.id)).scalar_one())
            if connection.execute(update(Event).where(Event.id == p.id).values(**values)).rowcount == 0:
                raise NotFoundError(f"no event with id {p.id}")
            return p.id

    def snapshot(self, event_id: int) -> bytes:
        """The JPEG of the face an event saw best; NotFoundError when there is no such event or it holds none."""
        _require_id(event_id, "event")
        with self._session() as s:
            data = s.scalar(select(Event.snapshot).where(Event.id == event_id))
        if data is None:
            raise NotFoundError(f"no snapshot for event {event_id}")
        return data

    # API keys
    def add_key(self, name: str, role: str, key_hash: str, prefix: str, gate: str | None = None) -> KeyInfo:
        name = clean_name(name, "a key's name")
        gate = None if gate is None else clean_name(gate, "a gate's name")
        try:
            with self._session() as s:
                key = ApiKey(name=name, role=role, key_hash=key_hash, prefix=prefix, gate=gate, created_at=utcnow())
                s.add(key)
                s.flush()
                return _key_info(key)
        except IntegrityError as exc:
            raise ConflictError(f"a key named {name!r} already exists") from exc

    def key_by_hash(self, key_hash: str) -> KeyInfo | None:
        with self._session() as s:
            key = s.scalar(select(ApiKey).where(ApiKey.key_hash == key_hash))
            return None if key is None else _key_info(key)

    def keys(self) -> list[KeyInfo]:
        with self._session() as s:
            return [_key_info(k) for k in s.scalars(select(ApiKey).order_by(ApiKey.id))]

    def delete_key(self, key_id: int) -> None:
        _require_id(key_id, "API key")
        with self._session() as s:
            if _deleted(s, delete(ApiKey).where(ApiKey.id == key_id)) == 0:
                raise NotFoundError(f"no API key with id {key_id}")
