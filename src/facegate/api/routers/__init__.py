"""The API's routers, one per resource; ROUTERS lists them in the order the app includes them.

An endpoint's docstring is its operation's description in the OpenAPI schema, so the simple ones have none."""

from fastapi import APIRouter

from facegate.api.routers import (
    docs,
    events,
    keys,
    liveness,
    operating_point,
    pages,
    people,
    recognition,
    samples,
    service,
)

ROUTERS: tuple[APIRouter, ...] = (
    service.router,
    people.router,
    samples.router,
    recognition.router,
    operating_point.router,
    liveness.router,
    events.router,
    keys.router,
    pages.router,
    docs.router,
)
