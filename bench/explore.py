"""Explore speed: t-SNE (openTSNE vs scikit-learn), features for 1,000 photos, Plotly size.

Measured side by side in one run, on this machine (2 cores, shared):

* ``tsne_10000_opentsne_s`` / ``tsne_10000_sklearn_s``: a 2-D t-SNE of
  10,000 points × 50 dimensions (a Gaussian mixture of 20 clusters with
  different spreads, ``make_blobs(random_state=0)``), perplexity 30 for both.
  openTSNE runs with the Explore page's settings (``core.explore.photomap.run_tsne``:
  exact neighbours, PCA initialisation, FFT gradients on a 2-unit grid,
  75 + 125 iterations, 2 threads); scikit-learn with its defaults (Barnes-Hut, 1,000 iterations,
  ``n_jobs=2``).
* ``tsne_10000_trust_*``: ``sklearn.manifold.trustworthiness`` with k = 10,
  computed on a fixed random subsample of 2,000 of the 10,000 points
  (trustworthiness is quadratic in n); neighbourhoods are those within the
  subsample, in both spaces, the same subsample for both methods.
* ``raw_features_1000_s``: raw 150×150×3 pixels for 1,000 imported photos
  (1080×1080 JPEGs made by ``bench/ingest.py``'s ``make_photos`` into
  ``bench/out/``, imported with ``core.archive.catalogue.load_folder`` first; the
  features read the 256-px thumbnails the import made in JPEG draft mode).
* ``cnn_features_1000_s``: the same 1,000 photos through MobileNetV3Small
  (the fast default backbone), including building the network, tracing its
  predict function, thumbnail decoding, resizing and batch inference (batch
  32); not the one-off ``import tensorflow`` of a fresh process, reported as
  ``tensorflow_import_s``. ``weights=None`` (no
  download here): inference costs the same as with ImageNet weights.
  ``cnn_features_1000_e2e_s`` adds the cold import (hash, draft-mode decode,
  thumbnail) of the 1080-px files and the TensorFlow import.
* ``cnn_<backbone>_img_per_s``: inference throughput of each backbone at
  batch 32 (64 images after one warm-up batch).
* ``plotly_10000_json_mb``: the Explore map figure (``core.explore.figure.explore_figure``,
  the page's own: WebGL, hover data, coloured by cluster) for 10,000 points, serialised to JSON.

Prints one JSON object per line: ``{"name", "value", "unit"}``.
Run: ``python bench/explore.py [--skip-sklearn] [--skip-cnn]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.archive.catalogue import load_folder  # noqa: E402
from core.cache import DiskCache  # noqa: E402
from core.explore.features import BACKBONES, CNNFeatures, RawPixels, compute_features  # noqa: E402
from core.explore.figure import explore_figure  # noqa: E402
from core.explore.photomap import run_tsne, trustworthiness_subsample  # noqa: E402

N_TSNE = 10_000
N_PHOTOS = 1000


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def tsne_data() -> np.ndarray:
    from sklearn.datasets import make_blobs

    rng = np.random.default_rng(0)
    X, _ = make_blobs(n_samples=N_TSNE, n_features=50, centers=20, cluster_std=rng.uniform(1.0, 5.0, 20),
                      random_state=0)
    return X.astype(np.float32)


def bench_tsne(skip_sklearn: bool) -> None:
    X = tsne_data()
    start = time.perf_counter()
    Y = np.asarray(run_tsne(X, perplexity=30, random_state=0, n_jobs=2))
    t_open = time.perf_counter() - start
    emit("tsne_10000_opentsne_s", t_open, "s")
    emit("tsne_10000_trust_opentsne", trustworthiness_subsample(X, Y, 10, 2000, random_state=0), "trustworthiness")
    if skip_sklearn:
        return
    from sklearn.manifold import TSNE

    start = time.perf_counter()
    Y_sk = TSNE(n_components=2, perplexity=30, random_state=0, n_jobs=2).fit_transform(X)
    t_sk = time.perf_counter() - start
    emit("tsne_10000_sklearn_s", t_sk, "s")
    emit("tsne_10000_trust_sklearn", trustworthiness_subsample(X, Y_sk, 10, 2000, random_state=0),
         "trustworthiness")
    emit("tsne_10000_speedup", t_sk / t_open, "x")


def bench_features(skip_cnn: bool) -> None:
    from ingest import make_photos  # bench/ingest.py

    folder = make_photos(REPO / "bench" / "out" / "ingest-1000", N_PHOTOS)
    cache_root = Path(tempfile.mkdtemp(prefix="feedlens-explore-bench-"))
    try:
        cache = DiskCache(cache_root)
        start = time.perf_counter()
        archive = load_folder(folder, cache=cache)
        t_import = time.perf_counter() - start
        assert archive.n_images == N_PHOTOS, archive.n_images
        emit("explore_import_1000_s", t_import, "s")
        items = list(zip(archive.catalogue["sha256"], archive.catalogue["path"]))

        start = time.perf_counter()
        raw = compute_features(items, RawPixels(150), cache=cache)
        emit("raw_features_1000_s", time.perf_counter() - start, "s")
        assert raw.features.shape == (N_PHOTOS, 150 * 150 * 3)
        start = time.perf_counter()
        compute_features(items, RawPixels(150), cache=cache)
        emit("raw_features_1000_cached_s", time.perf_counter() - start, "s")
        if skip_cnn:
            return
        start = time.perf_counter()
        import keras  # noqa: F401  - TensorFlow loads once per server process; timed on its own

        t_tf = time.perf_counter() - start
        emit("tensorflow_import_s", t_tf, "s")
        start = time.perf_counter()
        cnn = compute_features(items, CNNFeatures("mobilenet_v3_small", weights=None, batch_size=32), cache=cache)
        t_cnn = time.perf_counter() - start
        assert cnn.features.shape == (N_PHOTOS, 576)
        emit("cnn_features_1000_s", t_cnn, "s")
        emit("cnn_features_1000_e2e_s", t_import + t_tf + t_cnn, "s")
        start = time.perf_counter()
        compute_features(items, CNNFeatures("mobilenet_v3_small", weights=None), cache=cache)
        emit("cnn_features_1000_cached_s", time.perf_counter() - start, "s")
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)


def bench_backbones() -> None:
    rng = np.random.default_rng(0)
    images = [rng.integers(0, 255, (256, 256, 3), dtype=np.uint8) for _ in range(32)]
    for name in BACKBONES:
        extractor = CNNFeatures(name, weights=None, batch_size=32).fit()
        extractor.transform(images)  # warm-up: traces the predict function
        start = time.perf_counter()
        extractor.transform(images + images)
        emit(f"cnn_{name}_img_per_s", 64 / (time.perf_counter() - start), "images/s")
        del extractor


def bench_plotly() -> None:
    rng = np.random.default_rng(0)
    coords = rng.normal(size=(N_TSNE, 2)) * 30
    table = pd.DataFrame({
        "x": np.round(coords[:, 0], 4), "y": np.round(coords[:, 1], 4),
        "file": [f"2024-05-{i % 28 + 1:02d}_12-00-00_UTC_{i % 3 + 1}.jpg" for i in range(N_TSNE)],
        "cluster": [f"C{i % 10 + 1}" for i in range(N_TSNE)],
        "likes": pd.array([i % 900 for i in range(N_TSNE)], dtype="Int64"),
        "imagenet_top1": ["espresso"] * N_TSNE, "imagenet_group": ["Coffee"] * N_TSNE,
    })
    fig = explore_figure(table, colour_by="Cluster", title=f"t-SNE · {N_TSNE} photos")
    assert type(fig.data[0]).__name__ == "Scattergl"
    emit("plotly_10000_json_mb", len(fig.to_json().encode("utf-8")) / 1e6, "MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-sklearn", action="store_true", help="skip scikit-learn's slow t-SNE")
    parser.add_argument("--skip-cnn", action="store_true", help="skip the Keras benchmarks")
    parser.add_argument("--only", choices=["tsne", "features", "backbones", "plotly"], help="run one part")
    args = parser.parse_args()
    emit("explore_cpu_count", os.cpu_count() or 0, "cores")
    emit("explore_load_average_1min", os.getloadavg()[0], "load")
    if args.only in (None, "plotly"):
        bench_plotly()
    if args.only in (None, "tsne"):
        bench_tsne(args.skip_sklearn)
    if args.only in (None, "features"):
        bench_features(args.skip_cnn)
    if args.only in (None, "backbones") and not args.skip_cnn:
        bench_backbones()


if __name__ == "__main__":
    main()
