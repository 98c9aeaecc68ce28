"""The Explore map: PCA then t-SNE (openTSNE), clusters and their quality.

:class:`PhotoMap` is a scikit-learn style estimator: ``fit(X)`` reduces the
features with PCA and lays them out with openTSNE; ``transform(X_new)``
places new photos into the existing map (openTSNE's ``TSNEEmbedding
.transform``), which is how the page answers "where would this photo land?".

Clusters are computed on the PCA features (the space t-SNE saw, not the 2-D
picture): :func:`kmeans_labels` with a k chosen by hand or suggested by
:func:`silhouette_curve` / :func:`suggest_k`, or :func:`hdbscan_labels`,
which finds the number of clusters itself (and leaves outliers out).
:func:`knn_accuracy` and :func:`purity` measure how well a feature set
separates known categories (bench/explore_quality.py).

Small archives are handled, not crashed on: fewer than
:data:`MIN_MAP_PHOTOS` photos raise :class:`TooFewPhotosError` with a
sentence for the user, and photos whose features are all identical get a
trivial layout (``PhotoMap.degenerate_``) instead of a t-SNE run.

:func:`map_figure` draws the map as a Plotly scatter (WebGL above 1,000
points), so the page and the benchmark measure the same figure.

This module imports only NumPy and pandas at the top; scikit-learn, openTSNE
and Plotly inside the functions that need them.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..jobs import TooFewPhotosError

__all__ = [
    "MIN_MAP_PHOTOS",
    "effective_perplexity",
    "PhotoMap",
    "run_tsne",
    "map_figure",
    "kmeans_labels",
    "silhouette_curve",
    "suggest_k",
    "hdbscan_labels",
    "nearest_neighbours",
    "knn_accuracy",
    "purity",
    "trustworthiness_subsample",
]

#: Fewest photos a t-SNE map is drawn for: below this a map says nothing.
MIN_MAP_PHOTOS = 4


def effective_perplexity(perplexity: float, n: int) -> float:
    """Clamp a perplexity to what ``n`` points allow.

    t-SNE looks at about ``3 × perplexity`` neighbours of each point, so the
    perplexity must stay below ``(n - 1) / 3``.

    Examples
    --------
    >>> effective_perplexity(30, 1000)
    30.0
    >>> effective_perplexity(30, 15)
    4.666666666666667
    >>> effective_perplexity(30, 4)
    1.0
    """
    return float(max(1.0, min(float(perplexity), (int(n) - 1) / 3.0)))


def _l2_normalise(X: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    return X / np.where(norms > 0, norms, 1.0)


class PhotoMap:
    """PCA then openTSNE: a 2-D map of photos that can place new ones.

    Parameters
    ----------
    n_pca : int, default 50
        PCA components kept before t-SNE (fewer when there are fewer photos).
    perplexity : float, default 30
        t-SNE perplexity; clamped below ``(n - 1) / 3``.
    l2_normalise : bool, default True
        Scale each feature vector to unit length first (cosine geometry; right
        for CNN features, off for raw pixels to keep brightness).
    n_iter, early_exaggeration_iter : int
        openTSNE optimisation steps after / during early exaggeration. The
        defaults (125 + 75, under a third of openTSNE's 500 + 250) were tuned on
        10,000 points (bench/explore.py): the same trustworthiness as
        scikit-learn's 1,000 iterations, in a fraction of the time.
    neighbors : str
        Nearest-neighbour method: ``"auto"`` (exact up to 20,000 photos,
        where brute force beats Annoy on 50-d PCA features, Annoy above),
        or any of openTSNE's (``"exact"``, ``"annoy"``, ...).
    n_jobs : int
        Threads for openTSNE.
    random_state : int
        Seed of PCA and t-SNE.
    max_fit : int or None, default 20,000
        Above this many photos, PCA and t-SNE are fitted on a random sample of
        ``max_fit`` photos and the others are placed into that map with
        :meth:`transform`, ``chunk`` rows at a time (bench/explore_scale.py:
        100,000 photos in a fraction of a full run's time and memory, with
        the same trustworthiness). ``None`` fits every photo.
    chunk : int, default 10,000
        Rows normalised, reduced and placed at a time above ``max_fit``, so
        a memory-mapped feature matrix is read in pieces.

    Attributes
    ----------
    coords_ : ndarray (n, 2)
        The map.
    pca_features_ : ndarray (n, k)
        The PCA features the map was made from (clusters use them too).
    perplexity_ : float
        The perplexity actually used.
    degenerate_ : bool
        True when every photo had the same features (no t-SNE was run).
    fitted_rows_ : ndarray of int
        Rows t-SNE was fitted on (all of them up to ``max_fit``); the
        others were placed with :meth:`transform`.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 1, (20, 8)), rng.normal(6, 1, (20, 8))])
    >>> m = PhotoMap(n_pca=5, perplexity=10, random_state=0).fit(X)
    >>> m.coords_.shape, m.perplexity_
    ((40, 2), 10.0)
    >>> m.transform(X[:2]).shape
    (2, 2)
    """

    def __init__(
        self,
        n_pca: int = 50,
        perplexity: float = 30.0,
        l2_normalise: bool = True,
        n_iter: int = 125,
        early_exaggeration_iter: int = 75,
        neighbors: str = "auto",
        n_jobs: int = 2,
        random_state: int = 0,
        max_fit: int | None = 20_000,
        chunk: int = 10_000,
    ) -> None:
        self.n_pca = n_pca
        self.perplexity = perplexity
        self.l2_normalise = l2_normalise
        self.n_iter = n_iter
        self.early_exaggeration_iter = early_exaggeration_iter
        self.neighbors = neighbors
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.max_fit = max_fit
        self.chunk = chunk

    def _prepare(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError(f"expected a 2-D feature matrix, got shape {X.shape}")
        if not np.isfinite(X).all():
            raise ValueError("features contain NaN or infinite values")
        return _l2_normalise(X) if self.l2_normalise else X

    def fit(self, X: np.ndarray, y: object = None) -> "PhotoMap":
        """Reduce with PCA and lay out with t-SNE.

        Raises
        ------
        TooFewPhotosError
            With fewer than :data:`MIN_MAP_PHOTOS` rows.
        """
        from sklearn.decomposition import PCA

        if self.max_fit is not None and np.shape(X)[0] > int(self.max_fit) >= MIN_MAP_PHOTOS:
            return self._fit_sample(X)
        X = self._prepare(X)
        n = X.shape[0]
        if n < MIN_MAP_PHOTOS:
            raise TooFewPhotosError(
                f"A map needs at least {MIN_MAP_PHOTOS} photos; this archive has {n}. "
                "t-SNE places each photo among its neighbours, and with so few there is nothing to arrange: "
                "look at them in the Archive page instead."
            )
        self.n_features_in_ = X.shape[1]
        self.perplexity_ = effective_perplexity(self.perplexity, n)
        spread = float(np.ptp(X, axis=0).max()) if X.size else 0.0
        scale = float(np.abs(X).max()) if X.size else 0.0
        self.degenerate_ = spread <= 1e-6 * scale or scale == 0.0
        if self.degenerate_:
            # Identical photos: any layout is as true as another; put them on a small circle.
            return self._circle(n)
        k = int(max(1, min(self.n_pca, n - 1, X.shape[1])))
        solver = "randomized" if min(X.shape) > 4 * k else "full"
        self.pca_ = PCA(n_components=k, svd_solver=solver, random_state=self.random_state)
        Z = self.pca_.fit_transform(X).astype(np.float32)
        self.pca_features_ = Z
        self.embedding_ = self._tsne(Z)
        self.coords_ = np.asarray(self.embedding_, dtype=np.float32)
        self.fitted_rows_ = np.arange(n)
        return self

    def _fit_sample(self, X_raw: np.ndarray) -> "PhotoMap":
        """Fit on ``max_fit`` random rows, then reduce and place the rest ``chunk`` rows at a time."""
        n = X_raw.shape[0]
        rng = np.random.default_rng(self.random_state)
        sample = np.sort(rng.choice(n, int(self.max_fit), replace=False))
        self.max_fit, max_fit = None, self.max_fit
        try:
            self.fit(X_raw[sample])
        finally:
            self.max_fit = max_fit
        if self.degenerate_:  # 20,000 identical photos in a random sample: the rest are alike too
            return self._circle(n)
        coords = np.empty((n, 2), np.float32)
        Z = np.empty((n, self.pca_features_.shape[1]), np.float32)
        coords[sample], Z[sample] = self.coords_, self.pca_features_
        rest = np.setdiff1d(np.arange(n), sample)
        for start in range(0, len(rest), int(self.chunk)):
            rows = rest[start : start + int(self.chunk)]
            Z[rows] = self.reduce(X_raw[rows])
            coords[rows] = self._place(Z[rows])
        self.coords_, self.pca_features_, self.fitted_rows_ = coords, Z, sample
        return self

    def _circle(self, n: int) -> "PhotoMap":
        self.pca_, self.embedding_, self.degenerate_ = None, None, True
        self.pca_features_ = np.zeros((n, 1), np.float32)
        angle = np.linspace(0, 2 * np.pi, n, endpoint=False)
        self.coords_ = np.c_[np.cos(angle), np.sin(angle)].astype(np.float32)
        self.fitted_rows_ = np.arange(n)
        return self

    def _tsne(self, Z: np.ndarray):
        return run_tsne(Z, perplexity=self.perplexity_, n_iter=self.n_iter,
                        early_exaggeration_iter=self.early_exaggeration_iter, neighbors=self.neighbors,
                        n_jobs=self.n_jobs, random_state=self.random_state)

    def fit_transform(self, X: np.ndarray, y: object = None) -> np.ndarray:
        """Fit and return the map coordinates ``(n, 2)``."""
        return self.fit(X).coords_

    def reduce(self, X: np.ndarray) -> np.ndarray:
        """PCA features of new photos, in the fitted space."""
        X = self._prepare(X)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(f"expected {self.n_features_in_} features, got {X.shape[1]}")
        if self.pca_ is None:
            return np.zeros((X.shape[0], 1), np.float32)
        return self.pca_.transform(X).astype(np.float32)

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Place new photos into the existing map; returns ``(m, 2)``.

        openTSNE initialises each new point at the median of its nearest
        existing points and optimises it against the fixed map.
        """
        return self._place(self.reduce(X))

    def _place(self, Z: np.ndarray) -> np.ndarray:
        if self.embedding_ is None:
            return np.zeros((Z.shape[0], 2), np.float32)
        n = len(self.fitted_rows_)
        k = int(max(1, min(25, n - 1)))
        perplexity = float(max(1.0, min(5.0, (k - 1) / 3.0)))
        placed = self.embedding_.transform(np.ascontiguousarray(Z, dtype=np.float32), perplexity=perplexity, k=k)
        return np.asarray(placed, dtype=np.float32)

    def extend(self, X_new: np.ndarray) -> "PhotoMap":
        """A copy of this map with new photos placed on it; every existing coordinate stays where it was.

        What the page does when the archive grows: the new photos are
        reduced with the fitted PCA and placed with :meth:`transform` against
        the photos t-SNE was fitted on, so the map does not move. Their rows
        are appended to ``coords_`` and ``pca_features_``. Re-fitting (a new
        :meth:`fit`) gives a fresh layout instead.

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(30, 6))
        >>> old = PhotoMap(n_pca=4, perplexity=5).fit(X)
        >>> grown = old.extend(rng.normal(size=(5, 6)))
        >>> grown.coords_.shape, bool((grown.coords_[:30] == old.coords_).all())
        ((35, 2), True)
        """
        import copy

        Z = self.reduce(X_new)
        grown = copy.copy(self)
        grown.coords_ = np.vstack([self.coords_, self._place(Z)]).astype(np.float32)
        grown.pca_features_ = np.vstack([self.pca_features_, Z]).astype(np.float32)
        return grown

    #: Constructor parameters kept with a saved map (:meth:`state`).
    _PARAMS = ("n_pca", "perplexity", "l2_normalise", "n_iter", "early_exaggeration_iter", "neighbors", "n_jobs",
               "random_state", "max_fit", "chunk")

    def state(self) -> dict[str, np.ndarray]:
        """The fitted map as plain arrays (no pickle): what :meth:`from_state` needs to place new photos.

        The coordinates and PCA features of every photo, the PCA, and the
        photos t-SNE was fitted on (their PCA features and coordinates); the
        neighbour index of those is rebuilt on load (seconds for 20,000
        photos, where a new fit takes minutes).

        Examples
        --------
        >>> rng = np.random.default_rng(0)
        >>> X = rng.normal(size=(40, 6))
        >>> saved = PhotoMap(n_pca=4, perplexity=5).fit(X).state()
        >>> again = PhotoMap.from_state(saved)
        >>> bool((again.coords_ == PhotoMap(n_pca=4, perplexity=5).fit(X).coords_).all())
        True
        >>> grown = again.extend(rng.normal(size=(3, 6)))
        >>> grown.coords_.shape, bool((grown.coords_[:40] == again.coords_).all())
        ((43, 2), True)
        """
        import json

        params = {name: getattr(self, name) for name in self._PARAMS}
        fitted = {"perplexity_": float(self.perplexity_), "n_features_in_": int(self.n_features_in_),
                  "degenerate_": bool(self.degenerate_)}
        out = {"params": np.array(json.dumps({**params, **fitted})), "coords": np.asarray(self.coords_, np.float32),
               "pca_features": np.asarray(self.pca_features_, np.float32)}
        if not self.degenerate_:
            out.update(pca_components=self.pca_.components_, pca_mean=self.pca_.mean_,
                       pca_variance=self.pca_.explained_variance_,
                       fit_features=np.asarray(self.embedding_.affinities.knn_index.data, np.float32),
                       fit_coords=np.asarray(self.embedding_, np.float32))
        return out

    @classmethod
    def from_state(cls, state: dict[str, np.ndarray]) -> "PhotoMap":
        """A map saved by :meth:`state`, ready to :meth:`extend` (raises ``KeyError``/``ValueError`` if malformed)."""
        import json

        from sklearn.decomposition import PCA

        settings = json.loads(str(state["params"]))
        photo_map = cls(**{name: settings[name] for name in cls._PARAMS})
        photo_map.perplexity_ = float(settings["perplexity_"])
        photo_map.n_features_in_ = int(settings["n_features_in_"])
        photo_map.degenerate_ = bool(settings["degenerate_"])
        photo_map.coords_ = np.asarray(state["coords"], np.float32)
        photo_map.pca_features_ = np.asarray(state["pca_features"], np.float32)
        if photo_map.degenerate_:
            photo_map.pca_, photo_map.embedding_ = None, None
            photo_map.fitted_rows_ = np.arange(len(photo_map.coords_))
            return photo_map
        components = np.asarray(state["pca_components"])
        pca = PCA(n_components=components.shape[0])
        pca.components_, pca.mean_ = components, np.asarray(state["pca_mean"])
        pca.explained_variance_ = np.asarray(state["pca_variance"])
        pca.n_components_, pca.n_features_in_ = components.shape[0], components.shape[1]
        photo_map.pca_ = pca
        fit_features = np.ascontiguousarray(state["fit_features"], np.float32)
        fit_coords = np.ascontiguousarray(state["fit_coords"], np.float64)
        photo_map.embedding_ = _embedding_of(fit_features, fit_coords, perplexity=photo_map.perplexity_,
                                             neighbors=photo_map.neighbors, n_jobs=photo_map.n_jobs,
                                             random_state=photo_map.random_state)
        photo_map.fitted_rows_ = np.arange(len(fit_features))
        return photo_map

    def take(self, rows: np.ndarray) -> "PhotoMap":
        """A copy holding only ``rows`` of the map, in that order (same layout, same fitted t-SNE)."""
        import copy

        rows = np.asarray(rows, dtype=int)
        taken = copy.copy(self)
        taken.coords_, taken.pca_features_ = self.coords_[rows], self.pca_features_[rows]
        return taken


