"""The packed face index and its HNSW graph: round trip, staleness, recall, damage, the Faces page.

The per-photo entries are written by the real :func:`core.faces.index.build_face_index`, driven by
a stand-in engine (:class:`DescriptorEngine`) that "finds" faces with descriptors drawn around a
few hundred identity centres: the face models are tested in tests/test_faces.py, and indexing
thousands of real faces here would take minutes. Everything under test (entries, pack, graph,
search, page) is the real code.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.cache import DiskCache
from core.faces.engine import CHIP_SIZE, EMBEDDING_DIM, Face
from core.faces.index import (
    FaceIndex,
    build_face_index,
    delete_face_index,
    index_status,
    load_face_index,
    pack_face_index,
)
from core.faces.people import PeopleBook, PeopleClusterer, assign_people, find_people
from core.faces.search import AnnFaceSearcher, FaceSearcher
from core.image.io import ImageError

REPO = Path(__file__).resolve().parents[1]
SIZE = (640, 480)


def clustered(n: int, n_people: int, seed: int) -> np.ndarray:
    """Descriptors of ``n`` faces of ``n_people`` people, spread like dlib's (same person ~0.5 apart)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 0.07, (n_people, EMBEDDING_DIM))
    people = rng.integers(0, n_people, n)
    return (centres[people] + rng.normal(0, 0.03, (n, EMBEDDING_DIM))).astype(np.float32)


class DescriptorEngine:
    """Stands in for FaceEngine: photo ``p<i>.jpg`` holds 0-3 faces drawn from a fixed pool.

    Every 7th photo has no face, every 11th face is too small to recognise, and a photo named
    ``broken*.jpg`` cannot be read.
    """

    def __init__(self, pool: np.ndarray) -> None:
        self.pool = pool

    def analyze_file(self, path):
        name = Path(path).stem
        if name.startswith("broken"):
            raise ImageError("truncated image (a test photo)")
        i = int(name[1:])
        rng = np.random.default_rng(i)
        n_faces = 0 if i % 7 == 0 else int(rng.integers(1, 4))
        faces = []
        for k in range(n_faces):
            box = np.array([40.0 * k + 10, 30.0, 60.0, 60.0])
            embedding = None if (i + k) % 11 == 0 else self.pool[(3 * i + k) % len(self.pool)]
            faces.append(Face(box=box, score=0.5 + 0.1 * k, keypoints=np.tile(box[:2], (6, 1)),
                              embedding=embedding, chip=np.full((CHIP_SIZE, CHIP_SIZE, 3), 40 * k, np.uint8)))
        return faces, SIZE


def catalogue_of(names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"post_id": [f"post-{n}" for n in names], "file": [f"{n}.jpg" for n in names],
                         "path": [f"/photos/{n}.jpg" for n in names],
                         "sha256": [f"{n}0{n}".ljust(64, "a") for n in names], "likes": 10})


def photos(n: int, broken: int = 1) -> pd.DataFrame:
    return catalogue_of([f"p{i}" for i in range(1, n + 1)] + [f"broken{i}" for i in range(broken)])


class CountingCache(DiskCache):
    """A DiskCache that remembers which kinds of entry were read."""

    def __init__(self, root) -> None:
        super().__init__(root)
        self.reads: list[str] = []

    def get(self, kind, key, suffix=""):
        self.reads.append(kind)
        return super().get(kind, key, suffix)


@pytest.fixture(scope="module")
def pool() -> np.ndarray:
    return clustered(600, 40, seed=3)


@pytest.fixture()
def indexed(pool, tmp_path) -> tuple[pd.DataFrame, DiskCache]:
    """120 photos (and a broken one) indexed into a fresh cache, not packed."""
    catalogue = photos(120)
    cache = DiskCache(tmp_path / "cache")
    build_face_index(catalogue, DescriptorEngine(pool), cache=cache, workers=1)
    return catalogue, cache


def assert_same_index(got: FaceIndex, expected: FaceIndex) -> None:
    pd.testing.assert_frame_equal(got.faces, expected.faces)
    np.testing.assert_array_equal(got.embeddings, expected.embeddings)  # NaN rows included
    assert (got.n_photos, got.n_done, got.failed) == (expected.n_photos, expected.n_done, expected.failed)


# ----------------------------------------------------------------------------- the pack


