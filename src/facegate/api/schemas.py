"""Request and response bodies of the REST API (they make the OpenAPI schema at /docs)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from facegate.api.params import KeyName, PersonName


class PersonIn(BaseModel):
    name: PersonName


class PersonOut(BaseModel):
    id: int
    name: str
    created_at: datetime
    samples: int


class SampleOut(BaseModel):
    id: int
    person_id: int
    filename: str | None
    box: tuple[float, float, float, float]
    detection_score: float
    face_px: float
    sharpness: float
    nose_position: float | None
    created_at: datetime


class EnrollVerdict(BaseModel):
    filename: str
    accepted: bool
    sample_id: int | None
    reasons: list[str]
    figures: dict[str, float | int | None]


class EnrollOut(BaseModel):
    accepted: int
    refused: int
    results: list[EnrollVerdict]


class FaceOut(BaseModel):
    box: tuple[float, float, float, float]
    detection_score: float
    person_id: int | None
    name: str = Field(description='the person\'s name, or "unknown"')
    decision: Literal["match", "unknown"]
    score: float = Field(description="cosine similarity to the candidate's nearest enrolled sample (1 = identical)")
    probability: float | None = Field(
        description="the identifier's probability for the named person; null when the face is unknown"
    )
    distance: float | None
    age: float | None = Field(None, description="estimated age in years, with ?attributes=true (accuracy: README)")
    gender: Literal["female", "male"] | None = Field(None, description="estimated gender, with ?attributes=true")
    gender_probability: float | None = Field(None, description="the network's probability of that gender (0.5-1)")


class IdentifyOut(BaseModel):
    faces: list[FaceOut]
    gallery_revision: int
    identifier: str
    event_ids: list[int] = Field(description="each face's access event: its passage's, the same while it stays in view")
    threshold: float | None = Field(
        None,
        description="the distance beyond which a face is unknown, at the service's operating point (/operating-point)",
    )
    liveness: Literal["off", "passed", "required"] = Field(
        "off",
        description="the gate's head-turn challenge (FACEGATE_LIVENESS): off, passed (the given ?challenge= passed), "
        "or required (not passed yet: every face is reported unknown and the gate stays closed)",
    )


class ChallengeOut(BaseModel):
    id: str
    required: bool = Field(description="whether this gate names people only after a passed challenge")
    status: Literal["waiting", "turning", "passed", "failed"]
    instruction: str = Field(description="what to tell the person now")
    steps: list[Literal["left", "right"]] = Field(description="the turns asked for, in order (the person's own sides)")
    done: int = Field(description="how many of the steps are done")
    reason: str | None = Field(description="why the challenge failed; null otherwise")


class VerifyOut(BaseModel):
    same: bool
    distance: float | None = Field(
        description="null when a check against a person fails: the answer is then the "
        "same whether or not the person exists"
    )
    threshold: float
    person_id: int | None = None


class EventOut(BaseModel):
    """One passage of a face at a gate (events before passages were recorded are single sightings)."""

    id: int
    time: datetime = Field(description="when the face was first seen (the same as first_seen)")
    gate: str
    person_id: int | None
    name: str | None
    decision: str = Field(description='"match" once the passage\'s face was named, else "unknown"')
    score: float = Field(description="the best score of the named person over the passage")
    distance: float | None
    first_seen: datetime
    last_seen: datetime
    frames: int = Field(description="frames the face was seen in")
    snapshot: str | None = Field(description="URL of the passage's best view of the face (JPEG), null when none")


class KeyIn(BaseModel):
    role: Literal["admin", "gate", "viewer"]
    name: KeyName | None = None
    gate: KeyName | None = Field(
        None, description="the gate whose access events the key's identifications make (default: the key's name)"
    )


class KeyOut(BaseModel):
    id: int
    name: str
    role: str
    prefix: str
    created_at: datetime
    gate: str | None = Field(None, description="the gate its events name; null: the key's name (or none, for viewers)")


class NewKeyOut(KeyOut):
    key: str = Field(description="the key itself: shown this once, only its hash is stored")


class GalleryStatus(BaseModel):
    revision: int
    fitted_revision: int | None
    identifier: str | None


class OperatingPointIn(BaseModel):
    fpir: float = Field(gt=0, lt=1, description="the false-accept target: the share of strangers that may be named")


class OperatingPointOut(BaseModel):
    fpir: float = Field(description="the false-accept target every identification and verification decides at")
    source: str = Field(
        description="where it comes from: `gallery` (stored by an admin, for every gate sharing the gallery), else "
        "`FACEGATE_FPIR` (the service's setting), else `default` (1e-3)"
    )
    default_fpir: float = Field(description="the service's setting, in force whenever the gallery stores none")
    default_source: str = Field(description="where that setting comes from: `FACEGATE_FPIR` or `default`")
    identify_threshold: float | None = Field(
        description="the distance beyond which an identified face is unknown (null while nobody is enrolled)"
    )
    verify_threshold: float = Field(description="the 1:1 distance /verify accepts up to")
    people: int = Field(description="enrolled people: identification's threshold tightens as the gallery grows")
