"""Mosaics: a target picture rebuilt from one's own photos (seed 003).

Public verbs, by module:
- :mod:`core.mosaic.grid`: MosaicError, plan_grid, check_capacity, print_size, output_size, crop_to_aspect, square_tile, square_tiles, target_tiles
- :mod:`core.mosaic.assignment`: METHODS, LP_COMFORT_TILES, cost_matrix, expand_reuse, assign_greedy, assign_lp, assign_exact, assign, assignment_cost, solve, tile_errors, run_in_subprocess
- :mod:`core.mosaic.weighting`: mask_coverage, tile_weights, region_labels, region_means, grid_weights, grid_labels
- :mod:`core.mosaic.regions`: FACE_MODEL, PERSON_MODEL, Regions, face_landmarks, face_mask, person_probability, person_mask, region_masks
- :mod:`core.mosaic.rendering`: render, blend, weight_overlay, encode_png
- :mod:`core.mosaic.pool`: MAX_PHOTOS, TilePool, tile_pool, PhotoTiles, load_photo_tiles
- :mod:`core.mosaic.sparse`: DENSE_BUDGET_BYTES, DEFAULT_K, DEFAULT_REDUCE_DIMS, dense_bytes, fits_dense, nearest, SparsePlacement, assign_sparse
- :mod:`core.mosaic.printing`: PRINT_FORMATS, physical_size, poster_pixels, mosaic_strips, write_png_strips, write_print
- :mod:`core.mosaic.colour`: lab_stats, colour_transfer, ColourCurve, colour_curve
- :mod:`core.mosaic.adaptive`: DEFAULT_LEVELS, unit_grid, quadtree_cells, cell_labels, cell_tiles, cell_strips, draw_cells
- :mod:`core.mosaic.build`: TARGET_SIDE, MAX_TILES, LP_MAX_TILES, SUBPROCESS_PAIRS, METHOD_LABELS, WEIGHT_LABELS, SPARSE_LABEL, run_label, default_reuse, solve_estimate, RegionSearch, find_regions, MosaicRequest, MosaicRun, MosaicResult, build_mosaic, render_mosaic, print_mosaic

The pipeline: :func:`plan_grid` -> :func:`target_tiles` and
:func:`load_photo_tiles` -> :func:`region_masks` -> :func:`grid_weights` ->
:func:`solve` (:func:`cost_matrix` + an assignment, or :func:`assign_sparse` on
each tile's nearest photos above the memory budget) -> :func:`tile_errors`
-> :func:`render` (or :func:`print_mosaic`, strip by strip, for a poster);
:func:`build_mosaic` runs it all as one cancellable job.
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["grid", "assignment", "weighting", "regions", "rendering", "pool", "sparse", "printing", "colour", "adaptive", "build"])
