"""People that are right: faces of one photo are never one person, the user's word is kept.

Real data: Glint celebrity crops, pasted side by side into "group photos" of
look-alikes (the sibling case), indexed by the real face engine.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.cache import DiskCache, sha256_file
from core.faces.cluster import ClusterReport, attach_nearest, average_linkage, threshold_components
from core.faces.engine import FaceEngine
from core.faces.index import FaceIndex, build_face_index, delete_face_index, pack_face_index
from core.faces.people import (
    PeopleBook,
    PeopleClusterer,
    SamePhotoError,
    assign_people,
    confirm_faces,
    find_people,
    hide_person,
    merge_people,
    reject_person,
    remove_faces,
    rename_person,
    set_cover,
    set_min_faces,
    shared_photos,
)
from core.faces.suggest import merge_suggestions, naming_queue

REPO = Path(__file__).resolve().parents[1]

# ----------------------------------------------------------------------------- the clustering alone


def _blobs(n_people: int, n: int, seed: int, spread: float = 0.12, dim: int = 16) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(n_people, dim)) * 0.5
    return centres[rng.integers(0, n_people, n)] + rng.normal(size=(n, dim)) * spread


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_without_constraints_it_is_scikit_learns_average_linkage(seed):
    from sklearn.cluster import AgglomerativeClustering
    from sklearn.metrics import adjusted_rand_score

    X = _blobs(40, 500, seed)
    ours = average_linkage(X, 0.6)
    theirs = AgglomerativeClustering(n_clusters=None, distance_threshold=0.6, linkage="average").fit(X).labels_
    assert adjusted_rand_score(ours, theirs) == 1.0
    assert ours[0] == 0 and len(np.unique(ours)) == len(np.unique(theirs)) > 40  # numbered by first appearance
    # Per connected component (the path taken above max_block): the same partition, exactly.
    report = ClusterReport()
    assert adjusted_rand_score(average_linkage(X, 0.6, max_block=60, report=report), ours) == 1.0
    assert report.n_components > 1 and report.n_approximate == 0


def test_faces_of_one_photo_never_share_a_cluster():
    X = _blobs(10, 400, 3, spread=0.08)
    rng = np.random.default_rng(4)
    photos = rng.integers(0, 150, len(X))  # about three faces a photo, whoever they are
    free = average_linkage(X, 0.6)
    report = ClusterReport()
    tied = average_linkage(X, 0.6, photos=photos, report=report)
    assert _same_photo_pairs(free, photos) > 0 and report.n_refused > 0
    assert _same_photo_pairs(tied, photos) == 0
    # Blocks cut by k-means (components above max_block) keep the constraint too.
    approx = ClusterReport()
    assert _same_photo_pairs(average_linkage(X, 0.6, photos=photos, max_block=20, report=approx), photos) == 0
    assert approx.n_approximate > 0


def _same_photo_pairs(labels: np.ndarray, photos: np.ndarray) -> int:
    frame = pd.DataFrame({"label": labels, "photo": photos})
    return int(frame.duplicated(["label", "photo"]).sum())


def test_seeds_stay_together_and_apart_and_pairs_apart():
    X = np.array([[0.0], [0.1], [0.2], [3.0], [3.1], [0.15]])
    # Items 0 and 3 are far apart but the user said they are one person; 1 and 2 are two seeds kept apart.
    labels = average_linkage(X, 0.6, seeds=[7, 8, 9, 7, -1, -1])
    assert labels[0] == labels[3] and len({labels[0], labels[1], labels[2]}) == 3
    assert average_linkage(X, 0.6, seeds=[7, 7, -1, -1, -1, -1], apart=[[0, 5]])[5] != 0
    assert len(set(average_linkage(X[:3], 0.6, apart=[[0, 2]]).tolist())) == 2
    assert threshold_components(X, 0.6, links=np.array([[0, 3]])).tolist() == [0, 0, 0, 0, 0, 0]


def test_attaching_skips_a_person_already_in_the_photo_and_the_forbidden():
    ref = np.array([[0.0], [0.1], [1.0]])
    new = np.array([[0.05], [0.06], [0.07], [0.9]])
    got = attach_nearest(ref, np.array([0, 0, 1]), new, 0.5, ref_photos=["a", "b", "c"],
                         new_photos=["a", "d", "d", "e"], forbidden=[set(), set(), set(), {1}])
    # 0: person 0 is in photo a already; 1 joins 0; 2: its photo d now has person 0; 3: forbidden from 1.
    assert got.tolist() == [-1, 0, -1, -1]


def test_the_clusterer_keeps_poor_faces_out_of_people_in_their_photo():
    X = np.array([[0.0, 0.0], [0.05, 0.0], [2.0, 2.0], [0.02, 0.0]])
    scores = [0.9, 0.9, 0.9, 0.5]  # the last is poor: it joins a person only by attaching
    assert PeopleClusterer().fit_predict(X, scores).tolist() == [0, 0, 1, 0]
    labels = PeopleClusterer().fit_predict(X, scores, photos=["a", "b", "c", "a"])
    assert labels.tolist() == [0, 0, 1, 2]
    assert PeopleClusterer(constrained=False).fit_predict(X, scores, photos=["a", "b", "c", "a"]).tolist() == [0, 0, 1, 0]


# ----------------------------------------------------------------------------- a real archive of group photos

GLINT = "faces-glint-celeb24"


def _group_photo(paths: list[Path], target: Path, size: int = 160, gap: int = 80) -> Path:
    """Glint crops pasted side by side on grey, as in a group photo (left to right)."""
    canvas = Image.new("RGB", (len(paths) * (size + gap) + gap, size + 2 * gap), (120, 120, 120))
    for i, path in enumerate(paths):
        canvas.paste(Image.open(path).convert("RGB").resize((size, size)), (gap + i * (size + gap), gap))
    canvas.save(target, quality=92)
    return target


def _nearest_pairs(engine: FaceEngine, root: Path, by_name: dict[str, list[str]], n_pairs: int) -> list[tuple]:
    """The ``n_pairs`` pairs of identities whose mean descriptors are closest (each identity once)."""
    names = sorted(by_name)
    means = np.stack([np.mean([engine.analyze_file(root / p)[0][0].embedding for p in by_name[n][:3]], axis=0)
                      for n in names])
    d = np.linalg.norm(means[:, None] - means[None], axis=2)
    np.fill_diagonal(d, np.inf)
    pairs, used = [], set()
    for flat in np.argsort(d, axis=None):
        i, j = np.unravel_index(flat, d.shape)
        if i < j and names[i] not in used and names[j] not in used:
            pairs.append((names[i], names[j]))
            used |= {names[i], names[j]}
        if len(pairs) == n_pairs:
            break
    return pairs


@pytest.fixture(scope="module")
def engine(shared_dir: Path):
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
        eng = FaceEngine()
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def look_alikes(engine, data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Three pairs of look-alikes: four portraits each, and four photos of each pair side by side.

    Returns ``(catalogue, truth)``; ``truth[(sha256, face_no)]`` is who that face is.
    """
    root = data_dir / GLINT
    by_name: dict[str, list[str]] = {}
    for r in csv.DictReader(open(root / "labels.csv")):
        by_name.setdefault(r["identity"], []).append(r["path"])
    for paths in by_name.values():
        paths.sort()
    folder = tmp_path_factory.mktemp("look-alikes")
    rows, truth = [], {}
    for a, b in _nearest_pairs(engine, root, by_name, 3):
        for name in (a, b):
            for rel in by_name[name][:4]:
                rows.append((f"{name}-{Path(rel).stem}", root / rel, [name]))
        for i in range(4, 8):
            target = _group_photo([root / by_name[a][i], root / by_name[b][i]], folder / f"{a}+{b}-{i}.jpg")
            rows.append((f"{a}+{b}-{i}", target, [a, b]))
    catalogue = pd.DataFrame({
        "post_id": [r[0] for r in rows], "position": 1, "file": [Path(r[1]).name for r in rows],
        "path": [str(r[1]) for r in rows], "sha256": [sha256_file(r[1]) for r in rows],
        "caption": "", "likes": pd.array(range(len(rows)), dtype="Int64"),
        "timestamp": pd.Timestamp("2024-01-01"),
    })
    for sha, (_, path, names) in zip(catalogue["sha256"], rows):
        faces, _ = engine.analyze_file(path)
        order = np.argsort([f.box[0] for f in faces])  # left to right, as pasted
        for face_no, name in zip(order, names):
            truth[(sha, int(face_no))] = name
    return catalogue, truth


