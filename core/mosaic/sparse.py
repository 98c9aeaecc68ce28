"""Placing photos on 100,000 tiles: exact assignment on a graph of each tile's nearest photos.

A dense cost matrix grows as tiles x photo slots (10,000 x 10,000 in float64
is 0.8 GB; 100,000 x 100,000 would be 80 GB). Above a memory budget
(:func:`fits_dense`) the placement keeps, for every tile, its ``k`` nearest
photos, and for every photo its ``k`` nearest tiles (so that no photo is left
without a tile that could take it). The searches run in a reduced space
(:class:`_Reduced`: the leading principal axes plus the length of the rest),
where squared distances are *lower bounds* of the MSE: the pairs found are
then scored exactly, and whatever a search leaves out is known to cost at
least its ``k``-th bound. A rank-to-rank matching along the first principal
axis joins the graph too, so it has a complete matching from the start. The
assignment on that candidate graph is solved exactly (``lap.lapmod`` when
slots = tiles, else SciPy's
:func:`~scipy.sparse.csgraph.min_weight_full_bipartite_matching`, LAPJVsp).

When the candidate graph has no complete matching (only without the
rank-to-rank matching; :func:`~scipy.sparse.csgraph.maximum_bipartite_matching`
says which tiles are left over), ``k`` is doubled for the unmatched tiles (and
for the photos that must be used but have no free tile) and the graph is
rebuilt, until every tile can be matched: the placement never fails silently
nor leaves a tile black. Reuse limits work as for the dense solver (``r``
copies of each photo's column) and face/person weights multiply each tile's row.

Then it prices (column generation): the optimum's duals (``v`` from
Bellman-Ford on the graph of moves, ``u_i = c_i,x(i) - v_x(i)``; on square
graphs the mean of these and of the same on the transposed graph) say which
pairs outside the graph would lower the total: those with ``w_i MSE_ij <
u_i + v_j``. :func:`_price` finds them with one search per distinct weight in
the reduced space, the photos' vectors extended by a coordinate for their
dual, so the search ranks by a lower bound of the reduced cost; the best
``price_k`` per tile are scored exactly, the paying ones join the graph, and
it is solved again. When no pair can pay the placement is *the optimum of
the whole matrix* (:attr:`SparsePlacement.certified`); after ``max_rounds``
rounds (or ``max_seconds``) it may not be, and only the lower bound says how
far it may be.

The result also carries the lower bound ``sum_i w_i * min_j MSE(i, j)``
(each tile's best photo, as if photos could be shared freely), which no
placement can beat. Where the dense optimum can be computed the benchmark
(``bench/mosaic_scale.py``) reports the gap to it as well.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from ..jobs import CancelCheck, Progress, check_cancel, report
from .grid import MosaicError, check_capacity

__all__ = [
    "DENSE_BUDGET_BYTES",
    "DEFAULT_K",
    "DEFAULT_REDUCE_DIMS",
    "dense_bytes",
    "fits_dense",
    "nearest",
    "SparsePlacement",
    "assign_sparse",
]

#: The dense exact solver's cost matrix may take at most this much memory (float64, padded square).
DENSE_BUDGET_BYTES = 1_200_000_000
#: Candidate photos kept per tile (and tiles per photo) before any growth.
DEFAULT_K = 8
#: Principal axes of the candidate search (plus one coordinate for the rest; see :class:`_Reduced`).
DEFAULT_REDUCE_DIMS = 32


def dense_bytes(n_tiles: int, n_slots: int) -> int:
    """Bytes of the dense solver's float64 cost matrix (square, padded with dummy tiles).

    Examples
    --------
    >>> dense_bytes(10_000, 10_000) / 1e9
    0.8
    """
    side = max(int(n_tiles), int(n_slots))
    return 8 * side * side


def fits_dense(n_tiles: int, n_photos: int, reuse: int = 1, budget: float = DENSE_BUDGET_BYTES) -> bool:
    """The dense exact solver's matrix fits in ``budget`` bytes.

    Examples
    --------
    >>> fits_dense(10_000, 10_000), fits_dense(40_000, 40_000), fits_dense(40_000, 4_000, reuse=10)
    (True, False, False)
    """
    return dense_bytes(n_tiles, int(n_photos) * int(reuse)) <= budget


def _vectors(x: NDArray, mean: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
    """``(N, d)`` float32 in ``[0, 1]`` (uint8 scaled), minus ``mean``; always a fresh C-contiguous array."""
    arr = np.asarray(x)
    flat = arr.reshape(arr.shape[0], -1)
    out = flat.astype(np.float32) * np.float32(1 / 255) if arr.dtype == np.uint8 else flat.astype(np.float32)
    if mean is not None:
        out -= mean
    return np.ascontiguousarray(out)


def _common_mean(a: NDArray, b: NDArray, chunk: int = 8192) -> NDArray[np.float32]:
    """Mean vector of both sets (centring keeps the ``|a|^2 + |b|^2 - 2ab`` cancellation error small)."""
    total = np.zeros(int(np.prod(np.shape(a)[1:])), np.float64)
    for x in (a, b):
        for s in range(0, len(x), chunk):
            total += _vectors(x[s : s + chunk]).sum(0, dtype=np.float64)
    return (total / max(1, len(a) + len(b))).astype(np.float32)


class _Index:
    """Exact nearest neighbours (squared L2) of query vectors among ``base``: faiss ``IndexFlatL2``."""

    def __init__(self, base: NDArray, mean: NDArray[np.float32], chunk: int = 8192) -> None:
        import faiss

        first = _vectors(base[:1], mean)
        self.d = first.shape[1]
        self.n = len(base)
        self.index = faiss.IndexFlatL2(self.d)
        for s in range(0, len(base), chunk):
            self.index.add(_vectors(base[s : s + chunk], mean))

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """``(mse, index)`` of each query's ``k`` nearest, ascending (MSE = squared distance / d)."""
        dist, idx = self.index.search(queries, int(min(k, self.n)))
        np.maximum(dist, 0, out=dist)
        dist *= np.float32(1 / self.d)
        return dist, idx


