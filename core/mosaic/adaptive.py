"""Adaptive tiles: a quadtree that gives faces, people and detail smaller tiles, as many tiles in all.

A uniform ``rows x cols`` grid spends as many tiles on the sky as on a face.
:func:`quadtree_cells` starts from big cells (``2**levels`` units a side, on
a grid of units twice as fine as the uniform grid) and splits, most needed
first, the cells with faces or people on them (MediaPipe masks, see
:mod:`core.mosaic.regions`) and then those with the most detail (the spread of
their pixels), until the mosaic has the same number of tiles as the uniform
grid. Cells are ``(top, left, size)`` in units; every cell is square.

:func:`cell_tiles` cuts the target into one tile per cell at the scoring
size (the assignment does not care that cells differ in size: every photo
is scored at the same size); :func:`cell_strips` draws a placement one band
of big cells at a time, each photo resized to its cell, for
:func:`core.mosaic.printing.write_print`; :func:`draw_cells` draws it whole
(small previews, tests).
"""

from __future__ import annotations

import heapq
from collections.abc import Iterator

import numpy as np
from numpy.typing import NDArray

from ..image.convert import as_uint8_rgb
from ..image.geometry import resize
from ..jobs import CancelCheck, check_cancel
from .grid import MosaicError, crop_to_aspect

__all__ = ["DEFAULT_LEVELS", "unit_grid", "quadtree_cells", "cell_labels", "cell_tiles", "cell_strips",
           "draw_cells"]

#: Cell sizes 1, 2 and 4 units: the smallest tile is half the uniform grid's, the largest twice.
DEFAULT_LEVELS = 2


def unit_grid(rows: int, cols: int, levels: int = DEFAULT_LEVELS) -> tuple[int, int]:
    """Rows and columns of units for a uniform ``rows x cols`` grid: twice as fine, whole big cells.

    Examples
    --------
    >>> unit_grid(30, 40)
    (60, 80)
    >>> unit_grid(31, 40)
    (64, 80)
    """
    big = 2**levels
    return max(1, round(2 * rows / big)) * big, max(1, round(2 * cols / big)) * big


def _fitted(target: NDArray, unit_rows: int, unit_cols: int, px: int) -> NDArray[np.uint8]:
    """The target cropped to the grid's shape and resized to ``px`` pixels per unit."""
    return resize(crop_to_aspect(as_uint8_rgb(target), unit_cols / unit_rows), unit_cols * px, unit_rows * px)


def _coverage(mask: NDArray | None, unit_rows: int, unit_cols: int) -> NDArray[np.float64]:
    """Fraction of each unit covered by ``mask`` (cropped to the grid's shape), ``(unit_rows, unit_cols)``."""
    if mask is None:
        return np.zeros((unit_rows, unit_cols))
    m = crop_to_aspect(np.asarray(mask, np.float32), unit_cols / unit_rows)
    q = 4
    return resize(m, unit_cols * q, unit_rows * q).reshape(unit_rows, q, unit_cols, q).mean(axis=(1, 3))


