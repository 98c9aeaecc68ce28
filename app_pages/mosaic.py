"""Mosaic page: a target picture rebuilt from the archive's photos.

After seed 003 (Tom Hudson's Instagram mosaics): crop the target and the
photos, score every photo against every tile by mean squared error, place
the photos by greedy best match, PuLP's linear programme or an exact
Jonker-Volgenant assignment, optionally weighting face and person tiles
(MediaPipe), and compare. The work is in :mod:`core.mosaic.assignment` and
:mod:`core.mosaic.regions`; this page only gathers settings and shows results.

Caches: photo tiles on disk (per photo and size) and in memory; the target,
its face/person masks and finished builds in memory, so a second visit (or
the same build again) is instant. Big or slow solves run in a child process
that the Cancel button kills.

The settings (target photo, size, grid, weighting, methods) are kept in the
URL (``ui.share``), so a copied link reopens the same plan; press Build to
run it.
"""

from __future__ import annotations

import hashlib
import math
import os

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

import core.mosaic as M
from core.archive.ingest import THUMB_SIDE
from core.image.io import UPLOAD_TYPES, ImageError
from core.jobs import ModelUnavailableError
from ui.images import inline
from ui.mosaic_runs import (
    LP_MAX_TILES,
    MAX_PHOTOS,
    MAX_TILES,
    METHOD_LABELS,
    PRESET_LABELS,
    PRESETS,
    PREVIEW_SIDE,
    REGION_NAMES,
    WEIGHT_LABELS,
    Build,
    _archive_target,
    _display,
    _estimate_s,
    _memo_get,
    _memo_put,
    _png,
    _regions,
    _render,
    _run_build,
    _uploaded_target,
)
from ui.share import sync
from ui.state import current_archive

archive = current_archive()
catalogue = archive.catalogue

st.title("Mosaic")
st.caption(
    "A target picture rebuilt from your photos: every tile of the target gets one photo, chosen so that "
    "the pixels match as closely as possible (mean squared error). After Tom Hudson's Instagram mosaics: "
    "greedy best match, a PuLP linear programme, and the exact optimum by the Jonker–Volgenant algorithm, "
    "with faces and people weighted by MediaPipe."
)

photos_table = catalogue.drop_duplicates("sha256").reset_index(drop=True) if len(catalogue) else catalogue
if len(photos_table) == 0:
    st.info("This archive has no photos to build a mosaic from. Pick another archive in the sidebar.")
    st.stop()

# 1 - target ---------------------------------------------------------------------------------
st.subheader("1 · Target picture")
left, right = st.columns([2, 3], gap="large")
target: np.ndarray | None = None
target_digest = ""
target_sha: str | None = None
with left:
    sources = ["Archive photo", "Upload"]
    source = st.segmented_control("Target", sources, required=True,
                                  key=sync("mosaic_target_source", "target_from", default=sources[0],
                                           options=sources))
    if source == "Upload":
        upload = st.file_uploader("Target picture", type=UPLOAD_TYPES, key="mosaic_upload")
        if upload is not None:
            data = upload.getvalue()
            target_digest = hashlib.sha256(data).hexdigest()
            try:
                target = _uploaded_target(target_digest, data)
            except ImageError as exc:
                st.error(f"{upload.name}: {exc}", icon=":material/broken_image:")
    else:
        options = list(range(len(photos_table)))
        pick = st.selectbox(
            "Photo from the archive", options, key=sync("mosaic_target_pick", "target", default=0, options=options),
            format_func=lambda i: f"{photos_table.at[i, 'file']} · {str(photos_table.at[i, 'caption'] or '')[:50]}",
        )
        row = photos_table.iloc[int(pick)]
        target_sha = str(row["sha256"])
        target_digest = target_sha
        try:
            target = _archive_target(target_sha, str(row["path"]))
        except ImageError as exc:
            st.error(f"{row['file']}: {exc}", icon=":material/broken_image:")
    exclude = st.checkbox("Leave the target out of the tiles", key=sync("mosaic_exclude", "exclude", default=True),
                          disabled=target_sha is None,
                          help="Build the picture only from the other photos of the archive.")

    preset_label = st.selectbox("Output size", PRESET_LABELS,
                                key=sync("mosaic_preset", "size", default=PRESET_LABELS[0], options=PRESET_LABELS),
                                help="Print sizes are turned to match the target (portrait or landscape).")
    preset = PRESETS[PRESET_LABELS.index(preset_label)]
    if preset[1] == 0:
        c1, c2 = st.columns(2)
        custom_w = c1.number_input("Width (px)", 64, 20_000, step=100,
                                   key=sync("mosaic_custom_w", "width", default=3000, bounds=(64, 20_000)))
        custom_h = c2.number_input("Height (px)", 64, 20_000, step=100,
                                   key=sync("mosaic_custom_h", "height", default=2000, bounds=(64, 20_000)))

