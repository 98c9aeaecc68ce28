"""A whole mosaic as one job: photo tiles, face/person weights, every placement, errors per region.

:func:`build_mosaic` follows the job protocol of :mod:`core.jobs`: it takes a
plain :class:`MosaicRequest`, returns a plain :class:`MosaicResult`, reports
``progress(done, total, message)``, polls ``cancel()`` and raises
:class:`core.jobs.Cancelled`. A request that cannot be built raises
:class:`~core.mosaic.grid.MosaicError` with a message for the user.

Face and person weighting needs MediaPipe's model files. When they are
missing (:class:`core.jobs.ModelUnavailableError`), when detection fails, or
when the target shows no face and no person, the mosaic is built with
uniform weights and the result says so (:attr:`MosaicResult.uniform_reason`).

Slow placements (PuLP, or more than :data:`SUBPROCESS_PAIRS` tile x photo
pairs) run in a child process (:func:`~core.mosaic.assignment.run_in_subprocess`)
that is killed as soon as ``cancel()`` returns True or ``progress`` raises.

:func:`render_mosaic` draws a finished placement at any tile size (the
print file at :attr:`MosaicResult.tile_px`).

Examples
--------
>>> import numpy as np
>>> result = build_mosaic(MosaicRequest(target=np.zeros((64, 64, 3), np.uint8),  # doctest: +SKIP
...                                     shas=shas, paths=paths, methods=("exact",)))
>>> image = render_mosaic(result, result.runs[0])  # doctest: +SKIP
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from ..cache import DiskCache
from ..jobs import CancelCheck, ModelUnavailableError, Progress, check_cancel, report
from .assignment import METHODS, run_in_subprocess, solve, tile_errors
from .grid import MosaicError, check_capacity, output_size, plan_grid, print_size, target_tiles
from .pool import PhotoTiles, load_photo_tiles
from .printing import mosaic_strips, write_print
from .regions import Regions, region_masks
from .rendering import blend, render
from .sparse import DEFAULT_K, DENSE_BUDGET_BYTES, assign_sparse, fits_dense
from .weighting import grid_labels, grid_weights, region_means

__all__ = [
    "TARGET_SIDE",
    "MAX_TILES",
    "LP_MAX_TILES",
    "SUBPROCESS_PAIRS",
    "METHOD_LABELS",
    "WEIGHT_LABELS",
    "SPARSE_LABEL",
    "run_label",
    "default_reuse",
    "solve_estimate",
    "RegionSearch",
    "find_regions",
    "MosaicRequest",
    "MosaicRun",
    "MosaicResult",
    "build_mosaic",
    "render_mosaic",
    "print_mosaic",
]

#: Most tiles a mosaic may have: a poster. Above the dense solver's memory budget (about 12,000 x
#: 12,000) the exact placement runs on each tile's nearest photos (:mod:`core.mosaic.sparse`).
MAX_TILES = 100_000
#: Most tiles for PuLP (the seed: "at about 2,500 photos, over an hour or out of memory").
LP_MAX_TILES = 2_500
#: Tiles x photo slots above which a placement runs in a child process (always for PuLP).
SUBPROCESS_PAIRS = 4_000_000

METHOD_LABELS = {"exact": "Exact (Jonker–Volgenant)", "greedy": "Greedy best match", "lp": "PuLP LP"}
WEIGHT_LABELS = {False: "Uniform", True: "Face & person weighted"}
SPARSE_LABEL = "Exact on nearest candidates (sparse Jonker–Volgenant)"
#: Seconds the sparse solver may spend before its next pricing pass (:func:`core.mosaic.sparse.assign_sparse`'s
#: ``max_seconds``): past it the placement is the candidate graph's optimum so far, not proven optimal
#: for the whole matrix, and its gap to the lower bound says how far it can be. A 100,000-tile poster
#: on real photos would need many passes of about 100 s each to be proven (bench/mosaic_scale.py).
SPARSE_SECONDS = 90.0

#: A target is decoded at most this big: plenty for scoring tiles and for blending.
TARGET_SIDE = 2048

#: Why a mosaic is built with uniform weights (:attr:`RegionSearch.uniform_reason`).
WEIGHTING_OFF = "off"
MODEL_UNAVAILABLE = "model-unavailable"
DETECTION_FAILED = "detection-failed"
NOTHING_FOUND = "nothing-found"

#: Tile loader: ``load(shas, paths, size, *, cache, progress, cancel) -> PhotoTiles``.
TileLoader = Callable[..., PhotoTiles]


def default_reuse(n_photos: int, min_tiles: int = 400) -> int:
    """How often each photo may be used so that a mosaic has at least ``min_tiles`` tiles.

    Examples
    --------
    >>> default_reuse(1000), default_reuse(14), default_reuse(0)
    (1, 29, 1)
    """
    if n_photos <= 0 or n_photos >= min_tiles:
        return 1
    return math.ceil(min_tiles / n_photos)


def solve_estimate(method: str, n_tiles: int, n_slots: int) -> float:
    """Rough seconds a placement takes on the reference machine (``bench/mosaic.py``), for progress bars.

    Examples
    --------
    >>> round(solve_estimate("lp", 900, 900))
    124
    """
    if method == "lp":
        return 1.5e-4 * n_tiles * n_slots + 3
    if method == "exact":
        if not fits_dense(n_tiles, n_slots):  # sparse: nearest photos and LAPJVsp (bench/mosaic_scale.py)
            return 60.0 * (max(n_tiles, n_slots) / 100_000) ** 1.5 + 3
        return 8.0 * (max(n_tiles, n_slots) / 10_000) ** 2.3 + 1.5
    return 3.0 * (n_tiles * n_slots / 1e8) + 1.5


# -- face and person regions -----------------------------------------------------------------------


@dataclass
class RegionSearch:
    """Face and person masks of a target, or why there are none (then the weights are uniform).

    Attributes
    ----------
    regions : Regions or None
        The masks, at the target's resolution, when a face or a person was found.
    uniform_reason : str or None
        None when ``regions`` is set; else ``"off"`` (not asked for),
        ``"model-unavailable"`` (a MediaPipe file is missing),
        ``"detection-failed"`` or ``"nothing-found"``.
    detail : str
        The error's message for the user (model unavailable, detection failed).
    """

    regions: Regions | None = None
    uniform_reason: str | None = WEIGHTING_OFF
    detail: str = ""

    @property
    def found(self) -> bool:
        """A face or a person was found: weighted placements are possible."""
        return self.regions is not None


def find_regions(target: NDArray, *, detect: Callable[[NDArray], Regions] | None = None) -> RegionSearch:
    """Look for faces and people in the target; never raises for a missing model or a failed detector.

    Parameters
    ----------
    target : (H, W, 3) uint8
    detect : callable, optional
        ``detect(target) -> Regions`` (default :func:`core.mosaic.regions.region_masks`;
        a page passes a cached one).

    Returns
    -------
    RegionSearch
    """
    detect = detect or region_masks
    try:
        regions = detect(target)
    except ModelUnavailableError as exc:
        return RegionSearch(None, MODEL_UNAVAILABLE, str(exc))
    except Exception as exc:  # noqa: BLE001 - a MediaPipe failure must not stop the mosaic
        return RegionSearch(None, DETECTION_FAILED, f"{type(exc).__name__}: {exc}")
    if regions.empty:
        return RegionSearch(None, NOTHING_FOUND)
    return RegionSearch(regions, None)


# -- request and result ----------------------------------------------------------------------------


@dataclass
class MosaicRequest:
    """What to build.

    Attributes
    ----------
    target : (H, W, 3) uint8
        The picture to rebuild (at most about 2048 px is plenty).
    shas, paths : sequences of str
        The photos to use: sha256 (the cache key) and file of each
        (see :func:`core.mosaic.pool.tile_pool`).
    rows, cols : int, optional
        The grid; default :func:`core.mosaic.grid.plan_grid` from the photos
        (times ``reuse``) and the output's shape (at most :data:`MAX_TILES`).
    reuse : int, optional
        Each photo may be used up to this many times (default
        :func:`default_reuse`: enough for about 400 tiles).
    score_px : int
        Tiles are compared at ``score_px x score_px`` pixels.
    width, height : int, optional
        The output's box in pixels (default :func:`core.mosaic.grid.print_size`
        of the target: 3000 px on the long side); the print file is the
        largest grid of whole square tiles that fits (:func:`core.mosaic.grid.output_size`).
    dpi : int, optional
        Print resolution written into the PNG.
    methods : tuple of str
        Placements to run, in this order: ``"exact"``, ``"greedy"``, ``"lp"``.
    weightings : tuple of bool
        For each method, uniform (False) and/or face & person weighted (True).
    alpha_face, alpha_person, falloff : float
        Tile weights ``1 + alpha * max(0, 1 - distance / falloff)`` (distance in tiles).
    regions : RegionSearch, optional
        Faces and people found beforehand (:func:`find_regions`); default:
        found here when a weighted placement is asked for.
    isolate : bool, optional
        Run placements in a child process: True always, False never, None
        (default) for PuLP and for more than :data:`SUBPROCESS_PAIRS` pairs.
    solver : {"auto", "dense", "sparse"}
        The exact placement's solver: the whole cost matrix, or each tile's
        ``k`` nearest photos (:func:`core.mosaic.sparse.assign_sparse`);
        ``auto``: sparse when the matrix would not fit the memory budget.
    k : int
        Candidate photos per tile for the sparse solver (grown where needed).
    sparse_seconds : float or None
        Time budget of the sparse solver's pricing (:data:`SPARSE_SECONDS`);
        None prices until the placement is proven optimal (or 8 rounds).
    adaptive : bool
        Quadtree tiles (:mod:`core.mosaic.adaptive`): as many tiles as the
        ``rows x cols`` grid, smaller on faces, people and detail, bigger elsewhere.
    """

    target: NDArray[np.uint8]
    shas: Sequence[str]
    paths: Sequence[str]
    rows: int | None = None
    cols: int | None = None
    reuse: int | None = None
    score_px: int = 16
    width: int | None = None
    height: int | None = None
    dpi: int | None = None
    methods: tuple[str, ...] = ("exact", "greedy")
    weightings: tuple[bool, ...] = (False, True)
    alpha_face: float = 10.0
    alpha_person: float = 3.0
    falloff: float = 2.0
    regions: RegionSearch | None = None
    isolate: bool | None = None
    solver: str = "auto"
    k: int = DEFAULT_K
    sparse_seconds: float | None = SPARSE_SECONDS
    adaptive: bool = False


@dataclass
class MosaicRun:
    """One placement of the photos.

    Attributes
    ----------
    method : str
        ``"exact"``, ``"greedy"`` or ``"lp"``.
    weighted : bool
        Face and person tiles weighted.
    photo_of_tile : (rows * cols,) int
        Index into :attr:`MosaicResult.shas` of the photo on each tile, in reading order.
    errors : (rows * cols,) float64
        Unweighted MSE of each tile (pixels in [0, 1], at the scoring size).
    region_errors : dict
        Mean error of ``"all"`` tiles, ``"face"``, ``"person"`` (not face) and
        ``"background"`` tiles (NaN for a region without tiles).
    objective : float
        The weighted total error the placement minimised.
    seconds : float
        Time of the placement (cost matrix and assignment).
    solver : str
        ``"dense"`` (the whole cost matrix) or ``"sparse"`` (exact on each
        tile's nearest photos, :mod:`core.mosaic.sparse`).
    lower_bound : float
        Sparse runs: the sum of each tile's best weighted error, which no
        placement can beat (NaN for dense runs).
    certified : bool
        Proven optimal for the whole cost matrix: every dense run, and a
        sparse run whose pricing found no better pair outside its candidates
        within :attr:`MosaicRequest.sparse_seconds`.
    """

    method: str
    weighted: bool
    photo_of_tile: NDArray[np.intp]
    errors: NDArray[np.float64]
    region_errors: dict[str, float]
    objective: float
    seconds: float
    solver: str = "dense"
    lower_bound: float = math.nan
    certified: bool = True

    @property
    def label(self) -> str:
        """"Exact (Jonker–Volgenant) · uniform", for instance."""
        return run_label(self.method, self.weighted, self.solver)

    @property
    def bound_gap(self) -> float:
        """Objective / lower bound - 1 (NaN without a bound): the placement is at most this far from optimal."""
        return self.objective / self.lower_bound - 1 if self.lower_bound > 0 else math.nan


def run_label(method: str, weighted: bool, solver: str = "dense") -> str:
    """A placement's name for people.

    Examples
    --------
    >>> run_label("exact", True)
    'Exact (Jonker–Volgenant) · face & person weighted'
    >>> run_label("exact", False, "sparse")
    'Exact on nearest candidates (sparse Jonker–Volgenant) · uniform'
    """
    name = SPARSE_LABEL if method == "exact" and solver == "sparse" else METHOD_LABELS[method]
    return f"{name} · {WEIGHT_LABELS[weighted].lower()}"


@dataclass
class MosaicResult:
    """A built mosaic: the grid, the weights and every placement.

    Attributes
    ----------
    rows, cols, reuse, score_px : int
        As built.
    tile_px : int
        Tile side of the print file; ``width x height`` = ``cols * tile_px x rows * tile_px``.
    width, height : int
        Size of the print file in pixels.
    dpi : int or None
    shas, paths : list of str
        The photos used (the request's, less those that could not be read).
    labels : (rows * cols,) int8
        0 = background, 1 = person (not face), 2 = face, per tile.
    weights : (rows * cols,) float64
        Tile weights of the weighted placements (all ones when uniform).
    runs : list of MosaicRun
        In the order asked for.
    n_faces : int
        Faces MediaPipe found.
    uniform_reason : str or None
        None when face and person weights were used or possible; else why not
        (see :class:`RegionSearch`), with ``uniform_detail`` the error's message.
    left_out : list of str
        sha256 of photos that could not be read.
    notes : list of str
        Sentences for the user (photos left out, weighted runs dropped).
    step_seconds : dict
        Time of the steps other than placements (``"Tiles"``).
    cells : (N, 3) int or None
        Adaptive mosaics: ``(top, left, size)`` of each tile in units; then
        ``rows x cols`` is the grid of units and ``tile_px`` a unit's side, and
        ``labels``, ``weights`` and each run's arrays are per cell.
    """

    rows: int
    cols: int
    reuse: int
    score_px: int
    tile_px: int
    width: int
    height: int
    dpi: int | None
    shas: list[str]
    paths: list[str]
    labels: NDArray[np.int8]
    weights: NDArray[np.float64]
    runs: list[MosaicRun] = field(default_factory=list)
    n_faces: int = 0
    uniform_reason: str | None = None
    uniform_detail: str = ""
    left_out: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    step_seconds: dict[str, float] = field(default_factory=dict)
    cells: NDArray[np.int64] | None = None

    @property
    def n_tiles(self) -> int:
        return self.rows * self.cols if self.cells is None else len(self.cells)

    @property
    def adaptive(self) -> bool:
        """Quadtree tiles of several sizes (``cells``) rather than a uniform grid."""
        return self.cells is not None

    def run(self, method: str, weighted: bool = False) -> MosaicRun | None:
        """The placement by ``method`` with or without weights, if it was run."""
        return next((r for r in self.runs if r.method == method and r.weighted == weighted), None)


# -- the job ---------------------------------------------------------------------------------------


def _plan(request: MosaicRequest) -> tuple[int, int, int, int, int]:
    """rows, cols, reuse, width, height of the request, defaults filled in; MosaicError if impossible."""
    target = np.asarray(request.target)
    if target.ndim not in (2, 3) or target.dtype != np.uint8 or min(target.shape[:2]) < 1:
        raise MosaicError(f"The target must be a uint8 RGB picture (got {target.dtype} {target.shape}).")
    if len(request.shas) != len(request.paths):
        raise MosaicError(f"{len(request.shas)} photo hashes but {len(request.paths)} paths.")
    n_photos = len(request.shas)
    if n_photos < 1:
        raise MosaicError("A mosaic needs at least one photo; this archive has none.")
    unknown = [m for m in request.methods if m not in METHODS]
    if unknown or not request.methods:
        raise MosaicError(f"Unknown placement method(s) {unknown}; choose from {', '.join(METHODS)}.")
    if not request.weightings:
        raise MosaicError("Choose at least one weighting (uniform or face & person weighted).")
    if request.score_px < 1:
        raise MosaicError(f"The scoring size must be at least 1 pixel (got {request.score_px}).")
    h, w = target.shape[:2]
    if (request.width is None) != (request.height is None):
        raise MosaicError("Give both the output's width and height, or neither.")
    if request.width is None:
        width, height = print_size(w / h)
    else:
        width, height = int(request.width), int(request.height)
    if width < 1 or height < 1:
        raise MosaicError(f"The output must be at least 1 x 1 pixels (got {width} x {height}).")
    reuse = default_reuse(n_photos) if request.reuse is None else int(request.reuse)
    if reuse < 1:
        raise MosaicError(f"The reuse limit must be at least 1 (got {reuse}).")
    if request.rows is None or request.cols is None:
        rows, cols = plan_grid(n_photos, width / height, reuse=reuse, max_tiles=MAX_TILES)
        rows = rows if request.rows is None else int(request.rows)
        cols = cols if request.cols is None else int(request.cols)
    else:
        rows, cols = int(request.rows), int(request.cols)
    if rows < 1 or cols < 1:
        raise MosaicError(f"The grid needs at least one row and one column (got {rows} x {cols}).")
    if rows * cols > MAX_TILES:
        raise MosaicError(f"{rows * cols:,} tiles is more than a mosaic may have ({MAX_TILES:,}); "
                          "choose fewer rows or columns.")
    n_slots = n_photos * reuse
    if "greedy" in request.methods and 4 * rows * cols * n_slots > DENSE_BUDGET_BYTES:  # float32 tiles x slots
        raise MosaicError(f"Greedy best match needs the whole cost matrix ({rows * cols:,} tiles x {n_slots:,} photo "
                          f"slots = {4 * rows * cols * n_slots / 1e9:.1f} GB): choose exact, which works on each "
                          "tile's nearest photos at this size.")
    if request.solver not in ("auto", "dense", "sparse"):
        raise MosaicError(f"Unknown solver {request.solver!r}; choose auto, dense or sparse.")
    if request.solver == "dense" and "exact" in request.methods and not fits_dense(rows * cols, n_slots):
        raise MosaicError(f"The dense exact solver would need {8 * max(rows * cols, n_slots) ** 2 / 1e9:.1f} GB for "
                          f"{rows * cols:,} tiles: use the sparse solver (each tile's nearest photos).")
    if "lp" in request.methods and rows * cols > LP_MAX_TILES:
        raise MosaicError(f"PuLP is limited to {LP_MAX_TILES:,} tiles (the seed: at about 2,500 photos it took "
                          "over an hour or ran out of memory). Exact gives the same optimum in seconds.")
    check_capacity(rows * cols, n_photos, reuse)
    return rows, cols, reuse, width, height


def _scaled(progress: Progress | None, index: int, count: int) -> Progress | None:
    """Progress of step ``index`` of ``count`` (equal shares), reported over the whole job."""
    if progress is None:
        return None

    def inner(done: int, total: int, message: str) -> None:
        share = min(max(done / max(total, 1), 0.0), 1.0)
        progress(round(1000 * (index + share)), 1000 * count, message)

    return inner


def _sparse_placement(tiles: NDArray, photos: NDArray, weights: NDArray | None, reuse: int,
                      k: int, max_seconds: float | None = SPARSE_SECONDS) -> tuple[NDArray[np.intp], float, bool]:
    """The sparse placement, its lower bound and whether it is proven optimal (a top-level function for the child)."""
    placed = assign_sparse(tiles, photos, weights=weights, reuse=reuse, k=k, max_seconds=max_seconds)
    return placed.photo_of_tile, placed.lower_bound, placed.certified


def _place(method: str, tiles: NDArray, photos: NDArray, weights: NDArray | None, reuse: int, *,
           isolate: bool | None, step: str, progress: Progress | None,
           cancel: CancelCheck | None, solver: str = "auto",
           k: int = DEFAULT_K, sparse_seconds: float | None = SPARSE_SECONDS,
           ) -> tuple[NDArray[np.intp], str, float, bool]:
    """Photo of each tile, the solver used ("dense" or "sparse"), the lower bound (NaN when dense), proven optimal."""
    n_t, n_slots = len(tiles), len(photos) * reuse
    sparse = method == "exact" and (solver == "sparse" or (solver == "auto" and not fits_dense(n_t, n_slots)))
    if isolate is None:
        isolate = method == "lp" or n_t * n_slots >= SUBPROCESS_PAIRS
    if sparse:
        fn, args, kwargs = _sparse_placement, (tiles, photos, weights, reuse, k, sparse_seconds), {}
    else:
        fn, args, kwargs = solve, (tiles, photos), {"method": method, "weights": weights, "reuse": reuse,
                                                    "solver": "dense"}
    if not isolate:
        report(progress, 1, 2, f"{step} placing {n_t:,} tiles")
        return _solved(fn(*args, **kwargs), sparse)
    estimate = solve_estimate(method, n_t, n_slots)
    caveat = "; many similar photos or tiles can take several times longer" if method == "exact" else ""

    def poll(elapsed: float) -> None:
        check_cancel(cancel)
        # approaches the end without reaching it: the estimate is only a guide
        report(progress, round(1000 * min(0.99, 1.0 - math.exp(-elapsed / estimate))), 1000,
               f"{step} {n_t:,} tiles × {n_slots:,} photo slots · {elapsed:.0f} s "
               f"(estimate: about {estimate:.0f} s{caveat})")

    poll(0.0)
    return _solved(run_in_subprocess(fn, *args, poll=poll, **kwargs), sparse)


def _solved(value: object, sparse: bool) -> tuple[NDArray[np.intp], str, float, bool]:
    if sparse:
        chosen, bound, certified = value
        return chosen, "sparse", float(bound), bool(certified)
    return value, "dense", math.nan, True


def build_mosaic(
    request: MosaicRequest,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    cache: DiskCache | None = None,
    load_tiles: TileLoader | None = None,
) -> MosaicResult:
    """Build a mosaic: cut the tiles, weight faces and people, run every placement, measure the errors.

    Parameters
    ----------
    request : MosaicRequest
    progress : callable, optional
        ``progress(done, total, message)`` over the whole job; the message
        names the step ("Photo tiles at 16 px: 32 of 140", "Step 1 of 2:
        Exact (Jonker–Volgenant) · uniform… placing 400 tiles").
    cancel : callable, optional
        Polled between photos, between placements and every 0.25 s while a
        placement runs in a child process (which is then killed).
    cache : DiskCache, optional
        Where photo tiles are kept (default :func:`core.cache.default_cache`).
    load_tiles : callable, optional
        ``load_tiles(shas, paths, size, *, cache, progress, cancel) -> PhotoTiles``
        instead of :func:`core.mosaic.pool.load_photo_tiles` (a page adds its
        memory cache).

    Returns
    -------
    MosaicResult

    Raises
    ------
    MosaicError
        The request cannot be built (too few photos for the grid, too many
        tiles, PuLP above :data:`LP_MAX_TILES` tiles, out of memory...); the
        message says what to change.
    core.jobs.Cancelled
        ``cancel()`` returned True; nothing is returned, and photo tiles cached
        so far stay valid.
    """
    rows, cols, reuse, width, height = _plan(request)
    load_tiles = load_tiles or load_photo_tiles
    target = np.asarray(request.target)
    search = request.regions
    if search is None:
        if True in request.weightings:
            report(progress, 0, 1, "Finding faces and people (MediaPipe)…")
            search = find_regions(target)
        else:
            search = RegionSearch()
    notes: list[str] = []
    weightings = tuple(dict.fromkeys(request.weightings))
    if not search.found and True in weightings:
        weightings = (False,)
        why = {MODEL_UNAVAILABLE: search.detail, DETECTION_FAILED: f"face/person detection failed ({search.detail})",
               NOTHING_FOUND: "no face or person found in this target"}
        reason = why.get(search.uniform_reason or "", "no face or person masks").rstrip(". ")
        notes.append(f"Weighting is off: {reason}. The mosaic uses uniform weights.")
    runs = [(m, w) for m in dict.fromkeys(request.methods) for w in weightings]
    count = 1 + len(runs)
    try:
        start = time.perf_counter()
        loaded = load_tiles(list(request.shas), list(request.paths), request.score_px, cache=cache,
                            progress=_scaled(progress, 0, count), cancel=cancel)
        shas, paths, photos = list(request.shas), list(request.paths), loaded.tiles
        left_out: list[str] = []
        if loaded.failed:
            keep = np.setdiff1d(np.arange(len(shas)), loaded.failed)
            left_out = [shas[i] for i in loaded.failed]
            photos = photos[keep]
            shas = [shas[i] for i in keep]
            paths = [paths[i] for i in keep]
            notes.insert(0, f"{len(loaded.failed)} photo(s) could not be read and were left out.")
        if not shas:
            raise MosaicError("None of the photos could be read; the mosaic needs at least one.")
        check_capacity(rows * cols, len(shas), reuse)
        regions = search.regions
        face = regions.face if regions is not None else None
        person = regions.person if regions is not None else None
        cells = None
        if request.adaptive:
            from .adaptive import cell_labels, cell_tiles, quadtree_cells, unit_grid

            cells = quadtree_cells(target, rows, cols, face=face, person=person)
            rows, cols = unit_grid(rows, cols)
            tiles = cell_tiles(target, cells, rows, cols, request.score_px)
            labels = cell_labels(cells, face, person, rows, cols)
            unit_w = grid_weights(face, person, rows, cols, alpha_face=request.alpha_face,
                                  alpha_person=request.alpha_person, falloff=request.falloff)
            weights = np.array([unit_w[y : y + z, x : x + z].mean() for y, x, z in cells])
            check_capacity(len(cells), len(shas), reuse)
        else:
            tiles = target_tiles(target, rows, cols, request.score_px)
            labels = grid_labels(face, person, rows, cols)
            weights = grid_weights(face, person, rows, cols, alpha_face=request.alpha_face,
                                   alpha_person=request.alpha_person, falloff=request.falloff).ravel()
        tile_px, out_w, out_h = output_size(rows, cols, width, height)
        result = MosaicResult(
            rows=rows, cols=cols, reuse=reuse, score_px=request.score_px, tile_px=tile_px, width=out_w,
            height=out_h, dpi=request.dpi, shas=shas, paths=paths, labels=labels, weights=weights,
            n_faces=regions.n_faces if regions is not None else 0, uniform_reason=search.uniform_reason,
            uniform_detail=search.detail, left_out=left_out, notes=notes,
            step_seconds={"Tiles": time.perf_counter() - start}, cells=cells,
        )
        for k, (method, weighted) in enumerate(runs, start=1):
            check_cancel(cancel)
            step = f"Step {k} of {len(runs)}: {run_label(method, weighted)}…"
            step_progress = _scaled(progress, k, count)
            report(step_progress, 0, 1, step)
            w = weights if weighted else None
            t0 = time.perf_counter()
            chosen, solver, bound, certified = _place(
                method, tiles, photos, w, reuse, isolate=request.isolate, step=step, progress=step_progress,
                cancel=cancel, solver=request.solver, k=request.k, sparse_seconds=request.sparse_seconds)
            seconds = time.perf_counter() - t0
            errors = tile_errors(tiles, photos, chosen)
            objective = float((errors * (w if w is not None else 1.0)).sum())
            result.runs.append(MosaicRun(method, weighted, chosen, errors, region_means(errors, labels),
                                         objective, seconds, solver, bound, certified))
    except MemoryError:
        raise MosaicError("Out of memory: choose a smaller grid or fewer photos.") from None
    report(progress, 1, 1, "Done")
    return result


def _colour_adjust(result: MosaicResult, target: NDArray | None, amount: float):
    """The strip adjuster that shifts each photo towards its cell's Lab mean and spread, or None."""
    if target is None or amount <= 0:
        return None
    from .colour import colour_transfer, lab_stats

    if result.cells is not None:
        from .adaptive import cell_tiles

        goal = cell_tiles(np.asarray(target), result.cells, result.rows, result.cols, result.score_px)
    else:
        goal = target_tiles(np.asarray(target), result.rows, result.cols, result.score_px)
    goal_mean, goal_spread = lab_stats(goal)

    def adjust(tile_indices: NDArray[np.intp], tiles: NDArray[np.uint8]) -> NDArray[np.uint8]:
        return colour_transfer(tiles, goal_mean[tile_indices], goal_spread[tile_indices], amount)

    return adjust


def render_mosaic(
    result: MosaicResult,
    run: MosaicRun,
    *,
    tile_px: int | None = None,
    target: NDArray | None = None,
    blend_amount: float = 0.0,
    colour_amount: float = 0.0,
    cache: DiskCache | None = None,
    load_tiles: TileLoader | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> NDArray[np.uint8]:
    """Draw a placement: ``(rows * tile_px, cols * tile_px, 3)`` uint8.

    Parameters
    ----------
    result : MosaicResult
    run : MosaicRun
        One of ``result.runs``.
    tile_px : int, optional
        Tile side in pixels (default ``result.tile_px``: the print file).
    target : (H, W, 3) uint8, optional
        Needed only to blend it over the mosaic.
    blend_amount : float
        0 = an honest mosaic (default); up to 1 = the target.
    colour_amount : float
        Colour transfer towards each cell (0 = off, the default; needs ``target``).
    cache, load_tiles, progress, cancel
        As for :func:`build_mosaic`; only the photos placed are loaded.
    """
    tile_px = int(tile_px or result.tile_px)
    load_tiles = load_tiles or load_photo_tiles
    used = np.unique(run.photo_of_tile)
    big = 1 if result.cells is None else int(result.cells[:, 2].max())
    loaded = load_tiles([result.shas[i] for i in used], [result.paths[i] for i in used], tile_px * big, cache=cache,
                        progress=progress, cancel=cancel)
    lookup = np.zeros(len(result.shas), np.intp)
    lookup[used] = np.arange(len(used))
    if result.cells is not None:
        from .adaptive import draw_cells

        placed = loaded.tiles[lookup[run.photo_of_tile]]
        adjust = _colour_adjust(result, target, colour_amount)
        if adjust is not None:
            placed = adjust(np.arange(result.n_tiles), placed)
        image = draw_cells(placed, np.arange(result.n_tiles), result.cells, result.rows, result.cols, tile_px)
        return blend(image, target, blend_amount) if blend_amount > 0 and target is not None else image
    placed = loaded.tiles
    adjust = _colour_adjust(result, target, colour_amount)
    if adjust is not None:
        placed = adjust(np.arange(result.n_tiles), loaded.tiles[lookup[run.photo_of_tile]])
        image = render(placed, np.arange(result.n_tiles), result.rows, result.cols)
    else:
        image = render(loaded.tiles, lookup[run.photo_of_tile], result.rows, result.cols)
    if blend_amount > 0 and target is not None:
        image = blend(image, target, blend_amount)
    return image


def print_mosaic(
    result: MosaicResult,
    run: MosaicRun,
    path: str | Path,
    *,
    tile_px: int | None = None,
    fmt: str | None = None,
    target: NDArray | None = None,
    colour_amount: float = 0.0,
    cache: DiskCache | None = None,
    load_tiles: TileLoader | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> Path:
    """Write a placement as a print file (PNG, TIFF or JPEG) one row of tiles at a time.

    Only the photos placed are loaded, at ``tile_px`` (default
    ``result.tile_px``); the picture itself is never whole in memory (see
    :mod:`core.mosaic.printing`). The file carries ``result.dpi``. With a
    ``target`` and a ``colour_amount`` above 0 each photo's colours move
    towards its cell's (:func:`core.mosaic.colour.colour_transfer`).

    Returns
    -------
    Path
        The file written.
    """
    tile_px = int(tile_px or result.tile_px)
    load_tiles = load_tiles or load_photo_tiles
    used = np.unique(run.photo_of_tile)
    big = 1 if result.cells is None else int(result.cells[:, 2].max())
    loaded = load_tiles([result.shas[i] for i in used], [result.paths[i] for i in used], tile_px * big, cache=cache,
                        progress=_scaled(progress, 0, 2), cancel=cancel)
    lookup = np.zeros(len(result.shas), np.intp)
    lookup[used] = np.arange(len(used))
    if result.cells is not None:
        from .adaptive import cell_strips

        tiles = loaded.tiles
        adjust = _colour_adjust(result, target, colour_amount)
        if adjust is not None:  # per cell: a photo used twice may shift two ways
            tiles, index = adjust(np.arange(result.n_tiles), tiles[lookup[run.photo_of_tile]]), np.arange(result.n_tiles)
        else:
            index = lookup[run.photo_of_tile]
        strips = cell_strips(tiles, index, result.cells, result.rows, result.cols, tile_px, cancel=cancel)
        return write_print(path, strips, result.cols * tile_px, result.rows * tile_px, dpi=result.dpi, fmt=fmt)
    strips = mosaic_strips(loaded.tiles, lookup[run.photo_of_tile], result.rows, result.cols, cancel=cancel,
                           progress=_scaled(progress, 1, 2), adjust=_colour_adjust(result, target, colour_amount))
    return write_print(path, strips, result.cols * tile_px, result.rows * tile_px, dpi=result.dpi, fmt=fmt)
