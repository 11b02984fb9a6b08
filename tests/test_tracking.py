"""Tracker logic on synthetic faces: association, embedding economy, splits, re-identification, and how a track is
named from its faces together (a consistent name is not outvoted by frames that say unknown; a stranger's one lucky
frame names nobody; a face walking up is named as soon as its close views are good)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from facegate.detect.base import Face, iou_matrix
from facegate.match.decision import UNKNOWN
from facegate.match.nearest import NearestNeighbourIdentifier
from facegate.video.tracking import LEAST_WEIGHT, Tracker, face_quality

DIM = 16
ANN, BOB, STRANGER = np.eye(DIM, dtype=np.float32)[:3]
IDENTIFIER = NearestNeighbourIdentifier(threshold=0.95).fit(np.stack([ANN, BOB]), ["ann", "bob"])


def near(centre: np.ndarray, distance: float, seed: int, shared: float = 0.0) -> np.ndarray:
    """A unit vector `distance` away from `centre`, towards a random direction among the dimensions nobody uses;
    `shared` of that direction is the same for every seed (how one person's frames resemble each other)."""
    rng = np.random.default_rng(seed)
    common, own = np.zeros(DIM), np.zeros(DIM)
    common[3] = 1.0
    own[4:] = rng.normal(size=DIM - 4)
    own /= np.linalg.norm(own)
    direction = shared * common + np.sqrt(1 - shared**2) * own
    angle = 2 * np.arcsin(distance / 2)
    return (np.cos(angle) * centre + np.sin(angle) * direction).astype(np.float32)


class Embedder:
    """Embeds a crop as the view its pixel (0, 0, 1) names; counts the faces embedded."""

    def __init__(self, views: list[np.ndarray]) -> None:
        self.views = views
        self.faces = 0

    def __call__(self, crops: np.ndarray) -> np.ndarray:
        self.faces += len(crops)
        return np.stack([self.views[int(c[0, 0, 1])] for c in crops])


def crop_of(person: int, view: int, seed: int) -> np.ndarray:
    """A textured 160×160 crop unique to the person (slight noise per frame) carrying its view number."""
    pattern = np.random.default_rng(person).integers(0, 200, (160, 160, 3))
    noise = np.random.default_rng(1000 + seed).integers(0, 8, (160, 160, 3))
    crop = (pattern + noise).astype(np.uint8)
    crop[0, 0, 1] = view
    return crop


@dataclass(frozen=True)
class Snapshot:
    id: int
    label: str
    frames: int


def face_at(x: float, y: float, side: float = 160) -> Face:
    return Face(box=(x, y, x + side, y + side), score=0.99)


# A frame: the faces in it, each (person, view, x, y) or (person, view, x, y, side).
Frame = list[tuple[float, ...]]


def run(tracker: Tracker, frames: list[Frame], cuts: frozenset[int] = frozenset()) -> list[list[Snapshot]]:
    """Feed the frames; return each face's track as it stood on that frame."""
    out = []
    for index, people in enumerate(frames):
        faces = [face_at(*f[2:]) for f in people]
        crops = (
            np.stack([crop_of(int(f[0]), int(f[1]), index) for f in people])
            if people
            else np.zeros((0, 160, 160, 3), np.uint8)
        )
        tracks = tracker.update(index, faces, crops, cut=index in cuts)
        out.append([Snapshot(t.id, t.label, t.frames) for t in tracks])
    return out


def tracker_of(views: list[np.ndarray], **options: float) -> tuple[Tracker, Embedder]:
    embed = Embedder(views)
    return Tracker(embed, IDENTIFIER.decide, **options), embed


ANN_BOB = [ANN, BOB]  # view 0: Ann, view 1: Bob


def test_iou_matrix() -> None:
    a = np.array([[0, 0, 10, 10], [20, 20, 30, 30]], np.float32)
    b = np.array([[5, 0, 15, 10]], np.float32)
    np.testing.assert_allclose(iou_matrix(a, b), [[50 / 150], [0.0]])
    assert iou_matrix(a, np.zeros((0, 4), np.float32)).shape == (2, 0)


def test_two_moving_people_keep_their_tracks_and_named_faces_are_not_embedded_again() -> None:
    tracker, embed = tracker_of(ANN_BOB, first_faces=3)
    frames = [[(1, 0, 10 + 6 * k, 50), (2, 1, 400 - 6 * k, 60 + 2 * k)] for k in range(30)]
    tracks = run(tracker, frames)
    ann_ids = {ts[0].id for ts in tracks}
    bob_ids = {ts[1].id for ts in tracks}
    assert len(ann_ids) == 1 and len(bob_ids) == 1 and ann_ids != bob_ids
    assert all(ts[0].label == "ann" and ts[1].label == "bob" for ts in tracks)
    assert embed.faces == 2 * 3  # three faces each, then the face looks the same: no more embedding
    done = tracker.close()
    assert sorted(t.label for t in done) == ["ann", "bob"]
    event = done[0].to_event(fps=10.0)
    assert event["first_frame"] == 0 and event["last_frame"] == 29 and event["last_time"] == 2.9
    assert event["frames"] == 30 and event["embedded"] == 3 and event["best_score"] > 0.9


def test_someone_else_in_the_same_place_starts_a_new_track() -> None:
    tracker, _ = tracker_of(ANN_BOB)
    frames = [[(1, 0, 100, 100)]] * 10 + [[(2, 1, 102, 100)]] * 10  # same box, the person changes
    tracks = run(tracker, frames)
    assert tracks[9][0].label == "ann" and tracks[10][0].label == "bob"
    assert tracks[9][0].id != tracks[10][0].id
    assert [t.label for t in tracker.pop_finished()] == ["ann"]


def test_a_lost_face_is_reattached_by_its_embedding() -> None:
    tracker, _ = tracker_of(ANN_BOB, max_missed=5)
    frames = [[(1, 0, 50, 50)]] * 5 + [[]] * 3 + [[(1, 0, 400, 300)]] * 2  # gone for 3 frames, back elsewhere
    tracks = run(tracker, frames)
    assert tracks[0][0].id == tracks[-1][0].id
    assert tracks[-1][0].frames == 7


def test_tracks_end_after_max_missed_frames_and_on_a_cut() -> None:
    tracker, _ = tracker_of(ANN_BOB, max_missed=2)
    run(tracker, [[(1, 0, 50, 50)], [], [], []])
    assert [t.label for t in tracker.pop_finished()] == ["ann"] and not tracker.tracks
    tracks = run(tracker_of(ANN_BOB)[0], [[(1, 0, 50, 50)], [(2, 1, 50, 50)]], cuts=frozenset({1}))
    assert tracks[0][0].id != tracks[1][0].id


@pytest.mark.parametrize("cut", [False, True])
def test_the_same_person_after_a_jump_or_cut_keeps_the_track(cut: bool) -> None:
    tracks = run(tracker_of(ANN_BOB)[0], [[(1, 0, 50, 50)], [(1, 0, 300, 200)]], cuts=frozenset({1} if cut else ()))
    assert tracks[0][0].id == tracks[1][0].id


def test_frames_that_say_unknown_do_not_outvote_a_consistent_name() -> None:
    """Ann's 11 frames: 7 just beyond the threshold (0.98), 4 within (0.85), alike but not the same: a vote said
    unknown 7 to 4; the track's mean face is near her and names her from its second frame on."""
    distances = [0.98, 0.98, 0.85, 0.98, 0.98, 0.85, 0.98, 0.98, 0.85, 0.98, 0.85]
    views = [near(ANN, d, seed, shared=0.8) for seed, d in enumerate(distances)]
    assert [d.label for d in IDENTIFIER.decide(np.stack(views))].count("ann") == 4  # one frame at a time
    tracker, _ = tracker_of(views)
    labels = [ts[0].label for ts in run(tracker, [[(1, k, 50, 50)] for k in range(len(views))])]
    assert labels == [UNKNOWN] + ["ann"] * 10


def test_a_strangers_lucky_frame_names_nobody() -> None:
    """A stranger's 12 frames scatter around a face 1.15 from Ann's; one of them comes within 0.93 of her (a photo
    alone would be named Ann). The track stays unknown on every frame, embedding each of them."""
    centre = near(ANN, 1.15, seed=99)
    views = [near(centre, 0.3, seed) for seed in range(12)]
    views[4] = near(ANN, 0.93, seed=4)
    assert [d.label for d in IDENTIFIER.decide(np.stack(views))] == [UNKNOWN] * 4 + ["ann"] + [UNKNOWN] * 7
    tracker, embed = tracker_of(views)
    labels = [ts[0].label for ts in run(tracker, [[(3, k, 50, 50)] for k in range(len(views))])]
    assert labels == [UNKNOWN] * 12 and embed.faces == 12


def test_a_face_walking_up_is_named_with_its_first_good_close_view() -> None:
    """Ann walks up from 20 to 160 px: far away her views say little (1.2 from her, nearer Bob than her in some);
    from 100 px on they are 0.7 from her. The track is named on the first such frame: the far views drop out of its
    mean once it holds views far better than them."""
    sides = [20, 25, 30, 40, 50, 65, 80, 100, 120, 140, 160]
    views = [near(ANN, 1.2, seed) if side < 100 else near(ANN, 0.7, seed) for seed, side in enumerate(sides)]
    views[2] = near(BOB, 0.99, seed=2)
    tracker, _ = tracker_of(views)
    labels = [ts[0].label for ts in run(tracker, [[(1, k, 50, 50, side)] for k, side in enumerate(sides)])]
    assert labels == [UNKNOWN] * 7 + ["ann"] * 4


def test_face_quality_is_size_times_frontal() -> None:
    eyes, mouth = [[50.0, 60.0], [110.0, 60.0]], [[60.0, 120.0], [100.0, 120.0]]
    frontal = np.array([*eyes, [80.0, 90.0], *mouth], np.float32)
    profile = np.array([[90.0, 60.0], [110.0, 60.0], [126.0, 90.0], *mouth], np.float32)  # nose past the eyes
    assert face_quality(Face((0, 0, 160, 160), 0.99, frontal)) == pytest.approx(1.0)
    assert face_quality(Face((0, 0, 40, 40), 0.99, frontal / 4)) == pytest.approx(0.25)
    assert face_quality(Face((0, 0, 160, 160), 0.99, profile)) == LEAST_WEIGHT
    assert face_quality(Face((0, 0, 80, 80), 0.99)) == pytest.approx(0.5)  # no landmarks (Haar): size alone
