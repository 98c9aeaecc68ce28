"""Instaloader >= 4.13 node shape, written by Instaloader itself, read beside the older GraphQL shape.

The fixtures are not hand-written JSON: each post is a media dict in the shape of the app's media
info endpoint (``api/v1/media/{id}/info/``: ``pk``, ``code``, ``media_type`` 1/2/8, ``taken_at``,
``caption.text``, ``like_count``, ``comment_count``, ``carousel_media``, ``user``,
``like_and_view_counts_disabled``, ``location``), turned into a ``Post`` by
``Post.from_iphone_struct`` and saved by ``Instaloader.save_metadata_json`` under the name
``Instaloader.format_filename`` gives it, exactly as ``instaloader`` >= 4.13 does for every post.
"""

from __future__ import annotations

import json
import lzma
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from PIL import Image

from core.archive.catalogue import load_folder

instaloader = pytest.importorskip("instaloader")

T0 = 1_722_500_000  # 2024-08-01, after Instaloader 4.13


def _user() -> dict:
    return {"pk": "1787", "username": "feedlens_test", "full_name": "Feedlens Test", "is_private": False,
            "profile_pic_url": "https://example.invalid/p.jpg"}


def _image(pk: str) -> dict:
    return {"image_versions2": {"candidates": [{"url": f"https://example.invalid/{pk}.jpg", "width": 64,
                                                "height": 64}]}}


def _media(pk: int, code: str, taken_at: int, caption: str | None, *, likes: int = 10, comments: int = 2,
           media_type: int = 1, carousel: list[dict] | None = None, hidden: bool = False,
           location: dict | None = None) -> dict:
    media = {
        "pk": str(pk), "id": f"{pk}_1787", "code": code, "media_type": media_type, "taken_at": taken_at,
        "caption": None if caption is None else {"text": caption, "pk": str(pk + 1)},
        "has_liked": False, "like_count": likes, "comment_count": comments,
        "like_and_view_counts_disabled": hidden, "user": _user(),
        "accessibility_caption": f"Photo {code}",
        **_image(str(pk)),
    }
    if carousel is not None:
        media["carousel_media"] = carousel
        media["carousel_media_count"] = len(carousel)
    if location is not None:
        media["location"] = location
        media["lat"], media["lng"] = location["lat"], location["lng"]
    if media_type == 2:
        media["video_versions"] = [{"url": f"https://example.invalid/{pk}.mp4", "type": 101}]
        media["video_duration"], media["view_count"] = 7.5, 300
    return media


def _write(loader, folder: Path, media: dict, n_images: int, colour: str) -> str:
    """Save one post as Instaloader would (metadata by Instaloader, pixels by Pillow); its file stem."""
    post = instaloader.Post.from_iphone_struct(loader.context, media)
    stem = folder / loader.format_filename(post, target="feedlens_test")
    loader.save_metadata_json(str(stem), post)
    for n in range(1, n_images + 1):
        suffix = f"_{n}" if n_images > 1 else ""
        Image.new("RGB", (64, 48), colour).save(f"{stem}{suffix}.jpg")
    return stem.name


@pytest.fixture
def dump_413(tmp_path: Path) -> Path:
    """A profile folder written by Instaloader's own JSON writer from app-shaped media dicts."""
    folder = tmp_path / "feedlens_test"
    folder.mkdir()
    loader = instaloader.Instaloader(quiet=True, dirname_pattern=str(folder), compress_json=True)
    single = _media(100, "C_single", T0, "Sunset at the harbour #boston #sunset", likes=321, comments=7,
                    location={"pk": 9, "name": "Boston Harbor", "lat": 42.3601, "lng": -71.0589})
    carousel = _media(200, "C_carousel", T0 + 3600, "Three views #triptych", likes=54, comments=0, media_type=8,
                      carousel=[{"media_type": 1, "accessibility_caption": "first", **_image("201")},
                                {"media_type": 2, **_image("202"),
                                 "video_versions": [{"url": "https://example.invalid/202.mp4"}]},
                                {"media_type": 1, "accessibility_caption": "third", **_image("203")}])
    hidden = _media(300, "C_hidden", T0 + 7200, "likes hidden", likes=0, comments=3, hidden=True)
    minus = _media(400, "C_minus", T0 + 10800, None, likes=-1, comments=0)
    _write(loader, folder, single, 1, "red")
    _write(loader, folder, carousel, 3, "green")
    _write(loader, folder, hidden, 1, "blue")
    _write(loader, folder, minus, 1, "white")
    return tmp_path


