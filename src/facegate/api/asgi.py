"""The base of the service's pure ASGI middleware (they see requests before FastAPI reads or parses anything)."""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send


class HTTPMiddleware:
    """Passes every scope but HTTP (lifespan, websockets) straight through and hands HTTP requests to `http`."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        await self.http(scope, receive, send)

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Handle one HTTP request (subclasses say how)."""
        raise NotImplementedError
