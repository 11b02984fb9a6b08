"""Speed of every pipeline stage on real photos, next to face_recognition (dlib) measured in the same run.

Run by `make bench`. Prints one table and writes it, with the machine, date and command, to
benchmarks/results/pipeline.md. Every figure is the median of `--runs` timed runs after a warm-up; the peer runs
in its own virtual environment (benchmarks/.venv-face-recognition, created on first use) as a subprocess, and
each of its rows is timed right after ours so both see the same machine load.

Images: a group photo and a frame of the 1080p pedestrian video, scaled to cover the target size and
centre-cropped, and one 5-celebrity photo centred on a grey canvas of that size.
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
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import cv2
import numpy as np

from facegate import FaceGate
from facegate.detect.haar import HaarDetector
from facegate.detect.mtcnn import MTCNNDetector
from facegate.embed import Embedder
from facegate.experiments.machine import describe_machine
from facegate.imageio import load_image
from facegate.models.facenet_int8 import calibration_crops, facenet_for_precision
from facegate.models import ModelFiles, ensure_models

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "media"
PEER_VENV = HERE / ".venv-face-recognition"
PEER_SCRIPT = HERE / "face_recognition_peer.py"
RESULTS = HERE / "results" / "pipeline.md"
SIZES = {"640x480": (640, 480), "1920x1080": (1920, 1080)}
# dlib's HOG window is 80 px: each 2× upsampling halves the smallest face it finds (80 → 40 → 20)
HOG_UPSAMPLE = {20: 2, 40: 1}


@dataclass
class Row:
    """One line of the table: our median ms, the peer's (None when not measured) and what the peer ran."""

    name: str
    ours: float
    theirs: float | None = None
    peer_note: str = ""


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
    resized = cv2.resize(image, (max(width, round(image.shape[1] * scale)), max(height, round(image.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    y, x = (resized.shape[0] - height) // 2, (resized.shape[1] - width) // 2
    return resized[y:y + height, x:x + width]


def centred(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """An RGB image centred, unscaled, on a mid-grey width×height canvas."""
    out = np.full((height, width, 3), 128, dtype=np.uint8)
    y, x = (height - image.shape[0]) // 2, (width - image.shape[1]) // 2
    out[y:y + image.shape[0], x:x + image.shape[1]] = image
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
        sources += [load_image(SHARED / "groups" / "multiface.jpg"),
                    video_frame(SHARED / "videos" / "pedestrians_1080p.mp4", 50)]
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
        self._proc = subprocess.Popen([str(python), str(PEER_SCRIPT)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                      text=True)

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


def peer_python() -> tuple[Path | None, str]:
    """The peer venv's python, creating and filling the venv on first use; (None, why) when that fails."""
    python = PEER_VENV / "bin" / "python"
    steps = [
        [sys.executable, "-m", "venv", str(PEER_VENV)],
        [str(python), "-m", "pip", "install", "--quiet", "setuptools<70", "dlib-bin", "face_recognition_models",
         "numpy", "pillow", "click"],
        [str(python), "-m", "pip", "install", "--quiet", "--no-deps", "face_recognition"],
    ]
    if not python.exists():
        for step in steps:
            done = subprocess.run(step, capture_output=True, text=True)
            if done.returncode != 0:
                return None, f"`{shlex.join(step)}` failed: {done.stderr.strip().splitlines()[-1:]}"
    check = subprocess.run([str(python), "-c", "import face_recognition, dlib"], capture_output=True, text=True)
    if check.returncode != 0:
        return None, f"face_recognition does not import in {PEER_VENV}: {check.stderr.strip().splitlines()[-1:]}"
    return python, ""


def measure(runs: int, peer: Peer | None, folder: Path) -> list[Row]:
    """Every row of the table; each peer row is timed right after ours."""
    models = ensure_models()
    images = test_images(models, folder)
    pixels = {label: [load_image(p) for p in paths] for label, paths in images.items()}
    rows: list[Row] = []

    def detect_row(name: str, detector: MTCNNDetector | HaarDetector, label: str, min_face: int) -> None:
        ours = median_ms(lambda: [detector.detect(im) for im in pixels[label]], runs, per=len(pixels[label]))
        row = Row(name, ours)
        if peer is not None:
            up = HOG_UPSAMPLE[min_face]
            reply = peer.ask(task="detect", paths=[str(p) for p in images[label]], upsample=up, runs=runs)
            row.theirs, row.peer_note = reply["ms"], f"HOG, upsample {up}"
        rows.append(row)

    for label in SIZES:
        for min_face in (20, 40):
            mtcnn = MTCNNDetector(models.pnet, models.rnet, models.onet, min_face=min_face)
            detect_row(f"MTCNN {label}, min face {min_face} (ms/image)", mtcnn, label, min_face)
            detect_row(f"Haar {label}, min face {min_face} (ms/image)", HaarDetector(min_face=min_face), label,
                       min_face)

    detector = MTCNNDetector(models.pnet, models.rnet, models.onet)
    crops = calibration_crops(models, detector)[:32]
    int8 = facenet_for_precision(models, "int8")  # what FaceGate(precision="int8") runs on this CPU
    shipped = "int8" if int8 == models.facenet_int8 else "int8 (off on this CPU: fp32 runs)"
    for precision, model in (("fp32", models.facenet), (shipped, int8)):
        for batch in (1, 32):
            embedder = Embedder(model, batch_size=batch)
            row = Row(f"embedding {precision}, batch {batch} (ms/face)",
                      median_ms(lambda: embedder.embed(crops[:batch]), runs, batch))
            if peer is not None:
                reply = peer.ask(task="encode", paths=[str(one_face_photo(models))], faces=batch, runs=runs)
                row.theirs, row.peer_note = reply["ms"], f"landmarks + ResNet, {batch} face(s) per call"
            rows.append(row)

    photo = one_face_photo(models)
    for precision in ("fp32", "int8"):
        gate = FaceGate(precision=precision)
        row = Row(f"end to end {precision}, one-face photo file (ms)", median_ms(lambda: gate.embed(photo), runs))
        if peer is not None:
            reply = peer.ask(task="end_to_end", paths=[str(photo)], runs=runs)
            row.theirs, row.peer_note = reply["ms"], "load + HOG (upsample 1) + encode"
        rows.append(row)
    return rows


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table with our/their ratio."""
    lines = ["| stage | FaceGate ms | face_recognition ms | ours/theirs | face_recognition ran |",
             "|---|---:|---:|---:|---|"]
    for r in rows:
        theirs = f"{r.theirs:.1f}" if r.theirs is not None else "n/a"
        ratio = f"{r.ours / r.theirs:.2f}" if r.theirs else "n/a"
        lines.append(f"| {r.name} | {r.ours:.1f} | {theirs} | {ratio} | {r.peer_note} |")
    return "\n".join(lines)


def machine() -> str:
    """The machine line plus load average and library versions, for the report header."""
    import onnxruntime

    load = " ".join(f"{v:.1f}" for v in os.getloadavg())
    return (f"{describe_machine()}, load average {load}; onnxruntime {onnxruntime.__version__}, "
            f"OpenCV {cv2.__version__}")


def main() -> None:
    """Parse arguments, measure, print the table and write benchmarks/results/pipeline.md."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="timed runs per row, after one warm-up (default 10)")
    parser.add_argument("--no-peer", action="store_true", help="skip face_recognition")
    args = parser.parse_args()

    peer_note = "not measured (--no-peer)"
    peer: Peer | None = None
    if not args.no_peer:
        python, why = peer_python()
        peer = Peer(python) if python is not None else None
        peer_note = "face_recognition (dlib-bin) in benchmarks/.venv-face-recognition" if peer else f"not measured: {why}"
    before = machine()
    try:
        with tempfile.TemporaryDirectory() as folder:
            rows = measure(args.runs, peer, Path(folder))
    finally:
        if peer is not None:
            peer.close()
    text = table(rows)
    print(text)
    command = "python " + shlex.join(["benchmarks/pipeline.py", *sys.argv[1:]])
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        "# Pipeline speed\n\n"
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}\n"
        f"- command: `{command}`\n- machine at start: {before}\n- machine at end: {machine()}\n"
        f"- peer: {peer_note}\n- medians of {args.runs} runs after a warm-up; ms per image, per face or per photo "
        "as the row says; ours/theirs < 1 means FaceGate is faster\n\n"
        f"{text}\n"
    )
    print(f"\nwritten to {RESULTS.relative_to(HERE.parent)}")


if __name__ == "__main__":
    main()
