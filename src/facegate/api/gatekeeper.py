"""The Gatekeeper: what every request must pass before its body is read. The route's API key and role are checked
first (a request without a usable key is answered at once, nothing of it received or spooled), an address that keeps
sending wrong keys is told to wait (429), and the body is counted as it streams, chunked too, with a 413 as soon as
it passes the route's limit."""

from __future__ import annotations

import contextlib
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import get_origin

import anyio
from fastapi import params
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from facegate.api import auth
from facegate.api.asgi import HTTPMiddleware
from facegate.api.dependencies import KeyCheck
from facegate.api.errors import ErrorResponse
from facegate.api.state import Service, Settings

FORM_BYTES = 65536  # a JSON body, or the form fields and multipart framing around the files


class FailedKeys:
    """Wrong keys per client address in a sliding window: past `limit` the address waits until the oldest failure
    leaves the window. Bounded memory: at most `addresses` addresses are remembered (the oldest are forgotten)."""

    def __init__(self, limit: int, window_s: float, addresses: int = 10_000) -> None:
        self.limit, self.window_s, self.addresses = limit, window_s, addresses
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, address: str, now: float) -> deque[float]:
        failures = self._failures.get(address, deque())
        while failures and failures[0] <= now - self.window_s:
            failures.popleft()
        return failures

    def wait_s(self, address: str) -> float:
        """Seconds this address must wait before its key is checked again (0: go ahead)."""
        now = time.monotonic()
        failures = self._recent(address, now)
        return failures[0] + self.window_s - now if len(failures) >= self.limit else 0.0

    def failed(self, address: str) -> None:
        """Count one wrong key from `address`."""
        failures = self._recent(address, time.monotonic())
        failures.append(time.monotonic())
        self._failures.pop(address, None)
        self._failures[address] = failures  # most recent last, so the oldest are forgotten first
        while len(self._failures) > self.addresses:
            del self._failures[next(iter(self._failures))]


def _key_checks(dependant: Dependant) -> Iterator[KeyCheck]:
    """Every KeyCheck among the dependencies of `dependant`, however deep."""
    for dependency in dependant.dependencies:
        if isinstance(dependency.call, KeyCheck):
            yield dependency.call
        yield from _key_checks(dependency)


@dataclass(frozen=True)
class Door:
    """What the Gatekeeper asks of requests to one route: a key with `permission` (None: no key), at most
    `max_bytes` of body."""

    route: BaseRoute | None
    permission: str | None
    max_bytes: int

    @classmethod
    def of(cls, route: BaseRoute, settings: Settings) -> Door:
        """The route's door: the permission of its KeyCheck, and its files at the upload limit each (a list of files:
        the most one enrollment takes) plus FORM_BYTES."""
        if not isinstance(route, APIRoute):
            return cls(route, None, FORM_BYTES)
        permission = next((check.permission for check in _key_checks(route.dependant)), None)
        files = sum(
            settings.max_files if get_origin(f.field_info.annotation) is list else 1
            for f in route.dependant.body_params
            if isinstance(f.field_info, params.File)
        )
        return cls(route, permission, files * settings.max_upload_bytes + FORM_BYTES)


NO_ROUTE = Door(None, None, FORM_BYTES)  # a 404 or 405: no key needed, and no body worth reading


class _TooLarge(Exception):
    """Raised into the app from `receive` when the body passes its limit (the app stops reading)."""


class Gatekeeper(HTTPMiddleware):
    """ASGI middleware: key and role before the body, failed keys slowed down, the body's size capped as it
    streams (see the module docstring)."""

    def __init__(self, app: ASGIApp, settings: Settings, routes: Sequence[BaseRoute]) -> None:
        super().__init__(app)
        self._doors = [Door.of(route, settings) for route in routes]
        self._failed = FailedKeys(settings.failed_key_limit, settings.failed_key_window_s)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        door = next((d for d in self._doors if d.route and d.route.matches(scope)[0] == Match.FULL), NO_ROUTE)
        refusal = await self._refusal(scope, door.permission)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self._capped(scope, receive, send, door.max_bytes)

    async def _refusal(self, scope: Scope, permission: str | None) -> ErrorResponse | None:
        """The answer for a request whose key does not admit it (None: it may go on, its key kept in its state)."""
        if permission is None:
            return None
        svc: Service = scope["app"].state.service
        address = (scope.get("client") or ("unknown", 0))[0]
        wait = self._failed.wait_s(address)
        if wait > 0:
            return ErrorResponse(
                {"detail": "too many wrong API keys from this address; try again later"},
                429,
                headers={"Retry-After": str(max(1, round(wait)))},
            )
        key = dict(scope["headers"]).get(b"x-api-key", b"").decode("latin-1") or None
        try:
            info = await anyio.to_thread.run_sync(auth.authorize, svc.gallery, key, permission)
        except auth.AuthError as exc:
            if key is not None and exc.status == 401:
                self._failed.failed(address)
            return ErrorResponse({"detail": exc.detail}, exc.status)
        scope.setdefault("state", {})["api_key"] = info
        return None

    async def _capped(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a body of at most `limit` bytes; past it, a 413 (whatever the app was about to answer)."""
        too_large = ErrorResponse({"detail": f"request body larger than the limit of {limit:,} bytes"}, 413)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await too_large(scope, receive, send)
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > limit:
                raise _TooLarge
            return message

        async def unless_too_large(message: Message) -> None:
            if received <= limit:
                await send(message)

        with contextlib.suppress(_TooLarge):
            await self.app(scope, counted, unless_too_large)
        if received > limit:
            await too_large(scope, receive, send)
