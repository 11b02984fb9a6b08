"""/events: the access events that /identify writes, filtered and paged for viewers."""

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from facegate.api.dependencies import ServiceDep, ViewerKey
from facegate.api.params import Gate, Offset, PersonQuery, UTCTime
from facegate.api.schemas import EventOut

router = APIRouter(tags=["events"])


@router.get("/events", response_model=list[EventOut])
def events(
    svc: ServiceDep,
    _: ViewerKey,
    since: UTCTime | None = None,
    until: UTCTime | None = None,
    person_id: PersonQuery = None,
    gate: Gate | None = None,
    decision: Literal["match", "unknown"] | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Offset = 0,
) -> list[EventOut]:
    """Access events, newest first; `since`/`until` are ISO 8601 times (with a zone; UTC when none)."""
    rows = svc.gallery.events(
        since=since, until=until, person_id=person_id, gate=gate, decision=decision, limit=limit, offset=offset
    )
    return [
        EventOut(
            id=e.id,
            time=e.time,
            gate=e.gate,
            person_id=e.person_id,
            name=e.person,
            decision=e.decision,
            score=e.score,
            distance=e.distance,
        )
        for e in rows
    ]
