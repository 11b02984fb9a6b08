"""The head-turn liveness challenge on real head turns and on simulated photo attacks → results/liveness.md.

Real turns (benchmarks/liveness_turns.json, chosen as that file says): each labelled turn is one single-step trial
(asked the direction the person turned, 5 s of footage from the first frame), and again mirrored left-right (the
mirror of a real turn is a real turn the other way). Two-step trials: the turn, then the same frames backwards (back
to the camera), then the mirrored turn, each up to the frame turned furthest: real frames throughout, asked in that
order. Frames go at the video's rate.

Photo attacks (benchmarks/flat_attacks.py): LFW photos of people not looked at while setting the limits (the
limits came from knn_examples prints), each held up as a print or phone by a simulated attacker who gets the whole
time limit of each step: a new random pose every 0.5 s (tilt about the vertical axis up to ±75°, about the
horizontal one ±45°, in-plane rotation ±30°, face 90-260 px wide, moved ±120 px), interpolated at 5 frames/s, with
sensor noise, over a flat grey or a real-scene background; a second set bends the print round a cylinder (radius
1-2 face widths). Each attack is a two-step challenge in a random order. An attack passes if the challenge passes.
Usage: python benchmarks/liveness.py [--attacks 100] [--bent 40] [--out benchmarks/results/liveness.md]
"""

from __future__ import annotations

import argparse
import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
from flat_attacks import FRAME, Pose, held_up
from shared_data import SHARED_DATA

from facegate.detect.base import Face, iou_matrix
from facegate.experiments.machine import describe_machine
from facegate.imageio import load_image
from facegate.liveness import Challenge, Limits, yaw
from facegate.liveness.challenge import SIGN, Direction
from facegate.pipeline import FaceGate

HERE = Path(__file__).resolve().parent
MEDIA = SHARED_DATA / "media"
ATTACK_FPS = 5.0
OTHER: dict[Direction, Direction] = {"left": "right", "right": "left"}


def read_frames(video: Path, first: int, count: int) -> tuple[list[np.ndarray], float]:
    """`count` RGB frames from frame `first` on (fewer at the end), and the video's frame rate."""
    capture = cv2.VideoCapture(str(video))
    fps = capture.get(cv2.CAP_PROP_FPS) or 25.0
    capture.set(cv2.CAP_PROP_POS_FRAMES, first)
    frames = []
    while len(frames) < count:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    return frames, fps


def mirrored(faces: list[Face], width: int) -> list[Face]:
    """Boxes of a left-right mirrored frame (to find the labelled face in it)."""
    return [Face((width - f.box[2], f.box[1], width - f.box[0], f.box[3]), f.score, f.landmarks) for f in faces]


def run(challenge: Challenge, frames: list[list[Face]], fps: float, start_box: np.ndarray) -> bool:
    """Feed a challenge detected faces frame by frame (the labelled face picked out on the first); passed or not."""
    for i, faces in enumerate(frames):
        if i == 0 and faces:
            overlap = iou_matrix(start_box[None, :], np.array([f.box for f in faces]))[0]
            faces = [faces[int(np.argmax(overlap))]] if overlap.max() >= 0.3 else []
        if challenge.observe(i / fps, faces).status in ("passed", "failed"):
            break
    return challenge.state().passed


def peak(seen: list[list[Face]], box: np.ndarray, direction: Direction) -> int:
    """The frame where the labelled face is turned furthest in `direction` (followed by box overlap)."""
    best, best_turn = 0, -np.inf
    for i, faces in enumerate(seen):
        overlap = iou_matrix(box[None, :], np.array([f.box for f in faces])).ravel() if faces else np.zeros(0)
        face = faces[int(np.argmax(overlap))] if len(overlap) and overlap.max() >= 0.3 else None
        if face is None or face.landmarks is None:
            continue
        box = np.asarray(face.box, np.float64)
        turned = SIGN[direction] * yaw(face.landmarks)
        if turned > best_turn:
            best, best_turn = i, turned
    return best


def real_turn_trials(fg: FaceGate) -> Iterator[tuple[str, str, bool]]:
    """(turn, kind of trial, passed) for every labelled turn: as filmed, mirrored, and as a two-step trial."""
    spec = json.loads((HERE / "liveness_turns.json").read_text())
    for turn in spec["turns"]:
        video = MEDIA / turn["video"]
        cuts = [c for c in spec["cuts"].get(turn["video"], []) if c > turn["first"]]
        frames, fps = read_frames(video, turn["first"], 5 * 30)
        frames = frames[: int(5 * fps)][: (cuts[0] - turn["first"]) if cuts else None]
        width = frames[0].shape[1]
        direction: Direction = turn["direction"]
        box = np.array(turn["box"], np.float64)
        flipped_box = np.array([width - box[2], box[1], width - box[0], box[3]])
        seen = [fg.detect(f) for f in frames]
        seen_flipped = [fg.detect(np.ascontiguousarray(f[:, ::-1])) for f in frames]
        last = peak(seen, box, direction) + 1
        name = f"{Path(turn['video']).stem} {turn['first']}"
        yield name, "one step, as filmed", run(Challenge((direction,), 0.0), seen, fps, box)
        passed_mirror = run(Challenge((OTHER[direction],), 0.0), seen_flipped, fps, flipped_box)
        yield name, "one step, mirrored", passed_mirror
        there_and_back = seen[:last] + seen[:last][::-1] + [mirrored(f, width) for f in seen_flipped[:last]]
        challenge = Challenge((direction, OTHER[direction]), 0.0)
        yield name, "two steps", run(challenge, there_and_back, fps, box)


