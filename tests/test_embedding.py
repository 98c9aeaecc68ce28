"""The Explore map and clusters: PCA + openTSNE, placing new photos, K-Means, HDBSCAN, the map pipeline."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.archive.catalogue import load_folder
from core.cache import DiskCache, sha256_file
from core.explore.features import CNNFeatures, ColourTexture, compute_features, make_extractor
from core.explore.mapping import MapRequest, cluster_names, cluster_photos, compute_map, fit_map
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
from core.explore.placement import place_photo, place_photos
from core.explore.tables import cluster_engagement, photo_table
from core.image.io import ImageError
from core.jobs import Cancelled, TooFewPhotosError


@pytest.fixture(scope="module")
def coarse6(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The 143 labelled photos imported once: catalogue, its cache, and each photo's category."""
    cache = DiskCache(tmp_path_factory.mktemp("emb-cache"))
    root = data_dir / "photos-imagenet-coarse6"
    archive = load_folder(root / "images", cache=cache)
    labels = pd.read_csv(root / "labels.csv").set_index("path")["category"]
    cat = archive.catalogue.reset_index(drop=True)
    y = np.array([labels["images/" + f] for f in cat["file"]])
    return cat, cache, y


@pytest.fixture(scope="module")
def coarse6_features(coarse6):
    """Colour & texture features of the 143 labelled photos (computed once for the module)."""
    cat, cache, y = coarse6
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


# -- the map pipeline (core.explore.mapping) and placing a new photo (core.explore.placement) --------------


def test_second_map_reads_every_feature_from_the_cache(coarse6, tmp_path: Path):
    cat, _, _ = coarse6
    request = MapRequest.for_catalogue(cat, feature_set="raw", raw_size=16, perplexity=10, k=6)
    cache = DiskCache(tmp_path / "cache")
    first = compute_map(request, cache=cache)
    assert (first.computed, first.reused) == (len(cat), 0)
    second = compute_map(request, cache=cache)
    assert (second.computed, second.reused) == (0, len(cat))
    # Same inputs, same seeds: the same map and the same clusters.
    np.testing.assert_allclose(first.coords, second.coords)
    assert np.array_equal(first.clusters, second.clusters)
    assert first.valid.all() and first.coords.shape == (len(cat), 2)
    assert first.tag == "raw16-v1" and first.method == "kmeans" and first.k == 6
    assert first.silhouette.empty and first.k_suggested is None  # k was given: nothing to suggest
    assert first.probs is None and not first.has_labels


def test_map_with_suggested_k_groups_real_photos(coarse6):
    cat, cache, y = coarse6
    seen = []
    result = compute_map(MapRequest.for_catalogue(cat, feature_set="colour_texture"), cache=cache,
                         progress=lambda done, total, message: seen.append((done, total)))
    assert result.k == max(result.k_suggested, 2) and 2 <= result.k <= 15
    assert list(result.silhouette["k"]) == list(range(2, 16))
    assert len(set(result.clusters)) == result.k
    assert purity(result.clusters, y) > 0.3  # chance: 0.21
    assert knn_accuracy(result.photo_map.pca_features_, y, 5) > 0.4
    # Progress never goes back and ends at the total.
    assert seen[-1] == (1000, 1000) and all(a[0] <= b[0] for a, b in zip(seen, seen[1:]))
    table = result.table(cat)
    assert list(table.columns) == ["post_id", "position", "file", "x", "y", "cluster", "likes", "comments",
                                   "timestamp", "sha256", "features"]
    assert set(table["cluster"]) == {f"C{i + 1}" for i in range(result.k)}
    assert table["features"].iloc[0] == result.tag
    assert cluster_engagement(table)["photos"].sum() == len(cat)


def test_map_with_hdbscan_leaves_outliers_out(coarse6):
    cat, cache, _ = coarse6
    result = compute_map(MapRequest.for_catalogue(cat, feature_set="colour_texture", method="HDBSCAN",
                                                  min_cluster_size=5), cache=cache)
    assert result.method == "hdbscan" and result.k is None
    assert len(set(result.clusters) - {-1}) >= 2
    names = set(cluster_names(result.clusters))
    assert names <= {"outliers"} | {f"C{i + 1}" for i in range(len(cat))}


def test_map_skips_unreadable_photos_and_says_so(coarse6, tmp_path: Path):
    cat, _, _ = coarse6
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8 not really a JPEG")
    items = [(str(sha), str(path)) for sha, path in zip(cat["sha256"][:11], cat["path"][:11])]
    items.insert(3, (sha256_file(broken), str(broken)))
    result = compute_map(MapRequest(items, feature_set="raw", raw_size=8, perplexity=3, k=2),
                         cache=DiskCache(tmp_path / "cache"))
    assert result.valid.tolist() == [True] * 3 + [False] + [True] * 8
    assert result.rows.tolist() == [0, 1, 2] + list(range(4, 12))
    assert result.coords.shape == (11, 2) and len(result.clusters) == 11
    assert result.notes and "could not be read" in result.notes[0]


def test_map_of_too_few_readable_photos_explains(coarse6, tmp_path: Path):
    cat, _, _ = coarse6
    request = MapRequest.for_catalogue(cat.iloc[:3], feature_set="raw", raw_size=8)
    with pytest.raises(TooFewPhotosError, match="this archive has 3"):
        compute_map(request, cache=DiskCache(tmp_path / "cache"))


