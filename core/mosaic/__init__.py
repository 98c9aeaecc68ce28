"""Mosaics: a target picture rebuilt from one's own photos (seed 003).

Public verbs, by module:
- :mod:`core.mosaic.grid`: MosaicError, plan_grid, check_capacity, print_size, output_size, crop_to_aspect, square_tile, square_tiles, target_tiles
- :mod:`core.mosaic.assignment`: METHODS, LP_COMFORT_TILES, cost_matrix, expand_reuse, assign_greedy, assign_lp, assign_exact, assign, assignment_cost, solve, tile_errors, run_in_subprocess
- :mod:`core.mosaic.weighting`: mask_coverage, tile_weights, region_labels, region_means, grid_weights, grid_labels
- :mod:`core.mosaic.regions`: FACE_MODEL, PERSON_MODEL, Regions, face_landmarks, face_mask, person_probability, person_mask, region_masks
- :mod:`core.mosaic.rendering`: render, blend, weight_overlay, encode_png
- :mod:`core.mosaic.pool`: MAX_PHOTOS, TilePool, tile_pool, PhotoTiles, load_photo_tiles
- :mod:`core.mosaic.build`: TARGET_SIDE, MAX_TILES, LP_MAX_TILES, SUBPROCESS_PAIRS, METHOD_LABELS, WEIGHT_LABELS, run_label, default_reuse, solve_estimate, RegionSearch, find_regions, MosaicRequest, MosaicRun, MosaicResult, build_mosaic, render_mosaic

The pipeline: :func:`plan_grid` -> :func:`target_tiles` and
:func:`load_photo_tiles` -> :func:`region_masks` -> :func:`grid_weights` ->
:func:`solve` (:func:`cost_matrix` + an assignment) -> :func:`tile_errors`
-> :func:`render`; :func:`build_mosaic` runs it all as one cancellable job.
"""

from . import assignment, build, grid, pool, regions, rendering, weighting
from .assignment import (
    LP_COMFORT_TILES,
    METHODS,
    assign,
    assign_exact,
    assign_greedy,
    assign_lp,
    assignment_cost,
    cost_matrix,
    expand_reuse,
    run_in_subprocess,
    solve,
    tile_errors,
)
from .build import (
    LP_MAX_TILES,
    MAX_TILES,
    METHOD_LABELS,
    SUBPROCESS_PAIRS,
    TARGET_SIDE,
    WEIGHT_LABELS,
    MosaicRequest,
    MosaicResult,
    MosaicRun,
    RegionSearch,
    build_mosaic,
    default_reuse,
    find_regions,
    render_mosaic,
    run_label,
    solve_estimate,
)
from .grid import (
    MosaicError,
    check_capacity,
    crop_to_aspect,
    output_size,
    plan_grid,
    print_size,
    square_tile,
    square_tiles,
    target_tiles,
)
from .pool import (
    MAX_PHOTOS,
    PhotoTiles,
    TilePool,
    load_photo_tiles,
    tile_pool,
)
from .regions import (
    FACE_MODEL,
    PERSON_MODEL,
    Regions,
    face_landmarks,
    face_mask,
    person_mask,
    person_probability,
    region_masks,
)
from .rendering import (
    blend,
    encode_png,
    render,
    weight_overlay,
)
from .weighting import (
    grid_labels,
    grid_weights,
    mask_coverage,
    region_labels,
    region_means,
    tile_weights,
)

__all__ = [*grid.__all__, *assignment.__all__, *weighting.__all__, *regions.__all__, *rendering.__all__, *pool.__all__, *build.__all__]
