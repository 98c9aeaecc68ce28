"""Filters page: build a pipeline of classic image filters and see it live.

The pipeline (core.filters.pipeline) lives in ``st.session_state`` and in the URL
(``?pipeline=...``), so a copied link reopens it. Each step gets a stable id
when it is added; its widgets are keyed by that id, so moving or deleting
steps never mixes their settings. Applying it to the whole archive is one
core job (:func:`core.filters.run_batch`) run in a worker process through ``ui.jobs.run_job``.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import pandas as pd
import streamlit as st

from core import filters as F
from core.filters import BATCH_LIMIT, FORMATS, MAX_STEPS, PREVIEW_MAX_SIDE, BatchRequest, Pipeline
from core.image.io import UPLOAD_TYPES, ImageError
from ui import filters_editor as editor
from ui.flash import show_flashes
from ui.images import inline
from ui.jobs import JobCall, cancelled, clear_cancelled, run_job
from ui.run_cache import reuse
from ui.state import current_archive
from ui.text import md

BATCH_CANCEL = "fl_batch_cancel"


@dataclass(frozen=True)
class Photo:
    """The photo the preview runs on: a path in the archive or uploaded bytes."""

    source: str | bytes
    key: str  # cache key of its preview
    name: str


def photo_section(archive) -> Photo | None:
    st.subheader("Photo")
    source_kind = st.segmented_control("Photo source", ["From the archive", "Upload a photo"],
                                       default="From the archive", required=True, key="fl_source",
                                       label_visibility="collapsed")
    catalogue = archive.catalogue
    if source_kind == "Upload a photo":
        upload = st.file_uploader("A photo (JPEG, PNG, WebP, TIFF, BMP or GIF)", type=UPLOAD_TYPES,
                                  key="fl_upload")
        if upload is None:
            return None
        data = upload.getvalue()
        return Photo(data, "upload:" + hashlib.sha256(data).hexdigest(), upload.name)
    if not len(catalogue):
        st.info("This archive has no photos: upload one instead, or pick another archive in the sidebar.")
        return None
    if st.session_state.get("fl_photo_archive") != archive.key:  # a new archive: start at its first photo
        st.session_state.pop("fl_photo", None)
        st.session_state["fl_photo_archive"] = archive.key
    row = st.selectbox(f"Photo from {md(archive.name)}", range(len(catalogue)), key="fl_photo",
                       format_func=lambda i: str(catalogue["file"].iloc[i]))
    path = str(catalogue["path"].iloc[row])
    return Photo(path, f"archive:{catalogue['sha256'].iloc[row]}:{path}", str(catalogue["file"].iloc[row]))


def steps_section() -> Pipeline:
    """The step cards and the "Add a step" row; returns the pipeline as the widgets now say."""
    st.subheader("Steps")
    pipe: Pipeline = st.session_state["fl_pipeline"]
    ids: list[int] = st.session_state["fl_ids"]
    pipe = Pipeline([editor.step_editor(i, len(pipe), step, sid) for i, (step, sid) in enumerate(zip(pipe, ids))])
    st.session_state["fl_pipeline"] = pipe
    if not len(pipe):
        st.info("No steps yet: add one below.")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.selectbox("Add a step", list(editor.SPECS), key="fl_add_choice",
                     format_func=lambda name: f"{editor.SPECS[name]['group']} › {editor.SPECS[name]['label']}")
        st.button("Add", icon=":material/add:", key="fl_add", on_click=editor.add_step,
                  disabled=len(pipe) >= MAX_STEPS, help=f"At most {MAX_STEPS} steps.")
    return pipe


def share_section(pipe: Pipeline, link_problem: str | None) -> None:
    with st.expander("Save, load or share this pipeline", icon=":material/share:"):
        if link_problem:
            st.warning(md(link_problem))
        else:
            st.caption("The address bar holds this pipeline (and the archive): copy the link to share it.")
            link = urlencode([(k, v) for k in st.query_params for v in st.query_params.get_all(k)])
            st.code(f"{st.context.url or ''}?{link}", language=None, wrap_lines=True)
        st.download_button("Download pipeline (JSON)", pipe.to_json(), file_name="feedlens-pipeline.json",
                           mime="application/json", icon=":material/download:", on_click="ignore",
                           key="fl_json_out")
        st.file_uploader("Load a pipeline (JSON)", type=["json"], key="fl_json", on_change=editor.load_json)


def result_section(photo: Photo | None, pipe: Pipeline) -> None:
    """Before | after at preview size, the full-resolution download, difference and histograms."""
    st.subheader("Result")
    if photo is None:
        st.info("Pick or upload a photo to see the pipeline at work.", icon=":material/image:")
        return
    try:
        small, scale, full_shape, notes = editor.preview_of(photo.key, photo.source)
    except ImageError as err:
        st.error(f"**{md(photo.name)}** cannot be opened: {md(err)}", icon=":material/broken_image:")
        return
    for note in notes:
        st.caption(f":material/info: {md(note)}")
    if scale < 1:
        st.caption(f":material/info: Preview at {PREVIEW_MAX_SIDE} px ({editor.shape_text(small.shape)} of "
                   f"{editor.shape_text(full_shape)}); sizes in pixels are scaled to match. "
                   "The download is full resolution.")
    else:
        st.caption(f":material/info: Preview at full size ({editor.shape_text(full_shape)}); "
                   "the download is the same size.")
    after = None
    try:
        after = editor.run_preview(photo.key, pipe.key, pipe, small, scale)
    except ValueError as err:
        st.error(f"The pipeline cannot run on this photo: {md(err)}", icon=":material/error:")
    left, right = st.columns(2)
    # Encoded images and the histograms are kept per (photo, pipeline) for every session (ui.run_cache).
    before_uri = reuse("filters_inline", (photo.key, "before"), lambda: inline(small))
    left.image(before_uri, caption=f"Before · {editor.shape_text(small.shape)}", width="stretch")
    if after is None:
        return
    after_uri = reuse("filters_inline", (photo.key, pipe.key), lambda: inline(after))
    right.image(after_uri, caption=f"After · {editor.shape_text(after.shape)}", width="stretch")
    stem = Path(photo.name or "photo").stem or "photo"
    st.download_button(
        "Download the result (PNG, full resolution)",
        lambda pipe=pipe, source=photo.source: editor.full_png(pipe, source),
        file_name=f"{stem}-feedlens.png", mime="image/png", type="primary",
        icon=":material/download:", on_click="ignore", key="fl_png",
        help=f"Runs the pipeline on the full {editor.shape_text(full_shape)} photo.",
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
    histograms = reuse("filters_histograms", (photo.key, pipe.key), lambda: editor.histogram_figure(small, after))
    st.plotly_chart(histograms, key="fl_hist", config={"displayModeBar": False})
    st.caption("One curve per channel (R, G, B counted separately); a gray result has one curve. "
               "Blurs, kernels, masks and noise treat R, G and B separately; equalisation, CLAHE "
               "and edges work on the luminance by default, which keeps the colours.")


def apply_to_archive(archive, pipe: Pipeline, fmt: str, n_batch: int) -> None:
    """Run the pipeline on the archive's first ``n_batch`` photos; keep the outcome for the next runs."""
    target = F.scratch_zip_path(st.session_state.setdefault("fl_token", uuid.uuid4().hex))
    st.session_state.pop("fl_batch", None)  # a new run replaces (or, cancelled, drops) the last ZIP
    target.unlink(missing_ok=True)
    request = BatchRequest.from_catalogue(pipe, archive.catalogue, target, fmt=fmt, limit=n_batch)
    outcome = run_job(f"Applying {len(pipe)} step(s) to {n_batch} photos…",
                      JobCall(F.run_batch, (request,), cancel=True), key=BATCH_CANCEL,
                      done=lambda result: f"Done: {len(result.written)} of {result.total} photos",
                      failed="The batch did not finish")
    if outcome.error:
        st.session_state["fl_batch"] = {"error": md(outcome.error), "archive": archive.key}
    elif outcome.ok:
        result = outcome.value
        st.session_state["fl_batch"] = {"path": result.path, "written": len(result.written),
                                        "failures": result.failures, "pipeline": pipe.key, "archive": archive.key}


