"""Speed of every pipeline stage on real photos, next to face_recognition (dlib) measured in the same run.

Run by `make bench`. Prints one table and writes it, with the machine, date and command, to
benchmarks/results/pipeline.md. Every figure is the median of `--runs` timed runs after a warm-up. The peer is
face_recognition installed two ways, each in its own virtual environment created on first use (PEERS; the
dlib+OpenBLAS one compiles dlib, a one-time cost the report states): with the prebuilt `dlib-bin` wheel (no BLAS)
and with `pip install dlib` built from source against OpenBLAS (needs cmake and libopenblas-dev). Each runs
benchmarks/face_recognition_peer.py as a subprocess, and each of its rows is timed right after ours so all see
the same machine load.

Rows: detection per image; alignment per face and the embedding network alone on pre-aligned faces (each side's
row says what its number includes); end to end, a photo file to the embeddings of all its faces, each library
with its defaults. Detection images: a group photo and a frame of the 1080p pedestrian video, scaled to cover
the target size and centre-cropped, and one 5-celebrity photo centred on a grey canvas of that size. Photos: that
5-celebrity photo (one face) and a 4-face CompreFace sample from the shared data.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from facegate import FaceGate
from facegate.align import align
from facegate.detect.base import Detector, Face
from facegate.detect.haar import HaarDetector
from facegate.detect.mtcnn import MTCNNDetector
from facegate.embed import Embedder
from facegate.experiments.machine import describe_machine
from facegate.imageio import load_image
from facegate.models import ModelFiles, ensure_models
from facegate.models.facenet_int8 import calibration_crops, facenet_for_precision

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "media"
FOUR_FACES = SHARED / "compreface_samples" / "012_4.jpg"
PEER_SCRIPT = HERE / "face_recognition_peer.py"
RESULTS = HERE / "results" / "pipeline.md"
SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
# dlib's HOG window is 80 px: each 2× upsampling halves the smallest face it finds (80 → 40 → 20)
HOG_UPSAMPLE = {20: 2, 40: 1}


@dataclass
class Row:
    """One line of the table: what each side ran, our median ms and each peer's median ms by peer label."""

    name: str
    ours: float
    ours_ran: str
    theirs: dict[str, float] = field(default_factory=dict)
    peer_ran: str = ""


def median_ms(fn: Callable[[], object], runs: int, per: int = 1) -> float:
    """Median wall-clock milliseconds of `fn` over `runs` runs after one warm-up run, divided by `per`."""
    fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000 / per


def cover(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Scale an RGB image to cover width×height and crop the centre."""
    scale = max(width / image.shape[1], height / image.shape[0])
    resized = cv2.resize(
        image,
        (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale))),
        interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR,
    )
    y, x = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return resized[y : y + height, x : x + width]


def centred(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB image centred, unscaled, on a mid-grey width×height canvas."""
    out = np.full((height, width, 3), 128, dtype=np.uint8)
    y, x = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    out[y : y + image.shape[0], x : x + image.shape[1]] = image
    return out


def video_frame(path: Path, index: int) -> np.ndarray:
    """Frame `index` of a video, RGB."""
    capture = cv2.VideoCapture(str(path))
    capture.set(cv2.CAP_PROP_POS_FRAMES, index)
    ok, frame = capture.read()
    capture.release()
    if not ok:
        raise RuntimeError(f"could not read frame {index} of {path}")
    return cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)


def one_face_photo(models: ModelFiles) -> Path:
    """The first 5-celebrity validation photo: the one-face photo of the end-to-end rows."""
    return sorted((models.celebrity / "val").glob("*/*.jpg"))[0]