def run_tsne(
    Z: np.ndarray,
    *,
    perplexity: float = 30.0,
    n_iter: int = 125,
    early_exaggeration_iter: int = 75,
    neighbors: str = "auto",
    n_jobs: int = 2,
    random_state: int = 0,
):
    """openTSNE with Feedlens' settings; returns the ``TSNEEmbedding``.

    PCA initialisation, FFT-accelerated gradients (openTSNE's choice for
    large n) on a grid of 2 units per interval (4× fewer grid points than
    openTSNE's default, no loss of trustworthiness), exact neighbours up to
    20,000 points (``neighbors="auto"``).
    The embedding keeps its affinities, so ``.transform`` can place new
    points into it.

    Examples
    --------
    >>> Z = np.random.default_rng(0).normal(size=(30, 5))
    >>> np.asarray(run_tsne(Z, perplexity=5)).shape
    (30, 2)
    """
    Z = np.ascontiguousarray(Z, dtype=np.float32)
    tsne = _tsne_settings(Z, perplexity=perplexity, n_iter=n_iter, early_exaggeration_iter=early_exaggeration_iter,
                          neighbors=neighbors, n_jobs=n_jobs, random_state=random_state)
    return tsne.fit(Z)


def _tsne_settings(Z: np.ndarray, *, perplexity: float, n_iter: int, early_exaggeration_iter: int, neighbors: str,
                   n_jobs: int, random_state: int):
    """The ``openTSNE.TSNE`` of :func:`run_tsne` (and of a reloaded map, :func:`_embedding_of`)."""
    import openTSNE

    if neighbors == "auto":
        neighbors = "exact" if Z.shape[0] <= 20_000 else "annoy"
    return openTSNE.TSNE(
        n_components=2,
        perplexity=float(perplexity),
        n_iter=int(n_iter),
        early_exaggeration_iter=int(early_exaggeration_iter),
        initialization="pca" if Z.shape[1] >= 2 else "random",
        neighbors=neighbors,
        negative_gradient_method="auto",
        ints_in_interval=2,
        n_jobs=int(n_jobs),
        random_state=random_state,
        verbose=False,
    )