def show_batch(archive, pipe: Pipeline) -> None:
    """The last batch's outcome: a message, the ZIP's download and the photos that could not be used."""
    batch = st.session_state.get("fl_batch")
    if not batch or batch["archive"] != archive.key:
        return
    if "error" in batch:
        st.error(batch["error"])
        return
    message = f"{batch['written']} photo{'' if batch['written'] == 1 else 's'} processed"
    if batch["failures"]:
        message += f"; {len(batch['failures'])} could not be used (listed below)"
    (st.success if batch["written"] else st.warning)(message + ".")
    if batch["pipeline"] != pipe.key:
        st.caption("Made with an earlier version of the pipeline: run again to update it.")
    zip_path = batch["path"]
    if batch["written"] and zip_path is not None and zip_path.exists():
        st.download_button(f"Download the ZIP ({zip_path.stat().st_size / 1024**2:.1f} MB)",
                           lambda path=zip_path: path.read_bytes(), file_name=F.batch_zip_name(archive.name),
                           mime="application/zip", icon=":material/folder_zip:", on_click="ignore",
                           key="fl_batch_zip")
    if batch["failures"]:
        st.dataframe(pd.DataFrame(batch["failures"], columns=["file", "problem"]), hide_index=True,
                     key="fl_batch_failures")


def batch_section(archive, pipe: Pipeline) -> None:
    st.divider()
    st.subheader("Apply to the whole archive")
    n_photos = len(archive.catalogue)
    n_batch = min(n_photos, BATCH_LIMIT)
    scope = "all" if n_batch == n_photos else f"the first {n_batch} of the"
    st.caption(f"Runs this pipeline at full resolution on {scope} {n_photos} photos of "
               f"{md(archive.name)} (at most {BATCH_LIMIT} per run) and packs the results in a ZIP with the "
               "pipeline as JSON. Photos that cannot be read are listed, not fatal. Changing anything on the "
               "page stops the run.")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        fmt = st.segmented_control("Format", list(FORMATS), default="png", required=True, key="fl_batch_fmt",
                                   format_func=lambda f: {"png": "PNG (lossless)", "jpeg": "JPEG (smaller)"}[f])
        run = st.button(f"Apply to {n_batch} photos", key="fl_batch_run", icon=":material/play_arrow:",
                        disabled=n_batch == 0)
    if cancelled(BATCH_CANCEL):  # said once: the next run of the page forgets it
        st.info("Batch cancelled: no ZIP was made.", icon=":material/cancel:")
        clear_cancelled(BATCH_CANCEL)
    if run:
        apply_to_archive(archive, pipe, fmt, n_batch)
    show_batch(archive, pipe)


def main() -> None:
    editor.init_state()
    archive = current_archive()
    st.title("Filters")
    st.caption("Classic image processing on your photos: build a pipeline of steps, tune them with live "
               "previews, download the result or apply it to the whole archive.")
    show_flashes(editor.FLASH)
    edit_col, view_col = st.columns([2, 3], gap="large")
    with edit_col:
        photo = photo_section(archive)
        pipe = steps_section()
        link_problem = editor.sync_link(pipe)  # the link always holds the pipeline
        share_section(pipe, link_problem)
    with view_col:
        result_section(photo, pipe)
    batch_section(archive, pipe)


main()