@pytest.fixture()
def indexed(look_alikes, engine, tmp_path):
    catalogue, truth = look_alikes
    cache = DiskCache(tmp_path / "cache")
    build_face_index(catalogue, engine, cache=cache)
    return catalogue, truth, cache


def _photos_with_one_person_twice(person_ids: pd.Series) -> int:
    frame = pd.DataFrame({"sha": [k.rsplit("-", 1)[0] for k in person_ids.index], "pid": person_ids.to_numpy()})
    return int(frame.duplicated().groupby(frame["sha"]).any().sum())


def test_group_photos_of_look_alikes_are_two_people(indexed):
    catalogue, truth, cache = indexed
    people = find_people(catalogue, "k", cache=cache)
    index = people.index
    group = index.faces.groupby("sha256")["face_no"].transform("size") > 1
    assert group.sum() >= 20  # the 12 group photos show two faces each (nearly all found)
    assert _photos_with_one_person_twice(people.person_ids) == 0
    # The same faces with a looser cut and no constraint: look-alikes in one photo become one person.
    loose = dict(threshold=0.75, min_score=0.0)
    free = assign_people(index, clusterer=PeopleClusterer(constrained=False, **loose))
    tied = assign_people(index, clusterer=PeopleClusterer(**loose))
    assert _photos_with_one_person_twice(free) > 0
    assert _photos_with_one_person_twice(tied) == 0
    # And the constrained people stay right: each face's person is mostly its own identity.
    found = pd.Series({k: truth.get((sha, int(no))) for k, sha, no in
                       index.recognisable[["face_key", "sha256", "face_no"]].itertuples(index=False)})
    majority = found.groupby(people.person_ids.reindex(found.index)).agg(lambda s: s.value_counts().iloc[0])
    assert majority.sum() / found.notna().sum() >= 0.9


