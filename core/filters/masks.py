"""Masks: paint outside a centred circle, or a band of rows (the lecture's masks).

On any image :func:`core.filters.convert.to_float` accepts; every colour
channel gets the value painted, alpha is kept; float32 ``[0, 1]`` out.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from .convert import FloatImage, _check_finite, _join, _split, to_float

__all__ = ["circular_mask", "blank_rows"]


def circular_mask(
    image: ArrayLike,
    radius: float = 1.0,
    *,
    fill: float = 0.0,
    invert: bool = False,
) -> FloatImage:
    """Paint everything outside a centred circle (the lecture's mask).

    The lecture masks ``(X - lx/2)**2 + (Y - ly/2)**2 > lx*ly/4``: the circle
    radius is half the geometric mean of height and width. ``radius`` scales
    that circle, so ``radius=1`` is the lecture's mask.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    radius : float
        Relative radius, ``> 0``; 1 is the lecture's circle.
    fill : float
        Value painted into the masked pixels, in ``[0, 1]`` (0 black).
    invert : bool
        Paint the inside of the circle instead.

    Returns
    -------
    ndarray of float32
        Masked copy; alpha untouched.

    Examples
    --------
    >>> out = circular_mask(np.ones((4, 4)))
    >>> out[0, 0], out[2, 2]
    (np.float32(0.0), np.float32(1.0))
    """
    radius = _check_finite("radius", radius)
    fill = _check_finite("fill", fill)
    if radius <= 0:
        raise ValueError(f"radius must be > 0; got {radius}")
    if not 0.0 <= fill <= 1.0:
        raise ValueError(f"fill must be within [0, 1]; got {fill}")
    colour, alpha = _split(to_float(image))
    lx, ly = colour.shape[:2]
    x, y = np.ogrid[0:lx, 0:ly]
    outside = (x - lx / 2) ** 2 + (y - ly / 2) ** 2 > radius**2 * lx * ly / 4
    out = colour.copy()
    out[~outside if invert else outside] = fill
    return _join(out, alpha)


def blank_rows(
    image: ArrayLike,
    start: float,
    stop: float,
    step: int = 1,
    *,
    value: float = 1.0,
    unit: str = "pixel",
) -> FloatImage:
    """Paint rows ``start:stop:step`` with a constant (the lecture's ``face[50:150] = 255``).

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    start, stop : float
        First row and the row after the last, as in a slice (``stop`` past
        the bottom is allowed); pixel rows, or fractions of the height
        (rounded down) with ``unit="fraction"``.
    step : int
        Paint every ``step``-th row, ``>= 1``.
    value : float
        Value painted, in ``[0, 1]`` (1 = white, as in the lecture).
    unit : {"pixel", "fraction"}
        How ``start`` and ``stop`` are given.

    Returns
    -------
    ndarray of float32
        Copy with the rows painted; alpha untouched.

    Examples
    --------
    >>> blank_rows(np.zeros((4, 1)), 1, 3)[:, 0].tolist()
    [0.0, 1.0, 1.0, 0.0]
    >>> blank_rows(np.zeros((4, 1)), 0, 1, 2, unit="fraction")[:, 0].tolist()
    [1.0, 0.0, 1.0, 0.0]
    """
    start, stop, value = (_check_finite(n, v) for n, v in (("start", start), ("stop", stop), ("value", value)))
    step = int(step)
    if step < 1:
        raise ValueError(f"step must be >= 1; got {step}")
    if start < 0 or stop < 0:
        raise ValueError("start and stop must be >= 0")
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"value must be within [0, 1]; got {value}")
    colour, alpha = _split(to_float(image))
    h = colour.shape[0]
    if unit == "fraction":
        r0, r1 = int(math.floor(start * h + 1e-9)), int(math.floor(stop * h + 1e-9))
    elif unit == "pixel":
        r0, r1 = int(round(start)), int(round(stop))
    else:
        raise ValueError(f"unit must be 'pixel' or 'fraction'; got {unit!r}")
    out = colour.copy()
    out[r0:r1:step] = value
    return _join(out, alpha)
