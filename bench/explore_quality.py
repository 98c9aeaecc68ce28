"""Explore quality: how well each feature set separates known categories.

Data: ``../shared/data/photos-imagenet-coarse6`` (143 real ImageNet photos in
6 coarse categories, ``labels.csv``), imported with ``core.archive.catalogue.load_folder``
and mapped with ``core.explore.mapping.compute_map``, the pipeline the Explore
page runs step by step (cached 256-px thumbnails in, one cache entry per photo;
L2 normalisation for CNN and colour/texture features, none for raw pixels;
PCA to at most 50 components, then t-SNE; K-Means on the PCA features).

For each feature set we report, in the map's PCA space:

* ``knn_acc_<set>``: leave-one-out 5-nearest-neighbour accuracy;
* ``purity_<set>``: purity of the map's K-Means clusters with k = 6 (the
  number of categories).

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
from core.explore.features import BACKBONES  # noqa: E402
from core.explore.mapping import MapRequest, compute_map  # noqa: E402
from core.explore.photomap import knn_accuracy, purity  # noqa: E402


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def evaluate(name: str, request: MapRequest, labels: np.ndarray, cache: DiskCache) -> None:
    result = compute_map(request, cache=cache)
    known = labels[result.rows]
    emit(f"knn_acc_{name}", knn_accuracy(result.photo_map.pca_features_, known, k=5), "fraction")
    emit(f"purity_{name}", purity(result.clusters, known), "fraction")


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

        k = len(set(labels))
        evaluate("raw", MapRequest(items, feature_set="raw", raw_size=150, k=k), labels, cache)
        evaluate("colour_texture", MapRequest(items, feature_set="colour_texture", k=k), labels, cache)
        if not args.skip_cnn:
            for backbone in [b for b in args.backbones.split(",") if b]:
                request = MapRequest(items, feature_set=backbone, random_weights=True, k=k)
                evaluate(f"{backbone}_random", request, labels, cache)
    finally:
        shutil.rmtree(cache_root, ignore_errors=True)


if __name__ == "__main__":
    main()