def test_map_job_can_be_cancelled_and_resumes_from_the_cache(coarse6, tmp_path: Path):
    cat, _, _ = coarse6
    request = MapRequest.for_catalogue(cat, feature_set="raw", raw_size=8, perplexity=5, k=3)
    cache = DiskCache(tmp_path / "cache")
    polls = []

    def cancel() -> bool:  # raw pixels go 64 photos at a time: stop after the first 64
        polls.append(1)
        return len(polls) > 1

    with pytest.raises(Cancelled):
        compute_map(request, cache=cache, cancel=cancel)
    resumed = compute_map(request, cache=cache)
    assert (resumed.computed, resumed.reused) == (len(cat) - 64, 64)


def test_unknown_clustering_method_is_refused():
    with pytest.raises(ValueError, match="clustering method"):
        compute_map(MapRequest([], method="spectral"))


def test_photo_of_the_map_lands_on_itself(coarse6):
    cat, cache, _ = coarse6
    result = compute_map(MapRequest.for_catalogue(cat, feature_set="colour_texture", k=6), cache=cache)
    extractor = make_extractor("colour_texture")
    spread = np.ptp(result.coords, axis=0).max()
    for row in (0, 50, 100):
        # The original file, not the thumbnail the map was made from: decoded at the same size.
        placed = place_photo(Path(cat["path"][row]).read_bytes(), extractor, result.photo_map,
                             clusters=result.clusters)
        assert placed.neighbours[0] == row and len(placed.neighbours) == 6
        assert placed.distances[0] < placed.distances[1] and np.all(np.diff(placed.distances) >= 0)
        assert np.linalg.norm(placed.xy - result.coords[row]) < spread / 10
        votes = result.clusters[placed.neighbours]
        assert np.sum(votes == placed.cluster) == np.bincount(votes).max()
        assert max(placed.image.shape[:2]) <= 256
        assert placed.imagenet_label is None  # colour & texture has no ImageNet classes


def test_new_photos_land_among_their_category(coarse6):
    """Photos left out of the map are placed next to photos of their own category, well above chance."""
    cat, cache, y = coarse6
    held_out = np.arange(len(cat)) % 6 == 0
    items = list(zip(cat["sha256"][~held_out], cat["path"][~held_out]))
    result = compute_map(MapRequest(items, feature_set="colour_texture", k=6), cache=cache)
    extractor = make_extractor("colour_texture")
    known = y[~held_out]
    rows = np.flatnonzero(held_out)
    placements = place_photos([Path(p) for p in cat["path"][rows]], extractor, result.photo_map)
    hits = []
    for row, placed in zip(rows, placements):
        assert placed.cluster is None  # no clusters given
        categories, counts = np.unique(known[placed.neighbours], return_counts=True)
        hits.append(categories[np.argmax(counts)] == y[row])
    assert np.mean(hits) > 0.35  # chance: 0.21
    # Placed one by one or together, a photo lands in the same place.
    alone = place_photo(Path(cat["path"][rows[0]]), extractor, result.photo_map)
    assert np.array_equal(alone.neighbours, placements[0].neighbours)
    spread = np.ptp(result.coords, axis=0).max()
    assert np.linalg.norm(alone.xy - placements[0].xy) < spread / 20


def test_placement_with_a_cnn_gives_its_imagenet_label(coarse6):
    cat, _, _ = coarse6
    cnn = CNNFeatures("mobilenet_v3_small", weights=None, batch_size=8, input_size=64).fit()
    from core.image.io import load_image

    images = [load_image(p, max_side=256) for p in cat["path"][:12]]
    features, _ = cnn.transform_with_probs(images)
    photo_map = PhotoMap(perplexity=3, random_state=0).fit(features)
    placed = place_photo(images[4], cnn, photo_map, n_neighbours=20)
    assert len(placed.neighbours) == 12  # no more than the map has
    assert placed.neighbours[0] == 4
    assert 0 <= placed.imagenet_class < 1000 and 0.0 < placed.imagenet_p <= 1.0
    assert placed.imagenet_label.endswith(f"{placed.imagenet_p:.0%})")


def test_unreadable_upload_is_an_image_error():
    photo_map = PhotoMap(perplexity=2, l2_normalise=False).fit(np.random.default_rng(0).random((6, 48)))
    with pytest.raises(ImageError):
        place_photo(b"<html>not a photo</html>", make_extractor("raw", raw_size=4), photo_map)


def test_photo_table_with_imagenet_labels(coarse6):
    cat, _, _ = coarse6
    rows = cat.iloc[:4]
    probs = np.zeros((4, 1000), np.float32)
    probs[:, 967] = 0.8  # espresso
    probs[3, 967], probs[3, 975] = 0.1, 0.9  # lakeside
    table = photo_table(rows, np.zeros((4, 2)), np.array([0, 0, 1, -1]), probs=probs, tag="t")
    assert table["cluster"].tolist() == ["C1", "C1", "C2", "outliers"]
    assert table["imagenet_group"].tolist() == ["Coffee"] * 3 + ["Water"]
    assert table["imagenet_top1"].tolist() == ["espresso"] * 3 + ["lakeside"]
    assert "typical ImageNet group" in cluster_engagement(table).columns


def test_cluster_photos_on_a_fitted_map(coarse6_features):
    X, _ = coarse6_features
    photo_map = fit_map(X, "colour_texture", perplexity=20)
    assert photo_map.l2_normalise
    assert len(set(cluster_photos(photo_map, "kmeans", k=4))) == 4
    density = cluster_photos(photo_map, "HDBSCAN", min_cluster_size=5)
    assert len(density) == len(X) and len(set(density) - {-1}) >= 2
