"""Image geometry: the one owner of square crops and of resizing.

Every page and pipeline shrinks photos through these few functions, so a
change of resampling (or a faster path) happens in one place. They take and
return NumPy arrays; Pillow does the resampling, OpenCV the area averaging
when it is installed.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from .convert import as_uint8_rgb

__all__ = ["crop_square", "fit_longest_side", "resize", "square_resize"]

_RESAMPLE = {
    "lanczos": Image.Resampling.LANCZOS,
    "bilinear": Image.Resampling.BILINEAR,
    "bicubic": Image.Resampling.BICUBIC,
    "box": Image.Resampling.BOX,
}


def crop_square(image: np.ndarray) -> np.ndarray:
    """Crop the largest centred square, as Instagram's profile grid does.

    Examples
    --------
    >>> crop_square(np.zeros((4, 6, 3), np.uint8)).shape
    (4, 4, 3)
    """
    h, w = image.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    return image[top : top + side, left : left + side]


def resize(image: np.ndarray, width: int, height: int, *, resample: str = "auto") -> np.ndarray:
    """Resize an ``(H, W, 3)`` uint8 or an ``(H, W)`` float image to ``width × height``.

    Parameters
    ----------
    image : ndarray
        uint8 RGB (or greyscale) pixels, or a float32 map (masks, weights).
    width, height : int
        The output size in pixels.
    resample : {"auto", "lanczos", "bilinear", "bicubic", "box"}
        ``auto``: Lanczos when shrinking uint8, bicubic when enlarging it,
        bilinear for float maps.

    Examples
    --------
    >>> resize(np.zeros((10, 20, 3), np.uint8), 4, 2).shape
    (2, 4, 3)
    >>> resize(np.ones((10, 10), np.float32), 5, 5).dtype
    dtype('float32')
    """
    if image.shape[1] == width and image.shape[0] == height:
        return np.array(image)
    if image.dtype == np.uint8:
        pil = Image.fromarray(np.ascontiguousarray(image))
        if resample == "auto":
            shrinking = image.shape[1] >= width and image.shape[0] >= height
            resample = "lanczos" if shrinking else "bicubic"
        return np.asarray(pil.resize((width, height), _RESAMPLE[resample], reducing_gap=3.0))
    pil = Image.fromarray(np.ascontiguousarray(image, dtype=np.float32))
    method = _RESAMPLE["bilinear" if resample == "auto" else resample]
    return np.asarray(pil.resize((width, height), method, reducing_gap=2.0))


def fit_longest_side(image: np.ndarray, max_side: int, *, resample: str = "lanczos") -> np.ndarray:
    """A copy whose longest side is at most ``max_side`` (``image`` itself when already small).

    Parameters
    ----------
    image : ndarray
        uint8 pixels ``(H, W)`` or ``(H, W, C)``; ``area`` takes uint16 and
        float too.
    max_side : int
        The longest side allowed, in pixels.
    resample : {"lanczos", "bilinear", "bicubic", "area", "stride"}
        ``area`` averages the pixels each output pixel covers (OpenCV's
        ``INTER_AREA``, or Pillow's box filter without OpenCV) and keeps the
        dtype: uint16 stays uint16, a float image is not rescaled.
        ``stride`` keeps every n-th pixel: no filtering, for detectors that
        resample the frame themselves anyway; the result may then be up to
        ``n - 1`` pixels smaller than ``max_side`` allows.

    Examples
    --------
    >>> fit_longest_side(np.zeros((1600, 1200, 3), np.uint8), 800).shape
    (800, 600, 3)
    >>> fit_longest_side(np.zeros((1600, 1200, 3), np.uint8), 800, resample="stride").shape
    (800, 600, 3)
    >>> fit_longest_side(np.ones((1600, 1200), np.float32), 800, resample="area").dtype
    dtype('float32')
    >>> small = np.zeros((10, 10, 3), np.uint8)
    >>> fit_longest_side(small, 800) is small
    True
    """
    h, w = image.shape[:2]
    if max(h, w) <= max_side:
        return image
    if resample == "stride":
        step = -(-max(h, w) // max_side)
        return np.ascontiguousarray(image[::step, ::step])
    scale = max_side / max(h, w)
    width, height = max(1, round(w * scale)), max(1, round(h * scale))
    if resample == "area":
        return _area(image, width, height)
    return resize(image, width, height, resample=resample)


def _area(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Shrink by area averaging in the image's own dtype (no full-size float copy of a big photo)."""
    try:
        import cv2
    except ImportError:  # OpenCV comes with mediapipe; without it Pillow's box filter averages too
        cv2 = None
    if cv2 is not None:
        out = cv2.resize(np.ascontiguousarray(image), (width, height), interpolation=cv2.INTER_AREA)
        return out[:, :, None] if image.ndim == 3 and out.ndim == 2 else out  # OpenCV drops a single channel
    if image.dtype == np.uint8 and (image.ndim == 2 or image.shape[2] in (3, 4)):
        return resize(image, width, height, resample="box")
    planes = image.reshape(image.shape[:2] + (-1,))  # Pillow's float mode holds one channel
    out = np.dstack([resize(planes[:, :, c].astype(np.float32), width, height, resample="box")
                     for c in range(planes.shape[2])]).reshape((height, width) + image.shape[2:])
    if np.issubdtype(image.dtype, np.integer):
        limits = np.iinfo(image.dtype)
        out = np.clip(np.rint(out), limits.min, limits.max)
    return out.astype(image.dtype)


def square_resize(image: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop to a square and resize to ``size × size`` (bilinear), as uint8 RGB.

    Parameters
    ----------
    image : array (H, W, 3) or (H, W)
        uint8 image; greyscale is repeated to three channels.
    size : int
        Output side in pixels.

    Examples
    --------
    >>> square_resize(np.zeros((30, 60, 3), np.uint8), 8).shape
    (8, 8, 3)
    >>> square_resize(np.zeros((5, 5), np.uint8), 4).shape
    (4, 4, 3)
    """
    image = crop_square(as_uint8_rgb(image))
    if image.shape[0] == size:
        return np.ascontiguousarray(image)
    return resize(image, size, size, resample="bilinear")
