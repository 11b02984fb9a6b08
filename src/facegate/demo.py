"""`facegate demo`: enroll the 5-celebrity train photos, identify the val photos with the gallery's open-set
identifier, print a table and the accuracy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table
from tqdm import tqdm

from facegate.match.openset import OpenSetIdentifier
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
    """Fit the identifier the gallery uses (OpenSetIdentifier, its default classifier) on the train embeddings;
    for each val photo print its answer, the candidate's probability and the distance to the candidate's nearest
    enrolled photo. Exit code 0 when every val photo is named rightly."""
    root = fg.models.celebrity
    x_train, y_train, _ = embed_folder(fg, root / "train", "enrolling train photos")
    x_val, y_val, val_paths = embed_folder(fg, root / "val", "identifying val photos")
    decisions = OpenSetIdentifier(fpir=fg.fpir).fit(x_train, np.asarray(y_train)).decide(x_val)
    table = Table(
        title=f"5-celebrity demo: {len(x_train)} train photos enrolled, {len(x_val)} val photos",
        caption="probability: the classifier's, of the candidate; distance: to the candidate's nearest enrolled photo",
    )
    for col in ("photo", "person", "identified as", "probability", "distance", ""):
        table.add_column(col)
    correct = 0
    for path, truth, decision in zip(val_paths, y_val, decisions):
        ok = decision.label == truth
        correct += int(ok)
        answer = decision.label if decision.known else f"{decision.label} (candidate {decision.candidate})"
        table.add_row(
            path.name, truth, answer, f"{decision.probability:.3f}", f"{decision.distance:.3f}", "✓" if ok else "✗"
        )
    console = Console()
    console.print(table)
    console.print(f"accuracy: {correct}/{len(y_val)} = {correct / len(y_val):.1%}")
    return 0 if correct == len(y_val) else 1
