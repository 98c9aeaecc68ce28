"""The style atlas on the real Instaloader dumps, and a map that grows without moving.

The period counts are checked against ``posts.csv`` (the dump's own
``taken_at``, read independently of the importer); the map's growth against
its own coordinates before and after.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.archive.catalogue import load_folder, open_archive
from core.cache import DiskCache
from core.explore.atlas import (
    atlas_periods,
    cluster_likes,
    cluster_shares,
    period_centres,
    period_labels,
    style_change,
)
from core.explore.features import RawPixels, compute_features
from core.explore.mapping import (
    MapRequest,
    SavedLayout,
    compute_map,
    fit_map,
    forget_layout,
    grow_map,
    load_layout,
    save_layout,
)
from core.explore.photomap import PhotoMap

REPO = Path(__file__).resolve().parents[1]
PAGE = "app_pages/explore.py"


@pytest.fixture(scope="module")
def celebs(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    """The 200-post dump, its map (raw 16-px pixels, k = 4) and its table."""
    cache = DiskCache(tmp_path_factory.mktemp("atlas-cache"))
    archive = open_archive(data_dir / "instaloader-top20-celebs", cache=cache)
    request = MapRequest.for_catalogue(archive.catalogue, feature_set="raw", raw_size=16, k=4)
    result = compute_map(request, cache=cache)
    return archive, result.table(archive.catalogue)


@pytest.fixture(scope="module")
def posts_csv(data_dir: Path) -> pd.DataFrame:
    posts = pd.read_csv(data_dir / "instaloader-top20-celebs" / "posts.csv")
    posts["month"] = pd.to_datetime(posts["taken_at"], unit="s").dt.strftime("%Y-%m")
    return posts


def test_periods_match_the_dumps_own_dates(celebs, posts_csv):
    archive, table = celebs
    catalogue = archive.catalogue
    assert len(catalogue) == len(posts_csv) == 200
    assert len(table) == 198  # two reposts of the same picture are mapped once
    months = atlas_periods(catalogue["timestamp"], "month")
    assert months[0] == posts_csv["month"].min() == "2021-03" and months[-1] == posts_csv["month"].max()
    assert len(months) == 20  # every month from March 2021 to October 2022, empty ones too
    counts = period_labels(catalogue["timestamp"], "month").value_counts()
    assert counts.to_dict() == posts_csv["month"].value_counts().to_dict()
    assert atlas_periods(table["timestamp"], "year") == ["2021", "2022"]


def test_cluster_shares_and_likes_add_up(celebs, posts_csv):
    _, table = celebs
    shares = cluster_shares(table, "quarter")
    assert shares["photos"].sum() == len(table)
    per_period = shares.groupby("period")["share"].sum()
    non_empty = shares.groupby("period")["photos"].sum() > 0
    assert np.allclose(per_period[non_empty], 1.0) and (per_period[~non_empty] == 0).all()
    assert len(shares) == len(atlas_periods(table["timestamp"], "quarter")) * table["cluster"].nunique()

    likes = cluster_likes(table, "month")
    assert likes["photos"].sum() == len(table)
    # One cell by hand, from posts.csv's likes matched by file name.
    likes_by_file = dict(zip(posts_csv["images"].str.split("/").str[-1], posts_csv["likes"]))
    cell = likes.sort_values("photos").iloc[-1]
    month = period_labels(table["timestamp"], "month")
    files = table.loc[(month == cell["period"]).to_numpy() & (table["cluster"] == cell["cluster"]).to_numpy(), "file"]
    by_hand = [likes_by_file[Path(f).name] for f in files]
    assert cell["photos"] == len(by_hand) and cell["median_likes"] == pytest.approx(np.median(by_hand))


def test_period_centres_and_style_change(celebs):
    _, table = celebs
    centres = period_centres(table, "year")
    year = period_labels(table["timestamp"], "year")
    mine = table[(year == "2021").to_numpy()]
    row = centres.set_index("period").loc["2021"]
    assert row["photos"] == len(mine) and row["x"] == pytest.approx(mine["x"].mean())
    change = style_change(table)
    assert change.n_older + change.n_newer == len(table)
    assert change.table["older"].sum() == pytest.approx(1.0) and change.table["newer"].sum() == pytest.approx(1.0)
    assert 0.0 <= change.p_value <= 1.0
    assert (change.table["change"].diff().dropna() <= 1e-12).all()  # the cluster that grew most first


def test_boston_dump_by_quarter(data_dir: Path, tmp_path: Path):
    archive = open_archive(data_dir / "instaloader-boston-2accounts", cache=DiskCache(tmp_path))
    table = archive.catalogue.assign(x=0.0, y=0.0, cluster="C1")
    quarters = atlas_periods(table["timestamp"], "quarter")
    assert quarters[0] == "2023Q1" and quarters[-1] == "2024Q2" and len(quarters) == 6
    assert cluster_shares(table, "quarter")["photos"].sum() == len(table)


# --- the map grows, nothing moves -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def celeb_features(data_dir: Path, tmp_path_factory: pytest.TempPathFactory):
    cache = DiskCache(tmp_path_factory.mktemp("feature-cache"))
    archive = open_archive(data_dir / "instaloader-top20-celebs", cache=cache)
    items = list(zip(archive.catalogue["sha256"], archive.catalogue["path"]))
    result = compute_features(items, RawPixels(size=16), cache=cache)
    return [sha for sha, _ in items], result.features


def test_transform_keeps_existing_coordinates_fixed(celeb_features):
    keys, X = celeb_features
    old = fit_map(X[:150], "raw", perplexity=20)
    before = old.coords_.copy()
    grown = old.extend(X[150:])
    assert np.array_equal(grown.coords_[:150], before) and np.array_equal(old.coords_, before)
    assert grown.coords_.shape == (200, 2) and np.isfinite(grown.coords_).all()
    # Each placed photo lands among the map's photos nearest to it in feature space, not anywhere.
    Z_old, Z_new = old.pca_features_, grown.pca_features_[150:]
    nearest = np.argmin(((Z_new[:, None, :] - Z_old[None, :, :]) ** 2).sum(-1), axis=1)
    to_nearest = np.linalg.norm(grown.coords_[150:] - before[nearest], axis=1)
    spread = np.linalg.norm(before[:, None, :] - before[None, :, :], axis=-1)
    assert np.median(to_nearest) < 0.25 * np.median(spread)

    # grow_map: photos removed and reordered, new ones placed; the survivors keep their coordinates.
    wanted = keys[10:150][::-1] + keys[150:]
    map2, placed = grow_map(old, keys[:150], wanted, np.vstack([X[10:150][::-1], X[150:]]))
    assert placed == 50 and map2.coords_.shape == (190, 2)
    assert np.array_equal(map2.coords_[:140], before[10:150][::-1])
    assert np.array_equal(map2.coords_[140:], grown.coords_[150:])


def test_a_saved_layout_reloads_and_grows_in_place(celeb_features, tmp_path: Path):
    keys, X = celeb_features
    fitted = PhotoMap(perplexity=20, l2_normalise=False, max_fit=120, chunk=16).fit(X[:150])
    cache = DiskCache(tmp_path / "cache")
    save_layout(cache, "layout-1", SavedLayout(tuple(keys[:150]), fitted, 0))
    saved = load_layout(cache, "layout-1")  # what a restarted server reads: no object shared with ``fitted``
    assert saved is not None and saved.keys == tuple(keys[:150]) and saved.photo_map is not fitted
    assert np.array_equal(saved.photo_map.coords_, fitted.coords_)
    assert np.array_equal(saved.photo_map.pca_features_, fitted.pca_features_)
    # New photos land where the map in memory would have put them (same PCA, same fitted points and neighbours).
    assert np.allclose(saved.photo_map.transform(X[150:]), fitted.transform(X[150:]), atol=1e-3)
    grown, placed = grow_map(saved.photo_map, saved.keys, keys, X)
    assert placed == 50 and np.array_equal(grown.coords_[:150], fitted.coords_)
    forget_layout(cache, "layout-1")
    assert load_layout(cache, "layout-1") is None
    cache.put("explore-layout", "broken", b"not a zip", ".npz")
    assert load_layout(cache, "broken") is None  # an unreadable file means a fresh fit, not an error


def test_sampled_fit_places_the_rest(celeb_features):
    _, X = celeb_features
    photo_map = PhotoMap(perplexity=10, l2_normalise=False, max_fit=120, chunk=32).fit(X)
    assert len(photo_map.fitted_rows_) == 120 and photo_map.coords_.shape == (200, 2)
    assert np.isfinite(photo_map.coords_).all() and photo_map.pca_features_.shape[0] == 200
    fitted_only = PhotoMap(perplexity=10, l2_normalise=False, max_fit=None).fit(X[photo_map.fitted_rows_])
    assert np.allclose(photo_map.coords_[photo_map.fitted_rows_], fitted_only.coords_)


# --- the page ----------------------------------------------------------------------------------------------------


@pytest.fixture
def fresh_streamlit_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _explore(archive, **state) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    at.session_state["archive"] = archive
    at.session_state["explore_features"] = "raw"
    at.session_state["explore_raw_size"] = 16
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def test_atlas_on_the_celebrity_dump(celebs, fresh_streamlit_caches):
    archive, table = celebs
    at = _explore(archive)
    assert at.select_slider(key="explore_atlas_period").disabled  # off until the toggle
    at.toggle(key="explore_atlas").set_value(True).run()
    assert not at.exception, at.exception
    slider = at.select_slider(key="explore_atlas_period")
    assert slider.options[0] == "2021-03" and len(slider.options) == 20 and slider.value == "2022-10"
    expected = period_labels(table["timestamp"], "month").value_counts()
    for month in ("2022-10", "2022-03"):
        slider.set_value(month).run()
        assert not at.exception, at.exception
        assert any(c.value.startswith(f"{month}: {expected[month]} post(s) in colour") for c in at.caption)
    charts = {c.proto.id for c in at.get("plotly_chart")}
    assert len(charts) >= 4  # silhouette, atlas map, shares, likes per cluster
    assert any("Older half (99 posts" in m.value for m in at.markdown)
    at.segmented_control(key="explore_atlas_unit").set_value("year").run()
    assert not at.exception, at.exception
    assert at.select_slider(key="explore_atlas_period").options == ["2021", "2022"]


def test_the_page_map_grows_and_refits(data_dir: Path, tmp_path: Path, fresh_streamlit_caches):
    source = sorted((data_dir / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    folder = tmp_path / "growing"
    folder.mkdir()
    for path in source[:100]:
        shutil.copy(path, folder / path.name)
    at = _explore(load_folder(folder))
    assert at.slider(key="explore_perplexity").value == 30
    assert not any("placed onto it" in c.value for c in at.caption)
    chart = next(c for c in at.get("plotly_chart") if c.proto.id and "explore_map" in c.proto.id)
    before = _points(chart)
    assert len(before) == 100
    # A server restart: the layouts in memory are gone; the one in the disk cache is grown, not fitted again.
    st.cache_resource.clear()
    st.cache_data.clear()
    for path in source[100:106]:
        shutil.copy(path, folder / path.name)
    at.session_state["archive"] = load_folder(folder)
    at.run()
    at.slider(key="explore_perplexity").set_value(30).run()  # the slider's range moved with the photo count
    assert not at.exception, at.exception
    assert any("6 photo(s) added since this map was laid out were placed onto it" in c.value for c in at.caption)
    after = _points(next(c for c in at.get("plotly_chart") if "explore_map" in c.proto.id))
    assert len(after) == 106 and all(after[f] == xy for f, xy in before.items())
    at.button(key="explore_refit").click().run()
    assert not at.exception, at.exception
    assert not any("placed onto it" in c.value for c in at.caption)


def _points(chart) -> dict:
    """``{file: (x, y)}`` of the map's points, from the figure the page sent."""
    import json

    figure = json.loads(chart.proto.spec)
    out = {}
    for trace in figure["data"]:
        for x, y, custom in zip(_array(trace.get("x")), _array(trace.get("y")), trace.get("customdata") or []):
            out[custom[1]] = (x, y)
    return out


