"""/identify and /verify (gate or admin key): who is in a photo, and are two faces the same person."""

import math
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, File, HTTPException, Query, UploadFile

from facegate.api.dependencies import GateKey, ServiceDep
from facegate.api.params import PersonForm
from facegate.api.schemas import FaceOut, IdentifyOut, VerifyOut
from facegate.api.state import Service
from facegate.api.timing import stage
from facegate.api.uploads import decode_upload
from facegate.api.work import PixelBudget
from facegate.detect.base import as_box
from facegate.faceres import Attributes
from facegate.gallery import NotFoundError
from facegate.match.decision import UNKNOWN, Decision, similarity
from facegate.match.operating_point import verify_threshold
from facegate.pipeline import FaceEmbedding
from facegate.settings import challenge_required

router = APIRouter(tags=["recognition"])


@router.post("/identify", response_model=IdentifyOut)
def identify(
    svc: ServiceDep,
    key: GateKey,
    image: Annotated[UploadFile, File()],
    attributes: Annotated[
        bool, Query(description="also estimate each face's age and gender (one more network pass; accuracy: README)")
    ] = False,
    challenge: Annotated[
        str | None, Query(description="a passed /liveness challenge's id, where the gate asks for one")
    ] = None,
) -> IdentifyOut:
    """Every face in the image: box, person or "unknown", score and decision (and age and gender when asked).
    The key's gate follows faces from frame to frame: a face's access event is its passage's, written when the face
    comes into view and updated while it stays (last seen, frames, best score; unknown becomes a match once the
    face is named); a face out of view longer than FACEGATE_PASSAGE_S seconds makes a new one."""
    with svc.work.slot():
        with stage("decode"):
            pixels = decode_upload(image, svc.settings, PixelBudget(svc.settings.max_request_pixels))
        with stage("faces"):
            found = svc.fg.represent(pixels)
            estimates = svc.fg.attributes_of(found) if attributes and found else [None] * len(found)
    embeddings = np.stack([f.embedding for f in found]) if found else np.zeros((0, svc.fg.dim), np.float32)
    with stage("decide"):
        fitted, decisions = svc.identifier.decide(embeddings)
        ids = [int(d.label) if d.known else None for d in decisions]
        names = svc.gallery.names([i for i in ids if i is not None])
    liveness = _liveness(svc, key.gate_name, challenge, embeddings)
    if liveness == "required":  # no access without a passed head-turn challenge: nobody is named
        ids = [None] * len(ids)
    # a name of None: the person was deleted since the last fit, so the face counts as unknown
    faces = [
        _face_out(f, d, person_id, names.get(person_id) if person_id is not None else None, a)
        for f, d, person_id, a in zip(found, decisions, ids, estimates)
    ]
    with stage("events"):
        # a face waiting for its liveness check is recorded, named by nobody
        event_ids = svc.passages.observe(key.gate_name, found, None if liveness == "required" else fitted)
    return IdentifyOut(
        faces=faces,
        gallery_revision=fitted.revision,
        identifier=fitted.kind,
        event_ids=event_ids,
        liveness=liveness,
        threshold=None if fitted.threshold is None else round(fitted.threshold, 4),
    )


def _liveness(
    svc: Service, gate: str, challenge: str | None, embeddings: np.ndarray
) -> Literal["off", "passed", "required"]:
    """Whether the gate asks for a head-turn challenge and, if so, whether the given one passed for the faces in
    view: every face must be the one that passed it (the same person at the operating point's 1:1 distance), so a
    photo shown after someone else's live turn, or a second person in view, keeps the gate closed."""
    if not challenge_required(svc.settings.liveness, gate):
        return "off"
    live = svc.challenges.passed_face(challenge, gate)
    if live is None or not len(embeddings):
        return "required"
    same = np.linalg.norm(embeddings - live, axis=1) <= svc.fg.threshold
    return "passed" if bool(same.all()) else "required"


def _face_out(
    found: FaceEmbedding, decision: Decision, person_id: int | None, name: str | None, estimate: Attributes | None
) -> FaceOut:
    """One identified face as the API reports it; without a name it is "unknown" whatever the decision said."""
    distance = decision.distance if math.isfinite(decision.distance) else None
    return FaceOut(
        box=as_box(found.face.box, 1),
        detection_score=round(float(found.face.score), 4),
        person_id=person_id if name else None,
        name=name or UNKNOWN,
        decision="match" if name else "unknown",
        score=round(similarity(distance), 4) if distance is not None else 0.0,
        probability=round(decision.probability, 4) if name else None,
        distance=distance,
        **(estimate.to_dict() if estimate else {}),
    )


@router.post("/verify", response_model=VerifyOut)
def verify(
    svc: ServiceDep,
    key: GateKey,
    image: Annotated[UploadFile, File()],
    other: Annotated[UploadFile | None, File()] = None,
    person_id: PersonForm = None,
) -> VerifyOut:
    """The largest face of `image` against the largest face of `other`, or against the nearest enrolled sample
    of `person_id` (give exactly one of the two). Writes one access event at the key's gate for each check. A
    failed person check gives no distance: it reads the same whether or not the id exists."""
    if (other is None) == (person_id is None):
        raise HTTPException(422, "give either another image (`other`) or a `person_id`, not both or neither")
    budget = PixelBudget(svc.settings.max_request_pixels)
    svc.identifier.refresh()  # the 1:1 threshold follows the site's operating point, wherever an admin set it
    with svc.work.slot():  # both decoded first: neither is looked at when the two are over the pixel budget
        images = [decode_upload(upload, svc.settings, budget) for upload in (image, other) if upload is not None]
        probe, *others = [svc.fg.embed_one(pixels).embedding for pixels in images]
    distance = float(np.linalg.norm(others[0] - probe)) if others else None
    claimed = None  # the person the event names: only one who exists (an id not given out yet is not recorded)
    threshold = svc.fg.threshold  # the operating point's 1:1 distance for one photo
    if person_id is not None:
        distance, claimed, photos = _nearest(svc, probe, person_id)
        if photos > 1:  # the nearest of k photos: a stranger has more than one chance
            threshold = verify_threshold(svc.fg.fpir, svc.fg.model, photos)
    same = distance is not None and distance <= threshold
    score = round(similarity(distance), 4) if distance is not None else 0.0
    svc.gallery.add_events(key.gate_name, [(claimed, "match" if same else "unknown", score, distance)])
    shown = distance if same or person_id is None else None
    return VerifyOut(
        same=same,
        distance=None if shown is None else round(shown, 4),
        threshold=round(threshold, 4),
        person_id=person_id,
    )


def _nearest(svc: Service, probe: np.ndarray, person_id: int) -> tuple[float | None, int | None, int]:
    """The distance from `probe` to the person's nearest sample (None without samples), the person's id and how many
    samples they have; (None, None, 0) when there is no such person."""
    try:
        reference = svc.gallery.embeddings_of(person_id)
    except NotFoundError:
        return None, None, 0
    distance = float(np.linalg.norm(reference - probe, axis=1).min()) if len(reference) else None
    return distance, person_id, len(reference)
