"""The FastAPI app: people and samples (admin), identify and verify (gate), events (viewer), keys (admin),
and the static web page at /. Every endpoint but /health and the page itself needs an X-API-Key header.

`create_app` assembles it from routers/ (one per resource), dependencies.py (the shared Service and API-key
checks), gatekeeper.py (key, role and body size before the body is read; wrong keys slowed down), work.py (heavy
work bounded), errors.py (error statuses, the catch-all) and uploads.py (image upload checks)."""

import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

import numpy as np

from facegate import __version__
from facegate.extras import optional_imports

with optional_imports("server", "the REST API (facegate.api)"):
    import python_multipart  # noqa: F401  (FastAPI takes uploaded files and forms with it)
    from fastapi import FastAPI

from facegate.api.errors import install_error_handling
from facegate.api.gatekeeper import Gatekeeper
from facegate.api.headers import SecurityHeaders
from facegate.api.routers import ROUTERS
from facegate.api.state import Service, Settings
from facegate.api.timing import ServerTiming
from facegate.api.work import WorkLimit
from facegate.gallery import open_gallery
from facegate.gallery.identify import GalleryIdentifier
from facegate.gallery.operating import OperatingPoint
from facegate.gallery.passages import Passages
from facegate.match.operating_point import verify_threshold
from facegate.pipeline import FaceGate

__all__ = ["Service", "Settings", "create_app"]


def create_app(settings: Settings | None = None, fg: FaceGate | None = None) -> FastAPI:
    """The gate service over the gallery at settings.db; also a factory for `uvicorn --factory`."""
    settings = settings or Settings()
    app = FastAPI(
        title="FaceGate",
        version=__version__,
        lifespan=partial(_lifespan, settings=settings, fg=fg),
        description="Face recognition gate: gallery, identification, verification, access events.",
        docs_url=None,
        redoc_url=None,
    )  # routers/docs.py serves them from installed files
    app.add_middleware(Gatekeeper, settings=settings, routes=[route for router in ROUTERS for route in router.routes])
    install_error_handling(app)
    app.add_middleware(SecurityHeaders)  # every answer gets them, errors included
    app.add_middleware(ServerTiming)  # the outermost: its total is the whole time until the answer starts
    for router in ROUTERS:
        app.include_router(router)
    return app


@asynccontextmanager
async def _lifespan(app: FastAPI, settings: Settings, fg: FaceGate | None) -> AsyncIterator[None]:
    """Open the gallery and the pipeline for the app's life, warming them up in the background, then close."""
    gallery = open_gallery(settings.db)
    pipeline = fg or FaceGate(fpir=settings.fpir, model=gallery.model() or "facenet")  # the gallery's model
    work = WorkLimit(settings.work_slots, settings.work_queue, settings.work_wait_s)
    identifier = GalleryIdentifier(gallery, settings.point, on_point=partial(_follow, pipeline))
    app.state.service = Service(settings, gallery, pipeline, identifier, work, Passages(gallery, settings.passage_s))
    warm_up = threading.Thread(target=_warm_up, args=(app.state.service,), name="warm-up", daemon=True)
    warm_up.start()
    yield
    warm_up.join()  # native inference threads must not be running when the interpreter exits
    app.state.service.identifier.join()
    gallery.engine.dispose()


def _follow(fg: FaceGate, point: OperatingPoint) -> None:
    """Move the pipeline's 1:1 threshold (/verify, the liveness check, enrollment's look-alike check) to the operating
    point in force, as the identifier reads it from the gallery (an admin may change it through any server)."""
    fg.threshold = verify_threshold(point.fpir, fg.model)
    fg.fpir = point.fpir


def _warm_up(svc: Service) -> None:
    """Load the models and fit the identifier before the first request needs them."""
    svc.fg.detector.detect(np.zeros((120, 160, 3), np.uint8))
    svc.fg.embedder.embed(np.zeros((1, 160, 160, 3), np.uint8))
    svc.identifier.refresh()
