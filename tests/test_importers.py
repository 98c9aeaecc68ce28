"""Every importer on the real samples in ../shared/data."""

from __future__ import annotations

import csv
import json
import lzma
import shutil
import zipfile
from pathlib import Path

import pandas as pd

from core.archive.catalogue import load_folder, load_zip
from core.archive.importers.igexport import import_igexport


def _ts(seconds: int) -> pd.Timestamp:
    return pd.Timestamp(seconds, unit="s", tz="UTC")


# --- Instaloader -------------------------------------------------------------------------


def test_instaloader_boston_matches_index(data_dir: Path):
    folder = data_dir / "instaloader-boston-2accounts"
    archive = load_folder(folder)
    cat = archive.catalogue
    index = pd.read_csv(folder / "index.csv")
    assert archive.formats == ("instaloader",)
    assert archive.n_posts == len(index) == 10
    assert archive.n_images == index["n_jpg"].sum() == 25
    for row in index.itertuples():
        post = cat[cat["post_id"] == row.shortcode]
        assert len(post) == row.n_jpg, row.shortcode
        expected_likes = pd.NA if row.likes == -1 else row.likes
        assert (post["likes"].isna().all() if expected_likes is pd.NA else (post["likes"] == row.likes).all())
        assert (post["comments"] == row.comments).all()
        assert (post["timestamp"] == _ts(row.taken_at_timestamp)).all()
        assert (post["account"] == row.profile).all()
        assert sorted(post["position"]) == list(range(1, row.n_jpg + 1))
        caption = (folder / row.profile / f"{row.stem}.txt").read_text(encoding="utf-8")
        assert post["caption"].iloc[0] == caption.rstrip("\n")  # Instaloader's .txt adds a newline
        assert len(post["caption"].iloc[0]) == row.caption_chars


def test_instaloader_hidden_likes_are_unknown_not_minus_one(data_dir: Path):
    cat = load_folder(data_dir / "instaloader-boston-2accounts").catalogue
    hidden = cat[cat["post_id"] == "C72FQ5hOUu7"]
    assert hidden["likes"].isna().all()
    assert (cat["likes"].dropna() >= 0).all()


def test_instaloader_videos_keep_thumbnails_and_are_counted(data_dir: Path):
    archive = load_folder(data_dir / "instaloader-boston-2accounts")
    cat = archive.catalogue
    # 2 GraphVideo posts + 7 video members of carousels (checked in the json.xz files).
    assert archive.videos_skipped == 9
    assert (cat["media_type"] == "video thumbnail").sum() == 9
    assert set(cat.loc[cat["post_id"] == "C7zJwxggCcP", "media_type"]) == {"video thumbnail"}
    sidecar = cat[cat["post_id"] == "C71rgy7Azy7"].sort_values("position")
    assert list(sidecar["media_type"]) == ["video thumbnail"] + ["image"] * 5
    assert sidecar["accessibility_caption"].iloc[1].startswith("Photo by Royale on June 05, 2024")
    info = archive.problems[archive.problems["level"] == "info"]
    assert len(info) == 9 and set(info["problem"]) == {"video posts are not analysed"}


def test_instaloader_hashtags_from_captions(data_dir: Path):
    cat = load_folder(data_dir / "instaloader-boston-2accounts").catalogue
    post = cat[cat["post_id"] == "C3tnuEfsQSn"].iloc[0]
    assert "boston" in post["hashtags"] and all(t == t.lower() for t in post["hashtags"])


def test_instaloader_top20_likes_match_posts_csv(data_dir: Path):
    folder = data_dir / "instaloader-top20-celebs"
    archive = load_folder(folder / "DATA" / "IMAGES")
    posts = pd.read_csv(folder / "posts.csv")
    assert archive.n_images == len(posts) == 200
    joined = posts.merge(archive.catalogue, left_on="shortcode", right_on="post_id", suffixes=("_csv", ""))
    assert len(joined) == 200
    assert (joined["likes"].astype("int64") == joined["likes_csv"]).all()
    assert (joined["comments"].astype("int64") == joined["comments_csv"]).all()
    assert (joined["timestamp"] == pd.to_datetime(joined["taken_at"], unit="s", utc=True)).all()
    assert (joined["account_csv"] == joined["account"]).all()


# --- Instagram "Download your information" ---------------------------------------------


