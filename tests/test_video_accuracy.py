"""Track decisions at least as good as per-frame decisions, on the real Hamilton clip with one photo per person: its
wide shot and the first 59 frames of Lin-Manuel Miranda's close-up, hand-labelled (benchmarks/video_labels.json),
scored as benchmarks/video_accuracy.py scores them."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest

from facegate.pipeline import FaceGate
from facegate.video.reader import VideoFile
from facegate.video.recognizer import VideoRecognizer

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"
FRAMES = [*range(20), *range(82, 141)]  # the wide shot (both people, 24 and 41 px wide), then Lin-Manuel Miranda close


def load_benchmark() -> ModuleType:
    spec = importlib.util.spec_from_file_location("video_accuracy", BENCHMARKS / "video_accuracy.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_video_path_names_at_least_as_many_face_frames_as_stills_and_no_stranger(
    shared_data: Path, fg: FaceGate
) -> None:
    bench = load_benchmark()
    spec = json.loads((BENCHMARKS / "video_labels.json").read_text())["clips"]["hamilton"]
    clip = bench.labelled_clip("hamilton", spec, shared_data / "media")
    identifier = bench.identifier_for(fg, clip.gallery)
    scores, lin_close = [], []
    for tracking in (False, True):
        recognizer = VideoRecognizer(fg, identifier, tracking=tracking)
        score = bench.Score()
        for index, rgb in VideoFile(clip.video):
            if index not in FRAMES:
                continue
            found = recognizer.process(index, rgb)
            bench.score_frame(score, clip.truth.get(index, []), clip.ignore.get(index, []), found)
            if index >= 118:
                lin_close.append((tracking, [f.label for f in found]))
        scores.append(score)
    stills, video = scores
    print(f"named right: stills {stills.total(stills.right)}, video {video.total(video.right)} of {stills.labelled}")
    assert video.total(video.right) >= stills.total(stills.right) >= 60
    assert stills.false_names == video.false_names == 0
    # where a vote of single frames kept Lin-Manuel Miranda unknown for 24 frames, his track's mean face names him
    assert all(labels == ["lin_manuel_miranda"] for tracking, labels in lin_close if tracking)