def _embedding_of(Z: np.ndarray, coords: np.ndarray, *, perplexity: float, neighbors: str, n_jobs: int,
                  random_state: int):
    """A fitted ``TSNEEmbedding`` rebuilt from its points and their coordinates (affinities computed again)."""
    import logging

    tsne = _tsne_settings(Z, perplexity=perplexity, n_iter=0, early_exaggeration_iter=0, neighbors=neighbors,
                          n_jobs=n_jobs, random_state=random_state)
    openTSNE_log = logging.getLogger("openTSNE.tsne")
    level = openTSNE_log.level
    openTSNE_log.setLevel(logging.ERROR)  # it warns that a given initialisation has a large spread: it is the map
    try:
        return tsne.prepare_initial(Z, initialization=np.ascontiguousarray(coords, dtype=np.float64))
    finally:
        openTSNE_log.setLevel(level)


def map_figure(
    coords: np.ndarray,
    categories: np.ndarray | None = None,
    *,
    values: np.ndarray | None = None,
    value_label: str = "likes",
    order: list[str] | None = None,
    palette: dict[str, str] | None = None,
    sizes: np.ndarray | None = None,
    customdata: np.ndarray | None = None,
    hovertemplate: str | None = None,
    highlight: np.ndarray | None = None,
    highlight_name: str = "highlighted",
    highlight_colour: str = "#d62728",
    title: str = "",
    legend_title: str = "",
    webgl_above: int = 1000,
):
    """The Explore scatter: one trace per category (or one coloured by value).

    Parameters
    ----------
    coords : array (n, 2)
        Map coordinates.
    categories : array of str, optional
        One trace per category, in ``order``, coloured from ``palette``.
    values : array of float, optional
        Instead of categories: one trace coloured by these (e.g. likes).
    sizes : array, optional
        Marker sizes.
    customdata : array (n, m) or False, optional
        Per-point data for hover text and selections (column 0: row index);
        ``False``: none is sent and the points have no hover (a lean map
        whose selection is read from its box, :func:`core.explore.figure.selection_rows`).
    highlight : bool array, optional
        Points drawn on top with a black outline; the rest fade.
    webgl_above : int
        Use WebGL (``Scattergl``) above this many points.

    Returns
    -------
    plotly.graph_objects.Figure
        Box-select is the default drag mode.

    Examples
    --------
    >>> fig = map_figure(np.zeros((3, 2)), np.array(["a", "b", "a"]))
    >>> [t.name for t in fig.data], fig.layout.dragmode
    (['a (2)', 'b (1)'], 'select')
    """
    import plotly.graph_objects as go

    coords = np.asarray(coords)
    # float32 coordinates stay float32: Plotly sends NumPy arrays as typed arrays, half the bytes at 100,000 points.
    xy = np.round(coords.astype(np.float32 if coords.dtype == np.float32 else float), 3)
    n = len(xy)
    Scatter = go.Scattergl if n > webgl_above else go.Scatter
    sizes = np.full(n, 8.0) if sizes is None else np.asarray(sizes, dtype=float)
    if customdata is False:
        custom = None
    elif customdata is None:
        custom = np.c_[np.arange(n)].astype(object)
    else:
        custom = np.asarray(customdata)
        custom = custom if custom.dtype.kind in "iu" else custom.astype(object)
    hover = hovertemplate or "%{customdata[0]}<extra></extra>"
    if custom is None:
        hover = None
    fig = go.Figure()

    def per_point(mask) -> dict:
        """What each trace carries per point besides x and y: customdata and hover, or nothing."""
        if custom is None:
            return {"hoverinfo": "skip"}
        return {"customdata": custom[mask], "hovertemplate": hover}

    line = {"width": 0.5, "color": "white"} if n <= webgl_above else {"width": 0}
    if values is not None or categories is None:
        colour = np.zeros(n) if values is None else np.asarray(values, dtype=float)
        known = np.isfinite(colour)
        if not known.all():  # unknown values are grey, not the bottom of the scale
            fig.add_trace(Scatter(
                x=xy[~known, 0], y=xy[~known, 1], mode="markers", **per_point(~known), name=f"{value_label} unknown ({int((~known).sum())})",
                marker={"size": sizes[~known], "color": "#bbbbbb", "line": line},
            ))
        fig.add_trace(Scatter(
            x=xy[known, 0], y=xy[known, 1], mode="markers", **per_point(known),
            name="photos", showlegend=False,
            marker={"size": _size(sizes[known]), "color": colour[known], "colorscale": "Viridis",
                    "showscale": values is not None,
                    "colorbar": {"title": {"text": value_label}, "thickness": 12}, "line": line},
        ))
    else:
        keys = np.asarray(categories).astype(str)
        order = order or sorted(set(keys))
        palette = palette or {}
        default = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
        for i, name in enumerate(order):
            mask = keys == name
            if not mask.any():
                continue
            fig.add_trace(Scatter(
                x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=f"{name} ({int(mask.sum())})",
                **per_point(mask),
                marker={"size": _size(sizes[mask]), "color": palette.get(name, default[i % len(default)]),
                        "line": line},
            ))
    if highlight is not None and np.any(highlight):
        member = np.asarray(highlight, dtype=bool)
        fig.update_traces(marker_opacity=0.18)
        fig.add_trace(Scatter(
            x=xy[member, 0], y=xy[member, 1], mode="markers", name=highlight_name, **per_point(member),
            marker={"size": sizes[member] + 3, "color": highlight_colour, "line": {"width": 1.5, "color": "black"}},
        ))
    fig.update_layout(
        height=620, dragmode="select", hovermode="closest", margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"itemsizing": "constant", "title": {"text": legend_title}},
        title={"text": title, "font": {"size": 13}},
        xaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        plot_bgcolor="#fafafa",
    )
    return fig


