"""Widgets and session state of the Filters page's pipeline editor.

Streamlit glue only: the filters, the pipeline and its encodings live in
:mod:`core.filters`. User text (file names, messages quoting them) goes
through :func:`ui.text.md`; messages that must survive a rerun through
:func:`ui.flash.flash` (shown by the page with ``show_flashes(FLASH)``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from plotly.subplots import make_subplots

from core import filters as F
from core.filters import PREVIEW_MAX_SIDE, QUERY_PARAM, Pipeline, Step, describe_steps
from core.image.io import decode_image
from ui.flash import flash
from ui.text import md

__all__ = [
    "FLASH", "SPECS", "DEFAULT", "init_state", "add_step", "load_json", "step_editor", "sync_link", "preview_of",
    "run_preview", "full_png", "histogram_figure", "shape_text",
]

#: Where the page shows this editor's flashed messages.
FLASH = "filters"
SPECS = {s["name"]: s for s in describe_steps()}
DEFAULT = Pipeline([Step("gaussian_blur", {"sigma": 3.0})])
GROUP_ICONS = {
    "Blur and denoise": ":material/blur_on:",
    "Edges": ":material/border_style:",
    "Custom kernel": ":material/grid_on:",
    "Geometry": ":material/crop_rotate:",
    "Masks": ":material/vignette:",
    "Contrast": ":material/contrast:",
    "Colour and looks": ":material/palette:",
    "Noise": ":material/grain:",
}
CHANNEL_COLOURS = {"red": "#e0434b", "green": "#2ca25f", "blue": "#3b6fd8", "gray": "#666666"}


# -- pipeline state ----------------------------------------------------------------


def set_pipeline(pipe: Pipeline) -> None:
    """Replace the whole pipeline; every step gets a fresh id (fresh widgets)."""
    start = st.session_state.get("fl_next_id", 0)
    st.session_state["fl_pipeline"] = pipe
    st.session_state["fl_ids"] = list(range(start, start + len(pipe)))
    st.session_state["fl_next_id"] = start + len(pipe)


def init_state() -> None:
    if "fl_pipeline" in st.session_state:
        return
    pipe = DEFAULT
    raw = st.query_params.get(QUERY_PARAM)
    if raw:
        try:
            pipe = Pipeline.from_query(raw)
        except ValueError as err:
            flash(FLASH, f"The pipeline in this link could not be opened ({md(err)}). "
                         "Showing the default pipeline instead.", "warning")
    set_pipeline(pipe)


def add_step() -> None:
    pipe, ids = st.session_state["fl_pipeline"], st.session_state["fl_ids"]
    st.session_state["fl_pipeline"] = pipe.append(st.session_state["fl_add_choice"])
    ids.append(st.session_state["fl_next_id"])
    st.session_state["fl_next_id"] += 1


def move_step(sid: int, delta: int) -> None:
    ids = st.session_state["fl_ids"]
    i = ids.index(sid)
    j = max(0, min(len(ids) - 1, i + delta))
    st.session_state["fl_pipeline"] = st.session_state["fl_pipeline"].move(i, j)
    ids.insert(j, ids.pop(i))


def delete_step(sid: int) -> None:
    ids = st.session_state["fl_ids"]
    i = ids.index(sid)
    st.session_state["fl_pipeline"] = st.session_state["fl_pipeline"].remove(i)
    ids.pop(i)
    st.session_state.pop(f"fl_{sid}_rev", None)


def load_preset(sid: int, param: str) -> None:
    """A preset picked for a kernel or curve: put it in the step, redraw its grid."""
    key = f"fl_{sid}_{param}_preset"
    name = st.session_state.get(key)
    if name is None:
        return
    i = st.session_state["fl_ids"].index(sid)
    pipe = st.session_state["fl_pipeline"]
    presets = next(p["presets"] for p in SPECS[pipe[i].name]["params"] if p["name"] == param)
    try:
        st.session_state["fl_pipeline"] = pipe.set_params(i, **{param: presets[name]})
    except ValueError as err:
        flash(FLASH, md(err), "error")
    st.session_state[f"fl_{sid}_rev"] = st.session_state.get(f"fl_{sid}_rev", 0) + 1
    st.session_state[key] = None


def change_kernel_size(sid: int) -> None:
    """3x3 <-> 5x5 picked for a custom kernel: resize it in the step, redraw its grid."""
    i = st.session_state["fl_ids"].index(sid)
    pipe = st.session_state["fl_pipeline"]
    size = 5 if st.session_state[f"fl_{sid}_ksize"] == "5×5" else 3
    kernel = F.resize_kernel(pipe[i].params["kernel"], size)
    try:
        st.session_state["fl_pipeline"] = pipe.set_params(i, kernel=kernel.tolist())
    except ValueError as err:
        flash(FLASH, md(err), "error")
    st.session_state[f"fl_{sid}_rev"] = st.session_state.get(f"fl_{sid}_rev", 0) + 1


def load_json() -> None:
    upload = st.session_state.get("fl_json")
    if upload is None:
        return
    try:
        pipe = Pipeline.from_json(upload.getvalue())
    except ValueError as err:
        flash(FLASH, f"**{md(upload.name)}** is not a pipeline file Feedlens can use: {md(err)}", "error")
        return
    set_pipeline(pipe)
    flash(FLASH, f"Loaded {len(pipe)} step(s) from **{md(upload.name)}**.")


# -- widgets -------------------------------------------------------------------------


def _decimals(step: float) -> int:
    return max(0, -int(np.floor(np.log10(step)))) if step < 1 else 0


def param_widget(sid: int, p: dict, value):
    """One widget for one registry parameter; returns the widget's value."""
    key = f"fl_{sid}_{p['name']}"
    help_ = p["help"] + (" In full-resolution pixels (scaled down for the preview)." if p["spatial"] else "")
    kind = p["type"]
    if kind == "bool":
        return st.checkbox(p["label"], value=bool(value), key=key, help=help_)
    if kind == "choice":
        choices, labels = p["choices"], p["choice_labels"]
        j = st.selectbox(p["label"], range(len(choices)), index=choices.index(value),
                         format_func=labels.__getitem__, key=key, help=help_)
        return choices[j]
    if kind in ("int", "float"):
        cast = int if kind == "int" else float
        lo, hi, step = cast(p["min"]), cast(p["max"]), cast(p["step"] or 1)
        if p["widget"] == "number_input":
            return st.number_input(p["label"], lo, hi, cast(value), step, key=key, help=help_)
        fmt = None if kind == "int" else f"%.{_decimals(step)}f"
        return st.slider(p["label"], lo, hi, cast(value), step, format=fmt, key=key, help=help_)
    if kind == "kernel":
        return kernel_editor(sid, p, value, help_)
    return curve_editor(sid, p, value, help_)