def test_the_pack_gives_the_per_photo_index_from_one_read(indexed):
    catalogue, cache = indexed
    per_photo = load_face_index(catalogue, cache)
    assert len(per_photo.faces) > 150 and (~per_photo.faces["recognisable"]).any() and len(per_photo.failed) == 1
    packed = pack_face_index(catalogue, cache)
    assert packed.written and not packed.approximate
    assert (packed.n_photos, packed.n_done, packed.n_faces) == (121, 121, len(per_photo.faces))

    counting = CountingCache(cache.root)
    from_pack = load_face_index(catalogue, counting)
    assert_same_index(from_pack, per_photo)
    assert not from_pack.approximate
    assert not [kind for kind in counting.reads if kind.endswith(("-v1", "-errors"))], "no per-photo read"
    assert len(counting.reads) == 2  # the pack and the deletion token
    counting.reads.clear()
    assert index_status(catalogue, counting) == (121, 121)
    assert len(counting.reads) == 2  # the pack's small info entry and the deletion token

    query = per_photo.embeddings[per_photo.faces["recognisable"].to_numpy()][5]
    pd.testing.assert_frame_equal(from_pack.search(query, k=4), per_photo.search(query, k=4))
    pd.testing.assert_series_equal(assign_people(from_pack), assign_people(per_photo))
    again = pack_face_index(catalogue, cache)
    assert not again.written and again.nbytes == packed.nbytes


def test_a_large_pack_carries_an_hnsw_graph_that_finds_the_faces(indexed):
    catalogue, cache = indexed
    exact = load_face_index(catalogue, cache)
    packed = pack_face_index(catalogue, cache, ann_min_faces=100)
    assert packed.written and packed.approximate and packed.n_recognisable >= 100
    ann = load_face_index(catalogue, cache)
    assert ann.approximate and not exact.approximate
    assert_same_index(ann, exact)  # the descriptors come back from the graph's storage, bit for bit
    rows = exact.faces["recognisable"].to_numpy()
    for query in exact.embeddings[rows][::17]:
        got, expected = ann.search(query, k=5), exact.search(query, k=5)
        assert got["distance"].iloc[0] < 1e-3 and list(got.columns) == list(expected.columns)
        assert set(got["face_key"]) == set(expected["face_key"])  # 160 faces: the graph is exact here
        np.testing.assert_allclose(got["distance"], expected["distance"], atol=2e-3)
    # The threshold moved above the archive: the pack is rewritten without the graph.
    assert pack_face_index(catalogue, cache, ann_min_faces=10_000).written
    assert not load_face_index(catalogue, cache).approximate


def test_a_stale_pack_is_never_served(pool, tmp_path):
    engine = DescriptorEngine(pool)
    cache = DiskCache(tmp_path / "cache")
    catalogue = photos(60, broken=0)
    half = catalogue.iloc[:30]
    build_face_index(half, engine, cache=cache, workers=1)
    assert pack_face_index(catalogue, cache).n_done == 30  # packed half-way through indexing

    # Photos indexed after the pack was made: their entries are newer, the pack is not read.
    build_face_index(catalogue.iloc[30:40], engine, cache=cache, workers=1)
    assert index_status(catalogue, cache) == (40, 60)
    index = load_face_index(catalogue, cache)
    assert index.n_done == 40 and "p36.jpg" in set(index.faces["file"])
    assert pack_face_index(catalogue, cache).written  # the next pack is current again
    assert load_face_index(catalogue, cache).n_done == 40

    # Another catalogue (a photo more, or the same photos in another order) has its own key.
    build_face_index(catalogue, engine, cache=cache, workers=1)
    bigger = pd.concat([catalogue, photos(61, broken=0).iloc[[60]]], ignore_index=True)
    assert load_face_index(bigger, cache).n_photos == 61
    assert pack_face_index(catalogue, cache).written
    counting = CountingCache(cache.root)
    reordered = load_face_index(catalogue.iloc[::-1], counting)
    assert len(counting.reads) > 60, "the rows follow the catalogue: read per photo, not from the pack"
    assert reordered.faces["file"].iloc[0] == "p60.jpg"

    # Deleting the faces of an archive that shares photos with this one: its pack is not read either.
    full = load_face_index(catalogue, cache)
    assert full.n_done == 60 and not pack_face_index(catalogue, cache).written
    delete_face_index(catalogue.iloc[:5], cache)
    after = load_face_index(catalogue, cache)
    assert after.n_done == 55 and not set(after.faces["sha256"]) & set(catalogue["sha256"].iloc[:5])
    assert index_status(catalogue, cache) == (55, 60)
    assert len(after.faces) < len(full.faces)