if target is None:
    with right:
        st.info("Upload a target picture (JPEG, PNG, WebP…) or pick one from the archive.")
    st.stop()

display_target = _display(target_digest, target)
with right:
    st.image(inline(display_target), width=420)
    st.caption(f"Target: {target.shape[1]} × {target.shape[0]} px (as used here).")

th, tw = target.shape[:2]
target_aspect = tw / th
if preset[1] is None:
    out_w, out_h = (3000, round(3000 / target_aspect)) if target_aspect >= 1 else (round(3000 * target_aspect), 3000)
elif preset[1] == 0:
    out_w, out_h = int(custom_w), int(custom_h)
else:
    pw, ph = preset[1], preset[2]
    out_w, out_h = (max(pw, ph), min(pw, ph)) if target_aspect > 1 else (pw, ph)
dpi = preset[3]

pool = photos_table
if exclude and target_sha is not None:
    pool = photos_table[photos_table["sha256"] != target_sha]
if len(pool) > MAX_PHOTOS:
    st.caption(f":material/info: This archive has {len(pool):,} photos; the mosaic uses the {MAX_PHOTOS:,} most "
               "recent ones (the exact assignment needs memory in proportion to tiles × photos).")
    pool = pool.iloc[-MAX_PHOTOS:]
n_photos = len(pool)
if n_photos == 0:
    st.warning("The target is the only photo in this archive: untick “Leave the target out of the tiles”.")
    st.stop()

# 2 - grid -----------------------------------------------------------------------------------
st.subheader("2 · Grid and tiles")
g1, g2, g3, g4 = st.columns(4)
default_reuse = 1 if n_photos >= 400 else math.ceil(400 / n_photos)
reuse = int(g1.number_input(
    "Use each photo up to k times", 1, 1000,
    key=sync(f"mosaic_reuse_{n_photos}", "reuse", default=default_reuse, bounds=(1, 1000)),
    help="1 = every photo at most once (a true mosaic). Small archives need more.",
))
aspect = out_w / out_h
planned = M.plan_grid(n_photos, aspect, reuse=reuse, max_tiles=MAX_TILES)
plan_key = f"{n_photos}_{aspect:.4f}_{reuse}"
rows = int(g2.number_input("Rows", 1, 400, key=sync(f"mosaic_rows_{plan_key}", "rows", default=planned[0],
                                                   bounds=(1, 400))))
cols = int(g3.number_input("Columns", 1, 400, key=sync(f"mosaic_cols_{plan_key}", "cols", default=planned[1],
                                                      bounds=(1, 400))))
score = int(g4.segmented_control("Score at (px)", [8, 16, 32], required=True,
                                 key=sync("mosaic_score", "score", default=16, options=[8, 16, 32]),
                                 help="Tiles are compared at this size; the mosaic is drawn at full size."))
