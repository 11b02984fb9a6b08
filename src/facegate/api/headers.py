"""Security headers on every response (the page, its files, the API, the docs, errors included): a strict Content
Security Policy unless a page sets its own, no MIME sniffing, no framing, no referrer, no cross-origin readers."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import Message, Receive, Scope, Send

from facegate.api.asgi import HTTPMiddleware

# Scripts, styles and connections only from this server; thumbnails and previews are blob: URLs made by the page,
# the live view plays the camera's MediaStream. Nothing may frame the page.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
    "media-src 'self' blob: mediastream:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)

HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(self), microphone=(), geolocation=()",
}


class SecurityHeaders(HTTPMiddleware):
    """ASGI middleware adding HEADERS to each response that does not set them itself (outside the error handling)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in HEADERS.items():
                    headers.setdefault(name, value)
            await send(message)

        await self.app(scope, receive, with_headers)
