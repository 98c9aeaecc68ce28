"""Placing photos on tiles: the cost matrix, three assignments, and a cancellable child process.

Steps 3 and 4 of the pipeline (see :mod:`core.mosaic`), after Tom Hudson's
"Creating photo mosaics from Instagram using Python, Linear Optimisation and
Neural Networks" (seed 003):

* :func:`cost_matrix` scores every photo against every tile by mean squared
  error (pixels in ``[0, 1]``, as :func:`skimage.metrics.mean_squared_error`
  on float images), optionally multiplied by a per-tile weight;
  :func:`tile_errors` is the unweighted error of each placed tile.
* Photos are placed by :func:`assign_greedy` (best pair first, the seed's
  "best match"), :func:`assign_lp` (the seed's linear programme, in PuLP) or
  :func:`assign_exact` (Jonker-Volgenant, the same optimum thousands of times
  faster). A reuse limit of ``k`` becomes ``k`` copies of each photo's column
  (:func:`expand_reuse`).

:func:`solve` runs both steps end to end with the least memory (about 0.8 GB
for 10,000 tiles x 10,000 photos); :func:`run_in_subprocess` runs it in a
child process that a user can cancel.

Every function takes arrays and returns arrays; nothing here imports
Streamlit. PuLP, ``lap`` and SciPy's optimiser are imported inside the
functions that need them.
"""

from __future__ import annotations

import os
import time
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ..jobs import Progress
from .grid import MosaicError, check_capacity

__all__ = [
    "METHODS",
    "LP_COMFORT_TILES",
    "cost_matrix",
    "expand_reuse",
    "assign_greedy",
    "assign_lp",
    "assign_exact",
    "assign",
    "assignment_cost",
    "solve",
    "tile_errors",
    "run_in_subprocess",
]

#: Placement methods understood by :func:`assign` and :func:`solve`.
METHODS = ("greedy", "lp", "exact")

#: Above this many tiles the PuLP programme gets slow (about 2 minutes and
#: 2.4 GB at 900 tiles); the page warns.
LP_COMFORT_TILES = 1_000


def _vectors(tiles: NDArray) -> NDArray[np.float32]:
    """``(N, d)`` float32 in ``[0, 1]`` from uint8 tiles (or float tiles in ``[0, 1]``)."""
    arr = np.asarray(tiles)
    flat = arr.reshape(arr.shape[0], -1)
    if arr.dtype == np.uint8:
        return flat.astype(np.float32) * np.float32(1 / 255)
    return flat.astype(np.float32, copy=False)


# --------------------------------------------------------------------- cost


def cost_matrix(
    tiles: NDArray,
    photos: NDArray,
    *,
    weights: NDArray | None = None,
    dtype: type = np.float32,
    out: NDArray | None = None,
    chunk: int = 1024,
    progress: Progress | None = None,
) -> NDArray:
    """Mean squared error between every tile and every photo.

    Uses ``|a|^2 + |b|^2 - 2 a.b`` with one float32 matrix product per block
    of rows (never a Python loop over pairs). Both sets are centred on their
    common mean first, which keeps the cancellation error near 1e-7.

    Parameters
    ----------
    tiles : (T, ...) uint8 or float in [0, 1]
        Target tiles (any trailing shape, flattened).
    photos : (P, ...) same trailing shape
        Photo tiles.
    weights : (T,) array, optional
        Row ``i`` is multiplied by ``weights[i]``.
    dtype : numpy dtype
        Of the result (float32 by default; :func:`solve` asks for float64,
        which the Jonker-Volgenant solver needs, to avoid a second copy).
    out : (T, P) array, optional
        Write into this array.
    chunk : int
        Rows per matrix product.
    progress : callable, optional
        ``progress(done, total, message)``: tiles scored so far.

    Returns
    -------
    (T, P) array
        ``cost[i, j]`` = MSE of photo ``j`` placed on tile ``i`` (times the weight).

    Examples
    --------
    >>> tiles = np.array([[0, 0], [255, 255]], np.uint8)
    >>> photos = np.array([[255, 255], [0, 255]], np.uint8)
    >>> cost_matrix(tiles, photos).round(3)
    array([[1. , 0.5],
           [0. , 0.5]], dtype=float32)
    """
    a = _vectors(tiles)
    b = _vectors(photos)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"tiles have {a.shape[1]} values each but photos have {b.shape[1]}")
    n_t, d = a.shape
    n_p = b.shape[0]
    mean = ((a.sum(0, dtype=np.float64) + b.sum(0, dtype=np.float64)) / max(1, n_t + n_p)).astype(np.float32)
    a = a - mean
    b = b - mean
    # cost = |a|^2/d + |b|^2/d + (-2/d a).b: the scale is folded into a before the product
    na = np.einsum("ij,ij->i", a, a) / np.float32(d)
    nb = np.einsum("ij,ij->i", b, b) / np.float32(d)
    a *= np.float32(-2.0 / d)
    w = None if weights is None else np.asarray(weights, np.float32).reshape(-1)
    if w is not None and w.shape[0] != n_t:
        raise ValueError(f"{w.shape[0]} weights for {n_t} tiles")
    if out is None:
        out = np.empty((n_t, n_p), dtype)
    direct = out.dtype == np.float32 and out.flags.c_contiguous
    bt = np.ascontiguousarray(b.T)
    for start in range(0, n_t, chunk):
        stop = min(n_t, start + chunk)
        block = np.matmul(a[start:stop], bt, out=out[start:stop] if direct else None)
        block += na[start:stop, None]
        block += nb[None, :]
        np.maximum(block, 0, out=block)
        if w is not None:
            block *= w[start:stop, None]
        if not direct:
            out[start:stop] = block
        if progress is not None:
            progress(stop, n_t, f"Scored {stop:,} of {n_t:,} tiles against {n_p:,} photos")
    return out


