"""The web page at / and its files under /static (no key needed: the page asks for one)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(tags=["pages"])


@router.get("/", include_in_schema=False)
def index() -> FileResponse:
    """The single-page app: gallery management, events and the live camera view."""
    return FileResponse(STATIC / "index.html")


router.mount("/static", StaticFiles(directory=STATIC), name="static")
