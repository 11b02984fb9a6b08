"""Vector search: exact and FAISS agree, ids come and go, the index follows the gallery, `facegate search` finds
the right person on real photos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from test_gallery import new_sample

from facegate import FaceGate
from facegate.cli import main
from facegate.errors import FaceGateError
from facegate.gallery import open_gallery
from facegate.gallery.search import GalleryVectorIndex
from facegate.match.vector_index import VectorIndex, VectorIndexError
from facegate.models import ModelFiles

EXACT, FAISS = 10**9, 0  # exact_limit values that keep an index exact, or put it on FAISS from the first vector


def normalised(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def faces_like(people: int, per_person: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors clustered as FaceNet embeddings are: photos of one person about 1.0 apart (LFW's genuine pairs
    are 0.6–1.1), of two people about √2. Returns people×per_person×128 samples and one more sample of each person
    (people×128) to search with."""
    rng = np.random.default_rng(seed)
    centres = normalised(rng.normal(size=(people, 1, 128)))
    faces = normalised(centres + rng.normal(scale=0.09, size=(people, per_person + 1, 128)))
    return faces[:, :per_person], faces[:, per_person]


def brute_force(vectors: np.ndarray, ids: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    distances = np.linalg.norm(queries[:, None] - vectors[None], axis=2)
    order = np.argsort(distances, axis=1)[:, :k]
    return np.take_along_axis(distances, order, axis=1), ids[order]


def test_exact_search_is_the_brute_force_answer() -> None:
    rng = np.random.default_rng(1)
    vectors, queries = normalised(rng.normal(size=(500, 128))), normalised(rng.normal(size=(20, 128)))
    ids = rng.permutation(10_000)[:500]
    index = VectorIndex(exact_limit=EXACT)
    index.add(ids, vectors)
    distances, found = index.search(queries, 7)
    expected_distances, expected_ids = brute_force(vectors, ids, queries, 7)
    assert not index.uses_faiss and len(index) == 500
    np.testing.assert_array_equal(found, expected_ids)
    np.testing.assert_allclose(distances, expected_distances, atol=1e-5)


def test_faiss_finds_what_exact_search_finds() -> None:
    samples, probes = faces_like(people=400, per_person=8)  # 3,200 vectors
    vectors, ids = samples.reshape(-1, 128), np.arange(samples.shape[0] * samples.shape[1]) * 3 + 1
    within = np.linalg.norm(samples[:, 0] - samples[:, 1], axis=1)
    assert 0.9 < np.median(within) < 1.1 and np.median(np.linalg.norm(probes - samples[:, 0], axis=1)) < 1.1
    exact, approximate = VectorIndex(exact_limit=EXACT), VectorIndex(exact_limit=1000)
    for index in (exact, approximate):
        index.add(ids, vectors)
    assert approximate.uses_faiss and not exact.uses_faiss
    truth_distances, truth = exact.search(probes, 5)
    distances, found = approximate.search(probes, 5)
    assert (found[:, 0] == truth[:, 0]).mean() >= 0.99
    same = found[:, 0] == truth[:, 0]
    np.testing.assert_allclose(distances[same, 0], truth_distances[same, 0], atol=1e-5)
    assert np.isin(found[:, 0], ids).all() and (np.diff(distances, axis=1) >= 0).all()


@pytest.mark.parametrize("limit", [EXACT, FAISS])
def test_add_remove_and_padding(limit: int) -> None:
    vectors = normalised(np.eye(4, dtype=np.float32)[:3] + 0.1)
    index = VectorIndex(dim=4, exact_limit=limit)
    assert len(index) == 0
    distances, ids = index.search(vectors[:1], 2)
    assert ids.tolist() == [[-1, -1]] and np.isinf(distances).all()
    index.add([10, 20, 30], vectors)
    assert index.uses_faiss == (limit == FAISS) and len(index) == 3
    distances, ids = index.search(vectors[1:2], 5)
    assert ids[0, 0] == 20 and ids[0, 3:].tolist() == [-1, -1] and set(ids[0, :3]) == {10, 20, 30}
    assert distances[0, 0] == pytest.approx(0.0, abs=1e-3) and np.isinf(distances[0, 3:]).all()
    assert distances.dtype == np.float32 and ids.dtype == np.int64
    assert [a.shape for a in index.search(np.zeros((0, 4), np.float32), 2)] == [(0, 2), (0, 2)]
    index.remove([20])
    assert len(index) == 2 and index.search(vectors[1:2], 1)[1][0, 0] in {10, 30}
    with pytest.raises(VectorIndexError, match="not in the index"):
        index.remove([20])
    with pytest.raises(VectorIndexError, match="already in the index"):
        index.add([30], vectors[:1])
    index.add([20], vectors[1:2])  # an id can come back after it was removed
    assert index.search(vectors[1:2], 1)[1][0, 0] == 20
    index.remove(np.array([10, 20, 30]))
    assert len(index) == 0 and index.search(vectors, 1)[1].tolist() == [[-1]] * 3


def test_switches_to_faiss_above_the_limit_and_back_below_half() -> None:
    rng = np.random.default_rng(2)
    samples, probes = faces_like(people=60, per_person=10, seed=3)
    vectors = samples.reshape(-1, 128)
    index, reference = VectorIndex(exact_limit=100), VectorIndex(exact_limit=EXACT)

    def agrees() -> bool:
        return bool((index.search(probes, 1)[1] == reference.search(probes, 1)[1]).all())

    for target in (index, reference):
        target.add(np.arange(100), vectors[:100])
    assert not index.uses_faiss and agrees()
    for target in (index, reference):
        target.add([100], vectors[100:101])
    assert index.uses_faiss and agrees()
    for target in (index, reference):  # grows past four times what it was trained on: retrained with more lists
        target.add(np.arange(101, 600), vectors[101:600])
    assert index.uses_faiss and agrees()
    gone = rng.permutation(600)[:549]
    for target in (index, reference):
        target.remove(gone)
    assert index.uses_faiss and len(index) == 51 and agrees()
    for target in (index, reference):
        target.remove(np.setdiff1d(np.arange(600), gone)[:1])
    assert not index.uses_faiss and len(index) == 50 and agrees()


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda i: i.add([1], np.zeros((1, 128))), "float32"),
        (lambda i: i.add([1], np.zeros((1, 64), np.float32)), "N×128"),
        (lambda i: i.add([1], np.zeros(128, np.float32)), "N×128"),
        (lambda i: i.add([1], np.full((1, 128), np.nan, np.float32)), "NaN"),
        (lambda i: i.add([1.0], np.zeros((1, 128), np.float32)), "integers"),
        (lambda i: i.add([-1], np.zeros((1, 128), np.float32)), "non-negative"),
        (lambda i: i.add([1, 1], np.zeros((2, 128), np.float32)), "repeat"),
        (lambda i: i.add([1, 2], np.zeros((1, 128), np.float32)), "2 ids for 1 vectors"),
        (lambda i: i.search(np.zeros((1, 128), np.float32), 0), "positive"),
        (lambda i: i.search(np.zeros((1, 128), np.float32), 1.5), "positive"),
        (lambda i: i.search(np.zeros((1, 127), np.float32), 1), "queries must be an N×128"),
    ],
)
def test_bad_input_is_a_clear_error(call, message: str) -> None:
    index = VectorIndex()
    with pytest.raises(VectorIndexError, match=message) as caught:
        call(index)
    assert isinstance(caught.value, FaceGateError) and isinstance(caught.value, ValueError)
    assert len(index) == 0


