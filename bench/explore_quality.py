"""Explore quality: how well each feature set separates known categories.

Data: ``../shared/data/photos-imagenet-coarse6`` (143 real ImageNet photos in
6 coarse categories, ``labels.csv``), imported with ``core.archive.catalogue.load_folder``
and featurised with ``core.explore.features.compute_features`` exactly as the
Explore page does (cached 256-px thumbnails in, one cache entry per photo).

For each feature set the features go through the page's own preparation
(L2 normalisation for CNN and colour/texture features, none for raw pixels,
then PCA to at most 50 components, as :class:`core.explore.photomap.PhotoMap`
does) and we report:

* ``knn_acc_<set>``: leave-one-out 5-nearest-neighbour accuracy;
* ``purity_<set>``: purity of K-Means with k = 6 (the number of categories).

CNN backbones run with ``weights=None`` (random weights: no download here),
so their names end in ``_random`` and their numbers say nothing about
ImageNet-trained features. Chance level is about 0.21 (the largest category).

Prints one JSON object per line: ``{"name", "value", "unit"}``.
Run: ``python bench/explore_quality.py [--skip-cnn] [--backbones a,b]``
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from core.archive.catalogue import load_folder  # noqa: E402
from core.cache import DiskCache  # noqa: E402
from core.explore.features import BACKBONES, CNNFeatures, ColourTexture, RawPixels, compute_features  # noqa: E402
from core.explore.photomap import PhotoMap, kmeans_labels, knn_accuracy, purity  # noqa: E402


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def prepared(features: np.ndarray, l2: bool) -> np.ndarray:
    """The page's feature space: optional L2 normalisation, then PCA (≤ 50)."""
    space = PhotoMap(n_pca=50, l2_normalise=l2, random_state=0)
    X = space._prepare(features)
    from sklearn.decomposition import PCA

    k = min(50, X.shape[0] - 1, X.shape[1])
    return PCA(n_components=k, random_state=0).fit_transform(X)


def evaluate(name: str, features: np.ndarray, labels: np.ndarray, l2: bool) -> None:
    X = prepared(features, l2)
    emit(f"knn_acc_{name}", knn_accuracy(X, labels, k=5), "fraction")
    emit(f"purity_{name}", purity(kmeans_labels(X, len(set(labels)), random_state=0), labels), "fraction")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-cnn", action="store_true", help="only raw pixels and colour/texture")
    parser.add_argument("--backbones", default=",".join(BACKBONES), help="comma-separated CNN backbones")
    args = parser.parse_args()

    data = shared_dir() / "data" / "photos-imagenet-coarse6"
    table = pd.read_csv(data / "labels.csv")
    cache_root = Path(tempfile.mkdtemp(prefix="feedlens-quality-"))
    try:
        cache = DiskCache(cache_root)
        archive = load_folder(data / "images", cache=cache)
        catalogue = archive.catalogue.assign(rel="images/" + archive.catalogue["file"].astype(str))
        catalogue = catalogue.merge(table[["path", "category"]], left_on="rel", right_on="path", how="inner")
        labels = catalogue["category"].to_numpy()
        items = list(zip(catalogue["sha256"], catalogue["path_x"]))
        emit("quality_photos", len(items), "photos")
        emit("quality_categories", len(set(labels)), "categories")
        emit("quality_chance", pd.Series(labels).value_counts(normalize=True).iloc[0], "fraction")

        raw = compute_features(items, RawPixels(size=150), cache=cache)
        evaluate("raw", raw.features, labels, l2=False)
        ct = compute_features(items, ColourTexture(), cache=cache)
        evaluate("colour_texture", ct.features, labels, l2=True)
        if not args.skip_cnn:
            for backbone in [b for b in args.backbones.split(",") if b]:
                cnn = compute_features(items, CNNFeatures(backbone, weights=None, random_state=0), cache=cache)
                evaluate(f"{backbone}_random", cnn.features, labels, l2=True)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)


if __name__ == "__main__":
    main()