def test_images(models: ModelFiles, folder: Path) -> dict[str, list[Path]]:
    """Write the benchmark images of each size as PNG files (both libraries read the same pixels)."""
    sources: list[np.ndarray] = []
    if SHARED.is_dir():
        sources += [
            load_image(SHARED / "groups" / "multiface.jpg"),
            video_frame(SHARED / "videos" / "pedestrians_1080p.mp4", 50),
        ]
    celebrity = load_image(one_face_photo(models))
    out: dict[str, list[Path]] = {}
    for label, (w, h) in SIZES.items():
        out[label] = []
        for i, image in enumerate([cover(s, w, h) for s in sources] + [centred(celebrity, w, h)]):
            path = folder / f"{label}_{i}.png"
            cv2.imwrite(str(path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            out[label].append(path)
    return out


class Peer:
    """face_recognition's timing server (benchmarks/face_recognition_peer.py) in its own venv, over pipes."""

    def __init__(self, python: Path) -> None:
        self._proc = subprocess.Popen(
            [str(python), str(PEER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, **request: Any) -> dict[str, Any]:
        """Send one request, wait for its answer."""
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        answer = self._proc.stdout.readline()
        if not answer:
            raise RuntimeError("the face_recognition peer exited")
        reply: dict[str, Any] = json.loads(answer)
        if "error" in reply:
            raise RuntimeError(reply["error"])
        return reply

    def close(self) -> None:
        """End the server (it exits when its stdin closes)."""
        assert self._proc.stdin is not None
        self._proc.stdin.close()
        self._proc.wait(timeout=30)


@dataclass(frozen=True)
class PeerSetup:
    """One way users install face_recognition: its venv and the pip arguments that bring its dlib."""

    label: str
    venv: Path
    dlib: tuple[str, ...]
    needs_blas: bool  # refuse the venv when its dlib was built without BLAS

    @property
    def python(self) -> Path:
        """The venv's interpreter."""
        return self.venv / "bin" / "python"

    @property
    def record(self) -> Path:
        """Where the one-time set-up time is kept (JSON), for the report."""
        return self.venv / "facegate-setup.json"


# dlib-bin: a prebuilt wheel without BLAS; `pip install dlib` builds the sdist, here against Debian's OpenBLAS
PEERS = (
    PeerSetup("dlib-bin", HERE / ".venv-face-recognition", ("dlib-bin",), needs_blas=False),
    PeerSetup(
        "dlib+OpenBLAS", HERE / ".venv-face-recognition-openblas", ("--no-binary", "dlib", "dlib"), needs_blas=True
    ),
)


def set_up_peer(setup: PeerSetup) -> str:
    """Create and fill the peer venv (pip output in its facegate-setup.log), timing it; "" when done, else why not."""
    steps = [
        [sys.executable, "-m", "venv", str(setup.venv)],
        [
            str(setup.python),
            "-m",
            "pip",
            "install",
            "--verbose",
            "setuptools<70",
            "face_recognition_models",
            "numpy",
            "pillow",
            "click",
            *setup.dlib,
        ],
        [str(setup.python), "-m", "pip", "install", "--no-deps", "face_recognition"],
    ]
    setup.venv.mkdir(parents=True, exist_ok=True)
    log = setup.venv / "facegate-setup.log"
    start = time.perf_counter()
    with log.open("w") as out:
        for step in steps:
            print(f"peer {setup.label}: {shlex.join(step)} (log: {log})", file=sys.stderr, flush=True)
            out.write(f"$ {shlex.join(step)}\n")
            out.flush()
            if subprocess.run(step, stdout=out, stderr=subprocess.STDOUT, check=False).returncode != 0:
                return f"`{shlex.join(step)}` failed: {log.read_text().strip().splitlines()[-1:]}"
    setup.record.write_text(
        json.dumps({"seconds": round(time.perf_counter() - start, 1), "date": datetime.date.today().isoformat()})
    )
    return ""


def start_peer(setup: PeerSetup) -> tuple[Peer | None, str]:
    """The peer's timing server, setting its venv up on first use; (None, why) when that fails."""
    if not setup.record.exists():
        why = set_up_peer(setup)
        if why:
            return None, why
    peer = Peer(setup.python)
    try:
        about = peer.ask(task="about")
    except RuntimeError as error:
        peer.close()
        return None, f"face_recognition does not start in {setup.venv}: {error}"
    if setup.needs_blas and not about["blas"]:
        peer.close()
        return None, (
            f"dlib {about['dlib']} in {setup.venv} has DLIB_USE_BLAS={about['blas']} (for BLAS: "
            "apt-get install libopenblas-dev liblapack-dev, then delete that venv)"
        )
    record = json.loads(setup.record.read_text())
    return peer, (
        f"{setup.label}: face_recognition {about['face_recognition']}, dlib {about['dlib']} "
        f"(DLIB_USE_BLAS={about['blas']}), in {setup.venv.relative_to(HERE.parent)}, "
        f"one-time set-up {record['seconds'] / 60:.1f} min on {record['date']}"
    )


def ask_peers(peers: dict[str, Peer], row: Row, ran: str, **request: Any) -> Row:
    """Time one request on every peer into the row; `ran` says what they ran, {faces} from the reply."""
    for label, peer in peers.items():
        reply = peer.ask(**request)
        row.theirs[label], row.peer_ran = reply["ms"], ran.format(faces=reply["faces"])
    return row


def detect_each(detector: Detector, images: list[np.ndarray]) -> list[list[Face]]:
    """Faces in each image (what one detection row times)."""
    return [detector.detect(image) for image in images]


def detection_rows(runs: int, peers: dict[str, Peer], images: dict[str, list[Path]]) -> list[Row]:
    """Detection per image at each size and smallest face: MTCNN and Haar, each next to HOG."""
    models = ensure_models()
    pixels = {label: [load_image(p) for p in paths] for label, paths in images.items()}
    rows = []
    for label in SIZES:
        for min_face in (20, 40):
            up = HOG_UPSAMPLE[min_face]
            detectors: list[tuple[str, str, Detector]] = [
                ("MTCNN", "box + 5 landmarks", MTCNNDetector(models.pnet, models.rnet, models.onet, min_face=min_face)),
                ("Haar", "box", HaarDetector(min_face=min_face)),
            ]
            for name, gives, detector in detectors:
                ours = median_ms(partial(detect_each, detector, pixels[label]), runs, per=len(pixels[label]))
                row = Row(f"detect {name} {label}, min face {min_face} (ms/image)", ours, f"{name}: {gives}")
                rows.append(
                    ask_peers(
                        peers,
                        row,
                        f"HOG, upsample {up}: box",
                        task="detect",
                        paths=[str(p) for p in images[label]],
                        upsample=up,
                        runs=runs,
                    )
                )
    return rows


def int8_label(models: ModelFiles) -> str:
    """How the int8 rows are named: int8, or a note that this CPU runs fp32 for precision="int8"."""
    return "int8" if facenet_for_precision(models, "int8") == models.facenet_int8 else "int8 (off on this CPU: fp32)"


def stage_rows(runs: int, peers: dict[str, Peer], photos: dict[str, Path]) -> list[Row]:
    """Alignment per face on each photo, then the embedding network alone on pre-aligned faces, batch 1 and 32."""
    models = ensure_models()
    detector = MTCNNDetector(models.pnet, models.rnet, models.onet)
    rows = []
    for name, photo in photos.items():
        pixels = load_image(photo)
        faces = detector.detect(pixels)
        ours = median_ms(partial(align, pixels, faces), runs, per=len(faces))
        row = Row(
            f"align, {name} (ms/face)",
            ours,
            f"similarity warp to 160×160 (faces: {len(faces)}; the 5 landmarks came with MTCNN)",
        )
        rows.append(
            ask_peers(
                peers,
                row,
                "5-point shape predictor + 150×150 chip (faces: {faces})",
                task="chip",
                paths=[str(photo)],
                runs=runs,
            )
        )
    crops = calibration_crops(models, detector)[:32]
    for precision, model in (("fp32", models.facenet), (int8_label(models), facenet_for_precision(models, "int8"))):
        for batch in (1, 32):
            embedder = Embedder(model, batch_size=batch)
            row = Row(
                f"embedding network only, {precision}, batch {batch} (ms/face)",
                median_ms(partial(embedder.embed, crops[:batch]), runs, batch),
                f"FaceNet {precision} on 160×160 aligned crops",
            )
            rows.append(
                ask_peers(
                    peers,
                    row,
                    "ResNet on 150×150 chips, {faces} per call (face_encodings: 1)",
                    task="resnet",
                    paths=[str(photos["one-face photo"])],
                    faces=batch,
                    runs=runs,
                )
            )
    return rows


def end_to_end_rows(runs: int, peers: dict[str, Peer], photos: dict[str, Path]) -> list[Row]:
    """A photo file to embeddings of all its faces, each library with its defaults."""
    label = {"fp32": "fp32", "int8": int8_label(ensure_models())}
    rows = []
    for name, photo in photos.items():
        for precision in ("fp32", "int8"):
            gate = FaceGate(precision=precision)
            ours = median_ms(partial(gate.embed, photo), runs)
            ran = f"load + MTCNN (min face 20) + warp + FaceNet {label[precision]} (faces: {len(gate.embed(photo))})"
            row = Row(f"end to end {label[precision]}, {name} (ms/photo)", ours, ran)
            rows.append(
                ask_peers(
                    peers,
                    row,
                    "load + HOG (upsample 1) + 5-point landmarks + chip + ResNet (faces: {faces})",
                    task="end_to_end",
                    paths=[str(photo)],
                    runs=runs,
                )
            )
    return rows


def measure(runs: int, peers: dict[str, Peer], folder: Path) -> list[Row]:
    """Every row of the table; each peer row is timed right after ours."""
    models = ensure_models()
    photos = {"one-face photo": one_face_photo(models)}
    if FOUR_FACES.is_file():
        photos["4-face photo"] = FOUR_FACES
    return (
        detection_rows(runs, peers, test_images(models, folder))
        + stage_rows(runs, peers, photos)
        + end_to_end_rows(runs, peers, photos)
    )


def ms_text(ms: float) -> str:
    """Milliseconds with three significant digits below 100 ms (alignment takes a tenth of one), else whole."""
    return f"{ms:.3g}" if ms < 100 else f"{ms:.0f}"


def table(rows: list[Row], labels: list[str]) -> str:
    """The rows as a Markdown table with, per peer, its ms and how many times faster FaceGate is (peer / ours)."""
    head = [
        "stage",
        "FaceGate ms",
        *[h for label in labels for h in (f"{label} ms", f"× vs {label}")],
        "FaceGate ran",
        "face_recognition ran",
    ]
    lines = ["| " + " | ".join(head) + " |", "|---|" + "---:|" * (1 + 2 * len(labels)) + "---|---|"]
    for r in rows:
        cells = [r.name, ms_text(r.ours)]
        for label in labels:
            theirs = r.theirs.get(label)
            cells += [ms_text(theirs), f"{theirs / r.ours:.1f}×"] if theirs is not None else ["n/a", "n/a"]
        lines.append("| " + " | ".join([*cells, r.ours_ran, r.peer_ran or "n/a"]) + " |")
    return "\n".join(lines)


def machine() -> str:
    """The machine line plus load average and library versions, for the report header."""
    import onnxruntime

    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return f"{describe_machine()}, load average {load}; onnxruntime {onnxruntime.__version__}, OpenCV {cv2.__version__}"


def start_peers(no_peer: bool) -> tuple[dict[str, Peer], list[str]]:
    """Every peer that starts, by label, and one report line per peer saying what it is or why it is missing."""
    if no_peer:
        return {}, ["not measured (--no-peer)"]
    peers, notes = {}, []
    for setup in PEERS:
        peer, note = start_peer(setup)
        notes.append(note if peer is not None else f"{setup.label}: not measured: {note}")
        if peer is not None:
            peers[setup.label] = peer
    return peers, notes


def main() -> None:
    """Parse arguments, measure, print the table and write benchmarks/results/pipeline.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per row, after one warm-up (default 10)")
    parser.add_argument("--no-peer", action="store_true", help="skip face_recognition")
    args = parser.parse_args()

    peers, peer_notes = start_peers(args.no_peer)
    before = machine()
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = measure(args.runs, peers, Path(folder))
    finally:
        for peer in peers.values():
            peer.close()
    text = table(rows, list(peers))
    print(text)
    command = "python " + shlex.join(["benchmarks/pipeline.py", *sys.argv[1:]])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Pipeline speed\n\n"
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}\n"
        f"- command: `{command}`\n- machine at start: {before}\n- machine at end: {machine()}\n"
        + "".join(f"- peer {note}\n" for note in peer_notes)
        + f"- medians of {args.runs} runs after a warm-up; ms per image, per face or per photo as the row says; "
        "× vs a peer = its ms / FaceGate's ms (> 1: FaceGate is faster); every library with its default threads\n\n"
        f"{text}\n"
    )
    print(f"\nwritten to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