def preset_picker(sid: int, p: dict) -> None:
    st.selectbox("Start from a preset", list(p["presets"]), index=None, placeholder="Load a preset…",
                 key=f"fl_{sid}_{p['name']}_preset", on_change=load_preset, args=(sid, p["name"]))


def kernel_editor(sid: int, p: dict, value, help_: str):
    kernel = np.array(value, dtype=float)
    n = kernel.shape[0]
    left, right = st.columns([3, 2], vertical_alignment="bottom")
    with left:
        preset_picker(sid, p)
    with right:
        st.segmented_control("Size", ["3×3", "5×5"], default=f"{n}×{n}", required=True,
                             key=f"fl_{sid}_ksize", on_change=change_kernel_size, args=(sid,))
    offsets = [f"{o:+d}" if o else "0" for o in range(-(n // 2), n // 2 + 1)]
    grid = pd.DataFrame(kernel, columns=offsets)
    limit = F.KERNEL_MAX_ABS
    edited = st.data_editor(
        grid, hide_index=True, key=f"fl_{sid}_{p['name']}_{st.session_state.get(f'fl_{sid}_rev', 0)}",
        column_config={c: st.column_config.NumberColumn(c, min_value=-limit, max_value=limit, step=0.001,
                                                        format="%.3f", required=True) for c in offsets},
    )
    st.caption(f"{help_} Sum: {np.nansum(edited.to_numpy(dtype=float)):.3g}.")
    return edited.to_numpy(dtype=float).tolist()


def curve_editor(sid: int, p: dict, value, help_: str):
    preset_picker(sid, p)
    grid = pd.DataFrame(value, columns=["input", "output"])
    cfg = st.column_config.NumberColumn
    edited = st.data_editor(
        grid, hide_index=True, num_rows="dynamic",
        key=f"fl_{sid}_{p['name']}_{st.session_state.get(f'fl_{sid}_rev', 0)}",
        column_config={c: cfg(c, min_value=0.0, max_value=1.0, step=0.01, format="%.2f") for c in grid.columns},
    )
    st.caption(help_ + " Empty rows are ignored.")
    return edited.dropna().sort_values("input").to_numpy(dtype=float).tolist()


def step_editor(i: int, n: int, step: Step, sid: int) -> Step:
    """The card of one step; returns the step as its widgets now say."""
    spec = SPECS[step.name]
    on = st.session_state.get(f"fl_{sid}_on", step.enabled)  # the toggle below, as just set
    label = f"{i + 1}. {spec['label']}" + ("" if on else " (off)")
    icon = GROUP_ICONS.get(spec["group"])
    with st.expander(label, expanded=True, icon=icon, type="step", key=f"fl_{sid}_box"):
        with st.container(horizontal=True, vertical_alignment="center", gap="small"):
            enabled = st.toggle("On", value=step.enabled, key=f"fl_{sid}_on",
                                help="Switch this step off to compare")
            st.space("stretch")
            st.button(":material/arrow_upward:", key=f"fl_{sid}_up", help="Move up", type="tertiary",
                      disabled=i == 0, on_click=move_step, args=(sid, -1))
            st.button(":material/arrow_downward:", key=f"fl_{sid}_down", help="Move down", type="tertiary",
                      disabled=i == n - 1, on_click=move_step, args=(sid, 1))
            st.button(":material/delete:", key=f"fl_{sid}_delete", help="Delete this step", type="tertiary",
                      on_click=delete_step, args=(sid,))
        st.caption(spec["help"])
        st.caption(f":material/palette: **Colour:** {spec['colour']}")
        params = {p["name"]: param_widget(sid, p, step.params[p["name"]]) for p in spec["params"]}
        try:
            return Step(step.name, params, enabled)
        except ValueError as err:
            st.error(f"Not applied: {md(err)}", icon=":material/error:")
            return step.with_enabled(enabled)


def sync_link(pipe: Pipeline) -> str | None:
    """Keep the pipeline in the URL (``?pipeline=...``); return why it cannot be, if so."""
    try:
        query = pipe.to_query()
    except ValueError as err:  # too long for a link: the JSON download still works
        if QUERY_PARAM in st.query_params:
            del st.query_params[QUERY_PARAM]
        return str(err)
    if st.query_params.get(QUERY_PARAM) != query:
        st.query_params[QUERY_PARAM] = query
    return None


# -- images --------------------------------------------------------------------------


@st.cache_data(max_entries=8, show_spinner="Decoding the photo…")
def preview_of(key: str, _source: str | bytes) -> tuple[np.ndarray, float, tuple[int, int], list[str]]:
    """Decode a photo to a preview copy (longest side <= PREVIEW_MAX_SIDE); cached per photo."""
    decoded = decode_image(_source, max_side=PREVIEW_MAX_SIDE)
    small = np.asarray(decoded.pixels)
    scale = max(small.shape[:2]) / max(decoded.width, decoded.height)
    return small, scale, (decoded.height, decoded.width), decoded.notes


@st.cache_data(max_entries=32, show_spinner=False)
def run_preview(photo_key: str, pipeline_key: str, _pipe: Pipeline, _small: np.ndarray,
                scale: float) -> np.ndarray:
    """The pipeline on the preview copy; cached per (photo, pipeline)."""
    return F.to_uint8(_pipe.apply(_small, spatial_scale=scale))


def full_png(pipe: Pipeline, source: str | bytes) -> bytes:
    """The result at full resolution, as PNG (runs when the download is clicked)."""
    return F.render_file(pipe, source, "png")


def histogram_figure(before: np.ndarray, after: np.ndarray) -> go.Figure:
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04)
    for col, image in ((1, before), (2, after)):
        for name, counts in F.channel_histograms(image, bins=128).items():
            share = counts / max(1, counts.sum()) * 100
            fig.add_trace(go.Scatter(x=np.linspace(0, 255, len(counts)), y=share, name=name,
                                     legendgroup=name, showlegend=col == 1, mode="lines",
                                     line={"color": CHANNEL_COLOURS[name], "width": 1.5},
                                     hovertemplate=f"{name}: %{{y:.2f}}% at %{{x:.0f}}<extra></extra>"),
                          row=1, col=col)
    fig.update_xaxes(range=[0, 255])
    fig.update_xaxes(title_text="Before: intensity (0-255)", row=1, col=1)
    fig.update_xaxes(title_text="After: intensity (0-255)", row=1, col=2)
    fig.update_yaxes(title_text="% of pixels", row=1, col=1)
    fig.update_layout(height=250, margin={"l": 10, "r": 10, "t": 10, "b": 10},
                      legend={"orientation": "h", "y": 1.0, "x": 1, "xanchor": "right", "yanchor": "bottom"})
    return fig


def shape_text(shape) -> str:
    return f"{shape[1]}×{shape[0]}"
