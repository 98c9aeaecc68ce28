"""The Explore map and clusters: PCA + openTSNE, placing new photos, K-Means, HDBSCAN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.archive.catalogue import load_folder
from core.cache import DiskCache
from core.explore.features import ColourTexture, compute_features
from core.explore.photomap import (
    MIN_MAP_PHOTOS,
    PhotoMap,
    effective_perplexity,
    hdbscan_labels,
    kmeans_labels,
    knn_accuracy,
    nearest_neighbours,
    purity,
    silhouette_curve,
    suggest_k,
    trustworthiness_subsample,
)
from core.jobs import TooFewPhotosError


@pytest.fixture(scope="module")
def coarse6_features(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """Colour & texture features of the 143 labelled photos (computed once for the module)."""
    cache = DiskCache(tmp_path_factory.mktemp("emb-cache"))
    root = data_dir / "photos-imagenet-coarse6"
    archive = load_folder(root / "images", cache=cache)
    labels = pd.read_csv(root / "labels.csv").set_index("path")["category"]
    cat = archive.catalogue
    y = np.array([labels["images/" + f] for f in cat["file"]])
    result = compute_features(zip(cat["sha256"], cat["path"]), ColourTexture(), cache=cache)
    return result.features, y


def test_map_of_real_photos_keeps_neighbourhoods(coarse6_features):
    X, y = coarse6_features
    photo_map = PhotoMap(perplexity=30, random_state=0).fit(X)
    assert photo_map.coords_.shape == (len(X), 2)
    assert np.isfinite(photo_map.coords_).all()
    assert photo_map.pca_features_.shape == (len(X), 50)
    assert not photo_map.degenerate_
    # Neighbourhoods survive the projection; the map still groups categories above chance (0.21).
    assert trustworthiness_subsample(photo_map.pca_features_, photo_map.coords_, 10) > 0.85
    assert knn_accuracy(photo_map.coords_, y, 5) > 0.3


def test_same_seed_same_map(coarse6_features):
    X, _ = coarse6_features
    a = PhotoMap(perplexity=10, random_state=3).fit(X[:60]).coords_
    b = PhotoMap(perplexity=10, random_state=3).fit(X[:60]).coords_
    assert np.allclose(a, b)


def test_new_photo_lands_next_to_its_twin(coarse6_features):
    X, _ = coarse6_features
    photo_map = PhotoMap(perplexity=20, random_state=0).fit(X[:100])
    placed = photo_map.transform(X[[7, 42]])
    assert placed.shape == (2, 2) and np.isfinite(placed).all()
    # A copy of photo 7 lands closer to photo 7 than most of the map does.
    dist = np.linalg.norm(photo_map.coords_ - placed[0], axis=1)
    assert np.sum(dist < dist[7]) <= 5
    idx, _ = nearest_neighbours(photo_map.pca_features_, photo_map.reduce(X[[42]]), k=3)
    assert idx[0, 0] == 42


def test_perplexity_is_clamped_below_n():
    assert effective_perplexity(30, 16) == 5.0
    assert effective_perplexity(0.1, 100) == 1.0
    X = np.random.default_rng(0).normal(size=(8, 5))
    photo_map = PhotoMap(perplexity=50, random_state=0).fit(X)
    assert photo_map.perplexity_ == pytest.approx(7 / 3)
    assert np.isfinite(photo_map.coords_).all()


@pytest.mark.parametrize("n", [0, 1, 2, 3])
def test_too_few_photos_explain_instead_of_crashing(n: int):
    X = np.random.default_rng(0).normal(size=(n, 6))
    with pytest.raises(TooFewPhotosError, match=f"at least {MIN_MAP_PHOTOS} photos; this archive has {n}"):
        PhotoMap().fit(X)


def test_four_photos_make_a_map():
    X = np.random.default_rng(1).normal(size=(4, 6))
    photo_map = PhotoMap(random_state=0).fit(X)
    assert photo_map.coords_.shape == (4, 2) and np.isfinite(photo_map.coords_).all()
    assert photo_map.transform(X[:1]).shape == (1, 2)


def test_identical_photos_get_a_trivial_layout():
    X = np.tile(np.arange(12, dtype=np.float32), (6, 1))
    photo_map = PhotoMap().fit(X)
    assert photo_map.degenerate_
    assert photo_map.coords_.shape == (6, 2) and np.isfinite(photo_map.coords_).all()
    assert np.allclose(photo_map.transform(X[:2]), 0.0)
    assert set(kmeans_labels(X, 4)) == {0}
    assert silhouette_curve(X).empty and suggest_k(silhouette_curve(X)) == 1


def test_duplicates_among_other_photos_are_fine():
    rng = np.random.default_rng(2)
    X = np.vstack([rng.normal(size=(20, 10)), np.repeat(rng.normal(size=(1, 10)), 5, axis=0)])
    photo_map = PhotoMap(perplexity=5, random_state=0).fit(X)
    assert np.isfinite(photo_map.coords_).all()
    dup = photo_map.coords_[20:]
    assert np.ptp(dup, axis=0).max() < np.ptp(photo_map.coords_, axis=0).max() / 4


def test_bad_features_are_refused():
    with pytest.raises(ValueError, match="NaN"):
        PhotoMap().fit(np.full((5, 3), np.nan))
    photo_map = PhotoMap(random_state=0).fit(np.random.default_rng(0).normal(size=(10, 4)))
    with pytest.raises(ValueError, match="expected 4 features"):
        photo_map.transform(np.zeros((1, 5)))


def test_silhouette_suggests_the_true_number_of_clusters():
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 10, size=(4, 8))
    X = np.vstack([c + rng.normal(0, 0.5, size=(25, 8)) for c in centres])
    curve = silhouette_curve(X, 2, 10)
    assert list(curve["k"]) == list(range(2, 11))
    assert suggest_k(curve) == 4
    labels = kmeans_labels(X, 4)
    assert purity(labels, np.repeat(np.arange(4), 25)) == 1.0
    # The range is clamped to k < number of distinct points.
    assert silhouette_curve(X[:5], 2, 15)["k"].max() == 4


def test_kmeans_on_real_photos_beats_chance(coarse6_features):
    X, y = coarse6_features
    photo_map = PhotoMap(random_state=0).fit(X)
    assert purity(kmeans_labels(photo_map.pca_features_, 6), y) > 0.3


def test_hdbscan_finds_clusters_and_outliers():
    rng = np.random.default_rng(0)
    X = np.vstack([rng.normal(0, 0.3, (30, 2)), rng.normal(8, 0.3, (30, 2)), [[40.0, -40.0]]])
    labels = hdbscan_labels(X, min_cluster_size=5)
    assert len(set(labels) - {-1}) == 2
    assert labels[-1] == -1
    assert list(hdbscan_labels(X[:2], 5)) == [-1, -1]


def test_knn_accuracy_matches_scikit_learn_leave_one_out():
    from sklearn.model_selection import LeaveOneOut, cross_val_score
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 5))
    y = rng.integers(0, 3, 60)
    X[y == 1] += 1.5
    expected = cross_val_score(KNeighborsClassifier(n_neighbors=5), X, y, cv=LeaveOneOut()).mean()
    assert knn_accuracy(X, y, 5) == pytest.approx(expected)
