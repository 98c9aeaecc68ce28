"""Import speed: 1,000 photos of 1080×1080 to catalogue plus thumbnails.

Targets (issue 2): cold ≤ 10 s (empty cache), warm ≤ 1 s (cache hit).

The photos are made by resizing (centre-cropping) the real photos in
``../shared/data`` and are written under ``bench/out/`` (not committed).
Prints one JSON object per line: ``{"name", "value", "unit"}``.

Run: ``python bench/ingest.py [--runs N]``
"""

from __future__ import annotations

import argparse
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

from PIL import Image, ImageOps  # noqa: E402

from core.archive.catalogue import load_folder  # noqa: E402
from core.cache import DiskCache, sha256_file  # noqa: E402

N_PHOTOS = 1000
SIDE = 1080


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def make_photos(target: Path, n: int = N_PHOTOS, *, distinct: bool = False) -> Path:
    """Write ``n`` 1080×1080 JPEGs made from the shared photos (reused if present).

    The sources are used in passes, every other one mirrored; so from the
    third pass on a photo repeats one of the first two, unless ``distinct``:
    then each pair of passes crops a little more (5 % a side each time), so
    every photo has its own bytes (the batch benches need ``n`` distinct photos).
    """
    marker = target / f".complete-{n}{'-distinct' if distinct else ''}"
    if marker.exists():
        return target
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    data = shared_dir() / "data"
    sources = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    sources += sorted((data / "instaloader-top20-celebs" / "DATA" / "IMAGES").rglob("*.jpg"))
    if not sources:
        raise SystemExit(f"no photos found under {data}")
    if distinct:  # the shared data has a few files twice
        sources = list({sha256_file(p): p for p in reversed(sources)}.values())[::-1]
    for i in range(n):
        rounds = i // len(sources)
        with Image.open(sources[i % len(sources)]) as img:
            img = img.convert("RGB")
            zoom = rounds // 2 if distinct else 0
            if zoom:
                keep = max(0.3, 1 - 0.1 * zoom)
                w, h = img.size
                dx, dy = round(w * (1 - keep) / 2), round(h * (1 - keep) / 2)
                img = img.crop((dx, dy, w - dx, h - dy))
            photo = ImageOps.fit(img, (SIDE, SIDE), Image.Resampling.BILINEAR)
            # Mirror every other pass so repeated sources are distinct files.
            if rounds % 2:
                photo = ImageOps.mirror(photo)
            photo.save(target / f"photo_{i:04d}.jpg", "JPEG", quality=90)
    marker.touch()
    return target


def timed_load(folder: Path, cache_root: Path) -> tuple[float, int]:
    start = time.perf_counter()
    archive = load_folder(folder, cache=DiskCache(cache_root))
    return time.perf_counter() - start, archive.n_images


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="cold runs (warm runs: twice as many)")
    args = parser.parse_args()

    folder = make_photos(REPO / "bench" / "out" / "ingest-1000")
    cold, warm = [], []
    for _ in range(args.runs):
        cache_root = Path(tempfile.mkdtemp(prefix="feedlens-bench-"))
        try:
            seconds, n = timed_load(folder, cache_root)
            assert n == N_PHOTOS, n
            cold.append(seconds)
            for _ in range(2):
                warm.append(timed_load(folder, cache_root)[0])
        finally:
            shutil.rmtree(cache_root, ignore_errors=True)
    emit("ingest_photos", N_PHOTOS, "photos")
    emit("ingest_photo_side", SIDE, "px")
    emit("ingest_cpu_count", os.cpu_count() or 0, "cores")
    emit("ingest_1000_cold_s", statistics.median(cold), "s")
    emit("ingest_1000_warm_s", statistics.median(warm), "s")
    emit("ingest_cold_per_photo_ms", statistics.median(cold) / N_PHOTOS * 1000, "ms")


if __name__ == "__main__":
    main()
