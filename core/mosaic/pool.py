"""The photos a mosaic is built from: which ones, and their square tiles from the cache.

:func:`tile_pool` picks the archive's photos (each image once, the target
left out if asked, at most :data:`MAX_PHOTOS` of the most recent ones);
:func:`load_photo_tiles` cuts each into a square tile of a given size, from
the archive's thumbnail (tiles up to :data:`core.archive.ingest.THUMB_SIDE`
pixels) or from the original file (bigger tiles), and keeps every tile in the
disk cache (``mosaic-tile{size}``, one ``.npy`` per photo), so a second build
reads them back at once.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from ..archive.ingest import THUMB_SIDE, thumbnail_bytes
from ..cache import DiskCache, default_cache
from ..image.geometry import crop_square
from ..image.io import ImageError, decode_image, load_image
from ..jobs import CancelCheck, Progress, check_cancel, report
from .grid import square_tile

__all__ = ["MAX_PHOTOS", "TilePool", "tile_pool", "PhotoTiles", "load_photo_tiles"]

#: Photos considered at most (a 12,000 x 12,000 float64 cost matrix is 1.15 GB).
MAX_PHOTOS = 12_000


@dataclass
class TilePool:
    """The photos a mosaic may use.

    Attributes
    ----------
    shas, paths : list of str
        Each photo's sha256 and file, in catalogue order.
    available : int
        Photos there were before the :data:`MAX_PHOTOS` cap (the target left out).
    """

    shas: list[str]
    paths: list[str]
    available: int

    def __len__(self) -> int:
        return len(self.shas)

    @property
    def capped(self) -> bool:
        """Some photos were left out to stay under the cap."""
        return self.available > len(self.shas)


def tile_pool(catalogue: pd.DataFrame, *, exclude: str | None = None, max_photos: int = MAX_PHOTOS) -> TilePool:
    """The photos of a catalogue a mosaic may use: each image once, the most recent ``max_photos``.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive's catalogue (``sha256`` and ``path`` columns, oldest first).
    exclude : str, optional
        The sha256 of a photo to leave out (the target).
    max_photos : int

    Examples
    --------
    >>> cat = pd.DataFrame({"sha256": ["a", "b", "a", "c"], "path": ["1", "2", "1", "3"]})
    >>> tile_pool(cat, exclude="c")
    TilePool(shas=['a', 'b'], paths=['1', '2'], available=2)
    >>> pool = tile_pool(cat, max_photos=2)
    >>> pool.shas, pool.capped
    (['b', 'c'], True)
    """
    photos = catalogue.drop_duplicates("sha256") if len(catalogue) else catalogue
    if exclude is not None and len(photos):
        photos = photos[photos["sha256"] != exclude]
    available = len(photos)
    if available > max_photos:
        photos = photos.iloc[-max_photos:]
    return TilePool(photos["sha256"].astype(str).tolist() if len(photos) else [],
                    photos["path"].astype(str).tolist() if len(photos) else [], available)


@dataclass
class PhotoTiles:
    """Square tiles of many photos.

    Attributes
    ----------
    tiles : (P, size, size, 3) uint8
        One tile per photo asked for; black where the photo could not be read.
    failed : list of int
        Indices of the photos that could not be read.
    """

    tiles: NDArray[np.uint8]
    failed: list[int]


def _kind(size: int) -> str:
    return f"mosaic-tile{size}"


def photo_tile(sha: str, path: str, size: int, cache: DiskCache) -> NDArray[np.uint8] | None:
    """One photo's square tile at ``size`` px (cached), or None when it cannot be read."""
    cached = cache.get_array(_kind(size), sha)
    if cached is not None and cached.shape == (size, size, 3):
        return cached
    try:
        if size <= THUMB_SIDE:
            data = thumbnail_bytes(sha, path, cache)
            if data is None:
                return None
            square = crop_square(load_image(data))
        else:
            decoded = decode_image(path, max_side=4 * size)
            square = crop_square(np.asarray(decoded.pixels))
    except (ImageError, OSError):
        return None
    tile = square_tile(square, size)
    cache.put_array(_kind(size), sha, tile)  # atomic: a cancelled run leaves no half-written tile
    return tile


def load_photo_tiles(
    shas: Sequence[str],
    paths: Sequence[str],
    size: int,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    workers: int = 4,
) -> PhotoTiles:
    """Square tiles of every photo at ``size`` px, read from (and kept in) the disk cache.

    Parameters
    ----------
    shas, paths : sequences of str
        Each photo's sha256 (the cache key) and file.
    size : int
        Tile side in pixels.
    cache : DiskCache, optional
        Default: :func:`core.cache.default_cache`.
    progress : callable, optional
        ``progress(done, total, message)`` every 16 photos.
    cancel : callable, optional
        Polled after each photo.
    workers : int
        Threads decoding photos.

    Returns
    -------
    PhotoTiles

    Raises
    ------
    core.jobs.Cancelled
        ``cancel()`` returned True; the tiles written so far stay cached.
    """
    cache = cache or default_cache()
    total = len(shas)
    out = np.zeros((total, size, size, 3), np.uint8)
    failed: list[int] = []
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(photo_tile, s, p, size, cache) for s, p in zip(shas, paths)]
        for i, future in enumerate(futures):
            tile = future.result()
            if tile is None:
                failed.append(i)
            else:
                out[i] = tile
            check_cancel(cancel)
            if i % 16 == 0 or i == total - 1:
                report(progress, i + 1, total, f"Photo tiles at {size} px: {i + 1:,} of {total:,}")
    finally:
        # On cancel (or a caller stopping at a progress update) drop the queued work.
        pool.shutdown(wait=True, cancel_futures=True)
    return PhotoTiles(out, failed)
