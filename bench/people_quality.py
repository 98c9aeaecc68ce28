"""Benchmark: people that are right (cannot-links, the user's "not this person", scale).

Data (../shared/data, see the READMEs):

* ``faces-glint-celeb24`` (24 people × 10 tight crops): each crop's largest
  face, found and described by the real engine. Purity (share of faces whose
  person's majority is their own identity) and completeness (share whose
  identity's majority is in their person) of the people, with and without
  constraints (each crop is its own photo: the constraints must cost nothing).
* Group photos: the 8 pairs of identities whose mean descriptors are
  closest (the sibling case) pasted side by side, crops 5–9 of each pair →
  40 photos of two look-alikes, beside crops 0–4 of all 24 as portraits.
  Pairwise precision and recall of "same person" over all faces, and the
  number of photos in which two faces became one person, with and without
  the cannot-link; at the app's cut (0.6) and at a looser 0.7 (where
  look-alikes do merge unconstrained).
* The feedback loop: on the group-photo archive, the user takes 20 faces
  out of the people they were grouped into (the 20 farthest from their
  person's mean, so a real mistake first); the index is built again from
  scratch: how many rejoin their old person (the book honours "not this
  person"), against a book that forgets it (as photo apps did).
* Scale: 5,000 and 50,000 descriptors sampled around the real Glint and
  deepface descriptors (identity centres = a real descriptor plus a
  between-person offset; faces = centre plus within-person noise, spreads
  measured on the Glint crops), n/10 people with faces in proportion to
  1/rank^0.8 (the most frequent person in about 7-14 % of the faces), in photos of
  1–3 faces of different people. Time and peak memory (tracemalloc) of the
  constrained clustering; at 5,000 also scikit-learn's unconstrained
  average linkage side by side.

Prints one JSON object per line, ``{"name", "value", "unit"}``; the bench
names of issue 16: ``people_purity_glint``, ``people_completeness_glint``,
``people_same_photo_merges_constrained``, ``people_same_photo_merges_unconstrained``,
``people_removed_rejoined``, ``people_cluster_50000_s``, plus informational lines.

Usage::

    FEEDLENS_MODEL_DIR=../shared/models .venv/bin/python bench/people_quality.py [--sizes 5000 50000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.faces.engine import SAME_PERSON_THRESHOLD, FaceEngine  # noqa: E402
from core.faces.index import FaceIndex  # noqa: E402
from core.faces.people import PeopleBook, PeopleClusterer, assign_people  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of items whose cluster's majority label is their own."""
    frame = pd.DataFrame({"c": labels, "t": truth})
    return frame.groupby("c")["t"].agg(lambda s: s.value_counts().iloc[0]).sum() / len(frame)


