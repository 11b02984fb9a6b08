"""The head-turn challenge on real landmarks: real turns in the Hamilton clip pass, a real frontal photo held up as a
flat print (moved, scaled, rotated, tilted; benchmarks/flat_attacks.py) never shows a turn, a still photo never
passes, and the service keeps the gate closed until a challenge passed."""

from __future__ import annotations

import importlib.util
import io
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import cv2
import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from service_fixtures import enroll_all, wait_fitted

from facegate import FaceGate
from facegate.api.app import Settings, create_app
from facegate.api.auth import create_key
from facegate.detect.base import Face
from facegate.gallery import open_gallery
from facegate.imageio import load_image
from facegate.liveness import Challenge, Limits, nose_parallax, width_ratio, yaw
from facegate.settings import SettingsError, challenge_required, current

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
LIN_TURNS_RIGHT = range(96, 136)  # Lin-Manuel Miranda facing the camera, then turning to his right (frames at 29.97/s)
FPS = 29.97


def flat_attacks() -> ModuleType:
    spec = importlib.util.spec_from_file_location("flat_attacks", BENCHMARKS / "flat_attacks.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def lin_frames(shared_data: Path) -> list[np.ndarray]:
    capture = cv2.VideoCapture(str(shared_data / "media" / "videos" / "hamilton_clip.mp4"))
    capture.set(cv2.CAP_PROP_POS_FRAMES, LIN_TURNS_RIGHT.start)
    frames = []
    for _ in LIN_TURNS_RIGHT:
        ok, frame = capture.read()
        assert ok
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return frames


@pytest.fixture(scope="module")
def lin_faces(fg: FaceGate, lin_frames: list[np.ndarray]) -> list[list[Face]]:
    return [fg.detect(frame) for frame in lin_frames]


@pytest.fixture(scope="module")
def frontal(fg: FaceGate, shared_data: Path) -> tuple[np.ndarray, Face]:
    photo = load_image(shared_data / "media" / "knn_examples" / "test" / "alex_lacamoire1.jpg")
    return photo, fg.detect(photo)[0]


def test_geometry_sees_a_real_turn_and_is_blind_to_scale_rotation_and_shift(lin_faces: list[list[Face]]) -> None:
    reference, turned = lin_faces[0][0].landmarks, lin_faces[34][0].landmarks  # frames 96 and 130
    assert reference is not None and turned is not None
    assert abs(yaw(reference)) < 0.15
    assert yaw(turned) - yaw(reference) < -0.3  # to his right: the nose moves to the picture's left
    assert nose_parallax(reference, turned) < -0.3
    assert width_ratio(reference, turned) > 0.65
    angle = np.radians(25)
    similar = 1.7 * reference @ np.array([[np.cos(angle), np.sin(angle)], [-np.sin(angle), np.cos(angle)]]) + 40
    assert yaw(similar) == pytest.approx(yaw(reference), abs=1e-6)
    assert nose_parallax(reference, similar) == pytest.approx(0.0, abs=1e-6)
    with pytest.raises(ValueError, match="5 landmarks"):
        yaw(np.zeros((4, 2)))


def test_a_real_turn_passes_the_challenge(lin_faces: list[list[Face]]) -> None:
    challenge = Challenge(("right",), 0.0)
    states = [challenge.observe(i / FPS, faces) for i, faces in enumerate(lin_faces)]
    assert states[0].status == "turning" and states[0].instruction == "turn your head to your right"
    assert states[-1].passed
    wrong_way = Challenge(("left",), 0.0)
    for i, faces in enumerate(lin_faces):
        wrong_way.observe(i / FPS, faces)
    assert not wrong_way.state().passed


HEAD = np.array([[-0.5, 0, 0], [0.5, 0, 0], [0, 0.55, 0.6], [-0.4, 1.1, 0], [0.4, 1.1, 0]])  # eyes, nose, mouth; z: out


def head_at(degrees: float) -> Face:
    """A head model's 5 landmarks turned `degrees` to the person's left (orthographic, 100 px per eye distance)."""
    angle = np.radians(degrees)
    x = HEAD[:, 0] * np.cos(angle) + HEAD[:, 2] * np.sin(angle)
    landmarks = np.stack([300 + 100 * x, 200 + 100 * HEAD[:, 1]], axis=1)
    return Face((230.0, 130.0, 370.0, 330.0), 0.99, landmarks)


@pytest.mark.parametrize("start", [-12.0, 0.0, 12.0])
def test_both_turns_are_measured_from_the_first_frontal_pose(start: float) -> None:
    """A head starting up to the frontal limit off-axis passes 25-degree turns right then left made without a pause;
    swinging back from the right turn to where it started is no left turn."""
    ramp = np.linspace(0, 1, 15)
    back = list(start - 25 * ramp[::-1])
    poses = [start] * 5 + list(start - 25 * ramp) + back + list(start + 25 * ramp) + [start + 25] * 3
    assert abs(yaw(head_at(start).landmarks)) <= Limits().frontal  # type: ignore[arg-type]
    twice = Challenge(("right", "left"), 0.0)
    states = [twice.observe(i / FPS, [head_at(pose)]) for i, pose in enumerate(poses)]
    assert states[-1].passed and states[-1].done == 2
    back_only = Challenge(("right", "left"), 0.0)
    for i, pose in enumerate([start] * 5 + list(start - 25 * ramp) + back + [start] * 60):
        state = back_only.observe(i / FPS, [head_at(pose)])
    assert state.done == 1 and not state.passed


def test_a_flat_print_of_a_real_face_never_shows_a_turn(fg: FaceGate, frontal: tuple[np.ndarray, Face]) -> None:
    attacks = flat_attacks()
    photo, face = frontal
    rng = np.random.default_rng(0)
    wall = np.full((*attacks.FRAME, 3), 118, np.uint8)
    reference = fg.detect(attacks.held_up(photo, face.box, attacks.Pose(), wall, rng))[0]
    challenge = Challenge(("left", "right"), 0.0)
    challenge.observe(0.0, [reference])
    assert challenge.state().status == "turning"
    poses = [
        attacks.Pose(yaw=tilt, pitch=pitch, roll=roll, face_width=width, dx=dx)
        for tilt in (-50, -30, 30, 50)
        for pitch, roll, width, dx in ((0, 0, 160, 0), (30, 15, 220, 80), (-30, -20, 120, -80))
    ]
    checked = 0
    for pose in poses:
        seen = fg.detect(attacks.held_up(photo, face.box, pose, wall, rng))
        if not seen or seen[0].landmarks is None:
            continue
        checked += 1
        assert not challenge.turned(seen[0].landmarks, "left"), pose
        assert not challenge.turned(seen[0].landmarks, "right"), pose
    assert checked >= 10


def test_a_still_photo_fails_and_a_face_that_leaves_fails(frontal: tuple[np.ndarray, Face]) -> None:
    _, face = frontal
    still = Challenge(("left", "right"), 0.0)
    for i in range(60):
        state = still.observe(i / 5, [face])
    assert state.status == "failed" and state.reason == "no turn to the left within 5 s"
    gone = Challenge(("left", "right"), 0.0)
    gone.observe(0.0, [face])
    assert gone.observe(0.4, []).status == "turning"
    assert gone.observe(0.7, []).reason == "the face left the camera's view"
    with pytest.raises(ValueError, match="steps"):
        Challenge(("up",), 0.0)  # type: ignore[arg-type]


def test_liveness_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    assert current().liveness == "off"
    monkeypatch.setenv("FACEGATE_LIVENESS", "challenge:north, south")
    assert challenge_required(current().liveness, "south") and not challenge_required(current().liveness, "west")
    assert challenge_required("challenge", "west") and not challenge_required("off", "west")
    for bad in ("on", "challenge:", "off:north"):
        monkeypatch.setenv("FACEGATE_LIVENESS", bad)
        with pytest.raises(SettingsError, match="FACEGATE_LIVENESS"):
            current()


def jpeg(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture(scope="module")
def gate(
    fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[TestClient, str]]:
    """A service whose gate "north" asks for the challenge, the five celebrities enrolled; the client holds an admin
    key, the gate key is returned."""
    db = str(tmp_path_factory.mktemp("liveness") / "gallery.db")
    gallery = open_gallery(db)
    admin, gate_key = create_key(gallery, "admin")[0], create_key(gallery, "gate", "north-1", gate="north")[0]
    with TestClient(create_app(Settings(db=db, liveness="challenge:north"), fg=fg)) as client:
        client.headers["X-API-Key"] = admin
        enroll_all(client, enrollable)
        wait_fitted(client)
        yield client, gate_key


def test_the_gate_stays_closed_until_a_challenge_passes(
    gate: tuple[TestClient, str],
    enrollable: dict[str, list[Path]],
    lin_frames: list[np.ndarray],
    lin_faces: list[list[Face]],
) -> None:
    client, key = gate
    headers = {"X-API-Key": key}
    photos = next(iter(enrollable.values()))  # an enrolled person, who did not take the challenge
    photo = photos[0].read_bytes()

    def identify(challenge: str | None = None) -> dict:
        params = {"challenge": challenge} if challenge else {}
        answer = client.post("/identify", headers=headers, params=params, files={"image": ("p.jpg", photo)})
        assert answer.status_code == 200, answer.text
        return answer.json()

    closed = identify()
    assert closed["liveness"] == "required" and all(f["decision"] == "unknown" for f in closed["faces"])
    started = client.post("/liveness", headers=headers)
    assert started.status_code == 201 and started.json()["required"] and started.json()["status"] == "waiting"
    still = started.json()["id"]
    for _ in range(5):
        state = client.post(f"/liveness/{still}/frames", headers=headers, files={"image": ("p.jpg", photo)}).json()
        assert state["status"] in ("waiting", "turning")
    assert identify(still)["liveness"] == "required"

    clock = [0.0]  # the clip's frame rate, however long this machine takes over each frame
    client.app.state.service.challenges.clock = lambda: clock[0]  # type: ignore[attr-defined]
    real = client.post("/liveness", headers=headers).json()
    steps = real["steps"]
    x1, _, x2, _ = lin_faces[0][0].box
    shift = round(x1 + x2 - lin_frames[0].shape[1])  # mirrored frames moved so that the face stays where it was

    def mirror(frame: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(np.roll(frame[:, ::-1], shift, axis=1))

    frames = lin_frames if steps[0] == "right" else [mirror(f) for f in lin_frames]
    frames = frames + frames[::-3] + [mirror(f) for f in frames]  # the turn, back, then the other way
    for frame in frames:
        clock[0] += 1 / FPS
        answer = client.post(f"/liveness/{real['id']}/frames", headers=headers, files={"image": ("f.jpg", jpeg(frame))})
        if answer.json()["status"] != "turning" and answer.json()["status"] != "waiting":
            break
    assert answer.json()["status"] == "passed", answer.json()
    # the challenge lets through the face that passed it, nobody else: someone else's photo stays closed
    assert identify(real["id"])["liveness"] == "required"
    lin = client.post("/people", json={"name": "lin_manuel_miranda"}).json()["id"]
    enrolled = client.post(f"/people/{lin}/samples", files=[("files", ("lin.jpg", jpeg(lin_frames[0])))])
    assert enrolled.status_code == 201 and enrolled.json()["accepted"] == 1, enrolled.text
    wait_fitted(client)
    opened = client.post(
        "/identify", headers=headers, params={"challenge": real["id"]}, files={"image": ("f.jpg", jpeg(frames[-1]))}
    ).json()
    assert opened["liveness"] == "passed" and opened["faces"][0]["name"] == "lin_manuel_miranda", opened
    assert client.post("/liveness/nope/frames", headers=headers, files={"image": ("p.jpg", photo)}).status_code == 404
