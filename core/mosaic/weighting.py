"""Which tiles matter: tile weights and region labels from face and person masks, errors per region.

Step 5 of the pipeline (see :mod:`core.mosaic`), the seed's "tile weighting":
:func:`tile_weights` turns face and person masks (from
:mod:`core.mosaic.regions`) into weights ``1 + alpha * falloff(distance)``,
so that errors on faces count more; :func:`region_labels` calls each tile
face, person or background (:func:`mask_coverage`), and
:func:`region_means` averages tile errors per region. :func:`grid_weights`
and :func:`grid_labels` do both from masks at the target's resolution,
cropped to the grid's shape as :func:`core.mosaic.grid.target_tiles` crops
the target.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from ..image.geometry import resize
from .grid import crop_to_aspect

__all__ = [
    "mask_coverage",
    "tile_weights",
    "region_labels",
    "region_means",
    "grid_weights",
    "grid_labels",
]


def mask_coverage(mask: NDArray, rows: int, cols: int) -> NDArray[np.float64]:
    """Fraction of each tile covered by a mask (already cropped to the grid's shape).

    Examples
    --------
    >>> m = np.zeros((4, 4), bool); m[:2, :2] = True
    >>> mask_coverage(m, 2, 2)
    array([[1., 0.],
           [0., 0.]])
    """
    m = np.asarray(mask, np.float32)
    h, w = m.shape[:2]
    q = 8
    if h % rows == 0 and w % cols == 0:
        cov = m.reshape(rows, h // rows, cols, w // cols).mean(axis=(1, 3))
    else:
        cov = resize(m, cols * q, rows * q).reshape(rows, q, cols, q).mean(axis=(1, 3))
    return np.clip(cov, 0.0, 1.0).astype(np.float64)


def tile_weights(
    face: NDArray | None,
    person: NDArray | None,
    rows: int,
    cols: int,
    *,
    alpha_face: float = 10.0,
    alpha_person: float = 3.0,
    width: float = 2.0,
    px_per_tile: int = 8,
) -> NDArray[np.float64]:
    """Tile weights ``1 + alpha_face * f(d_face) + alpha_person * f(d_person)``.

    ``d`` is the distance from a tile's pixels to the region, in tiles
    (:func:`scipy.ndimage.distance_transform_edt`), and the falloff is
    ``f(d) = max(0, 1 - d / width)``: 1 inside the region, fading to 0 at
    ``width`` tiles away, so the region's border is soft. A tile's weight is
    the mean over its pixels. A missing or empty mask adds nothing.

    Parameters
    ----------
    face, person : (H, W) bool arrays or None
        Region masks, already cropped to the grid's aspect ratio.
    rows, cols : int
    alpha_face, alpha_person : float
        Extra weight inside each region.
    width : float
        Falloff width in tiles (0: hard border).
    px_per_tile : int
        Resolution of the distance computation.

    Returns
    -------
    (rows, cols) float64, at least 1.

    Examples
    --------
    >>> face = np.zeros((40, 40), bool); face[:10, :10] = True
    >>> tile_weights(face, None, 4, 4, alpha_face=9, width=1).round(1)[0]
    array([10. ,  4.9,  1. ,  1. ])
    """
    from scipy import ndimage as ndi

    q = int(px_per_tile)
    total = np.ones((rows * q, cols * q), np.float64)
    for mask, alpha in ((face, alpha_face), (person, alpha_person)):
        if mask is None or alpha == 0:
            continue
        m = np.asarray(mask)
        if not m.any():
            continue
        inside = resize(m.astype(np.float32), cols * q, rows * q) >= 0.5
        if not inside.any():
            continue
        dist = ndi.distance_transform_edt(~inside) / q
        fall = (dist == 0).astype(np.float64) if width <= 0 else np.clip(1.0 - dist / width, 0.0, 1.0)
        total += alpha * fall
    return total.reshape(rows, q, cols, q).mean(axis=(1, 3))


def region_labels(face_cov: NDArray, person_cov: NDArray, threshold: float = 0.5) -> NDArray[np.int8]:
    """0 = background, 1 = person (not face), 2 = face, per tile.

    Examples
    --------
    >>> region_labels(np.array([0.9, 0.1, 0.0]), np.array([1.0, 0.8, 0.2])).tolist()
    [2, 1, 0]
    """
    labels = np.zeros(np.shape(face_cov), np.int8)
    labels[np.asarray(person_cov) >= threshold] = 1
    labels[np.asarray(face_cov) >= threshold] = 2
    return labels


def region_means(errors: NDArray, labels: NDArray) -> dict[str, float]:
    """Mean tile error overall and per region (NaN for an empty region).

    Examples
    --------
    >>> region_means(np.array([1.0, 2.0, 4.0]), np.array([0, 0, 2]))
    {'all': 2.3333333333333335, 'face': 4.0, 'person': nan, 'background': 1.5}
    """
    e = np.asarray(errors, np.float64).ravel()
    lab = np.asarray(labels).ravel()
    out = {"all": float(e.mean()) if e.size else math.nan}
    for name, code in (("face", 2), ("person", 1), ("background", 0)):
        sel = e[lab == code]
        out[name] = float(sel.mean()) if sel.size else math.nan
    return out


def grid_weights(
    face: NDArray | None,
    person: NDArray | None,
    rows: int,
    cols: int,
    *,
    alpha_face: float = 10.0,
    alpha_person: float = 3.0,
    falloff: float = 2.0,
) -> NDArray[np.float64]:
    """:func:`tile_weights` of masks at the target's resolution, cropped to the grid's shape.

    Returns
    -------
    (rows, cols) float64, at least 1 (all ones without masks).

    Examples
    --------
    >>> face = np.zeros((40, 60), bool); face[:10, 10:20] = True  # the crop keeps columns 10-49
    >>> grid_weights(face, None, 4, 4, alpha_face=9, falloff=0)[0].tolist()
    [10.0, 1.0, 1.0, 1.0]
    """
    aspect = cols / rows
    return tile_weights(
        None if face is None else crop_to_aspect(face, aspect),
        None if person is None else crop_to_aspect(person, aspect),
        rows, cols, alpha_face=alpha_face, alpha_person=alpha_person, width=falloff,
    )


def grid_labels(face: NDArray | None, person: NDArray | None, rows: int, cols: int) -> NDArray[np.int8]:
    """:func:`region_labels` of each tile, in reading order, from masks at the target's resolution.

    Returns
    -------
    (rows * cols,) int8
        0 = background, 1 = person (not face), 2 = face.

    Examples
    --------
    >>> face = np.zeros((40, 40), bool); face[:20, :20] = True
    >>> grid_labels(face, face, 2, 2).tolist()
    [2, 0, 0, 0]
    >>> grid_labels(None, None, 1, 3).tolist()
    [0, 0, 0]
    """
    aspect = cols / rows
    zeros = np.zeros(rows * cols)
    face_cov = zeros if face is None else mask_coverage(crop_to_aspect(face, aspect), rows, cols).ravel()
    person_cov = zeros if person is None else mask_coverage(crop_to_aspect(person, aspect), rows, cols).ravel()
    return region_labels(face_cov, person_cov)