def expand_reuse(cost: NDArray, reuse: int) -> NDArray:
    """``reuse`` copies of every column: column ``c`` is photo ``c % P``.

    Examples
    --------
    >>> expand_reuse(np.array([[1, 2]]), 2)
    array([[1, 2, 1, 2]])
    """
    if reuse < 1:
        raise MosaicError(f"The reuse limit must be at least 1 (got {reuse}).")
    return cost if reuse == 1 else np.tile(cost, (1, int(reuse)))


# --------------------------------------------------------------- assignment


def _check_shape(cost: NDArray) -> tuple[int, int]:
    if cost.ndim != 2:
        raise ValueError(f"the cost matrix must be 2-D, got shape {cost.shape}")
    n_t, n_c = cost.shape
    if n_t > n_c:
        raise MosaicError(
            f"{n_t:,} tiles but only {n_c:,} photo slots: allow reuse or choose a smaller grid."
        )
    return n_t, n_c


def assign_greedy(cost: NDArray, *, block: int = 512) -> NDArray[np.intp]:
    """Best pair first: the seed's "best match", each column used at most once.

    Repeatedly takes the cheapest remaining (tile, photo) pair and removes
    both. Computed in vectorised rounds: a pair that is the cheapest of its
    row *and* of its column among what is left is exactly the pair the
    sequential greedy would take, so every such "mutual best" pair is
    accepted at once, and only rows and columns whose best partner was taken
    are rescanned.

    Parameters
    ----------
    cost : (T, C) array, T <= C
    block : int
        Rows (or columns) rescanned per NumPy call, to bound memory.

    Returns
    -------
    (T,) int
        Column chosen for each row.

    Examples
    --------
    >>> assign_greedy(np.array([[1.0, 2.0], [1.5, 9.0]]))
    array([0, 1])
    """
    cost = np.asarray(cost)
    n_t, n_c = _check_shape(cost)
    result = np.full(n_t, -1, np.intp)
    row_free = np.ones(n_t, bool)
    col_free = np.ones(n_c, bool)
    row_best = np.empty(n_t, np.intp)
    for s in range(0, n_t, block):
        row_best[s : s + block] = cost[s : s + block].argmin(1)
    col_best = cost.argmin(0)
    left = n_t
    while left:
        rows = np.flatnonzero(row_free)
        best = row_best[rows]
        mutual = col_best[best] == rows
        took_r, took_c = rows[mutual], best[mutual]
        result[took_r] = took_c
        row_free[took_r] = False
        col_free[took_c] = False
        left -= took_r.size
        if not left:
            break
        free_cols = np.flatnonzero(col_free)
        free_rows = np.flatnonzero(row_free)
        stale_rows = free_rows[~col_free[row_best[free_rows]]]
        for s in range(0, stale_rows.size, block):
            part = stale_rows[s : s + block]
            row_best[part] = free_cols[cost[part][:, free_cols].argmin(1)]
        stale_cols = free_cols[~row_free[col_best[free_cols]]]
        if stale_cols.size:
            sub = cost[free_rows]  # (free rows, all columns)
            for s in range(0, stale_cols.size, block * 8):
                part = stale_cols[s : s + block * 8]
                col_best[part] = free_rows[sub[:, part].argmin(0)]
    return result


