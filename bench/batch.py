"""Batch speed: ``feedlens batch``'s per-photo work (colour/texture features + faces) on 200 photos of 1080×1080.

Photos per second for each engine with 2 workers (in-process: one), each
run on a fresh cache after the import (which makes the thumbnails, so the
time is the features and faces of every photo). The local and Dask figures
include starting the processes or the local cluster and loading the face
models in each worker; ``batch_dask_malloc65536_photos_per_s`` is Dask with
the nanny's ``MALLOC_TRIM_THRESHOLD_=65536``, which Feedlens unsets. The photos are made from the shared photos (distinct
bytes) under ``bench/out/`` (not committed).
Prints one JSON object per line: ``{"name", "value", "unit"}``.

Run: ``python bench/batch.py [--photos N] [--workers N]``
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from ingest import make_photos, shared_dir  # noqa: E402  (bench/ingest.py: the same 1080 px photos)

from core.archive import open_archive  # noqa: E402
from core.batch.engines import run_batch  # noqa: E402
from core.batch.plan import plan_batch  # noqa: E402
from core.cache import DiskCache  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=64)
    args = parser.parse_args()
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir() / "models"))

    folder = make_photos(REPO / "bench" / "out" / f"batch-{args.photos}", args.photos)
    runs = [("inprocess", "inprocess"), ("local", "local"), ("dask", "dask"), ("dask", "dask_malloc65536")]
    for engine, name in runs:
        if name == "dask_malloc65536":
            # The nanny's default, which DASK_CONFIG unsets: workers inherit it from here instead.
            os.environ["MALLOC_TRIM_THRESHOLD_"] = "65536"
        with tempfile.TemporaryDirectory() as cache:
            archive = open_archive(folder, cache=DiskCache(cache))
            chunks = plan_batch(archive, ("features", "faces"), args.chunk)
            start = time.perf_counter()
            result = run_batch(chunks, cache, engine=engine, workers=args.workers)
            seconds = time.perf_counter() - start
            assert result.photos == archive.n_images and not result.failures, result.failures[:3]
            emit(f"batch_{name}_photos_per_s", result.photos / seconds, "photos/s")
    os.environ.pop("MALLOC_TRIM_THRESHOLD_", None)


if __name__ == "__main__":
    main()
