"""End-to-end video recognition on a real test video built from the 5-celebrity val photos."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from facegate.cli import main
from facegate.errors import VideoError
from facegate.gallery.folders import FolderGallery, embed_gallery_folder
from facegate.imageio import load_image
from facegate.match.decision import UNKNOWN
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.models import ensure_models
from facegate.pipeline import FaceGate
from facegate.video import DEFAULT_RETRIES
from facegate.video.reader import VideoFile
from facegate.video.recognizer import LabelledFace, VideoRecognizer
from facegate.video.tracking import Track
from facegate.video.watch import Watcher

SIZE = (640, 480)
FPS = 12.0
GALLERY = ("ben_afflek", "elton_john", "jerry_seinfeld", "madonna")  # mindy_kaling stays out: the stranger


@dataclass(frozen=True)
class Placement:
    """Ground truth: who is pasted where (x1, y1, x2, y2) in one frame."""

    person: str
    box: tuple[int, int, int, int]


Shot = tuple[tuple[int, int, int], list[tuple[str, int, tuple[int, int, int], tuple[int, int, int]]]]
# Each shot: background colour, and per person (person, val photo index, start (x, y, side), end (x, y, side)).
SHOTS: list[Shot] = [
    ((70, 90, 120), [("ben_afflek", 0, (40, 120, 220), (380, 150, 220))]),  # pan
    ((150, 120, 90), [("elton_john", 1, (230, 150, 150), (150, 70, 320))]),  # zoom in
    (
        (60, 110, 70),
        [
            ("jerry_seinfeld", 0, (30, 40, 210), (60, 220, 210)),  # two people at once
            ("madonna", 1, (380, 240, 200), (400, 60, 230)),
        ],
    ),
    ((110, 80, 120), [("mindy_kaling", 0, (60, 60, 180), (300, 200, 240))]),  # the stranger: pan + zoom
    (
        (90, 90, 90),
        [
            ("ben_afflek", 2, (380, 100, 240), (320, 160, 180)),  # two again, zooming apart
            ("elton_john", 3, (40, 200, 180), (60, 120, 250)),
        ],
    ),
]
FRAMES_PER_SHOT = 14


def build_video(path: Path, shots: list[Shot] = SHOTS) -> list[list[Placement]]:
    """Write the test video with OpenCV's VideoWriter; return the ground truth of every frame."""
    root = ensure_models().celebrity / "val"
    rng = np.random.default_rng(0)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), FPS, SIZE)
    truth: list[list[Placement]] = []
    for colour, people in shots:
        texture = rng.normal(0, 12, (SIZE[1], SIZE[0], 1))
        background = np.clip(np.asarray(colour, np.float32) + texture, 0, 255).astype(np.uint8)
        photos = [load_image(sorted((root / person).iterdir())[index]) for person, index, _, _ in people]
        for k in range(FRAMES_PER_SHOT):
            t = k / (FRAMES_PER_SHOT - 1)
            frame, placed = background.copy(), []
            for (person, _, start, end), photo in zip(people, photos):
                x, y, side = (round(a + (b - a) * t) for a, b in zip(start, end))
                h = round(side * photo.shape[0] / photo.shape[1])
                frame[y : y + h, x : x + side] = cv2.resize(photo, (side, h), interpolation=cv2.INTER_AREA)
                placed.append(Placement(person, (x, y, x + side, y + h)))
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
            truth.append(placed)
    writer.release()
    return truth


def link_gallery(root: Path) -> Path:
    """A gallery of the GALLERY people's train photos, one sub-folder each."""
    train = ensure_models().celebrity / "train"
    root.mkdir()
    for person in GALLERY:
        (root / person).symlink_to(train / person, target_is_directory=True)
    return root


@dataclass(frozen=True)
class Recognised:
    frames: list[list[LabelledFace]]
    embedded_faces: int
    tracks: list[Track]


@pytest.fixture(scope="session")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("video")


@pytest.fixture(scope="session")
def test_video(workdir: Path) -> tuple[Path, list[list[Placement]]]:
    path = workdir / "celebrities.mp4"
    return path, build_video(path)


