"""Benchmark: the face index at 100,000 faces: HNSW (faiss) against exact search, and the packed index.

Figures (each the median of ``--runs`` runs; one JSON object per line, ``{"name", "value", "unit"}``):

* ``faces_ann_recall_at_10``: share of the exact 10 nearest faces that the HNSW graph
  (:class:`core.faces.search.AnnFaceSearcher`, the shipped parameters) returns, over 1,000 queries
  against ``--faces`` (100,000) stored faces.
* ``faces_exact_query_ms`` / ``faces_ann_query_ms``: one query (k = 10, as the page asks), median
  over 300 queries; the exact one as the app runs it (NumPy's default BLAS threads) and, for
  information, with one BLAS thread (``faces_exact_query_ms_1thread``), and both at
  :data:`~core.faces.search.ANN_MIN_FACES` faces (the threshold) and 50,000.
* ``faces_ann_build_s``: building the graph; ``faces_pack_s``: the whole :func:`pack_face_index`
  (read every photo's entry, build the graph, write one entry) and ``faces_pack_with_people_s`` with
  the people clustering too (as the batch runs it; ``--runs`` - 1 runs); ``faces_pack_mb``.
* ``faces_find_people_from_pack_s``: the Faces page's people step (:func:`find_people`) on the packed
  index, whose people are already grouped.
* ``faces_pack_load_s`` against ``faces_per_photo_load_s``: :func:`load_face_index` of the same
  archive from its pack and from its per-photo entries (the OS file cache is warm for both).
* ``faces_ann_recall_at_10_real``: the real descriptors alone (a few hundred; small, but real), and
  ``faces_ann_recall_at_10_real_queries``: the real descriptors as queries against the large set.

The data. 100,000 real faces are not available here, so the large set is generated from real ones,
and the method is what this paragraph says. Real descriptors: the dlib descriptors Feedlens computes
for the shared ``faces-glint-celeb24`` (240 crops, 24 people), ``faces-deepface-pairs`` (56 photos,
13 people) and ``instaloader-top20-celebs`` (199 photos, unlabelled) faces, through the app's own
:func:`build_face_index` (cached under ``bench/out/``). From them: the within-person covariance
(pooled over the 37 labelled people, deviations from each person's mean) and the between-person
covariance (the covariance of all real faces minus the within-person one, negative eigenvalues
clipped), both full 128 × 128, so the generated faces stay in the real faces' subspace (the real
descriptors span about 81 of the 128 dimensions). People are drawn as centres from the between-person
Gaussian around the real mean, and their faces around them from the within-person Gaussian. Faces per
person follow a Zipf law (exponent 2, at most 5,000: an archive's owner in thousands of photos, most
people once), which puts about 16,000 people in 100,000 faces; the dense clusters of the
frequent people are the hard case for a graph. Check (printed): the median same-person and
different-person distances of the generated faces against the real ones (0.51 / 0.84 real). Queries
are new faces of stored people, drawn in proportion to their faces (searching a new photo of someone
in the archive). Per-photo entries for the load figures hold 0-3 faces per photo with the face counts
of the real Instagram photos above.

Usage::

    .venv/bin/python bench/faces_ann.py [--faces 100000] [--runs 3] [--queries 1000]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.cache import DiskCache, sha256_file  # noqa: E402
from core.faces import index as face_index  # noqa: E402  (the per-photo entry layout, to write 100,000 quickly)
from core.faces.index import build_face_index, load_face_index, pack_face_index  # noqa: E402
from core.faces.people import find_people  # noqa: E402
from core.faces.search import ANN_MIN_FACES, AnnFaceSearcher, FaceSearcher  # noqa: E402

OUT = REPO / "bench" / "out" / "faces_ann"


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


# ----------------------------------------------------------------------------- real descriptors


def real_descriptors(shared: Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(descriptors, person or "", faces per photo of the Instagram photos)`` from the shared faces."""
    data = shared / "data"
    rows = []  # (path, person): the person owns the photo's largest face (face_no 0)
    for r in csv.DictReader(open(data / "faces-glint-celeb24" / "labels.csv", newline="")):
        rows.append((data / "faces-glint-celeb24" / r["path"], "glint:" + r["identity"]))
    for r in csv.DictReader(open(data / "faces-deepface-pairs" / "labels.csv", newline="")):
        rows.append((data / "faces-deepface-pairs" / r["path"], "deepface:" + r["identity_group"]))
    instagram = sorted((data / "instaloader-top20-celebs" / "DATA" / "IMAGES").glob("*/*.jpg"))
    rows += [(path, "") for path in instagram]
    catalogue = pd.DataFrame({"post_id": [str(i) for i in range(len(rows))], "file": [p.name for p, _ in rows],
                              "path": [str(p) for p, _ in rows], "sha256": [sha256_file(p) for p, _ in rows]})
    note(f"describing the faces of {len(rows)} shared photos (cached in {OUT / 'cache'})")
    index = build_face_index(catalogue, cache=DiskCache(OUT / "cache"))
    person_of = {}
    for (_, person), sha in zip(rows, catalogue["sha256"]):
        person_of.setdefault(sha, person)
    faces = index.faces.reset_index(drop=True)
    ok = faces["recognisable"].to_numpy(bool)
    people = np.array([person_of[s] if n == 0 else "" for s, n in zip(faces["sha256"], faces["face_no"])])
    insta_shas = set(catalogue["sha256"].iloc[len(rows) - len(instagram):])
    per_photo = faces[faces["sha256"].isin(insta_shas)].groupby("sha256").size()
    counts = np.concatenate([per_photo.to_numpy(), np.zeros(len(insta_shas) - len(per_photo), int)])
    return index.embeddings[ok].astype(np.float64), people[ok], counts


