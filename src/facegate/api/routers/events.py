"""/events: the access events that /identify writes, filtered and paged for viewers."""

from datetime import datetime, timezone
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from facegate.api.dependencies import ServiceDep, ViewerKey
from facegate.api.schemas import EventOut

router = APIRouter(tags=["events"])


@router.get("/events", response_model=list[EventOut])
def events(svc: ServiceDep, _: ViewerKey, since: datetime | None = None, until: datetime | None = None,
           person_id: int | None = None, gate: str | None = None,
           decision: Literal["match", "unknown"] | None = None,
           limit: Annotated[int, Query(ge=1, le=1000)] = 100,
           offset: Annotated[int, Query(ge=0)] = 0) -> list[EventOut]:
    """Access events, newest first; `since`/`until` are ISO 8601 times (with a zone; UTC when none)."""
    rows = svc.gallery.events(since=_aware(since), until=_aware(until), person_id=person_id, gate=gate,
                              decision=decision, limit=limit, offset=offset)
    return [EventOut(id=e.id, time=e.time, gate=e.gate, person_id=e.person_id, name=e.person,
                     decision=e.decision, score=e.score, distance=e.distance) for e in rows]


def _aware(value: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value