def pairwise(labels: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """Precision and recall of the "same person" decisions over all pairs of faces."""
    same_pred = labels[:, None] == labels[None, :]
    same_true = truth[:, None] == truth[None, :]
    upper = np.triu(np.ones_like(same_pred), 1)
    tp = (same_pred & same_true & upper).sum()
    return tp / max(1, (same_pred & upper).sum()), tp / max(1, (same_true & upper).sum())


def same_photo_merges(labels: np.ndarray, photos: np.ndarray) -> int:
    frame = pd.DataFrame({"c": labels, "p": photos})
    return int(frame.duplicated().groupby(frame["p"]).any().sum())


def group_photo(paths: list[Path], size: int = 160, gap: int = 80) -> np.ndarray:
    from PIL import Image

    canvas = Image.new("RGB", (len(paths) * (size + gap) + gap, size + 2 * gap), (120, 120, 120))
    for i, path in enumerate(paths):
        canvas.paste(Image.open(path).convert("RGB").resize((size, size)), (gap + i * (size + gap), gap))
    return np.asarray(canvas)


def glint_faces(engine: FaceEngine, root: Path) -> dict:
    """Every crop's largest face: descriptors, scores, identities, and the crop paths by identity."""
    rows = list(csv.DictReader(open(root / "labels.csv", newline="")))
    X, scores, truth, paths = [], [], [], []
    for r in rows:
        faces, _ = engine.analyze_file(root / r["path"])
        faces = [f for f in faces if f.recognisable]
        if faces:
            X.append(faces[0].embedding)
            scores.append(faces[0].score)
            truth.append(r["identity"])
            paths.append(r["path"])
    return {"X": np.stack(X), "scores": np.array(scores), "truth": np.array(truth), "paths": paths}


def look_alike_archive(engine: FaceEngine, root: Path, glint: dict, n_pairs: int = 8) -> dict:
    """Crops 0–4 of everyone as portraits, crops 5–9 of the closest pairs side by side."""
    by_name: dict[str, list[str]] = {}
    for r in csv.DictReader(open(root / "labels.csv", newline="")):
        by_name.setdefault(r["identity"], []).append(r["path"])
    for paths in by_name.values():
        paths.sort(key=lambda p: int(Path(p).stem) if Path(p).stem.isdigit() else 0)
    names = sorted(by_name)
    means = np.stack([glint["X"][glint["truth"] == n].mean(axis=0) for n in names])
    d = np.linalg.norm(means[:, None] - means[None], axis=2)
    np.fill_diagonal(d, np.inf)
    pairs, used = [], set()
    for flat in np.argsort(d, axis=None):
        i, j = np.unravel_index(flat, d.shape)
        if i < j and names[i] not in used and names[j] not in used:
            pairs.append((names[i], names[j], float(d[i, j])))
            used |= {names[i], names[j]}
        if len(pairs) == n_pairs:
            break
    X, scores, truth, photos = [], [], [], []
    at = {p: i for i, p in enumerate(glint["paths"])}
    for name in names:
        for rel in by_name[name][:5]:
            if rel in at:
                X.append(glint["X"][at[rel]])
                scores.append(glint["scores"][at[rel]])
                truth.append(name)
                photos.append(rel)
    for a, b, _ in pairs:
        for k in range(5, 10):
            image = group_photo([root / by_name[a][k], root / by_name[b][k]])
            faces = [f for f in engine.analyze(image) if f.recognisable]
            faces.sort(key=lambda f: f.box[0])  # left to right, as pasted
            if len(faces) != 2:
                continue  # a face not found: the photo is left out (counted below)
            for face, name in zip(faces, (a, b)):
                X.append(face.embedding)
                scores.append(face.score)
                truth.append(name)
                photos.append(f"{a}+{b}-{k}")
    return {"X": np.stack(X), "scores": np.array(scores), "truth": np.array(truth), "photos": np.array(photos),
            "pairs": pairs}


def fake_index(X: np.ndarray, photos: np.ndarray, scores: np.ndarray) -> FaceIndex:
    """A face index over given descriptors: one row per face, numbered within its photo."""
    sha = pd.Series(photos).factorize()[0].astype(str)
    face_no = pd.Series(sha).groupby(sha).cumcount().to_numpy()
    faces = pd.DataFrame({
        "face_key": [f"{s}-{n}" for s, n in zip(sha, face_no)], "sha256": sha, "face_no": face_no,
        "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "score": scores, "recognisable": True, "post_id": sha,
        "file": [f"{p}.jpg" for p in photos], "path": "/none",
    })
    return FaceIndex(faces=faces, embeddings=X.astype(np.float32), n_photos=len(set(sha)), n_done=len(set(sha)))


def feedback_loop(archive: dict, n_removed: int = 20) -> tuple[int, int]:
    """Take ``n_removed`` faces out of their people, re-index; how many rejoin (with, without the memory)."""
    index = fake_index(archive["X"], archive["photos"], archive["scores"])
    book = PeopleBook()
    ids = assign_people(index, book)
    book.freeze(list(ids.index), list(ids.values))
    # The faces farthest from their person's mean, among people of 3 faces or more: the likeliest mistakes.
    X = index.embeddings
    frame = pd.DataFrame({"pid": ids.to_numpy(), "row": np.arange(len(ids))})
    sizes = frame.groupby("pid")["row"].transform("size")
    means = frame.groupby("pid")["row"].apply(lambda r: X[r.to_numpy()].mean(axis=0))
    far = np.linalg.norm(X - np.stack(means.reindex(frame["pid"]).to_numpy()), axis=1)
    far[sizes.to_numpy() < 3] = -1
    chosen = np.argsort(-far)[:n_removed]
    keys = ids.index[chosen].tolist()
    old = dict(zip(keys, ids.iloc[chosen]))
    for key in keys:
        book.remove([key], old[key])
    again = fake_index(archive["X"], archive["photos"], archive["scores"])  # re-index: a fresh index
    kept = assign_people(again, book)
    forgetful = assign_people(again, book, honour_cannot=False)
    return (sum(kept[k] == old[k] for k in keys), sum(forgetful[k] == old[k] for k in keys))


def synthetic(n_faces: int, real: np.ndarray, within: float, between: float, seed: int = 0) -> tuple:
    """``n_faces`` descriptors around real ones (see the module docstring), their people and photos."""
    rng = np.random.default_rng(seed)
    n_people = max(2, n_faces // 10)
    dim = real.shape[1]
    centres = real[rng.integers(0, len(real), n_people)] + rng.normal(size=(n_people, dim)) * between / np.sqrt(2 * dim)
    share = 1.0 / np.arange(1, n_people + 1) ** 0.8  # a few people in many photos, most in few
    people = rng.choice(n_people, n_faces, p=share / share.sum())
    X = centres[people] + rng.normal(size=(n_faces, dim)) * within / np.sqrt(2 * dim)
    photos = np.empty(n_faces, np.int64)  # photos of 1-3 faces, never one person twice
    i, photo = 0, 0
    while i < n_faces:
        k = int(rng.integers(1, 4))
        group = list(range(i, min(i + k, n_faces)))
        while len({people[g] for g in group}) < len(group):
            group.pop()
        photos[group] = photo
        i, photo = group[-1] + 1, photo + 1
    return X.astype(np.float32), people, photos


def timed(fn):
    tracemalloc.start()
    start = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return result, seconds, peak / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="*", default=[5000, 50000])
    args = parser.parse_args()
    shared = Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared / "models"))
    root = shared / "data" / "faces-glint-celeb24"
    engine = FaceEngine()
    glint = glint_faces(engine, root)
    X, truth, scores = glint["X"], glint["truth"], glint["scores"]
    photos = np.arange(len(X))
    tied = PeopleClusterer().fit_predict(X, scores, photos)
    free = PeopleClusterer(constrained=False).fit_predict(X, scores)
    emit("people_purity_glint", 100 * purity(tied, truth), "%")
    emit("people_completeness_glint", 100 * purity(truth, tied), "%")
    emit("people_purity_glint_unconstrained", 100 * purity(free, truth), "%")
    emit("people_completeness_glint_unconstrained", 100 * purity(truth, free), "%")
    emit("people_count_glint", len(np.unique(tied)), "people (24 identities)")

    archive = look_alike_archive(engine, root, glint)
    engine.close()
    n_group = len(set(archive["photos"][pd.Series(archive["photos"]).str.contains(r"\+").to_numpy()]))
    emit("people_group_photos", n_group, f"photos of 2 look-alikes (of {5 * len(archive['pairs'])} made)")
    emit("people_look_alike_pair_distance_mean", np.mean([d for *_, d in archive["pairs"]]), "distance of the pairs' means")
    for cut, suffix in ((SAME_PERSON_THRESHOLD, ""), (0.7, "_at_0.7")):
        for constrained in (True, False):
            clusterer = PeopleClusterer(threshold=cut, constrained=constrained)
            labels = clusterer.fit_predict(archive["X"], archive["scores"], archive["photos"])
            kind = "constrained" if constrained else "unconstrained"
            emit(f"people_same_photo_merges_{kind}{suffix}", same_photo_merges(labels, archive["photos"]),
                 f"of {n_group} group photos")
            precision, recall = pairwise(labels, archive["truth"])
            emit(f"people_pair_precision_{kind}{suffix}", 100 * precision, "%")
            emit(f"people_pair_recall_{kind}{suffix}", 100 * recall, "%")
            emit(f"people_purity_groups_{kind}{suffix}", 100 * purity(labels, archive["truth"]), "%")

    rejoined, forgetful = feedback_loop(archive)
    emit("people_removed_rejoined", rejoined, "of 20 faces taken out")
    emit("people_removed_rejoined_without_memory", forgetful, "of 20 faces taken out")

    # Spreads of the synthetic faces, measured on the Glint crops (mean distance within / between people).
    d = np.linalg.norm(X[:, None] - X[None], axis=2)
    same = truth[:, None] == truth[None, :]
    off = ~np.eye(len(X), dtype=bool)
    within, between = d[same & off].mean(), d[~same].mean()
    emit("people_glint_within_distance", within, "mean distance, same person")
    emit("people_glint_between_distance", between, "mean distance, different people")
    for n in args.sizes:
        Xs, people, photos_s = synthetic(n, X, within, 0.8 * between)
        clusterer = PeopleClusterer()
        labels, seconds, peak = timed(lambda: clusterer.fit_predict(Xs, None, photos_s))
        emit(f"people_cluster_{n}_s", seconds, "s")
        emit(f"people_cluster_{n}_peak_mb", peak, "MB (tracemalloc)")
        emit(f"people_cluster_{n}_same_photo_merges", same_photo_merges(labels, photos_s), "photos")
        emit(f"people_cluster_{n}_purity", 100 * purity(labels, people), "%")
        emit(f"people_cluster_{n}_completeness", 100 * purity(people, labels), "%")
        report = clusterer.report_
        emit(f"people_cluster_{n}_largest_component", report.largest_component, "faces")
        emit(f"people_cluster_{n}_approximate", report.n_approximate, "faces in components clustered by blocks")
        if n <= 5000:
            from sklearn.cluster import AgglomerativeClustering

            sk = AgglomerativeClustering(n_clusters=None, distance_threshold=SAME_PERSON_THRESHOLD, linkage="average")
            sk_labels, sk_seconds, sk_peak = timed(lambda: sk.fit(Xs).labels_)
            emit(f"people_cluster_{n}_sklearn_unconstrained_s", sk_seconds, "s")
            emit(f"people_cluster_{n}_sklearn_unconstrained_peak_mb", sk_peak, "MB (tracemalloc)")
            emit(f"people_cluster_{n}_sklearn_same_photo_merges", same_photo_merges(sk_labels, photos_s), "photos")


if __name__ == "__main__":
    main()