def test_new_group_photos_attach_one_face_per_person(look_alikes, engine, tmp_path):
    catalogue, truth = look_alikes
    cache = DiskCache(tmp_path / "cache")
    singles = catalogue[~catalogue["post_id"].str.contains(r"\+")]
    build_face_index(singles, engine, cache=cache)
    people = find_people(singles, "k", cache=cache)
    rename_person(people, people.table["person_id"].iloc[0], "First", cache=cache)  # freezes the book
    # Now the group photos arrive: each face joins a known person, never both the same one.
    build_face_index(catalogue, engine, cache=cache)
    grown = find_people(catalogue, "k", cache=cache)
    assert len(grown.index.faces) > len(people.index.faces)
    assert _photos_with_one_person_twice(grown.person_ids) == 0
    known = set(people.person_ids)
    new_faces = grown.person_ids.drop(people.person_ids.index)
    assert new_faces.isin(known).mean() >= 0.7  # most joined someone known


def test_a_merge_of_two_people_in_one_photo_asks_first(indexed):
    catalogue, _, cache = indexed
    people = find_people(catalogue, "k", cache=cache)
    faces = people.faces
    group_sha = faces.loc[faces.groupby("sha256")["face_no"].transform("size") > 1, "sha256"].iloc[0]
    a, b = faces.loc[faces["sha256"] == group_sha, "person_id"].iloc[:2]
    assert group_sha in shared_photos(people, a, b)
    file = faces.loc[faces["sha256"] == group_sha, "file"].iloc[0]
    with pytest.raises(SamePhotoError) as caught:
        merge_people(people, a, b, cache=cache)
    assert file in caught.value.photos and file in str(caught.value)
    assert PeopleBook.load("k", cache).assign == {}  # nothing saved
    # Naming b like a would merge them: refused the same way.
    rename_person(people, a, "Anna", cache=cache)
    people = find_people(catalogue, "k", cache=cache)
    with pytest.raises(SamePhotoError):
        rename_person(people, b, "anna", cache=cache)
    # Confirmed by the user (a mirror, a poster): merged.
    merge_people(people, a, b, cache=cache, force=True)
    people = find_people(catalogue, "k", cache=cache)
    assert b not in set(people.person_ids) and _photos_with_one_person_twice(people.person_ids) >= 1


