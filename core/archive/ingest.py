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
    "ingest_plain",
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
    """What decoding one image file taught us.

    Examples
    --------
    >>> info = ImageInfo("ab12", 640, 480, "JPEG", [], pd.Timestamp("2024-05-01 10:00", tz="UTC"))
    >>> ImageInfo.from_plain(info.to_plain()) == info
    True
    """

    sha256: str
    width: int
    height: int
    format: str
    notes: list[str]
    taken_at: pd.Timestamp | None

    def to_plain(self) -> dict:
        """The info as plain JSON-able data (``taken_at`` in ISO 8601), for a worker process to return."""
        return {"sha256": self.sha256, "width": self.width, "height": self.height, "format": self.format,
                "notes": list(self.notes), "taken_at": None if self.taken_at is None else self.taken_at.isoformat()}

    @classmethod
    def from_plain(cls, data: dict) -> "ImageInfo":
        """The inverse of :meth:`to_plain`."""
        taken_at = data.get("taken_at")
        return cls(data["sha256"], int(data["width"]), int(data["height"]), data["format"], list(data["notes"]),
                   None if taken_at is None else pd.Timestamp(taken_at))


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
    return _ingest(path, cache)[0]


def _ingest(path: Path, cache: DiskCache) -> tuple[ImageInfo, bool]:
    """:func:`ingest_file`, and whether it decoded the photo (False: read back from the cache)."""
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
                         _exif_time(info.get("taken_at"))), False
    decoded = decode_image(data, max_side=THUMB_SIDE)
    cache.put(_THUMB_KIND, sha, encode_jpeg(decoded.pixels, quality=85), ".jpg")
    info = {"width": decoded.width, "height": decoded.height, "format": decoded.format,
            "notes": decoded.notes, "taken_at": decoded.taken_at}
    cache.put(_INFO_KIND, sha, json.dumps(info).encode(), ".json")
    return ImageInfo(sha, decoded.width, decoded.height, decoded.format, decoded.notes,
                     _exif_time(decoded.taken_at)), True


def _as_image_error(exc: Exception) -> ImageError:
    # What the import lists for a file it could not use (the app's and the batch's words are the same).
    if isinstance(exc, ImageError):
        return exc
    return ImageError(f"the decoder failed: {type(exc).__name__}: {exc}")


def ingest_plain(path: Path, cache: DiskCache) -> dict:
    """:func:`ingest_file` as plain data, for a worker process to return to the import's driver.

    Returns
    -------
    dict
        :meth:`ImageInfo.to_plain`'s fields plus ``decoded`` (True when the
        photo was decoded now, False when read back from the cache); or
        ``{"error": reason}`` for a file that is not a usable image, worded as
        :func:`ingest_files` words it.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp()); cache = DiskCache(folder / "cache")
    >>> Image.new("RGB", (64, 48), "red").save(folder / "red.jpg")
    >>> first = ingest_plain(folder / "red.jpg", cache)
    >>> first["width"], first["decoded"], ingest_plain(folder / "red.jpg", cache)["decoded"]
    (64, True, False)
    >>> _ = (folder / "fake.jpg").write_text("not an image")
    >>> sorted(ingest_plain(folder / "fake.jpg", cache))
    ['error']
    """
    try:
        info, decoded = _ingest(Path(path), cache)
    except Exception as exc:  # noqa: BLE001 - one odd file must not stop the import
        return {"error": str(_as_image_error(exc))}
    return {**info.to_plain(), "decoded": decoded}


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
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the import
            results[i] = _as_image_error(exc)

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