class _Reduced:
    """Vectors projected on the leading principal axes plus the length of what the projection leaves out.

    For ``z = P^T x`` (``P``: ``m`` orthonormal axes) and ``r = |x - P z|``,
    ``|z_a - z_b|^2 + (r_a - r_b)^2 <= |a - b|^2`` (Pythagoras, then the
    reverse triangle inequality on the left-out parts): squared distances in
    this ``m + 1``-dimensional space are *lower bounds* of the true ones, and
    a search there is ``d / (m + 1)`` times cheaper. The candidates it finds
    are scored exactly; what the search leaves out costs at least its k-th
    bound, which is all pricing needs to stay exact. When ``dims`` axes hold
    less than ``min_captured`` of the variance, every axis is kept.
    """

    def __init__(self, tiles: NDArray, photos: NDArray, mean: NDArray[np.float32], dims: int,
                 sample: int = 20_000, chunk: int = 8192, min_captured: float = 0.9) -> None:
        self.mean, self.chunk = mean, chunk
        d = mean.shape[0]
        dims = int(min(max(1, dims), d))
        rng = np.random.default_rng(0)
        parts = [_vectors(x[np.sort(rng.choice(len(x), min(len(x), sample), replace=False))], mean)
                 for x in (tiles, photos)]
        both = np.concatenate(parts).astype(np.float64)
        vals, vecs = np.linalg.eigh(both.T @ both)
        vals, vecs = vals[::-1], vecs[:, ::-1]  # largest variance first
        if vals[:dims].sum() < min_captured * max(vals.sum(), 1e-300):
            # Little structure (e.g. uniform random vectors): the bounds would be too loose to prune
            # anything, and pricing would widen its searches to every photo. Keep every axis: exact.
            dims = d
        self.axes = np.ascontiguousarray(vecs[:, :dims], np.float32)  # (d, m)
        self.dims = dims

    def project(self, x: NDArray) -> NDArray[np.float32]:
        """``(N, m + 1)`` float32: principal coordinates, then the left-out length."""
        out = np.empty((len(x), self.dims + 1), np.float32)
        for s in range(0, len(x), self.chunk):
            v = _vectors(x[s : s + self.chunk], self.mean)
            z = v @ self.axes
            left = np.einsum("ij,ij->i", v, v, dtype=np.float64) - np.einsum("ij,ij->i", z, z, dtype=np.float64)
            out[s : s + len(v), : self.dims] = z
            out[s : s + len(v), self.dims] = np.sqrt(np.maximum(left, 0.0))
        return out


