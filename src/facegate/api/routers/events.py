"""/events: the access events /identify writes (one per person per passage), filtered and paged for viewers, exported
whole as CSV or JSON, with the snapshot of each passage's face."""

import csv
import io
from collections.abc import Iterator
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import StreamingResponse

from facegate.api.dependencies import ServiceDep, ViewerKey
from facegate.api.params import EventId, Gate, Offset, PersonQuery, UTCTime
from facegate.api.schemas import EventOut
from facegate.gallery.repository import EventFilter, EventInfo

router = APIRouter(tags=["events"])


def event_filter(
    since: Annotated[UTCTime | None, Query(description="first seen at or after (ISO 8601; UTC without a zone)")] = None,
    until: Annotated[UTCTime | None, Query(description="first seen before (ISO 8601; UTC without a zone)")] = None,
    person_id: PersonQuery = None,
    gate: Gate | None = None,
    decision: Literal["match", "unknown"] | None = None,
) -> EventFilter:
    """The filters every event listing takes."""
    return EventFilter(since, until, person_id, gate, decision)


Filter = Annotated[EventFilter, Depends(event_filter)]


def _out(e: EventInfo) -> EventOut:
    return EventOut(
        id=e.id,
        time=e.time,
        gate=e.gate,
        person_id=e.person_id,
        name=e.person,
        decision=e.decision,
        score=e.score,
        distance=e.distance,
        first_seen=e.time,
        last_seen=e.last_seen,
        frames=e.frames,
        snapshot=f"/events/{e.id}/snapshot" if e.snapshot else None,
    )


@router.get("/events", response_model=list[EventOut])
def events(
    svc: ServiceDep,
    _: ViewerKey,
    f: Filter,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[EventOut]:
    """Access events, newest first (by first sight), `limit` from `offset` on; one per person per passage."""
    rows = svc.gallery.events(f.since, f.until, f.person_id, f.gate, f.decision, limit=limit, offset=offset)
    return [_out(e) for e in rows]


CSV_COLUMNS = ("id", "first_seen", "last_seen", "gate", "person_id", "name", "decision", "score", "distance", "frames")


def _csv_rows(rows: Iterator[EventInfo]) -> Iterator[str]:
    """The events as CSV text, a header line first (times in ISO 8601, UTC)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    for e in rows:
        times = (e.time.isoformat(), e.last_seen.isoformat())
        writer.writerow((e.id, *times, e.gate, e.person_id, e.person, e.decision, e.score, e.distance, e.frames))
        yield out.getvalue()
        out.seek(0)
        out.truncate()
    yield out.getvalue()


def _json_rows(rows: Iterator[EventInfo]) -> Iterator[str]:
    """The events as one JSON array, written an event at a time."""
    yield "["
    for i, e in enumerate(rows):
        yield ("," if i else "") + _out(e).model_dump_json()
    yield "]"


@router.get(
    "/events/export",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}, "application/json": {}}}},
)
def export_events(
    svc: ServiceDep, _: ViewerKey, f: Filter, format: Literal["csv", "json"] = "csv"
) -> StreamingResponse:
    """Every event the filters select, newest first, as a CSV or JSON download (no paging: any number of rows)."""
    rows = svc.gallery.iter_events(f)
    body, media = (_csv_rows(rows), "text/csv") if format == "csv" else (_json_rows(rows), "application/json")
    return StreamingResponse(
        body, media_type=media, headers={"Content-Disposition": f'attachment; filename="events.{format}"'}
    )


@router.get("/events/{event_id}/snapshot", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def snapshot(event_id: EventId, svc: ServiceDep, _: ViewerKey) -> Response:
    """The passage's best view of the face: the aligned 160×160 crop (JPEG), never cached."""
    return Response(svc.gallery.snapshot(event_id), media_type="image/jpeg", headers={"Cache-Control": "no-store"})
