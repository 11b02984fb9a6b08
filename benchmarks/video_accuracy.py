"""Who the video path names, frame by frame, against the still-image path on every frame, on labelled real footage.

Clips (benchmarks/video_labels.json; the footage is in ../shared/data/media):
- hamilton: the 640×360 stage clip, gallery of one photo per person (Lin-Manuel Miranda, Alex Lacamoire); their faces
  hand-labelled frame by frame (small, profile and head-down ones too); the audience are strangers.
- pedestrians: the 1080p street clip against a 7-person gallery: nobody in it is enrolled, so every name is false.
- approach: knn_examples' real photos, each filmed by a virtual camera that starts wide (faces of 15–40 px) and
  closes in on the face over two seconds, encoded to H.264 and read back; strangers among them.

(a) the still-image identifier on every frame: full-frame detection, every face embedded and decided on its own.
(b) `facegate video`'s path: tracking, a decision per track. A labelled face-frame is right when a box overlapping
it (IoU ≥ 0.3) carries the person's name; a name on any other box (a stranger, a background face, clothing) is a
false name. Usage: python benchmarks/video_accuracy.py [--out benchmarks/results/video_accuracy.md]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from facegate.detect.base import iou_matrix
from facegate.experiments.machine import describe_machine
from facegate.gallery.folders import embed_gallery_folder
from facegate.imageio import load_image
from facegate.match.decision import UNKNOWN
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.match.operating_point import DEFAULT_FPIR
from facegate.pipeline import FaceGate
from facegate.video.reader import VideoFile
from facegate.video.recognizer import LabelledFace, VideoRecognizer
from facegate.video.writer import VideoWriter

HERE = Path(__file__).resolve().parent
MEDIA = HERE.parent.parent / "shared" / "data" / "media"
TITLE = "Video accuracy: the still-image path on every frame (a) against the video path (b)"
STRANGER = "stranger"
SMALL = 40  # faces narrower than this many pixels count as small
MATCH_IOU = 0.3
SEQUENCE_FPS = 25.0
START_FACE, NOISE = 14.0, 6.0  # the filmed face's height in the first frame (pixels); sensor noise (grey levels)


@dataclass(frozen=True)
class Truth:
    """One labelled face in one frame: who (or STRANGER), where, how hard (pose, small), and which labelled face
    (track or shot) it belongs to."""

    person: str
    box: tuple[float, float, float, float]
    pose: str
    face: int

    @property
    def kind(self) -> str:
        return f"{self.pose}{', small' if self.box[2] - self.box[0] < SMALL else ''}"


@dataclass
class Clip:
    """Frames (index, RGB) with their labelled faces and ignored regions, and the people enrolled for it."""

    name: str
    video: Path
    gallery: list[Path]
    fpir: float = DEFAULT_FPIR
    truth: dict[int, list[Truth]] = field(default_factory=dict)
    ignore: dict[int, list[tuple[float, ...]]] = field(default_factory=dict)


def labelled_clip(name: str, spec: dict, media: Path) -> Clip:
    """A clip of real footage with its per-frame labels from the JSON."""
    clip = Clip(name, media / spec["video"], [media / g for g in spec["gallery"]])
    for n, face in enumerate(spec.get("faces", [])):
        for k, box in enumerate(face["boxes"]):
            clip.truth.setdefault(face["first"] + k, []).append(Truth(face["person"], tuple(box), face["pose"], n))
    for region in spec.get("ignore", []):
        for frame in range(region["first"], region["last"] + 1):
            clip.ignore.setdefault(frame, []).append(tuple(region["box"]))
    return clip


def camera_windows(target: np.ndarray, size: tuple[int, int], frames: int) -> Iterator[np.ndarray]:
    """Crop windows (x1, y1, x2, y2, in photo pixels) of a camera closing in on `target` (a box in the photo): from
    afar, where the target is START_FACE pixels high in the frame, to twice its size (a person walking up)."""
    aspect = size[0] / size[1]
    cx, cy = (target[0] + target[2]) / 2, (target[1] + target[3]) / 2
    height = max(target[3] - target[1], (target[2] - target[0]) / aspect)
    far, near = height * size[1] / START_FACE, 2.2 * height
    for k in range(frames):
        side = far * (near / far) ** ((k / (frames - 1)) ** 0.5)  # the face grows steadily in the frame
        yield np.array([cx - side * aspect / 2, cy - side / 2, cx + side * aspect / 2, cy + side / 2], np.float64)


def film(
    photo: np.ndarray, window: np.ndarray, size: tuple[int, int], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """The frame seen through `window` (beyond the photo: a grey wall), with sensor noise; and the photo→frame map."""
    scale = size[0] / (window[2] - window[0])
    matrix = np.array([[scale, 0, -window[0] * scale], [0, scale, -window[1] * scale]], np.float64)
    frame = cv2.warpAffine(
        photo,
        matrix,
        size,
        flags=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=(110, 110, 110),
    )
    noisy = frame + rng.normal(0, NOISE, frame.shape)
    return np.clip(noisy, 0, 255).astype(np.uint8), matrix


def filmed_clip(
    name: str, shots: list[dict], gallery: list[Path], folder: Path, size: tuple[int, int], frames: int
) -> Clip:
    """A clip filmed from still photos, `frames` a shot (camera_windows), written to H.264 and read back."""
    video = folder / f"{name}.mp4"
    clip = Clip(name, video, gallery)
    writer = VideoWriter(video, None, SEQUENCE_FPS, *size)
    index, rng = 0, np.random.default_rng(0)
    for n, shot in enumerate(shots):
        photo = load_image(shot["photo"])
        boxes = np.array([f["box"] for f in shot["faces"]], np.float64)
        target = np.array(shot.get("aim") or [*boxes[:, :2].min(axis=0), *boxes[:, 2:].max(axis=0)], np.float64)
        for window in camera_windows(target, size, frames):
            frame, matrix = film(photo, window, size, rng)
            writer.write(index, frame)
            for face, box in zip(shot["faces"], boxes):
                corners = matrix @ np.array([[box[0], box[2]], [box[1], box[3]], [1, 1]])
                box = tuple(corners.T.ravel().tolist())
                clip.truth.setdefault(index, []).append(Truth(face["person"], box, face.get("pose", "frontal"), n))
            index += 1
    writer.close()
    return clip


def photo_clip(name: str, spec: dict, media: Path, folder: Path) -> Clip:
    """The labelled photos of the JSON filmed at 1280×720, 50 frames each."""
    shots = [shot | {"photo": media / shot["photo"]} for shot in spec["shots"]]
    return filmed_clip(name, shots, [media / g for g in spec["gallery"]], folder, (1280, 720), 50)


def lfw_clip(name: str, spec: dict, media: Path, fg: FaceGate, folder: Path) -> Clip:
    """LFW people filmed at 640×360: `enrolled` people (spread over the alphabet) with their first photo in the
    gallery and their second filmed, and `strangers`, people LFW has one photo of, never enrolled."""
    people = sorted(p for p in (media.parent / "lfw" / "images_deepfunneled").iterdir() if p.is_dir())
    counts = {p: len(list(p.iterdir())) for p in people}
    twice, once = [p for p in people if counts[p] >= 2], [p for p in people if counts[p] == 1]
    enrolled = twice[:: len(twice) // spec["enrolled"]][: spec["enrolled"]]
    strangers = once[:: len(once) // spec["strangers"]][: spec["strangers"]]
    gallery = folder / f"{name}_gallery"
    for person in enrolled:
        (gallery / person.name).mkdir(parents=True)
        (gallery / person.name / "1.jpg").symlink_to(person / f"{person.name}_0001.jpg")
    shots = []
    filmed = [(p / f"{p.name}_0002.jpg", p.name) for p in enrolled] + [
        (p / f"{p.name}_0001.jpg", STRANGER) for p in strangers
    ]
    for photo, who in filmed:
        faces = fg.detect(photo)  # largest first: LFW centres the person its photo is named after
        if faces:
            shots.append({"photo": photo, "faces": [{"person": who, "box": list(map(float, faces[0].box))}]})
    return filmed_clip(name, shots, [gallery], folder, (640, 360), spec["frames"])


def make_clip(name: str, spec: dict, media: Path, fg: FaceGate, folder: Path) -> Clip:
    """The clip a JSON entry describes: labelled footage, filmed photos, or filmed LFW people."""
    if "shots" in spec:
        clip = photo_clip(name, spec, media, folder)
    elif "enrolled" in spec:
        clip = lfw_clip(name, spec, media, fg, folder)
    else:
        clip = labelled_clip(name, spec, media)
    clip.fpir = spec.get("fpir", DEFAULT_FPIR)
    return clip


def identifier_for(fg: FaceGate, folders: list[Path], fpir: float = DEFAULT_FPIR) -> NearestNeighbourIdentifier:
    """Nearest neighbour over the gallery folders' photos at the operating point (as `facegate video --gallery`)."""
    found = [embed_gallery_folder(fg, folder) for folder in folders]
    return NearestNeighbourIdentifier(fpir=fpir).fit(
        np.concatenate([g.embeddings for g in found]), [label for g in found for label in g.labels]
    )


