"""Instagram export variants: localised insights, reels insights, archived media, exif GPS, the HTML export.

Built around the real ``posts_1.json`` of ../shared/data/instagram-export-sample (schema as Instagram
writes it); the insights values, the archived file and the GPS numbers are ours, in Instagram's shapes.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from core.archive.catalogue import load_folder
from core.archive.importers.igexport import HTML_EXPORT_ADVICE, INSIGHT_LABELS, read_insights

SINGLE = 1715566876  # the real sample's single-photo post ("Great sem")
TAXI = 1710165471


def _export(data_dir: Path, target: Path) -> list[dict]:
    posts = json.loads((data_dir / "instagram-export-sample" / "posts_1.json").read_text())
    media = target / "your_instagram_activity" / "media"
    media.mkdir(parents=True)
    shutil.copy(data_dir / "instagram-export-sample" / "posts_1.json", media / "posts_1.json")
    for n, item in enumerate(i for p in posts for i in p["media"] if i["uri"].endswith(".jpg")):
        (target / item["uri"]).parent.mkdir(parents=True, exist_ok=True)
        Image.new("RGB", (40, 30), (n * 10 % 255, 80, 120)).save(target / item["uri"])
    return posts


def _insights(target: Path, name: str, key: str, entries: list[dict]) -> None:
    folder = target / "logged_information" / "past_instagram_insights"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(json.dumps({key: entries}, ensure_ascii=False))


def _entry(stamp: int, fields: dict[str, str], time_label: str = "Creation Timestamp") -> dict:
    return {"media_map_data": {}, "string_map_data": {time_label: {"timestamp": stamp},
                                                       **{k: {"value": v} for k, v in fields.items()}}}


@pytest.mark.parametrize("lang", ["en", "es", "pt", "fr", "de", "it", "ru", "tr", "id"])
def test_localised_insights_labels(lang: str, data_dir: Path, tmp_path: Path):
    _export(data_dir, tmp_path)
    likes_label, comments_label = INSIGHT_LABELS["likes"][lang][0], INSIGHT_LABELS["comments"][lang][0]
    _insights(tmp_path, "posts.json", "organic_insights_posts",
              [_entry(SINGLE, {"Impr": "900", likes_label: "1204", comments_label: "17"}, "Zeit")])
    archive = load_folder(tmp_path)
    single = archive.catalogue[archive.catalogue["timestamp"] == pd.Timestamp(SINGLE, unit="s", tz="UTC")]
    assert single["likes"].tolist() == [1204] and single["comments"].tolist() == [17]
    assert not archive.problems["problem"].str.contains("language Feedlens does not know").any()


def test_label_variants_with_curly_quotes():
    data = {"organic_insights_posts": [
        {"string_map_data": {"Date": {"timestamp": 1}, "J\u2019aime": {"value": "5"}}},
        {"string_map_data": {"Datum": {"timestamp": 2}, "\u201eGef\u00e4llt mir\u201c-Angaben": {"value": "6"}}},
        {"string_map_data": {"Дата": {"timestamp": 3}, "Отметки «Нравится»": {"value": "7"}}}]}
    by_time = read_insights(data)[0]
    assert [by_time[t]["likes"] for t in (1, 2, 3)] == ["5", "6", "7"]
    assert [by_time[t]["language"] for t in (1, 2, 3)] == ["fr", "de", "ru"]


def test_unknown_language_falls_back_by_position_and_says_so(data_dir: Path, tmp_path: Path):
    _export(data_dir, tmp_path)
    # Polish labels, in Instagram's English field order: likes 7th, comments 8th.
    polish = ["Liczba wyświetleń profilu", "Wyświetlenia", "Obserwowania", "Konta", "Zapisania",
              "Polubienia", "Komentarze", "Udostępnienia"]
    values = ["3", "400", "0", "350", "2", "88", "4", "1"]
    _insights(tmp_path, "posts.json", "organic_insights_posts",
              [_entry(TAXI, dict(zip(polish, values)), "Godzina utworzenia")])
    archive = load_folder(tmp_path)
    taxi = archive.catalogue[archive.catalogue["timestamp"] == pd.Timestamp(TAXI, unit="s", tz="UTC")]
    assert (taxi["likes"] == 88).all() and (taxi["comments"] == 4).all()
    notes = archive.problems[archive.problems["problem"].str.contains("language Feedlens does not know")]
    assert len(notes) == 1 and "field order" in notes["problem"].iloc[0]


def test_unknown_language_in_another_order_stays_unknown(data_dir: Path, tmp_path: Path):
    _export(data_dir, tmp_path)
    _insights(tmp_path, "posts.json", "organic_insights_posts",
              [_entry(TAXI, {"Polubienia": "88", "Komentarze": "4"}, "Godzina utworzenia")])
    archive = load_folder(tmp_path)
    assert archive.catalogue["likes"].isna().all()
    assert archive.problems["problem"].str.contains("likes and comments left unknown").any()


def test_reels_insights_and_archived_posts(data_dir: Path, tmp_path: Path):
    _export(data_dir, tmp_path)
    media = tmp_path / "your_instagram_activity" / "media"
    archived_uri = "media/archived_posts/202201/old.jpg"
    (tmp_path / archived_uri).parent.mkdir(parents=True)
    Image.new("RGB", (40, 30), "purple").save(tmp_path / archived_uri)
    (media / "archived_posts.json").write_text(json.dumps({"ig_archived_post_media": [
        {"media": [{"uri": archived_uri, "creation_timestamp": 1641000000, "title": "an old one #throwback",
                    "media_metadata": {"photo_metadata": {"exif_data": [{"iso": 100}]}}}]}]}))
    reel_uri = "media/reels/202402/reel"  # a video: no extension, as the export writes it
    (media / "reels.json").write_text(json.dumps({"ig_reels_media": [
        {"media": [{"uri": reel_uri, "creation_timestamp": 1707000000, "title": "reel",
                    "media_metadata": {"video_metadata": {}}}]}]}))
    _insights(tmp_path, "reels.json", "organic_insights_reels",
              [_entry(1641000000, {"Likes": "41", "Comments": "2", "Plays": "900"})])
    archive = load_folder(tmp_path)
    cat = archive.catalogue
    old = cat[cat["file"] == archived_uri]
    assert old["archived"].tolist() == [True] and old["likes"].tolist() == [41]
    assert old["caption"].tolist() == ["an old one #throwback"]
    assert not cat.loc[cat["file"] != archived_uri, "archived"].any()
    assert archive.videos_skipped == 3 and archive.n_posts == 5


def test_exif_gps_and_camera_time(data_dir: Path, tmp_path: Path):
    posts = _export(data_dir, tmp_path)
    first = posts[0]["media"][0]
    first["media_metadata"]["photo_metadata"]["exif_data"].append({"latitude": 4.6097, "longitude": -74.0817})
    (tmp_path / "your_instagram_activity" / "media" / "posts_1.json").write_text(json.dumps(posts))
    cat = load_folder(tmp_path).catalogue
    row = cat[cat["file"] == first["uri"]].iloc[0]
    assert (row["latitude"], row["longitude"]) == (4.6097, -74.0817)
    assert row["camera_time"] == "2024-05-02 22:47:28"  # date_time_original, the camera's clock
    assert cat.loc[cat["file"] != first["uri"], "latitude"].isna().all()


def test_html_export_recognised_with_advice(tmp_path: Path):
    folder = tmp_path / "your_instagram_activity" / "media"
    folder.mkdir(parents=True)
    (folder / "posts_1.html").write_text("<html><body><div>Great sem</div></body></html>")
    photo = tmp_path / "media" / "posts" / "202405" / "a.jpg"
    photo.parent.mkdir(parents=True)
    Image.new("RGB", (40, 30), "red").save(photo)
    archive = load_folder(tmp_path)
    problems = archive.problems
    html = problems[problems["file"] == "your_instagram_activity/media/posts_1.html"]
    assert html["problem"].tolist() == [HTML_EXPORT_ADVICE] and "Format: JSON" in HTML_EXPORT_ADVICE
    assert archive.n_images == 1  # the photos still import, as plain photos
