"""Comparing images: a difference view, per-channel histograms and PSNR.

What a page shows beside a before/after pair; on any image
:func:`core.filters.convert.to_float` accepts.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray

from .convert import FloatImage, _check_finite, _split, to_float

__all__ = ["absolute_difference", "channel_histograms", "psnr"]


def absolute_difference(before: ArrayLike, after: ArrayLike, *, gain: float = 1.0) -> FloatImage:
    """``|after - before| * gain`` for a difference view (alpha dropped).

    Parameters
    ----------
    before, after : array_like
        Images of the same height and width; a gray image is compared with
        each channel of a colour one.
    gain : float
        Amplification, ``> 0``; small differences become visible with 4-10.

    Returns
    -------
    ndarray of float32
        Values in ``[0, 1]``; 2-D when both inputs are gray.

    Raises
    ------
    ValueError
        If the sizes differ (after a crop or a rotation with reshape).

    Examples
    --------
    >>> print(absolute_difference(np.zeros((1, 2)), np.array([[0.1, 0.5]]), gain=2))
    [[0.2 1. ]]
    """
    a, _ = _split(to_float(before))
    b, _ = _split(to_float(after))
    if a.shape[:2] != b.shape[:2]:
        raise ValueError(
            f"cannot compare images of different sizes ({a.shape[1]}x{a.shape[0]} and "
            f"{b.shape[1]}x{b.shape[0]}); geometry steps change the size"
        )
    gain = _check_finite("gain", gain)
    if gain <= 0:
        raise ValueError("gain must be > 0")
    if a.ndim != b.ndim:
        a = a[:, :, None] if a.ndim == 2 else a
        b = b[:, :, None] if b.ndim == 2 else b
    return np.clip(np.abs(b - a) * np.float32(gain), 0.0, 1.0).astype(np.float32)


def channel_histograms(image: ArrayLike, bins: int = 256) -> dict[str, NDArray[np.int64]]:
    """Count values per channel in ``bins`` equal bins over ``[0, 1]``.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    bins : int
        Number of bins (256 gives one per 8-bit level).

    Returns
    -------
    dict of str to ndarray of int64
        ``{"gray": counts}`` for a gray image, otherwise
        ``{"red": ..., "green": ..., "blue": ...}`` (alpha not counted).

    Examples
    --------
    >>> channel_histograms(np.array([[0, 255, 255]], dtype=np.uint8), bins=2)["gray"].tolist()
    [1, 2]
    """
    bins = int(bins)
    if not 1 <= bins <= 65536:
        raise ValueError("bins must be within 1..65536")
    colour, _ = _split(to_float(image))
    idx = np.minimum((colour * np.float32(bins)).astype(np.int64), bins - 1)
    if colour.ndim == 2:
        return {"gray": np.bincount(idx.ravel(), minlength=bins)}
    return {
        name: np.bincount(idx[:, :, c].ravel(), minlength=bins)
        for c, name in enumerate(("red", "green", "blue"))
    }


def psnr(reference: ArrayLike, image: ArrayLike) -> float:
    """Peak signal-to-noise ratio in dB (data range 1), higher is closer.

    Parameters
    ----------
    reference, image : array_like
        Images of the same shape, any supported dtype.

    Returns
    -------
    float
        ``10 log10(1 / MSE)``; ``inf`` for identical images.

    Examples
    --------
    >>> round(psnr(np.zeros((2, 2)), np.full((2, 2), 0.1)), 3)
    20.0
    """
    a, b = to_float(reference), to_float(image)
    if a.shape != b.shape:
        raise ValueError(f"shapes differ: {a.shape} and {b.shape}")
    mse = float(np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)
