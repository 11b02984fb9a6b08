"""/liveness (gate key): the head-turn challenge that a gate asks for before it names anyone (FACEGATE_LIVENESS)."""

from typing import Annotated

from fastapi import APIRouter, File, HTTPException, UploadFile

from facegate.api.challenges import UnknownChallengeError
from facegate.api.dependencies import GateKey, ServiceDep
from facegate.api.schemas import ChallengeOut
from facegate.api.uploads import decode_upload
from facegate.api.work import PixelBudget
from facegate.liveness import ChallengeState
from facegate.settings import challenge_required

router = APIRouter(tags=["liveness"])


def _out(challenge_id: str, state: ChallengeState, required: bool) -> ChallengeOut:
    return ChallengeOut(id=challenge_id, required=required, **state.to_dict())


@router.post("/liveness", response_model=ChallengeOut, status_code=201)
def start_challenge(svc: ServiceDep, key: GateKey) -> ChallengeOut:
    """Start a head-turn challenge at the key's gate: the person looks at the camera, then turns left and right in
    the order given (5 s per step). Send frames to /liveness/{id}/frames; /identify?challenge={id} names people
    only once it passed, where the gate requires it."""
    challenge_id, state = svc.challenges.start(key.gate_name)
    return _out(challenge_id, state, challenge_required(svc.settings.liveness, key.gate_name))


@router.post("/liveness/{challenge_id}/frames", response_model=ChallengeOut)
def challenge_frame(
    svc: ServiceDep, key: GateKey, challenge_id: str, image: Annotated[UploadFile, File()]
) -> ChallengeOut:
    """One camera frame for the challenge: its status (waiting, turning, passed, failed), the instruction to show
    and, once failed, why. The face that passes is remembered: the challenge lets that person through, nobody else."""
    with svc.work.slot():
        pixels = decode_upload(image, svc.settings, PixelBudget(svc.settings.max_request_pixels))
        faces = svc.fg.detect(pixels)
    try:
        state = svc.challenges.observe(challenge_id, key.gate_name, faces)
        if faces and svc.challenges.needs_face(challenge_id, key.gate_name):
            largest = max(faces, key=lambda f: float((f.box[2] - f.box[0]) * (f.box[3] - f.box[1])))
            with svc.work.slot():
                embedding = svc.fg.represent(pixels, [largest])[0].embedding
            svc.challenges.remember_face(challenge_id, key.gate_name, embedding)
    except UnknownChallengeError as exc:
        raise HTTPException(404, str(exc)) from exc
    return _out(challenge_id, state, challenge_required(svc.settings.liveness, key.gate_name))
