"""Detection on real photos: MTCNN finds the faces and puts the landmarks on the right features; Haar works."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import celebrity_photos

from facegate import FaceGate
from facegate.detect.base import Face
from facegate.imageio import load_image
from facegate.models import ModelFiles


@pytest.fixture(scope="module")
def largest_faces(fg: FaceGate, models: ModelFiles) -> dict[Path, Face | None]:
    out: dict[Path, Face | None] = {}
    for path in celebrity_photos(models, "train") + celebrity_photos(models, "val"):
        faces = fg.detect(path)
        out[path] = faces[0] if faces else None
    return out


def test_mtcnn_finds_a_face_in_nearly_every_celebrity_photo(largest_faces: dict[Path, Face | None]) -> None:
    assert len(largest_faces) == 118
    found = sum(face is not None for face in largest_faces.values())
    assert found >= 117, f"faces found in only {found}/118 photos"


def test_landmarks_are_anatomically_placed(largest_faces: dict[Path, Face | None]) -> None:
    faces = [f for f in largest_faces.values() if f is not None and f.landmarks is not None]
    lm = np.stack([f.landmarks for f in faces])  # (N, 5, 2): l-eye, r-eye, nose, l-mouth, r-mouth
    eyes_y = lm[:, :2, 1].max(axis=1)
    mouth_y = lm[:, 3:, 1].min(axis=1)
    assert np.all(eyes_y < mouth_y), "an eye below a mouth corner"
    assert np.all(lm[:, 0, 0] < lm[:, 1, 0]), "left eye not left of the right eye"
    assert np.all(lm[:, 3, 0] < lm[:, 4, 0]), "left mouth corner not left of the right one"
    nose_y_between = (lm[:, :2, 1].mean(axis=1) < lm[:, 2, 1]) & (lm[:, 2, 1] < lm[:, 3:, 1].mean(axis=1))
    assert np.all(nose_y_between), "nose not between the eye line and the mouth line"
    # turned heads put the nose tip outside the eye span; frontal ones (nearly all here) have it inside
    nose_x_between = (lm[:, 0, 0] < lm[:, 2, 0]) & (lm[:, 2, 0] < lm[:, 1, 0])
    assert nose_x_between.mean() >= 0.95
    for face in faces:  # every landmark inside (or at the edge of) its box
        x1, _y1, x2, _y2 = face.box
        pad = 0.1 * face.width
        assert np.all((face.landmarks[:, 0] > x1 - pad) & (face.landmarks[:, 0] < x2 + pad))


def test_faces_come_largest_first_in_a_group_photo(fg: FaceGate, shared_data: Path) -> None:
    faces = fg.detect(shared_data / "media" / "groups" / "multiface.jpg")
    assert len(faces) >= 4
    areas = [f.area for f in faces]
    assert areas == sorted(areas, reverse=True)


def test_min_face_filters_small_faces(fg: FaceGate, models: ModelFiles) -> None:
    import cv2

    photo = load_image(celebrity_photos(models, "val")[0])
    face = fg.detect(photo)[0]
    x1, y1, x2, y2 = (int(v) for v in face.box)
    crop = photo[max(y1 - 20, 0) : y2 + 20, max(x1 - 20, 0) : x2 + 20]
    canvas = np.full((480, 640, 3), 200, np.uint8)
    big = cv2.resize(crop, (240, int(240 * crop.shape[0] / crop.shape[1])))
    small = cv2.resize(crop, (50, int(50 * crop.shape[0] / crop.shape[1])))
    canvas[20 : 20 + big.shape[0], 20:260] = big[:460]
    canvas[100 : 100 + small.shape[0], 450:500] = small
    assert len(FaceGate(min_face=20).detect(canvas)) == 2
    only_big = FaceGate(min_face=120).detect(canvas)
    assert len(only_big) == 1 and only_big[0].box[0] < 260


def test_haar_finds_most_celebrity_faces_without_landmarks(models: ModelFiles) -> None:
    haar = FaceGate(detector="haar")
    photos = celebrity_photos(models, "val")
    results = [haar.detect(p) for p in photos]
    assert sum(bool(r) for r in results) >= 20
    assert all(f.landmarks is None for r in results for f in r)


def test_haar_faces_embed_with_crop_alignment(models: ModelFiles) -> None:
    haar = FaceGate(detector="haar")
    photo = celebrity_photos(models, "val")[0]
    found = haar.represent(photo)
    assert found and found[0].crop.shape == (160, 160, 3)


def test_image_without_a_face_gives_no_faces(fg: FaceGate) -> None:
    rng = np.random.default_rng(0)
    smooth = (np.cumsum(rng.normal(size=(240, 320, 3)), axis=1) % 255).astype(np.uint8)
    assert fg.detect(smooth) == []
    assert fg.embed(np.full((200, 200, 3), 128, np.uint8)).shape == (0, 128)


def test_grey_and_rgba_photos_are_detected_like_rgb(fg: FaceGate, models: ModelFiles) -> None:
    rgb = load_image(celebrity_photos(models, "val")[0])
    grey = rgb.mean(axis=2).astype(np.uint8)
    rgba = np.concatenate([rgb, np.full(rgb.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert len(fg.detect(grey)) >= 1
    assert fg.detect(rgba)[0].box == fg.detect(rgb)[0].box
