"""Pixel formats: the one owner of "give me uint8 RGB"."""

from __future__ import annotations

import numpy as np

__all__ = ["as_uint8_rgb"]


def as_uint8_rgb(image: np.ndarray) -> np.ndarray:
    """A contiguous ``(H, W, 3)`` uint8 view or copy of ``image``.

    Greyscale is repeated to three channels and an alpha channel dropped;
    anything that is not uint8 pixels is refused (decode files with
    :func:`core.image.io.load_image`, which handles every mode).

    Examples
    --------
    >>> as_uint8_rgb(np.zeros((2, 3), np.uint8)).shape
    (2, 3, 3)
    >>> as_uint8_rgb(np.zeros((2, 3, 4), np.uint8)).shape
    (2, 3, 3)
    >>> as_uint8_rgb(np.zeros((2, 3, 3), np.float32))
    Traceback (most recent call last):
    ...
    ValueError: expected a uint8 image, got float32
    """
    image = np.asarray(image)
    if image.dtype != np.uint8:
        raise ValueError(f"expected a uint8 image, got {image.dtype}")
    if image.ndim == 2:
        image = np.repeat(image[:, :, None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) RGB image, got shape {image.shape}")
    return np.ascontiguousarray(image[:, :, :3])
