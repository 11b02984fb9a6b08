"""Annotated videos keep the source's sound: audio packets are copied unchanged and line up with the pictures."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np

from facegate.video.audio import add_source_audio, keep_audio


def write_pictures(source: Path, out: Path, frames: int) -> None:
    """The first `frames` pictures of `source`, re-encoded by OpenCV (as `facegate video` writes them)."""
    capture = cv2.VideoCapture(str(source))
    size = (int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    writer = cv2.VideoWriter(str(out), cv2.VideoWriter_fourcc(*"mp4v"), capture.get(cv2.CAP_PROP_FPS), size)
    for _ in range(frames):
        ok, frame = capture.read()
        assert ok
        writer.write(frame)
    writer.release()
    capture.release()


def audio_payloads(path: Path) -> list[bytes]:
    with av.open(str(path)) as container:
        return [bytes(p) for p in container.demux(container.streams.audio[0]) if p.size]


def test_source_sound_is_copied_packet_for_packet_and_starts_with_the_first_picture(shared_data: Path,
                                                                                     tmp_path: Path) -> None:
    source = shared_data / "media" / "videos" / "hamilton_clip.mp4"
    pictures, out = tmp_path / "pictures.mp4", tmp_path / "out.mp4"
    write_pictures(source, pictures, 50)
    assert add_source_audio(source, pictures, out)
    with av.open(str(source)) as src:
        video = src.streams.video[0]
        lead = Fraction(video.start_time) * video.time_base  # the source's pictures start after its sound
        audio = src.streams.audio[0]
        kept = [bytes(p) for p in src.demux(audio) if p.size and Fraction(p.dts) * p.time_base >= lead]
    assert lead > 0.5 and len(kept) > 300
    assert audio_payloads(out) == kept
    with av.open(str(out)) as result:
        assert [s.type for s in result.streams] == ["video", "audio"]
        assert result.streams.audio[0].codec_context.name == "aac"
        first = next(p for p in result.demux(result.streams.audio[0]) if p.size)
        assert abs(float(first.dts * first.time_base)) < 0.05  # sound and pictures start together
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 50
    ok, frame = capture.read()
    assert ok and frame.shape == (360, 640, 3)


def test_a_silent_source_leaves_the_pictures_as_written(tmp_path: Path) -> None:
    source, pictures, out = tmp_path / "silent.mp4", tmp_path / "pictures.mp4", tmp_path / "out.mp4"
    writer = cv2.VideoWriter(str(source), cv2.VideoWriter_fourcc(*"mp4v"), 25.0, (64, 48))
    for k in range(10):
        writer.write(np.full((48, 64, 3), 20 * k, np.uint8))
    writer.release()
    write_pictures(source, pictures, 10)
    written = pictures.read_bytes()
    assert keep_audio(source, pictures, out) is False
    assert out.read_bytes() == written and not pictures.exists()
