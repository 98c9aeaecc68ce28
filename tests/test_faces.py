"""core.faces (engine, dlib_net, index, search, people) on real photos and real face data."""

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
from core.faces.engine import MIN_FACE_PX, SAME_PERSON_THRESHOLD, FaceEngine
from core.faces.index import FaceIndex, build_face_index, delete_face_index, face_chip, index_status, load_face_index
from core.faces.people import (
    PeopleBook,
    PeopleClusterer,
    assign_people,
    clean_name,
    delete_people,
    find_people,
    merge_people,
    people_table,
    post_person_labels,
    rename_person,
    split_person,
)
from core.faces.search import FaceSearcher, search_photo
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


# ----------------------------------------------------------------------------- the people pipeline

GLINT_PEOPLE = ["Barack Obama", "Halle Berry", "Keanu Reeves", "Tina Fey"]
DEEPFACE_PEOPLE = ["person_01", "person_02", "person_03"]


@pytest.fixture(scope="module")
def people_archive(engine, data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """A real archive: 5 Glint crops of 4 celebrities, 4 full photos of 3 deepface people, indexed.

    Each Glint celebrity's first two crops form one two-photo post (a carousel).
    Returns ``(catalogue, cache, truth, progress calls)``; ``truth`` maps each
    photo's sha256 to its person, and the photo's largest face is that person.
    """
    rows, truth = [], {}
    glint = data_dir / "faces-glint-celeb24"
    by_name: dict[str, list[str]] = {}
    for r in csv.DictReader(open(glint / "labels.csv")):
        by_name.setdefault(r["identity"], []).append(r["path"])
    for name in GLINT_PEOPLE:
        for i, rel in enumerate(sorted(by_name[name])[:5]):
            post = f"{name}-0" if i < 2 else f"{name}-{i}"
            rows.append((post, glint / rel, name))
    deepface = data_dir / "faces-deepface-pairs"
    groups: dict[str, list[str]] = {}
    for r in csv.DictReader(open(deepface / "labels.csv")):
        groups.setdefault(r["identity_group"], []).append(r["path"])
    for group in DEEPFACE_PEOPLE:
        for rel in sorted(groups[group])[:4]:
            rows.append((f"{group}-{Path(rel).stem}", deepface / rel, group))
    catalogue = pd.DataFrame({
        "post_id": [r[0] for r in rows], "position": 1, "file": [r[1].name for r in rows],
        "path": [str(r[1]) for r in rows], "sha256": [sha256_file(r[1]) for r in rows],
        "caption": [f"post {r[0]}" for r in rows],
    })
    posts = list(dict.fromkeys(catalogue["post_id"]))
    catalogue["likes"] = pd.array([10 * (posts.index(p) + 1) for p in catalogue["post_id"]], dtype="Int64")
    truth = dict(zip(catalogue["sha256"], [r[2] for r in rows]))
    cache = DiskCache(tmp_path_factory.mktemp("people-cache"))
    calls: list[tuple[int, int, str]] = []
    build_face_index(catalogue, engine, cache=cache, progress=lambda d, t, m: calls.append((d, t, m)))
    return catalogue, cache, truth, calls


def _main_person(people, truth: dict[str, str]) -> dict[str, str]:
    """Who each true person mostly is, by the person id of each photo's largest face."""
    largest = people.faces[people.faces["face_no"] == 0]
    found = pd.Series(largest["person_id"].to_numpy(), index=largest["sha256"].map(truth))
    return {name: ids.mode().iloc[0] for name, ids in found.groupby(level=0)}


def test_index_faces_reports_progress_per_photo(people_archive):
    catalogue, cache, _, calls = people_archive
    total = catalogue["sha256"].nunique()
    assert calls[0] == (0, total, f"0 of {total} photos indexed")
    assert calls[-1] == (total, total, f"{total} of {total} photos indexed")
    assert [d for d, _, _ in calls] == list(range(total + 1))
    assert index_status(catalogue, cache) == (total, total)


def test_index_faces_needs_no_model_once_cached(people_archive, tmp_path, monkeypatch):
    catalogue, cache, _, _ = people_archive
    (tmp_path / "blaze_face_short_range.tflite").write_bytes(b"not a model")
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(tmp_path))
    index = build_face_index(catalogue, cache=cache)  # no engine given, none needed
    assert index.complete and len(index.recognisable) >= len(catalogue)
    fresh = DiskCache(tmp_path / "fresh")
    with pytest.raises(ModelUnavailableError):  # photos left to index: the default engine cannot load
        build_face_index(catalogue.head(2), cache=fresh)