def backgrounds() -> list[np.ndarray]:
    """A flat grey wall and real scenes (the shared group photos), cut to the webcam's frame."""
    h, w = FRAME
    scenes = [np.full((h, w, 3), 118, np.uint8)]
    for path in sorted((MEDIA / "dlib_faces").glob("2008_*.jpg"))[:3]:
        scenes.append(cv2.resize(load_image(path), (w, h)))
    return scenes


def attack_photos(count: int, seed: int) -> list[Path]:
    """LFW photos, one per person, chosen at random (people with a folder name from M on: knn_examples' people and
    the photos looked at while setting the limits are not among them)."""
    people = sorted(p for p in (SHARED_DATA / "lfw" / "images_deepfunneled").iterdir() if p.name >= "M")
    rng = np.random.default_rng(seed)
    return [sorted(people[i].glob("*.jpg"))[0] for i in rng.choice(len(people), count, replace=False)]


def random_pose(rng: np.random.Generator, bend: float) -> Pose:
    return Pose(
        dx=rng.uniform(-120, 120),
        dy=rng.uniform(-80, 80),
        face_width=rng.uniform(90, 260),
        roll=rng.uniform(-30, 30),
        yaw=rng.uniform(-75, 75),
        pitch=rng.uniform(-45, 45),
        bend=bend,
    )


def attack_poses(rng: np.random.Generator, seconds: float, bend: float) -> list[Pose]:
    """The attacker's motion: frontal first, then a new random pose every 0.5 s, interpolated at ATTACK_FPS."""
    keys = [Pose(face_width=rng.uniform(120, 220), bend=bend)]
    keys += [random_pose(rng, bend) for _ in range(int(seconds / 0.5))]
    per_key = int(ATTACK_FPS * 0.5)
    poses = []
    for a, b in itertools.pairwise(keys):
        for k in range(per_key):
            t = k / per_key
            values = [(1 - t) * va + t * vb for va, vb in zip(vars(a).values(), vars(b).values(), strict=True)]
            poses.append(Pose(*values))
    return poses


def attack(fg: FaceGate, photo: Path, rng: np.random.Generator, bend: float, scenes: list[np.ndarray]) -> bool | None:
    """One simulated attack with a two-step challenge; None when the photo shows no face to hold up."""
    image = load_image(photo)
    faces = fg.detect(image)
    if not faces:
        return None
    limits = Limits(lost_seconds=float("inf"))
    challenge = Challenge.random(0.0, seed=int(rng.integers(1 << 30)), limits=limits)
    scene = scenes[int(rng.integers(len(scenes)))]
    seconds = limits.step_seconds * (len(challenge.steps) + 1)  # finding the frontal face, then each step
    for i, pose in enumerate(attack_poses(rng, seconds, bend)):
        frame = held_up(image, faces[0].box, pose, scene, rng)
        if challenge.observe(i / ATTACK_FPS, fg.detect(frame)).status in ("passed", "failed"):
            break
    return challenge.state().passed


def attack_rates(fg: FaceGate, count: int, bends: tuple[float, float] | None, seed: int) -> tuple[int, int, int]:
    """(attacks run, passed, photos without a face) over `count` LFW photos; bent prints when `bends` is given.
    The attacker is never charged for losing the face (lost_seconds is infinite): an upper bound on what passes."""
    rng = np.random.default_rng(seed)
    scenes = backgrounds()
    ran = passed = faceless = 0
    for photo in attack_photos(count, seed):
        bend = float(rng.uniform(*bends)) if bends else 0.0
        result = attack(fg, photo, rng, bend, scenes)
        if result is None:
            faceless += 1
            continue
        ran, passed = ran + 1, passed + int(result)
    return ran, passed, faceless


def report(trials: list[tuple[str, str, bool]], attacks: dict[str, tuple[int, int, int]]) -> str:
    """The results page: pass rates per kind of real trial and per kind of attack, and every real trial."""
    lines = [
        "# Liveness: the head-turn challenge on real turns and simulated photo attacks",
        "",
        f"- Machine: {describe_machine()}",
        f"- Limits: {Limits()}",
        "- Command: `python benchmarks/liveness.py` (material, method: its docstring; benchmarks/liveness_turns.json)",
        "",
        "| real head turns (pass within 5 s per step) | passed | trials | rate |",
        "|---|---:|---:|---:|",
    ]
    for kind in dict.fromkeys(k for _, k, _ in trials):
        results = [p for _, k, p in trials if k == kind]
        lines.append(f"| {kind} | {sum(results)} | {len(results)} | {100 * sum(results) / len(results):.0f}% |")
    every = [p for *_, p in trials]
    lines.append(f"| all | {sum(every)} | {len(every)} | {100 * sum(every) / len(every):.0f}% |")
    lines += ["", "| simulated photo attacks (two-step challenge) | passed | attacks | rate |", "|---|---:|---:|---:|"]
    for kind, (ran, passed, faceless) in attacks.items():
        note = f" ({faceless} photos without a detected face left out)" if faceless else ""
        lines.append(f"| {kind}{note} | {passed} | {ran} | {100 * passed / max(ran, 1):.1f}% |")
    lines += ["", "| real turn | trial | passed |", "|---|---|---|"]
    lines += [f"| {name} | {kind} | {'yes' if passed else 'no'} |" for name, kind, passed in trials]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--attacks", type=int, default=100, help="flat prints/phones, one LFW photo each")
    parser.add_argument("--bent", type=int, default=40, help="bent prints, one LFW photo each")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "liveness.md")
    args = parser.parse_args()
    fg = FaceGate()
    trials = list(real_turn_trials(fg))
    attacks = {"flat print or phone": attack_rates(fg, args.attacks, None, args.seed)}
    if args.bent:
        attacks["print bent round a cylinder (radius 1-2 face widths)"] = attack_rates(
            fg, args.bent, (1.0, 2.0), args.seed + 1
        )
    text = report(trials, attacks)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
