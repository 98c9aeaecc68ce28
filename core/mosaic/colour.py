"""Colour transfer, honestly: each photo nudged towards its tile's colours, and where that starts to cheat.

Peers shift each placed photo's colours towards its cell of the target
(phomo's colour transfer). Here the shift is Reinhard's: in CIE Lab, each
channel's mean and spread move towards the target cell's by ``amount`` (0 =
the photo as it is, 1 = the cell's mean and spread exactly); the photo's
own structure stays (:func:`colour_transfer`).

Seed 003 warns that mosaics "cheat" by overlaying the target. A colour shift
is a milder overlay, and at some amount the picture is carried by the shift
rather than by the choice of photos. :func:`colour_curve` measures where: the
MSE against the target of the placement with the transfer, and of a *random*
placement with the same transfer. The **cheating limit** is the smallest
amount at which the random placement, shifted, is as close to the target as
the honest placement without any shift: from there on, which photo goes
where no longer matters to what one sees.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

__all__ = ["lab_stats", "colour_transfer", "ColourCurve", "colour_curve"]

#: A photo's spread is scaled by at most this factor (or its inverse): flat photos are not blown into noise.
MAX_SPREAD_RATIO = 4.0


def _lab(tiles: NDArray) -> NDArray[np.float32]:
    from skimage.color import rgb2lab

    t = np.asarray(tiles)
    flat = t.reshape(-1, t.shape[-3] * t.shape[-2], 3)
    return rgb2lab(flat.astype(np.float32) / np.float32(255)).astype(np.float32).reshape(t.shape)


def lab_stats(tiles: NDArray) -> tuple[NDArray[np.float32], NDArray[np.float32]]:
    """Mean and standard deviation of each tile's L, a, b: two ``(N, 3)`` arrays.

    Examples
    --------
    >>> mean, spread = lab_stats(np.full((1, 2, 2, 3), 255, np.uint8))
    >>> np.abs(mean).round(1).tolist(), spread.round(1).tolist()
    ([[100.0, 0.0, 0.0]], [[0.0, 0.0, 0.0]])
    """
    lab = _lab(tiles).reshape(len(tiles), -1, 3)
    return lab.mean(1), lab.std(1)


def colour_transfer(
    tiles: NDArray[np.uint8],
    to_mean: NDArray,
    to_spread: NDArray,
    amount: float,
) -> NDArray[np.uint8]:
    """Shift each tile's Lab mean and spread towards ``to_mean``/``to_spread`` by ``amount`` (0 to 1).

    Parameters
    ----------
    tiles : (N, s, s, 3) uint8
        Photo tiles (any size).
    to_mean, to_spread : (N, 3)
        Lab mean and standard deviation of each tile's target cell (:func:`lab_stats`).
    amount : float
        0 = unchanged, 1 = the cell's mean and spread.

    Examples
    --------
    >>> photo = np.zeros((1, 2, 2, 3), np.uint8)
    >>> mean, spread = lab_stats(np.full((1, 2, 2, 3), 200, np.uint8))
    >>> colour_transfer(photo, mean, spread, 1.0)[0, 0, 0].tolist()
    [200, 200, 200]
    >>> colour_transfer(photo, mean, spread, 0.0)[0, 0, 0].tolist()
    [0, 0, 0]
    """
    from skimage.color import lab2rgb

    t = np.asarray(tiles)
    a = float(np.clip(amount, 0.0, 1.0))
    if a == 0:
        return t
    lab = _lab(t).reshape(len(t), -1, 3)
    mean, spread = lab.mean(1, keepdims=True), lab.std(1, keepdims=True)
    goal_mean = np.asarray(to_mean, np.float32)[:, None, :]
    goal_spread = np.asarray(to_spread, np.float32)[:, None, :]
    ratio = np.where(spread > 1e-3, goal_spread / np.maximum(spread, 1e-3), 1.0)
    ratio = np.clip(ratio, 1 / MAX_SPREAD_RATIO, MAX_SPREAD_RATIO)
    scale = 1.0 + a * (ratio - 1.0)
    shifted = (lab - mean) * scale + mean + a * (goal_mean - mean)
    with warnings.catch_warnings():  # a shifted colour outside sRGB is clipped, as it should be
        warnings.simplefilter("ignore", UserWarning)
        rgb = lab2rgb(shifted.reshape(t.shape).reshape(-1, t.shape[-2], 3))
    return np.clip(np.rint(rgb * 255), 0, 255).astype(np.uint8).reshape(t.shape)


@dataclass
class ColourCurve:
    """MSE against the target by colour-transfer amount, for the placement and for a random one.

    Attributes
    ----------
    amounts : (A,) float
    mse : (A,) float
        Mean squared error (pixels in [0, 1], at the scoring size) of the placement with the transfer.
    random_mse : (A,) float
        The same for a random placement of the same photos.
    cheat_amount : float
        Smallest amount at which the random placement, shifted, is as close to
        the target as the placement unshifted (``mse[0]``), by linear
        interpolation; NaN when it never gets there.
    tiles_used : int
        Tiles the curve was measured on (a sample of big mosaics).
    """

    amounts: NDArray[np.float64]
    mse: NDArray[np.float64]
    random_mse: NDArray[np.float64]
    cheat_amount: float
    tiles_used: int

    def mse_at(self, amount: float) -> float:
        """The placement's MSE at ``amount`` (linear between the measured amounts)."""
        return float(np.interp(amount, self.amounts, self.mse))


