"""/people/{id}/samples and /samples: enrollment photos (admin adds and deletes), listings and thumbnails."""

import logging
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from typing import Annotated

from fastapi import APIRouter, File, Form, HTTPException, Response, UploadFile
from fastapi.responses import JSONResponse

from facegate.api.dependencies import AdminKey, ServiceDep, ViewerKey
from facegate.api.params import PersonId, SampleId
from facegate.api.schemas import EnrollOut, EnrollVerdict, SampleOut
from facegate.api.state import Service
from facegate.api.uploads import check_pixels, read_upload
from facegate.api.work import PixelBudget
from facegate.errors import FaceGateError
from facegate.gallery.enroll import EnrollResult, enroll_photo
from facegate.gallery.text import safe_filename

log = logging.getLogger(__name__)
router = APIRouter(tags=["samples"])


@router.post(
    "/people/{person_id}/samples",
    response_model=EnrollOut,
    status_code=201,
    responses={422: {"model": EnrollOut, "description": "every photo was refused (reasons per photo)"}},
)
def add_samples(
    person_id: PersonId,
    svc: ServiceDep,
    _: AdminKey,
    files: Annotated[list[UploadFile], File()],
    largest: Annotated[bool, Form()] = False,
    min_face: Annotated[
        int | None,
        Form(ge=1, le=10_000, description="smallest face side accepted, in pixels (default: FACEGATE_ENROLL_MIN_FACE)"),
    ] = None,
    aligned: Annotated[
        bool, Form(description="the photos are pre-aligned face crops (112×112, 160×160): each is taken whole")
    ] = False,
) -> EnrollOut | JSONResponse:
    """Enroll one or many photos; each is checked and stored on its own, so each verdict is final."""
    svc.gallery.person(person_id)
    if len(files) > svc.settings.max_files:
        raise HTTPException(413, f"at most {svc.settings.max_files} photos per request")
    budget = PixelBudget(svc.settings.max_request_pixels)
    svc.identifier.refresh()  # the look-alike check's 1:1 distance follows the site's operating point
    judge = partial(
        enroll_photo, largest=largest, min_face_px=min_face, aligned=aligned, max_pixels=svc.settings.max_pixels
    )
    with svc.work.slot():
        results = [_enroll_upload(svc, person_id, upload, judge, budget) for upload in files]
    accepted = sum(r.accepted for r in results)
    out = EnrollOut(accepted=accepted, refused=len(results) - accepted, results=results)
    svc.identifier.refresh()
    return out if accepted else JSONResponse(out.model_dump(), status_code=422)


def _enroll_upload(
    svc: Service, person_id: int, upload: UploadFile, judge: Callable[..., EnrollResult], budget: PixelBudget
) -> EnrollVerdict:
    """One photo's verdict: refused for its size or format before decoding, else `judge` (enroll_photo with the
    request's rules) decides.
    A photo is stored whole or not at all (one transaction), and its failure never undoes the verdicts before it."""
    name = safe_filename(upload.filename)
    try:
        data = read_upload(upload, svc.settings)
        check_pixels(data, name, svc.settings, budget)
        result = judge(svc.fg, svc.gallery, person_id, data, name)
    except (HTTPException, FaceGateError) as exc:
        return _refused(name, exc.detail if isinstance(exc, HTTPException) else str(exc))
    except Exception:  # the photos before this one are stored: say so rather than answer 500
        log.exception("enrolling %r for person %d failed", name, person_id)
        return _refused(name, "the photo could not be stored (server error, logged); nothing of it was kept")
    return EnrollVerdict(
        filename=result.filename,
        accepted=result.accepted,
        sample_id=result.sample_id,
        reasons=result.reasons,
        figures=result.figures,
    )


def _refused(name: str, reason: str) -> EnrollVerdict:
    """The verdict for a photo refused before enroll_photo could judge it."""
    return EnrollVerdict(filename=name, accepted=False, sample_id=None, figures={}, reasons=[reason])


@router.get("/people/{person_id}/samples", response_model=list[SampleOut])
def list_samples(person_id: PersonId, svc: ServiceDep, _: ViewerKey) -> list[SampleOut]:
    return [
        SampleOut(**{k: v for k, v in asdict(s).items() if k in SampleOut.model_fields})
        for s in svc.gallery.samples(person_id)
    ]


@router.get("/samples/{sample_id}/thumbnail", response_class=Response, responses={200: {"content": {"image/jpeg": {}}}})
def thumbnail(sample_id: SampleId, svc: ServiceDep, _: ViewerKey) -> Response:
    """The aligned 160×160 face crop of the sample (JPEG); never cached, so a deleted face leaves browsers too."""
    return Response(svc.gallery.thumbnail(sample_id), media_type="image/jpeg", headers={"Cache-Control": "no-store"})


@router.delete("/samples/{sample_id}", status_code=204)
def delete_sample(sample_id: SampleId, svc: ServiceDep, _: AdminKey) -> Response:
    svc.gallery.delete_sample(sample_id)
    svc.identifier.refresh()
    return Response(status_code=204)