@dataclass
class Score:
    """Per-frame outcome counts of one path on one clip."""

    right: Counter[str] = field(default_factory=Counter)  # labelled face-frames named right, by kind
    missed: Counter[str] = field(default_factory=Counter)  # no box on the face, by kind
    wrong: Counter[str] = field(default_factory=Counter)  # a box, but unknown or another name, by kind
    false_names: int = 0  # names on strangers, background faces or things that are not faces
    strangers_seen: int = 0  # stranger face-frames with a box
    strangers: set[int] = field(default_factory=set)  # labelled strangers (tracks or shots) seen
    named_strangers: set[int] = field(default_factory=set)  # ... named in at least one frame

    embedded: int = 0  # faces the embedder ran on

    @staticmethod
    def total(counts: Counter[str]) -> int:
        return sum(counts.values())

    @property
    def labelled(self) -> int:
        return self.total(self.right) + self.total(self.missed) + self.total(self.wrong)

    def kinds(self) -> set[str]:
        return set(self.right) | set(self.missed) | set(self.wrong)

    def outcomes(self, kind: str) -> tuple[int, int, int]:
        """Right, missed and wrong face-frames of one kind."""
        return self.right[kind], self.missed[kind], self.wrong[kind]


def score_frame(score: Score, truth: list[Truth], ignore: list[tuple[float, ...]], found: list[LabelledFace]) -> None:
    """Match the frame's boxes to its labelled faces (best IoU first, one to one) and count the outcomes."""
    boxes = np.array([f.face.box for f in found], np.float32).reshape(-1, 4)
    iou = iou_matrix(np.array([t.box for t in truth], np.float32).reshape(-1, 4), boxes)
    taken: set[int] = set()
    for t_index in np.argsort(-iou.max(axis=1, initial=0)):
        candidates = [j for j in np.argsort(-iou[t_index]) if j not in taken and iou[t_index, j] >= MATCH_IOU]
        truth_face = truth[t_index]
        if not candidates:
            if truth_face.person != STRANGER:
                score.missed[truth_face.kind] += 1
            continue
        taken.add(int(candidates[0]))
        label = found[candidates[0]].label
        if truth_face.person == STRANGER:
            score.strangers_seen += 1
            score.strangers.add(truth_face.face)
            if label != UNKNOWN:
                score.false_names += 1
                score.named_strangers.add(truth_face.face)
        elif label == truth_face.person:
            score.right[truth_face.kind] += 1
        else:
            score.wrong[truth_face.kind] += 1
    ignored = iou_matrix(boxes, np.array(ignore, np.float32).reshape(-1, 4)).max(axis=1, initial=0) > 0
    score.false_names += sum(1 for j, f in enumerate(found) if j not in taken and not ignored[j] and f.label != UNKNOWN)


