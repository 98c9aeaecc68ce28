"""The Explore map as one job: features through the disk cache, PCA + t-SNE, clusters.

:func:`compute_map` runs the whole pipeline over a list of photos and returns
plain data (coordinates, cluster labels, which photos could be read, how many
feature vectors were computed and how many read from the cache). It is what a
command line (``feedlens map ARCHIVE``), a benchmark or a notebook calls.

The Explore page runs the same steps one at a time, so that moving a slider
redoes only its own step: :func:`~core.explore.features.compute_features`
(the long job), :func:`fit_map` (perplexity), :func:`score_k` (the suggested
k) and :func:`cluster_photos` (k, or HDBSCAN's smallest cluster).
:func:`compute_map` is nothing but these steps in a row.

Heavy libraries (scikit-learn, openTSNE, Keras) are imported by the steps
that need them, not by this module.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..cache import DiskCache
from ..jobs import CancelCheck, Progress, check_cancel, report
from .features import DEFAULT_FEATURE_SET, FEATURE_SETS, FeatureResult, compute_features, make_extractor
from .photomap import PhotoMap, hdbscan_labels, kmeans_labels, silhouette_curve, suggest_k

__all__ = [
    "CLUSTER_METHODS",
    "K_RANGE",
    "MapRequest",
    "MapResult",
    "cluster_method",
    "fit_map",
    "grow_map",
    "LAYOUT_KIND",
    "SavedLayout",
    "layout_id",
    "save_layout",
    "load_layout",
    "forget_layout",
    "score_k",
    "cluster_photos",
    "cluster_names",
    "compute_map",
]

#: Clustering methods: K-Means on the PCA features (needs a k), HDBSCAN on the map (finds its own).
CLUSTER_METHODS = ("kmeans", "hdbscan")
#: The k values the silhouette score is computed for.
K_RANGE = (2, 15)


def cluster_method(name: str) -> str:
    """The method of :data:`CLUSTER_METHODS` that ``name`` spells ("K-Means" is "kmeans").

    Examples
    --------
    >>> cluster_method("K-Means"), cluster_method("HDBSCAN")
    ('kmeans', 'hdbscan')
    """
    method = str(name).lower().replace("-", "").replace("_", "").replace(" ", "")
    if method not in CLUSTER_METHODS:
        raise ValueError(f"unknown clustering method {name!r}; choose one of {CLUSTER_METHODS}")
    return method


@dataclass(frozen=True)
class MapRequest:
    """What to map, and how.

    Attributes
    ----------
    items : sequence of (sha256, path)
        One pair per photo, in catalogue order (:meth:`for_catalogue`).
    feature_set : str
        A name of :data:`~core.explore.features.FEATURE_SETS`.
    raw_size : int
        Side of the square for raw pixels (the seed used 150).
    random_weights : bool
        Run a CNN with random weights (offline checks; the map means nothing).
    perplexity : float
        t-SNE perplexity, clamped below ``(n - 1) / 3``.
    method : str
        ``"kmeans"`` or ``"hdbscan"`` (see :func:`cluster_method`).
    k : int, optional
        K-Means' number of clusters; ``None`` takes the k with the best
        silhouette score over :data:`K_RANGE`.
    min_cluster_size : int
        HDBSCAN's smallest cluster.
    random_state : int
        Seed of PCA, t-SNE and K-Means.
    """

    items: Sequence[tuple[str, str | Path]]
    feature_set: str = DEFAULT_FEATURE_SET
    raw_size: int = 150
    random_weights: bool = False
    perplexity: float = 30.0
    method: str = "kmeans"
    k: int | None = None
    min_cluster_size: int = 5
    random_state: int = 0

    @classmethod
    def for_catalogue(cls, catalogue: pd.DataFrame, **settings) -> "MapRequest":
        """A request for every picture of an archive catalogue (its ``sha256`` and ``path`` columns).

        A repost (the catalogue's ``duplicate_of``) is left out: each picture is mapped once, at its first post.
        """
        from ..archive.duplicates import unique_pictures

        catalogue = unique_pictures(catalogue)
        items = tuple(zip(catalogue["sha256"].astype(str), catalogue["path"].astype(str)))
        return cls(items=items, **settings)


@dataclass
class MapResult:
    """A photo map: where each readable photo lies, and its cluster.

    Attributes
    ----------
    feature_set, tag : str
        The feature set, and its exact version in the cache (``raw150-v1``).
    valid : ndarray (n,) bool
        Per request item: whether its photo could be read. The other arrays
        have one row per valid photo, in request order (:attr:`rows`).
    coords : ndarray (n_valid, 2)
        Map coordinates.
    clusters : ndarray (n_valid,) int
        Cluster of each photo, from 0; ``-1`` marks HDBSCAN's outliers.
    method : str
        ``"kmeans"`` or ``"hdbscan"``.
    k : int or None
        The k K-Means used (``None`` for HDBSCAN).
    silhouette : pandas.DataFrame
        Columns ``k, silhouette`` when k was suggested, else empty.
    probs : ndarray (n_valid, 1000) or None
        ImageNet class probabilities (CNN feature sets).
    has_labels : bool
        Whether ``probs`` come from real ImageNet weights.
    perplexity : float
        The perplexity t-SNE used.
    degenerate : bool
        Every photo had the same features: they lie on a circle, unordered.
    computed, reused : int
        Feature vectors computed in this call, and read from the cache.
    notes : list of str
        Sentences for the user (photos that could not be read).
    photo_map : PhotoMap
        The fitted map, to place new photos on it
        (:func:`core.explore.placement.place_photo`).
    """

    feature_set: str
    tag: str
    valid: np.ndarray
    coords: np.ndarray
    clusters: np.ndarray
    method: str
    k: int | None
    silhouette: pd.DataFrame
    probs: np.ndarray | None
    has_labels: bool
    perplexity: float
    degenerate: bool
    computed: int
    reused: int
    notes: list[str] = field(default_factory=list)
    photo_map: PhotoMap | None = None

    @property
    def rows(self) -> np.ndarray:
        """Request indices of the mapped photos (the rows of ``coords``)."""
        return np.flatnonzero(self.valid)

    @property
    def k_suggested(self) -> int | None:
        """The k with the best silhouette score, when it was scored."""
        return None if self.silhouette.empty else suggest_k(self.silhouette)

    def table(self, catalogue: pd.DataFrame) -> pd.DataFrame:
        """One row per mapped photo: the request's catalogue rows with map, cluster and labels.

        ``catalogue`` is the one given to :meth:`MapRequest.for_catalogue`. See
        :func:`core.explore.tables.photo_table`.
        """
        from ..archive.duplicates import unique_pictures
        from .tables import photo_table

        rows = unique_pictures(catalogue).iloc[self.rows].reset_index(drop=True)
        return photo_table(rows, self.coords, self.clusters, probs=self.probs, tag=self.tag)


def fit_map(features: np.ndarray, feature_set: str, *, perplexity: float = 30.0,
            random_state: int = 0) -> PhotoMap:
    """The :class:`PhotoMap` of a feature matrix, set up for its feature set.

    Raw pixels keep their length (brightness); the other sets are compared by
    direction (:attr:`~core.explore.features.FeatureSpec.l2_normalise`).

    Raises
    ------
    TooFewPhotosError
        With fewer than :data:`~core.explore.photomap.MIN_MAP_PHOTOS` rows.

    Examples
    --------
    >>> X = np.random.default_rng(0).random((12, 6))
    >>> photo_map = fit_map(X, "raw", perplexity=3)
    >>> photo_map.coords_.shape, photo_map.l2_normalise
    ((12, 2), False)
    """
    spec = FEATURE_SETS[feature_set]
    return PhotoMap(perplexity=perplexity, l2_normalise=spec.l2_normalise, random_state=random_state).fit(features)


def grow_map(photo_map: PhotoMap, old_keys: Sequence[str], keys: Sequence[str],
             features: np.ndarray) -> tuple[PhotoMap, int]:
    """The map of ``keys`` grown from a fitted map of ``old_keys``, every old photo where it was.

    Photos of ``keys`` not in ``old_keys`` are placed onto the map with
    openTSNE's ``transform`` (:meth:`PhotoMap.extend`); photos gone from
    ``keys`` are dropped; nothing else moves. This is how the page keeps one
    map while an archive grows; a re-fit makes a fresh layout.

    Parameters
    ----------
    photo_map : PhotoMap
        Fitted on the photos ``old_keys`` (one key per row, e.g. sha256).
    old_keys, keys : sequence of str
        The map's photos, and the photos wanted now (distinct keys).
    features : ndarray (len(keys), d)
        Feature rows of ``keys``, in that order (only the new rows are read).

    Returns
    -------
    (PhotoMap, int)
        The map with one row per key of ``keys``, in that order, and how many
        photos were placed.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 6))
    >>> keys = [f"p{i}" for i in range(40)]
    >>> old = fit_map(X[:30], "raw", perplexity=5)
    >>> grown, placed = grow_map(old, keys[:30], keys[5:], X[5:])
    >>> placed, grown.coords_.shape, bool((grown.coords_[:25] == old.coords_[5:]).all())
    (10, (35, 2), True)
    """
    where = {str(key): i for i, key in enumerate(old_keys)}
    new_rows = [i for i, key in enumerate(keys) if str(key) not in where]
    grown = photo_map.extend(np.asarray(features)[new_rows]) if new_rows else photo_map
    appended = {i: len(where) + j for j, i in enumerate(new_rows)}
    order = [where[str(key)] if str(key) in where else appended[i] for i, key in enumerate(keys)]
    return grown.take(np.asarray(order, dtype=int)), len(new_rows)


#: Cache kind of saved map layouts (:func:`save_layout`).
LAYOUT_KIND = "explore-layout"


@dataclass(frozen=True)
class SavedLayout:
    """A map layout kept on disk: its photos (one key per row), the map, and how many were placed after the fit."""

    keys: tuple[str, ...]
    photo_map: PhotoMap
    placed: int = 0


def layout_id(folder: str, user: str, feature_tag: str, perplexity: float) -> str:
    """The cache key of one layout: an archive's folder and user, a feature set, a perplexity.

    Examples
    --------
    >>> a = layout_id("/photos/a", "ann", "colour-v1", 30)
    >>> a == layout_id("/photos/a", "ann", "colour-v1", 30.0), a == layout_id("/photos/a", "bo", "colour-v1", 30)
    (True, False)
    """
    import hashlib

    text = "\x00".join([str(folder), str(user), str(feature_tag), f"{float(perplexity):g}"])
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def save_layout(cache: DiskCache, layout: str, saved: SavedLayout) -> None:
    """Keep a layout on disk (one ``.npz`` of plain arrays, no pickle), so a restarted server grows it, not re-fits.

    Examples
    --------
    >>> import tempfile
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(40, 6))
    >>> keys = tuple(f"p{i}" for i in range(40))
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> save_layout(cache, "L1", SavedLayout(keys[:30], fit_map(X[:30], "raw", perplexity=5)))
    >>> saved = load_layout(cache, "L1")
    >>> grown, placed = grow_map(saved.photo_map, saved.keys, keys, X)
    >>> placed, bool((grown.coords_[:30] == saved.photo_map.coords_).all())
    (10, True)
    """
    import io

    buffer = io.BytesIO()
    np.savez(buffer, keys=np.asarray(saved.keys, dtype=str), placed=np.asarray(int(saved.placed)),
             **saved.photo_map.state())
    cache.put(LAYOUT_KIND, layout, buffer.getvalue(), ".npz")


def load_layout(cache: DiskCache, layout: str) -> SavedLayout | None:
    """The layout :func:`save_layout` kept, or ``None`` (none saved, or unreadable: the caller fits a new one)."""
    import io
    import zipfile

    data = cache.get(LAYOUT_KIND, layout, ".npz")
    if data is None:
        return None
    try:
        with np.load(io.BytesIO(data), allow_pickle=False) as arrays:
            state = {name: arrays[name] for name in arrays.files}
        keys = tuple(str(k) for k in state.pop("keys"))
        placed = int(state.pop("placed"))
        photo_map = PhotoMap.from_state(state)
    except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile):
        return None
    if len(keys) != len(photo_map.coords_):
        return None
    return SavedLayout(keys, photo_map, placed)


def forget_layout(cache: DiskCache, layout: str) -> None:
    """Delete a saved layout (a re-fit), so the next map is laid out afresh."""
    cache.delete(LAYOUT_KIND, layout, ".npz")


def score_k(photo_map: PhotoMap, *, k_min: int = K_RANGE[0], k_max: int = K_RANGE[1],
            random_state: int = 0) -> pd.DataFrame:
    """Silhouette score of K-Means on the map's PCA features for each k (empty for a degenerate map).

    :func:`~core.explore.photomap.suggest_k` of the result is the suggested k.
    """
    if photo_map.degenerate_:
        return pd.DataFrame(columns=["k", "silhouette"])
    return silhouette_curve(photo_map.pca_features_, k_min, k_max, random_state=random_state)


def cluster_photos(photo_map: PhotoMap, method: str = "kmeans", *, k: int = 2, min_cluster_size: int = 5,
                   random_state: int = 0) -> np.ndarray:
    """Cluster of each photo of a fitted map.

    K-Means runs on the PCA features (the space t-SNE saw) with ``k``
    clusters; HDBSCAN runs on the map itself and leaves outliers at ``-1``.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (15, 8)), rng.normal(8, 1, (15, 8))])
    >>> photo_map = fit_map(X, "raw", perplexity=5)
    >>> labels = cluster_photos(photo_map, "K-Means", k=2)
    >>> sorted(np.bincount(labels).tolist())
    [15, 15]
    """
    if cluster_method(method) == "hdbscan":
        return hdbscan_labels(photo_map.coords_, min_cluster_size=int(min_cluster_size))
    return kmeans_labels(photo_map.pca_features_, int(k), random_state=random_state)


def cluster_names(labels: np.ndarray) -> np.ndarray:
    """What the page calls each cluster: ``C1``, ``C2``... and ``outliers`` for ``-1``.

    Examples
    --------
    >>> cluster_names(np.array([0, 2, -1])).tolist()
    ['C1', 'C3', 'outliers']
    """
    return np.array([("outliers" if c < 0 else f"C{c + 1}") for c in np.asarray(labels, dtype=int)], dtype=object)


def _scaled(progress: Progress | None, low: int, high: int) -> Progress | None:
    """``progress`` of one step, reported as ``low..high`` of 1,000 for the whole job."""
    if progress is None:
        return None

    def inner(done: int, total: int, message: str) -> None:
        progress(low + (high - low) * min(done, total) // max(total, 1), 1000, message)

    return inner


def compute_map(request: MapRequest, *, progress: Progress | None = None, cancel: CancelCheck | None = None,
                cache: DiskCache | None = None) -> MapResult:
    """Features, map and clusters of the request's photos.

    Parameters
    ----------
    request : MapRequest
    progress : callable, optional
        ``progress(done, 1000, message)``: the features take the first 800,
        the map the next 150, the clusters the rest.
    cancel : callable, optional
        Polled between photos batches and between steps; finished feature
        vectors stay cached.
    cache : DiskCache, optional
        Where feature vectors live (default: :func:`~core.cache.default_cache`).
        A second call reads them all: ``computed == 0``.

    Returns
    -------
    MapResult

    Raises
    ------
    TooFewPhotosError
        Fewer than :data:`~core.explore.photomap.MIN_MAP_PHOTOS` readable photos.
    WeightsUnavailableError
        A CNN's ImageNet weights cannot be had.
    Cancelled
        ``cancel()`` returned True.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> from core.cache import sha256_file
    >>> folder = Path(tempfile.mkdtemp()); items = []
    >>> for i, colour in enumerate(["red", "darkred", "blue", "navy", "green", "lime"]):
    ...     path = folder / f"{i}.png"; Image.new("RGB", (32, 24), colour).save(path)
    ...     items.append((sha256_file(path), path))
    >>> request = MapRequest(items, feature_set="raw", raw_size=8, perplexity=2, k=3)
    >>> result = compute_map(request, cache=DiskCache(folder / "cache"))
    >>> result.coords.shape, len(set(result.clusters)), result.computed
    ((6, 2), 3, 6)
    >>> compute_map(request, cache=DiskCache(folder / "cache")).computed
    0
    """
    method = cluster_method(request.method)
    extractor = make_extractor(request.feature_set, raw_size=int(request.raw_size),
                               weights=None if request.random_weights else "imagenet",
                               random_state=request.random_state)
    features: FeatureResult = compute_features(request.items, extractor, cache=cache,
                                               progress=_scaled(progress, 0, 800), cancel=cancel)
    rows = np.flatnonzero(features.valid)
    check_cancel(cancel)
    report(progress, 800, 1000, "Laying out the map (PCA, then t-SNE)…")
    photo_map = fit_map(features.features[rows], request.feature_set, perplexity=request.perplexity,
                        random_state=request.random_state)
    check_cancel(cancel)
    curve = pd.DataFrame(columns=["k", "silhouette"])
    k = None
    if method == "kmeans":
        k = request.k
        if k is None:
            report(progress, 950, 1000, f"Scoring k from {K_RANGE[0]} to {K_RANGE[1]} (silhouette)…")
            curve = score_k(photo_map, random_state=request.random_state)
            k = max(suggest_k(curve, default=2), 2)
        check_cancel(cancel)
    report(progress, 980, 1000, "Clustering…")
    labels = cluster_photos(photo_map, method, k=int(k or 2), min_cluster_size=request.min_cluster_size,
                            random_state=request.random_state)
    report(progress, 1000, 1000, f"Mapped {len(rows)} photos")
    return MapResult(
        feature_set=request.feature_set,
        tag=features.tag,
        valid=features.valid,
        coords=photo_map.coords_,
        clusters=np.asarray(labels, dtype=int),
        method=method,
        k=None if k is None else int(k),
        silhouette=curve,
        probs=None if features.probs is None else features.probs[rows],
        has_labels=features.has_labels,
        perplexity=float(photo_map.perplexity_),
        degenerate=bool(photo_map.degenerate_),
        computed=features.computed,
        reused=features.reused,
        notes=list(features.notes),
        photo_map=photo_map,
    )
