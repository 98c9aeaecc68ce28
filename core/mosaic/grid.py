"""Mosaic geometry: the grid of tiles, the print size, and square tiles of the target and photos.

Steps 1 and 2 of the pipeline (see :mod:`core.mosaic`):

* :func:`plan_grid` chooses rows and columns from the number of photos and
  the target's aspect ratio; :func:`check_capacity` refuses a grid with more
  tiles than photos can fill, saying how to fix it.
* :func:`print_size` turns a paper or screen size to match the target and
  :func:`output_size` fits whole square tiles into it.
* :func:`target_tiles` crops the target to the grid's shape and cuts it into
  square tiles; :func:`square_tile` centre-crops a photo to a square and
  resizes it (Lanczos when shrinking). Tiles are *scored* at a small size
  (16x16 by default) and *rendered* at full size.

Every function takes arrays (or numbers) and returns arrays; resizing goes
through :func:`core.image.geometry.resize`.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..image.convert import as_uint8_rgb
from ..image.geometry import crop_square, resize
from ..jobs import JobError

__all__ = [
    "MosaicError",
    "plan_grid",
    "check_capacity",
    "print_size",
    "output_size",
    "crop_to_aspect",
    "square_tile",
    "square_tiles",
    "target_tiles",
]

#: Long side of the print when the output keeps the target's own shape.
DEFAULT_LONG_SIDE = 3000


class MosaicError(JobError, ValueError):
    """A mosaic that cannot be built as asked; the message says what to change."""


def plan_grid(
    n_photos: int,
    aspect: float,
    *,
    reuse: int = 1,
    max_tiles: int | None = None,
) -> tuple[int, int]:
    """Rows and columns of square tiles for ``n_photos`` photos.

    Among all grids with at most ``n_photos * reuse`` tiles (and at most
    ``max_tiles``), pick the one that minimises the aspect-ratio mismatch
    ``|log((cols / rows) / aspect)|`` (how much of the target is cropped away)
    plus the fraction of available photos left unused. Ties go to the larger
    grid.

    Parameters
    ----------
    n_photos : int
        Photos available (at least 1).
    aspect : float
        Target width / height (positive and finite).
    reuse : int
        How many times each photo may be used (at least 1).
    max_tiles : int, optional
        Upper bound on ``rows * cols``.

    Returns
    -------
    rows, cols : int

    Raises
    ------
    MosaicError
        No photos, a reuse limit below 1, or an unusable aspect ratio.

    Examples
    --------
    >>> plan_grid(10_000, 1.0)
    (100, 100)
    >>> plan_grid(12, 4 / 3)
    (3, 4)
    >>> plan_grid(1, 16 / 9)
    (1, 1)
    """
    if int(n_photos) < 1:
        raise MosaicError("A mosaic needs at least one photo; this archive has none.")
    if int(reuse) < 1:
        raise MosaicError(f"The reuse limit must be at least 1 (got {reuse}).")
    if not (isinstance(aspect, (int, float, np.floating)) and math.isfinite(aspect) and aspect > 0):
        raise MosaicError(f"The target's aspect ratio must be a positive number (got {aspect!r}).")
    budget = int(n_photos) * int(reuse)
    if max_tiles is not None:
        budget = max(1, min(budget, int(max_tiles)))
    rows = np.arange(1, budget + 1, dtype=np.int64)
    most = budget // rows
    closest = np.clip(np.rint(rows * aspect), 1, most).astype(np.int64)
    cand_r = np.concatenate([rows, rows])
    cand_c = np.concatenate([most, closest])
    mismatch = np.abs(np.log(cand_c / (cand_r * float(aspect))))
    unused = 1.0 - cand_r * cand_c / budget
    score = np.round(mismatch + unused, 12)
    # lexsort: primary key last -> lowest score, then most tiles, then fewest rows
    order = np.lexsort((cand_r, -(cand_r * cand_c), score))
    best = order[0]
    return int(cand_r[best]), int(cand_c[best])


def check_capacity(n_tiles: int, n_photos: int, reuse: int = 1) -> None:
    """Refuse a grid that the photos cannot fill, saying how to fix it.

    Raises
    ------
    MosaicError
        With a message that offers reuse or a smaller grid.

    Examples
    --------
    >>> check_capacity(12, 15)
    >>> check_capacity(20, 15)
    Traceback (most recent call last):
    ...
    core.mosaic.grid.MosaicError: The grid has 20 tiles but there are only 15 photos, each used at most once. Allow each photo to be used up to 2 times, or choose a grid of at most 15 tiles (for example 3 x 5).
    """
    if n_photos < 1:
        raise MosaicError("A mosaic needs at least one photo; this archive has none.")
    if reuse < 1:
        raise MosaicError(f"The reuse limit must be at least 1 (got {reuse}).")
    capacity = n_photos * reuse
    if n_tiles <= capacity:
        return
    need = -(-n_tiles // n_photos)
    r, c = _largest_grid(capacity)
    times = "once" if reuse == 1 else f"{reuse} times"
    raise MosaicError(
        f"The grid has {n_tiles:,} tiles but there are only {n_photos:,} photos, each used at most "
        f"{times}. Allow each photo to be used up to {need} times, or choose a grid of at most "
        f"{capacity:,} tiles (for example {r} x {c})."
    )


def _largest_grid(n: int) -> tuple[int, int]:
    """The most nearly square grid with exactly ``n`` tiles or, failing that, fewest lost."""
    best = (1, n)
    for r in range(1, int(math.isqrt(n)) + 1):
        c = n // r
        if r * c > best[0] * best[1] or (r * c == best[0] * best[1] and c - r < best[1] - best[0]):
            best = (r, c)
    return best


def output_size(rows: int, cols: int, width: int, height: int) -> tuple[int, int, int]:
    """Tile side and final size of a mosaic that fits in ``width x height`` pixels.

    Returns
    -------
    tile, out_width, out_height : int
        Square tile side (at least 1 pixel) and ``cols * tile``, ``rows * tile``.

    Examples
    --------
    >>> output_size(30, 20, 2480, 3508)
    (116, 2320, 3480)
    """
    tile = max(1, min(int(width) // int(cols), int(height) // int(rows)))
    return tile, cols * tile, rows * tile


def print_size(aspect: float, width: int | None = None, height: int | None = None, *,
               turn: bool = True, long_side: int = DEFAULT_LONG_SIDE) -> tuple[int, int]:
    """The output's box in pixels for a target of width / height ``aspect``.

    Parameters
    ----------
    aspect : float
        The target's width / height.
    width, height : int, optional
        A paper or screen size (portrait as usually written). Without them the
        box has the target's own shape and ``long_side`` pixels on its long side.
    turn : bool
        Turn ``width x height`` to landscape when the target is landscape
        (print presets); False keeps it as given (a custom size).
    long_side : int

    Returns
    -------
    width, height : int

    Examples
    --------
    >>> print_size(1.5)
    (3000, 2000)
    >>> print_size(0.5)
    (1500, 3000)
    >>> print_size(4 / 3, 2480, 3508)
    (3508, 2480)
    >>> print_size(4 / 3, 2480, 3508, turn=False)
    (2480, 3508)
    """
    if width is None or height is None:
        if aspect >= 1:
            return long_side, round(long_side / aspect)
        return round(long_side * aspect), long_side
    if turn and aspect > 1:
        return max(width, height), min(width, height)
    return int(width), int(height)


def crop_to_aspect(image: NDArray, aspect: float) -> NDArray:
    """Centre crop ``image`` to width / height = ``aspect`` (a view, no copy).

    Examples
    --------
    >>> crop_to_aspect(np.zeros((100, 300, 3)), 1.0).shape
    (100, 100, 3)
    >>> crop_to_aspect(np.zeros((100, 300)), 4.0).shape
    (75, 300)
    """
    h, w = image.shape[:2]
    if w / h > aspect:
        new_w = max(1, min(w, round(h * aspect)))
        left = (w - new_w) // 2
        return image[:, left : left + new_w]
    new_h = max(1, min(h, round(w / aspect)))
    top = (h - new_h) // 2
    return image[top : top + new_h]


def square_tile(photo: NDArray, size: int) -> NDArray:
    """Centre-crop a photo to a square and resize it to ``size x size``.

    Parameters
    ----------
    photo : (H, W, 3) or (H, W) uint8
        Greyscale is repeated to three channels, alpha dropped.
    size : int

    Returns
    -------
    (size, size, 3) uint8

    Examples
    --------
    >>> square_tile(np.full((40, 60, 3), 7, np.uint8), 16).shape
    (16, 16, 3)
    """
    return resize(crop_square(as_uint8_rgb(photo)), size, size)


def square_tiles(photos: list[NDArray], size: int) -> NDArray:
    """:func:`square_tile` for many photos: ``(P, size, size, 3)`` uint8.

    Examples
    --------
    >>> square_tiles([np.zeros((5, 9, 3), np.uint8)] * 2, 4).shape
    (2, 4, 4, 3)
    """
    out = np.empty((len(photos), size, size, 3), np.uint8)
    for i, photo in enumerate(photos):
        out[i] = square_tile(photo, size)
    return out


def target_tiles(target: NDArray, rows: int, cols: int, size: int) -> NDArray:
    """Crop the target to the grid's shape and cut it into square tiles.

    Parameters
    ----------
    target : (H, W, 3) uint8
    rows, cols : int
    size : int
        Tile side in pixels.

    Returns
    -------
    (rows * cols, size, size, 3) uint8
        Tiles in row-major order (left to right, top to bottom).

    Examples
    --------
    >>> t = target_tiles(np.zeros((90, 120, 3), np.uint8), 3, 4, 8)
    >>> t.shape
    (12, 8, 8, 3)
    """
    fitted = resize(crop_to_aspect(as_uint8_rgb(target), cols / rows), cols * size, rows * size)
    return fitted.reshape(rows, size, cols, size, 3).transpose(0, 2, 1, 3, 4).reshape(rows * cols, size, size, 3)
