"""/keys: API keys listed, created (the key is shown once) and deleted, all by admin keys."""

from dataclasses import asdict

from fastapi import APIRouter, Response

from facegate.api import auth
from facegate.api.dependencies import AdminKey, ServiceDep
from facegate.api.params import KeyId
from facegate.api.schemas import KeyIn, KeyOut, NewKeyOut

router = APIRouter(tags=["keys"])


@router.get("/keys", response_model=list[KeyOut])
def list_keys(svc: ServiceDep, _: AdminKey) -> list[KeyOut]:
    return [KeyOut(**asdict(k)) for k in svc.gallery.keys()]


@router.post("/keys", response_model=NewKeyOut, status_code=201)
def new_key(body: KeyIn, svc: ServiceDep, _: AdminKey) -> NewKeyOut:
    key, info = auth.create_key(svc.gallery, body.role, body.name, body.gate)
    return NewKeyOut(key=key, **asdict(info))


@router.delete("/keys/{key_id}", status_code=204)
def delete_key(key_id: KeyId, svc: ServiceDep, _: AdminKey) -> Response:
    svc.gallery.delete_key(key_id)
    return Response(status_code=204)