class _BoundIndex:
    """Exact nearest neighbours in the reduced space: each query's ``k`` smallest lower bounds of the MSE."""

    def __init__(self, base: NDArray[np.float32], d: int) -> None:
        import faiss

        self.n, self.d = len(base), d
        self.index = faiss.IndexFlatL2(base.shape[1])
        self.index.add(base)

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """``(bound, index)``: ``bound`` (ascending) is at most the MSE of each found pair."""
        dist, idx = self.index.search(np.ascontiguousarray(queries), int(min(k, self.n)))
        np.maximum(dist, 0, out=dist)
        # float32 sums of ~m terms: shave a relative 1e-5 so the bound stays below the exact MSE.
        dist *= np.float32((1 - 1e-5) / self.d)
        return dist, idx


def _edge_mse(tiles: NDArray, photos: NDArray, ti: NDArray, pj: NDArray, mean: NDArray[np.float32],
              chunk: int = 65_536) -> NDArray[np.float32]:
    """Exact MSE of each (tile ``ti[e]``, photo ``pj[e]``) pair."""
    out = np.empty(len(ti), np.float32)
    for s in range(0, len(ti), chunk):
        diff = _vectors(tiles[ti[s : s + chunk]], mean)
        diff -= _vectors(photos[pj[s : s + chunk]], mean)
        out[s : s + len(diff)] = np.einsum("ij,ij->i", diff, diff) * np.float32(1 / diff.shape[1])
    return out


