"""Exposure: global histogram equalisation and CLAHE, on the luminance or per channel.

scikit-image's ``exposure.equalize_hist`` and ``exposure.equalize_adapthist``
re-implemented with faster look-ups (tests compare them with
:mod:`skimage.exposure`), on any image :func:`core.filters.convert.to_float`
accepts; float32 ``[0, 1]`` out, alpha untouched.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike, NDArray
from skimage import exposure as sk_exposure

from .convert import (
    FloatImage,
    _apply_luminance,
    _check_channel_mode,
    _check_finite,
    _interp_uniform,
    _join,
    _per_channel,
    _split,
    to_float,
)

__all__ = ["equalize_hist", "equalize_clahe"]


def equalize_hist(image: ArrayLike, *, channel_mode: str = "luminance", nbins: int = 256) -> FloatImage:
    """Global histogram equalisation (``skimage.exposure.equalize_hist``).

    Same result as scikit-image's function (within float32 rounding): the
    cumulative histogram read at each value, with its ``np.interp`` over the
    uniform bin centres replaced by a direct look-up (4x faster).

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    channel_mode : {"luminance", "per_channel"}
        ``"luminance"`` (default) equalises the luma and keeps the chroma
        (see the module notes); ``"per_channel"`` equalises R, G and B
        separately (stronger, shifts colours).
    nbins : int
        Histogram bins.

    Returns
    -------
    ndarray of float32
        Same shape, values in ``[0, 1]``; alpha untouched.

    Examples
    --------
    >>> out = equalize_hist(np.linspace(0.4, 0.6, 100).reshape(10, 10))
    >>> float(out.max()) == 1.0 and float(out.min()) < 0.05
    True
    """
    _check_channel_mode(channel_mode)
    colour, alpha = _split(to_float(image))

    def eq(ch: FloatImage) -> np.ndarray:
        # skimage.exposure.equalize_hist, with its np.interp over the (uniform)
        # bin centres replaced by a direct lookup, which is the slow part
        lo, hi = float(ch.min()), float(ch.max())
        hist, edges = np.histogram(ch, bins=nbins, range=(lo, hi))
        centres = (edges[:-1] + edges[1:]) / 2.0
        cdf = hist.cumsum() / float(hist.sum())
        return _interp_uniform(ch, centres[0], centres[-1], cdf)

    out = _per_channel(colour, eq) if channel_mode == "per_channel" else _apply_luminance(colour, eq)
    return _join(np.clip(out, 0.0, 1.0), alpha)


def equalize_clahe(
    image: ArrayLike,
    clip_limit: float = 0.01,
    *,
    tiles: int = 8,
    channel_mode: str = "luminance",
    nbins: int = 256,
) -> FloatImage:
    """Contrast-limited adaptive equalisation (``skimage.exposure.equalize_adapthist``).

    scikit-image's algorithm re-implemented for 2-D with flat float32
    look-ups (about twice as fast); results agree with
    ``equalize_adapthist(channel, kernel_size=(H // tiles, W // tiles))``
    within one of its 2**14 internal levels.

    Parameters
    ----------
    image : array_like
        Gray, RGB or RGBA image, any supported dtype.
    clip_limit : float
        In ``(0, 1]``; higher gives more local contrast (skimage's meaning).
    tiles : int
        The contextual regions are ``H // tiles`` by ``W // tiles`` pixels
        (8 is skimage's default), so the result does not depend on the
        resolution the image is processed at.
    channel_mode : {"luminance", "per_channel"}
        See :func:`equalize_hist`.
    nbins : int
        Histogram bins.

    Returns
    -------
    ndarray of float32
        Same shape, values in ``[0, 1]``; alpha untouched.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> img = 0.4 + 0.2 * rng.random((64, 64))
    >>> out = equalize_clahe(img, 0.02)
    >>> bool(out.std() > img.std())
    True
    """
    clip_limit = _check_finite("clip_limit", clip_limit)
    if not 0.0 < clip_limit <= 1.0:
        raise ValueError(f"clip_limit must be in (0, 1]; got {clip_limit}")
    tiles = int(tiles)
    if tiles < 1:
        raise ValueError(f"tiles must be >= 1; got {tiles}")
    _check_channel_mode(channel_mode)
    colour, alpha = _split(to_float(image))
    kernel_size = (max(colour.shape[0] // tiles, 1), max(colour.shape[1] // tiles, 1))

    def clahe(ch: FloatImage) -> np.ndarray:
        return _clahe_2d(ch, kernel_size, clip_limit, nbins)

    out = _per_channel(colour, clahe) if channel_mode == "per_channel" else _apply_luminance(colour, clahe)
    return _join(np.clip(out, 0.0, 1.0), alpha)


_CLAHE_LEVELS = 2**14  # skimage's NR_OF_GRAY


def _clahe_2d(
    image: FloatImage, kernel_size: tuple[int, int], clip_limit: float, nbins: int
) -> FloatImage:
    """CLAHE of one 2-D channel, the algorithm of ``skimage.exposure.equalize_adapthist``.

    Same steps as scikit-image 0.26 (quantise to 2**14 levels, reflect-pad
    to whole tiles, clipped and redistributed tile histograms, bilinear
    blend of the four neighbouring tile mappings, stretch to [0, 1]); the
    blend reads flat float32 look-up tables instead of ``take_along_axis``
    on int64, which halves the time. Results agree with skimage within
    float32 rounding (tests check it). Constant images go to skimage itself.
    """
    lo, hi = float(image.min()), float(image.max())
    if lo == hi or min(image.shape) < 2:
        return sk_exposure.equalize_adapthist(image, kernel_size=kernel_size, clip_limit=clip_limit, nbins=nbins)
    # skimage: img_as_uint, then stretch to 0..2**14-1 and round
    u = np.rint(image * np.float32(65535))
    ulo, uhi = float(u.min()), float(u.max())
    levels = np.rint((u - np.float32(ulo)) * np.float32((_CLAHE_LEVELS - 1) / (uhi - ulo))).astype(np.uint16)
    h, w = levels.shape
    ky, kx = (int(k) for k in kernel_size)
    ps = (ky // 2, kx // 2)
    pe = ((ky - h % ky) % ky + math.ceil(ky / 2), (kx - w % kx) % kx + math.ceil(kx / 2))
    padded = np.pad(levels, ((ps[0], pe[0]), (ps[1], pe[1])), mode="reflect")
    binned = padded // np.uint16(1 + _CLAHE_LEVELS // nbins)
    hp, wp = binned.shape
    nhy, nhx = hp // ky - 1, wp // kx - 1
    # tile histograms with one bincount
    region = binned[ky // 2 : ky // 2 + nhy * ky, kx // 2 : kx // 2 + nhx * kx]
    tile_r = (np.arange(nhy * ky) // ky) * (nhx * nbins)
    tile_c = (np.arange(nhx * kx) // kx) * nbins
    flat = (tile_r[:, None] + tile_c[None, :]) + region
    hist = np.bincount(flat.ravel(), minlength=nhy * nhx * nbins).reshape(nhy * nhx, nbins)
    n_elem = ky * kx
    clim = int(np.clip(clip_limit * n_elem, 1, None)) if clip_limit > 0 else n_elem
    for row in hist:
        _clip_histogram(row, clim)
    maps = np.cumsum(hist, axis=-1).astype(float) * ((_CLAHE_LEVELS - 1) / n_elem)
    maps = np.minimum(maps, _CLAHE_LEVELS - 1).astype(int).reshape(nhy, nhx, nbins)
    lut = np.pad(maps, ((1, 1), (1, 1), (0, 0)), mode="edge").astype(np.float32).ravel()
    # bilinear blend of the 4 neighbouring tile maps, for the unpadded pixels only
    rows = np.arange(ps[0], ps[0] + h)
    cols = np.arange(ps[1], ps[1] + w)
    sy, sx = (nhx + 2) * nbins, nbins
    base = ((rows // ky) * sy)[:, None] + ((cols // kx) * sx)[None, :] + binned[ps[0] : ps[0] + h, ps[1] : ps[1] + w]
    cy = ((rows % ky) / ky).astype(np.float32)[:, None]
    cx = ((cols % kx) / kx).astype(np.float32)[None, :]
    top = lut.take(base) * (1 - cx) + lut.take(base + sx) * cx
    bottom = lut.take(base + sy) * (1 - cx) + lut.take(base + sy + sx) * cx
    result = np.floor(top * (1 - cy) + bottom * cy)  # skimage casts to uint16
    rlo, rhi = float(result.min()), float(result.max())
    if rlo == rhi:
        return np.clip(result, 0.0, 1.0).astype(np.float32)
    return ((result - np.float32(rlo)) * np.float32(1.0 / (rhi - rlo))).astype(np.float32)


def _clip_histogram(hist: NDArray[np.int64], clip_limit: int) -> None:
    """Clip one histogram in place and redistribute the excess.

    Copied from scikit-image's ``exposure._adapthist.clip_histogram``
    (BSD-3-Clause), so the fast CLAHE matches the reference.
    """
    excess_mask = hist > clip_limit
    excess = hist[excess_mask]
    n_excess = int(excess.sum()) - excess.size * clip_limit
    hist[excess_mask] = clip_limit
    bin_incr = n_excess // hist.size
    upper = clip_limit - bin_incr
    low_mask = hist < upper
    n_excess -= hist[low_mask].size * bin_incr
    hist[low_mask] += bin_incr
    mid_mask = (hist >= upper) & (hist < clip_limit)
    mid = hist[mid_mask]
    n_excess += int(mid.sum()) - mid.size * clip_limit
    hist[mid_mask] = clip_limit
    while n_excess > 0:
        prev_n_excess = n_excess
        for index in range(hist.size):
            under_mask = hist < clip_limit
            step_size = max(1, int(np.count_nonzero(under_mask)) // n_excess)
            under_mask = under_mask[index::step_size]
            hist[index::step_size][under_mask] += 1
            n_excess -= int(np.count_nonzero(under_mask))
            if n_excess <= 0:
                break
        if prev_n_excess == n_excess:
            break
