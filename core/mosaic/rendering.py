"""Drawing a mosaic: photos in place, an optional blend of the target, a heat map of tile weights, PNG.

The last step of the pipeline (see :mod:`core.mosaic`): :func:`render` puts
each tile's photo in place, :func:`blend` optionally mixes in the target
(0 by default: the seed calls heavy overlays "cheating"),
:func:`weight_overlay` shows the tile weights on the target, and
:func:`encode_png` writes the print file with its resolution.
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray

from ..image.geometry import resize
from .grid import crop_to_aspect

__all__ = ["render", "blend", "weight_overlay", "encode_png"]


def render(photo_tiles: NDArray, photo_of_tile: NDArray, rows: int, cols: int) -> NDArray[np.uint8]:
    """Put each tile's photo in place: ``(rows * s, cols * s, 3)`` uint8.

    Examples
    --------
    >>> tiles = np.stack([np.zeros((2, 2, 3), np.uint8), np.full((2, 2, 3), 9, np.uint8)])
    >>> render(tiles, np.array([1, 0]), 1, 2)[:, :, 0]
    array([[9, 9, 0, 0],
           [9, 9, 0, 0]], dtype=uint8)
    """
    t = np.asarray(photo_tiles)
    s = t.shape[1]
    placed = t[np.asarray(photo_of_tile)]
    return np.ascontiguousarray(placed.reshape(rows, cols, s, s, 3).transpose(0, 2, 1, 3, 4).reshape(rows * s, cols * s, 3))


def blend(mosaic: NDArray, target: NDArray, amount: float) -> NDArray[np.uint8]:
    """Mix the target over the mosaic (0 = pure mosaic, the honest default).

    The target is cropped to the mosaic's shape and resized to its size.

    Examples
    --------
    >>> blend(np.zeros((2, 2, 3), np.uint8), np.full((4, 4, 3), 200, np.uint8), 0.5)[0, 0]
    array([100, 100, 100], dtype=uint8)
    """
    if amount <= 0:
        return np.asarray(mosaic)
    h, w = mosaic.shape[:2]
    over = resize(crop_to_aspect(np.asarray(target)[:, :, :3], w / h), w, h)
    mixed = (1.0 - amount) * mosaic.astype(np.float32) + amount * over.astype(np.float32)
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


# Perceptually ordered colours (approximately matplotlib's "inferno").
_HEAT = np.array(
    [[0, 0, 4], [40, 11, 84], [101, 21, 110], [159, 42, 99], [212, 72, 66], [245, 125, 21], [250, 193, 39], [252, 255, 164]],
    np.float32,
)


def weight_overlay(image: NDArray, weights: NDArray, *, opacity: float = 0.55) -> NDArray[np.uint8]:
    """The image with a heat map of the tile weights on top.

    ``image`` is cropped to the grid's shape; low weights are dark purple,
    high weights bright yellow.

    Examples
    --------
    >>> weight_overlay(np.zeros((20, 20, 3), np.uint8), np.array([[1.0, 5.0]])).shape
    (10, 20, 3)
    """
    rows, cols = np.shape(weights)
    img = crop_to_aspect(np.asarray(image)[:, :, :3], cols / rows)
    h, w = img.shape[:2]
    wt = np.asarray(weights, np.float64)
    span = wt.max() - wt.min()
    level = (wt - wt.min()) / span if span > 0 else np.zeros_like(wt)
    pos = level * (len(_HEAT) - 1)
    lo = np.floor(pos).astype(int).clip(0, len(_HEAT) - 2)
    frac = (pos - lo)[..., None]
    colours = (_HEAT[lo] * (1 - frac) + _HEAT[lo + 1] * frac).astype(np.float32)
    ys = np.minimum((np.arange(h) * rows) // h, rows - 1)
    xs = np.minimum((np.arange(w) * cols) // w, cols - 1)
    heat = colours[ys][:, xs]
    mixed = (1 - opacity) * img.astype(np.float32) + opacity * heat
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)


def encode_png(image: NDArray, dpi: int | None = None) -> bytes:
    """PNG bytes of an RGB image, with its print resolution when ``dpi`` is given.

    Examples
    --------
    >>> import io
    >>> from PIL import Image
    >>> png = Image.open(io.BytesIO(encode_png(np.zeros((2, 3, 3), np.uint8), dpi=300)))
    >>> png.size, [round(d) for d in png.info["dpi"]]
    ((3, 2), [300, 300])
    """
    from PIL import Image

    buf = io.BytesIO()
    extra = {"dpi": (dpi, dpi)} if dpi else {}
    Image.fromarray(np.asarray(image)).save(buf, "PNG", compress_level=3, **extra)
    return buf.getvalue()
