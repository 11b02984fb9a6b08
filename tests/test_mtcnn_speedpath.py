"""MTCNN's packed P-Net pass: the pyramid layout, the mapping of output cells to levels, and agreement with
running P-Net level by level on real photos."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from facegate.detect import mtcnn
from facegate.detect.mtcnn import (
    LEVEL_GAP,
    PNET_CELL,
    PNET_STRIDE,
    MTCNNDetector,
    crop_patches,
    normalise,
    pnet_cells,
    pyramid_layout,
    pyramid_levels,
    skyline_pack,
)
from facegate.imageio import load_image
from facegate.models import ModelFiles

from conftest import celebrity_photos

SHAPES = [(480, 640), (1080, 1920), (250, 250), (354, 236), (37, 500)]


@pytest.fixture(scope="module")
def detector(models: ModelFiles) -> MTCNNDetector:
    return MTCNNDetector(models.pnet, models.rnet, models.onet, threads=1)


@pytest.fixture(scope="module")
def photos(models: ModelFiles) -> list[np.ndarray]:
    """Three real celebrity photos of different sizes."""
    paths = celebrity_photos(models, "val")
    return [load_image(p) for p in paths[::9]]


def test_pnet_cells_matches_the_network(detector: MTCNNDetector) -> None:
    for h, w in [(12, 12), (13, 13), (12, 40), (31, 17), (64, 65)]:
        prob, reg = detector._pnet.run(None, {"image": np.zeros((1, 3, h, w), np.float32)})
        assert prob.shape[2:] == reg.shape[2:] == (pnet_cells(h), pnet_cells(w))


def test_skyline_pack_keeps_rectangles_apart_and_low() -> None:
    rects = [(30, 40), (20, 30), (20, 10), (10, 10), (6, 50)]
    offsets, height = skyline_pack(rects, 70)
    taken = np.zeros((height, 70), dtype=np.int32)
    for (y, x), (h, w) in zip(offsets, rects):
        taken[y:y + h, x:x + w] += 1
    assert taken.max() == 1
    assert offsets[:3] == [(0, 0), (0, 40), (20, 40)]  # beside the first, then under the second
    assert offsets[4] == (40, 0) and height == 46  # too wide for any gap: on top of everything


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("min_face", [20, 40])
def test_levels_are_disjoint_even_and_cells_see_only_their_level(shape: tuple[int, int], min_face: int) -> None:
    layout = pyramid_layout(*shape, min_face, 0.709)
    canvas_h, canvas_w = layout.canvas
    owner = np.full(layout.canvas, -1, dtype=np.int32)
    for level, ((y, x), (h, w)) in enumerate(zip(layout.offsets, layout.sizes)):
        assert y % 2 == 0 and x % 2 == 0
        assert y + h + LEVEL_GAP <= canvas_h + 1 and x + w + LEVEL_GAP <= canvas_w + 1
        assert (owner[y:y + h, x:x + w] == -1).all(), "two levels overlap"
        owner[y:y + h, x:x + w] = level
        assert (layout.cell_level == level).sum() == pnet_cells(h) * pnet_cells(w)
    # every mapped cell's 12×12 window holds pixels of its own level only (the last cell of an odd side may
    # reach one pixel into the gap, never into another level)
    for cy, cx in zip(*np.nonzero(layout.cell_level >= 0)):
        window = owner[cy * PNET_STRIDE:cy * PNET_STRIDE + PNET_CELL, cx * PNET_STRIDE:cx * PNET_STRIDE + PNET_CELL]
        assert set(np.unique(window)) <= {-1, int(layout.cell_level[cy, cx])}
    if not len(layout.scales):  # image smaller than the smallest face searched for: nothing to run
        assert layout.canvas == (0, 0)
        return
    levels_area = int((layout.sizes[:, 0] * layout.sizes[:, 1]).sum())
    assert levels_area / (canvas_h * canvas_w) > 0.5, "the packing wastes most of the canvas"


def test_packed_pnet_equals_per_level_runs_on_real_photos(detector: MTCNNDetector,
                                                          photos: list[np.ndarray]) -> None:
    for image in photos:
        canvas, layout = detector.pyramid(image)
        prob, reg = detector._pnet.run(None, {"image": normalise(canvas)})
        for (y, x), (h, w), level in zip(layout.offsets, layout.sizes, pyramid_levels(image, layout.sizes)):
            assert np.array_equal(canvas[y:y + h, x:x + w], level)
            alone_prob, alone_reg = detector._pnet.run(None, {"image": normalise(level)})
            ch, cw = pnet_cells(h) - h % 2, pnet_cells(w) - w % 2  # odd sides: the far-edge cell may differ
            cy, cx = y // 2, x // 2
            np.testing.assert_allclose(prob[0, 0, cy:cy + ch, cx:cx + cw], alone_prob[0, 0, :ch, :cw], atol=1e-4)
            np.testing.assert_allclose(reg[0, :, cy:cy + ch, cx:cx + cw], alone_reg[0, :, :ch, :cw], atol=1e-4)


def per_level_proposals(detector: MTCNNDetector, image: np.ndarray) -> int:
    """How many cells pass P-Net's threshold when each level runs on its own (the unpacked reference)."""
    h, w = image.shape[:2]
    sizes = np.array([(int(np.ceil(h * s)), int(np.ceil(w * s))) for s in detector.scales(h, w)])
    count = 0
    for level in pyramid_levels(image, sizes.reshape(-1, 2)):
        prob, _ = detector._pnet.run(None, {"image": normalise(level)})
        count += int((prob >= detector.thresholds[0]).sum())
    return count