@pytest.fixture(scope="session")
def short_video(workdir: Path) -> Path:
    """The first two shots only (ben_afflek, then elton_john), for the command-line tests."""
    path = workdir / "short.mp4"
    build_video(path, SHOTS[:2])
    return path


@pytest.fixture(scope="session")
def gallery(workdir: Path) -> tuple[FaceGate, FolderGallery]:
    fg = FaceGate()
    found = embed_gallery_folder(fg, link_gallery(workdir / "gallery"))
    assert sorted(set(found.labels)) == list(GALLERY) and not found.skipped
    return fg, found


@pytest.fixture(scope="session")
def one_photo_gallery(workdir: Path, gallery: tuple[FaceGate, FolderGallery]) -> Path:
    """The original demo's layout, <person>.jpg: each person's most typical train photo (nearest their mean)."""
    found = gallery[1]
    root = workdir / "one_photo_gallery"
    root.mkdir()
    labels = np.asarray(found.labels)
    for person in GALLERY:
        mine = np.flatnonzero(labels == person)
        centre = found.embeddings[mine].mean(axis=0)
        best = mine[np.linalg.norm(found.embeddings[mine] - centre, axis=1).argmin()]
        (root / f"{person}.jpg").symlink_to(found.sources[best])
    return root


@pytest.fixture(scope="session")
def recognised(test_video: tuple[Path, list[list[Placement]]], gallery: tuple[FaceGate, FolderGallery]) -> Recognised:
    fg, found = gallery
    recognizer = VideoRecognizer(fg, NearestNeighbourIdentifier().fit(found.embeddings, found.labels))
    frames = [recognizer.process(index, rgb) for index, rgb in VideoFile(test_video[0])]
    return Recognised(frames, recognizer.embedded_faces, recognizer.close())


def faces_on(placement: Placement, found: list[LabelledFace]) -> list[LabelledFace]:
    """The recognised faces whose centre lies on the pasted photo."""
    x1, y1, x2, y2 = placement.box
    return [
        f
        for f in found
        if x1 <= (f.face.box[0] + f.face.box[2]) / 2 <= x2 and y1 <= (f.face.box[1] + f.face.box[3]) / 2 <= y2
    ]


@pytest.mark.slow
def test_right_name_on_the_right_frames(test_video: tuple[Path, list[list[Placement]]], recognised: Recognised) -> None:
    truth = test_video[1]
    assert len(recognised.frames) == len(truth)
    results = []
    for placed, found in zip(truth, recognised.frames):
        for placement in placed:
            hits = faces_on(placement, found)
            expected = placement.person if placement.person in GALLERY else UNKNOWN
            results.append(len(hits) == 1 and hits[0].label == expected)
    accuracy = float(np.mean(results))
    print(f"face-frames named right: {sum(results)}/{len(results)} = {accuracy:.1%}")
    # 92.9% measured: at the default point over 71 photos (threshold 0.824) Elton John's first track stays unknown
    # for 7 frames, until its mean face comes close enough (95.9% before the operating point counted photos)
    assert accuracy >= 0.9


@pytest.mark.slow
def test_no_identity_switch_no_flicker_and_the_stranger_stays_unknown(
    test_video: tuple[Path, list[list[Placement]]], recognised: Recognised
) -> None:
    people: dict[int, set[str]] = {}
    labels: dict[int, list[str]] = {}
    for placed, found in zip(test_video[1], recognised.frames):
        for placement in placed:
            for hit in faces_on(placement, found):
                people.setdefault(hit.track, set()).add(placement.person)
                labels.setdefault(hit.track, []).append(hit.label)
                if placement.person == "mindy_kaling":
                    assert hit.label == UNKNOWN
    assert len(people) >= 7  # one track per person per shot
    assert all(len(p) == 1 for p in people.values()), people
    for said in labels.values():  # unknown until sure, then one name for good: never a switch, never a flicker
        named = [i for i, label in enumerate(said) if label != UNKNOWN]
        assert not named or (len(set(said[named[0] :])) == 1 and named == list(range(named[0], len(said)))), said
    stranger = [t for t in recognised.tracks if people.get(t.id) == {"mindy_kaling"}]
    assert stranger and all(t.label == UNKNOWN for t in stranger)


