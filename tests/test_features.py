"""Features for the Explore map: raw pixels, colour & texture, Keras CNNs, caching."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from core.archive.catalogue import load_folder
from core.cache import DiskCache
from core.explore import imagenet_groups as ig
from core.explore.features import (
    CNNFeatures,
    ColourTexture,
    RawPixels,
    compute_features,
    make_extractor,
)
from core.explore.photomap import kmeans_labels, knn_accuracy, purity
from core.image.io import load_image
from core.jobs import Cancelled, WeightsUnavailableError

COARSE6 = "photos-imagenet-coarse6"


@pytest.fixture(scope="module")
def coarse6(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The 143 labelled ImageNet photos, imported once into a module cache."""
    cache = DiskCache(tmp_path_factory.mktemp("coarse6-cache"))
    archive = load_folder(data_dir / COARSE6 / "images", cache=cache)
    labels = pd.read_csv(data_dir / COARSE6 / "labels.csv")
    cat = archive.catalogue.assign(rel="images/" + archive.catalogue["file"])
    cat = cat.merge(labels[["path", "category", "imagenet_index"]].rename(columns={"path": "rel_path"}),
                    left_on="rel", right_on="rel_path")
    return cat, cache


def _items(cat: pd.DataFrame) -> list[tuple[str, str]]:
    return list(zip(cat["sha256"], cat["path"]))


def test_raw_pixels_are_150x150x3_in_unit_range(coarse6):
    cat, cache = coarse6
    result = compute_features(_items(cat.iloc[:5]), RawPixels(), cache=cache)
    assert result.features.shape == (5, 150 * 150 * 3)
    assert result.features.dtype == np.float32
    assert 0.0 <= result.features.min() and result.features.max() <= 1.0
    assert result.valid.all() and result.probs is None
    assert RawPixels(size=32).fit().transform([load_image(cat["path"].iloc[0])]).shape == (1, 32 * 32 * 3)


def test_colour_texture_separates_categories_better_than_raw_pixels(coarse6):
    cat, cache = coarse6
    y = cat["category"].to_numpy()
    raw = compute_features(_items(cat), RawPixels(size=48), cache=cache).features
    ct = compute_features(_items(cat), ColourTexture(), cache=cache).features
    assert ct.shape[0] == len(cat) and np.isfinite(ct).all()
    assert knn_accuracy(ct, y) > knn_accuracy(raw, y)
    assert knn_accuracy(ct, y) > 0.35  # chance is 0.21
    assert purity(kmeans_labels(ct, 6), y) > 0.3


def test_colour_texture_handles_grey_tiny_and_identical_photos():
    extractor = ColourTexture(colour_space="lab").fit()
    grey = np.repeat(np.linspace(0, 255, 64 * 64, dtype=np.uint8).reshape(64, 64)[:, :, None], 3, axis=2)
    flat = np.full((3, 5, 3), 200, np.uint8)  # tiny, uniform
    X = extractor.transform([grey, grey.copy(), flat])
    assert np.isfinite(X).all()
    assert np.array_equal(X[0], X[1])
    with pytest.raises(ValueError):
        ColourTexture(colour_space="rgb").fit()


def test_mobilenet_random_weights_gives_pooled_features_and_imagenet_probs(coarse6):
    cat, cache = coarse6
    extractor = CNNFeatures("mobilenet_v3_small", weights=None, batch_size=4, input_size=96)
    result = compute_features(_items(cat.iloc[:6]), extractor, cache=cache)
    assert result.features.shape == (6, 576)
    assert result.probs.shape == (6, 1000)
    assert np.allclose(result.probs.sum(axis=1), 1.0, atol=1e-3)
    assert not result.has_labels  # random weights: the labels mean nothing
    assert "random0" in result.tag
    # Same seed, same network: the features are reproducible.
    again = CNNFeatures("mobilenet_v3_small", weights=None, input_size=96).fit()
    images = [load_image(p, max_side=256) for p in cat["path"].iloc[:2]]
    assert np.allclose(again.transform(images), extractor.transform(images), rtol=1e-4, atol=1e-12)


def test_vgg19_fc1_is_4096_dimensional():
    extractor = CNNFeatures("vgg19_fc1", weights=None, input_size=32).fit()
    image = np.random.default_rng(0).integers(0, 255, (40, 50, 3), dtype=np.uint8)
    features, probs = extractor.transform_with_probs([image])
    assert features.shape == (1, 4096) and probs.shape == (1, 1000)
    assert make_extractor("vgg19_fc1").weights == "imagenet"


def test_missing_weights_raise_a_clear_error(monkeypatch: pytest.MonkeyPatch):
    import keras

    def offline(*args, **kwargs):
        raise Exception("URL fetch failure on https://example.invalid/w.h5: None -- [Errno -2] Name or service not known")

    monkeypatch.setattr(keras.applications, "MobileNetV3Small", offline)
    with pytest.raises(WeightsUnavailableError, match="could not be had: the download failed") as info:
        CNNFeatures("mobilenet_v3_small").fit()
    assert "colour & texture" in str(info.value)
    with pytest.raises(ValueError):
        CNNFeatures("mobilenet_v3_small", input_size=96).fit()  # ImageNet weights need 224 px