def _array(values) -> list:
    """A Plotly JSON array: a list, or a typed array (``{"dtype", "bdata"}``, base64) as Plotly 6 writes NumPy."""
    import base64

    if isinstance(values, dict):
        return np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"])).tolist()
    return list(values or [])


def test_the_lean_map_page(celebs, monkeypatch: pytest.MonkeyPatch, fresh_streamlit_caches):
    """Above LEAN_ABOVE points (lowered here to the dump's 200): no per-point data, the selection layer, a photo panel."""
    import json

    import core.explore.figure as figure

    monkeypatch.setattr(figure, "LEAN_ABOVE", 50)
    archive, _ = celebs
    at = _explore(archive)
    chart = next(c for c in at.get("plotly_chart") if "explore_map" in c.proto.id)
    spec = json.loads(chart.proto.spec)
    assert spec["data"][-1]["xaxis"] == figure.SELECT_LAYER[0] and spec["layout"]["xaxis2"]["matches"] == "x"
    assert not any("customdata" in trace for trace in spec["data"])
    assert json.loads(chart.proto.config)["plotGlPixelRatio"] == 1
    assert any("Drag a small box around a point" in c.value for c in at.caption)


def test_the_photo_beside_a_lean_map(celebs):
    """A small selection shows the photo nearest its middle, its text as text (a caption with HTML stays text)."""
    archive, table = celebs

    def page(rows, table, selected):
        from ui.explore_gallery import picked_photo

        picked_photo(rows, table, selected)

    rows = archive.catalogue.loc[archive.catalogue["sha256"].isin(table["sha256"])].set_index("sha256")
    rows = rows.loc[table["sha256"]].reset_index()
    rows.loc[0, "caption"] = "<b>not bold</b>"
    xy = table[["x", "y"]].to_numpy(dtype=float)
    near = [0] + [int(i) for i in np.argsort(((xy - xy[0]) ** 2).sum(axis=1))[1:3]]  # photo 0 and its 2 neighbours
    middle = xy[near].mean(axis=0)
    expected = near[int(np.argmin(((xy[near] - middle) ** 2).sum(axis=1)))]
    at = AppTest.from_function(page, args=(rows, table, near), default_timeout=60).run()
    assert not at.exception, at.exception
    assert len(at.get("image")) == 1 and rows.loc[expected, "file"] in at.text[0].value
    assert "The one nearest the middle of 3 selected" in at.caption[0].value
    at = AppTest.from_function(page, args=(rows, table, [0]), default_timeout=60).run()
    assert "<b>not bold</b>" in at.text[0].value and not at.markdown
