"""`facegate benchmark openset` on a slice: 20 enrolled LFW people, 200 single-photo impostors."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pytest

from facegate.experiments.lfw import configured_lfw
from facegate.cli import main
from facegate.experiments.openset_benchmark import (
    FPIRS,
    PROBES_FROM,
    Probes,
    protocol,
    strangers,
)

needs_lfw = pytest.mark.skipif(configured_lfw() is None, reason="LFW is not set up (set $FACEGATE_LFW)")


def test_fnir_at_fpir_counts_wrong_candidates_and_scores_over_the_threshold() -> None:
    probes = Probes(np.array(["a", "a", "b", "b"]), np.array(["a", "a", "b", "c"]), np.array([0.1, 0.5, 0.2, 0.1]),
                    np.arange(100) / 100 + 0.3)  # impostor scores 0.30 ... 1.29
    assert probes.rank1 == 0.75
    assert probes.threshold(0.01) < 0.31 and probes.threshold(0.01) >= 0.30  # one impostor of 100 may pass
    assert probes.fnir(0.01) == 0.5  # "c" named "b" misses, 0.5 is over the threshold
    assert probes.fnir(0.5) == 0.25
    fpir, fnir = probes.det()
    assert fpir[0] == 0.01 and fpir[-1] == 1.0 and fnir[-1] == 0.25 and np.all(np.diff(fnir) <= 0)


def test_strangers_leave_out_enrolled_names_even_misspelt(tmp_path: Path) -> None:
    files = [tmp_path / name / f"{name}_0001.jpg" for name in ("Ben_Affleck", "Jerry_Seinfeld", "George_Clooney")]
    assert strangers(files, ["ben_afflek", "jerry_seinfeld"]) == files[2:]


@needs_lfw
def test_protocol_keeps_gallery_probes_impostors_and_background_apart() -> None:
    proto = protocol(gallery_people=20, impostor_people=200)
    assert len(proto.gallery) == 20 and len(proto.impostors) == 200
    gallery_files, labels = proto.enrolled(5)
    genuine_files, _ = proto.genuine()
    assert len(gallery_files) == 100 and set(labels) == set(proto.gallery)
    assert not set(gallery_files) & set(genuine_files)
    assert len(genuine_files) == sum(len(p) - PROBES_FROM for p in proto.gallery.values())
    names = {p.parent.name for p in proto.background}
    assert not names & set(proto.gallery) and not names & {p.parent.name for p in proto.impostors}


@needs_lfw
def test_benchmark_command_on_a_slice_writes_table_and_det(tmp_path: Path) -> None:
    assert main(["benchmark", "openset", "--gallery-people", "20", "--impostor-people", "200", "--threads", "1",
                 "--out", str(tmp_path)]) == 0
    text = (tmp_path / "openset.md").read_text()
    rows = {line.split(" | ")[0].lstrip("| "): line.split(" | ")[1:] for line in text.splitlines()
            if line.startswith("| ") and "photo" in line}
    assert len(rows) == 13
    default = rows["LR (open-set default) + flip + cohort norm, 5 photos"]
    assert float(default[0].rstrip("%")) >= 95.0  # the gallery's default classifier ranks as well as NN
    plain, best = rows["Nearest neighbour, 5 photo(s)"], rows["NN + flip + cohort norm, 5 photo(s)"]
    assert float(plain[0].rstrip("%")) >= 95.0  # rank-1 of 20 people with 5 photos each
    fnir_1 = 1 + FPIRS.index(0.01)
    assert float(best[fnir_1].rstrip("%")) <= float(plain[fnir_1].rstrip("%"))
    assert (tmp_path / "openset_det.png").stat().st_size > 10_000