def _build_export(data_dir: Path, target: Path, *, insights: dict | None) -> list[dict]:
    """The real posts_1.json in its 2024 place, with real photos at its media paths."""
    posts = json.loads((data_dir / "instagram-export-sample" / "posts_1.json").read_text())
    activity = target / "your_instagram_activity" / "media"
    activity.mkdir(parents=True)
    shutil.copy(data_dir / "instagram-export-sample" / "posts_1.json", activity / "posts_1.json")
    photos = sorted((data_dir / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    n = 0
    for post in posts:
        for item in post["media"]:
            uri = Path(item["uri"])
            if uri.suffix == ".jpg":
                (target / uri).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(photos[n], target / uri)
                n += 1
    if insights is not None:
        folder = target / "logged_information" / "past_instagram_insights"
        folder.mkdir(parents=True)
        (folder / "posts.json").write_text(json.dumps(insights))
    return posts


def test_instagram_export_captions_times_and_carousels(data_dir: Path, tmp_path: Path):
    _build_export(data_dir, tmp_path, insights=None)
    archive = load_folder(tmp_path)
    cat = archive.catalogue
    assert archive.formats == ("instagram export",)
    assert archive.n_posts == 4 and archive.n_images == 18 and archive.videos_skipped == 2
    by_time = cat.groupby("timestamp")
    captions = {ts.value // 10**9: group["caption"].iloc[0] for ts, group in by_time}
    # Single-media post: caption and time from media[0]; carousels: from the post.
    assert captions[1715566876] == "Great sem"
    assert captions[1710165471] == "Un Taxi 🇨🇴"  # mojibake repaired
    assert captions[1704232088] == "Happy llama, sad llama, totally rad llama 🇵🇪"
    assert captions[1703630777] == "Great friends, a bit o booze, and some damn good cheese."
    sizes = cat.groupby("post_id").size().sort_values().tolist()
    assert sizes == [1, 5, 5, 7]
    assert cat["likes"].isna().all() and cat["comments"].isna().all()
    assert not archive.likes_known
    assert archive.problems["problem"].str.contains("no like or comment counts").any()


def test_instagram_export_joins_insights(data_dir: Path, tmp_path: Path):
    # Schema of past_instagram_insights/posts.json as Instagram writes it; the numbers are ours.
    insights = {"organic_insights_posts": [
        {"media_map_data": {"Media Thumbnail": {"uri": "media/posts/202405/x.jpg", "creation_timestamp": 1715566876,
                                                "title": "Great sem"}},
         "string_map_data": {"Likes": {"value": "1,204"}, "Comments": {"value": "17"},
                             "Impressions": {"value": "5000"}}},
        {"media_map_data": {"Media Thumbnail": {"uri": "media/posts/202403/y.jpg", "creation_timestamp": 1710165471}},
         "string_map_data": {"Likes": {"value": "88"}, "Comments": {"value": "--"}}},
    ]}
    _build_export(data_dir, tmp_path, insights=insights)
    cat = load_folder(tmp_path).catalogue
    single = cat[cat["timestamp"] == _ts(1715566876)]
    assert single["likes"].tolist() == [1204] and single["comments"].tolist() == [17]
    taxi = cat[cat["timestamp"] == _ts(1710165471)]
    assert (taxi["likes"] == 88).all() and taxi["comments"].isna().all()
    rest = cat[~cat["timestamp"].isin([_ts(1715566876), _ts(1710165471)])]
    assert rest["likes"].isna().all()


def test_instagram_export_without_media_says_why(data_dir: Path, tmp_path: Path):
    folder = tmp_path / "your_instagram_activity" / "content"
    folder.mkdir(parents=True)
    shutil.copy(data_dir / "instagram-export-sample" / "posts_1.json", folder / "posts_1.json")
    result = import_igexport([folder / "posts_1.json"], tmp_path)
    assert result.posts_described == 4 and result.records == [] and result.videos_skipped == 2
    messages = result.problems.to_frame()["problem"].tolist()
    assert "18 photos listed in the export are not in the archive" in messages


# --- CSV manifest, likes in file names, plain images ------------------------------------


def test_csv_manifest_reads_documented_columns_and_keeps_extras(data_dir: Path, tmp_path: Path):
    photos = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "cat").glob("*.JPEG"))[:3]
    (tmp_path / "pics").mkdir()
    for p in photos:
        shutil.copy(p, tmp_path / "pics" / p.name)
    with open(tmp_path / "manifest.csv", "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["File", "Likes", "comments", "caption", "timestamp", "location"])
        w.writerow([f"pics/{photos[0].name}", "1.2k", "3", "Cat nap #cats #Sleep", "2024-05-01T10:00:00+02:00", "Oslo"])
        w.writerow([f"pics/{photos[1].name}", "1,234", "", "<b>not bold</b>", "1717174635", "Rome"])
        w.writerow([f"pics/{photos[2].name}", "", "0", "", "", ""])
    archive = load_folder(tmp_path)
    cat = archive.catalogue.set_index("file")
    first = cat.loc[f"pics/{photos[0].name}"]
    assert first["likes"] == 1200 and first["comments"] == 3
    assert first["timestamp"] == pd.Timestamp("2024-05-01 08:00", tz="UTC")
    assert first["hashtags"] == ["cats", "sleep"] and first["location"] == "Oslo"
    second = cat.loc[f"pics/{photos[1].name}"]
    assert second["likes"] == 1234 and pd.isna(second["comments"]) and second["caption"] == "<b>not bold</b>"
    assert second["timestamp"] == _ts(1717174635)
    third = cat.loc[f"pics/{photos[2].name}"]
    assert pd.isna(third["likes"]) and third["comments"] == 0 and pd.isna(third["timestamp"])
    assert set(cat["source_format"]) == {"csv manifest"}
    assert archive.problems.empty


def test_likes_in_file_names(data_dir: Path):
    folder = data_dir / "instaaudit-likes-in-filenames"
    archive = load_folder(folder / "posts")
    expected = pd.read_csv(folder / "posts_parsed_from_filenames.csv")
    expected["path"] = expected["path"].str.removeprefix("posts/")
    cat = archive.catalogue.merge(expected, left_on="file", right_on="path", suffixes=("", "_csv"))
    assert len(cat) == 10 == archive.n_images
    assert (cat["likes"].astype("int64") == cat["likes_csv"]).all()
    assert (cat["comments"].astype("int64") == cat["comments_csv"]).all()
    assert (cat["timestamp"] == pd.to_datetime(cat["taken_at_timestamp"], unit="s", utc=True)).all()
    assert (cat["post_id"] == cat["post_id_csv"].astype(str)).all()
    assert set(cat["source_format"]) == {"likes in file names"}


def test_csv_beside_named_files_combines_both(data_dir: Path):
    # The folder's own CSV ('path', 'likes', 'taken_at_timestamp') reads as a manifest.
    archive = load_folder(data_dir / "instaaudit-likes-in-filenames")
    cat = archive.catalogue
    assert archive.n_images == 10 and set(cat["source_format"]) == {"csv manifest"}
    assert cat["likes"].notna().all() and cat["timestamp"].notna().all()
    assert cat["likes"].min() == 2714 and cat["likes"].max() == 12064


def test_labels_csv_adds_its_columns(data_dir: Path):
    archive = load_folder(data_dir / "photos-imagenet-coarse6")
    assert archive.n_images == 143
    assert archive.catalogue["category"].value_counts()["dog"] == 30


def test_plain_folder_of_photos(data_dir: Path):
    archive = load_folder(data_dir / "photos-imagenet-coarse6" / "images")
    assert archive.n_images == 143 and archive.n_posts == 143
    assert not archive.likes_known
    assert set(archive.catalogue["source_format"]) == {"plain images"}
    assert (archive.catalogue["width"] > 0).all() and archive.catalogue["sha256"].str.len().eq(64).all()


def test_zip_mixing_formats_imports_every_photo(data_dir: Path, tmp_path: Path):
    target = tmp_path / "mixed.zip"
    with zipfile.ZipFile(target, "w") as zf:
        for p in sorted((data_dir / "instaloader-boston-2accounts" / "royaleboston").iterdir()):
            zf.write(p, f"dump/royaleboston/{p.name}")
        for p in sorted((data_dir / "instaaudit-likes-in-filenames" / "posts").iterdir())[:3]:
            zf.write(p, f"scraped/{p.name}")
        for p in sorted((data_dir / "photos-imagenet-coarse6" / "images" / "bird").iterdir())[:2]:
            zf.write(p, f"phone/{p.name}")
    archive = load_zip(target)
    assert archive.name == "mixed.zip"
    counts = archive.catalogue["source_format"].value_counts().to_dict()
    assert counts == {"instaloader": 15, "likes in file names": 3, "plain images": 2}


def test_instaloader_uncompressed_json_is_read(data_dir: Path, tmp_path: Path):
    source = data_dir / "instaloader-boston-2accounts" / "beehiveboston"
    stem = "2023-03-24_00-19-52_UTC"
    shutil.copy(source / f"{stem}.jpg", tmp_path)
    (tmp_path / f"{stem}.json").write_bytes(lzma.decompress((source / f"{stem}.json.xz").read_bytes()))
    cat = load_folder(tmp_path).catalogue
    assert cat["likes"].tolist() == [834] and cat["source_format"].tolist() == ["instaloader"]