@pytest.mark.slow
def test_tracking_spares_the_embedder(recognised: Recognised) -> None:
    face_frames = sum(len(found) for found in recognised.frames)
    assert recognised.embedded_faces < 0.5 * face_frames


@pytest.mark.slow
def test_video_command_writes_the_annotated_video_and_one_event_per_track(
    workdir: Path, short_video: Path, one_photo_gallery: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, events = workdir / "short_out.mp4", workdir / "short_events.jsonl"
    code = main(
        ["video", str(short_video), "--out", str(out), "--gallery", str(one_photo_gallery), "--events", str(events)]
    )
    assert code == 0, capsys.readouterr().err
    capture = cv2.VideoCapture(str(out))
    assert capture.get(cv2.CAP_PROP_FPS) == pytest.approx(FPS)
    assert (capture.get(cv2.CAP_PROP_FRAME_WIDTH), capture.get(cv2.CAP_PROP_FRAME_HEIGHT)) == SIZE
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) == 2 * FRAMES_PER_SHOT
    ok, first = capture.read()
    capture.release()
    original = cv2.VideoCapture(str(short_video)).read()[1]
    assert ok and np.abs(first.astype(int) - original).max() > 100  # a box and a label were drawn
    records = [json.loads(line) for line in events.read_text().splitlines()]
    named = [r for r in records if r["frames"] >= 5]
    assert [r["label"] for r in named] == ["ben_afflek", "elton_john"]
    assert named[0]["first_frame"] == 0 and named[1]["last_frame"] == 2 * FRAMES_PER_SHOT - 1
    assert named[1]["first_time"] == pytest.approx(FRAMES_PER_SHOT / FPS, abs=0.01)
    assert all(0 < r["best_score"] <= 1 for r in named)
    out_lines = capsys.readouterr().out.splitlines()
    assert out_lines[-2].startswith(f"wrote {out}: H.264 without sound, ")  # the test video is silent
    assert out_lines[-1].startswith(f"{2 * FRAMES_PER_SHOT} frames in ") and " fps), " in out_lines[-1]
    assert "tracks: ben_afflek ×1, elton_john ×1" in out_lines[-1]
    with av.open(str(out)) as written:
        assert written.streams.video[0].codec_context.name == "h264"


