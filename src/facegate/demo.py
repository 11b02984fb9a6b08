"""`facegate demo`: enroll the 5-celebrity train photos, identify the val photos, print a table and accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from sklearn.svm import SVC
from tqdm import tqdm

from facegate.pipeline import FaceGate


def embed_folder(fg: FaceGate, root: Path, desc: str) -> tuple[np.ndarray, list[str], list[Path]]:
    """Largest-face embeddings of every photo under root/<person>/; photos without a face are skipped."""
    paths = sorted(p for p in root.glob("*/*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    vectors, labels, kept = [], [], []
    for path in tqdm(paths, desc=desc, unit="img"):
        found = fg.represent(path)
        if found:
            vectors.append(found[0].embedding)
            labels.append(path.parent.name)
            kept.append(path)
    return np.asarray(vectors, np.float32), labels, kept


def run_demo(fg: FaceGate) -> int:
    """Train an SVC on train embeddings; for each val photo print the prediction and nearest distance."""
    root = fg.models.celebrity
    x_train, y_train, _ = embed_folder(fg, root / "train", "enrolling train photos")
    x_val, y_val, val_paths = embed_folder(fg, root / "val", "identifying val photos")
    clf = SVC(kernel="linear", probability=True, random_state=0).fit(x_train, y_train)
    predicted = clf.predict(x_val)
    probability = clf.predict_proba(x_val).max(axis=1)
    table = Table(title=f"5-celebrity demo: {len(x_train)} train photos enrolled, {len(x_val)} val photos")
    for col in ("photo", "person", "predicted", "probability", "distance to nearest same-name sample", ""):
        table.add_column(col)
    train_labels = np.asarray(y_train)
    correct = 0
    for path, truth, pred, prob, x in zip(val_paths, y_val, predicted, probability, x_val):
        nearest = float(np.linalg.norm(x_train[train_labels == pred] - x, axis=1).min())
        ok = pred == truth
        correct += int(ok)
        table.add_row(path.name, truth, str(pred), f"{prob:.2f}", f"{nearest:.3f}", "✓" if ok else "✗")
    console = Console()
    console.print(table)
    console.print(f"accuracy: {correct}/{len(y_val)} = {correct / len(y_val):.1%}")
    return 0 if correct == len(y_val) else 1
