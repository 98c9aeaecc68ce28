"""The Mosaic page's results: the mosaic and its download, the comparison of placements, the table, two charts.

Drawing only: every number comes from :class:`core.mosaic.build.MosaicResult`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.mosaic.build import METHOD_LABELS, SPARSE_LABEL, WEIGHT_LABELS, MosaicResult
from ui.mosaic_print import colour_panel, print_download, zoomable_preview
from ui.mosaic_runs import PREVIEW_SIDE, REGION_NAMES, Built, preview

__all__ = ["show_results", "comparison", "results_table", "error_charts"]


def comparison(result: MosaicResult) -> None:
    """What the seed compared: greedy against the optimum, PuLP against exact, weighted against uniform."""
    greedy, exact, lp = result.run("greedy"), result.run("exact"), result.run("lp")
    best = exact or lp
    if greedy is not None and best is not None:
        before, after = greedy.region_errors["all"], best.region_errors["all"]
        change = 100 * (after - before) / before
        st.markdown(f"**{METHOD_LABELS[best.method]}** changes the mean error by **{change:+.1f} %** against "
                    f"greedy ({before:.4f} → {after:.4f}); the seed's LP: −26 % (0.093 → 0.069).")
    if exact is not None and lp is not None:
        rel = abs(lp.objective - exact.objective) / max(exact.objective, 1e-12)
        st.markdown(f"PuLP and exact reach the same total error (relative difference {rel:.1e}); exact was "
                    f"{lp.seconds / max(exact.seconds, 1e-6):,.0f}× faster.")
    uw, ww = exact, result.run("exact", True)
    if uw is not None and ww is not None and not math.isnan(uw.region_errors["face"]):
        before, after = uw.region_errors, ww.region_errors
        st.markdown(f"Weighting changes the face tiles' error from {before['face']:.4f} to "
                    f"**{after['face']:.4f}** (background: {before['background']:.4f} → "
                    f"{after['background']:.4f}).")
    if result.run("greedy", True) is not None:
        st.caption("Greedy takes the cheapest pairs first, so heavily weighted (face) tiles are filled last: "
                   "weights help the optimal methods, not greedy.")


def results_table(result: MosaicResult) -> None:
    """One row per placement: errors by region, weighted total, time."""
    table = pd.DataFrame([
        {"Method": SPARSE_LABEL if r.solver == "sparse" else METHOD_LABELS[r.method],
         "Weighting": WEIGHT_LABELS[r.weighted],
         "Mean MSE": r.region_errors["all"], "Face": r.region_errors["face"],
         "Person (not face)": r.region_errors["person"], "Background": r.region_errors["background"],
         "Weighted total": r.objective, "Time (s)": r.seconds}
        for r in result.runs
    ])
    st.dataframe(table, hide_index=True, key="mosaic_table",
                 column_config={c: st.column_config.NumberColumn(format="%.4f")
                                for c in ["Mean MSE", "Face", "Person (not face)", "Background"]}
                 | {"Weighted total": st.column_config.NumberColumn(format="%.3f"),
                    "Time (s)": st.column_config.NumberColumn(format="%.2f")})
    counts = np.bincount(result.labels, minlength=3)
    st.caption(f"MSE of pixels in [0, 1], per tile at the scoring size. Regions: {counts[2]} face tiles, "
               f"{counts[1]} person tiles, {counts[0]} background tiles (a tile belongs to a region when at least "
               "half of it is covered). Cutting the tiles took "
               + f"{result.step_seconds.get('Tiles', 0.0):.2f} s.")


def error_charts(result: MosaicResult) -> None:
    """The distribution of tile errors, and the mean error by region, side by side."""
    h1, h2 = st.columns(2, gap="large")
    with h1:
        fig = go.Figure()
        top = max(float(r.errors.max()) for r in result.runs) or 1.0
        bins = {"start": 0.0, "end": top * 1.0001, "size": top / 40}
        for r in result.runs:
            fig.add_trace(go.Histogram(x=r.errors, name=r.label, opacity=0.55, xbins=bins))
        fig.update_layout(barmode="overlay", xaxis_title="tile MSE", yaxis_title="tiles", height=400,
                          title={"text": "Distribution of tile errors", "font": {"size": 14}},
                          legend={"orientation": "h", "y": -0.25}, margin={"t": 40})
        st.plotly_chart(fig, key="mosaic_hist", width="stretch")
    with h2:
        fig = go.Figure()
        for r in result.runs:
            shown = [k for k in REGION_NAMES if not math.isnan(r.region_errors[k])]
            fig.add_trace(go.Bar(x=[REGION_NAMES[k] for k in shown], y=[r.region_errors[k] for k in shown],
                                 name=r.label))
        fig.update_layout(barmode="group", yaxis_title="mean MSE", height=400,
                          title={"text": "Mean error by region", "font": {"size": 14}},
                          legend={"orientation": "h", "y": -0.25}, margin={"t": 40})
        st.plotly_chart(fig, key="mosaic_regions", width="stretch")


def show_results(built: Built | None, target: np.ndarray, signature: tuple) -> None:
    """5 · The mosaic, its download, and how the placements compare."""
    st.subheader("5 · Results")
    if built is None:
        st.info("Press **Build mosaic** to place the photos.", icon=":material/grid_view:")
        return
    result = built.result
    if built.signature != signature:
        st.caption(":material/info: The settings changed since this mosaic was built; "
                   "press Build mosaic to update it.")
    for note in result.notes:
        st.warning(note)
    labels = [r.label for r in result.runs]
    default = next((r.label for r in result.runs if r.method == "exact" and r.weighted),
                   next((r.label for r in result.runs if r.method == "exact"), labels[0]))
    r1, r2 = st.columns([3, 2], gap="large")
    with r2:
        shown = st.selectbox("Show", labels, index=labels.index(default), key="mosaic_show")
        run = result.runs[labels.index(shown)]
        blend = st.slider("Blend the target over the mosaic", 0.0, 0.8, 0.0, 0.05, key="mosaic_blend",
                          help="0 = an honest mosaic. The seed calls heavy overlays of the target “cheating”.")
        colour = colour_panel(result, run, target)
        print_download(result, run, target, colour)
        comparison(result)
    with r1:
        big = 1 if result.cells is None else int(result.cells[:, 2].max())
        preview_px = max(1, min(result.tile_px, PREVIEW_SIDE // max(result.rows, result.cols)))
        image = preview(result, run, preview_px, target, blend, colour)
        zoomable_preview(image)
        bound = (f"; {100 * run.bound_gap:.2f} % above the lower bound (each tile's best photo), "
                 + ("proven optimal" if run.certified else "the best found in the time budget, not proven optimal")
                 if run.solver == "sparse" else "")
        st.caption(f"{run.label}: mean tile MSE {run.region_errors['all']:.4f}, placed in {run.seconds:.2f} s{bound}. "
                   f"Preview {image.shape[1]:,} × {image.shape[0]:,} px"
                   + (f" (units of {preview_px} px, tiles up to {big * preview_px} px)" if result.adaptive else "")
                   + ": drag to zoom, double-click to reset.")
    results_table(result)
    error_charts(result)
