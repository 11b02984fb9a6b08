"""Drawing faces: boxes, landmarks and labels stay inside the picture."""

from __future__ import annotations

import numpy as np

from facegate.detect.base import Face
from facegate.draw import annotate


def test_label_near_the_right_edge_is_moved_inside() -> None:
    image = np.zeros((120, 200, 3), np.uint8)
    face = Face(box=(170.0, 60.0, 199.0, 100.0), score=0.9)
    out = annotate(image, [face], labels=["a rather long name"], colour=(0, 255, 0))
    label_rows = out[:60]
    green = np.nonzero(label_rows[:, :, 1] == 255)[1]
    assert green.size and green.min() < 170, "label was not shifted left of the box"
    assert np.array_equal(image, np.zeros_like(image)), "annotate changed its input"
