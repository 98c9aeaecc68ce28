"""core.faces.engine, core.faces.dlib_net, core.faces.people on real photos and real face data."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.cache import DiskCache, sha256_file
from core.faces.dlib_net import RESNET_FILE, DlibResNet, dlib_model_file
from core.faces.engine import (
    MIN_FACE_PX,
    SAME_PERSON_THRESHOLD,
    FaceEngine,
    FaceIndex,
    FaceSearcher,
    build_face_index,
    delete_face_index,
    face_chip,
    index_status,
    load_face_index,
)
from core.faces.people import (
    PeopleBook,
    PeopleClusterer,
    assign_people,
    clean_name,
    delete_people,
    people_table,
    post_person_labels,
)
from core.image.io import ImageError
from core.jobs import Cancelled, ModelUnavailableError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def engine(shared_dir: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
        eng = FaceEngine()
    yield eng
    eng.close()


def _sample(name: str) -> np.ndarray:
    if name == "grace_hopper":
        from matplotlib import cbook

        with cbook.get_sample_data("grace_hopper.jpg") as fh:
            return np.asarray(Image.open(fh).convert("RGB"))
    from skimage import data

    image = getattr(data, name)()
    return np.stack([image] * 3, -1) if image.ndim == 2 else image[..., :3]


# ----------------------------------------------------------------------------- detection


def test_astronaut_has_one_face_and_coffee_none(engine):
    faces = engine.analyze(_sample("astronaut"))
    assert len(faces) == 1
    x, y, w, h = faces[0].box
    # MediaPipe's own result on this photo (shared/models/MANIFEST.md): (177, 82, 95, 95).
    assert abs(x - 177) < 15 and abs(y - 82) < 15 and 80 < w < 115
    assert faces[0].score > 0.8 and faces[0].recognisable
    assert faces[0].embedding.shape == (128,) and faces[0].chip.shape == (150, 150, 3)
    assert engine.analyze(_sample("coffee")) == []
    assert engine.analyze(_sample("chelsea")) == []  # a cat


def test_greyscale_portraits(engine):
    camera = _sample("camera")[..., 0]  # a 2-D greyscale array
    faces = engine.analyze(camera)
    assert len(faces) == 1 and faces[0].recognisable
    assert len(engine.analyze(_sample("grace_hopper"))) == 1


def test_group_photo_finds_several_faces(engine, data_dir):
    faces, (w, h) = engine.analyze_file(data_dir / "faces-deepface-pairs" / "images" / "selfie-many-people.jpg")
    assert len(faces) >= 4  # the whole-photo pass alone finds 3; the tiles add more
    for face in faces:
        x, y, bw, bh = face.box
        assert -bw / 2 < x < w and -bh / 2 < y < h
    areas = [f.box[2] * f.box[3] for f in faces]
    assert areas == sorted(areas, reverse=True)
    # Every found face is a different person.
    vectors = np.stack([f.embedding for f in faces if f.recognisable])
    d = np.linalg.norm(vectors[:, None] - vectors[None], axis=2)
    assert (d[np.triu_indices(len(vectors), 1)] > SAME_PERSON_THRESHOLD).all()


def test_bad_input(engine, tmp_path):
    # Not an image.
    with pytest.raises(ImageError):
        engine.analyze_file(b"this is not a photo")
    # Tiny photos and blank ones: no face, no crash.
    assert engine.analyze(np.zeros((6, 9, 3), np.uint8)) == []
    assert engine.analyze(np.full((900, 1200, 3), 200, np.uint8)) == []
    # A huge photo (24 MP) is decoded small and still works.
    big = tmp_path / "big.jpg"
    Image.fromarray(_sample("astronaut")).resize((4800, 4800)).save(big, quality=85)
    faces, size = engine.analyze_file(big)
    assert max(size) == 1600 and len(faces) == 1 and faces[0].recognisable
    # A tiny face in a large photo is found or not, but never gets a descriptor.
    canvas = np.full((1200, 1200, 3), 235, np.uint8)
    canvas[500:590, 500:590] = np.asarray(Image.fromarray(_sample("astronaut")).resize((90, 90)))
    for face in engine.analyze(canvas):
        assert face.recognisable == (min(face.box[2:]) >= MIN_FACE_PX)
    with pytest.raises(ValueError):
        engine.analyze(np.zeros((10, 10, 3), np.float32))


def test_tight_crops_are_padded(engine, data_dir):
    crop = data_dir / "faces-glint-celeb24" / "images" / "Barack_Obama" / "7.png"
    faces, size = engine.analyze_file(crop)
    assert size == (112, 112) and len(faces) == 1 and faces[0].recognisable


# ----------------------------------------------------------------------------- embedding


def test_numpy_descriptor_equals_dlib(engine):
    import dlib

    chips = np.stack([engine.analyze(_sample(n))[0].chip for n in ("astronaut", "grace_hopper")])
    ours = DlibResNet().compute(chips)
    reference = dlib.face_recognition_model_v1(str(dlib_model_file(RESNET_FILE)))
    theirs = np.array([reference.compute_face_descriptor(c) for c in chips])
    np.testing.assert_allclose(ours, theirs, atol=1e-4)
    assert np.linalg.norm(ours[0] - ours[1]) > SAME_PERSON_THRESHOLD  # two different women


def test_verification_on_labelled_pairs(engine, data_dir):
    """A subset of faces-deepface-pairs: every pair among 12 photos of 5 people."""
    root = data_dir / "faces-deepface-pairs"
    labels = {r["path"]: r["identity_group"] for r in csv.DictReader(open(root / "labels.csv"))}
    groups = ["person_01", "person_02", "person_03", "person_06", "person_09"]
    subset = [p for g in groups for p in sorted(k for k, v in labels.items() if v == g)[:3]][:12]
    emb = {p: engine.analyze_file(root / p)[0][0].embedding for p in subset}
    pairs = [r for r in csv.DictReader(open(root / "pairs.csv")) if r["file_x"] in emb and r["file_y"] in emb]
    assert len(pairs) >= 20
    same = np.array([r["same_person"] == "1" for r in pairs])
    dist = np.array([np.linalg.norm(emb[r["file_x"]] - emb[r["file_y"]]) for r in pairs])
    assert same.any() and (~same).any()
    assert ((dist < SAME_PERSON_THRESHOLD) == same).mean() >= 0.95


def test_glint_crops_cluster_into_people(engine, data_dir):
    root = data_dir / "faces-glint-celeb24"
    rows = [r for r in csv.DictReader(open(root / "labels.csv"))]
    people = ["Barack Obama", "Halle Berry", "Keanu Reeves", "Tina Fey", "Will Smith", "Kate Winslet"]
    rows = [r for r in rows if r["identity"] in people]
    found = [engine.analyze_file(root / r["path"])[0][0] for r in rows]
    X = np.stack([f.embedding for f in found])
    truth = np.array([r["identity"] for r in rows])
    labels = PeopleClusterer().fit_predict(X, [f.score for f in found])
    purity = sum(np.unique(truth[labels == c], return_counts=True)[1].max() for c in np.unique(labels)) / len(truth)
    assert purity >= 0.95
    assert len(people) <= len(np.unique(labels)) <= 2 * len(people)
    d = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(d, np.inf)
    assert (truth[d.argmin(1)] == truth).mean() >= 0.95  # leave-one-out rank-1


# ----------------------------------------------------------------------------- search


def test_searcher_matches_sklearn():
    from sklearn.neighbors import NearestNeighbors

    rng = np.random.default_rng(1)
    X = rng.normal(size=(500, 128)).astype(np.float32)
    Q = rng.normal(size=(7, 128)).astype(np.float32)
    dist, idx = FaceSearcher().fit(X).kneighbors(Q, 5)
    ref_dist, ref_idx = NearestNeighbors(n_neighbors=5).fit(X).kneighbors(Q)
    np.testing.assert_array_equal(idx, ref_idx)
    np.testing.assert_allclose(dist, ref_dist, rtol=1e-4)
    assert FaceSearcher().fit(X[:3]).kneighbors(Q[:1], 10)[1].shape == (1, 3)


# ----------------------------------------------------------------------------- the archive index


@pytest.fixture()
def photo_catalogue(tmp_path: Path) -> pd.DataFrame:
    """Four real photos (two portraits, a grey portrait, a cup of coffee) and one broken file."""
    rows = []
    for i, name in enumerate(["astronaut", "coffee", "camera", "grace_hopper"]):
        path = tmp_path / f"{name}.jpg"
        Image.fromarray(_sample(name)).save(path, quality=90)
        rows.append((f"post{i}", path, 100 * (i + 1)))
    broken = tmp_path / "broken.jpg"
    good = (tmp_path / "coffee.jpg").read_bytes()
    broken.write_bytes(good[: len(good) // 2])
    rows.append(("post4", broken, None))
    return pd.DataFrame({
        "post_id": [r[0] for r in rows], "position": 1, "file": [r[1].name for r in rows],
        "path": [str(r[1]) for r in rows], "sha256": [sha256_file(r[1]) for r in rows],
        "likes": pd.array([r[2] for r in rows], dtype="Int64"), "caption": "",
    })


def test_build_index_is_cached_cancellable_and_deletable(engine, photo_catalogue, tmp_path):
    cache = DiskCache(tmp_path / "cache")
    assert index_status(photo_catalogue, cache) == (0, 5)
    calls = []
    with pytest.raises(Cancelled):
        build_face_index(photo_catalogue, engine, cache=cache, workers=1,
                         progress=lambda d, t, m: calls.append(d), cancel=lambda: len(calls) >= 2)
    done, total = index_status(photo_catalogue, cache)
    assert 1 <= done < total == 5  # the finished photos are kept

    index = build_face_index(photo_catalogue, engine, cache=cache)
    assert index.complete and index.n_done == 5
    assert set(index.faces["file"]) == {"astronaut.jpg", "camera.jpg", "grace_hopper.jpg"}
    assert list(index.failed.values())[0].startswith("truncated image")
    assert index.photos_without_faces == 1  # the coffee
    faces = index.faces.set_index("file")
    x, y, w, h = faces.loc["astronaut.jpg", ["x", "y", "w", "h"]]
    assert 0.3 < x < 0.4 and 0.1 < y < 0.2 and 0.15 < w < 0.25  # fractions of the photo
    chip = face_chip(faces.loc["astronaut.jpg", "sha256"], 0, cache)
    assert chip.shape == (150, 150, 3)

    # Search: the astronaut finds herself first.
    query = engine.analyze(_sample("astronaut"))[0].embedding
    hits = index.search(query, k=3)
    assert hits["file"].iloc[0] == "astronaut.jpg" and hits["distance"].iloc[0] < 0.1
    assert hits["same_person"].tolist() == [True, False, False]

    # A second build reads the cache only.
    class NoModel:
        def analyze_file(self, *a, **k):
            raise AssertionError("a cached photo was analysed again")

    again = build_face_index(photo_catalogue, NoModel(), cache=cache)
    np.testing.assert_array_equal(again.embeddings, index.embeddings)

    assert delete_face_index(photo_catalogue, cache) >= 5
    assert index_status(photo_catalogue, cache) == (0, 5)
    assert load_face_index(photo_catalogue, cache).faces.empty


def test_people_names_and_post_labels(engine, photo_catalogue, tmp_path):
    cache = DiskCache(tmp_path / "cache")
    index = build_face_index(photo_catalogue, engine, cache=cache)
    book = PeopleBook.load("archive-1", cache)
    ids = assign_people(index, book)
    assert ids.nunique() == 3  # three different people
    table = people_table(index, ids, book, photo_catalogue)
    assert set(table["n_posts"]) == {1} and set(table["mean_likes"]) == {100.0, 300.0, 400.0}

    grace = ids[index.faces.set_index("file").loc["grace_hopper.jpg", "face_key"]]
    book.freeze(list(ids.index), list(ids.values))
    assert book.rename(grace, "  Grace\tHopper ") == grace
    book.save("archive-1", cache)
    labels = post_person_labels(photo_catalogue, "archive-1", cache=cache, named_only=True)
    assert list(labels.columns) == ["Grace Hopper"]
    column = labels["Grace Hopper"]
    assert column["post3"] is True or column["post3"] == True  # noqa: E712 - nullable boolean
    assert column[["post0", "post1", "post2"]].tolist() == [False, False, False]
    every = post_person_labels(photo_catalogue, "archive-1", cache=cache)
    assert len(every.columns) == 3 and "Grace Hopper" in every.columns

    # Names are per archive.
    assert PeopleBook.load("archive-2", cache).names == {}
    assert delete_people("archive-1", cache) and PeopleBook.load("archive-1", cache).names == {}


def test_post_labels_before_and_during_indexing(engine, photo_catalogue, tmp_path):
    cache = DiskCache(tmp_path / "cache")
    assert post_person_labels(photo_catalogue, "k", cache=cache).shape == (5, 0)
    build_face_index(photo_catalogue.iloc[:1], engine, cache=cache)  # only the astronaut
    labels = post_person_labels(photo_catalogue, "k", cache=cache)
    assert labels.shape == (5, 1)
    assert labels.iloc[0, 0] == True  # noqa: E712
    assert labels.iloc[1:, 0].isna().all()  # not indexed yet: unknown, not False


def _fake_index(vectors: np.ndarray) -> FaceIndex:
    n = len(vectors)
    faces = pd.DataFrame({
        "face_key": [f"{i:04x}-0" for i in range(n)], "sha256": [f"{i:04x}" for i in range(n)],
        "face_no": 0, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "score": 0.9, "recognisable": True,
        "post_id": [f"p{i}" for i in range(n)], "file": "f.jpg", "path": "/f.jpg",
    })
    return FaceIndex(faces=faces, embeddings=vectors.astype(np.float32), n_photos=n, n_done=n)


def test_merge_split_and_new_faces_keep_the_book():
    rng = np.random.default_rng(0)
    a, b, c = (rng.normal(size=128) for _ in range(3))
    vectors = np.stack([a, a + 0.01, b, b + 0.01, c])
    index = _fake_index(vectors)
    book = PeopleBook()
    ids = assign_people(index, book)
    assert ids.tolist() == ["p1", "p1", "p2", "p2", "p3"]
    book.freeze(list(ids.index), list(ids.values))
    book.rename("p2", "Bo")
    book.merge("p2", "p3")
    new = book.split([ids.index[1]])
    assert new == "p4"
    ids = assign_people(index, book)
    assert ids.tolist() == ["p1", "p4", "p2", "p2", "p2"]
    assert book.display_name("p2") == "Bo" and book.display_name("p4") == "Person 4"
    # Naming a person like another merges them.
    assert book.rename("p4", "bo") == "p2"
    assert assign_people(index, book).tolist() == ["p1", "p2", "p2", "p2", "p2"]
    # A new photo of a known face joins that person; a stranger becomes a new person.
    grown = _fake_index(np.vstack([vectors, c + 0.02, a - 0.01, rng.normal(size=128)]))
    assert assign_people(grown, book).tolist()[-3:] == ["p2", "p1", "p5"]


def test_people_book_file_is_robust(tmp_path):
    cache = DiskCache(tmp_path)
    cache.put("faces/people", "x1", b"{not json", ".json")
    assert PeopleBook.load("x1", cache) == PeopleBook()
    assert PeopleBook.load("../../etc", cache) == PeopleBook()  # odd keys never reach a path
    assert clean_name("a" * 100) == "a" * 60
    assert clean_name("\u202eevil\x00") == "evil"


def test_missing_or_damaged_model_is_reported(tmp_path, monkeypatch):
    (tmp_path / "blaze_face_short_range.tflite").write_bytes(b"not a model")
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(tmp_path))
    with pytest.raises(ModelUnavailableError, match="blaze_face_short_range.tflite"):
        FaceEngine()


def test_import_is_light_and_mediapipe_skips_tensorflow(shared_dir):
    code = (
        "import sys, core.faces.engine, core.faces.people, core.faces.dlib_net\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mediapipe', 'dlib', 'torch', 'cv2', 'sklearn') "
        "if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "engine = core.faces.engine.FaceEngine()\n"
        "assert 'mediapipe' in sys.modules and 'tensorflow' not in sys.modules\n"
        "engine.close()\n"
        "print('ok')\n"
    )
    env = {"FEEDLENS_MODEL_DIR": str(shared_dir / "models"), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env,
                         timeout=120)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]
    assert "Traceback" not in out.stderr  # MediaPipe's finaliser is closed cleanly at exit
