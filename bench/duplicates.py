"""Duplicate search: precision and recall on generated edits, and time on 10,000 photos.

Quality: real photos from ``../shared/data`` (ImageNet, Instaloader celebrity
posts, DeepFace portraits). Half of them are "originals", each followed by
edits of itself: a re-encode (JPEG q=35), a resize (to 40 %), three crops (10 %
of the width and of the height one-sided, 5 % a side, and 5 % left + 3 % top), brighter and
darker (±25 %), and two filter looks (warm faded, and a cold contrasty black
and white with a vignette). The other half are distinct photos posted once. Every file goes
through the import's thumbnailer (``ingest_file``), as in the app. A copy
counts as found when its ``duplicate_of`` is its own original's sha256;
precision is found / flagged, recall found / edits. The sweep over the
Hamming threshold prints a pair of lines per threshold; the chosen one
(``NEAR_DISTANCE``) is printed last without the suffix.

Speed: 10,000 distinct 256-px thumbnails in a fresh cache (made from the
same photos, each with its own crop, zoom and mirror): first search (hashes
computed from the cached thumbnails), second search (hashes cached), and the
grouping alone. Median of ``--runs``.

Prints one JSON object per line: ``{"name", "value", "unit"}``.
Run: ``python bench/duplicates.py [--runs N] [--photos N]``
"""

from __future__ import annotations

import argparse
import io
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image, ImageEnhance, ImageFilter, ImageOps  # noqa: E402

from core.archive.duplicates import NEAR_DISTANCE, duplicate_of, find_duplicates, picture_hashes  # noqa: E402
from core.archive.ingest import ingest_file  # noqa: E402
from core.cache import DiskCache, sha256_bytes, sha256_file  # noqa: E402


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def source_photos() -> list[Path]:
    data = shared_dir() / "data"
    found = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    found += sorted((data / "instaloader-top20-celebs" / "DATA" / "IMAGES").rglob("*.jpg"))
    found += sorted((data / "faces-deepface-pairs" / "images").rglob("*.jpg"))
    if not found:
        raise SystemExit(f"no photos found under {data}")
    return list({sha256_file(p): p for p in reversed(found)}.values())[::-1]  # a few files are there twice


def _jpeg(img: Image.Image, quality: int = 90) -> bytes:
    buf = io.BytesIO()
    img.convert("RGB").save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _crop(img: Image.Image, left: float, top: float, right: float, bottom: float) -> Image.Image:
    w, h = img.size
    return img.crop((round(w * left), round(h * top), w - round(w * right), h - round(h * bottom)))


def _warm_faded(img: Image.Image) -> Image.Image:
    img = ImageEnhance.Color(ImageEnhance.Contrast(img).enhance(0.8)).enhance(0.7)
    r, g, b = (np.asarray(img, np.float32)[..., i] for i in range(3))
    out = np.dstack([r * 1.08 + 12, g * 1.0 + 6, b * 0.85 + 10])
    return Image.fromarray(np.clip(out, 0, 255).astype(np.uint8))


def _mono_vignette(img: Image.Image) -> Image.Image:
    grey = np.asarray(ImageEnhance.Contrast(ImageOps.grayscale(img)).enhance(1.3), np.float32)
    h, w = grey.shape
    y, x = np.ogrid[-1:1:complex(0, h), -1:1:complex(0, w)]
    vignette = 1 - 0.35 * np.clip(x * x + y * y - 0.3, 0, None)
    return Image.fromarray(np.clip(grey * vignette, 0, 255).astype(np.uint8)).convert("RGB")


