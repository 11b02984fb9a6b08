"""The FastAPI app: people and samples (admin), identify and verify (gate), events (viewer), keys (admin),
and the static web page at /. Every endpoint but /health and the page itself needs an X-API-Key header."""

import io
import os
import math
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Literal

import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, Response, UploadFile
from fastapi.responses import FileResponse, JSONResponse
from fastapi.security import APIKeyHeader
from fastapi.staticfiles import StaticFiles
from PIL import Image, UnidentifiedImageError

from facegate.api import auth
from facegate.api.schemas import (EnrollOut, EnrollVerdict, EventOut, FaceOut, GalleryStatus, IdentifyOut, KeyIn,
                                  KeyOut, NewKeyOut, PersonIn, PersonOut, SampleOut, VerifyOut)
from facegate.errors import FaceCountError, ImageError
from facegate.gallery import ConflictError, Gallery, NotFoundError, open_gallery
from facegate.gallery.enroll import enroll_photo
from facegate.gallery.identify import GalleryIdentifier, IdentifierUnavailable
from facegate.gallery.repository import KeyInfo
from facegate.imageio import load_image
from facegate.match.decision import UNKNOWN
from facegate.match.nearest import DEFAULT_THRESHOLD
from facegate.pipeline import FaceGate

STATIC = Path(__file__).resolve().parent / "static"


@dataclass(frozen=True)
class Settings:
    """Server settings: the database (default: $FACEGATE_DB, else SQLite at $FACEGATE_HOME/gallery.db) and the
    upload limits."""

    db: str | None = field(default_factory=lambda: os.environ.get("FACEGATE_DB"))
    max_upload_bytes: int = 10 * 1024 * 1024  # per image
    max_pixels: int = 25_000_000  # per image, checked from the header before decoding
    max_files: int = 50  # per enrollment request


@dataclass
class Service:
    """What the request handlers share: settings, gallery, pipeline and the background-refit identifier."""

    settings: Settings
    gallery: Gallery
    fg: FaceGate
    identifier: GalleryIdentifier


def _read_upload(upload: UploadFile, settings: Settings) -> bytes:
    """The upload's bytes; 413 when it is over the size limit, 422 when it is empty."""
    data = upload.file.read(settings.max_upload_bytes + 1)
    name = upload.filename or "upload"
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"{name}: larger than the limit of {settings.max_upload_bytes:,} bytes")
    if not data:
        raise HTTPException(422, f"{name}: empty file")
    return data


