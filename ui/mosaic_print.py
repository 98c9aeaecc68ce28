"""The Mosaic page's print section: a zoomable preview, colour transfer with its cheating limit, the print file.

Drawing only: the numbers come from :func:`core.mosaic.colour.colour_curve`
and the file from :func:`core.mosaic.build.print_mosaic` (one row of tiles at
a time).
"""

from __future__ import annotations

import math
import os
import tempfile

import numpy as np
import plotly.graph_objects as go
import streamlit as st

from core.mosaic.adaptive import cell_tiles
from core.mosaic.build import MosaicResult, MosaicRun, print_mosaic
from core.mosaic.colour import ColourCurve, colour_curve
from core.mosaic.grid import target_tiles
from core.mosaic.printing import physical_size
from ui.images import inline
from ui.mosaic_runs import STORE, photo_tiles

__all__ = ["FORMATS", "colour_curve_of", "colour_panel", "zoomable_preview", "print_download"]

#: Print formats offered: label -> (suffix, MIME type).
FORMATS = {"PNG": (".png", "image/png"), "TIFF": (".tif", "image/tiff"), "JPEG": (".jpg", "image/jpeg")}


def colour_curve_of(result: MosaicResult, run: MosaicRun, target: np.ndarray) -> ColourCurve:
    """MSE by colour-transfer amount for this placement and a random one (kept in the shared store)."""
    key = ("colour", id(result), run.label)
    hit = STORE.get(key)
    if hit is not None:
        return hit
    goal = (cell_tiles(target, result.cells, result.rows, result.cols, result.score_px) if result.adaptive
            else target_tiles(target, result.rows, result.cols, result.score_px))
    photos = photo_tiles(result.shas, result.paths, result.score_px).tiles
    curve = colour_curve(goal, photos, run.photo_of_tile)
    STORE.put(key, curve)
    return curve


def colour_panel(result: MosaicResult, run: MosaicRun, target: np.ndarray) -> float:
    """The colour-transfer slider, its MSE with and without, and where the target starts to show through."""
    amount = st.slider("Colour transfer (%)", 0, 100, 0, 5, key="mosaic_colour",
                       help="Moves each photo's colours (Lab mean and spread) towards its tile of the target. "
                            "0 = off: an honest mosaic.") / 100
    with st.spinner("Measuring colour transfer…"):
        curve = colour_curve_of(result, run, target)
    limit = curve.cheat_amount
    limit_text = (f"**{100 * limit:.0f} %**" if not math.isnan(limit) else "no amount up to 100 %")
    st.markdown(f"MSE {curve.mse[0]:.4f} without, **{curve.mse_at(amount):.4f}** at {100 * amount:.0f} %. "
                f"The target shows through from {limit_text}: there a *random* placement, colour-shifted, is as "
                "close to the target as this placement unshifted.")
    if not math.isnan(limit) and amount >= limit:
        st.warning("At this amount the colour shift, not the choice of photos, draws the picture (the seed's "
                   "“cheating”).", icon=":material/warning:")
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=100 * curve.amounts, y=curve.mse, name="this placement", mode="lines+markers"))
    fig.add_trace(go.Scatter(x=100 * curve.amounts, y=curve.random_mse, name="random placement",
                             mode="lines+markers"))
    fig.add_hline(y=float(curve.mse[0]), line_dash="dot", annotation_text="this placement, no transfer")
    if not math.isnan(limit):
        fig.add_vline(x=100 * limit, line_dash="dash", annotation_text="target shows through")
    fig.update_layout(xaxis_title="colour transfer (%)", yaxis_title="MSE against the target", height=300,
                      margin={"t": 30}, legend={"orientation": "h", "y": -0.3})
    st.plotly_chart(fig, key="mosaic_colour_chart", width="stretch")
    st.caption(f"Measured at the scoring size on {curve.tiles_used:,} tiles.")
    return amount


def zoomable_preview(image: np.ndarray) -> None:
    """The preview in a Plotly figure: drag to zoom, double-click to reset."""
    fig = go.Figure(go.Image(source=inline(image)))
    h, w = image.shape[:2]
    fig.update_layout(height=min(720, max(320, round(720 * h / max(w, 1)))), margin={"l": 0, "r": 0, "t": 0, "b": 0},
                      dragmode="zoom")
    fig.update_xaxes(visible=False)
    fig.update_yaxes(visible=False, scaleanchor="x")
    st.plotly_chart(fig, key="mosaic_zoom", width="stretch", config={"scrollZoom": True, "displaylogo": False})


def _print_file(result: MosaicResult, run: MosaicRun, target: np.ndarray, colour: float, suffix: str) -> bytes:
    """The print file's bytes, written strip by strip to a temporary file."""
    fd, path = tempfile.mkstemp(suffix=suffix)
    os.close(fd)
    try:
        print_mosaic(result, run, path, target=target, colour_amount=colour, load_tiles=photo_tiles)
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        os.unlink(path)


def print_download(result: MosaicResult, run: MosaicRun, target: np.ndarray, colour: float) -> None:
    """The format, the physical size and the download of the print file."""
    fmt = st.segmented_control("Print file", list(FORMATS), default="PNG", required=True, key="mosaic_format")
    suffix, mime = FORMATS[fmt]
    width, height = result.cols * result.tile_px, result.rows * result.tile_px
    grid = (f"{result.n_tiles:,} adaptive tiles" if result.adaptive
            else f"{result.rows} × {result.cols} tiles of {result.tile_px} px")
    st.download_button(
        f"Download {fmt} (print resolution)", data=lambda: _print_file(result, run, target, colour, suffix),
        file_name=f"feedlens_mosaic_{result.rows}x{result.cols}_{run.method}{'_weighted' if run.weighted else ''}"
                  f"{suffix}",
        mime=mime, key="mosaic_download", on_click="ignore", icon=":material/download:", type="primary",
    )
    size = physical_size(width, height, result.dpi)
    st.caption(f"Download: {width} × {height} px {fmt}"
               + (f", {size[0]:.1f} × {size[1]:.1f} cm at {result.dpi} dpi" if size else " (no dpi chosen)")
               + f"; {grid}. Drawn one row of tiles at a time when you click.")
