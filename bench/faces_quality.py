"""Benchmark: accuracy of the face pipeline on real, labelled photos.

Two shared data sets (see their README files under ../shared/data):

* ``faces-deepface-pairs``: 56 full-size photos of 13 people and 458 labelled
  pairs (116 same, 342 different). Each photo's largest face is detected
  (MediaPipe), aligned and described (dlib ResNet); a pair is called "same
  person" when the descriptors are closer than dlib's 0.6 (fixed, not tuned
  here). A photo with no face makes its pairs "different".
* ``faces-glint-celeb24``: 24 people × 10 tight 112×112 crops. Leave-one-out
  rank-1 identification (is the nearest other crop the same person?), and the
  purity of the people clustering (:class:`core.faces.people.PeopleClusterer`):
  the share of faces whose cluster's majority is their own person.

Prints one JSON object per line, ``{"name", "value", "unit"}``:
``faces_pair_accuracy`` (target >= 99.5 %), ``faces_no_face_photos``,
``faces_rank1_glint`` (target >= 95 %), ``faces_cluster_purity_glint``, then
informational lines (other alignment mode, cluster count, completeness...).

Usage::

    .venv/bin/python bench/faces_quality.py [--landmarks blazeface|dlib5|both]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.faces.engine import SAME_PERSON_THRESHOLD, FaceEngine  # noqa: E402
from core.faces.people import PeopleClusterer  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def largest_face(engine: FaceEngine, path: Path):
    faces, _ = engine.analyze_file(path)
    faces = [f for f in faces if f.recognisable]
    return faces[0] if faces else None  # analyze() returns the largest first


def largest_embedding(engine: FaceEngine, path: Path) -> np.ndarray | None:
    face = largest_face(engine, path)
    return face.embedding if face is not None else None


def pairs_accuracy(engine: FaceEngine, root: Path) -> tuple[float, int, float]:
    pairs = list(csv.DictReader(open(root / "pairs.csv", newline="")))
    files = sorted({p["file_x"] for p in pairs} | {p["file_y"] for p in pairs})
    emb = {f: largest_embedding(engine, root / f) for f in files}
    no_face = sum(v is None for v in emb.values())
    dist = np.array([np.linalg.norm(emb[p["file_x"]] - emb[p["file_y"]])
                     if emb[p["file_x"]] is not None and emb[p["file_y"]] is not None else np.inf
                     for p in pairs])
    same = np.array([p["same_person"] == "1" for p in pairs])
    accuracy = float(((dist < SAME_PERSON_THRESHOLD) == same).mean())
    best = max(float(((dist < t) == same).mean()) for t in np.arange(0.40, 0.80, 0.01))
    return accuracy, no_face, best


def purity(labels: np.ndarray, truth: np.ndarray) -> float:
    """Share of items whose cluster's majority label is their own."""
    total = 0
    for c in np.unique(labels):
        _, counts = np.unique(truth[labels == c], return_counts=True)
        total += counts.max()
    return total / len(truth)


def glint(engine: FaceEngine, root: Path) -> dict[str, float]:
    rows = list(csv.DictReader(open(root / "labels.csv", newline="")))
    found_faces = [largest_face(engine, root / r["path"]) for r in rows]
    found = np.array([f is not None for f in found_faces])
    truth = np.array([r["identity"] for r in rows])
    X = np.stack([f.embedding for f in found_faces if f is not None])
    scores = np.array([f.score for f in found_faces if f is not None])
    t = truth[found]
    d = np.linalg.norm(X[:, None] - X[None], axis=2)
    np.fill_diagonal(d, np.inf)
    hits = (t[d.argmin(1)] == t).sum()  # crops with no face count as misses
    # The people clustering as the app runs it (poor faces only join close people).
    labels = PeopleClusterer().fit_predict(X, scores)
    labels_db = PeopleClusterer(method="dbscan").fit_predict(X, scores)
    labels_all = PeopleClusterer().fit_predict(X)
    return {
        "rank1": hits / len(rows),
        "no_face": int((~found).sum()),
        "purity": purity(labels, t),
        "completeness": purity(t, labels),
        "clusters": len(np.unique(labels)),
        "purity_all_faces": purity(labels_all, t),
        "purity_dbscan": purity(labels_db, t),
        "completeness_dbscan": purity(t, labels_db),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--landmarks", choices=["blazeface", "dlib5", "both"], default="both")
    args = parser.parse_args()
    shared = Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared / "models"))
    data = shared / "data"
    modes = ["blazeface", "dlib5"] if args.landmarks == "both" else [args.landmarks]
    for n, mode in enumerate(modes):
        engine = FaceEngine(landmarks=mode)
        acc, no_face, best = pairs_accuracy(engine, data / "faces-deepface-pairs")
        g = glint(engine, data / "faces-glint-celeb24")
        suffix = "" if n == 0 else f"_{mode}"
        emit(f"faces_pair_accuracy{suffix}", 100 * acc, "%")
        emit(f"faces_no_face_photos{suffix}", no_face, "photos")
        emit(f"faces_rank1_glint{suffix}", 100 * g["rank1"], "%")
        emit(f"faces_cluster_purity_glint{suffix}", 100 * g["purity"], "%")
        # informational
        emit(f"faces_pair_accuracy_best_threshold{suffix}", 100 * best, "%")
        emit(f"faces_no_face_glint{suffix}", g["no_face"], "crops")
        emit(f"faces_cluster_completeness_glint{suffix}", 100 * g["completeness"], "%")
        emit(f"faces_cluster_count_glint{suffix}", g["clusters"], "clusters (24 people)")
        emit(f"faces_cluster_purity_glint_no_quality_gate{suffix}", 100 * g["purity_all_faces"], "%")
        emit(f"faces_cluster_purity_glint_dbscan{suffix}", 100 * g["purity_dbscan"], "%")
        emit(f"faces_cluster_completeness_glint_dbscan{suffix}", 100 * g["completeness_dbscan"], "%")
        engine.close()


if __name__ == "__main__":
    main()
