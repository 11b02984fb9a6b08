"""The `facegate` command on real photos: detect, embed, verify, demo, and bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from conftest import celebrity_photos

from facegate.imageio import load_image
from facegate.models import ModelFiles


def facegate(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "facegate", *args], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def val(models: ModelFiles) -> dict[str, list[Path]]:
    out: dict[str, list[Path]] = {}
    for path in celebrity_photos(models, "val"):
        out.setdefault(path.parent.name, []).append(path)
    return out


def test_detect_json_and_draw(val: dict[str, list[Path]], tmp_path: Path) -> None:
    drawn = tmp_path / "drawn.png"
    result = facegate("detect", str(val["madonna"][0]), "--json", "--draw", str(drawn))
    assert result.returncode == 0, result.stderr
    faces = json.loads(result.stdout)["faces"]
    assert len(faces) >= 1 and set(faces[0]["landmarks"]) == {
        "left_eye",
        "right_eye",
        "nose",
        "mouth_left",
        "mouth_right",
    }
    original = load_image(val["madonna"][0])
    picture = load_image(drawn)
    assert picture.shape == original.shape and not np.array_equal(picture, original)


def test_detect_with_haar_prints_boxes(val: dict[str, list[Path]]) -> None:
    result = facegate("detect", str(val["elton_john"][0]), "--detector", "haar")
    assert result.returncode == 0 and "face(s)" in result.stdout and "box=" in result.stdout


def test_embed_writes_one_unit_vector_per_face(val: dict[str, list[Path]], tmp_path: Path) -> None:
    out = tmp_path / "faces.npz"
    photos = [str(p) for p in val["mindy_kaling"][:3]]
    result = facegate("embed", *photos, "--out", str(out))
    assert result.returncode == 0, result.stderr
    data = np.load(out)
    assert data["embeddings"].shape[1] == 128 and len(data["embeddings"]) >= 3
    assert set(data["sources"]) == set(photos)
    assert data["boxes"].shape == (len(data["embeddings"]), 4) and data["landmarks"].shape[1:] == (5, 2)
    np.testing.assert_allclose(np.linalg.norm(data["embeddings"], axis=1), 1.0, atol=1e-5)


def test_verify_same_and_different_people(val: dict[str, list[Path]]) -> None:
    same = facegate("verify", str(val["jerry_seinfeld"][0]), str(val["jerry_seinfeld"][1]), "--json")
    different = facegate("verify", str(val["jerry_seinfeld"][0]), str(val["madonna"][0]), "--json")
    assert same.returncode == 0 and json.loads(same.stdout)["same"] is True
    assert different.returncode == 1 and json.loads(different.stdout)["same"] is False
    assert json.loads(same.stdout)["distance"] < json.loads(different.stdout)["distance"]


def test_bad_image_gives_one_line_and_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
    result = facegate("detect", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "not an image" in result.stderr
    assert "Traceback" not in result.stderr


def test_verify_without_a_face_is_a_clear_error(val: dict[str, list[Path]], tmp_path: Path) -> None:
    blank = tmp_path / "blank.png"
    from PIL import Image

    Image.new("RGB", (200, 200), (90, 90, 90)).save(blank)
    result = facegate("verify", str(val["madonna"][0]), str(blank))
    assert result.returncode == 2 and f"no face found in {blank}" in result.stderr  # says which of the two


def test_demo_identifies_every_val_photo() -> None:
    result = facegate("demo")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "accuracy: 25/25 = 100.0%" in result.stdout


def test_bad_paths_are_one_line_each_before_any_work(
    val: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """What a new user typed wrong, each answered with one line naming the problem (issue 12, "also found")."""
    from facegate.cli import main

    photo = str(val["madonna"][0])
    notes = tmp_path / "notes.txt"
    notes.write_text("not a database")
    cases = {
        ("people", "--db", str(notes)): "file is not a database",
        ("detect", photo, "--draw", str(tmp_path / "out.txt")): "cannot write a picture with suffix '.txt'",
        ("embed", photo, "--out", str(tmp_path / "missing" / "x.npz")): "no such folder for x.npz",
        ("detect", str(tmp_path)): "a folder, not an image file",
        ("video", photo, "--out", str(tmp_path / "o.mp4"), "--gallery", str(tmp_path)): "a still photo, not a video",
        ("video", photo, "--out", str(tmp_path / "o.txt"), "--gallery", str(tmp_path / "nope")): "unsupported output",
    }
    for argv, message in cases.items():
        assert main(list(argv)) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.strip().count("\n") == 0 and "Traceback" not in err, (argv, err)
    for argv in (["detect", photo, "--min-face", "-5"], ["verify", photo, photo, "--threshold", "-1"]):
        with pytest.raises(SystemExit):
            main(argv)


def test_embed_names_faceless_photos_and_the_file_it_wrote(
    val: dict[str, list[Path]], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from PIL import Image

    from facegate.cli import main

    blank = tmp_path / "blank.png"
    Image.new("RGB", (200, 200), (90, 90, 90)).save(blank)
    assert main(["embed", str(val["madonna"][0]), str(blank), "--out", str(tmp_path / "e5")]) == 0
    captured = capsys.readouterr()
    assert f"no face in {blank}" in captured.err and captured.out.strip().endswith(str(tmp_path / "e5.npz"))
    assert len(np.load(tmp_path / "e5.npz")["embeddings"]) >= 1
    assert main(["embed", str(blank), "--out", str(tmp_path / "none.npz")]) == 2
    assert "nothing written" in capsys.readouterr().err and not (tmp_path / "none.npz").exists()
