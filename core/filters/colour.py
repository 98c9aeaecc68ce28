"""Colour, tone curves and looks: grayscale, saturation, curves and Instagram-style looks.

On any image :func:`core.filters.convert.to_float` accepts; float32
``[0, 1]`` out, alpha untouched. A look (:data:`LOOKS`) is a fixed recipe of
the primitives here: tone curves, saturation and grayscale.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.interpolate import PchipInterpolator

from .convert import (
    LUMA_WEIGHTS,
    FloatImage,
    _apply_luminance,
    _check_finite,
    _interp_uniform,
    _join,
    _split,
    to_float,
)

__all__ = [
    "CURVE_PRESETS",
    "LOOKS",
    "Look",
    "grayscale",
    "adjust_saturation",
    "validate_curve_points",
    "curve_lut",
    "tone_curve",
    "apply_look",
]

#: Tone curves offered as starting points for :func:`tone_curve`.
CURVE_PRESETS: dict[str, tuple[tuple[float, float], ...]] = {
    "identity": ((0.0, 0.0), (1.0, 1.0)),
    "s_curve": ((0.0, 0.0), (0.25, 0.18), (0.75, 0.82), (1.0, 1.0)),
    "fade": ((0.0, 0.12), (0.5, 0.52), (1.0, 0.92)),
    "brighten": ((0.0, 0.0), (0.5, 0.62), (1.0, 1.0)),
    "darken": ((0.0, 0.0), (0.5, 0.38), (1.0, 1.0)),
    "invert": ((0.0, 1.0), (1.0, 0.0)),
}


def grayscale(image: ArrayLike, *, keep_channels: bool = False) -> FloatImage:
    """Convert to gray: the luma, as ``skimage.color.rgb2gray``.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    keep_channels : bool
        False: an RGB photo becomes ``(H, W)``. True: the gray is written to
        R, G and B (``(H, W, 3)``). RGBA always stays ``(H, W, 4)`` with the
        alpha kept.

    Returns
    -------
    ndarray of float32
        Gray image in ``[0, 1]``.

    Examples
    --------
    >>> grayscale(np.ones((2, 2, 3))).shape
    (2, 2)
    >>> grayscale(np.ones((2, 2, 3)), keep_channels=True).shape
    (2, 2, 3)
    """
    colour, alpha = _split(to_float(image))
    if colour.ndim == 2:
        return _join(colour.copy(), alpha)
    y = np.clip(colour @ LUMA_WEIGHTS, 0.0, 1.0)
    if keep_channels and alpha is None:
        y = np.repeat(y[:, :, None], 3, axis=2)
    return _join(y, alpha)


def adjust_saturation(image: ArrayLike, factor: float = 1.0) -> FloatImage:
    """Scale the colourfulness: ``Y + factor * (RGB - Y)`` with ``Y`` the luma.

    The luma of each pixel is kept (up to clipping), so brightness does not
    change. A gray image is returned unchanged.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    factor : float
        ``>= 0``: 0 gives gray, 1 the original, 2 twice as colourful.

    Returns
    -------
    ndarray of float32
        Same shape, values clipped to ``[0, 1]``; alpha untouched.

    Examples
    --------
    >>> px = np.array([[[0.6, 0.4, 0.4]]])
    >>> out = adjust_saturation(px, 0.0)
    >>> bool(np.ptp(out) < 1e-6)
    True
    """
    factor = _check_finite("factor", factor)
    if factor < 0:
        raise ValueError(f"saturation factor must be >= 0; got {factor}")
    colour, alpha = _split(to_float(image))
    if colour.ndim == 2:
        return _join(colour.copy(), alpha)
    y = (colour @ LUMA_WEIGHTS)[:, :, None]
    out = y + np.float32(factor) * (colour - y)
    return _join(np.clip(out, 0.0, 1.0), alpha)


def validate_curve_points(points: ArrayLike) -> NDArray[np.float64]:
    """Check tone-curve control points and return them as an ``(n, 2)`` array.

    Parameters
    ----------
    points : array_like
        2 to 16 ``(x, y)`` pairs in ``[0, 1]``, ``x`` strictly increasing.

    Returns
    -------
    ndarray of float64, shape (n, 2)

    Raises
    ------
    ValueError
        Anything else.

    Examples
    --------
    >>> validate_curve_points([(0, 0), (1, 1)]).shape
    (2, 2)
    """
    try:
        p = np.array(points, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError("curve points must be a list of (x, y) pairs") from None
    if p.ndim != 2 or p.shape[1] != 2 or not 2 <= p.shape[0] <= 16:
        raise ValueError(f"a curve needs 2 to 16 (x, y) points; got shape {p.shape}")
    if not np.isfinite(p).all() or p.min() < 0 or p.max() > 1:
        raise ValueError("curve points must be finite and within [0, 1]")
    if np.any(np.diff(p[:, 0]) <= 0):
        raise ValueError("curve points must have strictly increasing x")
    return p


def curve_lut(points: ArrayLike, size: int = 1024, *, smooth: bool = True) -> NDArray[np.float32]:
    """Sample a tone curve through control points into a look-up table.

    Parameters
    ----------
    points : array_like
        Control points, see :func:`validate_curve_points`. Outside the first
        and last ``x`` the curve is flat.
    size : int
        Number of entries, sampled at ``linspace(0, 1, size)``.
    smooth : bool
        True: monotone cubic (PCHIP) through the points, no overshoot.
        False: straight lines between the points.

    Returns
    -------
    ndarray of float32, shape (size,)
        Output values in ``[0, 1]``.

    Examples
    --------
    >>> curve_lut([(0, 1), (1, 0)], size=3).tolist()
    [1.0, 0.5, 0.0]
    """
    p = validate_curve_points(points)
    size = int(size)
    if size < 2:
        raise ValueError("size must be >= 2")
    grid = np.linspace(0.0, 1.0, size)
    lut = np.interp(grid, p[:, 0], p[:, 1])
    if smooth and p.shape[0] > 2:
        inside = (grid >= p[0, 0]) & (grid <= p[-1, 0])
        lut[inside] = PchipInterpolator(p[:, 0], p[:, 1])(grid[inside])
    return np.clip(lut, 0.0, 1.0).astype(np.float32)


_CURVE_CHANNELS = ("rgb", "red", "green", "blue", "luminance")


def tone_curve(
    image: ArrayLike,
    points: ArrayLike,
    *,
    channel: str = "rgb",
    smooth: bool = True,
) -> FloatImage:
    """Remap values through a tone curve (a LUT built by :func:`curve_lut`).

    The 1024-entry LUT is read with linear interpolation, so 16-bit inputs
    are not posterised.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    points : array_like
        Control points ``(x, y)``, see :data:`CURVE_PRESETS`.
    channel : {"rgb", "red", "green", "blue", "luminance"}
        Which values the curve applies to: all of R, G, B; one of them
        (colour casts; a gray image is then returned unchanged); or the luma
        with the chroma kept.
    smooth : bool
        Smooth (PCHIP) or straight-line curve.

    Returns
    -------
    ndarray of float32
        Same shape, values in ``[0, 1]``; alpha untouched.

    Examples
    --------
    >>> tone_curve(np.array([[0.0, 0.25, 1.0]]), [(0, 1), (1, 0)]).tolist()
    [[1.0, 0.75, 0.0]]
    """
    if channel not in _CURVE_CHANNELS:
        raise ValueError(f"channel must be one of {_CURVE_CHANNELS}; got {channel!r}")
    lut = curve_lut(points, smooth=smooth)
    colour, alpha = _split(to_float(image))

    def remap(x: FloatImage) -> FloatImage:
        return _interp_uniform(x, 0.0, 1.0, lut)

    if channel == "luminance":
        out = _apply_luminance(colour, remap)
    elif channel == "rgb" or colour.ndim == 2:
        out = remap(colour) if channel == "rgb" else colour.copy()
    else:
        idx = ("red", "green", "blue").index(channel)
        out = colour.copy()
        out[:, :, idx] = remap(colour[:, :, idx])
    return _join(out, alpha)


@dataclass(frozen=True)
class Look:
    """A named photo look: a fixed recipe of primitive steps.

    Attributes
    ----------
    label : str
        Name shown to users.
    description : str
        One line on what it does.
    steps : tuple of (str, dict)
        ``(function name, keyword arguments)`` pairs, each function one of
        ``tone_curve``, ``adjust_saturation``, ``grayscale``.
    """

    label: str
    description: str
    steps: tuple[tuple[str, Mapping[str, Any]], ...]


#: Instagram-inspired looks, approximations built only from tone curves,
#: saturation and grayscale (not Instagram's own recipes).
LOOKS: dict[str, Look] = {
    "clarendon": Look(
        "Clarendon-ish",
        "Punchy contrast, cool shadows, richer colour.",
        (
            ("tone_curve", {"points": CURVE_PRESETS["s_curve"]}),
            ("tone_curve", {"points": ((0.0, 0.06), (0.5, 0.53), (1.0, 1.0)), "channel": "blue"}),
            ("adjust_saturation", {"factor": 1.25}),
        ),
    ),
    "gingham": Look(
        "Gingham-ish",
        "Faded, lifted blacks, softened colour with a warm tint.",
        (
            ("tone_curve", {"points": CURVE_PRESETS["fade"]}),
            ("tone_curve", {"points": ((0.0, 0.04), (1.0, 1.0)), "channel": "red"}),
            ("adjust_saturation", {"factor": 0.8}),
        ),
    ),
    "juno": Look(
        "Juno-ish",
        "Warm, saturated, slightly contrasty.",
        (
            ("tone_curve", {"points": ((0.0, 0.0), (0.5, 0.56), (1.0, 1.0)), "channel": "red"}),
            ("tone_curve", {"points": ((0.0, 0.0), (0.5, 0.46), (1.0, 0.95)), "channel": "blue"}),
            ("tone_curve", {"points": ((0.0, 0.0), (0.3, 0.27), (0.7, 0.74), (1.0, 1.0))}),
            ("adjust_saturation", {"factor": 1.35}),
        ),
    ),
    "lark": Look(
        "Lark-ish",
        "Bright and airy, cooler, a little desaturated.",
        (
            ("tone_curve", {"points": ((0.0, 0.05), (0.5, 0.6), (1.0, 1.0))}),
            ("tone_curve", {"points": ((0.0, 0.03), (0.5, 0.53), (1.0, 1.0)), "channel": "blue"}),
            ("adjust_saturation", {"factor": 0.9}),
        ),
    ),
    "moon": Look(
        "Moon-ish (B&W)",
        "Black and white with lifted shadows and strong midtone contrast.",
        (
            ("grayscale", {}),
            ("tone_curve", {"points": ((0.0, 0.08), (0.3, 0.24), (0.7, 0.8), (1.0, 1.0))}),
        ),
    ),
}

_LOOK_PRIMITIVES: dict[str, Callable[..., FloatImage]] = {
    "tone_curve": tone_curve,
    "adjust_saturation": adjust_saturation,
    "grayscale": grayscale,
}


def apply_look(image: ArrayLike, look: str, strength: float = 1.0) -> FloatImage:
    """Apply a named look from :data:`LOOKS`, blended with the original.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    look : str
        A key of :data:`LOOKS`.
    strength : float
        In ``[0, 1]``: 0 returns the original, 1 the full look.

    Returns
    -------
    ndarray of float32
        Same shape as the input (a B&W look on RGB stays 3-channel, gray
        in each); values in ``[0, 1]``; alpha untouched.

    Examples
    --------
    >>> out = apply_look(np.full((2, 2, 3), 0.5), "moon")
    >>> out.shape, bool(np.ptp(out) < 1e-6)
    ((2, 2, 3), True)
    """
    if look not in LOOKS:
        raise ValueError(f"unknown look {look!r}; choose one of {sorted(LOOKS)}")
    strength = _check_finite("strength", strength)
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be within [0, 1]; got {strength}")
    img = to_float(image)
    colour, alpha = _split(img)
    out = colour
    for fn_name, kwargs in LOOKS[look].steps:
        out = _LOOK_PRIMITIVES[fn_name](out, **kwargs)
    if out.ndim == 2 and colour.ndim == 3:
        out = np.repeat(out[:, :, None], 3, axis=2)
    if strength < 1.0:
        out = (1.0 - strength) * colour + np.float32(strength) * out
    return _join(np.clip(out, 0.0, 1.0).astype(np.float32), alpha)
