"""/operating-point: the false-accept target (FPIR) that /identify, /verify and the passages decide at, read by
viewers and set by an admin for the running service. It is not stored: a restart goes back to FACEGATE_FPIR."""

from fastapi import APIRouter

from facegate.api.dependencies import AdminKey, ServiceDep, ViewerKey
from facegate.api.schemas import OperatingPointIn, OperatingPointOut
from facegate.api.state import Service
from facegate.gallery.identify import Fitted
from facegate.match.operating_point import verify_threshold

router = APIRouter(tags=["operating point"])


def _out(svc: Service, fitted: Fitted) -> OperatingPointOut:
    return OperatingPointOut(
        fpir=svc.identifier.fpir,
        default_fpir=svc.settings.fpir,
        identify_threshold=None if fitted.threshold is None else round(fitted.threshold, 4),
        verify_threshold=round(svc.fg.threshold, 4),
        people=svc.identifier.index.people(),
    )


@router.get("/operating-point", response_model=OperatingPointOut)
def operating_point(svc: ServiceDep, _: ViewerKey) -> OperatingPointOut:
    """The false-accept target in force and the distance thresholds it gives identification and verification."""
    return _out(svc, svc.identifier.current())


@router.put("/operating-point", response_model=OperatingPointOut)
def set_operating_point(body: OperatingPointIn, svc: ServiceDep, _: AdminKey) -> OperatingPointOut:
    """Decide at a new false-accept target from the next request on (identification refits at once). Lasts until
    the service restarts, which goes back to FACEGATE_FPIR."""
    svc.fg.threshold = verify_threshold(body.fpir, svc.fg.model)
    svc.fg.fpir = body.fpir
    return _out(svc, svc.identifier.set_fpir(body.fpir))