def _check_pixels(data: bytes, name: str, settings: Settings) -> None:
    """413 when the image header claims more pixels than allowed (nothing is decoded)."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            width, height = img.size
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise ImageError(f"{name}: not an image file (or a format FaceGate cannot read)") from exc
    if width * height > settings.max_pixels:
        raise HTTPException(413, f"{name}: {width}×{height} pixels exceeds the limit of {settings.max_pixels:,}")


def _decode(upload: UploadFile, settings: Settings) -> np.ndarray:
    """An uploaded image as RGB pixels, or a 4xx saying what is wrong with it."""
    data = _read_upload(upload, settings)
    name = upload.filename or "upload"
    _check_pixels(data, name, settings)
    try:
        return load_image(data)
    except ImageError as exc:
        raise ImageError(str(exc).replace("image bytes", name, 1)) from exc


def _finite(value: float) -> float | None:
    return value if math.isfinite(value) else None


def create_app(settings: Settings | None = None, fg: FaceGate | None = None) -> FastAPI:
    """The gate service over the gallery at settings.db; also a factory for `uvicorn --factory`."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gallery = open_gallery(settings.db)
        pipeline = fg or FaceGate()
        app.state.service = Service(settings, gallery, pipeline, GalleryIdentifier(gallery))
        warm_up = threading.Thread(target=_warm_up, args=(app.state.service,), name="warm-up", daemon=True)
        warm_up.start()
        yield
        warm_up.join()  # native inference threads must not be running when the interpreter exits
        app.state.service.identifier.join()
        gallery.engine.dispose()

    app = FastAPI(title="FaceGate", version="0.1.0", lifespan=lifespan,
                  description="Face recognition gate: gallery, identification, verification, access events.")
    api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="a key from `facegate keys create`")

    def service(request: Request) -> Service:
        return request.app.state.service

    def require(permission: str) -> Callable[..., KeyInfo]:
        def check(key: Annotated[str | None, Depends(api_key)],
                  svc: Annotated[Service, Depends(service)]) -> KeyInfo:
            if not key:
                raise HTTPException(401, "missing X-API-Key header")
            info = auth.lookup(svc.gallery, key)
            if info is None:
                raise HTTPException(401, "unknown API key")
            if permission not in auth.PERMISSIONS[info.role]:
                raise HTTPException(403, f"a {info.role} key may not {permission}")
            return info
        return check

    Svc = Annotated[Service, Depends(service)]
    Manage = Annotated[KeyInfo, Depends(require("manage"))]
    Read = Annotated[KeyInfo, Depends(require("read"))]
    Gate = Annotated[KeyInfo, Depends(require("identify"))]

    def error(status: int) -> Callable[[Request, Exception], Awaitable[JSONResponse]]:
        async def handle(_request: Request, exc: Exception) -> JSONResponse:
            return JSONResponse({"detail": str(exc)}, status_code=status)
        return handle

    for exc_type, status in ((ImageError, 422), (FaceCountError, 422), (NotFoundError, 404), (ConflictError, 409),
                             (IdentifierUnavailable, 503)):
        app.add_exception_handler(exc_type, error(status))

    @app.middleware("http")
    async def limit_body(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        length = request.headers.get("content-length")
        limit = settings.max_upload_bytes * settings.max_files + 65536
        if length and length.isdigit() and int(length) > limit:
            return JSONResponse({"detail": f"request body larger than the limit of {limit:,} bytes"}, 413)
        return await call_next(request)

    @app.get("/health", tags=["service"])
    def health(svc: Svc) -> dict[str, int | str]:
        return {"status": "ok", "gallery_revision": svc.gallery.revision()}

    @app.get("/gallery", response_model=GalleryStatus, tags=["service"])
    def gallery_status(svc: Svc, _: Read) -> GalleryStatus:
        """The gallery revision and the revision the identifier was last fitted on (they differ during a refit)."""
        fitted = svc.identifier.refresh()
        return GalleryStatus(revision=svc.gallery.revision(), fitted_revision=fitted.revision if fitted else None,
                             identifier=fitted.kind if fitted else None)

    # people
    @app.post("/people", response_model=PersonOut, status_code=201, tags=["people"])
    def create_person(body: PersonIn, svc: Svc, _: Manage) -> PersonOut:
        return PersonOut(**asdict(svc.gallery.add_person(body.name)))

    @app.get("/people", response_model=list[PersonOut], tags=["people"])
    def list_people(svc: Svc, _: Read) -> list[PersonOut]:
        return [PersonOut(**asdict(p)) for p in svc.gallery.people()]

    @app.get("/people/{person_id}", response_model=PersonOut, tags=["people"])
    def get_person(person_id: int, svc: Svc, _: Read) -> PersonOut:
        return PersonOut(**asdict(svc.gallery.person(person_id)))

    @app.patch("/people/{person_id}", response_model=PersonOut, tags=["people"])
    def rename_person(person_id: int, body: PersonIn, svc: Svc, _: Manage) -> PersonOut:
        return PersonOut(**asdict(svc.gallery.rename_person(person_id, body.name)))

    @app.delete("/people/{person_id}", status_code=204, tags=["people"])
    def delete_person(person_id: int, svc: Svc, _: Manage) -> Response:
        """Delete the person with every sample, thumbnail and embedding; their events keep only the id."""
        svc.gallery.delete_person(person_id)
        return Response(status_code=204)

    # samples
    @app.post("/people/{person_id}/samples", response_model=EnrollOut, status_code=201, tags=["samples"],
              responses={422: {"model": EnrollOut, "description": "every photo was refused (reasons per photo)"}})
    def add_samples(person_id: int, svc: Svc, _: Manage, files: Annotated[list[UploadFile], File()],
                    largest: Annotated[bool, Form()] = False) -> EnrollOut | JSONResponse:
        """Enroll one or many photos; each is checked and stored on its own, so each verdict is final."""
        svc.gallery.person(person_id)
        if len(files) > svc.settings.max_files:
            raise HTTPException(413, f"at most {svc.settings.max_files} photos per request")
        results = []
        for upload in files:
            name = upload.filename or "upload"
            try:
                data = _read_upload(upload, svc.settings)
                _check_pixels(data, name, svc.settings)
            except (HTTPException, ImageError) as exc:
                results.append(EnrollVerdict(filename=name, accepted=False, sample_id=None, figures={},
                                             reasons=[exc.detail if isinstance(exc, HTTPException) else str(exc)]))
                continue
            result = enroll_photo(svc.fg, svc.gallery, person_id, data, name, largest)
            results.append(EnrollVerdict(filename=result.filename, accepted=result.accepted,
                                         sample_id=result.sample_id, reasons=result.reasons, figures=result.figures))
        accepted = sum(r.accepted for r in results)
        out = EnrollOut(accepted=accepted, refused=len(results) - accepted, results=results)
        svc.identifier.refresh()
        return out if accepted else JSONResponse(out.model_dump(), status_code=422)

    @app.get("/people/{person_id}/samples", response_model=list[SampleOut], tags=["samples"])
    def list_samples(person_id: int, svc: Svc, _: Read) -> list[SampleOut]:
        return [SampleOut(**{k: v for k, v in asdict(s).items() if k in SampleOut.model_fields})
                for s in svc.gallery.samples(person_id)]

    @app.get("/samples/{sample_id}/thumbnail", response_class=Response, tags=["samples"],
             responses={200: {"content": {"image/jpeg": {}}}})
    def thumbnail(sample_id: int, svc: Svc, _: Read) -> Response:
        """The aligned 160×160 face crop of the sample (JPEG)."""
        return Response(svc.gallery.thumbnail(sample_id), media_type="image/jpeg",
                        headers={"Cache-Control": "private, max-age=3600"})

    @app.delete("/samples/{sample_id}", status_code=204, tags=["samples"])
    def delete_sample(sample_id: int, svc: Svc, _: Manage) -> Response:
        svc.gallery.delete_sample(sample_id)
        svc.identifier.refresh()
        return Response(status_code=204)

    # recognition
    @app.post("/identify", response_model=IdentifyOut, tags=["recognition"])
    def identify(svc: Svc, key: Gate, image: Annotated[UploadFile, File()]) -> IdentifyOut:
        """Every face in the image: box, person or "unknown", score and decision. Writes one access event per face,
        with the key's name as the gate id."""
        found = svc.fg.represent(_decode(image, svc.settings))
        embeddings = np.stack([f.embedding for f in found]) if found else np.zeros((0, 128), np.float32)
        fitted, decisions = svc.identifier.decide(embeddings)
        ids = [int(d.label) if d.known else None for d in decisions]
        names = svc.gallery.names([i for i in ids if i is not None])
        faces = []
        for f, d, person_id in zip(found, decisions, ids):
            name = names.get(person_id) if person_id is not None else None  # None: deleted since the last fit
            distance = _finite(d.distance)
            faces.append(FaceOut(box=tuple(round(float(v), 1) for v in f.face.box),
                                 detection_score=round(float(f.face.score), 4),
                                 person_id=person_id if name else None, name=name or UNKNOWN,
                                 decision="match" if name else "unknown",
                                 score=round(1.0 - distance**2 / 2, 4) if distance is not None else 0.0,
                                 probability=round(d.probability, 4), distance=distance))
        event_ids = svc.gallery.add_events(key.name, [(f.person_id, f.decision, f.score, f.distance) for f in faces])
        return IdentifyOut(faces=faces, gallery_revision=fitted.revision, identifier=fitted.kind, event_ids=event_ids)

    @app.post("/verify", response_model=VerifyOut, tags=["recognition"])
    def verify(svc: Svc, _: Gate, image: Annotated[UploadFile, File()],
               other: Annotated[UploadFile | None, File()] = None,
               person_id: Annotated[int | None, Form()] = None) -> VerifyOut:
        """The largest face of `image` against the largest face of `other`, or against the nearest enrolled sample
        of `person_id` (give exactly one of the two)."""
        if (other is None) == (person_id is None):
            raise HTTPException(422, "give either another image (`other`) or a `person_id`, not both or neither")
        probe = svc.fg.embed_one(_decode(image, svc.settings)).embedding
        if other is not None:
            reference = svc.fg.embed_one(_decode(other, svc.settings)).embedding[None, :]
            threshold = svc.fg.threshold
        else:
            reference = svc.gallery.embeddings_of(person_id)
            if not len(reference):
                raise NotFoundError(f"person {person_id} has no enrolled samples")
            threshold = DEFAULT_THRESHOLD  # calibrated for the distance to the nearest of a person's samples
        distance = float(np.linalg.norm(reference - probe, axis=1).min())
        return VerifyOut(same=distance <= threshold, distance=round(distance, 4), threshold=threshold,
                         person_id=person_id)

    @app.get("/events", response_model=list[EventOut], tags=["events"])
    def events(svc: Svc, _: Read, since: datetime | None = None, until: datetime | None = None,
               person_id: int | None = None, gate: str | None = None,
               decision: Literal["match", "unknown"] | None = None,
               limit: Annotated[int, Query(ge=1, le=1000)] = 100,
               offset: Annotated[int, Query(ge=0)] = 0) -> list[EventOut]:
        """Access events, newest first; `since`/`until` are ISO 8601 times (with a zone; UTC when none)."""
        rows = svc.gallery.events(since=_aware(since), until=_aware(until), person_id=person_id, gate=gate,
                                  decision=decision, limit=limit, offset=offset)
        return [EventOut(id=e.id, time=e.time, gate=e.gate, person_id=e.person_id, name=e.person,
                         decision=e.decision, score=e.score, distance=e.distance) for e in rows]

    # keys
    @app.get("/keys", response_model=list[KeyOut], tags=["keys"])
    def list_keys(svc: Svc, _: Manage) -> list[KeyOut]:
        return [KeyOut(**asdict(k)) for k in svc.gallery.keys()]

    @app.post("/keys", response_model=NewKeyOut, status_code=201, tags=["keys"])
    def new_key(body: KeyIn, svc: Svc, _: Manage) -> NewKeyOut:
        key, info = auth.create_key(svc.gallery, body.role, body.name)
        return NewKeyOut(key=key, **asdict(info))

    @app.delete("/keys/{key_id}", status_code=204, tags=["keys"])
    def delete_key(key_id: int, svc: Svc, _: Manage) -> Response:
        svc.gallery.delete_key(key_id)
        return Response(status_code=204)

    # the web page
    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _aware(value: datetime | None) -> datetime | None:
    """Query times without a zone are taken as UTC."""
    return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


def _warm_up(svc: Service) -> None:
    """Load the models and fit the identifier before the first request needs them."""
    svc.fg.detector.detect(np.zeros((120, 160, 3), np.uint8))
    svc.fg.embedder.embed(np.zeros((1, 160, 160, 3), np.uint8))
    svc.identifier.refresh()
