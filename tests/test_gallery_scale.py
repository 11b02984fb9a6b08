"""Large-gallery identification: the vector index follows enrollments and deletions without refitting, on SQLite and
PostgreSQL, and two identifiers sharing one PostgreSQL gallery see each other's changes."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from pg import ThrowawayPostgres
from test_gallery import new_sample

from facegate import FaceGate
from facegate.gallery import identify, open_gallery
from facegate.gallery.identify import INDEX_KIND, GalleryIdentifier
from facegate.gallery.repository import ConflictError, Gallery, NewSample
from facegate.match.decision import UNKNOWN
from facegate.match.operating_point import gallery_comparisons, prior_distance

Faces = dict[str, tuple[list[NewSample], np.ndarray]]  # person: enrollable samples, the probe's embedding


def sample(fg: FaceGate, path: Path, embedding: np.ndarray | None = None) -> NewSample:
    """The photo's largest face as the gallery stores it: its real embedding (or `embedding`, when the caller has
    it already) under the photo's hash."""
    found = embedding if embedding is not None else fg.represent(path)[0].embedding
    return replace(new_sample(0, hashlib.sha256(path.read_bytes()).hexdigest()), embedding=found)


@pytest.fixture(scope="module")
def faces(fg: FaceGate, enrollable: dict[str, list[Path]], stranger: Path) -> Faces:
    """Each celebrity's enrollable photos as samples and a held-back photo's embedding; the stranger's under ''."""
    out = {
        person: ([sample(fg, p) for p in paths[:-1]], fg.represent(paths[-1])[0].embedding)
        for person, paths in enrollable.items()
    }
    out[""] = ([], fg.represent(stranger)[0].embedding)
    return out


def named(identifier: GalleryIdentifier, gallery: Gallery, probe: np.ndarray) -> str:
    """Whom the identifier names for a probe, once it follows the gallery's revision (a name, or UNKNOWN)."""
    identifier.wait_until_fresh()
    decision = identifier.decide(probe[None])[1][0]
    return UNKNOWN if not decision.known else gallery.names([int(decision.label)])[int(decision.label)]


def no_refit(monkeypatch: pytest.MonkeyPatch, gallery: Gallery) -> list[list[int]]:
    """Make any classifier refit or full read of the gallery fail the test; returns the sample ids each index
    update reads (one list per read)."""
    monkeypatch.setattr(identify, "build_identifier", lambda *a, **k: pytest.fail("the classifier was refit"))
    monkeypatch.setattr(gallery, "training_set", lambda: pytest.fail("every embedding was read again"))
    requested: list[list[int]] = []
    reads = gallery.embeddings_by_ids
    monkeypatch.setattr(gallery, "embeddings_by_ids", lambda ids: requested.append(sorted(ids)) or reads(ids))
    return requested


def test_index_follows_enrollment_and_deletion_without_refit(
    db_url: str, faces: Faces, monkeypatch: pytest.MonkeyPatch
) -> None:
    gallery = open_gallery(db_url)
    people = [p for p in faces if p]
    first = gallery.add_people([(p, faces[p][0]) for p in people[:-1]])  # bulk: one transaction
    assert [gallery.person(i).samples for i in first] == [len(faces[p][0]) for p in people[:-1]]
    identifier = GalleryIdentifier(gallery, index_people=3)
    fitted = identifier.wait_until_fresh()
    photos = [len(faces[p][0]) for p in people[:-1]]  # a stranger meets every enrolled photo
    assert fitted.kind == INDEX_KIND and fitted.threshold == prior_distance(
        identifier.fpir, gallery_comparisons(photos)
    )
    requested = no_refit(monkeypatch, gallery)
    for person in people[:-1]:
        assert named(identifier, gallery, faces[person][1]) == person
    newcomer, (samples, probe) = people[-1], faces[people[-1]]
    assert named(identifier, gallery, probe) == UNKNOWN
    person_id = gallery.add_person(newcomer).id
    added = [gallery.add_sample(person_id, s).id for s in samples]
    assert named(identifier, gallery, probe) == newcomer
    assert sorted(i for ids in requested for i in ids) == added  # only the new samples were read
    gallery.delete_person(first[0])
    assert named(identifier, gallery, faces[people[0]][1]) == UNKNOWN
    assert named(identifier, gallery, faces[people[1]][1]) == people[1]
    assert named(identifier, gallery, faces[""][1]) == UNKNOWN  # a stranger
    now = [*photos[1:], len(samples)]  # the first person deleted, the newcomer enrolled
    assert identifier.current().threshold == prior_distance(identifier.fpir, gallery_comparisons(now))


def test_small_gallery_keeps_the_classifier_until_the_switch(db_url: str, faces: Faces) -> None:
    gallery = open_gallery(db_url)
    people = [p for p in faces if p]
    gallery.add_people([(p, faces[p][0]) for p in people[:3]])
    identifier = GalleryIdentifier(gallery, index_people=4)
    assert identifier.wait_until_fresh().kind == "classifier + distance check"
    assert named(identifier, gallery, faces[people[2]][1]) == people[2]
    gallery.add_people([(people[3], faces[people[3]][0])])
    assert identifier.wait_until_fresh().kind == INDEX_KIND
    assert named(identifier, gallery, faces[people[3]][1]) == people[3]


def test_two_identifiers_sharing_postgresql_see_each_others_changes(
    postgres: ThrowawayPostgres, faces: Faces, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = postgres.create_database(f"s_{uuid.uuid4().hex[:12]}")
    here, there = open_gallery(url), open_gallery(url)  # two engines: two gates' connections
    people = [p for p in faces if p]
    here.add_people([(p, faces[p][0]) for p in people[:3]])
    gates = GalleryIdentifier(here, index_people=3), GalleryIdentifier(there, index_people=3)
    for gate in gates:
        gate.wait_until_fresh()
    no_refit(monkeypatch, here)
    no_refit(monkeypatch, there)
    for writer, reader in ((here, gates[1]), (there, gates[0])):
        person = people[3] if writer is here else people[4]
        person_id = writer.add_people([(person, faces[person][0])])[0]
        assert named(reader, reader.gallery, faces[person][1]) == person
        writer.delete_person(person_id)
        assert named(reader, reader.gallery, faces[person][1]) == UNKNOWN


def test_bulk_enrollment_is_all_or_nothing(tmp_path: Path, faces: Faces) -> None:
    gallery = open_gallery(str(tmp_path / "g.db"))
    people = [p for p in faces if p]
    gallery.add_people([(people[0], faces[people[0]][0])])
    revision = gallery.revision()
    with pytest.raises(ConflictError, match="already enrolled"):  # the second person's name is taken
        gallery.add_people([(people[1], faces[people[1]][0]), (people[0], [])])
    with pytest.raises(ConflictError, match="already enrolled"):  # a photo enrolled already
        gallery.add_people([(people[2], faces[people[0]][0][:1])])
    assert gallery.revision() == revision and [p.name for p in gallery.people()] == [people[0]]