tile_px, final_w, final_h = M.output_size(rows, cols, out_w, out_h)
n_tiles = rows * cols
size_note = f" at {dpi} dpi ({final_w / dpi * 2.54:.1f} × {final_h / dpi * 2.54:.1f} cm)" if dpi else ""
st.caption(
    f"Planned from {n_photos:,} photos{f' × {reuse}' if reuse > 1 else ''} and the output's shape: "
    f"{planned[0]} × {planned[1]}. Grid {rows} × {cols} = {n_tiles:,} tiles of {tile_px} px; "
    f"print file {final_w} × {final_h} px{size_note}."
    + (f" Tiles above {THUMB_SIDE} px are drawn from the original files." if tile_px > THUMB_SIDE else "")
)


def _allow_reuse(k: int, r: int, c: int, n: int) -> None:
    """Raise the reuse limit and keep the grid the user chose (its widgets are keyed by the plan)."""
    st.session_state[f"mosaic_reuse_{n}"] = k
    key = f"{n}_{aspect:.4f}_{k}"
    st.session_state[f"mosaic_rows_{key}"] = r
    st.session_state[f"mosaic_cols_{key}"] = c


def _smaller_grid(r: int, c: int) -> None:
    st.session_state[f"mosaic_rows_{plan_key}"] = r
    st.session_state[f"mosaic_cols_{plan_key}"] = c


grid_ok = True
if n_tiles > MAX_TILES:
    grid_ok = False
    st.error(f"{n_tiles:,} tiles is more than this page handles ({MAX_TILES:,}); choose fewer rows or columns.")
