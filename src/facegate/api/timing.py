"""Where a request's time went: handlers time their stages with `stage(name)`, and the ServerTiming middleware
reports them in the response's standard Server-Timing header (browsers' developer tools and benchmarks read it)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from facegate.api.asgi import HTTPMiddleware

# The stages of the request being served; a list shared with the worker thread that runs a sync handler (Starlette
# copies the context into it, so appends made there reach the middleware). None outside a request.
_stages: ContextVar[list[tuple[str, float]] | None] = ContextVar("facegate_stages", default=None)


@contextmanager
def stage(name: str) -> Iterator[None]:
    """Time the with-block as stage `name` of the current request (nothing is recorded outside a request)."""
    start = time.perf_counter()
    try:
        yield
    finally:
        stages = _stages.get()
        if stages is not None:
            stages.append((name, (time.perf_counter() - start) * 1000))


def header(stages: list[tuple[str, float]], total_ms: float) -> str:
    """The Server-Timing value: each stage (repeats summed, in order of first use) and the total, in ms."""
    summed: dict[str, float] = {}
    for name, ms in stages:
        summed[name] = summed.get(name, 0.0) + ms
    return ", ".join(f"{name};dur={ms:.1f}" for name, ms in [*summed.items(), ("total", total_ms)])


class ServerTiming(HTTPMiddleware):
    """ASGI middleware: collects the stages the handler records and adds them, with the total time until the
    response starts, as a Server-Timing header."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        stages: list[tuple[str, float]] = []
        token = _stages.set(stages)
        start = time.perf_counter()

        async def with_timing(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableHeaders(scope=message)["Server-Timing"] = header(stages, (time.perf_counter() - start) * 1000)
            await send(message)

        try:
            await self.app(scope, receive, with_timing)
        finally:
            _stages.reset(token)
