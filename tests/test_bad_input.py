"""Broken and hostile input: each case names the file and the problem, and the rest loads.

Every case builds an archive of two real photos plus one bad thing, imports it,
and checks (1) the problem row for the bad file and (2) that both good photos
are in the catalogue.
"""

from __future__ import annotations

import io
import json
import lzma
import os
import stat
import zipfile
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
from PIL import Image

from core.archive import ArchiveError, load_folder, load_zip
from core.config import Limits
from core.image.io import load_image

GOOD = ["good/one.jpg", "good/two.jpg"]


@pytest.fixture(scope="module")
def real_photos(data_dir: Path) -> list[bytes]:
    folder = data_dir / "photos-imagenet-coarse6" / "images" / "landscape"
    return [p.read_bytes() for p in sorted(folder.glob("*.JPEG"))[:2]]


def _png(image: Image.Image) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "PNG")
    return buf.getvalue()


def _jpeg(image: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", **kw)
    return buf.getvalue()


def _photo(real: bytes) -> Image.Image:
    return Image.open(io.BytesIO(real)).convert("RGB")


def _folder(tmp: Path, real: list[bytes], files: dict[str, bytes]) -> Path:
    root = tmp / "archive"
    for name, data in {GOOD[0]: real[0], GOOD[1]: real[1], **files}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return root


def _zip(tmp: Path, real: list[bytes], entries: list[tuple[zipfile.ZipInfo | str, bytes]]) -> Path:
    path = tmp / "upload.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(GOOD[0], real[0])
        zf.writestr(GOOD[1], real[1])
        for info, data in entries:
            zf.writestr(info, data)
    return path


def _problem(archive, file: str) -> dict:
    rows = archive.problems[archive.problems["file"] == file]
    assert len(rows) == 1, f"expected one problem for {file}, got:\n{archive.problems.to_string()}"
    return rows.iloc[0].to_dict()


def _assert_good_loaded(archive) -> None:
    assert set(GOOD) <= set(archive.catalogue["file"]), archive.catalogue["file"].tolist()


# ---- image files --------------------------------------------------------------------------

IMAGE_CASES: dict[str, tuple[Callable[[list[bytes]], bytes], str, str]] = {
    # name: (make bytes, expected problem text, level)
    "truncated.jpg": (lambda r: r[0][: len(r[0]) // 2], "truncated image", "error"),
    "zero.jpg": (lambda r: b"", "empty file (0 bytes)", "error"),
    "notes.jpg": (lambda r: b"these are my notes, not a photo\n" * 20, "not an image file Pillow can read", "error"),
    "header_only.png": (lambda r: _png(_photo(r[0]))[:60], "", "error"),
    "huge.png": (lambda r: _png(Image.new("1", (20000, 20000))), "20000×20000 = 400 megapixels", "error"),
    "sixteen_bit.png": (
        lambda r: _png(Image.fromarray(np.asarray(_photo(r[0]).convert("L"), np.uint16) * 257)),
        "high-bit-depth image reduced to 8 bits", "warning"),
    "cmyk.jpg": (lambda r: _jpeg(_photo(r[0]).convert("CMYK")), "CMYK converted to RGB", "warning"),
    "animated.gif": (lambda r: _gif(r), "animated or multi-frame image (3 frames): first frame used", "warning"),
    "palette_alpha.png": (lambda r: _palette_alpha(r), "transparency flattened onto white", "warning"),
    "fake_extension.png.jpg": (lambda r: b"\x89PNG\r\n\x1a\n" + b"\0" * 40, "", "error"),
}


def _gif(real: list[bytes]) -> bytes:
    base = _photo(real[0]).resize((64, 48))
    frames = [base.rotate(angle).convert("P") for angle in (0, 90, 180)]
    buf = io.BytesIO()
    frames[0].save(buf, "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    return buf.getvalue()


def _palette_alpha(real: list[bytes]) -> bytes:
    image = _photo(real[0]).resize((64, 48)).convert("P")
    buf = io.BytesIO()
    image.save(buf, "PNG", transparency=0)
    return buf.getvalue()


@pytest.mark.parametrize("name", sorted(IMAGE_CASES))
def test_bad_image_file(name: str, real_photos, tmp_path: Path):
    make, message, level = IMAGE_CASES[name]
    archive = load_folder(_folder(tmp_path, real_photos, {f"bad/{name}": make(real_photos)}))
    row = _problem(archive, f"bad/{name}")
    assert message in row["problem"] and row["level"] == level
    _assert_good_loaded(archive)
    in_catalogue = f"bad/{name}" in set(archive.catalogue["file"])
    assert in_catalogue == (level == "warning")


def test_sixteen_bit_keeps_its_tones(real_photos, tmp_path: Path):
    grey = np.asarray(_photo(real_photos[0]).convert("L"))
    data = _png(Image.fromarray(grey.astype(np.uint16) * 257))
    pixels = load_image(data)
    # Rescaled, not clipped: a clipped 16-bit image would be almost all white.
    assert abs(float(pixels[..., 0].mean()) - float(grey.mean())) < 2


def test_exif_rotated_photo_is_turned_upright(real_photos, tmp_path: Path):
    photo = _photo(real_photos[0])  # landscape
    exif = Image.Exif()
    exif[0x0112] = 6  # stored sideways: rotate 90° clockwise to view
    data = _jpeg(photo, exif=exif.tobytes())
    archive = load_folder(_folder(tmp_path, real_photos, {"rotated.jpg": data}))
    row = archive.catalogue.set_index("file").loc["rotated.jpg"]
    assert (row["width"], row["height"]) == (photo.height, photo.width)
    pixels = load_image(data)
    assert pixels.shape[:2] == (photo.width, photo.height)
    _assert_good_loaded(archive)


def test_video_is_counted_and_skipped(real_photos, tmp_path: Path):
    archive = load_folder(_folder(tmp_path, real_photos, {"clip.mp4": b"\0\0\0\x18ftypmp42" + b"\0" * 100}))
    row = _problem(archive, "clip.mp4")
    assert row["level"] == "info" and archive.videos_skipped == 1
    _assert_good_loaded(archive)


def test_unknown_file_type_is_reported_not_fatal(real_photos, tmp_path: Path):
    archive = load_folder(_folder(tmp_path, real_photos, {"photo.heic": b"ftypheic" + b"\0" * 64}))
    assert "not a photo type" in _problem(archive, "photo.heic")["problem"]
    _assert_good_loaded(archive)


def test_user_folder_is_never_modified(real_photos, tmp_path: Path):
    root = _folder(tmp_path, real_photos, {"bad.jpg": b"garbage"})
    def snapshot():
        return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}

    before = snapshot()
    load_folder(root)
    after = snapshot()
    assert len(before) == 3
    assert before == after


# ---- ZIP archives -------------------------------------------------------------------------


def _link(name: str, target: str) -> tuple[zipfile.ZipInfo, bytes]:
    info = zipfile.ZipInfo(name)
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


ZIP_CASES = {
    "zip slip with ..": ([("../../evil.jpg", b"x")], "../../evil.jpg", "unsafe path in ZIP"),
    "zip slip absolute": ([("/tmp/evil.jpg", b"x")], "/tmp/evil.jpg", "unsafe path in ZIP"),
    "symlink": ([_link("link.jpg", "/etc/passwd")], "link.jpg", "symbolic link in ZIP"),
    "nested zip": ([("inner/more.zip", b"PK\x05\x06" + b"\0" * 18)], "inner/more.zip", "ZIP inside the ZIP"),
    "zip bomb ratio": ([("bomb.jpg", b"\0" * (30 * 1024**2))], "bomb.jpg", "compression ratio"),
}


@pytest.mark.parametrize("case", sorted(ZIP_CASES))
def test_hostile_zip_member(case: str, real_photos, tmp_path: Path):
    entries, name, message = ZIP_CASES[case]
    archive = load_zip(_zip(tmp_path, real_photos, entries))
    assert message in _problem(archive, name)["problem"]
    _assert_good_loaded(archive)
    # Nothing was written outside the extraction folder.
    assert not (tmp_path.parent / "evil.jpg").exists() and not Path("/tmp/evil.jpg").exists()
    extracted = {p.relative_to(archive.root).as_posix() for p in archive.root.rglob("*") if p.is_file()}
    assert extracted == set(GOOD)


def test_zip_bomb_total_size_is_capped(real_photos, tmp_path: Path):
    limits = Limits(max_zip_total_bytes=len(real_photos[0]) + len(real_photos[1]) + 10)
    archive = load_zip(_zip(tmp_path, real_photos, [("third.jpg", real_photos[0])]), limits=limits)
    assert "expands beyond" in _problem(archive, "third.jpg")["problem"]
    _assert_good_loaded(archive)


def test_zip_member_count_is_capped(real_photos, tmp_path: Path):
    extra = [(f"x/{i}.txt", b"") for i in range(10)]
    archive = load_zip(_zip(tmp_path, real_photos, extra), limits=Limits(max_zip_members=5))
    assert "only the first 5 are read" in _problem(archive, "upload.zip")["problem"]
    _assert_good_loaded(archive)


def test_non_utf8_names_are_decoded(real_photos, tmp_path: Path):
    # Names stored as raw bytes without the UTF-8 flag, as many archivers do: write
    # ASCII placeholders of the same length, then patch the bytes in both headers.
    raw = {b"cafXX.jpg": "café.jpg".encode("utf-8"),  # UTF-8, flag missing
           b"XtX.jpg": "été.jpg".encode("cp1252"),  # Windows ANSI code page
           b"naXve.jpg": "naïve.jpg".encode("cp437")}  # DOS / Explorer OEM code page
    path = _zip(tmp_path, real_photos, [("cafXX.jpg", real_photos[0]), ("XtX.jpg", real_photos[1]),
                                        ("naXve.jpg", real_photos[0])])
    data = path.read_bytes()
    for placeholder, name in raw.items():
        assert len(placeholder) == len(name) and data.count(placeholder) == 2
        data = data.replace(placeholder, name)
    path.write_bytes(data)
    archive = load_zip(path)
    assert {"café.jpg", "été.jpg", "naïve.jpg"} <= set(archive.catalogue["file"])
    _assert_good_loaded(archive)


def test_duplicate_names_keep_both(real_photos, tmp_path: Path):
    path = tmp_path / "dupes.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr(GOOD[0], real_photos[0])
        zf.writestr(GOOD[1], real_photos[1])
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr(GOOD[0], real_photos[1])
    archive = load_zip(path)
    row = _problem(archive, GOOD[0])
    assert row["problem"] == "duplicate name in the ZIP" and row["action"] == "kept as good/one (2).jpg"
    assert len(archive.catalogue) == 3
    _assert_good_loaded(archive)


def test_os_litter_is_ignored_quietly(real_photos, tmp_path: Path):
    entries = [("__MACOSX/good/._one.jpg", b"\0\5\26\7"), (".DS_Store", b"\0\0\0\1Bud1"), ("good/.hidden.jpg", b"x")]
    archive = load_zip(_zip(tmp_path, real_photos, entries))
    assert archive.problems.empty and list(archive.catalogue["file"]) != [] and len(archive.catalogue) == 2


def test_corrupt_zip_member_is_reported(real_photos, tmp_path: Path):
    path = _zip(tmp_path, real_photos, [("third.jpg", real_photos[0])])
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("third.jpg")
    start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data[start + 100] ^= 0xFF  # flip a byte inside the compressed data
    path.write_bytes(bytes(data))
    archive = load_zip(path)
    assert "corrupt ZIP entry" in _problem(archive, "third.jpg")["problem"]
    _assert_good_loaded(archive)


def test_not_a_zip_names_the_file(tmp_path: Path):
    fake = tmp_path / "holiday.zip"
    fake.write_text("this is not a zip")
    with pytest.raises(ArchiveError, match="holiday.zip: not a readable ZIP archive"):
        load_zip(fake)


def test_same_zip_twice_reuses_the_extraction(real_photos, tmp_path: Path):
    path = _zip(tmp_path, real_photos, [("bad.jpg", b"")])
    first = load_zip(path)
    second = load_zip(path.read_bytes(), name="again.zip")
    assert first.root == second.root and second.name == "again.zip"
    assert second.problems.to_dict("records") == first.problems.to_dict("records")


# ---- metadata files -----------------------------------------------------------------------

STEM = "2024-06-01_19-38-31_UTC"


def _instaloader(real: list[bytes], meta: bytes, suffix: str = ".json.xz") -> dict[str, bytes]:
    return {f"dump/{STEM}.jpg": real[0], f"dump/{STEM}{suffix}": meta}


META_CASES = {
    "broken json in xz": (lambda: lzma.compress(b'{"node": {"shortcode": '), f"dump/{STEM}.json.xz", "broken JSON at line 1"),
    "truncated xz": (lambda: lzma.compress(b'{"node": {}}' * 50)[:-20], f"dump/{STEM}.json.xz", "xz"),
    "json is a list": (lambda: lzma.compress(b"[1, 2, 3]"), f"dump/{STEM}.json.xz", "has no 'node' object"),
    "not xz at all": (lambda: b"plain text", f"dump/{STEM}.json.xz", "not a valid .xz file"),
}


@pytest.mark.parametrize("case", sorted(META_CASES))
def test_broken_instaloader_metadata_keeps_the_photo(case: str, real_photos, tmp_path: Path):
    make, name, message = META_CASES[case]
    archive = load_folder(_folder(tmp_path, real_photos, _instaloader(real_photos, make())))
    assert message in _problem(archive, name)["problem"]
    _assert_good_loaded(archive)
    photo = archive.catalogue.set_index("file").loc[f"dump/{STEM}.jpg"]
    # Imported as a plain photo; the time still comes from Instaloader's file name.
    assert photo["source_format"] == "plain images" and str(photo["timestamp"]) == "2024-06-01 19:38:31+00:00"


def test_broken_export_posts_file(real_photos, tmp_path: Path):
    files = {"your_instagram_activity/media/posts_1.json": b'[{"media": [{"uri": "media/posts/1.jpg",'}
    archive = load_folder(_folder(tmp_path, real_photos, files))
    assert "posts file unreadable: broken JSON" in _problem(archive, "your_instagram_activity/media/posts_1.json")["problem"]
    _assert_good_loaded(archive)


def test_csv_without_file_column(real_photos, tmp_path: Path):
    archive = load_folder(_folder(tmp_path, real_photos, {"manifest.csv": b"likes,caption\n3,hello\n"}))
    row = _problem(archive, "manifest.csv")
    assert "CSV has no 'file' column (found: likes, caption)" in row["problem"]
    _assert_good_loaded(archive)
    assert archive.catalogue["likes"].isna().all()


def test_csv_likes_written_as_text(real_photos, tmp_path: Path):
    csv = f"file,likes,comments\n{GOOD[0]},many,2\n{GOOD[1]},1.5k,\n".encode()
    archive = load_folder(_folder(tmp_path, real_photos, {"manifest.csv": csv}))
    row = _problem(archive, "manifest.csv line 2")
    assert row["problem"] == "likes: 'many' is not a number" and row["action"] == "likes left unknown"
    cat = archive.catalogue.set_index("file")
    assert pd_isna(cat.loc[GOOD[0], "likes"]) and cat.loc[GOOD[0], "comments"] == 2
    assert cat.loc[GOOD[1], "likes"] == 1500
    _assert_good_loaded(archive)


def test_csv_rows_pointing_nowhere_or_outside(real_photos, tmp_path: Path):
    csv = f"file,likes\n{GOOD[0]},1\nmissing.jpg,2\n../../etc/passwd,3\n".encode()
    archive = load_folder(_folder(tmp_path, real_photos, {"manifest.csv": csv}))
    assert "'missing.jpg' is listed but not in the archive" in _problem(archive, "manifest.csv line 3")["problem"]
    assert "points outside the archive" in _problem(archive, "manifest.csv line 4")["problem"]
    _assert_good_loaded(archive)


def test_insights_with_dashes_leave_counts_unknown(real_photos, tmp_path: Path):
    posts = [{"media": [{"uri": GOOD[0], "creation_timestamp": 1700000000, "title": "hi"}]}]
    insights = {"organic_insights_posts": [{"media_map_data": {"Media Thumbnail": {"creation_timestamp": 1700000000}},
                                            "string_map_data": {"Likes": {"value": "--"}, "Comments": {"value": ""}}}]}
    files = {"content/posts_1.json": json.dumps(posts).encode(),
             "past_instagram_insights/posts.json": json.dumps(insights).encode()}
    archive = load_folder(_folder(tmp_path, real_photos, files))
    row = archive.catalogue.set_index("file").loc[GOOD[0]]
    assert row["source_format"] == "instagram export" and pd_isna(row["likes"]) and row["caption"] == "hi"
    _assert_good_loaded(archive)


def test_wrong_insights_json_is_reported(real_photos, tmp_path: Path):
    posts = [{"media": [{"uri": GOOD[0], "creation_timestamp": 1700000000, "title": "hi"}]}]
    files = {"content/posts_1.json": json.dumps(posts).encode(),
             "past_instagram_insights/posts.json": b'{"something_else": []}'}
    archive = load_folder(_folder(tmp_path, real_photos, files))
    assert "no 'organic_insights_posts' or 'organic_insights_reels' list" in _problem(
        archive, "past_instagram_insights/posts.json")["problem"]
    _assert_good_loaded(archive)


def pd_isna(value) -> bool:
    import pandas as pd

    return bool(pd.isna(value))


def test_symlink_in_a_folder_is_not_followed(real_photos, tmp_path: Path):
    root = _folder(tmp_path, real_photos, {})
    secret = tmp_path / "secret.jpg"
    secret.write_bytes(real_photos[0])
    os.symlink(secret, root / "link.jpg")
    archive = load_folder(root)
    assert "symbolic link not followed" in _problem(archive, "link.jpg")["problem"]
    assert "link.jpg" not in set(archive.catalogue["file"])
    _assert_good_loaded(archive)