def test_features_are_cached_per_image_and_feature_set(coarse6, tmp_path: Path):
    cat, _ = coarse6
    cache = DiskCache(tmp_path / "cache")
    items = _items(cat.iloc[:4])
    items = items + [items[0]]  # the same photo twice is computed once
    first = compute_features(items, ColourTexture(), cache=cache)
    assert (first.computed, first.reused) == (4, 0)
    assert np.array_equal(first.features[0], first.features[4])
    second = compute_features(items, ColourTexture(), cache=cache)
    assert (second.computed, second.reused) == (0, 4)
    assert np.array_equal(first.features, second.features)
    # Another feature set has its own entries.
    other = compute_features(items, ColourTexture(colour_space="lab"), cache=cache)
    assert other.computed == 4


def test_unreadable_photo_is_marked_invalid(tmp_path: Path, data_dir: Path):
    folder = tmp_path / "photos"
    shutil.copytree(data_dir / COARSE6 / "images" / "cat", folder)
    cache = DiskCache(tmp_path / "cache")
    archive = load_folder(folder, cache=cache)
    victim = archive.catalogue.iloc[0]
    Path(victim["path"]).write_bytes(b"gone")
    shutil.rmtree(tmp_path / "cache" / "thumb256")  # force a re-read of the (now broken) file
    result = compute_features(list(zip(archive.catalogue["sha256"], archive.catalogue["path"])), RawPixels(16),
                              cache=cache)
    assert not result.valid[0] and result.valid[1:].all()
    assert result.notes and "could not be read" in result.notes[0]


def test_cancelled_job_leaves_only_whole_entries(coarse6, tmp_path: Path):
    cat, _ = coarse6
    cache = DiskCache(tmp_path / "cache")
    items = _items(cat.iloc[:10])
    polls = []

    def cancel() -> bool:
        polls.append(1)
        return len(polls) > 2  # stop before the third chunk

    with pytest.raises(Cancelled):
        compute_features(items, RawPixels(24), cache=cache, cancel=cancel, chunk=3)
    entries = sorted((tmp_path / "cache" / "features").rglob("*"))
    files = [p for p in entries if p.is_file()]
    assert len(files) == 6 and all(p.suffix == ".npy" and not p.name.startswith(".tmp") for p in files)
    assert all(cache.get_array("features/raw24-v1", p.stem) is not None for p in files)
    resumed = compute_features(items, RawPixels(24), cache=cache)
    assert (resumed.computed, resumed.reused) == (4, 6)


def test_progress_reaches_the_total(coarse6, tmp_path: Path):
    cat, _ = coarse6
    seen = []
    compute_features(_items(cat.iloc[:7]), RawPixels(16), cache=DiskCache(tmp_path),
                     progress=lambda done, total, msg: seen.append((done, total)), chunk=3)
    assert seen[0] == (0, 7) and seen[-1] == (7, 7)


def test_imagenet_groups_cover_every_class_once_and_match_the_shared_labels(data_dir: Path):
    assert sum(len(g.indices) for g in ig.groups()) == 1000
    assert len({i for g in ig.groups() for i in g.indices}) == 1000
    assert 9 <= len(ig.groups()) <= 12
    labels = pd.read_csv(data_dir / COARSE6 / "labels.csv")
    # The shipped class list agrees with the shared data set's wnids and names.
    assert all(ig.class_wnids()[i] == w for i, w in zip(labels["imagenet_index"], labels["imagenet_wnid"]))
    assert all(ig.class_names()[i] == n for i, n in zip(labels["imagenet_index"], labels["imagenet_label"]))
    expected = {"dog": {"Animals"}, "cat": {"Animals"}, "bird": {"Animals"}, "vehicle": {"Vehicles"},
                "landscape": {"Nature", "Water"}, "food_drink": {"Food", "Drinks", "Coffee"}}
    for category, index in zip(labels["category"], labels["imagenet_index"]):
        assert ig.group_of(index) in expected[category], (category, ig.class_name(index))


def test_grayscale_photo_gets_three_channels(tmp_path: Path):
    path = tmp_path / "grey.png"
    Image.fromarray(np.tile(np.arange(64, dtype=np.uint8), (48, 1)), "L").save(path)
    image = load_image(path)
    assert RawPixels(8).fit().transform([image]).shape == (1, 8 * 8 * 3)


def test_explore_core_modules_stay_light():
    import subprocess
    import sys

    code = (
        "import sys, core.explore.features, core.explore.photomap, core.explore.imagenet_groups\n"
        "import core.explore.mapping, core.explore.placement, core.explore.tables, core.explore.figure\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'openTSNE', 'sklearn', 'plotly', 'skimage') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    repo = Path(__file__).resolve().parents[1]
    out = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported by the Explore core: {out.stdout}"