def test_decisions_survive_reindexing_and_a_fresh_process(indexed, engine):
    catalogue, _, cache = indexed
    key = "decisions"
    people = find_people(catalogue, key, cache=cache)
    big = people.table[people.table["n_faces"] >= 3]["person_id"].tolist()
    anna, bob = big[0], big[1]
    rename_person(people, anna, "Anna", cache=cache)
    people = find_people(catalogue, key, cache=cache)
    removed = people.faces_of(anna)["face_key"].iloc[:2].tolist()
    remove_faces(people, removed, anna, cache=cache)
    people = find_people(catalogue, key, cache=cache)
    assert not set(removed) & set(people.faces_of(anna)["face_key"])
    loner = people.faces_of(bob)["face_key"].iloc[0]
    confirm_faces(people, [loner], anna, cache=cache, force=True)  # "this is Anna", against the clustering
    set_cover(find_people(catalogue, key, cache=cache), anna, loner, cache=cache)
    before = find_people(catalogue, key, cache=cache).person_ids

    # Re-index: the face index is deleted and built again (the book stays), and packed.
    delete_face_index(catalogue, cache)
    build_face_index(catalogue, engine, cache=cache)
    pack_face_index(catalogue, cache)
    after = find_people(catalogue, key, cache=cache)
    pd.testing.assert_series_equal(after.person_ids, before)
    assert after.person_ids[loner] == anna and not set(removed) & set(after.faces_of(anna)["face_key"])
    row = after.table.set_index("person_id").loc[anna]
    assert row["name"] == "Anna" and row["face_key"] == loner

    # Without the user's "not Anna" (a book that only forgets where the faces were), they go back to her.
    book = PeopleBook.load(key, cache)
    for face in removed:
        book.assign.pop(face)
    assert (assign_people(after.index, book)[removed] != anna).all()
    assert (assign_people(after.index, book, honour_cannot=False)[removed] == anna).any()

    # A fresh process (a restarted server) finds the same people from the cache alone.
    code = ("import json, sys; import pandas as pd\n"
            "from core.cache import DiskCache\nfrom core.faces.people import find_people\n"
            "cat = pd.read_json(sys.stdin, orient='records', dtype={'sha256': str})\n"
            f"p = find_people(cat, {key!r}, cache=DiskCache({str(cache.root)!r}))\n"
            "print(json.dumps({'ids': p.person_ids.to_dict(), 'names': p.book.names}))\n")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=300,
                         input=catalogue[["post_id", "sha256", "file", "path", "likes"]].to_json(orient="records"))
    assert out.returncode == 0, out.stderr[-2000:]
    fresh = json.loads(out.stdout)
    assert fresh["ids"] == before.to_dict() and fresh["names"][anna] == "Anna"


