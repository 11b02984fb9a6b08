"""`facegate demo` in process: the gallery's identifier names all 25 val photos, sure of them, without a warning."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from facegate import FaceGate
from facegate.demo import run_demo


def test_demo_names_every_val_photo_with_calibrated_probabilities(
    fg: FaceGate, capsys: pytest.CaptureFixture[str]
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # SVC(probability=True) used to print a FutureWarning here
        assert run_demo(fg) == 0
    out = capsys.readouterr().out
    assert "accuracy: 25/25 = 100.0%" in out
    rows = [[cell.strip() for cell in line.split("│")] for line in out.splitlines() if "✓" in line or "✗" in line]
    probability = np.array([float(row[4]) for row in rows])
    assert len(rows) == 25 and all(row[-2] == "✓" for row in rows)
    assert probability.mean() == pytest.approx(0.995, abs=0.003)  # plain logistic regression: 0.966
    assert probability.min() > 0.975
