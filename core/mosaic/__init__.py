"""Mosaics: grid, tiles, cost, assignment, face/person regions, render.

Public verbs, by module:
- :mod:`core.mosaic.assignment`: METHODS, MosaicError, plan_grid, check_capacity, crop_to_aspect, square_tile, square_tiles, target_tiles, cost_matrix, expand_reuse, assign_greedy, assign_lp, assign_exact, assign, assignment_cost, solve, run_in_subprocess, tile_errors, mask_coverage, tile_weights, region_labels, region_means, render, blend, weight_overlay, output_size
- :mod:`core.mosaic.regions`: FACE_MODEL, PERSON_MODEL, Regions, face_landmarks, face_mask, person_probability, person_mask, region_masks
"""

from . import assignment, regions
from .assignment import (
    METHODS,
    MosaicError,
    assign,
    assign_exact,
    assign_greedy,
    assign_lp,
    assignment_cost,
    blend,
    check_capacity,
    cost_matrix,
    crop_to_aspect,
    expand_reuse,
    mask_coverage,
    output_size,
    plan_grid,
    region_labels,
    region_means,
    render,
    run_in_subprocess,
    solve,
    square_tile,
    square_tiles,
    target_tiles,
    tile_errors,
    tile_weights,
    weight_overlay,
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

__all__ = [*assignment.__all__, *regions.__all__]
