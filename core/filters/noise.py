"""Noise: salt-and-pepper noise, to try the median filter on.

On any image :func:`core.filters.convert.to_float` accepts; float32
``[0, 1]`` out, alpha untouched.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from .convert import FloatImage, _check_finite, _join, _split, to_float

__all__ = ["add_salt_pepper_noise"]


def add_salt_pepper_noise(
    image: ArrayLike,
    amount: float = 0.05,
    *,
    salt_vs_pepper: float = 0.5,
    random_state: int | np.random.Generator | None = None,
) -> FloatImage:
    """Set a random fraction of values to 0 (pepper) or 1 (salt).

    Each colour value is hit independently (as ``skimage.util.random_noise``
    with ``mode="s&p"``), so a colour photo gets coloured specks. Meant for
    demonstrating and testing denoisers.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    amount : float
        Fraction of values replaced, in ``[0, 1]``.
    salt_vs_pepper : float
        Fraction of the replaced values set to 1, in ``[0, 1]``.
    random_state : int, Generator or None
        Seed for reproducible noise.

    Returns
    -------
    ndarray of float32
        Noisy copy; alpha untouched.

    Examples
    --------
    >>> noisy = add_salt_pepper_noise(np.full((100, 100), 0.5), 0.1, random_state=0)
    >>> round(float(np.mean(noisy != 0.5)), 1)
    0.1
    """
    amount = _check_finite("amount", amount)
    salt_vs_pepper = _check_finite("salt_vs_pepper", salt_vs_pepper)
    if not 0.0 <= amount <= 1.0 or not 0.0 <= salt_vs_pepper <= 1.0:
        raise ValueError("amount and salt_vs_pepper must be within [0, 1]")
    rng = np.random.default_rng(random_state)
    colour, alpha = _split(to_float(image))
    out = colour.copy()
    hit = rng.random(out.shape) < amount
    salt = rng.random(out.shape) < salt_vs_pepper
    out[hit & salt] = 1.0
    out[hit & ~salt] = 0.0
    return _join(out, alpha)
