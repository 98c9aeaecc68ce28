"""The working format of every filter: float32 in ``[0, 1]``, and the helpers they share.

:func:`to_float` turns any supported image into the working format,
:func:`to_uint8` turns a result back for display, :func:`luminance` gives
the luma. The private helpers here (alpha split and join, per-channel and
luminance application, border padding, a uniform-grid look-up, the OpenCV
switch) are shared by the filter modules of :mod:`core.filters`.

Conventions
-----------
Every filter takes an image and returns a new image; nothing is modified in
place and nothing here imports Streamlit.

Input
    ``uint8`` (0..255), ``uint16`` (0..65535), ``bool`` or floating point
    (assumed 0..1; values outside are clipped, NaN and inf are refused).
    Shapes: grayscale ``(H, W)``, RGB ``(H, W, 3)`` or RGBA ``(H, W, 4)``;
    ``(H, W, 1)`` is treated as grayscale.
Output
    Always ``float32`` in ``[0, 1]`` (see :func:`to_float`); use
    :func:`to_uint8` for display. 16-bit inputs keep their precision (float32
    holds 24 bits).
Alpha
    The alpha channel of an RGBA image is never changed by a *value* step
    (blur, kernel, contrast, colour). *Geometric* steps (crop, flips, rotate)
    move it with the pixels; rotation makes the new corners transparent.
Colour
    Blurs, the median, custom kernels, masks and noise work on each of R, G
    and B separately ("per channel"). Equalisation, CLAHE and edges default to
    the *luminance* (``channel_mode="luminance"``): the luma
    ``Y = 0.2125 R + 0.7154 G + 0.0721 B`` (the weights of
    :func:`skimage.color.rgb2gray`) is processed and the change is added back
    to R, G and B, which keeps the colour-difference (chroma) channels
    ``R - Y`` and ``B - Y`` -- the YCbCr way of equalising a photo without
    shifting its hues. ``channel_mode="per_channel"`` processes R, G and B
    independently instead (stronger, but shifts colours). Edges on luminance
    return a gray image.

Speed
-----
Target: under 150 ms per step on a 1080x1080 RGB photo (``bench/filters.py``).
OpenCV (``cv2``, installed with mediapipe) is optional: when importable it
rounds :func:`to_uint8` in one pass and runs the fast paths of
:mod:`core.filters.blur` and :mod:`core.filters.kernels`, which give the
:mod:`scipy.ndimage` results (tests run both).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

try:  # OpenCV is optional: a fast path, never the only path.
    import cv2 as _cv2
except Exception:  # pragma: no cover - depends on the environment
    _cv2 = None

__all__ = [
    "FloatImage",
    "LUMA_WEIGHTS",
    "BORDER_MODES",
    "CHANNEL_MODES",
    "to_float",
    "to_uint8",
    "luminance",
]

FloatImage = NDArray[np.float32]

#: Rec. 709 luma weights, as used by :func:`skimage.color.rgb2gray`.
LUMA_WEIGHTS: NDArray[np.float32] = np.array([0.2125, 0.7154, 0.0721], dtype=np.float32)

#: Border modes, named as in :mod:`scipy.ndimage`, mapped to :func:`numpy.pad`.
_NP_PAD_MODE = {
    "reflect": "symmetric",  # d c b a | a b c d | d c b a
    "mirror": "reflect",  # d c b | a b c d | c b a
    "nearest": "edge",  # a a a | a b c d | d d d
    "wrap": "wrap",  # a b c d | a b c d | a b c d
    "constant": "constant",  # k k k | a b c d | k k k
}
BORDER_MODES: tuple[str, ...] = tuple(_NP_PAD_MODE)
CHANNEL_MODES: tuple[str, ...] = ("luminance", "per_channel")


def to_float(image: ArrayLike) -> FloatImage:
    """Convert an image to the working format: float32 in ``[0, 1]``.

    Parameters
    ----------
    image : array_like
        ``(H, W)``, ``(H, W, 1)``, ``(H, W, 3)`` or ``(H, W, 4)``; dtype
        ``uint8`` (divided by 255), ``uint16`` (divided by 65535), ``bool``,
        or float (clipped to ``[0, 1]``).

    Returns
    -------
    ndarray of float32
        Same shape (``(H, W, 1)`` becomes ``(H, W)``). A float32 input already
        in range is returned as is, not copied: callers must not write to it.

    Raises
    ------
    ValueError
        Unsupported dtype or shape, empty image, NaN or infinite values.

    Examples
    --------
    >>> to_float(np.array([[0, 255]], dtype=np.uint8))
    array([[0., 1.]], dtype=float32)
    >>> to_float(np.array([[0, 65535]], dtype=np.uint16)).tolist()
    [[0.0, 1.0]]
    """
    arr = np.asarray(image)
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[2] not in (3, 4)):
        raise ValueError(
            f"image must be (H, W), (H, W, 3) or (H, W, 4); got shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"image is empty (shape {arr.shape})")
    if arr.dtype == np.uint8:
        return arr.astype(np.float32) / np.float32(255)
    if arr.dtype == np.uint16:
        return arr.astype(np.float32) / np.float32(65535)
    if arr.dtype == np.bool_:
        return arr.astype(np.float32)
    if np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32, copy=False)
        lo, hi = float(out.min()), float(out.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise ValueError("image contains NaN or infinite values")
        if lo < 0.0 or hi > 1.0:
            out = np.clip(out, 0.0, 1.0)
        return out
    raise ValueError(
        f"unsupported image dtype {arr.dtype}; use uint8, uint16, bool or float in [0, 1]"
    )


def to_uint8(image: ArrayLike) -> NDArray[np.uint8]:
    """Convert an image to ``uint8`` for display, rounding to nearest.

    Parameters
    ----------
    image : array_like
        Any image :func:`to_float` accepts.

    Returns
    -------
    ndarray of uint8
        Same shape, values 0..255.

    Examples
    --------
    >>> to_uint8(np.array([[0.0, 0.5, 1.0]])).tolist()
    [[0, 128, 255]]
    """
    img = to_float(image)
    if _cv2 is not None:  # same rounding (to nearest even), one pass instead of three
        return _cv2.convertScaleAbs(np.ascontiguousarray(img), alpha=255.0)
    return np.rint(img * np.float32(255)).astype(np.uint8)


def _split(img: FloatImage) -> tuple[FloatImage, FloatImage | None]:
    """Split off the alpha channel of an RGBA image."""
    if img.ndim == 3 and img.shape[2] == 4:
        return img[:, :, :3], img[:, :, 3]
    return img, None


def _join(colour: FloatImage, alpha: FloatImage | None) -> FloatImage:
    """Re-attach alpha; a gray result is spread over R, G and B first."""
    colour = colour.astype(np.float32, copy=False)
    if alpha is None:
        return colour
    if colour.ndim == 2:
        colour = np.repeat(colour[:, :, None], 3, axis=2)
    return np.concatenate([colour, alpha[:, :, None]], axis=2)


def _per_channel(colour: FloatImage, fn: Callable[[FloatImage], np.ndarray]) -> FloatImage:
    """Apply a 2-D function to a gray image or to each of R, G, B."""
    if colour.ndim == 2:
        return np.asarray(fn(colour), dtype=np.float32)
    return np.stack([np.asarray(fn(colour[:, :, c]), dtype=np.float32) for c in range(3)], axis=2)


def luminance(image: ArrayLike) -> FloatImage:
    """Return the luma ``Y`` of an image (Rec. 709 weights, like ``rgb2gray``).

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image (alpha is ignored).

    Returns
    -------
    ndarray of float32, shape (H, W)
        Luma in ``[0, 1]``; a gray image is returned unchanged.

    Examples
    --------
    >>> luminance(np.ones((1, 1, 3), dtype=np.uint8) * 255).tolist()
    [[1.0]]
    """
    colour, _ = _split(to_float(image))
    if colour.ndim == 2:
        return colour
    return np.clip(colour @ LUMA_WEIGHTS, 0.0, 1.0)


def _apply_luminance(colour: FloatImage, fn: Callable[[FloatImage], np.ndarray]) -> FloatImage:
    """Apply ``fn`` to the luma and add the change to R, G and B (chroma kept)."""
    if colour.ndim == 2:
        return np.clip(np.asarray(fn(colour), dtype=np.float32), 0.0, 1.0)
    y = np.clip(colour @ LUMA_WEIGHTS, 0.0, 1.0)
    delta = np.asarray(fn(y), dtype=np.float32) - y
    out = colour + delta[:, :, None]
    return np.clip(out, 0.0, 1.0, out=out)


def _interp_uniform(x: FloatImage, start: float, stop: float, table: np.ndarray) -> FloatImage:
    """``np.interp(x, linspace(start, stop, len(table)), table)`` in float32.

    The grid is uniform, so the interval is computed instead of searched:
    about 4x faster than ``np.interp`` on a photo, equal to float32 rounding.
    """
    tab = np.asarray(table, dtype=np.float32)
    n = tab.size
    if n < 2 or stop <= start:
        return np.full(x.shape, tab[-1], dtype=np.float32)
    t = (x - np.float32(start)) * np.float32((n - 1) / (stop - start))
    np.clip(t, 0.0, n - 1, out=t)
    i = t.astype(np.intp)
    np.minimum(i, n - 2, out=i)
    t -= i
    slope = np.append(np.diff(tab), np.float32(0))
    return tab[i] + t * slope[i]


def _check_channel_mode(channel_mode: str) -> None:
    if channel_mode not in CHANNEL_MODES:
        raise ValueError(f"channel_mode must be one of {CHANNEL_MODES}; got {channel_mode!r}")


def _check_finite(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number; got {value}")
    return value


def _pad(img: FloatImage, r: int, mode: str, cval: float = 0.0) -> FloatImage:
    """Pad the two spatial axes by ``r`` pixels, scipy.ndimage border semantics."""
    widths = ((r, r), (r, r)) + ((0, 0),) * (img.ndim - 2)
    if mode == "constant":
        return np.pad(img, widths, mode="constant", constant_values=np.float32(cval))
    return np.pad(img, widths, mode=_NP_PAD_MODE[mode])


def _opencv_for(img: np.ndarray, r: int) -> Any:
    """OpenCV when it is there and the image is wider than a pad of ``r`` pixels, else None.

    Every fast path of the filters asks here, so switching ``_cv2`` off in
    this module (as the tests do) runs them all on scipy.
    """
    if _cv2 is not None and r > 0 and min(img.shape[0], img.shape[1]) > r:
        return _cv2
    return None
