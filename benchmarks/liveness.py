"""The head-turn liveness challenge on real head turns and on simulated photo attacks → results/liveness.md.

Real turns (benchmarks/liveness_turns.json, chosen as that file says): each labelled turn is one single-step trial
(asked the direction the person turned, 5 s of footage from the first frame), and again mirrored left-right (the
mirror of a real turn is a real turn the other way). Two-step trials: the turn, then the same frames backwards (back
to the camera), then the mirrored turn, each up to the frame turned furthest: real frames throughout, asked in that
order. Frames go at the video's rate. The splice is not a real person's second turn: the mirrored turn starts from
the mirror of the first frame, so its pose jumps by about twice that frame's yaw (0.17-0.31 eye distances here):
against the second step where the first frame already faced a little towards the second step's side, in its favour
where it faced towards the first's. The per-trial table gives the jump, the steps done and why a trial failed.

Photo attacks (benchmarks/flat_attacks.py): LFW photos of people not looked at while setting the limits (the
limits came from knn_examples prints), each held up as a print or phone by a simulated attacker who gets the whole
time limit of each step: a new random pose every 0.5 s (tilt about the vertical axis up to ±75°, about the
horizontal one ±45°, in-plane rotation ±30°, face 90-260 px wide, moved ±120 px), interpolated at 5 frames/s, with
sensor noise, over a flat grey or a real-scene background; a second set bends the print round a cylinder (radius
1-2 face widths). Each attack is a two-step challenge in a random order. An attack passes if the challenge passes.
The 95% upper bounds on the attack pass rates are one-sided Clopper-Pearson.
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
from scipy.stats import beta
from shared_data import SHARED_DATA

from facegate.detect.base import Face, iou_matrix
from facegate.experiments.machine import describe_machine
from facegate.imageio import load_image
from facegate.liveness import Challenge, ChallengeState, Limits, yaw
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


def labelled(faces: list[Face], box: np.ndarray) -> Face | None:
    """The face overlapping `box` most, if by at least 0.3 (how a labelled face is followed)."""
    overlap = iou_matrix(box[None, :], np.array([f.box for f in faces])).ravel() if faces else np.zeros(0)
    return faces[int(np.argmax(overlap))] if len(overlap) and overlap.max() >= 0.3 else None


def run(challenge: Challenge, frames: list[list[Face]], fps: float, start_box: np.ndarray) -> ChallengeState:
    """Feed a challenge detected faces frame by frame (the labelled face picked out on the first); where it ended."""
    for i, faces in enumerate(frames):
        if i == 0:
            face = labelled(faces, start_box)
            faces = [face] if face else []
        if challenge.observe(i / fps, faces).status in ("passed", "failed"):
            break
    return challenge.state()


def peak(seen: list[list[Face]], box: np.ndarray, direction: Direction) -> int:
    """The frame where the labelled face is turned furthest in `direction` (followed by box overlap)."""
    best, best_turn = 0, -np.inf
    for i, faces in enumerate(seen):
        face = labelled(faces, box)
        if face is None or face.landmarks is None:
            continue
        box = np.asarray(face.box, np.float64)
        turned = SIGN[direction] * yaw(face.landmarks)
        if turned > best_turn:
            best, best_turn = i, turned
    return best


def splice_jump(
    seen: list[Face], flipped: list[Face], box: np.ndarray, flipped_box: np.ndarray, second: Direction
) -> float:
    """How far the mirrored turn's first frame is already turned towards `second` from the first frame (yaw change,
    eye distances): negative when the splice sets the second step back."""
    first, mirror = labelled(seen, box), labelled(flipped, flipped_box)
    if first is None or mirror is None or first.landmarks is None or mirror.landmarks is None:
        return float("nan")
    return SIGN[second] * (yaw(mirror.landmarks) - yaw(first.landmarks))


Trial = tuple[str, str, ChallengeState, float]  # turn, kind of trial, where the challenge ended, splice jump


def real_turn_trials(fg: FaceGate) -> Iterator[Trial]:
    """Every labelled turn as filmed, mirrored, and as a two-step trial (with its splice jump; NaN for one step)."""
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
        yield name, "one step, as filmed", run(Challenge((direction,), 0.0), seen, fps, box), np.nan
        yield (
            name,
            "one step, mirrored",
            run(Challenge((OTHER[direction],), 0.0), seen_flipped, fps, flipped_box),
            np.nan,
        )
        there_and_back = seen[:last] + seen[:last][::-1] + [mirrored(f, width) for f in seen_flipped[:last]]
        challenge = Challenge((direction, OTHER[direction]), 0.0)
        jump = splice_jump(seen[0], seen_flipped[0], box, flipped_box, OTHER[direction])
        yield name, "two steps", run(challenge, there_and_back, fps, box), jump


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


def random_pose(rng: np.random.Generator, bend: float, roll: float = 30, yaw: float = 75, pitch: float = 45) -> Pose:
    """A held-up photo's pose: moved ±120/±80 px, face 90-260 px wide, turned up to ±roll/±yaw/±pitch degrees."""
    return Pose(
        dx=rng.uniform(-120, 120),
        dy=rng.uniform(-80, 80),
        face_width=rng.uniform(90, 260),
        roll=rng.uniform(-roll, roll),
        yaw=rng.uniform(-yaw, yaw),
        pitch=rng.uniform(-pitch, pitch),
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


def upper_bound(passed: int, ran: int) -> float:
    """One-sided 95% Clopper-Pearson upper bound on a pass rate seen as `passed` of `ran`."""
    return 1.0 if passed >= ran else float(beta.ppf(0.95, passed + 1, ran - passed))


def outcome(state: ChallengeState) -> str:
    """Why a trial did not pass, in words (empty when it passed)."""
    if state.passed:
        return ""
    return state.reason or f"footage ended, {state.instruction}"


def report(trials: list[Trial], attacks: dict[str, tuple[int, int, int]], command: str) -> str:
    """The results page: pass rates per kind of real trial and per kind of attack, and every real trial."""
    lines = [
        "# Liveness: the head-turn challenge on real turns and simulated photo attacks",
        "",
        f"- Machine: {describe_machine()}",
        f"- Limits: {Limits()}",
        f"- Command: `{command}` (material, method: its docstring; benchmarks/liveness_turns.json)",
        "",
        "| real head turns (pass within 5 s per step) | passed | trials | rate |",
        "|---|---:|---:|---:|",
    ]
    for kind in dict.fromkeys(k for _, k, _, _ in trials):
        results = [s.passed for _, k, s, _ in trials if k == kind]
        lines.append(f"| {kind} | {sum(results)} | {len(results)} | {100 * sum(results) / len(results):.0f}% |")
    every = [s.passed for _, _, s, _ in trials]
    lines.append(f"| all | {sum(every)} | {len(every)} | {100 * sum(every) / len(every):.0f}% |")
    lines += [
        "",
        "| simulated photo attacks (two-step challenge) | passed | attacks | rate | 95% upper bound |",
        "|---|---:|---:|---:|---:|",
    ]
    rows = [(kind, *counts) for kind, counts in attacks.items()]
    if len(rows) > 1:
        rows.append(("all photo attacks", *(sum(r[i] for r in rows) for i in (1, 2, 3))))
    for kind, ran, passed, faceless in rows:
        note = f" ({faceless} photos without a detected face left out)" if faceless else ""
        rate, bound = 100 * passed / max(ran, 1), 100 * upper_bound(passed, ran)
        lines.append(f"| {kind}{note} | {passed} | {ran} | {rate:.1f}% | {bound:.2f}% |")
    lines += [
        "",
        "| real turn | trial | passed | steps done | why not | splice jump (eye distances) |",
        "|---|---|---|---:|---|---:|",
    ]
    for name, kind, state, jump in trials:
        shown = "" if np.isnan(jump) else f"{jump:+.2f}"
        done = f"{state.done} of {len(state.steps)}"
        lines.append(f"| {name} | {kind} | {'yes' if state.passed else 'no'} | {done} | {outcome(state)} | {shown} |")
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
    command = f"python benchmarks/liveness.py --attacks {args.attacks} --bent {args.bent} --seed {args.seed}"
    text = report(trials, attacks, command)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
