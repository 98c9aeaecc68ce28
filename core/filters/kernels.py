"""Small kernels: Sobel and Prewitt edges, and 3x3 or 5x5 convolutions of one's own.

The scipy-lectures tour's ``ndimage.sobel``/``prewitt`` and
``ndimage.convolve`` with a custom kernel (:data:`KERNEL_PRESETS` holds the
lecture's and a few classic ones), on any image
:func:`core.filters.convert.to_float` accepts; float32 ``[0, 1]`` out.
(The module is not called ``edges``: that name is the function's, and
``core.filters.edges`` must stay the function.)

Speed: OpenCV, when importable, runs the small correlations on a copy
padded with NumPy in the requested border mode, so the result is the
:mod:`scipy.ndimage` result (tests check it), only faster.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import ndimage as ndi

from .convert import (
    BORDER_MODES,
    LUMA_WEIGHTS,
    FloatImage,
    _check_channel_mode,
    _check_finite,
    _join,
    _opencv_for,
    _pad,
    _split,
    to_float,
)

__all__ = ["KERNEL_PRESETS", "KERNEL_MAX_ABS", "edges", "validate_kernel", "resize_kernel", "convolve_kernel"]

#: Largest absolute value allowed in a custom kernel.
KERNEL_MAX_ABS = 100.0
_KERNEL_SHAPES = ((3, 3), (5, 5))

#: Kernels offered as starting points for :func:`convolve_kernel`.
#: ``"seed"`` is the lecture's ``[[.1, .1, .1], [.1, .9, .1], [.1, .1, .1]]``
#: (it sums to 1.7, so without ``normalise`` it also brightens the image).
#: All others sum to 1 (box and Gaussian are stored already divided), so they
#: keep the brightness whether ``normalise`` is on or off.
KERNEL_PRESETS: dict[str, tuple[tuple[float, ...], ...]] = {
    "seed": ((0.1, 0.1, 0.1), (0.1, 0.9, 0.1), (0.1, 0.1, 0.1)),
    "sharpen": ((0.0, -1.0, 0.0), (-1.0, 5.0, -1.0), (0.0, -1.0, 0.0)),
    "emboss": ((-2.0, -1.0, 0.0), (-1.0, 1.0, 1.0), (0.0, 1.0, 2.0)),
    "box": tuple((1 / 9,) * 3 for _ in range(3)),
    "identity": ((0.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 0.0)),
    "box5": tuple((1 / 25,) * 5 for _ in range(5)),
    "gaussian5": tuple(tuple(a * b / 256 for b in (1, 4, 6, 4, 1)) for a in (1, 4, 6, 4, 1)),
}



def _correlate(img: FloatImage, kernel: np.ndarray, mode: str = "reflect", cval: float = 0.0) -> FloatImage:
    """Correlate each channel with a small odd square kernel (ndimage semantics)."""
    r = kernel.shape[0] // 2
    cv2 = _opencv_for(img, r)
    if cv2 is not None:
        padded = _pad(np.ascontiguousarray(img), r, mode, cval)
        out = cv2.filter2D(padded, -1, kernel.astype(np.float32), borderType=cv2.BORDER_CONSTANT)
        return out[r:-r, r:-r]
    k = kernel if img.ndim == 2 else kernel[:, :, None]
    return ndi.correlate(img, k, mode=mode, cval=cval).astype(np.float32, copy=False)


_EDGE_SMOOTH = {"sobel": (1.0, 2.0, 1.0), "prewitt": (1.0, 1.0, 1.0)}


def edges(
    image: ArrayLike,
    operator: str = "sobel",
    axis: int | None = None,
    *,
    channel_mode: str = "luminance",
    rescale: bool = True,
) -> FloatImage:
    """Detect edges with the Sobel or Prewitt operator.

    Along one axis the result is ``scipy.ndimage.sobel(x, axis)`` (or
    ``prewitt``); the magnitude is ``hypot`` of both axes. Border mode is
    ``"reflect"`` as in scipy.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    operator : {"sobel", "prewitt"}
        Derivative operator.
    axis : {None, 0, 1}
        None: gradient magnitude. 0: derivative along rows (down the image,
        shows horizontal edges). 1: along columns (shows vertical edges).
    channel_mode : {"luminance", "per_channel"}
        ``"luminance"`` (default) finds edges in the luma and returns a gray
        image (for RGBA: gray in R, G, B and the alpha kept);
        ``"per_channel"`` gives coloured edges, one map per channel.
    rescale : bool
        True: stretch so the strongest edge in the image is 1 (magnitude) or
        the strongest gradient maps to 0/1 (axis). False: divide by the
        largest possible value (``4*sqrt(2)`` for the Sobel magnitude,
        ``3*sqrt(2)`` for Prewitt, 4 or 3 along an axis), reproducible
        between photos.

    Returns
    -------
    ndarray of float32
        Magnitude in ``[0, 1]`` (0 = flat), or along an axis a signed
        gradient mapped to ``[0, 1]`` with 0.5 meaning zero.

    Examples
    --------
    >>> step = np.zeros((4, 4)); step[:, 2:] = 1
    >>> print(edges(step, "sobel", rescale=False)[0].round(3))
    [0.    0.707 0.707 0.   ]
    """
    if operator not in _EDGE_SMOOTH:
        raise ValueError(f"operator must be 'sobel' or 'prewitt'; got {operator!r}")
    if axis not in (None, 0, 1):
        raise ValueError(f"axis must be None (magnitude), 0 or 1; got {axis!r}")
    _check_channel_mode(channel_mode)
    colour, alpha = _split(to_float(image))
    src = colour @ LUMA_WEIGHTS if (channel_mode == "luminance" and colour.ndim == 3) else colour
    smooth = np.asarray(_EDGE_SMOOTH[operator])
    k0 = np.outer([-1.0, 0.0, 1.0], smooth)  # derivative along axis 0
    peak = float(smooth.sum())
    if axis is None:
        g = np.hypot(_correlate(src, k0), _correlate(src, k0.T))
        top = float(g.max()) if rescale else peak * math.sqrt(2.0)
        out = g / top if top > 0 else np.zeros_like(g)
    else:
        g = _correlate(src, k0 if axis == 0 else k0.T)
        top = float(np.abs(g).max()) if rescale else peak
        out = 0.5 + g / (2.0 * top) if top > 0 else np.full_like(g, 0.5)
    return _join(np.clip(out, 0.0, 1.0).astype(np.float32), alpha)


def validate_kernel(kernel: ArrayLike, normalise: bool = False) -> NDArray[np.float64]:
    """Check a custom convolution kernel and return it as a float array.

    Parameters
    ----------
    kernel : array_like
        3x3 or 5x5 grid of finite numbers, each within ``+-KERNEL_MAX_ABS``.
    normalise : bool
        If True, divide by the sum, so a flat area keeps its brightness.
        A kernel that sums to zero (edge detectors, some embosses) cannot be
        normalised and is refused instead of producing a NaN image.

    Returns
    -------
    ndarray of float64
        The kernel, divided by its sum if ``normalise``.

    Raises
    ------
    ValueError
        Wrong shape, non-numeric, NaN/inf or too large values, or zero sum
        with ``normalise``.

    Examples
    --------
    >>> validate_kernel([[1, 1, 1]] * 3, normalise=True)[0, 0].round(4)
    np.float64(0.1111)
    >>> validate_kernel([[0, 0, 0], [-1, 0, 1], [0, 0, 0]], normalise=True)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: the kernel sums to zero, so it cannot be normalised ...
    """
    try:
        k = np.array(kernel, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("kernel must be a 3x3 or 5x5 grid of numbers") from None
    if k.shape not in _KERNEL_SHAPES:
        raise ValueError(f"kernel must be 3x3 or 5x5 (odd and square); got shape {k.shape}")
    if not np.isfinite(k).all():
        raise ValueError("kernel values must be finite numbers (no NaN or infinity)")
    if np.abs(k).max() > KERNEL_MAX_ABS:
        raise ValueError(f"kernel values must lie within +-{KERNEL_MAX_ABS:g}")
    if normalise:
        total = float(k.sum())
        if abs(total) < 1e-9:
            raise ValueError(
                "the kernel sums to zero, so it cannot be normalised (that would divide "
                "by zero); turn 'normalise' off for edge-style kernels"
            )
        k = k / total
    return k


def resize_kernel(kernel: ArrayLike, size: int) -> NDArray[np.float64]:
    """A kernel grown to ``size x size`` with a ring of zeros, or shrunk to its centre.

    What switching a custom kernel between 3x3 and 5x5 does: a 3x3 kernel
    keeps its effect when grown; a 5x5 one keeps its inner 3x3.

    Parameters
    ----------
    kernel : array_like
        A 3x3 or 5x5 kernel (see :func:`validate_kernel`).
    size : {3, 5}
        The side wanted.

    Returns
    -------
    ndarray of float64, shape (size, size)

    Examples
    --------
    >>> resize_kernel(KERNEL_PRESETS["identity"], 5)[2].tolist()
    [0.0, 0.0, 1.0, 0.0, 0.0]
    >>> resize_kernel(np.arange(25).reshape(5, 5), 3)[0].tolist()
    [6.0, 7.0, 8.0]
    """
    k = validate_kernel(kernel)
    if (size, size) not in _KERNEL_SHAPES:
        raise ValueError(f"a kernel is 3x3 or 5x5; got size {size!r}")
    while k.shape[0] < size:
        k = np.pad(k, 1)
    while k.shape[0] > size:
        k = k[1:-1, 1:-1]
    return k


def convolve_kernel(
    image: ArrayLike,
    kernel: ArrayLike,
    *,
    normalise: bool = False,
    mode: str = "constant",
    cval: float = 0.0,
) -> FloatImage:
    """Convolve each colour channel with a custom 3x3 or 5x5 kernel.

    Same result as ``scipy.ndimage.convolve(channel, kernel, mode, cval)``
    (a true convolution: the kernel is flipped), as in the lecture's
    ``ndimage.convolve(face, k, mode='constant', cval=0.0)``. Unlike the
    lecture's uint8 version, the sum is not wrapped around: results are
    clipped to ``[0, 1]``.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    kernel : array_like
        3x3 or 5x5 numbers, see :func:`validate_kernel` and
        :data:`KERNEL_PRESETS`.
    normalise : bool
        Divide the kernel by its sum first (refused for zero-sum kernels).
    mode : {"constant", "reflect", "nearest", "mirror", "wrap"}
        How the border is extended (scipy.ndimage names).
    cval : float
        Value outside the image for ``mode="constant"``, in ``[0, 1]``.

    Returns
    -------
    ndarray of float32
        Same shape, values clipped to ``[0, 1]``; alpha untouched.

    Examples
    --------
    >>> img = np.full((3, 3), 0.5)
    >>> convolve_kernel(img, KERNEL_PRESETS["identity"]).tolist() == img.tolist()
    True
    >>> float(convolve_kernel(img, [[1, 1, 1]] * 3, normalise=True)[1, 1])
    0.5
    """
    if mode not in BORDER_MODES:
        raise ValueError(f"mode must be one of {BORDER_MODES}; got {mode!r}")
    cval = _check_finite("cval", cval)
    if not 0.0 <= cval <= 1.0:
        raise ValueError(f"cval must be within [0, 1]; got {cval}")
    k = validate_kernel(kernel, normalise=normalise)
    colour, alpha = _split(to_float(image))
    out = _correlate(colour, k[::-1, ::-1], mode=mode, cval=cval)
    return _join(np.clip(out, 0.0, 1.0), alpha)