def test_fixture_is_what_instaloader_writes(dump_413: Path):
    files = sorted((dump_413 / "feedlens_test").glob("*.json.xz"))
    assert [f.name for f in files][0] == "2024-08-01_08-13-20_UTC.json.xz"
    data = json.loads(lzma.decompress(files[0].read_bytes()))
    node = data["node"]
    assert data["instaloader"]["node_type"] == "Post"
    # The 4.13+ shape the old reader missed: no edge_media_to_caption / taken_at_timestamp.
    assert "edge_media_to_caption" not in node and "taken_at_timestamp" not in node
    assert node["caption"].startswith("Sunset") and node["date"] == T0 and node["comments"] == 7


def test_413_nodes_keep_captions_times_likes_and_places(dump_413: Path):
    archive = load_folder(dump_413)
    cat = archive.catalogue.set_index("post_id")
    assert archive.formats == ("instaloader",)
    single = cat.loc["C_single"]
    assert single["caption"] == "Sunset at the harbour #boston #sunset"
    assert list(single["hashtags"]) == ["boston", "sunset"]
    assert single["timestamp"] == pd.Timestamp(T0, unit="s", tz="UTC")
    assert single["likes"] == 321 and single["comments"] == 7
    assert single["account"] == "feedlens_test"
    assert single["accessibility_caption"] == "Photo C_single"
    assert (single["latitude"], single["longitude"]) == (42.3601, -71.0589)


def test_413_carousel_members_from_carousel_media(dump_413: Path):
    cat = load_folder(dump_413).catalogue
    post = cat[cat["post_id"] == "C_carousel"].sort_values("position")
    assert post["position"].tolist() == [1, 2, 3]
    assert post["media_type"].tolist() == ["image", "video thumbnail", "image"]
    assert post["accessibility_caption"].tolist()[::2] == ["first", "third"]
    assert (post["caption"] == "Three views #triptych").all() and (post["likes"] == 54).all()
    assert post["latitude"].isna().all()


def test_413_hidden_likes_stay_unknown(dump_413: Path):
    cat = load_folder(dump_413).catalogue.set_index("post_id")
    # like_and_view_counts_disabled with like_count 0: unknown, not zero.
    assert pd.isna(cat.loc["C_hidden", "likes"]) and cat.loc["C_hidden", "comments"] == 3
    assert pd.isna(cat.loc["C_minus", "likes"]) and cat.loc["C_minus", "caption"] == ""


def test_mixed_dump_old_and_new_shapes(dump_413: Path, data_dir: Path):
    old = data_dir / "instaloader-boston-2accounts" / "royaleboston"
    shutil.copytree(old, dump_413 / "royaleboston")
    archive = load_folder(dump_413)
    cat = archive.catalogue
    old_posts = cat[cat["account"] == "royaleboston"]
    new_posts = cat[cat["account"] == "feedlens_test"]
    assert old_posts["post_id"].nunique() == 3 and new_posts["post_id"].nunique() == 4
    assert (old_posts.groupby("post_id")["caption"].first().str.len() > 0).all()
    assert new_posts.loc[new_posts["post_id"] == "C_single", "caption"].iloc[0].startswith("Sunset")
    assert old_posts["timestamp"].notna().all() and new_posts["timestamp"].notna().all()


def test_uncompressed_413_json(tmp_path: Path):
    folder = tmp_path / "p"
    loader = instaloader.Instaloader(quiet=True, dirname_pattern=str(folder), compress_json=False)
    folder.mkdir()
    _write(loader, folder, _media(500, "C_plain", T0, "plain json", likes=5), 1, "red")
    assert any(name.endswith("_UTC.json") for name in os.listdir(folder))
    cat = load_folder(tmp_path).catalogue
    assert cat["caption"].tolist() == ["plain json"] and cat["likes"].tolist() == [5]