def evaluate(fg: FaceGate, clip: Clip, tracking: bool) -> Score:
    """Run one path over the clip and score every frame."""
    recognizer = VideoRecognizer(fg, identifier_for(fg, clip.gallery, clip.fpir), tracking=tracking)
    score = Score()
    for index, rgb in VideoFile(clip.video):
        score_frame(score, clip.truth.get(index, []), clip.ignore.get(index, []), recognizer.process(index, rgb))
    score.embedded = recognizer.embedded_faces
    return score


def percent(part: int, whole: int) -> str:
    return f"{part}/{whole} ({part / whole:.1%})" if whole else "–"


def report(results: dict[str, tuple[Score, Score]]) -> list[str]:
    """The markdown tables: per clip, then per kind of face (all clips)."""
    lines = [
        "| clip | face-frames of enrolled people | (a) stills: named right | (b) video: named right "
        "| missed (a) / (b) | false names (a) / (b) | strangers named at least once (a) / (b) "
        "| faces embedded (a) / (b) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, (a, b) in results.items():
        lines.append(
            f"| {name} | {a.labelled} | {percent(a.total(a.right), a.labelled)} | "
            f"{percent(b.total(b.right), b.labelled)} | {a.total(a.missed)} / {b.total(b.missed)} | "
            f"{a.false_names} / {b.false_names} | {len(a.named_strangers)} / {len(b.named_strangers)} "
            f"of {len(a.strangers | b.strangers)} | {a.embedded} / {b.embedded} |"
        )
    kinds = sorted({k for pair in results.values() for score in pair for k in score.kinds()})
    lines += [
        "",
        "| kind of face (all clips) | face-frames | (a) right / missed / wrong | (b) right / missed / wrong |",
        "|---|---|---|---|",
    ]
    for kind in kinds:
        stills, video = (
            [sum(pair[i].outcomes(kind)[j] for pair in results.values()) for j in range(3)] for i in (0, 1)
        )
        lines.append(f"| {kind} | {sum(stills)} | {' / '.join(map(str, stills))} | {' / '.join(map(str, video))} |")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=HERE / "video_labels.json")
    parser.add_argument("--media", type=Path, default=MEDIA)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "video_accuracy.md")
    args = parser.parse_args()
    labels = json.loads(args.labels.read_text())
    fg = FaceGate()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, spec in labels["clips"].items():
            clip = make_clip(name, spec, args.media, fg, Path(tmp))
            results[name] = (evaluate(fg, clip, tracking=False), evaluate(fg, clip, tracking=True))
            print("\n".join(report({name: results[name]})[2:3]), flush=True)
    intro = (
        f"Machine: {describe_machine()}. Command: `python benchmarks/video_accuracy.py`. Labels: "
        "`benchmarks/video_labels.json`. Nearest neighbour over each clip's gallery photos, at the default operating "
        "point (FPIR 1e-3) unless the clip's name says otherwise."
    )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text("\n".join([f"# {TITLE}", "", intro, "", *report(results), ""]))
    print(f"→ {args.out}")


if __name__ == "__main__":
    main()
