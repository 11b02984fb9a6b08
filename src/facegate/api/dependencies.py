"""FastAPI dependencies: the app's Service, and API-key authentication by permission (see auth.PERMISSIONS)."""

from collections.abc import Callable
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


def require(permission: str) -> Callable[[str | None, Service], KeyInfo]:
    """A dependency that admits a request only with an X-API-Key whose role has `permission`; it gives the key."""

    def check(key: Annotated[str | None, Depends(api_key_header)], svc: ServiceDep) -> KeyInfo:
        """401 without a key or with an unknown one, 403 when the key's role lacks the permission."""
        if not key:
            raise HTTPException(401, "missing X-API-Key header")
        info = auth.lookup(svc.gallery, key)
        if info is None:
            raise HTTPException(401, "unknown API key")
        if permission not in auth.PERMISSIONS[info.role]:
            raise HTTPException(403, f"a {info.role} key may not {permission}")
        return info

    return check


# Admin keys pass all three; a viewer key only reads, a gate key only identifies and verifies.
AdminKey = Annotated[KeyInfo, Depends(require("manage"))]
ViewerKey = Annotated[KeyInfo, Depends(require("read"))]
GateKey = Annotated[KeyInfo, Depends(require("identify"))]