def test_a_damaged_pack_falls_back_to_the_per_photo_entries(indexed):
    from core.faces import index as index_module

    catalogue, cache = indexed
    per_photo = load_face_index(catalogue, cache)
    pack_face_index(catalogue, cache, ann_min_faces=100)
    key = index_module._pack_key(catalogue["sha256"].drop_duplicates().tolist())
    good = cache.get(index_module._PACK, key, ".bin")
    arrays, meta = index_module._decode_pack(good)
    garbage_graph = index_module._encode_pack({**arrays, "ann": np.arange(4000, dtype=np.uint8)}, meta)
    flipped = bytearray(good)
    flipped[len(good) // 2] ^= 0xFF
    for damaged in (good[: len(good) // 2], bytes(flipped), b"", b"not a pack at all", garbage_graph):
        cache.put(index_module._PACK, key, damaged, ".bin")
        index = load_face_index(catalogue, cache)
        assert_same_index(index, per_photo)
        assert not index.approximate
        assert index_status(catalogue, cache) == (121, 121)
    assert pack_face_index(catalogue, cache, ann_min_faces=100).written  # the next batch repairs it
    assert load_face_index(catalogue, cache).approximate


def test_the_packed_people_spare_the_clustering_until_the_book_needs_it(indexed, monkeypatch):
    catalogue, cache = indexed
    pack_face_index(catalogue, cache)
    index = load_face_index(catalogue, cache)
    expected = assign_people(index, clusterer=PeopleClusterer())  # computed afresh
    assert expected.nunique() > 10

    def no_clustering(*args, **kwargs):
        raise AssertionError("clustered again")

    monkeypatch.setattr(PeopleClusterer, "fit_predict", no_clustering)
    people = find_people(catalogue, "k", cache=cache, index=index)
    pd.testing.assert_series_equal(people.person_ids, expected)
    # Faces the book assigns, and new faces near them, need no clustering either.
    book = PeopleBook()
    book.freeze(list(expected.index), list(expected.values))
    pd.testing.assert_series_equal(assign_people(index, book), expected)
    # A pack made without people: the clustering runs.
    pack_face_index(catalogue, cache, people=False)
    with pytest.raises(AssertionError, match="clustered again"):
        assign_people(load_face_index(catalogue, cache))


# ----------------------------------------------------------------------------- the graph


def test_hnsw_recall_at_10_on_clustered_descriptors_is_above_the_floor():
    stored = clustered(6000, 300, seed=5)
    rng = np.random.default_rng(9)  # the queries: new faces of stored people
    queries = stored[rng.integers(0, len(stored), 300)] + rng.normal(0, 0.03, (300, EMBEDDING_DIM)).astype(np.float32)
    exact_dist, exact_idx = FaceSearcher().fit(stored).kneighbors(queries, 10)
    ann = AnnFaceSearcher.from_bytes(AnnFaceSearcher().fit(stored).to_bytes())
    dist, idx = ann.kneighbors(queries, 10)
    recall = (idx[:, :, None] == exact_idx[:, None, :]).any(axis=2).mean()
    assert recall >= 0.95, recall  # a graph with wrong ids or lost links is far below
    assert idx.shape == dist.shape == (300, 10) and (np.diff(dist, axis=1) >= 0).all()
    # The distances are Euclidean, as the exact searcher's.
    np.testing.assert_allclose(dist, np.linalg.norm(stored[idx] - queries[:, None], axis=2), atol=1e-4)
    np.testing.assert_allclose(dist[:, 0], exact_dist[:, 0], atol=1e-4)
    np.testing.assert_array_equal(ann.X_, stored)
    assert ann.kneighbors(queries[:2], 10_000)[1].shape == (2, 6000)  # k beyond the graph: every face


def test_hnsw_bytes_that_are_not_a_graph_are_refused():
    for data in (b"", b"garbage" * 100, AnnFaceSearcher().fit(clustered(50, 5, 1)).to_bytes()[:300]):
        with pytest.raises(ValueError):
            AnnFaceSearcher.from_bytes(data)


def test_faiss_is_imported_only_when_a_graph_is_built_or_read():
    code = ("import sys, core.faces, core.faces.index, core.faces.search, core.faces.people\n"
            "assert 'faiss' not in sys.modules\n"
            "import pandas as pd, tempfile\n"
            "from core.cache import DiskCache\n"
            "cat = pd.DataFrame({'sha256': ['ab'], 'post_id': ['1'], 'file': ['a'], 'path': ['/a']})\n"
            "core.faces.index.pack_face_index(cat, DiskCache(tempfile.mkdtemp()))\n"
            "core.faces.index.load_face_index(cat)\n"
            "print('faiss' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "False", out.stderr[-2000:]


# ----------------------------------------------------------------------------- the app


def test_the_faces_page_reads_the_pack_alone(pool, data_dir, isolated_cache, monkeypatch):
    """After a pack, the page shows the index with every per-photo face entry gone: it read the pack."""
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    from core.archive import open_archive

    cache = DiskCache(isolated_cache)
    archive = open_archive(data_dir / "instaloader-boston-2accounts", cache=cache)
    named = archive.catalogue.assign(path=[f"/photos/p{i + 1}.jpg" for i in range(len(archive.catalogue))])
    build_face_index(named, DescriptorEngine(pool), cache=cache, workers=1)
    packed = pack_face_index(archive.catalogue, cache)
    assert packed.n_done == 25 and packed.n_faces > 10
    for entry in (isolated_cache / "faces" / "faces-v1").rglob("*.npy"):
        entry.unlink()  # only the pack (and the chips) remain
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
        at.session_state["archive"] = archive
        at.run()
        at.switch_page("app_pages/faces.py").run()
        assert not at.exception, at.exception
        assert not [b for b in at.button if b.key == "faces_build"]
        assert any(c.value.startswith(f"Face index: {packed.n_faces} faces in 25 photos") for c in at.caption)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
