"""Annotated videos people can play: H.264 (VP9 in .webm) about the source's size, with the source's sound, that
Chromium decodes in a <video> element; an interrupted run leaves a playable file; bad outputs are one clear error."""

from __future__ import annotations

import base64
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import pytest
from browser import CHROMIUM, FLAGS, MISSING

from facegate.errors import VideoError
from facegate.video import writer as writer_module
from facegate.video.reader import VideoFile
from facegate.video.writer import VideoWriter, check_output

VIDEO_FLAGS = [*FLAGS, "--allow-file-access-from-files", "--autoplay-policy=no-user-gesture-required"]


def mark(rgb: np.ndarray, index: int) -> np.ndarray:
    """What annotation adds to a frame: a box and a name."""
    out = rgb.copy()
    cv2.rectangle(out, (200 + index % 50, 80), (330 + index % 50, 240), (0, 210, 0), 2)
    cv2.putText(out, f"someone 0.{index % 100:02d}", (200, 72), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 210, 0), 1)
    return out


def write_clip(source: Path, out: Path, frames: int | None = None) -> VideoWriter:
    """The source's first `frames` frames (all: None), marked, written as `facegate video` writes them."""
    video = VideoFile(source)
    writer = VideoWriter(out, source, video.fps, video.width, video.height)
    for index, rgb in video:
        if frames is not None and index >= frames:
            break
        writer.write(index, mark(rgb, index))
    writer.close()
    return writer


@pytest.fixture(scope="module")
def hamilton(shared_data: Path) -> Path:
    return shared_data / "media" / "videos" / "hamilton_clip.mp4"


