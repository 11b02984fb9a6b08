"""Tracker logic on synthetic faces: association, embedding economy, votes, splits and re-identification."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from facegate.detect.base import Face, iou_matrix
from facegate.match.decision import UNKNOWN, Decision
from facegate.video.tracking import Tracker

NAMES = {1: "ann", 2: "bob", 3: UNKNOWN}  # person 3 is a stranger


def crop_of(person: int, seed: int = 0) -> np.ndarray:
    """A textured 160×160 crop unique to the person (slight noise per frame); pixel (0, 0, 0) says who."""
    pattern = np.random.default_rng(person).integers(0, 200, (160, 160, 3))
    noise = np.random.default_rng(1000 + seed).integers(0, 8, (160, 160, 3))
    crop = (pattern + noise).astype(np.uint8)
    crop[0, 0, 0] = person
    return crop


class FakeRecogniser:
    """Embeds a crop as the one-hot vector of its person; counts calls; optional scripted labels."""

    def __init__(self, script: list[str] | None = None) -> None:
        self.faces = 0
        self.script = script

    def __call__(self, crops: np.ndarray) -> tuple[np.ndarray, list[Decision]]:
        embeddings = np.zeros((len(crops), 128), np.float32)
        decisions = []
        for i, crop in enumerate(crops):
            person = int(crop[0, 0, 0])
            embeddings[i, person] = 1.0
            label = self.script[self.faces] if self.script else NAMES[person]
            decisions.append(Decision(label, NAMES.get(person, "ann"), 1.0, 0.4 if label != UNKNOWN else 1.2))
            self.faces += 1
        return embeddings, decisions


@dataclass(frozen=True)
class Snapshot:
    id: int
    label: str
    frames: int


def face_at(x: float, y: float, side: float = 80) -> Face:
    return Face(box=(x, y, x + side, y + side), score=0.99)


def run(
    tracker: Tracker, frames: list[list[tuple[int, float, float]]], cuts: frozenset[int] = frozenset()
) -> list[list[Snapshot]]:
    """Feed frames of (person, x, y); return each face's track as it stood on that frame."""
    out = []
    for index, people in enumerate(frames):
        faces = [face_at(x, y) for _, x, y in people]
        crops = np.stack([crop_of(p, index) for p, _, _ in people]) if people else np.zeros((0, 160, 160, 3), np.uint8)
        tracks = tracker.update(index, faces, crops, cut=index in cuts)
        out.append([Snapshot(t.id, t.label, t.frames) for t in tracks])
    return out


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[5, 0, 15, 10]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150], [0.0]])
    assert iou_matrix(a, np.zeros((0, 4), np.float32)).shape == (2, 0)


def test_two_moving_people_keep_their_tracks_and_most_faces_are_not_embedded() -> None:
    recognise = FakeRecogniser()
    tracker = Tracker(recognise, votes=3, embed_every=3)
    frames = [[(1, 10 + 6 * k, 50), (2, 400 - 6 * k, 60 + 2 * k)] for k in range(30)]
    tracks = run(tracker, frames)
    ann_ids = {ts[0].id for ts in tracks}
    bob_ids = {ts[1].id for ts in tracks}
    assert len(ann_ids) == 1 and len(bob_ids) == 1 and ann_ids != bob_ids
    assert all(ts[0].label == "ann" and ts[1].label == "bob" for ts in tracks)
    assert recognise.faces == 2 * 3  # three votes each, then the face looks the same: no more embedding
    done = tracker.close()
    assert sorted(t.label for t in done) == ["ann", "bob"]
    event = done[0].to_event(fps=10.0)
    assert event["first_frame"] == 0 and event["last_frame"] == 29 and event["last_time"] == 2.9
    assert event["frames"] == 30 and event["best_score"] > 0.9


def test_someone_else_in_the_same_place_starts_a_new_track() -> None:
    recognise = FakeRecogniser()
    tracker = Tracker(recognise, votes=2)
    frames = [[(1, 100, 100)]] * 10 + [[(2, 102, 100)]] * 10  # same box, the person changes
    tracks = run(tracker, frames)
    assert tracks[9][0].label == "ann" and tracks[10][0].label == "bob"
    assert tracks[9][0].id != tracks[10][0].id
    assert [t.label for t in tracker.pop_finished()] == ["ann"]


def test_a_lost_face_is_reattached_by_its_embedding() -> None:
    tracker = Tracker(FakeRecogniser(), max_missed=5)
    frames = [[(1, 50, 50)]] * 5 + [[]] * 3 + [[(1, 400, 300)]] * 2  # gone for 3 frames, back elsewhere
    tracks = run(tracker, frames)
    assert tracks[0][0].id == tracks[-1][0].id
    assert tracks[-1][0].frames == 7


def test_tracks_end_after_max_missed_frames_and_on_a_cut() -> None:
    tracker = Tracker(FakeRecogniser(), max_missed=2)
    run(tracker, [[(1, 50, 50)], [], [], []])
    assert [t.label for t in tracker.pop_finished()] == ["ann"] and not tracker.tracks
    tracks = run(Tracker(FakeRecogniser()), [[(1, 50, 50)], [(2, 50, 50)]], cuts=frozenset({1}))
    assert tracks[0][0].id != tracks[1][0].id


def test_the_name_follows_the_vote_and_does_not_flicker() -> None:
    script = ["ann", UNKNOWN, "ann", UNKNOWN, UNKNOWN, UNKNOWN]
    tracker = Tracker(FakeRecogniser(script), votes=6, embed_every=1)
    labels = [ts[0].label for ts in run(tracker, [[(1, 50, 50)]] * 6)]
    # ties keep the current name; the stranger vote takes over only once it leads (frame 4: 3 to 2)
    assert labels == ["ann", "ann", "ann", "ann", UNKNOWN, UNKNOWN]


@pytest.mark.parametrize("cut", [False, True])
def test_the_same_person_after_a_jump_or_cut_keeps_the_track(cut: bool) -> None:
    tracks = run(Tracker(FakeRecogniser()), [[(1, 50, 50)], [(1, 300, 200)]], cuts=frozenset({1} if cut else ()))
    assert tracks[0][0].id == tracks[1][0].id