def _size(sizes: np.ndarray):
    """One number when every marker has the same size (nothing per point is sent), else the array."""
    return float(sizes[0]) if len(sizes) and np.all(sizes == sizes[0]) else sizes


def kmeans_labels(X: np.ndarray, k: int, random_state: int = 0) -> np.ndarray:
    """K-Means cluster of each row (``k`` clamped to the number of distinct rows).

    Examples
    --------
    >>> X = np.array([[0, 0], [0, 1], [10, 10], [10, 11]], float)
    >>> labels = kmeans_labels(X, 2)
    >>> bool(labels[0] == labels[1] != labels[2] == labels[3])
    True
    """
    from sklearn.cluster import KMeans

    X = np.asarray(X, dtype=np.float64)
    n_distinct = len(np.unique(X, axis=0)) if len(X) else 0
    k = int(max(1, min(int(k), n_distinct)))
    if k == 1:
        return np.zeros(len(X), dtype=int)
    return KMeans(n_clusters=k, n_init=4, random_state=random_state).fit_predict(X)


def silhouette_curve(X: np.ndarray, k_min: int = 2, k_max: int = 15, random_state: int = 0) -> pd.DataFrame:
    """Silhouette score of K-Means for each k in ``[k_min, k_max]``.

    The range is clamped to what the data allows (``k < n``). Higher is
    better: points are closer to their own cluster than to the next one.

    Returns
    -------
    pandas.DataFrame
        Columns ``k`` and ``silhouette``; empty when fewer than 3 distinct rows.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(c, 0.3, (15, 2)) for c in (0, 5, 10)])
    >>> curve = silhouette_curve(X, 2, 6)
    >>> suggest_k(curve)
    3
    """
    from sklearn.metrics import silhouette_score

    X = np.asarray(X, dtype=np.float64)
    n_distinct = len(np.unique(X, axis=0)) if len(X) else 0
    hi = min(int(k_max), n_distinct - 1)
    rows = []
    for k in range(max(2, int(k_min)), hi + 1):
        labels = kmeans_labels(X, k, random_state)
        if len(set(labels)) < 2:
            continue
        sample = min(len(X), 3000)
        rows.append({"k": k, "silhouette": float(
            silhouette_score(X, labels, sample_size=sample if sample < len(X) else None, random_state=random_state)
        )})
    return pd.DataFrame(rows, columns=["k", "silhouette"])


