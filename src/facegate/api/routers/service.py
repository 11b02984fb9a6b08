"""/health (no key) and /gallery: is the service up, and which gallery revision the identifier serves."""

from fastapi import APIRouter

from facegate.api.dependencies import ServiceDep, ViewerKey
from facegate.api.schemas import GalleryStatus

router = APIRouter(tags=["service"])


@router.get("/health")
def health(svc: ServiceDep) -> dict[str, int | str]:
    return {"status": "ok", "gallery_revision": svc.gallery.revision()}


@router.get("/gallery", response_model=GalleryStatus)
def gallery_status(svc: ServiceDep, _: ViewerKey) -> GalleryStatus:
    """The gallery revision and the revision the identifier was last fitted on (they differ during a refit)."""
    fitted = svc.identifier.refresh()
    return GalleryStatus(
        revision=svc.gallery.revision(),
        fitted_revision=fitted.revision if fitted else None,
        identifier=fitted.kind if fitted else None,
    )