@pytest.fixture(scope="module")
def written(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The whole Hamilton clip (640×360, 29.97 fps, H.264 + AAC), marked and written to .mp4."""
    out = tmp_path_factory.mktemp("output") / "hamilton.mp4"
    assert write_clip(hamilton, out).sound
    return out


def audio_packets(path: Path, lead: Fraction = Fraction(0), end: Fraction | None = None) -> list[bytes]:
    """The payloads of the first audio stream's packets from `lead` seconds on (and before `end`, if given)."""
    with av.open(str(path)) as container:
        packets = [p for p in container.demux(container.streams.audio[0]) if p.size]
        times = [Fraction(p.dts) * p.time_base for p in packets]
        return [bytes(p) for p, t in zip(packets, times) if t >= lead and (end is None or t - lead < end)]


def sound_seconds(path: Path) -> float:
    """How long the first audio stream plays, from its decoded samples."""
    with av.open(str(path)) as container:
        return sum(f.samples for f in container.decode(audio=0)) / container.streams.audio[0].rate


def test_output_is_h264_about_the_source_size_with_its_sound_copied(hamilton: Path, written: Path) -> None:
    with av.open(str(written)) as out:
        video = out.streams.video[0]
        assert [s.type for s in out.streams] == ["video", "audio"]
        assert video.codec_context.name == "h264" and video.codec_context.pix_fmt == "yuv420p"
        assert (video.width, video.height) == (640, 360) and video.average_rate == Fraction(2997, 100)
        assert out.streams.audio[0].codec_context.name == "aac"
        end = Fraction(video.frames) / video.average_rate
        first = next(p for p in out.demux(out.streams.audio[0]) if p.size)
        assert abs(float(first.dts * first.time_base)) < 0.05  # sound and pictures start together
    assert video.frames == 275
    ratio = written.stat().st_size / hamilton.stat().st_size
    print(f"output {written.stat().st_size} bytes, input {hamilton.stat().st_size}: {ratio:.2f}×")
    assert 0.5 < ratio < 2.0  # the mp4v writer this replaced made 3.4× the input
    with av.open(str(hamilton)) as src:
        lead = Fraction(src.streams.video[0].start_time) * src.streams.video[0].time_base
    kept = audio_packets(hamilton, lead, end)  # the source's sound under its pictures, packet for packet
    assert lead > 0.5 and len(kept) > 300 and audio_packets(written) == kept


def test_webm_gets_vp9_and_the_sound_reencoded_as_opus(hamilton: Path, tmp_path: Path) -> None:
    out = tmp_path / "clip.webm"
    assert write_clip(hamilton, out, frames=60).codec == "VP9"
    with av.open(str(out)) as result:
        assert [s.codec_context.name for s in result.streams] == ["vp9", "opus"]
        assert sum(1 for _ in result.decode(video=0)) == 60
    assert sound_seconds(out) == pytest.approx(60 / 29.97, abs=0.05)


@pytest.fixture(scope="module")
def webm(hamilton: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("webm") / "hamilton.webm"
    write_clip(hamilton, out, frames=90)
    return out


@pytest.mark.parametrize("kind", ["written", "webm"])
def test_chromium_plays_the_output_in_a_video_element(kind: str, request: pytest.FixtureRequest) -> None:
    """Loaded from a file URL into <video>: it decodes, plays on, has sound, and shows the frames we wrote."""
    playwright = pytest.importorskip("playwright.sync_api", reason="Playwright for Python is not installed")
    if not CHROMIUM.exists():
        pytest.skip(MISSING)
    video: Path = request.getfixturevalue(kind)
    page_file = video.with_name(f"{video.stem}.html")
    page_file.write_text("<!doctype html><body></body>")
    shown = 30  # seek to the middle of this frame
    with playwright.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=VIDEO_FLAGS)
        page = browser.new_page()
        page.goto(page_file.as_uri())
        state = page.evaluate(PLAY, [video.name, (shown + 0.5) / 29.97])
        browser.close()
    assert state["ready"] >= 2 and (state["width"], state["height"]) == (640, 360), state
    assert state["after"] > state["before"] + 0.2 and state["audio"] > 0, state
    canvas = cv2.imdecode(np.frombuffer(base64.b64decode(state["png"].split(",")[1]), np.uint8), cv2.IMREAD_COLOR)
    with av.open(str(video)) as ours:
        frames = [f.to_ndarray(format="bgr24") for _, f in zip(range(shown + 2), ours.decode(video=0))]
    gaps = [float(np.abs(canvas.astype(int) - f).mean()) for f in frames[shown - 1 : shown + 2]]
    assert canvas.std() > 10 and gaps[1] < 3 and gaps[1] < min(gaps[0], gaps[2]), gaps  # that very frame


PLAY = """async ([src, at]) => {
  const v = document.createElement('video');
  v.muted = true; v.preload = 'auto'; v.src = src; document.body.appendChild(v);
  await new Promise((ok, bad) => {
    v.onloadeddata = ok; v.onerror = () => bad(new Error('media error ' + v.error.code));
  });
  const ready = v.readyState;
  v.currentTime = at; await new Promise(ok => { v.onseeked = ok; });
  const canvas = document.createElement('canvas');
  canvas.width = v.videoWidth; canvas.height = v.videoHeight;
  canvas.getContext('2d').drawImage(v, 0, 0);
  await v.play(); const before = v.currentTime;
  await new Promise(r => setTimeout(r, 800));
  const after = v.currentTime; v.pause();
  return {ready, width: v.videoWidth, height: v.videoHeight, before, after, png: canvas.toDataURL('image/png'),
          audio: v.webkitAudioDecodedByteCount};
}"""


def test_an_interrupted_run_leaves_a_playable_file_of_what_was_written(hamilton: Path, tmp_path: Path) -> None:
    from facegate.match.nearest import NearestNeighbourIdentifier
    from facegate.pipeline import FaceGate
    from facegate.video.annotate_video import annotate_video
    from facegate.video.recognizer import LabelledFace, VideoRecognizer

    class Interrupting(VideoRecognizer):
        """Finds nobody, and is stopped (Ctrl-C) at frame 40."""

        def process(self, frame: int, rgb: np.ndarray) -> list[LabelledFace]:
            if frame == 40:
                raise KeyboardInterrupt
            return []

    out = tmp_path / "stopped.mp4"
    with pytest.raises(KeyboardInterrupt):
        annotate_video(VideoFile(hamilton), out, Interrupting(FaceGate(), NearestNeighbourIdentifier()), progress=False)
    assert [p.name for p in tmp_path.iterdir()] == ["stopped.mp4"]  # no hidden file left behind
    with av.open(str(out)) as result:
        assert sum(1 for _ in result.decode(video=0)) == 40
    assert sound_seconds(out) == pytest.approx(40 / 29.97, abs=0.05)  # the sound stops with the pictures


def test_a_silent_source_gives_pictures_only(tmp_path: Path) -> None:
    source, out = tmp_path / "silent.avi", tmp_path / "out.mp4"
    capture = cv2.VideoWriter(str(source), cv2.VideoWriter.fourcc(*"MJPG"), 25.0, (65, 49))  # odd sides
    for k in range(10):
        capture.write(np.full((49, 65, 3), 20 * k, np.uint8))
    capture.release()
    assert write_clip(source, out).sound is False
    with av.open(str(out)) as result:
        assert [s.type for s in result.streams] == ["video"]
        frames = [f.to_ndarray(format="rgb24") for f in result.decode(video=0)]
    assert len(frames) == 10 and frames[0].shape == (48, 64, 3)  # 4:2:0 takes even sides only
    assert np.allclose([f.mean() for f in frames], [20 * k for k in range(10)], atol=6)  # each its own picture


def test_bad_outputs_are_one_clear_error_naming_the_users_file(
    tmp_path: Path, hamilton: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(VideoError, match=r"out\.avi: unsupported output type; use one of .mp4, .m4v, .mov, .mkv"):
        check_output(tmp_path / "out.avi")
    with pytest.raises(VideoError, match="output folder does not exist"):
        check_output(tmp_path / "missing" / "out.mp4")
    taken = tmp_path / "taken.mp4"
    taken.mkdir()  # a folder where the file should go
    with pytest.raises(VideoError, match=rf"^{taken}: cannot write the video there"):
        VideoWriter(taken, hamilton, 29.97, 640, 360)
    monkeypatch.setattr(writer_module, "_has_encoder", lambda name: name != "libx264")  # a PyAV without x264
    with pytest.raises(
        VideoError,
        match=r"out\.mp4: this PyAV build has no H\.264 encoder \(libx264\); write "
        r"\.webm instead$",
    ):
        check_output(tmp_path / "out.mp4")
