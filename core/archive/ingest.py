"""Decode every image of an archive once: checksum, size, thumbnail.

Results are cached by the image's sha256, so the same photo seen again (in
another upload, or after the catalogue cache was cleared) costs a hash, not a
decode.
"""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from ..cache import DiskCache, sha256_bytes
from ..config import LIMITS
from ..image.io import ImageError, decode_image, encode_jpeg
from ..jobs import CancelCheck, Cancelled, Progress

__all__ = [
    "THUMB_SIDE",
    "ImageInfo",
    "ingest_file",
    "ingest_files",
    "thumbnail_bytes",
]

#: Longest side of the cached thumbnails: enough for a grid, a t-SNE map and a
#: 224-pixel CNN input, and small enough that JPEG draft mode decodes a 1080-px
#: photo straight to 270 px (a 4x cheaper decode than 540 px).
THUMB_SIDE = 256
_THUMB_KIND = f"thumb{THUMB_SIDE}"
_INFO_KIND = "imageinfo-v1"



@dataclass
class ImageInfo:
    """What decoding one image file taught us."""

    sha256: str
    width: int
    height: int
    format: str
    notes: list[str]
    taken_at: pd.Timestamp | None


def _exif_time(value: str | None) -> pd.Timestamp | None:
    # EXIF times are camera-local without a zone; UTC is the least-bad reading.
    if not value:
        return None
    try:
        return pd.Timestamp(pd.to_datetime(value, format="%Y:%m:%d %H:%M:%S"), tz="UTC")
    except (ValueError, TypeError):
        return None


def ingest_file(path: Path, cache: DiskCache) -> ImageInfo:
    """Hash, validate and thumbnail one image file.

    Raises
    ------
    ImageError
        If the file is not a usable image; the message says why.
    """
    try:
        size = path.stat().st_size
        if size > LIMITS.max_file_bytes:
            raise ImageError(f"file is {size / 1024**2:.0f} MB; the limit is {LIMITS.max_file_bytes / 1024**2:.0f} MB")
        data = path.read_bytes()
    except OSError as exc:
        raise ImageError(f"cannot be read ({exc.strerror or exc})") from None
    sha = sha256_bytes(data)
    cached = cache.get(_INFO_KIND, sha, ".json")
    if cached is not None and cache.exists(_THUMB_KIND, sha, ".jpg"):
        info = json.loads(cached)
        return ImageInfo(sha, info["width"], info["height"], info["format"], info["notes"],
                         _exif_time(info.get("taken_at")))
    decoded = decode_image(data, max_side=THUMB_SIDE)
    cache.put(_THUMB_KIND, sha, encode_jpeg(decoded.pixels, quality=85), ".jpg")
    info = {"width": decoded.width, "height": decoded.height, "format": decoded.format,
            "notes": decoded.notes, "taken_at": decoded.taken_at}
    cache.put(_INFO_KIND, sha, json.dumps(info).encode(), ".json")
    return ImageInfo(sha, decoded.width, decoded.height, decoded.format, decoded.notes,
                     _exif_time(decoded.taken_at))


def ingest_files(
    paths: list[Path],
    cache: DiskCache,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    workers: int | None = None,
) -> list[ImageInfo | ImageError]:
    """Run :func:`ingest_file` over many files in threads.

    Pillow's decoders and hashlib release the GIL, so threads use both cores.

    Returns
    -------
    list
        One :class:`ImageInfo` or :class:`ImageError` per path, in order.

    Raises
    ------
    Cancelled
        When ``cancel()`` returns True; entries written so far stay valid.
    """
    total = len(paths)
    results: list[ImageInfo | ImageError | None] = [None] * total
    workers = workers or min(8, (os.cpu_count() or 2) * 2)

    def work(i: int) -> None:
        try:
            results[i] = ingest_file(paths[i], cache)
        except ImageError as exc:
            results[i] = exc
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the import
            results[i] = ImageError(f"the decoder failed: {type(exc).__name__}: {exc}")

    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(work, i) for i in range(total)]
        for done, future in enumerate(futures, start=1):
            if cancel is not None and cancel():
                raise Cancelled("import cancelled")
            future.result()
            if progress is not None and (done % 16 == 0 or done == total):
                progress(done, total, f"Reading photos: {done} of {total}")
    finally:
        # On cancel (or Streamlit stopping the script for a rerun) drop the
        # queued work instead of finishing it.
        pool.shutdown(wait=True, cancel_futures=True)
    return results  # type: ignore[return-value]


def thumbnail_bytes(sha256: str, path: str | Path, cache: DiskCache) -> bytes | None:
    """The cached JPEG thumbnail of an image, rebuilt from ``path`` if evicted."""
    data = cache.get(_THUMB_KIND, sha256, ".jpg")
    if data is not None:
        return data
    try:
        ingest_file(Path(path), cache)
    except ImageError:
        return None
    return cache.get(_THUMB_KIND, sha256, ".jpg")