def suggest_k(curve: pd.DataFrame, default: int = 1) -> int:
    """The k with the highest silhouette (``default`` when the curve is empty)."""
    if curve is None or curve.empty:
        return int(default)
    return int(curve.loc[curve["silhouette"].idxmax(), "k"])


def hdbscan_labels(X: np.ndarray, min_cluster_size: int = 5) -> np.ndarray:
    """HDBSCAN clusters (density based, no k); ``-1`` marks outliers.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = np.vstack([rng.normal(0, 0.2, (20, 2)), rng.normal(5, 0.2, (20, 2))])
    >>> len(set(hdbscan_labels(X, 5)) - {-1})
    2
    """
    from sklearn.cluster import HDBSCAN

    X = np.asarray(X, dtype=np.float64)
    size = int(max(2, min(int(min_cluster_size), len(X))))
    if len(X) < 3:
        return np.full(len(X), -1, dtype=int)
    return HDBSCAN(min_cluster_size=size, copy=True).fit_predict(X)


def nearest_neighbours(reference: np.ndarray, queries: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices and Euclidean distances of the ``k`` nearest reference rows.

    Examples
    --------
    >>> idx, dist = nearest_neighbours(np.array([[0.0], [1.0], [5.0]]), np.array([[0.9]]), k=2)
    >>> idx.tolist()
    [[1, 0]]
    """
    reference = np.asarray(reference, dtype=np.float64)
    queries = np.asarray(queries, dtype=np.float64)
    k = int(max(1, min(int(k), len(reference))))
    d2 = (queries**2).sum(1)[:, None] - 2 * queries @ reference.T + (reference**2).sum(1)[None, :]
    d2 = np.maximum(d2, 0.0)
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    return idx, np.sqrt(np.take_along_axis(d2, idx, axis=1))


def knn_accuracy(X: np.ndarray, y: np.ndarray, k: int = 5) -> float:
    """Leave-one-out k-nearest-neighbour accuracy (majority vote, Euclidean).

    Each photo is classified by the majority category of its ``k`` nearest
    other photos (what scikit-learn's ``KNeighborsClassifier`` with
    leave-one-out cross-validation computes, in one matrix product).

    Examples
    --------
    >>> X = np.array([[0.0], [0.1], [0.2], [5.0], [5.1], [5.2]])
    >>> knn_accuracy(X, np.array([0, 0, 0, 1, 1, 1]), k=2)
    1.0
    """
    X = np.asarray(X, dtype=np.float64)
    classes, codes = np.unique(np.asarray(y), return_inverse=True)
    n = len(X)
    k = int(max(1, min(int(k), n - 1)))
    sq = (X**2).sum(1)
    d2 = sq[:, None] - 2 * X @ X.T + sq[None, :]
    np.fill_diagonal(d2, np.inf)  # leave each photo out of its own vote
    idx = np.argsort(d2, axis=1, kind="stable")[:, :k]
    votes = np.zeros((n, len(classes)))
    np.add.at(votes, (np.repeat(np.arange(n), k), codes[idx].ravel()), 1.0)
    predicted = votes.argmax(axis=1)  # ties go to the first class, as in scikit-learn
    return float(np.mean(predicted == codes))


def purity(labels_pred: np.ndarray, labels_true: np.ndarray) -> float:
    """Cluster purity: share of points in their cluster's majority category.

    Examples
    --------
    >>> purity(np.array([0, 0, 1, 1]), np.array(["a", "a", "a", "b"]))
    0.75
    """
    frame = pd.DataFrame({"c": np.asarray(labels_pred), "t": np.asarray(labels_true)})
    if frame.empty:
        return 0.0
    return float(frame.groupby("c")["t"].agg(lambda s: s.value_counts().iloc[0]).sum() / len(frame))


def trustworthiness_subsample(X: np.ndarray, Y: np.ndarray, n_neighbors: int = 10, n_sample: int = 2000,
                              random_state: int = 0) -> float:
    """scikit-learn's trustworthiness on a fixed random subsample.

    Trustworthiness is quadratic in the number of points; on a subsample the
    neighbourhoods are those within the subsample, in both spaces.

    Examples
    --------
    >>> X = np.random.default_rng(0).normal(size=(50, 3))
    >>> round(trustworthiness_subsample(X, X[:, :2], 5, 40), 2) > 0.8
    True
    """
    from sklearn.manifold import trustworthiness

    X, Y = np.asarray(X), np.asarray(Y)
    if len(X) > n_sample:
        idx = np.random.default_rng(random_state).choice(len(X), n_sample, replace=False)
        X, Y = X[idx], Y[idx]
    return float(trustworthiness(X, Y, n_neighbors=n_neighbors))
