"""Mosaic page: a target picture rebuilt from the archive's photos.

After seed 003 (Tom Hudson's Instagram mosaics): crop the target and the
photos, score every photo against every tile by mean squared error, place
the photos by greedy best match, PuLP's linear programme or an exact
Jonker-Volgenant assignment, optionally weighting face and person tiles
(MediaPipe), and compare. The work is one core job,
:func:`core.mosaic.build.build_mosaic`; this page gathers settings and shows
results (the target chooser: :mod:`ui.mosaic_target`; caches and the job's
status box: :mod:`ui.mosaic_runs`; result charts: :mod:`ui.mosaic_results`).

The settings (target photo, size, grid, weighting, methods) are kept in the
URL (``ui.share``), so a copied link reopens the same plan; press Build to
run it.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import streamlit as st

from core import mosaic
from core.archive.ingest import THUMB_SIDE
from ui import mosaic_runs as builds
from ui.images import inline
from ui.mosaic_results import show_results
from ui.mosaic_target import Target, choose_target, display_image
from ui.share import sync
from ui.state import current_archive

INTRO = ("A target picture rebuilt from your photos: every tile of the target gets one photo, chosen so that "
         "the pixels match as closely as possible (mean squared error). After Tom Hudson's Instagram mosaics: "
         "greedy best match, a PuLP linear programme, and the exact optimum by the Jonker–Volgenant algorithm, "
         "with faces and people weighted by MediaPipe.")


class Grid(NamedTuple):
    """The grid chosen in section 2 (``ok``: the photos can fill it)."""

    rows: int
    cols: int
    reuse: int
    score: int
    tile_px: int
    ok: bool
    adaptive: bool = False


def grid_section(n_photos: int, box: tuple[int, int], dpi: int | None) -> Grid:
    """2 · Reuse limit, rows, columns and scoring size; an impossible grid offers two ways out."""
    st.subheader("2 · Grid and tiles")
    aspect = box[0] / box[1]
    g1, g2, g3, g4 = st.columns(4)
    reuse = int(g1.number_input(
        "Use each photo up to k times", 1, 1000,
        key=sync(f"mosaic_reuse_{n_photos}", "reuse", default=mosaic.default_reuse(n_photos), bounds=(1, 1000)),
        help="1 = every photo at most once (a true mosaic). Small archives need more.",
    ))
    planned = mosaic.plan_grid(n_photos, aspect, reuse=reuse, max_tiles=mosaic.MAX_TILES)
    plan_key = f"{n_photos}_{aspect:.4f}_{reuse}"
    rows = int(g2.number_input("Rows", 1, 1000, key=sync(f"mosaic_rows_{plan_key}", "rows", default=planned[0],
                                                        bounds=(1, 1000))))
    cols = int(g3.number_input("Columns", 1, 1000, key=sync(f"mosaic_cols_{plan_key}", "cols", default=planned[1],
                                                           bounds=(1, 1000))))
    score = int(g4.segmented_control("Score at (px)", [8, 16, 32], required=True,
                                     key=sync("mosaic_score", "score", default=16, options=[8, 16, 32]),
                                     help="Tiles are compared at this size; the mosaic is drawn at full size."))
    adaptive = st.toggle("Adaptive tiles", key=sync("mosaic_adaptive", "adaptive", default=False),
                         help="As many tiles as the grid, in three sizes: half-size tiles on faces, people and "
                              "detail, double-size tiles elsewhere (a quadtree).")
    tile_px, final_w, final_h = mosaic.output_size(rows, cols, *box)
    n_tiles = rows * cols
    size_note = f" at {dpi} dpi ({final_w / dpi * 2.54:.1f} × {final_h / dpi * 2.54:.1f} cm)" if dpi else ""
    st.caption(
        f"Planned from {n_photos:,} photos{f' × {reuse}' if reuse > 1 else ''} and the output's shape: "
        f"{planned[0]} × {planned[1]}. Grid {rows} × {cols} = {n_tiles:,} tiles of {tile_px} px; "
        f"print file {final_w} × {final_h} px{size_note}."
        + (f" Tiles above {THUMB_SIDE} px are drawn from the original files." if tile_px > THUMB_SIDE else "")
        + ("" if mosaic.fits_dense(n_tiles, n_photos, reuse) else
           " Above the dense solver's memory budget the exact placement works on each tile's nearest photos "
           "(sparse) and is priced until proven optimal."))

    def allow_reuse(k: int, r: int, c: int, n: int) -> None:
        """Raise the reuse limit and keep the grid the user chose (its widgets are keyed by the plan)."""
        st.session_state[f"mosaic_reuse_{n}"] = k
        st.session_state[f"mosaic_rows_{n}_{aspect:.4f}_{k}"] = r
        st.session_state[f"mosaic_cols_{n}_{aspect:.4f}_{k}"] = c

    def smaller_grid(r: int, c: int) -> None:
        st.session_state[f"mosaic_rows_{plan_key}"] = r
        st.session_state[f"mosaic_cols_{plan_key}"] = c

    if n_tiles > mosaic.MAX_TILES:
        st.error(f"{n_tiles:,} tiles is more than this page handles ({mosaic.MAX_TILES:,}); "
                 "choose fewer rows or columns.")
        return Grid(rows, cols, reuse, score, tile_px, False, adaptive)
    try:
        mosaic.check_capacity(n_tiles, n_photos, reuse)
    except mosaic.MosaicError as exc:
        fit = mosaic.plan_grid(n_photos, aspect, reuse=reuse, max_tiles=mosaic.MAX_TILES)
        st.error(str(exc), icon=":material/grid_off:")
        b1, b2, _ = st.columns([1, 1, 2])
        b1.button(f"Allow each photo up to {-(-n_tiles // n_photos)} times", key="mosaic_fix_reuse",
                  on_click=allow_reuse, args=(-(-n_tiles // n_photos), rows, cols, n_photos))
        b2.button(f"Use a {fit[0]} × {fit[1]} grid", key="mosaic_fix_grid", on_click=smaller_grid, args=fit)
        return Grid(rows, cols, reuse, score, tile_px, False, adaptive)
    return Grid(rows, cols, reuse, score, tile_px, True, adaptive)


def weighting_section(target: Target, grid: Grid, aspect: float) -> tuple[mosaic.RegionSearch, float, float, float]:
    """3 · Face and person weighting: what MediaPipe found, the weights, and their heat map."""
    st.subheader("3 · Face and person weighting")
    w1, w2 = st.columns([2, 3], gap="large")
    search = mosaic.RegionSearch()
    with w1:
        use_weights = st.toggle("Weight faces and people", key=sync("mosaic_weights", "weights", default=True),
                                help="Errors on face and person tiles count more, so they get the best photos.")
        alpha_face = st.slider("Face weight α", 0.0, 30.0, step=0.5,
                               key=sync("mosaic_alpha_face", "alpha_face", default=10.0, bounds=(0.0, 30.0)),
                               disabled=not use_weights, help="A face tile counts 1 + α times as much as background.")
        alpha_person = st.slider("Person weight α", 0.0, 30.0, step=0.5,
                                 key=sync("mosaic_alpha_person", "alpha_person", default=3.0, bounds=(0.0, 30.0)),
                                 disabled=not use_weights)
        falloff = st.slider("Falloff width (tiles)", 0.0, 10.0, step=0.5, disabled=not use_weights,
                            key=sync("mosaic_width", "falloff", default=2.0, bounds=(0.0, 10.0)),
                            help="Weight = 1 + α·max(0, 1 − distance / width): borders fade over this many tiles.")
        if use_weights:
            with st.spinner("Finding faces and people (MediaPipe)…"):
                search = builds.target_regions(target.digest, target.image)
            builds.show_regions(search)
    shown = display_image(target.digest, target.image)
    with w2:
        if not grid.ok:
            st.image(inline(mosaic.crop_to_aspect(shown, aspect)), width=480)
            return search, alpha_face, alpha_person, falloff
        regions = search.regions
        weights = (mosaic.grid_weights(regions.face, regions.person, grid.rows, grid.cols, alpha_face=alpha_face,
                                       alpha_person=alpha_person, falloff=falloff)
                   if regions is not None else np.ones((grid.rows, grid.cols)))
        st.image(inline(mosaic.weight_overlay(shown, weights)), width=480)
        lo, hi = float(weights.min()), float(weights.max())
        st.caption(f"Tile weights on the target, cropped to the grid: {lo:.1f} (dark purple) to {hi:.1f} "
                   "(bright yellow)." if hi > lo else "Tile weights: uniform (1 everywhere).")
    return search, alpha_face, alpha_person, falloff


def placement_section(grid: Grid, n_photos: int, weighted: bool) -> tuple[list[str], list[bool], bool]:
    """4 · Methods and weightings to compare; returns them and whether Build was pressed."""
    st.subheader("4 · Placement")
    n_tiles, n_slots = grid.rows * grid.cols, n_photos * grid.reuse
    m1, m2 = st.columns([3, 2], gap="large")
    with m1:
        methods = st.pills("Methods", list(mosaic.METHOD_LABELS), selection_mode="multi",
                           format_func=mosaic.METHOD_LABELS.get,
                           key=sync("mosaic_methods", "methods", default=["exact", "greedy"],
                                    options=list(mosaic.METHOD_LABELS), multi=True)) or []
        modes = st.pills("Weighting", [False, True], selection_mode="multi", format_func=mosaic.WEIGHT_LABELS.get,
                         key=sync(f"mosaic_weight_modes_{weighted}", "weighting",
                                  default=[False, True] if weighted else [False], options=[False, True], multi=True),
                         disabled=not weighted)
        modes = (modes or []) if weighted else [False]
        lp_ok = True
        if "lp" in methods:
            if n_tiles > mosaic.LP_MAX_TILES:
                lp_ok = False
                st.error(f"PuLP is limited to {mosaic.LP_MAX_TILES:,} tiles (the seed: at about 2,500 photos it took "
                         "over an hour or ran out of memory). Exact gives the same optimum in seconds.")
            elif n_tiles > mosaic.LP_COMFORT_TILES:
                minutes = mosaic.solve_estimate("lp", n_tiles, n_slots) / 60
                st.warning(f"PuLP with {n_tiles:,} tiles needs about {minutes:.0f} "
                           "minutes and several GB of memory; exact assignment gives the same optimum in seconds.")
                lp_ok = st.checkbox("Run PuLP anyway", key="mosaic_lp_anyway")
            else:
                st.caption(f"PuLP: one variable per tile and photo slot ({n_tiles * n_slots:,}); "
                           f"about {mosaic.solve_estimate('lp', n_tiles, n_slots):.0f} s.")
        greedy_ok = 4 * n_tiles * n_slots <= mosaic.DENSE_BUDGET_BYTES
        if "greedy" in methods and not greedy_ok:
            st.caption(f"Greedy is left out: it needs the whole cost matrix ({4 * n_tiles * n_slots / 1e9:.1f} GB).")
        methods = [m for m in mosaic.METHOD_LABELS if m in methods and (m != "lp" or lp_ok)
                   and (m != "greedy" or greedy_ok)]
        modes = [w for w in (False, True) if w in modes]
    with m2:
        clicked = st.button("Build mosaic", type="primary", key="mosaic_build", icon=":material/grid_view:",
                            disabled=not (grid.ok and methods and modes))
        if not (methods and modes):
            st.caption("Choose at least one method and one weighting.")
    return methods, modes, clicked


def main() -> None:
    archive = current_archive()
    st.title("Mosaic")
    st.caption(INTRO)
    photos = archive.catalogue.drop_duplicates("sha256").reset_index(drop=True) if len(archive.catalogue) \
        else archive.catalogue
    if len(photos) == 0:
        st.info("This archive has no photos to build a mosaic from. Pick another archive in the sidebar.")
        st.stop()

    target = choose_target(photos)
    pool = mosaic.tile_pool(archive.catalogue, exclude=target.sha if target.exclude else None)
    if pool.capped:
        st.caption(f":material/info: This archive has {pool.available:,} photos; the mosaic uses the "
                   f"{mosaic.MAX_PHOTOS:,} most recent ones (the exact assignment needs memory in proportion to "
                   "tiles × photos).")
    if len(pool) == 0:
        st.warning("The target is the only photo in this archive: untick “Leave the target out of the tiles”.")
        st.stop()
    aspect = target.box[0] / target.box[1]
    grid = grid_section(len(pool), target.box, target.dpi)
    search, alpha_face, alpha_person, falloff = weighting_section(target, grid, aspect)
    methods, modes, clicked = placement_section(grid, len(pool), search.found)

    runs = [(m, w) for m in methods for w in modes]
    signature = (
        archive.key or archive.name, target.digest,
        tuple(sorted(pool.shas)) if len(pool) < 50 else hashlib.sha256("\n".join(pool.shas).encode()).hexdigest(),
        grid.rows, grid.cols, grid.score, grid.reuse, tuple(runs), grid.adaptive,
        (alpha_face, alpha_person, falloff) if search.found else None,
    )
    if builds.build_was_cancelled():
        st.info("Build cancelled.", icon=":material/cancel:")
    if clicked:
        request = mosaic.MosaicRequest(
            target=target.image, shas=pool.shas, paths=pool.paths, rows=grid.rows, cols=grid.cols,
            reuse=grid.reuse, score_px=grid.score, width=target.box[0], height=target.box[1], dpi=target.dpi,
            methods=tuple(methods), weightings=tuple(modes), alpha_face=alpha_face, alpha_person=alpha_person,
            falloff=falloff, regions=search, adaptive=grid.adaptive)
        error = builds.build(request, signature, target.digest)
        if error:
            st.error(error)
    show_results(builds.current_build(target.digest), target.image, signature)


main()
