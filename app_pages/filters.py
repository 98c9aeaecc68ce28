"""Filters page: build a pipeline of classic image filters and see it live.

The pipeline (core.filters.pipeline) lives in ``st.session_state`` and in the URL
(``?pipeline=...``), so a copied link reopens it. Each step gets a stable id
when it is added; its widgets are keyed by that id, so moving or deleting
steps never mixes their settings.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core import filters as F
from core.filters.batch import BATCH_LIMIT, FORMATS, BatchRequest, run_batch, scratch_zip_path
from core.filters.pipeline import MAX_STEPS, PREVIEW_MAX_SIDE, QUERY_PARAM, Pipeline
from core.image.io import UPLOAD_TYPES, ImageError
from ui.filters_editor import (
    SPECS,
    add_step,
    full_png,
    histogram_figure,
    init_state,
    load_json,
    preview_of,
    run_preview,
    shape_text,
    slug,
    step_editor,
    text,
)
from ui.images import inline
from ui.state import current_archive

init_state()
archive = current_archive()
catalogue = archive.catalogue

st.title("Filters")
st.caption("Classic image processing on your photos: build a pipeline of steps, tune them with live "
           "previews, download the result or apply it to the whole archive.")
for kind, message in st.session_state.pop("fl_notices", []):
    getattr(st, kind)(message)

edit_col, view_col = st.columns([2, 3], gap="large")

# Photo ------------------------------------------------------------------------------
with edit_col:
    st.subheader("Photo")
    source_kind = st.segmented_control("Photo source", ["From the archive", "Upload a photo"],
                                       default="From the archive", required=True, key="fl_source",
                                       label_visibility="collapsed")
    source = photo_key = photo_name = None
    if source_kind == "Upload a photo":
        upload = st.file_uploader("A photo (JPEG, PNG, WebP, TIFF, BMP or GIF)", type=UPLOAD_TYPES,
                                  key="fl_upload")
        if upload is not None:
            source = upload.getvalue()
            photo_key, photo_name = "upload:" + hashlib.sha256(source).hexdigest(), upload.name
    elif len(catalogue):
        if st.session_state.get("fl_photo_archive") != archive.key:  # a new archive: start at its first photo
            st.session_state.pop("fl_photo", None)
            st.session_state["fl_photo_archive"] = archive.key
        row = st.selectbox(f"Photo from {text(archive.name)}", range(len(catalogue)), key="fl_photo",
                           format_func=lambda i: str(catalogue["file"].iloc[i]))
        source, photo_name = str(catalogue["path"].iloc[row]), str(catalogue["file"].iloc[row])
        photo_key = f"archive:{catalogue['sha256'].iloc[row]}:{source}"
    else:
        st.info("This archive has no photos: upload one instead, or pick another archive in the sidebar.")

# Steps ------------------------------------------------------------------------------
with edit_col:
    st.subheader("Steps")
    pipe: Pipeline = st.session_state["fl_pipeline"]
    ids: list[int] = st.session_state["fl_ids"]
    steps = [step_editor(i, len(pipe), step, sid) for i, (step, sid) in enumerate(zip(pipe, ids))]
    pipe = Pipeline(steps)
    st.session_state["fl_pipeline"] = pipe
    if not len(pipe):
        st.info("No steps yet: add one below.")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Add a step", list(SPECS), key="fl_add_choice",
                     format_func=lambda name: f"{SPECS[name]['group']} › {SPECS[name]['label']}")
        st.button("Add", icon=":material/add:", key="fl_add", on_click=add_step,
                  disabled=len(pipe) >= MAX_STEPS, help=f"At most {MAX_STEPS} steps.")

# The link always holds the pipeline.
try:
    query = pipe.to_query()
    link_problem = None
except ValueError as err:
    query, link_problem = None, str(err)
if query is None:
    if QUERY_PARAM in st.query_params:
        del st.query_params[QUERY_PARAM]
elif st.query_params.get(QUERY_PARAM) != query:
    st.query_params[QUERY_PARAM] = query

with edit_col:
    with st.expander("Save, load or share this pipeline", icon=":material/share:"):
        if link_problem:
            st.warning(f"{text(link_problem)}")
        else:
            st.caption("The address bar holds this pipeline (and the archive): copy the link to share it.")
            link = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
            st.code(f"{st.context.url or ''}?{link}", language=None, wrap_lines=True)
        st.download_button("Download pipeline (JSON)", pipe.to_json(), file_name="feedlens-pipeline.json",
                           mime="application/json", icon=":material/download:", on_click="ignore",
                           key="fl_json_out")
        st.file_uploader("Load a pipeline (JSON)", type=["json"], key="fl_json", on_change=load_json)

# Before | after ---------------------------------------------------------------------
with view_col:
    st.subheader("Result")
    small = None
    if source is not None:
        try:
            small, scale, full_shape, notes = preview_of(photo_key, source)
        except ImageError as err:
            st.error(f"**{text(photo_name)}** cannot be opened: {text(err)}", icon=":material/broken_image:")
        else:
            for note in notes:
                st.caption(f":material/info: {text(note)}")
    if small is None and source is None:
        st.info("Pick or upload a photo to see the pipeline at work.", icon=":material/image:")
    elif small is not None:
        if scale < 1:
            st.caption(f":material/info: Preview at {PREVIEW_MAX_SIDE} px ({shape_text(small.shape)} of "
                       f"{shape_text(full_shape)}); sizes in pixels are scaled to match. "
                       "The download is full resolution.")
        else:
            st.caption(f":material/info: Preview at full size ({shape_text(full_shape)}); "
                       "the download is the same size.")
        after = None
        try:
            after = run_preview(photo_key, pipe.key, pipe, small, scale)
        except ValueError as err:
            st.error(f"The pipeline cannot run on this photo: {text(err)}", icon=":material/error:")
        left, right = st.columns(2)
        left.image(inline(small), caption=f"Before · {shape_text(small.shape)}", width="stretch")
        if after is not None:
            right.image(inline(after), caption=f"After · {shape_text(after.shape)}", width="stretch")
            stem = Path(photo_name or "photo").stem or "photo"
            st.download_button(
                "Download the result (PNG, full resolution)",
                lambda pipe=pipe, source=source: full_png(pipe, source),
                file_name=f"{stem}-feedlens.png", mime="image/png", type="primary",
                icon=":material/download:", on_click="ignore", key="fl_png",
                help=f"Runs the pipeline on the full {shape_text(full_shape)} photo.",
            )
            if st.toggle("Show the difference |after − before|", key="fl_diff"):
                if after.shape[:2] != small.shape[:2]:
                    st.info("A geometry step (crop, rotate) changed the size, so the images cannot be "
                            "compared pixel by pixel.")
                else:
                    gain = st.slider("Amplify", 1.0, 10.0, 4.0, 0.5, key="fl_diff_gain",
                                     help="Small differences become visible when multiplied.")
                    diff = F.to_uint8(F.absolute_difference(small, after, gain=gain))
                    st.image(inline(diff), caption=f"|after − before| × {gain:g}", width="stretch")
            st.markdown("**Intensity histograms**")
            st.plotly_chart(histogram_figure(small, after), key="fl_hist", config={"displayModeBar": False})
            st.caption("One curve per channel (R, G, B counted separately); a gray result has one curve. "
                       "Blurs, kernels, masks and noise treat R, G and B separately; equalisation, CLAHE "
                       "and edges work on the luminance by default, which keeps the colours.")

# Whole archive ---------------------------------------------------------------------
st.divider()
st.subheader("Apply to the whole archive")
n_batch = min(len(catalogue), BATCH_LIMIT)
scope = "all" if n_batch == len(catalogue) else f"the first {n_batch} of the"
st.caption(f"Runs this pipeline at full resolution on {scope} {len(catalogue)} photos of "
           f"{text(archive.name)} (at most {BATCH_LIMIT} per run) and packs the results in a ZIP with the "
           "pipeline as JSON. Photos that cannot be read are listed, not fatal. Changing anything on the page "
           "stops the run.")
with st.container(horizontal=True, vertical_alignment="bottom"):
    fmt = st.segmented_control("Format", list(FORMATS), default="png", required=True, key="fl_batch_fmt",
                               format_func=lambda f: {"png": "PNG (lossless)", "jpeg": "JPEG (smaller)"}[f])
    run = st.button(f"Apply to {n_batch} photos", key="fl_batch_run", icon=":material/play_arrow:",
                    disabled=n_batch == 0)
if st.session_state.get("fl_batch_cancel"):
    st.info("Batch cancelled: no ZIP was made.", icon=":material/cancel:")
if run:
    target = scratch_zip_path(st.session_state.setdefault("fl_token", uuid.uuid4().hex))
    st.session_state.pop("fl_batch", None)  # a new run replaces (or, cancelled, drops) the last ZIP
    target.unlink(missing_ok=True)
    rows = catalogue.iloc[:n_batch]
    with st.status(f"Applying {len(pipe)} step(s) to {n_batch} photos…", expanded=True) as status:
        bar = st.progress(0.0, text=f"0 of {n_batch} photos")
        st.button("Cancel", key="fl_batch_cancel", icon=":material/cancel:")
        try:
            result = run_batch(
                BatchRequest(pipe, rows["path"].tolist(), target, fmt=fmt, labels=rows["file"].astype(str).tolist()),
                progress=lambda done, total, message: bar.progress(done / max(total, 1), text=message),
            )
        except OSError as err:
            status.update(label="The ZIP could not be written", state="error")
            st.session_state["fl_batch"] = {"error": f"The ZIP could not be written: {text(err)}"}
        else:
            ok = len(result.written)
            status.update(label=f"Done: {ok} of {result.total} photos", expanded=False,
                          state="complete" if ok else "error")
            st.session_state["fl_batch"] = {"path": result.path, "written": ok, "failures": result.failures,
                                            "fmt": fmt, "pipeline": pipe.key, "archive": archive.key}
batch = st.session_state.get("fl_batch")
if batch and batch.get("archive", archive.key) == archive.key:
    if "error" in batch:
        st.error(batch["error"])
    else:
        message = f"{batch['written']} photo{'' if batch['written'] == 1 else 's'} processed"
        if batch["failures"]:
            message += f"; {len(batch['failures'])} could not be used (listed below)"
        (st.success if batch["written"] else st.warning)(message + ".")
        if batch["pipeline"] != pipe.key:
            st.caption("Made with an earlier version of the pipeline: run again to update it.")
        zip_path = batch["path"]
        if batch["written"] and zip_path is not None and zip_path.exists():
            st.download_button(f"Download the ZIP ({zip_path.stat().st_size / 1024**2:.1f} MB)",
                               lambda path=zip_path: path.read_bytes(),
                               file_name=f"feedlens-{slug(archive.name)}-filtered.zip", mime="application/zip",
                               icon=":material/folder_zip:", on_click="ignore", key="fl_batch_zip")
        if batch["failures"]:
            st.dataframe(pd.DataFrame(batch["failures"], columns=["file", "problem"]), hide_index=True,
                         key="fl_batch_failures")