def nearest(
    queries: NDArray,
    base: NDArray,
    k: int,
    *,
    chunk: int = 8192,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Each query's ``k`` nearest vectors of ``base`` by mean squared error, exactly.

    Parameters
    ----------
    queries : (N, ...) uint8 or float in [0, 1]
    base : (M, ...) same trailing shape
    k : int
        At most ``M``.
    chunk : int
        Queries per faiss call (between calls ``cancel`` is polled).

    Returns
    -------
    mse : (N, k) float32, ascending along each row
    index : (N, k) int64 into ``base``

    Examples
    --------
    >>> q = np.array([[0, 0], [255, 255]], np.uint8)
    >>> b = np.array([[250, 255], [0, 10], [128, 128]], np.uint8)
    >>> nearest(q, b, 2)[1].tolist()
    [[1, 2], [0, 2]]
    """
    mean = _common_mean(queries, base)
    index = _Index(base, mean)
    k = int(min(k, len(base)))
    mse = np.empty((len(queries), k), np.float32)
    idx = np.empty((len(queries), k), np.int64)
    for s in range(0, len(queries), chunk):
        check_cancel(cancel)
        mse[s : s + chunk], idx[s : s + chunk] = index.search(_vectors(queries[s : s + chunk], mean), k)
        report(progress, min(len(queries), s + chunk), len(queries), "Nearest photos")
    return mse, idx


@dataclass
class SparsePlacement:
    """An exact placement on the candidate graph, with its certificate.

    Attributes
    ----------
    photo_of_tile : (T,) int
        Photo index for each tile.
    objective : float
        Weighted total MSE of the placement.
    lower_bound : float
        ``sum_i w_i * min_j MSE(i, j)`` or a little less (where a tile's
        ``k``-th bound in the reduced space is below its best candidate's
        MSE, that bound): no placement can do better.
    k : int
        Candidate photos per tile at the start; tiles that needed more got
        ``k * 2**round`` (see ``grown``).
    edges : int
        Tile-photo edges of the final graph (before the reuse copies).
    grown : list of int
        Tiles (and photos) whose candidates were doubled, per growth round.
    seconds : dict
        ``"nearest"``, ``"graph"``, ``"solve"``, ``"duals"`` and ``"pricing"`` times
        (``"pricing"`` includes ``"duals"``).
    certified : bool
        The duals prove that no photo outside the candidates would lower the
        total: the placement is the optimum of the whole cost matrix.
    priced : list of int
        Pairs added to the graph by each pricing round.
    """

    photo_of_tile: NDArray[np.intp]
    objective: float
    lower_bound: float
    k: int
    edges: int
    grown: list[int] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)
    certified: bool = False
    priced: list[int] = field(default_factory=list)

    @property
    def bound_gap(self) -> float:
        """``objective / lower_bound - 1``: at most this far from the optimum (0 when the bound is 0)."""
        return self.objective / self.lower_bound - 1.0 if self.lower_bound > 0 else 0.0


def assign_sparse(
    tiles: NDArray,
    photos: NDArray,
    *,
    weights: NDArray | None = None,
    reuse: int = 1,
    k: int = DEFAULT_K,
    photo_k: int | None = None,
    solver: str = "auto",
    max_rounds: int = 8,
    reduce_dims: int = DEFAULT_REDUCE_DIMS,
    min_captured: float = 0.9,
    backbone: bool = True,
    centre_duals: bool = True,
    price_k: int = 4 * DEFAULT_K,
    max_seconds: float | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> SparsePlacement:
    """The optimal placement among each tile's nearest photos, growing the candidates until all tiles fit.

    Parameters
    ----------
    tiles : (T, ...) uint8 or float in [0, 1]
        Target tiles at scoring size.
    photos : (P, ...) same trailing shape
    weights : (T,) array, optional
        Tile weights: row ``i`` of the cost is ``weights[i] * MSE``.
    reuse : int
        Each photo may be used up to this many times (``reuse`` copies of its column).
    k : int
        Nearest photos per tile at the start.
    photo_k : int, optional
        Nearest tiles per photo (default ``k``): they keep every photo
        reachable, which matters when every photo slot must be filled.
    solver : {"auto", "lapmod", "scipy"}
        ``lapmod`` (the ``lap`` package's sparse Jonker-Volgenant; square
        graphs only, about twice as fast as SciPy's at 100,000 tiles) or
        SciPy's LAPJVsp (any shape); ``auto``: lapmod when there are exactly as
        many photo slots as tiles.
    max_rounds : int
        Pricing rounds at most: after each solve the duals show which pairs
        outside the graph would lower the total (:func:`_price`); up to
        ``price_k`` of them per tile join the graph and it is solved again.
        When no pair can pay the placement is the optimum of the whole matrix
        (``certified``); otherwise it is the optimum of the last graph and only
        ``bound_gap`` says how far it may be from the optimum.
    reduce_dims : int
        Principal axes of the candidate and pricing searches (plus one
        coordinate for the rest): distances there are lower bounds of the
        MSE, so candidates are scored exactly afterwards and pricing stays
        exact; fewer axes make the searches cheaper and the bounds looser.
    min_captured : float
        When ``reduce_dims`` axes hold less than this share of the variance
        the bounds would prune little: every axis is kept (0: always reduce).
    backbone : bool
        Add the rank-to-rank matching along the first principal axis, so the
        graph has a complete matching from the start (``False``: only the
        nearest pairs, grown where needed).
    centre_duals : bool
        Price with the mean of the slot-favouring and tile-favouring duals
        (square graphs): fewer pairs look profitable, fewer rounds.
    price_k : int
        Pairs that pay, at most, added per tile and pricing round (the most
        negative reduced costs first). More: fewer rounds, larger graphs.
    max_seconds : float, optional
        No pricing pass starts after this many seconds; the result is then
        the optimum of the graph so far, not certified. (After ``max_rounds``
        one more pass still runs, without adding pairs, to say whether the
        last graph's optimum is the whole matrix's.)
    progress, cancel
        As in :mod:`core.jobs`.

    Returns
    -------
    SparsePlacement

    Raises
    ------
    MosaicError
        Fewer photo slots than tiles.

    Examples
    --------
    >>> tiles = np.array([[0, 0], [250, 250], [120, 130]], np.uint8)
    >>> photos = np.array([[255, 255], [10, 0], [128, 128]], np.uint8)
    >>> placed = assign_sparse(tiles, photos, k=1)
    >>> placed.photo_of_tile.tolist(), placed.grown
    ([1, 0, 2], [])
    """
    from scipy.sparse import csr_matrix
    from scipy.sparse.csgraph import maximum_bipartite_matching, min_weight_full_bipartite_matching

    n_t, n_p = len(tiles), len(photos)
    reuse = int(reuse)
    check_capacity(n_t, n_p, reuse)
    n_c = n_p * reuse
    w = np.ones(n_t) if weights is None else np.asarray(weights, np.float64).reshape(-1)
    if w.shape[0] != n_t:
        raise ValueError(f"{w.shape[0]} weights for {n_t} tiles")
    k = max(1, int(k))
    photo_k = k if photo_k is None else max(0, int(photo_k))
    seconds = {"nearest": 0.0, "graph": 0.0, "solve": 0.0}

    t0 = time.perf_counter()
    mean = _common_mean(tiles, photos)
    d = int(mean.shape[0])
    reduced = _Reduced(tiles, photos, mean, reduce_dims, min_captured=min_captured)
    report(progress, 0, 4, f"Nearest {min(k, n_p)} photos of each of {n_t:,} tiles (faiss, {reduced.dims} of {d} axes)")
    red_tiles, red_photos = reduced.project(tiles), reduced.project(photos)
    photo_index = _BoundIndex(red_photos, d)
    tile_k = np.full(n_t, min(k, n_p), np.int64)
    tile_idx: list[NDArray] = [np.empty(0, np.int64)] * n_t
    tile_mse: list[NDArray] = [np.empty(0, np.float32)] * n_t
    tile_outside = np.zeros(n_t)  # a photo outside tile i's candidates has an MSE of at least this
    chunk = 8192

    def search_tiles(which: NDArray[np.int64]) -> None:
        for s in range(0, which.size, chunk):
            check_cancel(cancel)
            part = which[s : s + chunk]
            kk = int(tile_k[part].max())
            bound, idx = photo_index.search(red_tiles[part], kk)
            exact = _edge_mse(tiles, photos, np.repeat(part, idx.shape[1]), idx.ravel(), mean).reshape(idx.shape)
            for row, t in enumerate(part):
                n = int(tile_k[t])
                tile_idx[t], tile_mse[t] = idx[row, :n], exact[row, :n]
                tile_outside[t] = np.inf if n >= n_p else bound[row, n - 1]

    search_tiles(np.arange(n_t))
    best_found = np.fromiter((m.min() for m in tile_mse), np.float64, n_t)
    lower_bound = float((w * np.minimum(best_found, tile_outside)).sum())
    pk = np.full(n_p, min(photo_k, n_t), np.int64)
    photo_mse = np.empty((n_p, 0), np.float32)
    photo_idx = np.empty((n_p, 0), np.int64)
    tile_index = _BoundIndex(red_tiles, d)

    def search_photos(which: NDArray[np.int64], kk: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        _, idx = tile_index.search(red_photos[which], kk)
        exact = _edge_mse(tiles, photos, idx.ravel(), np.repeat(which, idx.shape[1]), mean).reshape(idx.shape)
        return exact, idx

    if photo_k > 0:
        report(progress, 1, 4, f"Nearest {min(photo_k, n_t)} tiles of each of {n_p:,} photos")
        parts = [search_photos(np.arange(s, min(n_p, s + chunk)), int(pk[0])) for s in range(0, n_p, chunk)]
        photo_mse = np.concatenate([p[0] for p in parts])
        photo_idx = np.concatenate([p[1] for p in parts])
    photo_extra: dict[int, tuple[NDArray, NDArray]] = {}
    priced_edges: list[tuple[NDArray, NDArray, NDArray]] = []  # (tiles, photos, mse) added by pricing
    if backbone:
        # Tiles and photo slots matched rank to rank along the first principal axis (the 1-D optimal
        # transport): a complete matching from the start, so the graph rarely needs growing.
        tile_rank = np.argsort(red_tiles[:, 0], kind="stable")
        slot_photo = np.repeat(np.argsort(red_photos[:, 0], kind="stable"), reuse)
        bt = tile_rank.astype(np.int64)
        bp = slot_photo[(np.arange(n_t, dtype=np.int64) * n_c) // n_t].astype(np.int64)
        priced_edges.append((bt, bp, _edge_mse(tiles, photos, bt, bp, mean)))
    seconds["nearest"] = time.perf_counter() - t0

    grown: list[int] = []
    priced: list[int] = []

    def grow_tiles(which: NDArray[np.int64]) -> None:
        t2 = time.perf_counter()
        tile_k[which] = np.minimum(tile_k[which] * 2, n_p)
        search_tiles(which)
        seconds["nearest"] += time.perf_counter() - t2

    if solver == "auto":
        solver = "lapmod" if n_c == n_t else "scipy"
    if solver not in ("lapmod", "scipy"):
        raise ValueError(f"unknown solver {solver!r}")
    if solver == "lapmod" and n_c != n_t:
        raise ValueError("lapmod solves square graphs only (as many photo slots as tiles)")
    certified = False
    while True:
        check_cancel(cancel)
        t1 = time.perf_counter()
        rows, cols, mse = _graph_edges(tile_idx, tile_mse, photo_idx, photo_mse, photo_extra, n_p,
                                       priced_edges)
        cost = w[rows] * mse + 1.0  # the solver needs non-zero weights; every full matching adds exactly n_t
        if reuse > 1:
            rows = np.tile(rows, reuse)
            cost = np.tile(cost, reuse)
            cols = (cols[None, :] + n_p * np.arange(reuse)[:, None]).ravel()
        graph = csr_matrix((cost, (rows, cols)), shape=(n_t, n_c))
        graph.sum_duplicates()
        graph.sort_indices()
        matched = maximum_bipartite_matching(graph, perm_type="column")
        seconds["graph"] += time.perf_counter() - t1
        lost_tiles = np.flatnonzero(matched < 0)
        if lost_tiles.size:
            # Every slot must be filled when there are exactly as many as tiles: grow the photos left out too.
            lost_photos = np.empty(0, np.int64)
            if n_c == n_t:
                used = np.zeros(n_c, bool)
                used[matched[matched >= 0]] = True
                lost_photos = np.flatnonzero(~used.reshape(reuse, n_p).all(0))
            grown.append(int(lost_tiles.size + lost_photos.size))
            report(progress, 2, 4, f"{lost_tiles.size:,} tiles have no free candidate: doubling their candidates")
            grow_tiles(lost_tiles)
            if lost_photos.size:
                pk[lost_photos] = np.minimum(np.where(pk[lost_photos] > 0, pk[lost_photos] * 2, k), n_t)
                for s in range(0, lost_photos.size, chunk):
                    part = lost_photos[s : s + chunk]
                    exact, idx = search_photos(part, int(pk[part].max()))
                    for row, p in enumerate(part):
                        photo_extra[int(p)] = (exact[row, : pk[p]], idx[row, : pk[p]])
            continue

        check_cancel(cancel)
        report(progress, 3, 4, f"Exact assignment on {graph.nnz:,} candidate edges ({n_t:,} tiles x {n_c:,} slots)")
        t3 = time.perf_counter()
        if solver == "lapmod":
            import lap

            # lapmod loops forever on a graph without a perfect matching: the matching above rules that out.
            _, col_ind, _ = lap.lapmod(n_t, graph.data, graph.indptr, graph.indices)
            col_ind = np.asarray(col_ind, np.int64)
        else:
            try:
                row_ind, col_ind = min_weight_full_bipartite_matching(graph)
            except ValueError:  # pragma: no cover - the maximum matching above said a full one exists
                raise MosaicError("The candidate graph has no complete matching; this is a bug.") from None
            order = np.empty(n_t, np.int64)
            order[row_ind] = col_ind
            col_ind = order
        seconds["solve"] += time.perf_counter() - t3

        # Pricing: the duals of the candidate graph's optimum either prove it optimal for the whole
        # matrix or point at the tiles that might do better with a photo outside their candidates.
        if max_seconds is not None and time.perf_counter() - t0 > max_seconds:
            break  # out of time: not even the pass that could certify the graph's optimum
        t4 = time.perf_counter()
        u, v = _duals(graph, col_ind, n_c)
        if n_c == n_t and centre_duals:
            # The duals above give every slot the highest price the graph allows; the same on the transposed
            # graph gives every tile its highest. Their mean is dual feasible too (the set is convex) and,
            # being central, lets far fewer pairs outside the graph look profitable.
            tile_of_slot = np.empty(n_c, np.int64)
            tile_of_slot[col_ind] = np.arange(n_t)
            v_alt, u_alt = _duals(graph.T.tocsr(), tile_of_slot, n_t)
            u, v = (u + u_alt) / 2, (v + v_alt) / 2
        seconds["duals"] = seconds.get("duals", 0.0) + time.perf_counter() - t4
        v_photo = v.reshape(reuse, n_p).max(0)  # the copy of each photo that is cheapest to take
        can_add = len(priced) < max_rounds
        ti, pj, mse_new, doubt = _price(tiles, photos, red_tiles, red_photos, mean, w, u, v_photo, k,
                                        limit=price_k if can_add else 0, width=price_k, cancel=cancel)
        seconds["pricing"] = seconds.get("pricing", 0.0) + time.perf_counter() - t4
        if doubt == 0:
            certified = True
            break
        if not can_add:
            break
        priced_edges.append((ti, pj, mse_new))
        priced.append(int(ti.size))
        report(progress, 3, 4, f"{ti.size:,} edges outside the candidates pay: solving again")

    photo_of_tile = (col_ind % n_p).astype(np.intp)
    objective = float(np.asarray(graph[np.arange(n_t), col_ind]).ravel().sum() - n_t)
    report(progress, 4, 4, "Placed")
    return SparsePlacement(photo_of_tile, objective, lower_bound, k, int(len(mse)), grown, seconds,
                           certified, priced)


def _price(tiles: NDArray, photos: NDArray, red_tiles: NDArray[np.float32], red_photos: NDArray[np.float32],
           mean: NDArray[np.float32], w: NDArray[np.float64], u: NDArray[np.float64], v: NDArray[np.float64],
           k: int, *, limit: int, width: int = 0, tol: float = 1e-6, chunk: int = 8192, cancel: CancelCheck | None = None,
           ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float32], int]:
    """Pairs outside the graph with a negative reduced cost ``w_i MSE_ij + 1 - u_i - v_j``, and how many tiles have one.

    One nearest-neighbour search per distinct weight finds, for every tile,
    the ``k`` photos of least *bound* on the reduced cost: the photo vectors
    get one more coordinate, ``sqrt(d (max v - v_j) / w)``, so the squared
    distance in the reduced space is ``d (LB_ij + (max v - v_j) / w)``. The
    ``k`` found are scored exactly; every other photo's reduced cost is at
    least the ``k``-th bound. A tile is settled when that bound is not
    negative; otherwise its search is widened (``k`` doubled) until it is, or
    until an exactly scored pair pays. Returns the paying pairs (at most
    ``limit`` per tile, most negative first; with ``limit=0`` none, only the
    count) and the number of tiles not proven settled.
    """
    import faiss

    d = int(mean.shape[0])
    shift = 1.0 - u  # reduced cost of (i, j) = w_i MSE_ij + shift_i - v_j
    v_top = float(v.max())
    out_t: list[NDArray] = []
    out_p: list[NDArray] = []
    out_m: list[NDArray] = []
    unsettled = 0
    q_norm = np.einsum("ij,ij->i", red_tiles, red_tiles, dtype=np.float64)
    for weight in np.unique(w):
        group = np.flatnonzero(w == weight)
        if weight <= 0:  # every photo costs the same to this tile: the one of highest v is its best
            best = shift[group] - v_top
            bad = group[best < -tol]
            unsettled += bad.size
            if limit and bad.size:
                top = np.argsort(-v, kind="stable")[:limit]
                out_t.append(np.repeat(bad, top.size))
                out_p.append(np.tile(top, bad.size))
                out_m.append(_edge_mse(tiles, photos, out_t[-1], out_p[-1], mean))
            continue
        extra = np.sqrt(np.maximum(d * (v_top - v) / weight, 0.0)).astype(np.float32)
        base = np.ascontiguousarray(np.concatenate([red_photos, extra[:, None]], axis=1))
        index = faiss.IndexFlatL2(base.shape[1])
        index.add(base)
        b_top = float(np.einsum("ij,ij->i", base, base, dtype=np.float64).max())
        todo, kk = group, min(max(int(k), int(limit), int(width)), len(base))
        while todo.size:
            next_todo = []
            rows_per = max(1, min(chunk, 2_000_000 // kk))  # a wide search scores kk pairs per tile: bound the block
            for s in range(0, todo.size, rows_per):
                check_cancel(cancel)
                part = todo[s : s + rows_per]
                queries = np.zeros((part.size, base.shape[1]), np.float32)
                queries[:, :-1] = red_tiles[part]
                dist, idx = index.search(queries, kk)
                # faiss forms |q|^2 + |b|^2 - 2 q.b in float32: allow for its rounding.
                slack = 1e-6 * (q_norm[part] + b_top)
                bound = weight * (np.maximum(dist[:, -1], 0) - slack) / d - v_top + shift[part]
                rows = np.repeat(part, kk)
                exact = _edge_mse(tiles, photos, rows, idx.ravel(), mean).reshape(idx.shape)
                reduced = weight * exact.astype(np.float64) + shift[part, None] - v[idx]
                pays = reduced < -tol
                paying = pays.any(1)
                open_ = (bound < -tol) & ~paying & (kk < len(base))  # nothing found yet, but something may pay
                unsettled += int(paying.sum()) + (0 if limit else int(open_.sum()))
                if limit:
                    order = np.argsort(reduced, axis=1, kind="stable")[:, :limit]
                    keep = np.take_along_axis(pays, order, 1)
                    r_i, c_i = np.nonzero(keep)
                    cols = order[r_i, c_i]
                    out_t.append(part[r_i])
                    out_p.append(idx[r_i, cols])
                    out_m.append(exact[r_i, cols])
                next_todo.append(part[open_])
                if not limit:  # only counting: tiles left open count as unsettled, without a wider search
                    next_todo = []
            todo = np.concatenate(next_todo) if next_todo else np.empty(0, np.int64)
            kk = min(2 * kk, len(base))  # the open tiles are searched again, wider
    if not out_t:
        return np.empty(0, np.int64), np.empty(0, np.int64), np.empty(0, np.float32), unsettled
    return (np.concatenate(out_t).astype(np.int64), np.concatenate(out_p).astype(np.int64),
            np.concatenate(out_m), unsettled)


def _duals(graph, col_of_row: NDArray[np.int64], n_c: int) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Row duals ``u`` and column duals ``v`` of an optimal assignment on a sparse graph.

    Column duals ``v`` are shortest-path distances in the graph of moves
    "tile ``i`` leaves its slot for slot ``j``" (length ``c_ij - c_i,x(i)``),
    from a source joined to every slot at length 0 (so ``v <= 0``, and 0 on
    free slots); an optimal assignment has no negative cycle, so Bellman-Ford
    converges. Then ``u_i = c_i,x(i) - v_x(i)`` and every candidate edge has
    ``c_ij >= u_i + v_j``. Vectorised Bellman-Ford: one pass over all edges
    per round, arcs grouped by their head.
    """
    indptr, indices, data = graph.indptr, graph.indices.astype(np.int64), graph.data
    n_t = len(col_of_row)
    row_of_edge = np.repeat(np.arange(n_t), np.diff(indptr))
    own = np.asarray(graph[np.arange(n_t), col_of_row]).ravel()
    tail = col_of_row[row_of_edge]
    length = data - own[row_of_edge]
    keep = indices != tail
    tail, head, length = tail[keep], indices[keep], length[keep]
    order = np.argsort(head, kind="stable")
    tail, head, length = tail[order], head[order], length[order]
    heads, starts = np.unique(head, return_index=True)
    dist = np.zeros(n_c)
    for _ in range(n_c + 1):
        best = np.minimum.reduceat(dist[tail] + length, starts) if len(starts) else np.empty(0)
        better = best < dist[heads] - 1e-12
        if not better.any():
            break
        dist[heads[better]] = best[better]
    u = own - dist[col_of_row]
    return u, dist


def _graph_edges(tile_idx: list[NDArray], tile_mse: list[NDArray], photo_idx: NDArray, photo_mse: NDArray,
                 photo_extra: dict[int, tuple[NDArray, NDArray]], n_p: int,
                 extra: list[tuple[NDArray, NDArray, NDArray]] | None = None,
                 ) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64]]:
    """Unique (tile, photo, mse) edges: each tile's candidates plus each photo's nearest tiles."""
    lengths = np.fromiter((len(r) for r in tile_idx), np.int64, len(tile_idx))
    rows = [np.repeat(np.arange(len(tile_idx), dtype=np.int64), lengths), photo_idx.ravel()]
    cols = [np.concatenate(tile_idx).astype(np.int64),
            np.repeat(np.arange(len(photo_idx), dtype=np.int64), photo_idx.shape[1])]
    mse = [np.concatenate(tile_mse), photo_mse.ravel()]
    for p, (d, i) in photo_extra.items():
        rows.append(i.astype(np.int64))
        cols.append(np.full(len(i), p, np.int64))
        mse.append(d)
    for t, i, d in extra or []:
        rows.append(t.astype(np.int64))
        cols.append(i.astype(np.int64))
        mse.append(d)
    r, c, m = np.concatenate(rows), np.concatenate(cols), np.concatenate(mse).astype(np.float64)
    key, first = np.unique(r * n_p + c, return_index=True)
    return key // n_p, key % n_p, m[first]