# ----------------------------------------------------------------------------- the generated set


class FaceModel:
    """People as Gaussian centres, their faces Gaussian around them; both covariances from real faces."""

    def __init__(self, X: np.ndarray, people: np.ndarray) -> None:
        labelled = people != ""
        names, person = np.unique(people[labelled], return_inverse=True)
        XL = X[labelled]
        centres = np.stack([XL[person == i].mean(0) for i in range(len(names))])
        deviations = XL - centres[person]
        within = deviations.T @ deviations / (len(XL) - len(names))
        between = np.cov(X.T) - within
        self.mean = X.mean(0)
        self.within_half = self._half(within)
        self.between_half = self._half(between)

    @staticmethod
    def _half(cov: np.ndarray) -> np.ndarray:
        w, V = np.linalg.eigh(cov)
        return V * np.sqrt(np.clip(w, 0, None))

    def people(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.mean + rng.standard_normal((n, len(self.mean))) @ self.between_half.T

    def faces_of(self, centres: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        noise = rng.standard_normal((len(centres), len(self.mean))) @ self.within_half.T
        return (centres + noise).astype(np.float32)


def generate(model: FaceModel, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(faces, person of each face, people's centres)``: ``n`` faces, Zipf faces per person."""
    sizes: list[int] = []
    total = 0
    while total < n:
        sizes.append(min(int(rng.zipf(2.0)), 5000, n - total))
        total += sizes[-1]
    centres = model.people(len(sizes), rng)
    person = np.repeat(np.arange(len(sizes)), sizes)
    return model.faces_of(centres[person], rng), person, centres


def median_distances(X: np.ndarray, people: np.ndarray, rng: np.random.Generator, n: int = 3000) -> tuple[float, float]:
    from scipy.spatial.distance import cdist

    pick = rng.choice(len(X), min(n, len(X)), replace=False)
    D = cdist(X[pick], X[pick])
    same = people[pick, None] == people[None, pick]
    upper = np.triu(np.ones_like(same), 1)
    return float(np.median(D[upper & same])), float(np.median(D[upper & ~same]))


# ----------------------------------------------------------------------------- measures


def recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float((found[:, :, None] == truth[:, None, :]).any(axis=2).mean())


def query_ms(searcher, queries: np.ndarray, k: int = 10) -> float:
    searcher.kneighbors(queries[:3], k)  # warm-up
    times = []
    for q in queries:
        start = time.perf_counter()
        searcher.kneighbors(q[None], k)
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def one_blas_thread():
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1, user_api="blas")


def write_entries(cache: DiskCache, faces: np.ndarray, counts: np.ndarray, rng: np.random.Generator) -> pd.DataFrame:
    """Per-photo entries (the layout :func:`build_face_index` writes) holding ``faces``; the catalogue."""
    per_photo: list[int] = []
    total = 0
    while total < len(faces):
        per_photo.append(min(int(rng.choice(counts)), len(faces) - total))
        total += per_photo[-1]
    shas = [f"{i:064x}" for i in range(len(per_photo))]
    start = 0
    for sha, n in zip(shas, per_photo):
        rows = np.full((n, face_index._ROW), 0.2, np.float32)
        rows[:, 4] = 0.9
        rows[:, 17:] = faces[start : start + n]
        cache.put_array(face_index._KIND, sha, rows)
        start += n
    return pd.DataFrame({"sha256": shas, "post_id": [f"post{i}" for i in range(len(shas))],
                         "file": [f"{i}.jpg" for i in range(len(shas))], "path": [f"/p/{i}.jpg" for i in range(len(shas))]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shared = Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared / "models"))
    rng = np.random.default_rng(13)

    X, people, counts = real_descriptors(shared)
    model = FaceModel(X, people)
    faces, person, centres = generate(model, args.faces, rng)
    queried = person[rng.integers(0, len(person), args.queries)]
    queries = model.faces_of(centres[queried], rng)
    labelled = people != ""
    real_same, real_diff = median_distances(X[labelled], people[labelled], rng)
    gen_same, gen_diff = median_distances(faces, person, rng)
    emit("faces_ann_median_distance_same_person_real", real_same, "")
    emit("faces_ann_median_distance_same_person_generated", gen_same, "")
    emit("faces_ann_median_distance_other_person_real", real_diff, "")
    emit("faces_ann_median_distance_other_person_generated", gen_diff, "")
    note(f"{len(X)} real descriptors ({labelled.sum()} of {len(set(people[labelled]))} labelled people); "
         f"{len(faces):,} generated faces of {len(centres):,} people (largest {np.bincount(person).max():,}, "
         f"{(np.bincount(person) == 1).sum():,} seen once)")
    note(f"median distance same/different person: real {real_same:.3f}/{real_diff:.3f}, "
         f"generated {gen_same:.3f}/{gen_diff:.3f}")

    exact = FaceSearcher().fit(faces)
    truth = exact.kneighbors(queries, 10)[1]
    real_truth = exact.kneighbors(X.astype(np.float32), 10)[1]
    small = X.astype(np.float32)
    small_truth = FaceSearcher().fit(small).kneighbors(small, 10)[1]

    results: dict[str, list[float]] = {}

    def keep(name: str, value: float) -> None:
        results.setdefault(name, []).append(value)

    for run in range(args.runs):
        note(f"run {run + 1} of {args.runs}: graph, queries")
        start = time.perf_counter()
        ann = AnnFaceSearcher().fit(faces)
        keep("faces_ann_build_s", time.perf_counter() - start)
        keep("faces_ann_recall_at_10", recall(ann.kneighbors(queries, 10)[1], truth))
        keep("faces_ann_recall_at_10_real_queries", recall(ann.kneighbors(X.astype(np.float32), 10)[1], real_truth))
        keep("faces_ann_recall_at_10_real", recall(AnnFaceSearcher().fit(small).kneighbors(small, 10)[1], small_truth))
        keep("faces_exact_query_ms", query_ms(exact, queries[:300]))
        with one_blas_thread():
            keep("faces_exact_query_ms_1thread", query_ms(exact, queries[:300]))
        keep("faces_ann_query_ms", query_ms(ann, queries[:300]))
        for n in (ANN_MIN_FACES, 50_000):
            if n < len(faces):
                part = FaceSearcher().fit(faces[:n])
                keep(f"faces_exact_query_ms_at_{n}", query_ms(part, queries[:300]))
                with one_blas_thread():
                    keep(f"faces_exact_query_ms_1thread_at_{n}", query_ms(part, queries[:300]))
                if run == 0:
                    keep(f"faces_ann_query_ms_at_{n}", query_ms(AnnFaceSearcher().fit(faces[:n]), queries[:300]))
        del ann

    with tempfile.TemporaryDirectory(dir=OUT) as folder:
        cache = DiskCache(folder)
        note(f"writing per-photo entries for {len(faces):,} faces")
        catalogue = write_entries(cache, faces, counts, rng)
        for run in range(args.runs):
            note(f"run {run + 1} of {args.runs}: per-photo load, pack, pack load ({len(catalogue):,} photos)")
            cache.put(face_index._DELETIONS, "current", f"run{run}".encode(), ".txt")  # the last pack is stale
            start = time.perf_counter()
            per_photo = load_face_index(catalogue, cache)
            keep("faces_per_photo_load_s", time.perf_counter() - start)
            assert not per_photo.approximate and len(per_photo.faces) == len(faces)
            start = time.perf_counter()
            pack = pack_face_index(catalogue, cache, people=run > 0)  # the people clustering once: minutes
            keep("faces_pack_s" if run == 0 else "faces_pack_with_people_s", time.perf_counter() - start)
            assert pack.written and pack.approximate == (len(faces) >= ANN_MIN_FACES)
            keep("faces_pack_mb", pack.nbytes / 1e6)
            start = time.perf_counter()
            packed = load_face_index(catalogue, cache)
            keep("faces_pack_load_s", time.perf_counter() - start)
            assert packed.approximate == pack.approximate and len(packed.faces) == len(faces)
            keep("faces_pack_recall_at_10", recall(
                np.stack([packed.searcher.kneighbors(q[None], 10)[1][0] for q in queries[:200]]), truth[:200]))
            if run > 0:  # the Faces page's people step on the packed index: no clustering
                start = time.perf_counter()
                found = find_people(catalogue.assign(likes=1), "bench", cache=cache, index=packed)
                keep("faces_find_people_from_pack_s", time.perf_counter() - start)
                keep("faces_people", len(found))

    units = {"_s": "s", "_ms": "ms", "_mb": "MB"}
    for name, values in results.items():
        unit = next((u for suffix, u in units.items() if name.endswith(suffix) or f"{suffix}_" in name), "")
        emit(name, statistics.median(values), unit or ("people" if name == "faces_people" else "share of the exact 10"))
    emit("faces_ann_bench_faces", len(faces), "faces")
    emit("faces_ann_bench_photos", len(catalogue), "photos")
    emit("faces_ann_bench_people", len(centres), "people")
    emit("faces_ann_real_descriptors", len(X), "faces")
    emit("faces_ann_real_people", len(set(people[labelled])), "people")
    emit("faces_ann_min_faces", ANN_MIN_FACES, "faces")


if __name__ == "__main__":
    main()
