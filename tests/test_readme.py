"""The README's Python examples run as they stand, on real photos."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import celebrity_photos

from facegate.models import ModelFiles

README = Path(__file__).resolve().parents[1] / "README.md"


def python_block(after: str) -> str:
    """The first ```python block that follows the line `after` in the README."""
    text = README.read_text()
    start = text.index(after)
    match = re.search(r"```python\n(.*?)```", text[start:], re.DOTALL)
    assert match, f"no python example after {after!r}"
    return match.group(1)


def test_the_gallery_example_enrolls_identifies_and_deletes(
    models: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    madonna = [p for p in celebrity_photos(models, "train") if p.parent.name == "madonna"]
    (tmp_path / "ada").mkdir()
    for photo in madonna[:4]:
        shutil.copy(photo, tmp_path / "ada" / photo.name)
    shutil.copy(next(p for p in celebrity_photos(models, "val") if p.parent.name == "madonna"), tmp_path / "door.jpg")
    monkeypatch.chdir(tmp_path)
    exec(compile(python_block("### The gallery from Python"), "README.md", "exec"), {})
    out = capsys.readouterr().out
    assert out.count("enrolled") >= 3 and "[('Ada', " in out
    assert "[('Ada', " in out.splitlines()[-1]  # the val photo is named Ada
    from facegate.gallery import open_gallery

    assert open_gallery(str(tmp_path / "site.db")).people() == []  # deleted at the end


def test_the_pipeline_example_runs(models: ModelFiles, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    val = celebrity_photos(models, "val")
    for name, photo in (("photo.jpg", val[0]), ("a.jpg", val[0]), ("b.jpg", val[1])):
        shutil.copy(photo, tmp_path / name)
    monkeypatch.chdir(tmp_path)
    scope: dict[str, object] = {}
    exec(compile(python_block("## Using it"), "README.md", "exec"), scope)
    assert len(scope["faces"]) >= 1 and scope["emb"].shape[1] == 128 and scope["result"].distance >= 0  # type: ignore[attr-defined]