def test_packed_cells_above_threshold_match_per_level_runs(detector: MTCNNDetector, photos: list[np.ndarray]) -> None:
    for image in photos:
        canvas, layout = detector.pyramid(image)
        prob, _ = detector._pnet.run(None, {"image": normalise(canvas)})
        packed = int(((prob[0, 0] >= detector.thresholds[0]) & (layout.cell_level >= 0)).sum())
        reference = per_level_proposals(detector, image)
        far_edge = sum(pnet_cells(w) * (h % 2) + pnet_cells(h) * (w % 2) for h, w in layout.sizes)
        assert reference > 0
        assert abs(packed - reference) <= far_edge // 10, "more than the odd-edge cells disagree"


def test_face_flush_against_the_image_edge_is_found(detector: MTCNNDetector, photos: list[np.ndarray]) -> None:
    """A face touching the image's top-left corner sits at a level boundary in every level of the canvas."""
    image = photos[0]
    x1, y1, x2, y2 = detector.detect(image)[0].box
    cropped = np.ascontiguousarray(image[int(y1):, int(x1):])
    faces = detector.detect(cropped)
    assert faces, "no face found once it touches the corner"
    fx1, fy1, fx2, fy2 = faces[0].box
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


def test_cascaded_pyramid_finds_what_resizing_the_full_image_finds(detector: MTCNNDetector, photos: list[np.ndarray],
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    cascaded = [detector.detect(image) for image in photos]
    monkeypatch.setattr(mtcnn, "pyramid_levels", lambda image, sizes: [
        cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA) for h, w in sizes.tolist()])
    direct = [detector.detect(image) for image in photos]
    for ours, reference in zip(cascaded, direct):
        assert len(ours) == len(reference) >= 1
        for a, b in zip(ours, reference):
            assert np.abs(np.subtract(a.box, b.box)).max() < 3.0
            assert np.abs(a.landmarks - b.landmarks).max() < 3.0


@pytest.mark.parametrize("shape, searched", [((1080, 1920), 20.0), ((2160, 3840), 24.4), ((7360, 4912), 51.0)])
def test_huge_photos_search_for_bigger_faces_so_pnet_memory_stays_bounded(shape: tuple[int, int],
                                                                          searched: float) -> None:
    h, w = shape
    assert mtcnn.searched_min_face(h, w, 20) == pytest.approx(searched, abs=0.1)
    largest = pyramid_layout(h, w, 20, 0.709).sizes[0]
    assert largest[0] * largest[1] <= mtcnn.MAX_LEVEL_PIXELS * 1.01
    assert mtcnn.searched_min_face(h, w, 80) == 80  # a larger requested minimum is kept