def test_find_people_groups_real_photos(people_archive):
    catalogue, cache, truth, _ = people_archive
    people = find_people(catalogue, "people-archive", cache=cache)
    table = people.table
    assert len(people) == len(table) >= len(set(truth.values()))
    main = _main_person(people, truth)
    assert len(set(main.values())) == len(GLINT_PEOPLE) + len(DEEPFACE_PEOPLE)  # nobody merged with another
    largest = people.faces[people.faces["face_no"] == 0]
    right = (largest["person_id"].to_numpy() == largest["sha256"].map(truth).map(main).to_numpy()).mean()
    assert right >= 0.9
    # Counts: every recognisable face is someone's; a carousel post counts once.
    assert table["n_faces"].sum() == len(people.index.recognisable) == len(people.person_ids)
    assert list(table["n_faces"]) == sorted(table["n_faces"], reverse=True)
    halle = table.set_index("person_id").loc[main["Halle Berry"]]
    assert halle["n_faces"] == halle["n_photos"] == 5 and halle["n_posts"] == 4  # her carousel is one post
    assert halle["name"].startswith("Person ") and halle["sha256"] in set(people.faces_of(main["Halle Berry"])["sha256"])
    her_posts = catalogue[catalogue["post_id"].str.startswith("Halle Berry")].drop_duplicates("post_id")
    assert halle["mean_likes"] == pytest.approx(her_posts["likes"].mean())


def test_people_edits_are_saved_and_found_again(people_archive):
    catalogue, cache, truth, _ = people_archive
    key = "edited-archive"
    people = find_people(catalogue, key, cache=cache)
    main = _main_person(people, truth)
    keanu, tina = main["Keanu Reeves"], main["Tina Fey"]
    assert rename_person(people, keanu, " Keanu\tReeves ", cache=cache) == keanu
    people = find_people(catalogue, key, cache=cache)
    assert people.table.set_index("person_id").at[keanu, "name"] == "Keanu Reeves"
    face = people.faces_of(keanu)["face_key"].iloc[0]
    assert people.name_of_face(face) == "Keanu Reeves" and people.name_of_face("no-such-face") is None

    merge_people(people, keanu, tina, cache=cache)
    people = find_people(catalogue, key, cache=cache)
    assert tina not in set(people.table["person_id"])
    assert len(people.faces_of(keanu)) >= 10

    moved = list(people.faces_of(keanu)["face_key"][:2])
    new = split_person(people, moved, cache=cache)
    people = find_people(catalogue, key, cache=cache)
    assert set(people.faces_of(new)["face_key"]) == set(moved)
    assert people.table.set_index("person_id").at[new, "name"] == f"Person {new[1:]}"
    # Another archive's people are untouched.
    assert find_people(catalogue, "other-archive", cache=cache).book.names == {}


def test_search_photo_finds_the_person_and_their_post(engine, people_archive, data_dir):
    catalogue, cache, truth, _ = people_archive
    people = find_people(catalogue, "search-archive", cache=cache)
    main = _main_person(people, truth)
    rename_person(people, main["Halle Berry"], "Halle", cache=cache)
    people = find_people(catalogue, "search-archive", cache=cache)
    glint = data_dir / "faces-glint-celeb24"
    hers = sorted(r["path"] for r in csv.DictReader(open(glint / "labels.csv")) if r["identity"] == "Halle Berry")
    held_out = glint / hers[-1]  # not in the archive (it holds her first five)
    faces, _ = engine.analyze_file(held_out)
    [found] = search_photo(faces, people.index, k=3, people=people, catalogue=catalogue)
    best = found.matches.iloc[0]
    assert truth[best["sha256"]] == "Halle Berry" and best["same_person"] and best["person"] == "Halle"
    assert list(found.matches["distance"]) == sorted(found.matches["distance"])
    assert best["likes"] == catalogue.set_index("sha256").at[best["sha256"], "likes"]
    assert best["caption"].startswith("post Halle Berry")
    assert found.same_person_posts >= 2 and found.maybe_more == bool(found.matches["same_person"].all())
    # Without people or catalogue: the bare matches. A face with no descriptor, or an empty index: no matches.
    [bare] = search_photo(faces, people.index, k=2)
    assert len(bare.matches) == 2 and "person" not in bare.matches and "likes" not in bare.matches
    faces[0].embedding = None
    assert search_photo(faces, people.index)[0].matches is None
    empty = load_face_index(catalogue.iloc[:0], cache)
    assert search_photo(engine.analyze_file(held_out)[0], empty)[0].matches is None


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
        "import sys, core.faces, core.faces.engine, core.faces.index, core.faces.search, core.faces.people\n"
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
