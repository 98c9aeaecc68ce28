"""Benchmark: speed of face indexing and face search.

* ``faces_photos_per_s``: build the face index (decode, detect with the tiled
  pass, align, describe, cache) of real Instagram photos, 1080 px wide
  (shared data ``instaloader-top20-celebs``: celebrity posts, most with
  faces, some with several, some with none), from an empty cache, with the
  default two worker threads. Target: >= 8 photos/s on 2 cores.
* ``faces_search_100k_ms``: one query (the k = 10 nearest faces, as the page
  asks) against 100,000 stored descriptors, through ``FaceIndex.search`` (it
  returns the matching rows of the face table). The stored descriptors are
  real ones from the photos above, jittered with noise. Target: <= 50 ms.

Each figure is the median over several runs after a warm-up. Prints one JSON
object per line, ``{"name", "value", "unit"}``, then informational lines.

Usage::

    .venv/bin/python bench/faces.py [--photos 60] [--runs 3] [--workers 2]
"""

from __future__ import annotations

import argparse
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
from core.faces.engine import FaceEngine  # noqa: E402
from core.faces.index import FaceIndex, build_face_index  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 3), "unit": unit}), flush=True)


def catalogue_of(paths: list[Path]) -> pd.DataFrame:
    return pd.DataFrame({
        "post_id": [p.stem for p in paths],
        "file": [p.name for p in paths],
        "path": [str(p) for p in paths],
        "sha256": [sha256_file(p) for p in paths],
        "likes": pd.array([None] * len(paths), dtype="Int64"),
    })


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=60)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    shared = Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared / "models"))
    folder = shared / "data" / "instaloader-top20-celebs" / "DATA" / "IMAGES"
    every = sorted(folder.glob("*/*.jpg"))
    # An even spread over the 20 accounts.
    paths = every[:: max(1, len(every) // args.photos)][: args.photos]
    catalogue = catalogue_of(paths)
    engine = FaceEngine()

    with tempfile.TemporaryDirectory() as tmp:  # warm-up: models, BLAS, file cache
        build_face_index(catalogue.head(4), engine, cache=DiskCache(tmp), workers=args.workers)

    rates, index = [], None
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            index = build_face_index(catalogue, engine, cache=DiskCache(tmp), workers=args.workers)
            rates.append(len(catalogue) / (time.perf_counter() - start))
    emit("faces_photos_per_s", statistics.median(rates), "photos/s")

    # Search: 100,000 stored faces built from the real descriptors found above.
    rng = np.random.default_rng(0)
    real = index.embeddings[index.faces["recognisable"].to_numpy(bool)]
    n = 100_000
    stored = real[rng.integers(0, len(real), n)] + rng.normal(0, 0.03, (n, real.shape[1])).astype(np.float32)
    faces = pd.DataFrame({
        "face_key": [f"{i:064x}-0" for i in range(n)], "sha256": [f"{i:064x}" for i in range(n)],
        "face_no": 0, "x": 0.1, "y": 0.1, "w": 0.2, "h": 0.2, "score": 0.9, "recognisable": True,
        "post_id": [f"post{i}" for i in range(n)], "file": "x.jpg", "path": "/x.jpg",
    })
    big = FaceIndex(faces=faces, embeddings=stored.astype(np.float32), n_photos=n, n_done=n)
    queries = real[rng.integers(0, len(real), 60)] + rng.normal(0, 0.02, (60, real.shape[1])).astype(np.float32)
    big.search(queries[0], k=10)  # warm-up
    times = []
    for q in queries:
        start = time.perf_counter()
        big.search(q, k=10)
        times.append((time.perf_counter() - start) * 1000)
    emit("faces_search_100k_ms", statistics.median(times), "ms")

    # informational
    emit("faces_bench_photos", len(catalogue), "photos")
    emit("faces_bench_faces_found", len(index.faces), "faces")
    emit("faces_bench_photos_without_faces", index.photos_without_faces, "photos")
    emit("faces_photos_per_s_min", min(rates), "photos/s")
    emit("faces_search_100k_ms_p95", float(np.percentile(times, 95)), "ms")
    engine.close()


if __name__ == "__main__":
    main()
