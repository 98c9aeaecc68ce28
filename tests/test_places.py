"""Places: GPS kept in the catalogue, clusters by distance, engagement per place, the Archive page's tab."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.archive.catalogue import load_folder
from core.archive.places import place_clusters, post_places, without_location

BOSTON, CAMBRIDGE, PARIS = (42.3601, -71.0589), (42.3736, -71.1097), (48.8566, 2.3522)


def _cat(points: list[tuple[float, float] | None], likes: list[int | None]) -> pd.DataFrame:
    return pd.DataFrame({
        "post_id": [f"p{i}" for i in range(len(points))],
        "latitude": [p[0] if p else np.nan for p in points],
        "longitude": [p[1] if p else np.nan for p in points],
        "likes": pd.array(likes, dtype="Int64"),
        "comments": pd.array([1] * len(points), dtype="Int64"),
        "caption": [""] * len(points),
        "timestamp": pd.date_range("2025-01-01", periods=len(points), freq="D", tz="UTC"),
    })


def test_clusters_by_great_circle_distance():
    cat = _cat([BOSTON, CAMBRIDGE, PARIS, None, BOSTON], [100, 50, 10, 999, None])
    posts = post_places(cat, radius_km=10)  # Boston-Cambridge is 4.4 km
    assert posts.set_index("post_id")["place"].to_dict() == {"p0": 0, "p1": 0, "p2": 1, "p4": 0}
    table = place_clusters(cat, radius_km=10).set_index("place")
    assert table.loc[0, "posts"] == 3 and table.loc[0, "posts_with_likes"] == 2
    assert table.loc[0, "mean_likes"] == 75.0  # the unknown like count is left out, not taken as 0
    assert table.loc[1, "mean_likes"] == 10.0
    assert abs(table.loc[1, "latitude"] - PARIS[0]) < 1e-6
    assert 0 < table.loc[0, "radius_km"] < 5
    # A radius smaller than Boston-Cambridge splits them.
    assert post_places(cat, radius_km=1)["place"].nunique() == 3


def test_clusters_across_the_antimeridian_and_chains():
    # Fiji on both sides of 180°, 22 km apart: one place. A chain of 8 km steps: one place at 10 km.
    cat = _cat([(-17.8, 179.9), (-17.8, -179.9), (0, 10.0), (0, 10.072), (0, 10.144)], [1, 2, 3, 4, 5])
    places = post_places(cat, radius_km=25).set_index("post_id")["place"]
    assert places["p0"] == places["p1"] and places["p2"] == places["p3"] == places["p4"]
    at_10 = post_places(cat, radius_km=10).set_index("post_id")["place"]
    assert at_10["p0"] != at_10["p1"]  # 21 km apart
    assert at_10["p2"] == at_10["p4"]  # 16 km apart, but chained through p3
    with pytest.raises(ValueError):
        post_places(cat, radius_km=0)


def test_no_positions_gives_empty_tables():
    cat = _cat([None, None], [1, 2])
    assert post_places(cat).empty and place_clusters(cat).empty
    assert list(without_location(cat).columns) == ["post_id", "likes", "comments", "caption", "timestamp"]


def _gps_export(root: Path) -> Path:
    """An Instagram export (JSON) whose photos carry exif_data GPS: 3 in Boston, 1 in Paris, 1 without."""
    media = root / "your_instagram_activity" / "media"
    media.mkdir(parents=True)
    posts, insights = [], []
    spots = [BOSTON, CAMBRIDGE, BOSTON, PARIS, None]
    for i, spot in enumerate(spots):
        uri = f"media/posts/202501/p{i}.jpg"
        (root / uri).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (48, 36), (40 * i, 100, 160)).save(root / uri)
        exif = [{"iso": 100, "date_time_original": f"2025:01:0{i + 1} 12:00:00"}]
        if spot:
            exif.append({"latitude": spot[0], "longitude": spot[1]})
        stamp = 1735732800 + 86400 * i
        posts.append({"media": [{"uri": uri, "creation_timestamp": stamp, "title": f"post {i} <b>#trip</b>",
                                 "media_metadata": {"photo_metadata": {"exif_data": exif}}}]})
        insights.append({"media_map_data": {"Media Thumbnail": {"uri": uri, "creation_timestamp": stamp}},
                         "string_map_data": {"Likes": {"value": str(10 * (i + 1))}, "Comments": {"value": "1"}}})
    (media / "posts_1.json").write_text(json.dumps(posts))
    folder = root / "logged_information" / "past_instagram_insights"
    folder.mkdir(parents=True)
    (folder / "posts.json").write_text(json.dumps({"organic_insights_posts": insights}))
    return root


def test_catalogue_keeps_gps_and_places_come_out(tmp_path: Path):
    cat = load_folder(_gps_export(tmp_path)).catalogue
    assert cat["latitude"].notna().sum() == 4 and cat["longitude"].dtype == "float64"
    table = place_clusters(cat, radius_km=25)
    assert table["posts"].tolist() == [3, 1]
    assert table["mean_likes"].tolist() == [(10 + 20 + 30) / 3, 40.0]


def _app_with(archive) -> AppTest:
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120)
    at.session_state["archive"] = archive
    return at


def test_places_tab_on_the_archive_page(tmp_path: Path):
    archive = load_folder(_gps_export(tmp_path))
    at = _app_with(archive).run()
    assert not at.exception, at.exception
    assert "Places" in [t.label for t in at.tabs]
    assert any(t.value == "4 of 5 posts have a position, in 2 places." for t in at.text)
    toggle = next(t for t in at.toggle if t.label == "Keep location private")
    assert toggle.value is True
    # Private (the default): the places table and the catalogue download carry no coordinates.
    places_table = next(d for d in at.dataframe if "posts_with_likes" in d.value.columns)
    assert "latitude" not in places_table.value.columns
    catalogue_table = next(d for d in at.dataframe if "file" in d.value.columns)
    assert "latitude" not in catalogue_table.value.columns
    assert "place_km" not in at.query_params
    toggle.set_value(False).run()
    assert not at.exception, at.exception
    places_table = next(d for d in at.dataframe if "posts_with_likes" in d.value.columns)
    assert "latitude" in places_table.value.columns
    assert "latitude" in next(d for d in at.dataframe if "file" in d.value.columns).value.columns
    assert at.query_params.get("place_km") == "25"


def test_archived_switch_leaves_archived_posts_out(tmp_path: Path):
    root = _gps_export(tmp_path)
    media = root / "your_instagram_activity" / "media"
    uri = "media/archived_posts/202001/a.jpg"
    (root / uri).parent.mkdir(parents=True)
    Image.new("RGB", (48, 36), "purple").save(root / uri)
    (media / "archived_posts.json").write_text(json.dumps({"ig_archived_post_media": [
        {"media": [{"uri": uri, "creation_timestamp": 1577880000, "title": "archived one"}]}]}))
    at = _app_with(load_folder(root)).run()
    assert not at.exception, at.exception
    switch = next(t for t in at.toggle if t.label == "Include archived posts (1)")
    files = next(d for d in at.dataframe if "file" in d.value.columns).value["file"].tolist()
    assert uri in files and switch.value is True
    switch.set_value(False).run()
    files = next(d for d in at.dataframe if "file" in d.value.columns).value["file"].tolist()
    assert uri not in files and len(files) == 5
    assert at.query_params.get("archived") == "off"


def test_plain_photos_keep_their_exif_gps(tmp_path: Path):
    from PIL.TiffImagePlugin import IFDRational as R

    exif = Image.Exif()
    exif.get_ifd(0x8825).update({1: "S", 2: (R(33), R(51), R(3180, 100)), 3: "E", 4: (R(151), R(12), R(4680, 100))})
    Image.new("RGB", (48, 36), "teal").save(tmp_path / "sydney.jpg", exif=exif)
    Image.new("RGB", (48, 36), "olive").save(tmp_path / "nowhere.jpg")
    cat = load_folder(tmp_path).catalogue.set_index("file")
    assert round(cat.loc["sydney.jpg", "latitude"], 4) == -33.8588  # 33° 51′ 31.8″ S
    assert round(cat.loc["sydney.jpg", "longitude"], 4) == 151.2130
    assert pd.isna(cat.loc["nowhere.jpg", "latitude"])
