"""/operating-point: the false-accept target (FPIR) that /identify, /verify and the passages decide at, read by
viewers and set by an admin. It is stored in the gallery, so it holds for every server sharing the gallery and
outlives restarts; cleared, each server's FACEGATE_FPIR setting (else the default 1e-3) decides again."""

from fastapi import APIRouter

from facegate.api.dependencies import AdminKey, ServiceDep, ViewerKey
from facegate.api.schemas import OperatingPointIn, OperatingPointOut
from facegate.api.state import Service
from facegate.gallery.identify import Fitted

router = APIRouter(tags=["operating point"])


def _out(svc: Service, fitted: Fitted) -> OperatingPointOut:
    point, setting = svc.identifier.point, svc.settings.point
    return OperatingPointOut(
        fpir=point.fpir,
        source=point.source,
        default_fpir=setting.fpir,
        default_source=setting.source,
        identify_threshold=None if fitted.threshold is None else round(fitted.threshold, 4),
        verify_threshold=round(svc.fg.threshold, 4),
        people=svc.identifier.index.people(),
    )


@router.get("/operating-point", response_model=OperatingPointOut)
def operating_point(svc: ServiceDep, _: ViewerKey) -> OperatingPointOut:
    """The false-accept target in force, where it comes from, and the distance thresholds it gives identification
    and verification."""
    return _out(svc, svc.identifier.current())


@router.put("/operating-point", response_model=OperatingPointOut)
def set_operating_point(body: OperatingPointIn, svc: ServiceDep, _: AdminKey) -> OperatingPointOut:
    """Store a new false-accept target in the gallery for the whole site: this server refits at once and answers
    with its thresholds; every other server sharing the gallery follows within its next request. Kept across
    restarts."""
    svc.gallery.set_operating_point(body.fpir)
    return _out(svc, svc.identifier.wait_until_fresh())


@router.delete("/operating-point", response_model=OperatingPointOut)
def clear_operating_point(svc: ServiceDep, _: AdminKey) -> OperatingPointOut:
    """Clear the stored target: each server decides at its FACEGATE_FPIR setting again (else the default 1e-3)."""
    svc.gallery.set_operating_point(None)
    return _out(svc, svc.identifier.wait_until_fresh())
