"""A photo-folder gallery (`video --gallery`, `watch --gallery`) is held to enrollment's rules: a face too small for
`facegate enroll` is refused there too, with the same words."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from facegate import FaceGate
from facegate.cli import main
from facegate.cli.video import _folder_identifier
from facegate.gallery.folders import embed_gallery_folder

SMALL_FACE = 26  # px: found by the detector (it looks down to 20 px), under enrollment's 40


@pytest.fixture(scope="module")
def folder(fg: FaceGate, enrollable: dict[str, list[Path]], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """madonna/1.jpg as it is, elton_john/small.png scaled so the face is SMALL_FACE px."""
    root = tmp_path_factory.mktemp("gallery")
    (root / "madonna").mkdir()
    (root / "madonna" / "1.jpg").write_bytes(enrollable["madonna"][0].read_bytes())
    (root / "elton_john").mkdir()
    image = Image.open(enrollable["elton_john"][0]).convert("RGB")
    face = fg.detect(image)[0]
    scale = SMALL_FACE / min(face.width, face.height)
    image.resize((round(image.width * scale), round(image.height * scale)), Image.Resampling.BOX).save(
        root / "elton_john" / "small.png"
    )
    return root


def test_a_small_face_is_refused_by_enroll_and_by_a_video_gallery_alike(
    fg: FaceGate, folder: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small = folder / "elton_john" / "small.png"
    assert main(["enroll", str(folder), "--db", str(tmp_path / "g.db"), "-v"]) == 1
    enrolled = capsys.readouterr()
    reason = next(line.split(": ", 1)[1] for line in enrolled.out.splitlines() if line.strip().startswith(str(small)))
    assert "px; at least 40 px is needed" in reason and "no usable photo for: elton_john" in enrolled.err

    gallery = embed_gallery_folder(fg, folder, checked=True)
    assert gallery.labels == ["madonna"] and gallery.skipped == {small: [reason]}
    assert embed_gallery_folder(fg, folder).labels == ["elton_john", "madonna"]  # unchecked: any face will do

    identifier = _folder_identifier(fg, folder, 1e-3, None)  # what `facegate video --gallery` builds
    assert list(identifier.classes_) == ["madonna"]
    assert f"gallery photo {small} refused: {reason}" in capsys.readouterr().err
