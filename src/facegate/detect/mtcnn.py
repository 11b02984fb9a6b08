"""MTCNN face detector: P-Net proposals over an image pyramid, R-Net and O-Net refinement, 5 landmarks.

The three networks run in ONNX Runtime; the pyramid, non-maximum suppression and box regression are numpy and
OpenCV. P-Net runs once per pyramid level (packing every level into one canvas for a single run was measured: 8.4
against 6.5 ms at 640×480, the canvas's gaps and one large buffer cost more than the nine extra calls save); R-Net
and O-Net see all candidates of an image in one batched call each.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort

from facegate.detect.base import Face, largest_first
from facegate.onnx_session import make_session

PNET_CELL = 12  # P-Net's receptive field: one output cell sees a 12×12 window
PNET_STRIDE = 2  # ...moved 2 px per output cell
# Pixels of the largest pyramid level. A bigger photo is searched for proportionally bigger faces (a 36 Mpx photo for
# faces of 51 px and up, 0.7% of its width; 4K frames 24 px; 1080p and smaller keep min face 20), so P-Net's memory
# stays bounded: at min face 20 a 36 Mpx photo took 6–10 GB and a run over the CompreFace photos was killed.
MAX_LEVEL_PIXELS = 2_000_000
SHRINK_PIXELS = 4_000_000  # photos above this give ONNX Runtime's buffers back after each run (see MTCNNDetector)


def searched_min_face(height: int, width: int, min_face: int) -> float:
    """The smallest face searched for in a photo this size: `min_face`, raised for photos above MAX_LEVEL_PIXELS."""
    return max(float(min_face), PNET_CELL * np.sqrt(height * width / MAX_LEVEL_PIXELS))


def pyramid_scales(height: int, width: int, min_face: int, scale_factor: float) -> list[float]:
    """Pyramid scales: the smallest face searched for maps to the 12 px P-Net cell, down to images of 12 px."""
    m = PNET_CELL / searched_min_face(height, width, min_face)
    side = min(height, width) * m
    out: list[float] = []
    while side >= PNET_CELL:
        out.append(m * scale_factor ** len(out))
        side *= scale_factor
    return out


def pyramid_sizes(height: int, width: int, scales: list[float]) -> np.ndarray:
    """(height, width) of each pyramid level, rounded up, as an L×2 array."""
    return np.array([(int(np.ceil(height * s)), int(np.ceil(width * s))) for s in scales], dtype=np.int64).reshape(
        -1, 2
    )


def pyramid_levels(image: np.ndarray, sizes: np.ndarray) -> list[np.ndarray]:
    """The image resized to each (height, width), largest first, each level area-averaged from the one before:
    as smooth as resizing the full image every time, at a fifth of the cost (7 → 1.5 ms at 640×480)."""
    levels: list[np.ndarray] = []
    for h, w in sizes.tolist():
        levels.append(cv2.resize(levels[-1] if levels else image, (w, h), interpolation=cv2.INTER_AREA))
    return levels


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, mode: str = "union") -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, best score first: overlap by IoU (OpenCV's C++ loop), or
    by intersection over the smaller area ("min", used once on the few final O-Net boxes)."""
    if len(boxes) == 0:
        return np.zeros(0, dtype=np.int64)
    if mode == "union":
        xywh = np.concatenate([boxes[:, :2], boxes[:, 2:4] - boxes[:, :2]], axis=1).astype(np.float64)
        kept = cv2.dnn.NMSBoxes(xywh.tolist(), scores.astype(np.float64).tolist(), 0.0, threshold)  # p > 0
        return np.asarray(kept, dtype=np.int64).reshape(-1)
    x1, y1, x2, y2 = boxes[:, 0], boxes[:, 1], boxes[:, 2], boxes[:, 3]
    area = (x2 - x1) * (y2 - y1)
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]))
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]))
        order = rest[w * h / np.maximum(np.minimum(area[i], area[rest]), 1e-9) <= threshold]
    return np.asarray(keep, dtype=np.int64)


def square(boxes: np.ndarray) -> np.ndarray:
    """Grow each box to a square around its centre (side = the longer side)."""
    out = boxes.copy()
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    side = np.maximum(w, h)
    out[:, 0] = boxes[:, 0] + (w - side) / 2
    out[:, 1] = boxes[:, 1] + (h - side) / 2
    out[:, 2] = out[:, 0] + side
    out[:, 3] = out[:, 1] + side
    return out


def regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply MTCNN box regression offsets (fractions of width/height) to boxes."""
    wh = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, axis=1)
    return boxes + reg * wh


def normalise(pixels: np.ndarray) -> np.ndarray:
    """uint8 HWC (or NHWC) RGB → float32 NCHW scaled as the networks were trained: (x − 127.5) / 128."""
    images = [pixels] if pixels.ndim == 3 else list(pixels)
    return cv2.dnn.blobFromImages(images, scalefactor=1.0 / 128.0, mean=(127.5, 127.5, 127.5), swapRB=False)


def crop_patches(image: np.ndarray, boxes: np.ndarray, size: int) -> np.ndarray:
    """Cut each box out of the image (zero outside it) and resize to size×size; returns N×size×size×3 uint8."""
    h, w = image.shape[:2]
    out = np.zeros((len(boxes), size, size, 3), dtype=np.uint8)
    for i, (x1, y1, x2, y2) in enumerate(np.round(boxes[:, :4]).astype(np.int64).tolist()):
        bw, bh = x2 - x1, y2 - y1
        sx1, sy1, sx2, sy2 = max(x1, 0), max(y1, 0), min(x2, w), min(y2, h)
        if bw < 1 or bh < 1 or sx2 <= sx1 or sy2 <= sy1:
            continue
        if (sx1, sy1, sx2, sy2) == (x1, y1, x2, y2):  # inside the image: resize the view, no copy
            patch = image[y1:y2, x1:x2]
        else:
            patch = np.zeros((bh, bw, 3), dtype=np.uint8)
            patch[sy1 - y1 : sy2 - y1, sx1 - x1 : sx2 - x1] = image[sy1:sy2, sx1:sx2]
        out[i] = cv2.resize(patch, (size, size), interpolation=cv2.INTER_AREA if bw > size else cv2.INTER_LINEAR)
    return out


class MTCNNDetector:
    """MTCNN cascade. `min_face` is the smallest face side (pixels) searched for; thresholds per stage."""

    name = "mtcnn"

    def __init__(
        self,
        pnet: Path,
        rnet: Path,
        onet: Path,
        min_face: int = 20,
        thresholds: tuple[float, float, float] = (0.6, 0.7, 0.7),
        scale_factor: float = 0.709,
        threads: int | None = None,
    ) -> None:
        self.min_face = min_face
        self.thresholds = thresholds
        self.scale_factor = scale_factor
        self._pnet: ort.InferenceSession = make_session(pnet, threads)
        self._rnet: ort.InferenceSession = make_session(rnet, threads)
        self._onet: ort.InferenceSession = make_session(onet, threads)
        # Buffers for a photo above SHRINK_PIXELS go back after each run, so the arena does not stay at the largest
        # photo ever seen; smaller photos keep theirs (giving them back doubled MTCNN's time at 640×480).
        self._keep = ort.RunOptions()
        self._shrink = ort.RunOptions()
        self._shrink.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")

    def _run_options(self, image: np.ndarray) -> ort.RunOptions:
        return self._shrink if image.shape[0] * image.shape[1] > SHRINK_PIXELS else self._keep

    def scales(self, height: int, width: int) -> list[float]:
        """Pyramid scales for an image of this size (see `pyramid_scales`)."""
        return pyramid_scales(height, width, self.min_face, self.scale_factor)

    def _stage1(self, image: np.ndarray) -> np.ndarray:
        """P-Net proposals as rows (x1, y1, x2, y2, score) in image coordinates: cells above the threshold on each
        level, suppressed within their level, then across levels."""
        h, w = image.shape[:2]
        scales = self.scales(h, w)
        found = []
        for scale, level in zip(scales, pyramid_levels(image, pyramid_sizes(h, w, scales))):
            prob, reg = self._pnet.run(None, {"image": normalise(level)}, self._run_options(image))
            ys, xs = np.nonzero(prob[0, 0] >= self.thresholds[0])
            if not len(ys):
                continue
            cells = np.stack([xs, ys, xs, ys], axis=1).astype(np.float32) * PNET_STRIDE
            cells[:, 2:] += PNET_CELL
            boxes = np.concatenate([regress(cells / scale, reg[0, :, ys, xs]), prob[0, 0, ys, xs][:, None]], axis=1)
            found.append(boxes[nms(boxes[:, :4], boxes[:, 4], 0.5)])
        if not found:
            return np.zeros((0, 5), dtype=np.float32)
        boxes = np.concatenate(found)
        return boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]

    def _refine(
        self, image: np.ndarray, boxes: np.ndarray, net: ort.InferenceSession, size: int, threshold: float
    ) -> tuple[np.ndarray, np.ndarray | None]:
        """Run R-Net or O-Net on square crops of `boxes`; keep confident ones, regressed (and landmarks)."""
        squares = square(boxes[:, :4])
        outputs = net.run(None, {"image": normalise(crop_patches(image, squares, size))}, self._run_options(image))
        prob = outputs[0][:, 0]
        keep = prob >= threshold
        squares, prob = squares[keep], prob[keep]
        refined = np.concatenate([regress(squares, outputs[1][keep]), prob[:, None]], axis=1)
        landmarks = None
        if len(outputs) == 3:
            rel = outputs[2][keep]
            wh = (squares[:, 2:4] - squares[:, 0:2])[:, None, :]
            landmarks = squares[:, None, 0:2] + np.stack([rel[:, :5], rel[:, 5:]], axis=2) * wh
        return refined, landmarks

    def whole_image_score(self, image: np.ndarray) -> float:
        """How surely the whole image is one face (a pre-aligned crop): the lower of R-Net's and O-Net's face
        probabilities for the image as a box."""
        box = np.array([[0, 0, image.shape[1], image.shape[0]]], np.float32)
        nets = ((self._rnet, 24), (self._onet, 48))
        return min(
            float(net.run(None, {"image": normalise(crop_patches(image, box, size))})[0][0, 0]) for net, size in nets
        )

    def detect(self, image: np.ndarray) -> list[Face]:
        """Faces in an RGB uint8 image, largest first, each with 5 landmarks."""
        boxes = self._stage1(image)
        if len(boxes):
            boxes, _ = self._refine(image, boxes, self._rnet, 24, self.thresholds[1])
            boxes = boxes[nms(boxes[:, :4], boxes[:, 4], 0.7)]
        if not len(boxes):
            return []
        boxes, landmarks = self._refine(image, boxes, self._onet, 48, self.thresholds[2])
        assert landmarks is not None
        keep = nms(boxes[:, :4], boxes[:, 4], 0.7, mode="min")
        h, w = image.shape[:2]
        faces = []
        for b, lm in zip(boxes[keep], landmarks[keep]):
            box = (max(0.0, float(b[0])), max(0.0, float(b[1])), min(float(w), float(b[2])), min(float(h), float(b[3])))
            if box[2] - box[0] >= 1 and box[3] - box[1] >= 1:
                faces.append(Face(box=box, score=float(b[4]), landmarks=lm.astype(np.float32)))
        return largest_first(faces)
