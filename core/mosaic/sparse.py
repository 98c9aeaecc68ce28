"""Placing photos on 100,000 tiles: exact assignment on a graph of each tile's nearest photos.

A dense cost matrix grows as tiles x photo slots (10,000 x 10,000 in float64
is 0.8 GB; 100,000 x 100,000 would be 80 GB). Above a memory budget
(:func:`fits_dense`) the placement keeps, for every tile, its ``k`` nearest
photos by mean squared error, and for every photo its ``k`` nearest tiles
(so that no photo is left without a tile that could take it), found exactly
by :func:`nearest` (``faiss.IndexFlatL2``, block by block). The assignment on
that candidate graph is solved exactly (SciPy's
:func:`~scipy.sparse.csgraph.min_weight_full_bipartite_matching`, LAPJVsp).

When the candidate graph has no complete matching (some tiles' candidates
are all taken; :func:`~scipy.sparse.csgraph.maximum_bipartite_matching`
says which), ``k`` is doubled for the unmatched tiles (and for the photos
that must be used but have no free tile) and the graph is rebuilt, until
every tile can be matched: the placement never fails silently nor leaves a
tile black. Reuse limits work as for the dense solver (``r`` copies of each
photo's column) and face/person weights multiply each tile's row.

Then it prices (column generation): the optimum's duals (``v`` from
Bellman-Ford on the graph of moves, ``u_i = c_i,x(i) - v_x(i)``) tell which
tiles could gain from a photo outside their candidates (a photo outside tile
``i``'s ``k`` nearest costs at least the ``k``-th cost, so only photos with
``v_j > kth_i - u_i`` can pay); those pairs are scored, the ones with a
negative reduced cost join the graph, and it is solved again. When none is
left the placement is *the optimum of the whole matrix*
(:attr:`SparsePlacement.certified`); after ``max_rounds`` it may not be.

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
from .assignment import cost_matrix
from .grid import MosaicError, check_capacity

__all__ = [
    "DENSE_BUDGET_BYTES",
    "DEFAULT_K",
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
        ``sum_i w_i * min_j MSE(i, j)``: no placement can do better.
    k : int
        Candidate photos per tile at the start; tiles that needed more got
        ``k * 2**round`` (see ``grown``).
    edges : int
        Tile-photo edges of the final graph (before the reuse copies).
    grown : list of int
        Tiles (and photos) whose candidates were doubled, per growth round.
    seconds : dict
        ``"nearest"``, ``"graph"``, ``"solve"`` and ``"pricing"`` times.
    certified : bool
        The duals prove that no photo outside the candidates would lower the
        total: the placement is the optimum of the whole cost matrix.
    priced : list of int
        Tiles whose candidates were doubled after each pricing round.
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
        Pricing rounds at most: after each solve the duals show which tiles
        might do better with a photo outside their candidates; their ``k`` is
        doubled and the graph solved again. When no tile is in doubt the
        placement is the optimum of the whole matrix (``certified``).
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
    report(progress, 0, 4, f"Nearest {min(k, n_p)} photos of each of {n_t:,} tiles (exact, faiss)")
    mean = _common_mean(tiles, photos)
    photo_index = _Index(photos, mean)
    tile_k = np.full(n_t, min(k, n_p), np.int64)
    tile_mse: list[NDArray] = []
    tile_idx: list[NDArray] = []
    chunk = 8192
    for s in range(0, n_t, chunk):
        check_cancel(cancel)
        d, i = photo_index.search(_vectors(tiles[s : s + chunk], mean), int(tile_k[0]))
        tile_mse.extend(d)
        tile_idx.extend(i)
    lower_bound = float((w * np.array([m[0] for m in tile_mse], np.float64)).sum())
    pk = np.full(n_p, min(photo_k, n_t), np.int64)
    photo_mse = np.empty((n_p, 0), np.float32)
    photo_idx = np.empty((n_p, 0), np.int64)
    tile_index = None
    if photo_k > 0:
        report(progress, 1, 4, f"Nearest {min(photo_k, n_t)} tiles of each of {n_p:,} photos")
        tile_index = _Index(tiles, mean)
        parts = [tile_index.search(_vectors(photos[s : s + chunk], mean), int(pk[0])) for s in range(0, n_p, chunk)]
        photo_mse = np.concatenate([p[0] for p in parts])
        photo_idx = np.concatenate([p[1] for p in parts])
    photo_extra: dict[int, tuple[NDArray, NDArray]] = {}
    priced_edges: list[tuple[NDArray, NDArray, NDArray]] = []  # (tiles, photos, mse) added by pricing
    seconds["nearest"] = time.perf_counter() - t0

    grown: list[int] = []
    priced: list[int] = []

    def grow_tiles(which: NDArray[np.int64]) -> None:
        t2 = time.perf_counter()
        tile_k[which] = np.minimum(tile_k[which] * 2, n_p)
        for s in range(0, which.size, chunk):
            part = which[s : s + chunk]
            d, i = photo_index.search(_vectors(tiles[part], mean), int(tile_k[part].max()))
            for t, dd, ii in zip(part, d, i):
                tile_mse[t], tile_idx[t] = dd[: tile_k[t]], ii[: tile_k[t]]
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
            if n_c == n_t and tile_index is not None:
                used = np.zeros(n_c, bool)
                used[matched[matched >= 0]] = True
                lost_photos = np.flatnonzero(~used.reshape(reuse, n_p).all(0))
            grown.append(int(lost_tiles.size + lost_photos.size))
            report(progress, 2, 4, f"{lost_tiles.size:,} tiles have no free candidate: doubling their candidates")
            grow_tiles(lost_tiles)
            for p in lost_photos:
                p = int(p)
                pk[p] = min(pk[p] * 2 if pk[p] else k, n_t)
                d, i = tile_index.search(_vectors(photos[p : p + 1], mean), int(pk[p]))
                photo_extra[p] = (d[0], i[0])
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
        t4 = time.perf_counter()
        u, v = _duals(graph, col_ind, n_c)
        seconds["duals"] = seconds.get("duals", 0.0) + time.perf_counter() - t4
        v_photo = v.reshape(reuse, n_p).max(0)  # the copy of each photo that is cheapest to take
        kth = w * np.fromiter((m[-1] for m in tile_mse), np.float64, n_t) + 1.0
        # A photo outside tile i's candidates costs at least kth_i, so it can only pay when
        # v_j > kth_i - u_i: count those photos per tile (photos sorted by v, highest first).
        by_v = np.argsort(-v_photo, kind="stable")
        v_sorted = v_photo[by_v]
        reach = np.searchsorted(-v_sorted, -(kth - u - 1e-6), side="left")  # photos with v > kth - u
        doubt = np.flatnonzero(reach > 0)
        added = 0
        if doubt.size and len(priced) < max_rounds:
            # Column generation: price each doubtful tile against the photos that could pay, keep the edges that do.
            doubt = doubt[np.argsort(reach[doubt], kind="stable")]
            for s in range(0, doubt.size, 1024):
                check_cancel(cancel)
                part = doubt[s : s + 1024]
                subset = by_v[: int(reach[part].max())]
                mse_part = cost_matrix(tiles[part], photos[subset], dtype=np.float32)
                reduced = mse_part * w[part, None].astype(np.float32)
                reduced += np.float32(1.0)
                reduced -= u[part, None].astype(np.float32)
                reduced -= v_photo[None, subset].astype(np.float32)
                ti, pj = np.nonzero(reduced < -1e-6)
                priced_edges.append((part[ti], subset[pj], mse_part[ti, pj]))
                added += ti.size
        seconds["pricing"] = seconds.get("pricing", 0.0) + time.perf_counter() - t4
        if doubt.size == 0 or (added == 0 and len(priced) < max_rounds):
            certified = True
            break
        if len(priced) >= max_rounds:
            break
        priced.append(int(added))
        report(progress, 3, 4, f"{added:,} edges outside the candidates might pay: solving again")

    photo_of_tile = (col_ind % n_p).astype(np.intp)
    objective = float(np.asarray(graph[np.arange(n_t), col_ind]).ravel().sum() - n_t)
    report(progress, 4, 4, "Placed")
    return SparsePlacement(photo_of_tile, objective, lower_bound, k, int(len(mse)), grown, seconds,
                           certified, priced)


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