EDITS = {
    "reencode": lambda img: _jpeg(img, 35),
    "resize": lambda img: _jpeg(img.resize((max(1, img.width * 2 // 5), max(1, img.height * 2 // 5)),
                                           Image.Resampling.BILINEAR)),
    "crop_side": lambda img: _jpeg(_crop(img, 0.0, 0.0, 0.10, 0.10)),
    "crop_centre": lambda img: _jpeg(_crop(img, 0.05, 0.05, 0.05, 0.05)),
    "crop_small": lambda img: _jpeg(_crop(img, 0.05, 0.0, 0.0, 0.03)),
    "brighter": lambda img: _jpeg(ImageEnhance.Brightness(img).enhance(1.25)),
    "darker": lambda img: _jpeg(ImageEnhance.Brightness(img).enhance(0.75)),
    "warm_faded": lambda img: _jpeg(_warm_faded(img)),
    "mono_vignette": lambda img: _jpeg(_mono_vignette(img).filter(ImageFilter.SMOOTH)),
}


def quality_set(folder: Path, cache: DiskCache) -> tuple[pd.DataFrame, dict[str, str]]:
    """The catalogue (originals then their edits, then distinct photos) and each edit's original sha256."""
    sources = source_photos()
    edited, distinct = sources[0::2], sources[1::2]
    rows, truth = [], {}

    def add(data: bytes, name: str, kind: str) -> str:
        path = folder / f"{len(rows):04d}_{name}.jpg"
        path.write_bytes(data)
        info = ingest_file(path, cache)
        rows.append({"sha256": info.sha256, "path": str(path), "kind": kind})
        return info.sha256

    for i, src in enumerate(edited):
        with Image.open(src) as img:
            img = img.convert("RGB")
        original = add(_jpeg(img, 92), f"orig{i}", "original")
        for edit, make in EDITS.items():
            sha = add(make(img), f"orig{i}_{edit}", edit)
            truth.setdefault(sha, original)
    for i, src in enumerate(distinct):
        with Image.open(src) as img:
            add(_jpeg(img.convert("RGB"), 92), f"distinct{i}", "distinct")
    return pd.DataFrame(rows), truth


def precision_recall(catalogue: pd.DataFrame, found: pd.Series, truth: dict[str, str]) -> tuple[float, float, dict]:
    flagged = found.notna()
    right = pd.Series([truth.get(s) == d for s, d in zip(catalogue["sha256"], found)], index=catalogue.index)
    edits = catalogue["sha256"].isin(list(truth))
    per_edit = {kind: float((right & (catalogue["kind"] == kind)).sum() / (catalogue["kind"] == kind).sum())
                for kind in EDITS}
    return (float((right & flagged).sum() / max(1, flagged.sum())), float((right & edits).sum() / edits.sum()),
            per_edit)


def speed_set(cache: DiskCache, n: int) -> pd.DataFrame:
    """``n`` distinct 256-px thumbnails straight into the cache, as the import would have left them."""
    sources = source_photos()
    rng = np.random.default_rng(0)
    rows = []
    for i in range(n):
        with Image.open(sources[i % len(sources)]) as img:
            img = img.convert("RGB")
            img.draft("RGB", (512, 512))
        keep = rng.uniform(0.35, 1.0)
        w, h = img.size
        left, top = rng.uniform(0, 1 - keep) * w, rng.uniform(0, 1 - keep) * h
        thumb = img.crop((round(left), round(top), round(left + keep * w), round(top + keep * h)))
        thumb.thumbnail((256, 256))
        if rng.random() < 0.5:
            thumb = ImageOps.mirror(thumb)
        data = _jpeg(thumb, 85)
        sha = sha256_bytes(data + str(i).encode())
        cache.put("thumb256", sha, data, ".jpg")
        rows.append({"sha256": sha, "path": f"/missing/{i}.jpg"})
    return pd.DataFrame(rows)


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(value, 4), "unit": unit}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--photos", type=int, default=10_000, help="photos for the speed part")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="feedlens-dups-"))
    try:
        cache = DiskCache(work / "cache")
        folder = work / "photos"
        folder.mkdir()
        catalogue, truth = quality_set(folder, cache)
        hashes = picture_hashes(zip(catalogue["sha256"], catalogue["path"]), cache)
        emit("dups_quality_photos", len(catalogue), "photos")
        emit("dups_quality_edits", len(truth), "photos")
        for threshold in range(0, 21, 2):
            precision, recall, _ = precision_recall(catalogue, duplicate_of(catalogue, hashes, threshold), truth)
            emit(f"dups_precision_at_{threshold}", precision, "ratio")
            emit(f"dups_recall_at_{threshold}", recall, "ratio")
        precision, recall, per_edit = precision_recall(catalogue, duplicate_of(catalogue, hashes), truth)
        for edit, value in per_edit.items():
            emit(f"dups_recall_{edit}", value, "ratio")
        emit("dups_threshold", NEAR_DISTANCE, "bits")
        emit("dups_precision", precision, "ratio")
        emit("dups_recall", recall, "ratio")

        first, second, grouping = [], [], []
        for run in range(args.runs):
            speed_cache = DiskCache(work / f"speed{run}")
            photos = speed_set(speed_cache, args.photos)
            start = time.perf_counter()
            find_duplicates(photos, speed_cache)
            first.append(time.perf_counter() - start)
            start = time.perf_counter()
            find_duplicates(photos, speed_cache)
            second.append(time.perf_counter() - start)
            codes = picture_hashes(zip(photos["sha256"], photos["path"]), speed_cache)
            start = time.perf_counter()
            duplicate_of(photos, codes)
            grouping.append(time.perf_counter() - start)
            shutil.rmtree(work / f"speed{run}", ignore_errors=True)
        emit("dups_speed_photos", args.photos, "photos")
        emit("dups_cpu_count", os.cpu_count() or 0, "cores")
        emit("dups_first_search_s", statistics.median(first), "s")
        emit("dups_second_search_s", statistics.median(second), "s")
        emit("dups_grouping_s", statistics.median(grouping), "s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