def assign_lp(
    cost: NDArray,
    *,
    time_limit: float | None = None,
    msg: bool = False,
    tmp_dir: str | None = None,
    integer: bool = False,
) -> NDArray[np.intp]:
    """The seed's linear programme, solved by CBC through PuLP.

    One variable per (tile, photo) pair, ``0 <= x <= 1``; each tile takes
    exactly one photo and each photo goes to at most one tile. The
    assignment polytope's corners are integral, so CBC's simplex returns a
    0/1 solution without branch and bound (the result is checked). PuLP
    needs a Python object per pair, so this is slow: about 2 minutes and
    2.4 GB at 900 x 900.

    Parameters
    ----------
    cost : (T, C) array, T <= C
    time_limit : float, optional
        Seconds before CBC gives up (then :class:`MosaicError`).
    msg : bool
        Show CBC's log.
    tmp_dir : str, optional
        Folder for PuLP's temporary files.
    integer : bool
        Declare the variables binary, as the seed did (CBC then runs its MIP
        machinery on top of the same LP: the same answer, about twice as slow).

    Returns
    -------
    (T,) int

    Examples
    --------
    >>> assign_lp(np.array([[1.0, 2.0], [1.5, 9.0]]))
    array([1, 0])
    """
    import pulp

    cost = np.asarray(cost, np.float64)
    n_t, n_c = _check_shape(cost)
    # Scale so CBC's absolute tolerances (about 1e-7 to 1e-9) are tiny relative to the costs.
    top = float(np.abs(cost).max()) or 1.0
    scaled = cost * (1_000.0 / top)
    prob = pulp.LpProblem("mosaic", pulp.LpMinimize)
    # PuLP has no vectorised model building: one Python object per pair is its cost.
    cat = "Binary" if integer else "Continuous"
    xs = [prob.add_variable(f"x{k}", 0, 1, cat=cat) for k in range(n_t * n_c)]
    grid = np.array(xs, dtype=object).reshape(n_t, n_c)
    prob += pulp.LpAffineExpression(zip(xs, scaled.ravel().tolist()))
    for i in range(n_t):
        prob += pulp.LpAffineExpression([(v, 1) for v in grid[i]]) == 1, f"tile{i}"
    for j in range(n_c):
        prob += pulp.LpAffineExpression([(v, 1) for v in grid[:, j]]) <= 1, f"photo{j}"
    with warnings.catch_warnings():
        # PULP_CBC_CMD (the CBC binary bundled with PuLP) is deprecated for 4.0 in favour
        # of COIN_CMD, which needs a separately installed CBC.
        warnings.simplefilter("ignore", DeprecationWarning)
        solver = pulp.PULP_CBC_CMD(msg=msg, timeLimit=time_limit)
    if tmp_dir is not None:
        solver.tmpDir = tmp_dir
    status = prob.solve(solver)
    if pulp.LpStatus[status] != "Optimal":
        raise MosaicError(f"PuLP/CBC did not find the optimum (status: {pulp.LpStatus[status]}).")
    values = np.array([v.varValue or 0.0 for v in xs]).reshape(n_t, n_c)
    chosen = values.argmax(1)
    if np.abs(values - np.rint(values)).max() > 1e-6 or np.unique(chosen).size != n_t:
        raise MosaicError("PuLP/CBC returned a fractional solution.")
    return chosen.astype(np.intp)


def assign_exact(cost: NDArray, *, backend: str = "auto") -> NDArray[np.intp]:
    """Optimal assignment by the Jonker-Volgenant algorithm.

    Parameters
    ----------
    cost : (T, C) array, T <= C
    backend : {"auto", "lapjv", "scipy"}
        ``lapjv`` (the ``lap`` package; dense, square: a non-square matrix is
        padded with zero-cost dummy tiles) or SciPy's
        :func:`scipy.optimize.linear_sum_assignment` (handles a wide matrix
        without padding). ``auto`` uses ``lapjv`` unless there are more than
        1.5 times as many columns as rows.

    Returns
    -------
    (T,) int

    Examples
    --------
    >>> assign_exact(np.array([[1.0, 2.0], [1.5, 9.0]]))
    array([1, 0])
    >>> assign_exact(np.array([[1.0, 2.0, 0.5]]), backend="scipy")
    array([2])
    """
    cost = np.asarray(cost)
    n_t, n_c = _check_shape(cost)
    if backend == "auto":
        backend = "scipy" if n_c > 1.5 * n_t else "lapjv"
    if backend == "scipy":
        from scipy.optimize import linear_sum_assignment

        rows, cols = linear_sum_assignment(cost)
        out = np.empty(n_t, np.intp)
        out[rows] = cols
        return out
    if backend != "lapjv":
        raise ValueError(f"unknown backend {backend!r}")
    square = np.zeros((n_c, n_c), np.float64)
    square[:n_t] = cost
    return _lapjv_rows(square, n_t)


