"""Typed request parameters: ids inside the databases' integer range, names by the gallery's text rule and times
that convert to UTC, so a bad value is a 422 at the schema and never reaches the database."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import partial
from typing import Annotated

from fastapi import Form, Path, Query
from pydantic import AfterValidator, Field

from facegate.gallery.text import MAX_ID, NAME_LENGTH, clean_name


def _utc(value: datetime) -> datetime:
    """The time in UTC (one without a zone is taken as UTC); ValueError when UTC cannot hold it."""
    try:
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    except OverflowError as exc:
        raise ValueError("the time is out of range once converted to UTC") from exc


def _name(what: str) -> AfterValidator:
    """A validator that cleans a name by the gallery's rule (facegate.gallery.text.clean_name)."""
    return AfterValidator(partial(clean_name, what=what))


ID_RANGE = {"ge": 1, "le": MAX_ID}
UTCTime = Annotated[datetime, AfterValidator(_utc)]
PersonName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH), _name("a person's name")]
KeyName = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH), _name("a key's name")]
Gate = Annotated[str, Field(min_length=1, max_length=NAME_LENGTH), _name("a gate")]

PersonId = Annotated[int, Path(**ID_RANGE, description="a person's id")]
SampleId = Annotated[int, Path(**ID_RANGE, description="a sample's id")]
KeyId = Annotated[int, Path(**ID_RANGE, description="an API key's id")]
EventId = Annotated[int, Path(**ID_RANGE, description="an access event's id")]
PersonQuery = Annotated[int | None, Query(**ID_RANGE)]
PersonForm = Annotated[int | None, Form(**ID_RANGE)]
Offset = Annotated[int, Query(ge=0, le=MAX_ID)]
