"""Errors as HTTP answers: domain errors as their statuses, validation errors without echoing the input, anything
unexpected as a JSON 500 that keeps the connection. install_error_handling sets them up."""

import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.types import Message, Receive, Scope, Send

from facegate.api.asgi import HTTPMiddleware
from facegate.errors import FaceCountError, ImageError
from facegate.gallery import ConflictError, NotFoundError
from facegate.gallery.identify import IdentifierUnavailable
from facegate.gallery.text import InvalidText

log = logging.getLogger(__name__)

ERROR_STATUS: dict[type[Exception], int] = {
    ImageError: 422,
    FaceCountError: 422,
    InvalidText: 422,
    NotFoundError: 404,
    ConflictError: 409,
    IdentifierUnavailable: 503,
}


class ErrorResponse(JSONResponse):
    """JSON with every non-ASCII character escaped: it renders whatever text an error holds (a lone surrogate
    included), so answering an error can never fail in turn."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


def _answer_with(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """An exception handler that answers `status` with the error's message as the detail."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        """{"detail": message} with the status this error type maps to."""
        return ErrorResponse({"detail": str(exc)}, status_code=status)

    return handle


async def _invalid_request(_request: Request, exc: Exception) -> JSONResponse:
    """422 naming each invalid field and why, without the submitted values (they may be huge or undecodable)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    return ErrorResponse(
        {"detail": [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]}, status_code=422
    )


class CatchAll(HTTPMiddleware):
    """Middleware outside all others but the headers: an unexpected error becomes a logged JSON 500 instead of
    propagating to the server, which would drop the keep-alive connection (and print the error where the client cannot
    see it)."""

    async def http(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception:
            log.exception("unexpected error answering %s %s", scope["method"], scope["path"])
            if started:  # half a response is out: only the server can end it
                raise
            await ErrorResponse({"detail": "internal error (logged on the server)"}, 500)(scope, receive, send)


def install_error_handling(app: FastAPI) -> None:
    """Map the domain errors to their statuses and answer anything unexpected with a JSON 500 (call it after adding
    the other middleware: the last one added is the outermost)."""
    for exc_type, status in ERROR_STATUS.items():
        app.add_exception_handler(exc_type, _answer_with(status))
    app.add_exception_handler(RequestValidationError, _invalid_request)
    app.add_middleware(CatchAll)