def test_the_naming_queue_and_merge_suggestions(indexed):
    catalogue, truth, cache = indexed
    key = "queue"
    people = find_people(catalogue, key, cache=cache)
    queue = naming_queue(people)
    assert len(queue) == len(people) and list(queue["n_faces"]) == sorted(queue["n_faces"], reverse=True)
    assert queue["suggestion"].isna().all()  # nobody is named yet
    first = queue["person_id"].iloc[0]
    rename_person(people, first, "Anna", cache=cache)
    people = find_people(catalogue, key, cache=cache)
    queue = naming_queue(people)
    assert first not in set(queue["person_id"])
    together = {p for p in queue["person_id"] if shared_photos(people, p, first)}
    assert not set(queue.loc[queue["suggestion"] == first, "person_id"]) & together
    # Merge suggestions: nearest first, never two people of one photo.
    pairs = merge_suggestions(people, k=20, max_distance=2.0)
    assert len(pairs) > 0 and list(pairs["distance"]) == sorted(pairs["distance"])
    assert not any(shared_photos(people, a, b) for a, b in zip(pairs["person_a"], pairs["person_b"]))
    mine = merge_suggestions(people, first, k=5, max_distance=2.0)
    assert set(mine["person_a"]) == {first}
    # "Not Anna" for a queued person: she is never suggested for it again.
    target = next(p for p in mine["person_b"])
    reject_person(people, target, first, cache=cache)
    people = find_people(catalogue, key, cache=cache)
    assert first not in set(merge_suggestions(people, target, k=50, max_distance=2.0)["person_b"])
    row = naming_queue(people, max_distance=2.0).set_index("person_id").loc[target]
    assert row["suggestion"] != first
    # Hiding: one person, then everyone with fewer than 3 faces.
    hide_person(people, target, cache=cache)
    people = find_people(catalogue, key, cache=cache)
    assert target not in set(naming_queue(people)["person_id"])
    set_min_faces(key, 3, cache=cache)
    people = find_people(catalogue, key, cache=cache)
    small = people.table.loc[people.table["n_faces"] < 3, "person_id"]
    assert not set(small) & set(naming_queue(people)["person_id"])
    assert people.table.set_index("person_id").loc[small, "hidden"].all()


def test_a_fake_index_of_photos_with_two_faces():
    """The book over hand-made descriptors: a removed face goes to the next nearest allowed person."""
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=128) * 0.05, rng.normal(size=128) * 0.05 + 0.06
    vectors = np.stack([a, a + 0.01, b, b + 0.01, a + 0.02])
    shas = ["s0", "s1", "s2", "s3", "s4"]
    faces = pd.DataFrame({
        "face_key": [f"{s}-0" for s in shas], "sha256": shas, "face_no": 0, "x": 0.1, "y": 0.1, "w": 0.2,
        "h": 0.2, "score": 0.9, "recognisable": True, "post_id": shas, "file": "f.jpg", "path": "/f.jpg"})
    index = FaceIndex(faces=faces, embeddings=vectors.astype(np.float32), n_photos=5, n_done=5)
    book = PeopleBook()
    ids = assign_people(index, book)
    assert ids.tolist() == ["p1", "p1", "p2", "p2", "p1"]
    book.freeze(list(ids.index), list(ids.values))
    book.remove(["s4-0"], "p1")
    again = assign_people(index, book)
    assert again["s4-0"] != "p1"
    assert assign_people(index, book, honour_cannot=False)["s4-0"] == "p1"
    book.confirm(["s4-0"], "p1")  # the user changes their mind: their latest word wins
    assert assign_people(index, book)["s4-0"] == "p1" and "s4-0" not in book.cannot