@pytest.mark.parametrize("limit", [EXACT, FAISS])
def test_gallery_index_follows_adds_and_deletes(limit: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    gallery = open_gallery(str(tmp_path / "g.db"))
    ada, bob = gallery.add_person("Ada").id, gallery.add_person("Bob").id
    first = [gallery.add_sample(ada, new_sample(seed, f"{seed}".ljust(64, "a"))).id for seed in range(3)]
    requested: list[list[int]] = []
    reads = gallery.embeddings_by_ids
    monkeypatch.setattr(gallery, "embeddings_by_ids", lambda ids: requested.append(sorted(ids)) or reads(ids))
    monkeypatch.setattr(gallery, "training_set", lambda: pytest.fail("the index reloaded every embedding"))
    index = GalleryVectorIndex(gallery, exact_limit=limit)

    def top(seed: int, k: int = 1) -> list[tuple[int, str | None, float]]:
        query = new_sample(seed, "").embedding[None]
        return [(h.sample_id, h.person, round(h.distance, 4)) for h in index.search(query, k)[0]]

    assert top(0) == [(first[0], "Ada", 0.0)] and requested == [first]
    assert len(top(1, k=10)) == 3 and requested == [first]  # no change in the gallery: nothing read
    added = gallery.add_sample(bob, new_sample(7, "7" * 64)).id
    assert top(7) == [(added, "Bob", 0.0)] and requested[-1] == [added]
    gallery.delete_sample(first[1])
    assert first[1] not in [sample for sample, _, _ in top(1, k=10)] and requested[-1] == []
    gallery.delete_sample(added)  # ids are never handed out again: the next sample gets a new one
    fresh = gallery.add_sample(bob, new_sample(8, "8" * 64)).id
    assert fresh > added and top(8) == [(fresh, "Bob", 0.0)] and top(7)[0][2] > 0.5
    gallery.delete_person(ada)
    assert [sample for sample, _, _ in top(0, k=10)] == [fresh]
    gallery.delete_person(bob)
    assert top(0) == [] and len(index.index) == 0 and index.revision == gallery.revision()


def test_search_command_names_the_right_person(
    models: ModelFiles, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    photos = tmp_path / "people"
    for person in ("ben_afflek", "madonna", "mindy_kaling"):
        (photos / person).mkdir(parents=True)
        for path in sorted((models.celebrity / "train" / person).glob("*.jpg"))[:4]:
            shutil.copy(path, photos / person / path.name)
    db = str(tmp_path / "g.db")
    assert main(["enroll", str(photos), "--db", db]) == 0
    capsys.readouterr()
    enrolled = {p.name: p.samples for p in open_gallery(db).people()}
    assert len(enrolled) == 3 and min(enrolled.values()) >= 1
    probe = sorted((models.celebrity / "val" / "madonna").glob("*.jpg"))[0]
    assert main(["search", str(probe), "--db", db, "--top", "3", "--json"]) == 0
    answer = json.loads(capsys.readouterr().out)
    matches = answer["faces"][0]["matches"]
    assert answer["searched"] == f"{sum(enrolled.values())} enrolled sample(s)" and len(matches) == 3
    assert matches[0]["person"] == "madonna" and matches[0]["distance"] < 0.95 and matches[0]["same_person"]
    assert Path(matches[0]["photo"]).name in {p.name for p in (photos / "madonna").iterdir()}  # where it came from
    assert [m["distance"] for m in matches] == sorted(m["distance"] for m in matches)
    assert main(["search", str(probe), "--db", db, "--top", "1"]) == 0
    text = capsys.readouterr().out
    assert "1 face(s)" in text and "1. madonna (" in text and "same person" in text


def test_search_finds_a_person_in_an_archive_index(
    models: ModelFiles, fg: FaceGate, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`facegate search --index`: the archive's photos of the probe's person come first (Parquet index written
    by the indexer's own row code, without starting Ray)."""
    from facegate.archive.rows import embed_photos
    from facegate.archive.store import ParquetStore

    archive = models.celebrity / "train"
    paths = [str(p.relative_to(archive)) for p in sorted(archive.glob("*/*.jpg"))[::3]]
    store = ParquetStore(tmp_path / "index")
    store.append(embed_photos(fg, archive, paths))
    probe = sorted((models.celebrity / "val" / "madonna").glob("*.jpg"))[0]
    assert main(["search", str(probe), "--index", str(tmp_path / "index"), "--top", "3", "--json"]) == 0
    matches = json.loads(capsys.readouterr().out)["faces"][0]["matches"]
    assert [m["photo"].split("/")[0] for m in matches] == ["madonna"] * 3 and matches[0]["same_person"]