else:
    try:
        M.check_capacity(n_tiles, n_photos, reuse)
    except M.MosaicError as exc:
        grid_ok = False
        need = -(-n_tiles // n_photos)
        fit = M.plan_grid(n_photos, aspect, reuse=reuse, max_tiles=MAX_TILES)
        st.error(str(exc), icon=":material/grid_off:")
        b1, b2, _ = st.columns([1, 1, 2])
        b1.button(f"Allow each photo up to {need} times", key="mosaic_fix_reuse", on_click=_allow_reuse,
                  args=(need, rows, cols, n_photos))
        b2.button(f"Use a {fit[0]} × {fit[1]} grid", key="mosaic_fix_grid", on_click=_smaller_grid, args=fit)

# 3 - weighting --------------------------------------------------------------------------------
st.subheader("3 · Face and person weighting")
w1, w2 = st.columns([2, 3], gap="large")
regions = None
with w1:
    use_weights = st.toggle("Weight faces and people", key=sync("mosaic_weights", "weights", default=True),
                            help="Errors on face and person tiles count more, so they get the best photos.")
    alpha_face = st.slider("Face weight α", 0.0, 30.0, step=0.5,
                           key=sync("mosaic_alpha_face", "alpha_face", default=10.0, bounds=(0.0, 30.0)),
                           disabled=not use_weights, help="A face tile counts 1 + α times as much as background.")
    alpha_person = st.slider("Person weight α", 0.0, 30.0, step=0.5,
                             key=sync("mosaic_alpha_person", "alpha_person", default=3.0, bounds=(0.0, 30.0)),
                             disabled=not use_weights)
    width = st.slider("Falloff width (tiles)", 0.0, 10.0, step=0.5, disabled=not use_weights,
                      key=sync("mosaic_width", "falloff", default=2.0, bounds=(0.0, 10.0)),
                      help="Weight = 1 + α·max(0, 1 − distance / width): borders fade over this many tiles.")
    if use_weights:
        try:
            with st.spinner("Finding faces and people (MediaPipe)…"):
                regions = _regions(target_digest, os.environ.get("FEEDLENS_MODEL_DIR"), target)
        except ModelUnavailableError as exc:
            st.warning(f"Weighting is off: {exc}\n\nThe mosaic uses uniform weights.", icon=":material/warning:")
        except Exception as exc:  # noqa: BLE001 - MediaPipe failures must not break the page
            st.warning(f"Weighting is off: face/person detection failed ({type(exc).__name__}: {exc}). "
                       "The mosaic uses uniform weights.", icon=":material/warning:")
        if regions is not None and not (regions["face"].any() or regions["person"].any()):
            st.info("No face or person found in this target: uniform weights are used.", icon=":material/info:")
            regions = None
        elif regions is not None:
            found = [f"{regions['n_faces']} face(s)" if regions["n_faces"] else "no face",
                     "a person" if regions["person"].any() else "no person"]
            st.caption("MediaPipe found " + " and ".join(found) + ".")
weights_grid = None
with w2:
    if grid_ok:
        if regions is not None:
            weights_grid = M.tile_weights(
                M.crop_to_aspect(regions["face"], cols / rows), M.crop_to_aspect(regions["person"], cols / rows),
                rows, cols, alpha_face=alpha_face, alpha_person=alpha_person, width=width)
        else:
            weights_grid = np.ones((rows, cols))
        overlay = M.weight_overlay(display_target, weights_grid)
        st.image(inline(overlay), width=480)
        lo, hi = float(weights_grid.min()), float(weights_grid.max())
        st.caption(f"Tile weights on the target, cropped to the grid: {lo:.1f} (dark purple) to {hi:.1f} "
                   "(bright yellow)." if hi > lo else "Tile weights: uniform (1 everywhere).")
    else:
        st.image(inline(M.crop_to_aspect(display_target, aspect)), width=480)

# 4 - methods --------------------------------------------------------------------------------
st.subheader("4 · Placement")
m1, m2 = st.columns([3, 2], gap="large")
with m1:
    methods = st.pills("Methods", list(METHOD_LABELS), selection_mode="multi", format_func=METHOD_LABELS.get,
                       key=sync("mosaic_methods", "methods", default=["exact", "greedy"],
                                options=list(METHOD_LABELS), multi=True))
    weight_modes = st.pills("Weighting", [False, True], selection_mode="multi", format_func=WEIGHT_LABELS.get,
                            key=sync(f"mosaic_weight_modes_{regions is not None}", "weighting",
                                     default=[False, True] if regions is not None else [False],
                                     options=[False, True], multi=True),
                            disabled=regions is None)
    if regions is None:
        weight_modes = [False]
    lp_ok = True
    if "lp" in (methods or []):
        if n_tiles > LP_MAX_TILES:
            lp_ok = False
            st.error(f"PuLP is limited to {LP_MAX_TILES:,} tiles (the seed: at about 2,500 photos it took "
                     "over an hour or ran out of memory). Exact gives the same optimum in seconds.")
        elif n_tiles > M.LP_COMFORT_TILES:
            st.warning(f"PuLP with {n_tiles:,} tiles needs about {_estimate_s('lp', n_tiles, n_photos * reuse) / 60:.0f} "
                       "minutes and several GB of memory; exact assignment gives the same optimum in seconds.")
            lp_ok = st.checkbox("Run PuLP anyway", key="mosaic_lp_anyway")
        else:
            st.caption(f"PuLP: one variable per tile and photo slot ({n_tiles * n_photos * reuse:,}); "
                       f"about {_estimate_s('lp', n_tiles, n_photos * reuse):.0f} s.")
    runs = [(m, w) for m in METHOD_LABELS if m in (methods or []) and (m != "lp" or lp_ok)
            for w in (False, True) if w in (weight_modes or [])]
with m2:
    build_clicked = st.button("Build mosaic", type="primary", key="mosaic_build", icon=":material/grid_view:",
                              disabled=not (grid_ok and runs))
    if not runs:
        st.caption("Choose at least one method and one weighting.")

shas = pool["sha256"].astype(str).tolist()
paths = pool["path"].astype(str).tolist()
signature = (
    archive.key or archive.name, target_digest, tuple(sorted(shas)) if len(shas) < 50 else hashlib.sha256(
        "\n".join(shas).encode()).hexdigest(), rows, cols, score, reuse, tuple(runs),
    (alpha_face, alpha_person, width) if regions is not None else None,
)
settings = dict(rows=rows, cols=cols, score=score, reuse=reuse, shas=shas, paths=paths, runs=runs,
                alpha_face=alpha_face, alpha_person=alpha_person, width=width, tile_px=tile_px, dpi=dpi,
                target_digest=target_digest, signature=signature)

if st.session_state.get("mosaic_cancel"):
    st.info("Build cancelled.", icon=":material/cancel:")

if build_clicked:
    cached = _memo_get(("build", signature))
    if cached is not None:
        st.session_state["mosaic_build_result"] = cached
    else:
        failure = None
        with st.status("Building the mosaic…", expanded=True) as status:
            try:
                build = _run_build(settings, target, regions, status)
            except M.MosaicError as exc:
                failure = str(exc)
            except MemoryError:
                failure = "Out of memory: choose a smaller grid or fewer photos."
            except (ImageError, OSError, ValueError) as exc:
                failure = f"The mosaic could not be built ({type(exc).__name__}: {exc})."
            if failure:
                status.update(label="The mosaic could not be built", state="error", expanded=False)
            else:
                status.update(label=f"Mosaic built: {len(build.runs)} placement(s) of {n_tiles:,} tiles",
                              state="complete", expanded=False)
        if failure:
            st.error(failure)
        else:
            _memo_put(("build", signature), build)
            st.session_state["mosaic_build_result"] = build

build: Build | None = st.session_state.get("mosaic_build_result")
if build is not None and build.target_digest != target_digest:
    build = None

# 5 - results -----------------------------------------------------------------------------------
st.subheader("5 · Results")
if build is None:
    st.info("Press **Build mosaic** to place the photos.", icon=":material/grid_view:")
    st.stop()
if build.signature != signature:
    st.caption(":material/info: The settings changed since this mosaic was built; press Build mosaic to update it.")
for note in build.notes:
    st.warning(note)

labels_of = [r.label for r in build.runs]
default_run = next((r.label for r in build.runs if r.method == "exact" and r.weighted),
                   next((r.label for r in build.runs if r.method == "exact"), labels_of[0]))
r1, r2 = st.columns([3, 2], gap="large")
with r2:
    shown_label = st.selectbox("Show", labels_of, index=labels_of.index(default_run), key="mosaic_show")
    run = build.runs[labels_of.index(shown_label)]
    blend = st.slider("Blend the target over the mosaic", 0.0, 0.8, 0.0, 0.05, key="mosaic_blend",
                      help="0 = an honest mosaic. The seed calls heavy overlays of the target “cheating”.")
    full_w, full_h = build.cols * build.tile_px, build.rows * build.tile_px
    frozen_build, frozen_run, frozen_blend, frozen_target = build, run, blend, target
    st.download_button(
        "Download PNG (print resolution)",
        data=lambda: _png(_render(frozen_build, frozen_run, frozen_build.tile_px, frozen_target, frozen_blend),
                          frozen_build.dpi),
        file_name=f"feedlens_mosaic_{build.rows}x{build.cols}_{run.method}{'_weighted' if run.weighted else ''}.png",
        mime="image/png", key="mosaic_download", on_click="ignore", icon=":material/download:", type="primary",
    )
    st.caption(f"Download: {full_w} × {full_h} px PNG" + (f" at {build.dpi} dpi" if build.dpi else "")
               + f", {build.rows} × {build.cols} tiles of {build.tile_px} px. It is drawn when you click.")
    greedy = next((r for r in build.runs if r.method == "greedy" and not r.weighted), None)
    exact = next((r for r in build.runs if r.method == "exact" and not r.weighted), None)
    lp = next((r for r in build.runs if r.method == "lp" and not r.weighted), None)
    best = exact or lp
    if greedy is not None and best is not None:
        change = 100 * (best.regions["all"] - greedy.regions["all"]) / greedy.regions["all"]
        st.markdown(f"**{METHOD_LABELS[best.method]}** changes the mean error by **{change:+.1f} %** against "
                    f"greedy ({greedy.regions['all']:.4f} → {best.regions['all']:.4f}); the seed's LP: −26 % "
                    "(0.093 → 0.069).")
    if exact is not None and lp is not None:
        rel = abs(lp.objective - exact.objective) / max(exact.objective, 1e-12)
        st.markdown(f"PuLP and exact reach the same total error (relative difference {rel:.1e}); exact was "
                    f"{lp.seconds / max(exact.seconds, 1e-6):,.0f}× faster.")
    uw = next((r for r in build.runs if r.method == "exact" and not r.weighted), None)
    ww = next((r for r in build.runs if r.method == "exact" and r.weighted), None)
    if uw is not None and ww is not None and not math.isnan(uw.regions["face"]):
        st.markdown(f"Weighting changes the face tiles' error from {uw.regions['face']:.4f} to "
                    f"**{ww.regions['face']:.4f}** (background: {uw.regions['background']:.4f} → "
                    f"{ww.regions['background']:.4f}).")
    if any(r.method == "greedy" and r.weighted for r in build.runs):
        st.caption("Greedy takes the cheapest pairs first, so heavily weighted (face) tiles are filled last: "
                   "weights help the optimal methods, not greedy.")
with r1:
    preview_px = max(1, min(build.tile_px, PREVIEW_SIDE // max(build.rows, build.cols)))
    preview = _render(build, run, preview_px, target, blend)
    st.image(inline(preview), width="stretch")
    st.caption(f"{run.label}: mean tile MSE {run.regions['all']:.4f}, placed in {run.seconds:.2f} s.")

table = pd.DataFrame([
    {"Method": METHOD_LABELS[r.method], "Weighting": WEIGHT_LABELS[r.weighted],
     "Mean MSE": r.regions["all"], "Face": r.regions["face"], "Person (not face)": r.regions["person"],
     "Background": r.regions["background"], "Weighted total": r.objective, "Time (s)": r.seconds}
    for r in build.runs
])
st.dataframe(table, hide_index=True, key="mosaic_table",
             column_config={c: st.column_config.NumberColumn(format="%.4f")
                            for c in ["Mean MSE", "Face", "Person (not face)", "Background"]}
             | {"Weighted total": st.column_config.NumberColumn(format="%.3f"),
                "Time (s)": st.column_config.NumberColumn(format="%.2f")})
counts = np.bincount(build.labels, minlength=3)
st.caption(f"MSE of pixels in [0, 1], per tile at the scoring size. Regions: {counts[2]} face tiles, {counts[1]} "
           f"person tiles, {counts[0]} background tiles (a tile belongs to a region when at least half of it "
           "is covered). Cutting the tiles took " + f"{build.step_seconds.get('Tiles', 0.0):.2f} s.")

h1, h2 = st.columns(2, gap="large")
with h1:
    fig = go.Figure()
    top = max(float(r.errors.max()) for r in build.runs) or 1.0
    bins = {"start": 0.0, "end": top * 1.0001, "size": top / 40}
    for r in build.runs:
        fig.add_trace(go.Histogram(x=r.errors, name=r.label, opacity=0.55, xbins=bins))
    fig.update_layout(barmode="overlay", xaxis_title="tile MSE", yaxis_title="tiles", height=400,
                      title={"text": "Distribution of tile errors", "font": {"size": 14}},
                      legend={"orientation": "h", "y": -0.25}, margin={"t": 40})
    st.plotly_chart(fig, key="mosaic_hist", width="stretch")
with h2:
    fig = go.Figure()
    for r in build.runs:
        regions_shown = [k for k in REGION_NAMES if not math.isnan(r.regions[k])]
        fig.add_trace(go.Bar(x=[REGION_NAMES[k] for k in regions_shown], y=[r.regions[k] for k in regions_shown],
                             name=r.label))
    fig.update_layout(barmode="group", yaxis_title="mean MSE", height=400,
                      title={"text": "Mean error by region", "font": {"size": 14}},
                      legend={"orientation": "h", "y": -0.25}, margin={"t": 40})
    st.plotly_chart(fig, key="mosaic_regions", width="stretch")
