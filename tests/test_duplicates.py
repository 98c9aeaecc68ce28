"""Duplicates: exact and near copies of real photos are found at import, and counted once downstream."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image, ImageEnhance

from core.archive.catalogue import load_folder
from core.archive.duplicates import (
    duplicate_groups,
    duplicate_of,
    find_duplicates,
    picture_hashes,
    unique_pictures,
)
from core.cache import DiskCache, sha256_file
from core.jobs import Cancelled


@pytest.fixture(scope="module")
def photos(shared_dir: Path) -> list[Path]:
    found = sorted((shared_dir / "data" / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    assert len(found) >= 40
    return found


def _catalogue(paths: list[Path]) -> pd.DataFrame:
    return pd.DataFrame({"sha256": [sha256_file(p) for p in paths], "path": [str(p) for p in paths]})


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _edited(path: Path) -> bytes:
    """A repost as people make them: cropped 8 % on one side, brighter, warmer, smaller, re-encoded."""
    with Image.open(path) as img:
        img = img.convert("RGB")
    w, h = img.size
    img = img.crop((0, 0, round(w * 0.92), round(h * 0.95)))
    img = ImageEnhance.Color(ImageEnhance.Brightness(img).enhance(1.2)).enhance(0.8)
    return _jpeg(img.resize((img.width // 2, img.height // 2)), 50)


def test_an_archive_with_reposts_gets_duplicate_of(photos, tmp_path: Path):
    folder = tmp_path / "archive"
    folder.mkdir()
    # Plain images without dates are ordered by name: "a_" is posted first.
    (folder / "a_original.jpg").write_bytes(photos[0].read_bytes())
    (folder / "b_other.jpg").write_bytes(photos[1].read_bytes())
    (folder / "c_edited_repost.jpg").write_bytes(_edited(photos[0]))
    (folder / "d_exact_repost.jpg").write_bytes(photos[0].read_bytes())
    (folder / "e_edit_of_other.jpg").write_bytes(_edited(photos[1]))
    archive = load_folder(folder, cache=DiskCache(tmp_path / "cache"))
    cat = archive.catalogue.set_index("file")
    assert cat["duplicate_of"].dtype == "string"
    first, other = cat.loc["a_original.jpg", "sha256"], cat.loc["b_other.jpg", "sha256"]
    assert cat["duplicate_of"].fillna("original").to_dict() == {
        "a_original.jpg": "original", "b_other.jpg": "original", "c_edited_repost.jpg": first,
        "d_exact_repost.jpg": first, "e_edit_of_other.jpg": other}

    groups = duplicate_groups(archive.catalogue)
    assert groups["file"].tolist() == ["a_original.jpg", "c_edited_repost.jpg", "d_exact_repost.jpg",
                                       "b_other.jpg", "e_edit_of_other.jpg"]
    assert groups["is_original"].tolist() == [True, False, False, True, False]
    assert groups["exact"].tolist() == [False, False, True, False, False]
    assert unique_pictures(archive.catalogue)["file"].tolist() == ["a_original.jpg", "b_other.jpg"]


def test_distinct_photos_are_not_duplicates(photos, tmp_path: Path):
    cache = DiskCache(tmp_path / "cache")
    catalogue = _catalogue(photos[:40])
    assert len(picture_hashes(zip(catalogue["sha256"], catalogue["path"]), cache)) == 40
    found = find_duplicates(catalogue, cache)
    assert found.isna().all(), catalogue.assign(found=found).dropna()
    assert duplicate_groups(catalogue.assign(duplicate_of=found)).empty


def test_the_earliest_post_is_the_original_whatever_the_files(photos, tmp_path: Path):
    # The edited copy was posted first: it is the original, the untouched photo the repost.
    cache = DiskCache(tmp_path / "cache")
    (tmp_path / "edit.jpg").write_bytes(_edited(photos[2]))
    catalogue = _catalogue([tmp_path / "edit.jpg", photos[2]])
    assert find_duplicates(catalogue, cache).tolist() == [pd.NA, catalogue["sha256"][0]]


def test_copies_point_at_an_original_never_at_a_copy():
    # b is near a, c is near b but far from a: c is not joined to a through b.
    hashes = {"a": 0, "b": (1 << 8) - 1, "c": (1 << 16) - 1}
    cat = pd.DataFrame({"sha256": ["a", "b", "c", "b"]})
    assert duplicate_of(cat, hashes, max_distance=8).tolist() == [pd.NA, "a", pd.NA, "a"]


def test_hashes_are_cached_so_a_second_search_reads_no_photo(photos, tmp_path: Path):
    cache = DiskCache(tmp_path / "cache")
    items = list(zip(*_catalogue(photos[:5]).to_dict("list").values()))
    first = picture_hashes(items, cache)
    assert len(first) == 5
    # Neither the thumbnails nor the photos are there any more: only the cached hashes can answer.
    for sha, _ in items:
        cache.path("thumb256", sha, ".jpg").unlink()
    gone = [(sha, str(tmp_path / "missing.jpg")) for sha, _ in items]
    assert picture_hashes(gone, cache) == first
    assert picture_hashes([("never-seen", str(tmp_path / "missing.jpg"))], cache) == {}


def test_cancel_and_progress(photos, tmp_path: Path):
    cache = DiskCache(tmp_path / "cache")
    items = list(zip(*_catalogue(photos[:3]).to_dict("list").values()))
    with pytest.raises(Cancelled):
        picture_hashes(items, cache, cancel=lambda: True)
    seen = []
    picture_hashes(items, cache, progress=lambda done, total, message: seen.append((done, total)))
    assert seen[-1] == (3, 3)


def test_a_catalogue_from_before_duplicates_is_used_whole():
    old = pd.DataFrame({"sha256": ["a", "a"]})
    assert unique_pictures(old).equals(old)
    assert duplicate_groups(old).empty


def test_the_forecast_learns_from_a_reposted_picture_once():
    from core.forecast.labels import post_frame
    from core.forecast.models import ForecastInputs, repeated_photos

    cat = pd.DataFrame({
        "post_id": ["p1", "p2", "p3"], "position": [0, 0, 0], "sha256": ["s1", "s2", "s3"],
        "duplicate_of": pd.array([None, None, "s1"], dtype="string"), "path": ["/1", "/2", "/3"],
        "likes": [10, 20, 30], "comments": [1, 2, 3], "timestamp": pd.to_datetime([1, 2, 3], unit="D", utc=True),
        "account": "me", "caption": "", "hashtags": [[], [], []], "accessibility_caption": None})
    posts = post_frame(cat)
    assert posts["picture"].tolist() == ["s1", "s2", "s1"]
    X = ForecastInputs.build([[]] * 3, photo=posts["picture"])
    assert repeated_photos(X).tolist() == [False, False, True]


def test_the_explore_map_takes_each_picture_once():
    from core.explore.mapping import MapRequest

    cat = pd.DataFrame({"sha256": ["s1", "s2", "s3"], "path": ["/1", "/2", "/3"],
                        "duplicate_of": pd.array([None, "s1", None], dtype="string")})
    assert [sha for sha, _ in MapRequest.for_catalogue(cat).items] == ["s1", "s3"]


def test_hashes_are_the_same_on_a_rerun(photos, tmp_path: Path):
    sha = sha256_file(photos[3])
    one = picture_hashes([(sha, str(photos[3]))], DiskCache(tmp_path / "one"))
    two = picture_hashes([(sha, str(photos[3]))], DiskCache(tmp_path / "two"))
    assert one == two and len(one[sha]) == 6 and all(isinstance(h, int) for h in one[sha])
    assert np.unique(one[sha]).size > 1  # the crops' hashes are not all the whole picture's


def _folder_with_reposts(photos: list[Path], folder: Path) -> Path:
    """Four photos; the first reposted edited and exactly, the second reposted edited (3 later copies)."""
    folder.mkdir()
    for i, path in enumerate(photos[:4]):
        (folder / f"{i}_photo.jpg").write_bytes(path.read_bytes())
    (folder / "5_edited_repost.jpg").write_bytes(_edited(photos[0]))
    (folder / "6_exact_repost.jpg").write_bytes(photos[0].read_bytes())
    (folder / "7_edited_repost.jpg").write_bytes(_edited(photos[1]))
    return folder


def test_archive_page_duplicates_tab(photos, tmp_path: Path):
    from streamlit.testing.v1 import AppTest

    archive = load_folder(_folder_with_reposts(photos, tmp_path / "reposts"))
    at = AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120)
    at.session_state["archive"] = archive
    at.run()
    assert not at.exception, at.exception
    assert "Duplicates (3)" in [tab.label for tab in at.tabs]
    texts = [t.value for t in at.text]
    assert "2 picture(s) posted more than once: 3 later copies (1 exact, 2 edited: re-encoded, resized, " \
           "cropped, brightened or filtered)." in texts
    assert ["Picture 1: posted 3 times", "Picture 2: posted 2 times"] == [t for t in texts if t.startswith("Picture")]
    roles = [t.split(" · ")[0] for t in texts if t.startswith(("Original", "Exact copy", "Edited copy"))]
    assert roles == ["Original", "Edited copy", "Exact copy", "Original", "Edited copy"]


@pytest.mark.browser
def test_duplicates_tab_in_a_browser(app_server, browser, photos, tmp_path, artifacts_dir):
    from conftest import open_folder, wait_for_app

    folder = _folder_with_reposts(photos, tmp_path / "reposts")
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    open_folder(page, folder)
    page.locator("[data-testid='stSidebar']").get_by_text("reposts: 7 posts, 7 photos").wait_for(timeout=120_000)
    wait_for_app(page)
    page.locator("[data-testid='stMain']").get_by_role("tab", name="Duplicates (3)").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Picture 2: posted 2 times").wait_for(timeout=30_000)
    group = page.locator(".st-key-archive_dups_group_1")
    assert group.locator("img").count() == 3
    assert group.get_by_text("Exact copy", exact=False).is_visible()
    page.screenshot(path=str(artifacts_dir / "archive_duplicates.png"), full_page=True)
    assert not errors, errors


def test_real_reposts_in_a_real_dump_are_found(data_dir: Path):
    # Two of the 200 real posts repeat an earlier one: Kevin Hart's very file, and Justin Bieber's
    # colour selfie of August reposted in September in black and white and re-cropped.
    cat = load_folder(data_dir / "instaloader-top20-celebs").catalogue
    copies = cat[cat["duplicate_of"].notna()]
    originals = cat[cat["duplicate_of"].isna()].set_index("sha256").loc[copies["duplicate_of"], "file"]
    assert dict(zip(copies["file"], originals)) == {
        "DATA/IMAGES/justinbieber/2022-09-14_01-23-26_UTC.jpg": "DATA/IMAGES/justinbieber/2022-08-03_11-49-01_UTC.jpg",
        "DATA/IMAGES/kevinhart4real/2022-09-26_19-47-28_UTC.jpg":
            "DATA/IMAGES/kevinhart4real/2022-09-24_17-13-55_UTC.jpg",
    }


@pytest.mark.parametrize("engine", ["inprocess", "local"])
def test_a_batch_import_finds_the_same_duplicates_as_the_app(engine, photos, tmp_path: Path):
    from core.batch.driver import run_archives

    folder = _folder_with_reposts(photos, tmp_path / "archive")
    app = load_folder(folder, cache=DiskCache(tmp_path / "app-cache")).catalogue.set_index("file")["duplicate_of"]
    run = run_archives([folder], [], tmp_path / "batch-cache", engine=engine)
    batch = run.archives[0].catalogue.set_index("file")["duplicate_of"]
    assert batch.fillna("").to_dict() == app.fillna("").to_dict() and batch.notna().sum() == 3


def test_an_import_chunk_returns_each_photos_hashes_so_the_driver_reads_no_thumbnail(photos, tmp_path: Path):
    from core.archive.catalogue import prepare_import
    from core.archive.duplicates import picture_hash
    from core.archive.ingest import thumbnail_bytes
    from core.batch.plan import plan_import
    from core.batch.work import run_chunk

    folder = _folder_with_reposts(photos, tmp_path / "archive")
    cache = DiskCache(tmp_path / "cache")
    (chunk,) = plan_import([prepare_import(folder, cache=cache)], chunk=100)
    result = run_chunk(chunk, cache.root)
    assert len(result.imported) == 7
    for file, outcome in result.imported.items():
        thumb = thumbnail_bytes(outcome["sha256"], str(folder / file), cache)
        assert tuple(int(code) for code in outcome["picture_hash"]) == picture_hash(thumb)
