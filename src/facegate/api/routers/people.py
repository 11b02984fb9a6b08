"""/people: enrolled people, created, listed, renamed and deleted (admin), read by viewers."""

from dataclasses import asdict

from fastapi import APIRouter, Response

from facegate.api.dependencies import AdminKey, ServiceDep, ViewerKey
from facegate.api.params import PersonId
from facegate.api.schemas import PersonIn, PersonOut

router = APIRouter(tags=["people"])


@router.post("/people", response_model=PersonOut, status_code=201)
def create_person(body: PersonIn, svc: ServiceDep, _: AdminKey) -> PersonOut:
    return PersonOut(**asdict(svc.gallery.add_person(body.name)))


@router.get("/people", response_model=list[PersonOut])
def list_people(svc: ServiceDep, _: ViewerKey) -> list[PersonOut]:
    return [PersonOut(**asdict(p)) for p in svc.gallery.people()]


@router.get("/people/{person_id}", response_model=PersonOut)
def get_person(person_id: PersonId, svc: ServiceDep, _: ViewerKey) -> PersonOut:
    return PersonOut(**asdict(svc.gallery.person(person_id)))


@router.patch("/people/{person_id}", response_model=PersonOut)
def rename_person(person_id: PersonId, body: PersonIn, svc: ServiceDep, _: AdminKey) -> PersonOut:
    return PersonOut(**asdict(svc.gallery.rename_person(person_id, body.name)))


@router.delete("/people/{person_id}", status_code=204)
def delete_person(person_id: PersonId, svc: ServiceDep, _: AdminKey) -> Response:
    """Delete the person with every sample, thumbnail and embedding, leaving no copy in the database files; their
    access events keep time, gate and decision, and an id never given to anyone else."""
    svc.gallery.delete_person(person_id)
    svc.identifier.refresh()  # refit without them now, not on the next identification
    return Response(status_code=204)
