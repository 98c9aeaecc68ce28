"""Where would this photo land? A new photo placed on an existing map.

The photo goes through the same steps as the archive's photos: decoded at
the thumbnail size the features were computed from, the same extractor, the
map's own PCA; openTSNE then places it among the fixed map
(:meth:`~core.explore.photomap.PhotoMap.transform`). Its nearest posts are
found in the PCA space (what t-SNE saw, not the flattened picture), and its
cluster is the one most of them share.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from . import imagenet_groups as ig
from .features import CNNFeatures
from .photomap import PhotoMap, nearest_neighbours

__all__ = ["Placement", "place_photo", "place_photos"]


@dataclass
class Placement:
    """A new photo on a map.

    Attributes
    ----------
    image : ndarray (H, W, 3) uint8
        The photo as it was featurised (longest side at most the thumbnail size).
    xy : ndarray (2,)
        Its position on the map.
    neighbours : ndarray (k,) int
        Rows of the map (its fitted photos) nearest to it, nearest first.
    distances : ndarray (k,) float
        Their distances in the map's PCA space.
    cluster : int or None
        The cluster most of its neighbours are in (ties: the nearer one);
        ``None`` when no clusters were given.
    imagenet_class : int or None
        Its most likely ImageNet class (CNN feature sets).
    imagenet_p : float or None
        That class' probability.
    """

    image: np.ndarray
    xy: np.ndarray
    neighbours: np.ndarray
    distances: np.ndarray
    cluster: int | None = None
    imagenet_class: int | None = None
    imagenet_p: float | None = None

    @property
    def imagenet_label(self) -> str | None:
        """``"espresso (Coffee, 93%)"``, or ``None`` without ImageNet probabilities.

        Examples
        --------
        >>> Placement(np.zeros((1, 1, 3), np.uint8), np.zeros(2), np.zeros(0, int), np.zeros(0),
        ...           imagenet_class=967, imagenet_p=0.93).imagenet_label
        'espresso (Coffee, 93%)'
        """
        if self.imagenet_class is None:
            return None
        i = int(self.imagenet_class)
        return f"{ig.class_name(i)} ({ig.group_of(i)}, {self.imagenet_p:.0%})"


def _majority(labels: np.ndarray) -> int:
    """The most common label, ties going to the one seen first (the nearest)."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    best = np.flatnonzero(counts == counts.max())
    return int(values[best[np.argmin(first[best])]])


def place_photo(photo: bytes | str | Path | np.ndarray, extractor, photo_map: PhotoMap, *,
                clusters: np.ndarray | None = None, n_neighbours: int = 6) -> Placement:
    """Place a new photo on a fitted map.

    Parameters
    ----------
    photo : bytes, path or ndarray
        The encoded file (an upload), or decoded uint8 RGB pixels. Files are
        decoded at the archive's thumbnail size, like the mapped photos.
    extractor : RawPixels, ColourTexture or CNNFeatures
        The extractor the map's features came from.
    photo_map : PhotoMap
        The fitted map.
    clusters : ndarray (n,), optional
        Cluster label of each mapped photo, for :attr:`Placement.cluster`.
    n_neighbours : int
        How many nearest posts to return (at most the map's size).

    Returns
    -------
    Placement

    Raises
    ------
    ImageError
        When the file is not a readable image.
    WeightsUnavailableError
        When a CNN's ImageNet weights cannot be had.

    Examples
    --------
    >>> from core.explore.features import RawPixels
    >>> rng = np.random.default_rng(0)
    >>> photos = [np.full((20, 20, 3), v, np.uint8) for v in rng.integers(0, 255, 12)]
    >>> raw = RawPixels(size=4).fit()
    >>> photo_map = PhotoMap(perplexity=3, l2_normalise=False).fit(raw.transform(photos))
    >>> placed = place_photo(photos[5], raw, photo_map, clusters=np.arange(12) % 2, n_neighbours=3)
    >>> int(placed.neighbours[0]), placed.xy.shape, placed.cluster
    (5, (2,), 1)
    """
    return place_photos([photo], extractor, photo_map, clusters=clusters, n_neighbours=n_neighbours)[0]


def place_photos(photos: Sequence[bytes | str | Path | np.ndarray], extractor, photo_map: PhotoMap, *,
                 clusters: np.ndarray | None = None, n_neighbours: int = 6) -> list[Placement]:
    """Place several new photos on a fitted map at once (one t-SNE optimisation for all).

    Each photo is placed against the fixed map only, as if alone; see
    :func:`place_photo` for the parameters.

    Examples
    --------
    >>> from core.explore.features import RawPixels
    >>> photos = [np.full((20, 20, 3), v, np.uint8) for v in range(0, 240, 20)]
    >>> raw = RawPixels(size=4).fit()
    >>> photo_map = PhotoMap(perplexity=3, l2_normalise=False).fit(raw.transform(photos))
    >>> [int(p.neighbours[0]) for p in place_photos(photos[:3], raw, photo_map)]
    [0, 1, 2]
    """
    from ..archive.ingest import THUMB_SIDE
    from ..image.io import load_image

    if not len(photos):
        return []
    images = [p if isinstance(p, np.ndarray) else load_image(p, max_side=THUMB_SIDE) for p in photos]
    if isinstance(extractor, CNNFeatures):
        features, probs = extractor.transform_with_probs(images)
    else:
        features, probs = extractor.fit().transform(images), None
    places = photo_map.transform(features)
    n = photo_map.coords_.shape[0]
    neighbours, distances = nearest_neighbours(photo_map.pca_features_, photo_map.reduce(features),
                                               k=min(int(n_neighbours), n))
    out = []
    for i, image in enumerate(images):
        cluster = None if clusters is None else _majority(np.asarray(clusters)[neighbours[i]])
        imagenet_class = imagenet_p = None
        if probs is not None:
            imagenet_class = int(np.argmax(probs[i]))
            imagenet_p = float(probs[i, imagenet_class])
        out.append(Placement(image=image, xy=np.asarray(places[i], dtype=np.float32), neighbours=neighbours[i],
                             distances=distances[i], cluster=cluster, imagenet_class=imagenet_class,
                             imagenet_p=imagenet_p))
    return out
