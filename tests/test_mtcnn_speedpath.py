"""MTCNN's fast path: the cascaded pyramid, per-level P-Net proposals in image coordinates, batched crops, the
memory bound on huge photos, and detection on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
from conftest import celebrity_photos

from facegate.detect import mtcnn
from facegate.detect.base import iou_matrix
from facegate.detect.mtcnn import MTCNNDetector, crop_patches, pyramid_scales, pyramid_sizes
from facegate.imageio import load_image
from facegate.models import ModelFiles


@pytest.fixture(scope="module")
def detector(models: ModelFiles) -> MTCNNDetector:
    return MTCNNDetector(models.pnet, models.rnet, models.onet, threads=1)


@pytest.fixture(scope="module")
def photos(models: ModelFiles) -> list[np.ndarray]:
    """Three real celebrity photos of different sizes."""
    paths = celebrity_photos(models, "val")
    return [load_image(p) for p in paths[::9]]


def test_pnet_proposals_land_on_the_face_in_image_coordinates(
    detector: MTCNNDetector, photos: list[np.ndarray]
) -> None:
    for image in photos:
        face = np.asarray([detector.detect(image)[0].box], np.float32)
        proposals = detector._stage1(image)
        assert 0 < len(proposals) < 400
        assert iou_matrix(proposals[:, :4].astype(np.float32), face).max() > 0.6
        assert (proposals[:, 4] >= detector.thresholds[0]).all()


def test_face_flush_against_the_image_edge_is_found(detector: MTCNNDetector, photos: list[np.ndarray]) -> None:
    """A face touching the image's top-left corner sits on the edge of every pyramid level."""
    image = photos[0]
    x1, y1, x2, y2 = detector.detect(image)[0].box
    cropped = np.ascontiguousarray(image[int(y1) :, int(x1) :])
    faces = detector.detect(cropped)
    assert faces, "no face found once it touches the corner"
    fx1, fy1, fx2, _fy2 = faces[0].box
    assert fx1 < 0.15 * (x2 - x1) and fy1 < 0.15 * (y2 - y1)
    assert 0.7 < (fx2 - fx1) / (x2 - x1) < 1.3


def test_crop_patches_reads_inside_boxes_directly_and_zero_fills_outside(photos: list[np.ndarray]) -> None:
    image = photos[0]
    h, w = image.shape[:2]
    boxes = np.array([[10, 12, 70, 72], [-20, -10, 40, 50], [w - 30, h - 30, w + 30, h + 30]], dtype=np.float32)
    crops = crop_patches(image, boxes, 24)
    np.testing.assert_array_equal(crops[0], cv2.resize(image[12:72, 10:70], (24, 24), interpolation=cv2.INTER_AREA))
    padded = np.zeros((60, 60, 3), np.uint8)
    padded[10:, 20:] = image[:50, :40]
    np.testing.assert_array_equal(crops[1], cv2.resize(padded, (24, 24), interpolation=cv2.INTER_AREA))
    assert crops[2][12:, 12:].max() == 0 and crops[2][:10, :10].max() > 0


def test_group_photo_keeps_every_face(detector: MTCNNDetector, shared_data: Path) -> None:
    faces = detector.detect(load_image(shared_data / "media" / "groups" / "multiface.jpg"))
    assert len(faces) >= 4
    assert all(f.landmarks is not None and f.landmarks.shape == (5, 2) for f in faces)


def test_cascaded_pyramid_finds_what_resizing_the_full_image_finds(
    detector: MTCNNDetector, photos: list[np.ndarray], monkeypatch: pytest.MonkeyPatch
) -> None:
    cascaded = [detector.detect(image) for image in photos]
    monkeypatch.setattr(
        mtcnn,
        "pyramid_levels",
        lambda image, sizes: [cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) for h, w in sizes.tolist()],
    )
    direct = [detector.detect(image) for image in photos]
    for ours, reference in zip(cascaded, direct):
        assert len(ours) == len(reference) >= 1
        for a, b in zip(ours, reference):
            assert np.abs(np.subtract(a.box, b.box)).max() < 3.0
            assert np.abs(a.landmarks - b.landmarks).max() < 3.0


@pytest.mark.parametrize("shape, searched", [((1080, 1920), 20.0), ((2160, 3840), 24.4), ((7360, 4912), 51.0)])
def test_huge_photos_search_for_bigger_faces_so_pnet_memory_stays_bounded(
    shape: tuple[int, int], searched: float
) -> None:
    h, w = shape
    assert mtcnn.searched_min_face(h, w, 20) == pytest.approx(searched, abs=0.1)
    largest = pyramid_sizes(h, w, pyramid_scales(h, w, 20, 0.709))[0]
    assert largest[0] * largest[1] <= mtcnn.MAX_LEVEL_PIXELS * 1.01
    assert mtcnn.searched_min_face(h, w, 80) == 80  # a larger requested minimum is kept