def quadtree_cells(
    target: NDArray,
    rows: int,
    cols: int,
    *,
    face: NDArray | None = None,
    person: NDArray | None = None,
    levels: int = DEFAULT_LEVELS,
    n_tiles: int | None = None,
    face_gain: float = 1.0,
    person_gain: float = 0.3,
) -> NDArray[np.int64]:
    """Quadtree cells over the target with as many tiles as a uniform ``rows x cols`` grid.

    Parameters
    ----------
    target : (H, W, 3) uint8
    rows, cols : int
        The uniform grid it replaces (:func:`unit_grid` gives the units).
    face, person : (H, W) bool, optional
        Masks at the target's resolution; cells on them are split first.
    levels : int
        Cells are 1 to ``2**levels`` units a side.
    n_tiles : int, optional
        Tiles wanted (default ``rows * cols``); the result has at most this many
        and at least this many minus 2 (a split adds 3).
    face_gain, person_gain : float
        How much a cell's face or person coverage counts against its detail
        (the spread of its pixels in [0, 1]) when choosing what to split.

    Returns
    -------
    (N, 3) int64
        ``(top, left, size)`` of each cell in units, in reading order of
        their top-left corners.

    Examples
    --------
    >>> img = np.zeros((64, 64, 3), np.uint8); img[:16, :16] = np.random.default_rng(0).integers(0, 255, (16, 16, 3))
    >>> cells = quadtree_cells(img, 4, 4)
    >>> len(cells), int(cells[:, 2].min()), int(cells[:, 2].max())
    (16, 1, 4)
    """
    unit_rows, unit_cols = unit_grid(rows, cols, levels)
    big = 2**levels
    want = int(n_tiles if n_tiles is not None else rows * cols)
    px = 4
    img = _fitted(target, unit_rows, unit_cols, px).astype(np.float32) / 255
    grey = img.mean(axis=2)
    # integral images of x and x^2 give any cell's spread in O(1)
    s1 = np.pad(grey.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    s2 = np.pad((grey**2).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    fc = _coverage(face, unit_rows, unit_cols)
    pc = _coverage(person, unit_rows, unit_cols)
    f1 = np.pad(fc.cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    p1 = np.pad(pc.cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def box(table: NDArray, y: int, x: int, size: int, scale: int) -> float:
        y0, x0, y1, x1 = y * scale, x * scale, (y + size) * scale, (x + size) * scale
        return float(table[y1, x1] - table[y0, x1] - table[y1, x0] + table[y0, x0])

    def need(y: int, x: int, size: int) -> float:
        n = (size * px) ** 2
        mean = box(s1, y, x, size, px) / n
        spread = max(0.0, box(s2, y, x, size, px) / n - mean * mean) ** 0.5
        area = size * size
        return spread + face_gain * box(f1, y, x, size, 1) / area + person_gain * box(p1, y, x, size, 1) / area

    heap: list[tuple[float, int, int, int]] = []
    done: list[tuple[int, int, int]] = []
    for y in range(0, unit_rows, big):
        for x in range(0, unit_cols, big):
            heapq.heappush(heap, (-need(y, x, big), y, x, big))
    count = len(heap)
    if count > want:
        raise MosaicError(f"{want:,} tiles are too few for adaptive tiles on this grid (at least {count:,}).")
    while heap and count + 3 <= want:
        _, y, x, size = heapq.heappop(heap)
        if size == 1:
            done.append((y, x, size))
            continue
        half = size // 2
        for dy in (0, half):
            for dx in (0, half):
                heapq.heappush(heap, (-need(y + dy, x + dx, half), y + dy, x + dx, half))
        count += 3
    done.extend((y, x, s) for _, y, x, s in heap)
    cells = np.array(sorted(done), np.int64).reshape(-1, 3)
    return cells


def cell_labels(cells: NDArray, face: NDArray | None, person: NDArray | None, unit_rows: int,
                unit_cols: int, threshold: float = 0.5) -> NDArray[np.int8]:
    """0 = background, 1 = person (not face), 2 = face, per cell (by the share of the cell covered).

    Examples
    --------
    >>> face = np.zeros((40, 40), bool); face[:10, :10] = True
    >>> cell_labels(np.array([[0, 0, 1], [0, 1, 1], [2, 0, 2]]), face, None, 4, 4).tolist()
    [2, 0, 0]
    """
    out = np.zeros(len(cells), np.int8)
    for mask, code in ((person, 1), (face, 2)):
        if mask is None:
            continue
        cov = _coverage(mask, unit_rows, unit_cols)
        share = np.array([cov[y : y + s, x : x + s].mean() for y, x, s in cells])
        out[share >= threshold] = code
    return out


def cell_tiles(target: NDArray, cells: NDArray, unit_rows: int, unit_cols: int, size: int) -> NDArray[np.uint8]:
    """One tile of the target per cell at ``size x size`` px (big cells averaged down): ``(N, size, size, 3)``.

    Examples
    --------
    >>> cell_tiles(np.zeros((40, 40, 3), np.uint8), np.array([[0, 0, 2], [2, 2, 1]]), 4, 4, 8).shape
    (2, 8, 8, 3)
    """
    big = int(np.max(cells[:, 2]))
    img = _fitted(target, unit_rows, unit_cols, size * big)  # every cell is a whole number of pixels
    out = np.empty((len(cells), size, size, 3), np.uint8)
    for n, (y, x, s) in enumerate(cells):
        side = s * size * big
        region = img[y * size * big : y * size * big + side, x * size * big : x * size * big + side]
        f = s * big
        out[n] = np.rint(region.reshape(size, f, size, f, 3).mean(axis=(1, 3))).astype(np.uint8)
    return out


def cell_strips(
    photo_tiles: NDArray[np.uint8],
    photo_of_cell: NDArray,
    cells: NDArray,
    unit_rows: int,
    unit_cols: int,
    unit_px: int,
    *,
    cancel: CancelCheck | None = None,
) -> Iterator[NDArray[np.uint8]]:
    """The adaptive mosaic one band of big cells at a time: ``(big * unit_px, unit_cols * unit_px, 3)`` arrays.

    ``photo_tiles`` are at the biggest cell's size (``big * unit_px``) or any
    size: each is resized (Lanczos when shrinking) to its cell.
    """
    big = int(np.max(cells[:, 2]))
    band_h = big * unit_px
    order = np.argsort(cells[:, 0], kind="stable")
    tops = cells[order, 0]
    tiles = np.asarray(photo_tiles)
    cache: dict[tuple[int, int], NDArray[np.uint8]] = {}
    for band_top in range(0, unit_rows, big):
        check_cancel(cancel)
        band = np.zeros((band_h, unit_cols * unit_px, 3), np.uint8)
        lo, hi = np.searchsorted(tops, band_top), np.searchsorted(tops, band_top + big)
        for n in order[lo:hi]:
            y, x, s = (int(v) for v in cells[n])
            side = s * unit_px
            key = (int(photo_of_cell[n]), side)
            if key not in cache:
                tile = tiles[key[0]]
                cache[key] = tile if tile.shape[0] == side else resize(tile, side, side)
            top = (y - band_top) * unit_px
            band[top : top + side, x * unit_px : x * unit_px + side] = cache[key]
        cache.clear()
        yield band


def draw_cells(photo_tiles: NDArray[np.uint8], photo_of_cell: NDArray, cells: NDArray, unit_rows: int,
               unit_cols: int, unit_px: int) -> NDArray[np.uint8]:
    """The whole adaptive mosaic (small pictures): :func:`cell_strips` stacked.

    Examples
    --------
    >>> tiles = np.stack([np.zeros((4, 4, 3), np.uint8), np.full((4, 4, 3), 9, np.uint8)])
    >>> draw_cells(tiles, np.array([1, 0, 0]), np.array([[0, 0, 2], [0, 2, 1], [1, 2, 1]]), 2, 4, 2).shape
    (4, 8, 3)
    """
    return np.concatenate(list(cell_strips(photo_tiles, photo_of_cell, cells, unit_rows, unit_cols, unit_px)))
