"""FastAPI dependencies: the app's Service, and API-key authentication by permission (see auth.PERMISSIONS)."""

from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import APIKeyHeader

from facegate.api import auth
from facegate.api.state import Service
from facegate.gallery.repository import KeyInfo

api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="a key from `facegate keys create`")


def get_service(request: Request) -> Service:
    """The Service the lifespan put on app.state, so that all requests share one gallery and pipeline."""
    return request.app.state.service


ServiceDep = Annotated[Service, Depends(get_service)]


class KeyCheck:
    """A dependency that admits a request only with an X-API-Key whose role has `permission`, and gives the key.

    The Gatekeeper middleware finds it on a route and runs the same check before the body is read; the key it
    admitted is taken from the request's state here instead of being looked up twice."""

    def __init__(self, permission: str) -> None:
        self.permission = permission

    def __call__(
        self, request: Request, key: Annotated[str | None, Depends(api_key_header)], svc: ServiceDep
    ) -> KeyInfo:
        """401 without a key or with an unknown one, 403 when the key's role lacks the permission."""
        admitted: KeyInfo | None = getattr(request.state, "api_key", None)
        if admitted is not None:
            return admitted
        try:
            return auth.authorize(svc.gallery, key, self.permission)
        except auth.AuthError as exc:
            raise HTTPException(exc.status, exc.detail) from exc


# Admin keys pass all three; a viewer key only reads, a gate key only identifies and verifies.
AdminKey = Annotated[KeyInfo, Depends(KeyCheck("manage"))]
ViewerKey = Annotated[KeyInfo, Depends(KeyCheck("read"))]
GateKey = Annotated[KeyInfo, Depends(KeyCheck("identify"))]
