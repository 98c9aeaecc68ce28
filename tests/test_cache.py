"""Disk cache: atomic writes, catalogue reuse and invalidation, cancellation, light imports."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from core.archive.catalogue import load_folder
from core.archive.ingest import THUMB_SIDE, thumbnail_bytes
from core.cache import DiskCache, atomic_write_bytes
from core.image.io import load_image
from core.jobs import Cancelled

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def photos(data_dir: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    shutil.copytree(data_dir / "photos-imagenet-coarse6" / "images" / "cat", folder)
    return folder


def test_atomic_write_leaves_no_partial_file(tmp_path: Path):
    target = tmp_path / "entry.bin"
    atomic_write_bytes(target, b"first")

    with pytest.raises(TypeError):
        atomic_write_bytes(target, object())  # type: ignore[arg-type]  # fails mid-write
    assert target.read_bytes() == b"first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["entry.bin"]


def test_cache_keys_cannot_escape_the_cache(tmp_path: Path):
    cache = DiskCache(tmp_path)
    for kind, key in [("thumb", "../../etc"), ("../x", "ab"), ("thumb", ""), ("thumb", "a/b")]:
        with pytest.raises(ValueError):
            cache.put(kind, key, b"x")


def test_arrays_round_trip_and_damaged_entries_miss(tmp_path: Path):
    cache = DiskCache(tmp_path)
    cache.put_array("features", "ab12", np.arange(6, dtype=np.float32).reshape(2, 3))
    assert np.array_equal(cache.get_array("features", "ab12"), np.arange(6).reshape(2, 3))
    cache.path("features", "ab12", ".npy").write_bytes(b"\x93NUMPY garbage")
    assert cache.get_array("features", "ab12") is None


def test_second_load_is_served_from_the_catalogue_cache(photos: Path, isolated_cache: Path):
    first = load_folder(photos)
    entries = sorted((isolated_cache / "catalogue").rglob("*"))
    # Drop the per-image cache: a warm load that decoded anything would rebuild it.
    for kind in (f"thumb{THUMB_SIDE}", "imageinfo-v1"):
        shutil.rmtree(isolated_cache / kind)
    second = load_folder(photos)
    assert second.key == first.key
    assert second.catalogue.equals(first.catalogue)
    assert not (isolated_cache / f"thumb{THUMB_SIDE}").exists()
    assert sorted((isolated_cache / "catalogue").rglob("*")) == entries


def test_changed_file_is_imported_again(photos: Path):
    first = load_folder(photos)
    victim = sorted(photos.iterdir())[0]
    victim.write_bytes(b"now broken")
    second = load_folder(photos)
    assert second.key != first.key
    assert second.n_images == first.n_images - 1
    assert victim.name in set(second.problems["file"])


def test_thumbnails_are_small_and_rebuilt_when_evicted(photos: Path, isolated_cache: Path):
    archive = load_folder(photos)
    row = archive.catalogue.iloc[0]
    thumb = load_image(thumbnail_bytes(row["sha256"], row["path"], DiskCache(isolated_cache)))
    assert max(thumb.shape[:2]) <= THUMB_SIDE
    shutil.rmtree(isolated_cache / f"thumb{THUMB_SIDE}")
    again = thumbnail_bytes(row["sha256"], row["path"], DiskCache(isolated_cache))
    assert again is not None and load_image(again).shape == thumb.shape


def test_cancelled_import_saves_no_catalogue_and_can_be_resumed(photos: Path, isolated_cache: Path):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 2

    with pytest.raises(Cancelled):
        load_folder(photos, cancel=cancel)
    assert not (isolated_cache / "catalogue").exists()
    archive = load_folder(photos)
    assert archive.n_images == 13


def test_progress_reaches_the_total(photos: Path):
    seen: list[tuple[int, int]] = []
    load_folder(photos, progress=lambda done, total, message: seen.append((done, total)))
    assert seen[-1] == (13, 13) and all(b == 13 for _, b in seen)


def test_light_modules_do_not_import_heavy_libraries():
    code = (
        "import sys, core.archive.catalogue, core.archive.demo, core.modelfiles, core.archive.summary, ui.state\n"
        "heavy = [m for m in ('tensorflow', 'keras', 'mediapipe', 'dlib', 'torch', 'cv2') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"heavy modules imported at start-up: {out.stdout}"
