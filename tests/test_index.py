"""`facegate index` on 16 LFW photos, a blank picture and a corrupt file: 1 and 2 Ray workers give the embeddings
FaceGate.represent gives, reruns and partial runs resume, --db writes the same rows, bad input fails in one line."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from facegate import FaceGate
from facegate.archive import index as index_module
from facegate.archive.index import IndexSummary, index_archive, ray_cluster
from facegate.archive.rows import embed_photos
from facegate.archive.store import DatabaseStore, ParquetStore
from facegate.cli import main
from facegate.detect.base import Face
from facegate.gallery import open_engine, open_gallery
from facegate.gallery.database import MIGRATIONS

PHOTOS = 16
Key = tuple[str, int]


@pytest.fixture(scope="module")
def archive(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """LFW photos in person sub-folders, plus blank.png (no face) and broken/corrupt.jpg (not an image)."""
    root = tmp_path_factory.mktemp("archive")
    for photo in sorted((shared_data / "lfw" / "images_deepfunneled").glob("*/*.jpg"))[:PHOTOS]:
        (root / photo.parent.name).mkdir(exist_ok=True)
        shutil.copy(photo, root / photo.parent.name / photo.name)
    pq.write_table(pa.table({"x": [1]}), root / "not-a-photo.parquet")  # other files are left alone
    from PIL import Image

    Image.new("RGB", (120, 160), (128, 128, 128)).save(root / "blank.png")
    (root / "broken").mkdir()
    (root / "broken" / "corrupt.jpg").write_bytes(b"\xff\xd8 this is not a jpeg")
    return root


@pytest.fixture(scope="module")
def ray() -> Iterator[None]:
    """One local 2-CPU cluster for the module: every index run below joins it instead of starting its own."""
    with ray_cluster(None, 2):
        yield


@pytest.fixture(scope="module")
def reference(archive: Path, fg: FaceGate) -> dict[Key, dict[str, Any]]:
    """{(path, face): embedding, box and landmarks} from the plain single-process pipeline."""
    return {
        (p.relative_to(archive).as_posix(), i): {
            "embedding": found.embedding,
            "box": found.face.box,
            "landmarks": found.face.landmarks.ravel(),
        }
        for p in sorted(archive.glob("*/*.jpg"))
        if p.parent.name != "broken"
        for i, found in enumerate(fg.represent(p))
    }


@pytest.fixture(scope="module")
def two_workers(archive: Path, ray: None, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, IndexSummary]:
    """The archive indexed by 2 workers, 4 photos per call and per write."""
    out = tmp_path_factory.mktemp("two") / "index"
    return out, index_archive(archive, ParquetStore(out), workers=2, batch_size=4, chunk=4, progress=False)


def faces(table: pa.Table) -> dict[Key, dict[str, Any]]:
    return {(r["path"], r["face"]): r for r in table.to_pylist() if r["status"] == "ok"}


def photo_status(table: pa.Table) -> dict[str, str]:
    return {r["path"]: r["status"] for r in table.to_pylist()}


def assert_same_faces(rows: dict[Key, dict[str, Any]], expected: dict[Key, dict[str, Any]]) -> None:
    assert sorted(rows) == sorted(expected)
    for key, face in expected.items():
        np.testing.assert_allclose(rows[key]["embedding"], face["embedding"], atol=1e-5, err_msg=str(key))
        np.testing.assert_allclose(rows[key]["box"], face["box"], atol=1e-3, err_msg=str(key))
        np.testing.assert_allclose(rows[key]["landmarks"], face["landmarks"], atol=1e-3, err_msg=str(key))


def test_one_and_two_workers_match_the_single_process_pipeline(
    archive: Path,
    ray: None,
    reference: dict[Key, dict[str, Any]],
    two_workers: tuple[Path, IndexSummary],
    tmp_path: Path,
) -> None:
    one = index_archive(archive, ParquetStore(tmp_path / "one"), workers=1, progress=False)
    out, two = two_workers
    for summary in (one, two):
        assert (summary.photos, summary.faces, summary.no_face, summary.skipped) == (PHOTOS + 2, len(reference), 1, 0)
        assert summary.failures == {"unreadable": 1}
        assert summary.examples == ["broken/corrupt.jpg: not an image file (or a format FaceGate cannot read)"]
    assert len(ParquetStore(out).parts()) >= 4 and len(ParquetStore(tmp_path / "one").parts()) == 1  # chunked writes
    rows_one, rows_two = (ParquetStore(folder).read() for folder in (tmp_path / "one", out))
    assert_same_faces(faces(rows_one), reference)
    assert_same_faces(faces(rows_two), reference)
    status = photo_status(rows_two)
    assert status["blank.png"] == "no_face" and status["broken/corrupt.jpg"] == "unreadable"
    for row in rows_two.to_pylist():
        assert row["sha256"] == hashlib.sha256((archive / row["path"]).read_bytes()).hexdigest()
    assert rows_two.schema == rows_one.schema and rows_two.schema.field("embedding").type.list_size == 128


def test_rerun_skips_and_a_partial_run_continues(
    archive: Path, ray: None, reference: dict[Key, dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root, out = tmp_path / "photos", tmp_path / "index"
    shutil.copytree(archive, root)
    later = sorted(p for p in root.glob("*/*.jpg") if p.parent.name != "broken")[PHOTOS // 2 :]
    moved = tmp_path / "later"
    for path in later:  # the first run sees half of the photos: as if it had stopped there
        (moved / path.parent.name).mkdir(parents=True, exist_ok=True)
        path.rename(moved / path.parent.name / path.name)
    first = index_archive(root, ParquetStore(out), workers=2, batch_size=4, progress=False)
    assert first.photos == PHOTOS // 2 + 2
    shutil.copytree(moved, root, dirs_exist_ok=True)
    second = index_archive(root, ParquetStore(out), workers=2, batch_size=4, progress=False)
    assert (second.photos, second.skipped, second.failures) == (len(later), PHOTOS // 2 + 2, {})
    assert_same_faces(faces(ParquetStore(out).read()), reference)
    assert len(ParquetStore(out).read()) == len(reference) + 2  # no photo twice

    def no_ray(*args: object) -> None:
        raise AssertionError("Ray started although everything is indexed")

    monkeypatch.setattr(index_module, "ray_cluster", no_ray)
    parts = ParquetStore(out).parts()
    third = index_archive(root, ParquetStore(out), progress=False)
    assert (third.photos, third.skipped) == (0, PHOTOS + 2) and ParquetStore(out).parts() == parts


def test_db_holds_the_same_rows_and_replaces_a_changed_photo(
    archive: Path, ray: None, two_workers: tuple[Path, IndexSummary], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, url = tmp_path / "photos", f"sqlite:///{tmp_path / 'gallery.db'}"
    shutil.copytree(archive, root)
    assert main(["index", str(root), "--db", url, "--workers", "2", "--batch-size", "4"]) == 0
    printed = capsys.readouterr().out
    assert f"indexed {PHOTOS + 2} photos" in printed and "1 without a face, 1 failed; 0 skipped" in printed
    assert "failed, unreadable: 1" in printed and "broken/corrupt.jpg: not an image file" in printed
    stored, parquet = DatabaseStore(url).read(), ParquetStore(two_workers[0]).read()
    assert photo_status(stored) == photo_status(parquet)
    assert_same_faces(faces(stored), faces(parquet))

    first, second = sorted(root.glob("*/*.jpg"))[:2]
    shutil.copy(second, first)  # the same path, other content
    assert main(["index", str(root), "--db", url]) == 0
    assert "indexed 1 photos" in (printed := capsys.readouterr().out) and f"{PHOTOS + 1} skipped" in printed
    rows = [r for r in DatabaseStore(url).read().to_pylist() if r["path"] == first.relative_to(root).as_posix()]
    assert {r["sha256"] for r in rows} == {hashlib.sha256(second.read_bytes()).hexdigest()}
    assert open_gallery(url).people() == []  # the gallery's own tables are untouched


def test_a_photo_that_breaks_the_detector_or_is_gone_becomes_a_failure_row(archive: Path, fg: FaceGate) -> None:
    class Fussy:
        """The real detector, except that it fails on the blank 120×160 picture."""

        def detect(self, image: np.ndarray) -> list[Face]:
            if image.shape == (160, 120, 3):
                raise RuntimeError("cannot cope")
            return fg.detector.detect(image)

    fussy = FaceGate()
    fussy.__dict__.update(detector=Fussy(), embedder=fg.embedder)  # the cached stages, replaced
    photo = sorted(archive.glob("*/*.jpg"))[0].relative_to(archive).as_posix()
    rows = embed_photos(fussy, archive, [photo, "blank.png", "gone.jpg"]).to_pylist()
    assert [(r["path"], r["status"]) for r in rows if r["status"] != "ok"] == [
        ("blank.png", "error"),
        ("gone.jpg", "read_error"),
    ]
    assert {r["path"] for r in rows if r["status"] == "ok"} == {photo}
    failed = {r["path"]: r for r in rows if r["status"] != "ok"}
    assert failed["blank.png"]["error"] == "RuntimeError: cannot cope" and failed["blank.png"]["sha256"]
    assert failed["gone.jpg"]["error"] == "No such file or directory" and failed["gone.jpg"]["sha256"] is None


def test_open_gallery_adds_the_index_table_to_an_existing_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = open_engine(url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(text("INSERT INTO people (name, created_at) VALUES ('Ada', '2026-01-01 00:00:00')"))
    assert "photo_index" not in inspect(engine).get_table_names()
    gallery = open_gallery(url)
    assert "photo_index" in inspect(gallery.engine).get_table_names()
    assert [p.name for p in gallery.people()] == ["Ada"]


@pytest.mark.parametrize(
    "case, message",
    [
        ("missing", "missing: not a folder"),
        ("empty", "empty: no photos found"),
        ("out-is-a-file", "not a folder (--out names a Parquet dataset folder)"),
        ("foreign-parquet", "part-0.parquet: not a part of a facegate index"),
        ("workers", "--workers and --batch-size must be at least 1"),
    ],
)
def test_bad_input_is_one_error_line(
    case: str, message: str, archive: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "notes.txt").write_text("no photos here")
    (tmp_path / "file").write_text("")
    (tmp_path / "foreign").mkdir()
    pq.write_table(pa.table({"path": [1, 2]}), tmp_path / "foreign" / "part-0.parquet")
    photos, out = str(archive), str(tmp_path / "index")
    argv = {
        "missing": [str(tmp_path / "missing"), "--out", out],
        "empty": [str(tmp_path / "empty"), "--out", out],
        "out-is-a-file": [photos, "--out", str(tmp_path / "file")],
        "foreign-parquet": [photos, "--out", str(tmp_path / "foreign")],
        "workers": [photos, "--out", out, "--workers", "0"],
    }[case]
    assert main(["index", *argv]) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("facegate: error: ") and message in captured.err
    assert captured.err.count("\n") == 1 and captured.out == ""
    assert not (tmp_path / "index").exists()