def _lapjv_rows(square: NDArray[np.float64], n_t: int) -> NDArray[np.intp]:
    """``lap.lapjv`` on a square float64 matrix (modified in place); columns of the first ``n_t`` rows.

    Each row's minimum is subtracted first (the Hungarian method's row
    reduction: the same optimum, as every assignment uses each row once).
    On the cost matrices measured here it halves lapjv's time (10,000 random
    tiles: about 6.5 s instead of 12.5 s; real photos: about 10 % less).
    """
    import lap

    square[:n_t] -= square[:n_t].min(axis=1, keepdims=True)
    _, x, _ = lap.lapjv(square)
    return np.asarray(x[:n_t], np.intp)


def assign(cost: NDArray, method: str, **kwargs: Any) -> NDArray[np.intp]:
    """Dispatch to :func:`assign_greedy`, :func:`assign_lp` or :func:`assign_exact`.

    Examples
    --------
    >>> assign(np.eye(2), "exact")
    array([1, 0])
    """
    if method == "greedy":
        return assign_greedy(cost, **kwargs)
    if method == "lp":
        return assign_lp(cost, **kwargs)
    if method == "exact":
        return assign_exact(cost, **kwargs)
    raise ValueError(f"unknown method {method!r}; choose from {METHODS}")


def assignment_cost(cost: NDArray, columns: NDArray) -> float:
    """Total cost of an assignment (float64 sum).

    Examples
    --------
    >>> assignment_cost(np.array([[1.0, 2.0], [3.0, 4.0]]), np.array([1, 0]))
    5.0
    """
    columns = np.asarray(columns)
    return float(np.asarray(cost)[np.arange(columns.size), columns].sum(dtype=np.float64))


def solve(
    tiles: NDArray,
    photos: NDArray,
    *,
    method: str = "exact",
    weights: NDArray | None = None,
    reuse: int = 1,
    solver: str = "auto",
    progress: Progress | None = None,
    **kwargs: Any,
) -> NDArray[np.intp]:
    """Cost matrix and assignment end to end: which photo goes on each tile.

    For the exact method the float64 matrix the solver needs is filled block
    by block (no float32 copy, no second float64 copy), already padded to a
    square with zero-cost dummy tiles: 10,000 x 10,000 takes 0.8 GB.

    Parameters
    ----------
    tiles : (T, ...) uint8 or float in [0, 1]
        Target tiles at scoring size.
    photos : (P, ...) same trailing shape
        Photo tiles at scoring size.
    method : {"greedy", "lp", "exact"}
    weights : (T,) array, optional
        Tile weights (see :func:`core.mosaic.weighting.tile_weights`).
    reuse : int
        Each photo may be used up to this many times.
    solver : {"auto", "dense", "sparse"}
        For the exact method: the dense matrix, or the exact assignment on
        each tile's nearest photos (:func:`core.mosaic.sparse.assign_sparse`);
        ``auto``: sparse when the dense matrix would not fit
        :data:`core.mosaic.sparse.DENSE_BUDGET_BYTES`.
    progress : callable, optional
        ``progress(done, total, message)`` while scoring.
    **kwargs
        Passed to the assignment function.

    Returns
    -------
    (T,) int
        Photo index (into ``photos``) for each tile.

    Raises
    ------
    MosaicError
        Fewer photo slots than tiles (:func:`core.mosaic.grid.check_capacity`).

    Examples
    --------
    >>> tiles = np.array([[0, 0], [250, 250]], np.uint8)
    >>> photos = np.array([[255, 255], [10, 0], [128, 128]], np.uint8)
    >>> solve(tiles, photos).tolist()
    [1, 0]
    """
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose from {METHODS}")
    n_t, n_p = len(tiles), len(photos)
    check_capacity(n_t, n_p, reuse)
    n_c = n_p * reuse
    if method == "exact" and solver != "dense":
        from .sparse import assign_sparse, fits_dense

        if solver == "sparse" or (solver == "auto" and not fits_dense(n_t, n_p, reuse)):
            return assign_sparse(tiles, photos, weights=weights, reuse=reuse, progress=progress,
                                 **kwargs).photo_of_tile
    elif solver not in ("auto", "dense"):
        raise ValueError(f"unknown solver {solver!r}")
    backend = kwargs.get("backend", "auto")
    if method == "exact" and (backend == "lapjv" or (backend == "auto" and n_c <= 1.5 * n_t)):
        square = np.zeros((n_c, n_c), np.float64)
        cost_matrix(tiles, photos, weights=weights, dtype=np.float64, out=square[:n_t, :n_p], progress=progress)
        for k in range(1, reuse):
            square[:n_t, k * n_p : (k + 1) * n_p] = square[:n_t, :n_p]
        if progress is not None:
            progress(n_t, n_t, f"Solving the exact assignment ({n_t:,} tiles x {n_c:,} photo slots)")
        return _lapjv_rows(square, n_t) % n_p
    dtype = np.float32 if method == "greedy" else np.float64
    cost = cost_matrix(tiles, photos, weights=weights, dtype=dtype, progress=progress)
    cost = expand_reuse(cost, reuse)
    if progress is not None:
        progress(n_t, n_t, f"Placing photos ({method}, {n_t:,} tiles x {n_c:,} photo slots)")
    return assign(cost, method, **kwargs) % n_p