@pytest.mark.slow
def test_truncated_video_is_processed_up_to_the_damage_and_reported(
    workdir: Path, short_video: Path, one_photo_gallery: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    avi = workdir / "whole.avi"
    writer = cv2.VideoWriter(str(avi), cv2.VideoWriter_fourcc(*"MJPG"), FPS, SIZE)
    for _, rgb in VideoFile(short_video):
        writer.write(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    writer.release()
    broken = workdir / "truncated.avi"
    data = avi.read_bytes()
    broken.write_bytes(data[: len(data) // 2])
    out = workdir / "truncated_out.mp4"
    code = main(["video", str(broken), "--out", str(out), "--gallery", str(one_photo_gallery)])
    err = capsys.readouterr().err
    assert code == 2 and "truncated" in err and "were processed" in err
    written = cv2.VideoCapture(str(out)).get(cv2.CAP_PROP_FRAME_COUNT)
    assert 0 < written < 2 * FRAMES_PER_SHOT


def test_unreadable_video_is_a_clear_error(
    workdir: Path, short_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = workdir / "headless.mp4"
    broken.write_bytes(short_video.read_bytes()[:5000])  # the index (moov atom) is at the end: it is gone
    out = workdir / "never.mp4"
    assert main(["video", str(broken), "--out", str(out), "--gallery", str(workdir)]) == 2
    assert "not a readable video" in capsys.readouterr().err and not out.exists()
    assert main(["video", str(workdir / "missing.mp4"), "--out", str(out), "--gallery", str(workdir)]) == 2
    assert "no such video file" in capsys.readouterr().err


class FakeCamera:
    """Stands in for cv2.VideoCapture: each (re)open takes the next session, None = the camera is unreachable.

    A session streams its frames, then drops out; after the last session, read() acts as Ctrl-C.
    """

    def __init__(self, sessions: list[list[np.ndarray] | None]) -> None:
        self.sessions = sessions
        self.opened: list[FakeCamera.Capture] = []

    class Capture:
        def __init__(self, frames: list[np.ndarray] | None, last: bool) -> None:
            self.frames, self.last, self.released = frames, last, False

        def isOpened(self) -> bool:
            return self.frames is not None

        def read(self) -> tuple[bool, np.ndarray | None]:
            if self.frames:
                return True, self.frames.pop(0)
            if self.last:
                raise KeyboardInterrupt
            return False, None

        def set(self, prop: int, value: float) -> bool:
            return True

        def release(self) -> None:
            self.released = True

    def __call__(self, source: int | str) -> FakeCamera.Capture:
        assert self.sessions, "opened more often than the test planned"
        capture = self.Capture(self.sessions.pop(0), last=len(self.sessions) == 0)
        self.opened.append(capture)
        return capture


def bgr_frames(path: Path, start: int, stop: int) -> list[np.ndarray]:
    return [cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR) for index, rgb in VideoFile(path) if start <= index < stop]


@pytest.mark.slow
def test_watch_reconnects_with_backoff_reports_events_live_and_stops_on_ctrl_c(
    short_video: Path, gallery: tuple[FaceGate, FolderGallery]
) -> None:
    fg, found = gallery
    ben, elton = bgr_frames(short_video, 0, 10), bgr_frames(short_video, 14, 24)
    camera = FakeCamera([None, None, ben, None, elton, []])
    sleeps: list[float] = []
    events: list[tuple[int, str]] = []
    tracks: list[int] = []
    recognizer = VideoRecognizer(fg, NearestNeighbourIdentifier().fit(found.embeddings, found.labels))

    def heard(event: dict[str, Any]) -> None:
        events.append((watcher.summary.frames, event["label"]))
        tracks.append(event["track"])

    watcher = Watcher(
        recognizer,
        heard,
        open_capture=camera,
        sleep=sleeps.append,
    )
    summary = watcher.run(0)
    assert summary.interrupted and summary.frames == 20 and summary.reconnects == 2
    assert sleeps == [0.5, 1.0, 0.5, 1.0, 0.5]  # two failed opens; after each drop-out the back-off restarts
    # Elton John's track is unknown at first (its first frames are the hardest), then named: reported again
    assert [label for _, label in events] == ["ben_afflek", UNKNOWN, "elton_john"] and tracks[1] == tracks[2]
    assert events[0][0] < 10 and events[2][0] < 20  # reported while the person was still in view
    assert all(capture.released for capture in camera.opened)


def test_watch_gives_up_after_the_allowed_retries() -> None:
    camera = FakeCamera([None] * 4)
    sleeps: list[float] = []
    lines: list[str] = []
    recognizer = VideoRecognizer(FaceGate(), NearestNeighbourIdentifier())  # models load lazily: never here
    watcher = Watcher(recognizer, print, open_capture=camera, retries=2, sleep=sleeps.append, status=lines.append)
    with pytest.raises(VideoError, match="gave up after 3 attempts"):
        watcher.run("rtsp://127.0.0.1:8554/gate")
    assert sleeps == [0.5, 1.0] and len(camera.opened) == 3
    assert lines == [
        "cannot open rtsp://127.0.0.1:8554/gate; retrying in 0.5 s",
        "cannot open rtsp://127.0.0.1:8554/gate; retrying in 1 s",
    ]


@pytest.mark.slow
def test_watch_command_on_a_file_prints_events_and_ends(
    short_video: Path, one_photo_gallery: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["watch", str(short_video), "--gallery", str(one_photo_gallery)]) == 0
    out, err = capsys.readouterr()
    lines = out.splitlines()  # one line per person, as soon as the track is confirmed
    assert len(lines) == 2 and "ben_afflek" in lines[0] and "source ended after 28 frames" in err
    assert main(["watch", "missing.mp4", "--gallery", str(one_photo_gallery)]) == 2
    assert "no such video file" in capsys.readouterr().err


def test_watch_gives_up_by_default_and_says_why() -> None:
    camera = FakeCamera([None] * (DEFAULT_RETRIES + 2))
    sleeps: list[float] = []
    watcher = Watcher(
        VideoRecognizer(FaceGate(), NearestNeighbourIdentifier()), print, open_capture=camera, sleep=sleeps.append
    )
    with pytest.raises(VideoError, match=f"cannot open the video source \\(gave up after {DEFAULT_RETRIES + 1} "):
        watcher.run(0)
    assert len(camera.opened) == DEFAULT_RETRIES + 1 and len(sleeps) == DEFAULT_RETRIES
    assert 120 < sum(sleeps) < 300  # minutes, not forever: a service manager restarts it or raises the alarm


def test_watch_gives_up_on_a_source_that_opens_but_sends_nothing() -> None:
    camera = FakeCamera([[], [], [], []])  # each session opens, then read() fails at once
    lines: list[str] = []
    recognizer = VideoRecognizer(FaceGate(), NearestNeighbourIdentifier())
    watcher = Watcher(recognizer, print, open_capture=camera, retries=2, sleep=lambda _: None, status=lines.append)
    with pytest.raises(VideoError, match="sends no frames \\(gave up after 3 attempts in a row; --retries"):
        watcher.run("rtsp://127.0.0.1:8554/gate")
    assert (
        len(camera.opened) == 3 and lines[0] == "rtsp://127.0.0.1:8554/gate opened but sent no frame; retrying in 0.5 s"
    )


def test_watch_command_without_a_camera_gives_up_and_says_why(
    one_photo_gallery: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # no camera 9 here: OpenCV cannot open it, so watch retries once (0.5 s) and gives up
    assert main(["watch", "9", "--gallery", str(one_photo_gallery), "--retries", "1"]) == 2
    err = capsys.readouterr().err
    assert "cannot open 9; retrying in 0.5 s" in err
    assert "error: 9: cannot open the video source (gave up after 2 attempts in a row; --retries sets how many)" in err
    with pytest.raises(SystemExit):
        main(["watch", "9", "--gallery", str(one_photo_gallery), "--retries", "often"])
    assert "expected a whole number ≥ 0 or 'forever'" in capsys.readouterr().err


@pytest.mark.slow
def test_watch_with_the_gallery_database_names_people_and_stores_access_events(
    workdir: Path, short_video: Path, gallery: tuple[FaceGate, FolderGallery], capsys: pytest.CaptureFixture[str]
) -> None:
    from facegate.gallery import open_gallery
    from facegate.gallery.enroll import enroll_photo

    url = f"sqlite:///{workdir / 'watch_gallery.db'}"
    db = open_gallery(url)
    fg, found = gallery
    for person in GALLERY:
        person_id = db.add_person(person).id
        for source in sorted({Path(s) for s, label in zip(found.sources, found.labels) if label == person}):
            enroll_photo(fg, db, person_id, source.read_bytes(), source.name, largest=True)
    assert all(db.samples(p.id) for p in db.people())
    # Elton John's val photo sits at distance 0.93 from his train photos: beyond the default operating point's
    # 0.928 for 4 people (FPIR 1e-3), within FPIR 1e-2's; this clip checks naming and storing, so it runs at 1e-2
    assert main(["watch", str(short_video), "--db", url, "--gate", "north", "--fpir", "0.01"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and "ben_afflek" in lines[0] and "elton_john" in lines[1]
    events = db.events(gate="north")
    assert sorted(e.person for e in events) == ["ben_afflek", "elton_john"]
    assert all(e.decision == "match" and 0 < e.score <= 1 for e in events)


def test_video_with_an_empty_or_missing_gallery_database_is_a_clear_error(
    workdir: Path, short_video: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from facegate.gallery import open_gallery

    missing = workdir / "no_gallery.db"
    assert main(["video", str(short_video), "--out", str(workdir / "never.mp4"), "--db", str(missing)]) == 2
    assert f"there is no gallery at {missing}" in capsys.readouterr().err and not missing.exists()
    url = f"sqlite:///{workdir / 'empty_gallery.db'}"
    open_gallery(url)
    assert main(["video", str(short_video), "--out", str(workdir / "never.mp4"), "--db", url]) == 2
    assert "nobody is enrolled" in capsys.readouterr().err
