"""Domain errors as HTTP statuses, and the request-size limit, installed on an app by install_error_handling."""

from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from facegate.api.state import Settings
from facegate.errors import FaceCountError, ImageError
from facegate.gallery import ConflictError, NotFoundError
from facegate.gallery.identify import IdentifierUnavailable

ERROR_STATUS: dict[type[Exception], int] = {
    ImageError: 422,
    FaceCountError: 422,
    NotFoundError: 404,
    ConflictError: 409,
    IdentifierUnavailable: 503,
}

CallNext = Callable[[Request], Awaitable[Response]]


def _answer_with(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
    """An exception handler that answers `status` with the error's message as the detail."""

    async def handle(_request: Request, exc: Exception) -> JSONResponse:
        """{"detail": message} with the status this error type maps to."""
        return JSONResponse({"detail": str(exc)}, status_code=status)

    return handle


def _body_limit(limit: int) -> Callable[[Request, CallNext], Awaitable[Response]]:
    """HTTP middleware that refuses (413) a request whose Content-Length is over `limit`, before reading it."""

    async def limit_body(request: Request, call_next: CallNext) -> Response:
        """413 for a declared body over the limit; otherwise the request goes on."""
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse({"detail": f"request body larger than the limit of {limit:,} bytes"}, 413)
        return await call_next(request)

    return limit_body


def install_error_handling(app: FastAPI, settings: Settings) -> None:
    """Map the domain errors to their statuses and cap request bodies at the most one enrollment may send."""
    for exc_type, status in ERROR_STATUS.items():
        app.add_exception_handler(exc_type, _answer_with(status))
    app.middleware("http")(_body_limit(settings.max_upload_bytes * settings.max_files + 65536))