def colour_curve(
    target_tiles: NDArray[np.uint8],
    photos: NDArray[np.uint8],
    photo_of_tile: NDArray,
    *,
    amounts: tuple[float, ...] = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0),
    sample: int = 4000,
    seed: int = 0,
) -> ColourCurve:
    """How the MSE falls with the colour-transfer amount, and the amount where the transfer starts to cheat.

    Parameters
    ----------
    target_tiles : (T, s, s, 3) uint8
        The target's tiles at the scoring size.
    photos : (P, s, s, 3) uint8
        Photo tiles at the same size.
    photo_of_tile : (T,) int
        The placement.
    sample : int
        At most this many tiles (chosen at random) are measured.

    Returns
    -------
    ColourCurve
    """
    rng = np.random.default_rng(seed)
    n = len(target_tiles)
    chosen = np.sort(rng.choice(n, sample, replace=False)) if n > sample else np.arange(n)
    placed_idx = np.asarray(photo_of_tile)
    shuffled = rng.permutation(placed_idx)  # the same photos, the same counts, at random places
    goal = np.asarray(target_tiles)[chosen]
    goal_mean, goal_spread = lab_stats(goal)
    goal_f = goal.astype(np.float32) / 255
    mse, random_mse = [], []
    for a in amounts:
        for idx, out in ((placed_idx, mse), (shuffled, random_mse)):
            shifted = colour_transfer(np.asarray(photos)[idx[chosen]], goal_mean, goal_spread, a)
            out.append(float(np.mean((shifted.astype(np.float32) / 255 - goal_f) ** 2)))
    amounts_arr = np.asarray(amounts, np.float64)
    rnd = np.asarray(random_mse)
    honest = mse[0]
    cheat = float("nan")
    below = np.flatnonzero(rnd <= honest)
    if below.size:
        i = int(below[0])
        if i == 0:
            cheat = float(amounts_arr[0])
        else:  # linear between the last amount above and the first at or below
            x0, x1, y0, y1 = amounts_arr[i - 1], amounts_arr[i], rnd[i - 1], rnd[i]
            cheat = float(x0 + (y0 - honest) / (y0 - y1) * (x1 - x0)) if y0 != y1 else float(x1)
    return ColourCurve(amounts_arr, np.asarray(mse), rnd, cheat, len(chosen))