def tile_errors(tiles: NDArray, photos: NDArray, photo_of_tile: NDArray, *, chunk: int = 4096) -> NDArray[np.float64]:
    """Unweighted MSE of each tile with the photo placed on it.

    Examples
    --------
    >>> tile_errors(np.array([[0, 0]], np.uint8), np.array([[255, 0]], np.uint8), np.array([0]))
    array([0.5])
    """
    a = np.asarray(tiles)
    b = np.asarray(photos)
    idx = np.asarray(photo_of_tile)
    out = np.empty(len(a), np.float64)
    for s in range(0, len(a), chunk):
        diff = _vectors(a[s : s + chunk]) - _vectors(b[idx[s : s + chunk]])
        out[s : s + chunk] = np.einsum("ij,ij->i", diff, diff, dtype=np.float64) / diff.shape[1]
    return out


# -------------------------------------------------------- cancellable child


def _child(conn: Any, fn: Callable, args: tuple, kwargs: dict) -> None:  # pragma: no cover - runs in a child
    try:
        os.setpgid(0, 0)  # own process group: cancelling also ends CBC, PuLP's solver process
    except OSError:
        pass
    from ..workers import die_with_parent

    die_with_parent(group=True)  # and CBC with it
    try:
        conn.send(("ok", fn(*args, **kwargs)))
    except BaseException as exc:  # noqa: BLE001 - report every failure to the parent
        conn.send(("error", exc if isinstance(exc, MosaicError) else MosaicError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()


def run_in_subprocess(
    fn: Callable,
    *args: Any,
    poll: Callable[[float], None] | None = None,
    interval: float = 0.25,
    **kwargs: Any,
) -> Any:
    """Run ``fn(*args, **kwargs)`` in a fresh ("spawn") child process.

    While it runs, ``poll(elapsed_seconds)`` is called every ``interval``
    seconds in this process. If ``poll`` raises (a Streamlit page stopping
    for a rerun, or :class:`core.jobs.Cancelled`), the child and everything it
    started (CBC) are killed and the exception propagates. Long C calls such
    as ``lap.lapjv`` hold the GIL; in a child they cannot freeze the app.

    Returns
    -------
    Whatever ``fn`` returned (it must be picklable, as must the arguments).

    Raises
    ------
    MosaicError
        ``fn`` failed; the message says how.
    """
    import multiprocessing as mp
    import signal

    ctx = mp.get_context("spawn")
    parent, child = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(child, fn, args, kwargs), daemon=True)
    start = time.monotonic()
    try:
        proc.start()
    except OSError as exc:  # the child died while receiving its arguments
        parent.close()
        child.close()
        raise MosaicError(f"the worker process could not be started ({exc})") from None
    child.close()
    done = False
    try:
        while True:
            if parent.poll(interval):
                try:
                    status, value = parent.recv()
                except EOFError:
                    raise MosaicError(f"the worker process died (exit code {proc.exitcode})") from None
                done = True
                break
            if not proc.is_alive() and not parent.poll(0):
                raise MosaicError(
                    f"the worker process ended without an answer (exit code {proc.exitcode}; "
                    "out of memory?)"
                )
            if poll is not None:
                poll(time.monotonic() - start)
    finally:
        if not done and proc.is_alive():
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (OSError, AttributeError):
                proc.kill()
        proc.join(timeout=5)
        parent.close()
    if status == "error":
        raise value
    return value