def test_a_face_that_drifts_over_the_years_is_offered_not_merged():
    """One person photographed each year from 2010 to 2021, slowly changing; another unrelated."""
    rng = np.random.default_rng(5)
    start, drift = rng.normal(size=128), rng.normal(size=128)
    start *= 0.3 / np.linalg.norm(start)
    drift *= 1.6 / np.linalg.norm(drift)  # first to last year: far beyond the same-person distance
    years = np.repeat(np.arange(2010, 2022), 3)
    ageing = np.stack([start + drift * (y - 2010) / 11 + rng.normal(size=128) * 0.01 for y in years])
    stranger = np.stack([rng.normal(size=128) * 0.01 + drift * 0.5 + rng.normal(size=128) * 0.1 for _ in range(4)])
    vectors = np.vstack([ageing, stranger]).astype(np.float32)
    n = len(vectors)
    shas = [f"{i:04x}" for i in range(n)]
    faces = pd.DataFrame({
        "face_key": [f"{s}-0" for s in shas], "sha256": shas, "face_no": 0, "x": 0.1, "y": 0.1, "w": 0.2,
        "h": 0.2, "score": 0.9, "recognisable": True, "post_id": shas, "file": "f.jpg", "path": "/f.jpg"})
    index = FaceIndex(faces=faces, embeddings=vectors, n_photos=n, n_done=n)
    when = [pd.Timestamp(f"{y}-06-01") for y in years] + [pd.Timestamp("2015-06-01")] * 4
    catalogue = pd.DataFrame({"post_id": shas, "sha256": shas, "file": "f.jpg", "path": "/f.jpg",
                              "likes": 1, "timestamp": when})
    from core.faces.people import People, people_table
    from core.faces.suggest import age_suggestions

    book = PeopleBook()
    ids = assign_people(index, book)
    people = People("k", index, book, ids, people_table(index, ids, book, catalogue))
    ageing_people = ids.iloc[: len(ageing)].unique()
    assert len(ageing_people) >= 2  # the clustering (rightly) does not merge ten years of change
    offered = age_suggestions(people, catalogue)
    assert len(offered) >= 1 and offered["link_distance"].max() < 0.6 < offered["distance"].min()
    stranger_ids = set(ids.iloc[len(ageing):])
    linked = set(offered["person_a"]) | set(offered["person_b"])
    assert linked <= set(ageing_people) and not linked & stranger_ids
    # Chained, the offers link every year-group of the ageing person.
    group = {pid: pid for pid in ageing_people}
    for a, b in zip(offered["person_a"], offered["person_b"]):
        ra, rb = group[a], group[b]
        group = {pid: (ra if root == rb else root) for pid, root in group.items()}
    big = people.table.set_index("person_id").loc[ageing_people, "n_faces"] >= 3
    assert len({group[pid] for pid in big[big].index}) == 1


def test_a_pack_grouped_the_old_way_is_not_trusted_and_is_packed_again(tmp_path):
    """Packs written before the cannot-link carry people that may join two faces of one photo."""
    from core.faces import index as face_index

    rng = np.random.default_rng(2)
    cache = DiskCache(tmp_path)
    shas = [f"{i:02x}" * 32 for i in range(6)]
    catalogue = pd.DataFrame({"post_id": shas, "sha256": shas, "file": "f.jpg", "path": "/f.jpg"})
    face = rng.normal(size=128) * 0.05
    for i, sha in enumerate(shas):  # photo 0 shows the same face twice (a mirror): two faces of one photo
        rows = np.full((2 if i == 0 else 1, face_index._ROW), 0.2, np.float32)
        rows[:, 4] = 0.9
        rows[:, 17:] = face + rng.normal(size=(len(rows), 128)) * 0.01
        cache.put_array(face_index._KIND, sha, rows)
    assert face_index.pack_face_index(catalogue, cache).written
    packed = face_index.load_face_index(catalogue, cache)
    assert packed.people_labels is not None and packed.people_labels[0] != packed.people_labels[1]
    # The same pack as an older version wrote it: no grouping name in its metadata, one-photo faces joined.
    key = face_index._pack_key(shas)
    arrays, meta = face_index._decode_pack(cache.get(face_index._PACK, key, ".bin"))
    del meta["people"]
    arrays["people_labels"] = np.zeros_like(arrays["people_labels"])
    cache.put(face_index._PACK, key, face_index._encode_pack(arrays, meta), ".bin")
    old = face_index.load_face_index(catalogue, cache)
    assert old.people_labels is None and len(old.faces) == 7  # the faces are read, the grouping is not
    assert _photos_with_one_person_twice(assign_people(old)) == 0
    assert face_index.pack_face_index(catalogue, cache).written  # packed again, the new way
    assert face_index.load_face_index(catalogue, cache).people_labels is not None
