"""Streamlit glue behind the Mosaic page: caches, the build job, the pictures.

The mosaic itself is built in core (:func:`core.mosaic.build.build_mosaic`);
this module only keeps what is costly to redo. Targets and their face and
person masks are in ``st.cache_data``; photo tiles and finished builds are in
the shared in-memory store (:func:`ui.memory.shared_store`), so a second
visit, or the same build again, is instant. The build runs in a worker process
through :func:`ui.jobs.run_job` (:func:`core.worker_jobs.mosaic`; Cancel button
key ``mosaic_cancel``).
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import streamlit as st

from core import worker_jobs
from core.cache import DiskCache
from core.jobs import CancelCheck, JobError, Progress
from core.mosaic.build import (
    DETECTION_FAILED,
    MODEL_UNAVAILABLE,
    NOTHING_FOUND,
    MosaicRequest,
    MosaicResult,
    MosaicRun,
    RegionSearch,
    find_regions,
    render_mosaic,
)
from core.mosaic.pool import PhotoTiles, load_photo_tiles
from core.mosaic.regions import Regions, region_masks
from ui.jobs import JobCall, cancelled, clear_cancelled, run_job
from ui.memory import shared_store
from ui.run_cache import reuse

__all__ = [
    "PREVIEW_SIDE",
    "REGION_NAMES",
    "CANCEL_KEY",
    "target_regions",
    "show_regions",
    "photo_tiles",
    "Built",
    "build",
    "current_build",
    "build_was_cancelled",
    "preview",
]

PREVIEW_SIDE = 1600
CANCEL_KEY = "mosaic_cancel"
_RESULT = "mosaic_build_result"

REGION_NAMES = {"all": "All tiles", "face": "Face", "person": "Person (not face)", "background": "Background"}

REGIONS_RETRY_S = 300
# Captured here: the deferred download runs outside the script thread.
STORE = shared_store("mosaic", 512)


# -- faces and people ------------------------------------------------------------------------------


@st.cache_data(show_spinner=False, max_entries=16)
def _detect(digest: str, model_dir: str | None, _image: np.ndarray) -> Regions:
    """Face and person masks of the target (MediaPipe); errors are not cached."""
    return region_masks(_image)


def target_regions(digest: str, image: np.ndarray) -> RegionSearch:
    """Faces and people in the target (cached per target and model folder), or why there are none."""
    model_dir = os.environ.get("FEEDLENS_MODEL_DIR")
    # A missing model is looked for (a download tried) once per REGIONS_RETRY_S for every session, not on each run.
    return reuse("mosaic_regions", (digest, model_dir, int(time.monotonic() // REGIONS_RETRY_S)),
                 lambda: find_regions(image, detect=lambda target: _detect(digest, model_dir, target)), 16)


def show_regions(search: RegionSearch) -> None:
    """Say what MediaPipe found in the target, or why the weights are uniform."""
    if search.uniform_reason == MODEL_UNAVAILABLE:
        st.warning(f"Weighting is off: {search.detail}\n\nThe mosaic uses uniform weights.",
                   icon=":material/warning:")
    elif search.uniform_reason == DETECTION_FAILED:
        st.warning(f"Weighting is off: face/person detection failed ({search.detail}). "
                   "The mosaic uses uniform weights.", icon=":material/warning:")
    elif search.uniform_reason == NOTHING_FOUND:
        st.info("No face or person found in this target: uniform weights are used.", icon=":material/info:")
    elif search.regions is not None:
        regions = search.regions
        found = [f"{regions.n_faces} face(s)" if regions.n_faces else "no face",
                 "a person" if regions.person.any() else "no person"]
        st.caption("MediaPipe found " + " and ".join(found) + ".")


# -- photo tiles -----------------------------------------------------------------------------------


def photo_tiles(shas: Sequence[str], paths: Sequence[str], size: int, *, cache: DiskCache | None = None,
                progress: Progress | None = None, cancel: CancelCheck | None = None) -> PhotoTiles:
    """:func:`core.mosaic.pool.load_photo_tiles` through the shared memory store."""
    key = ("tiles", hashlib.sha256("\n".join(shas).encode()).hexdigest(), size)
    hit = STORE.get(key)
    if hit is not None:
        return hit
    loaded = load_photo_tiles(shas, paths, size, cache=cache, progress=progress, cancel=cancel)
    if not loaded.failed:
        STORE.put(key, loaded)
    return loaded


# -- the build -------------------------------------------------------------------------------------


@dataclass
class Built:
    """A finished build and what it was built from (to tell when the settings changed)."""

    signature: tuple
    target_digest: str
    result: MosaicResult


def build(request: MosaicRequest, signature: tuple, target_digest: str) -> str | None:
    """Build (or fetch) the mosaic for ``signature``; keep it for this session. Returns an error message or None."""
    hit = STORE.get(("build", signature))
    if hit is not None:
        st.session_state[_RESULT] = hit
        return None
    n_tiles = request.rows * request.cols
    outcome = run_job(
        # In a worker process (which keeps the photo tiles of its last builds): a 10,000-tile build
        # takes minutes of CPU that the server's page runs need.
        "Building the mosaic…", JobCall(worker_jobs.mosaic, (request,), cancel=True),
        key=CANCEL_KEY, failed="The mosaic could not be built",
        done=lambda result: f"Mosaic built: {len(result.runs)} placement(s) of {n_tiles:,} tiles",
    )
    if outcome.cancelled:
        return None
    if outcome.error:
        if not isinstance(outcome.exception, JobError):
            exc = outcome.exception
            return f"The mosaic could not be built ({type(exc).__name__}: {exc})."
        return outcome.error
    built = Built(signature, target_digest, outcome.value)
    STORE.put(("build", signature), built)
    st.session_state[_RESULT] = built
    return None


def current_build(target_digest: str) -> Built | None:
    """This session's last build, if it was of this target."""
    built = st.session_state.get(_RESULT)
    return built if built is not None and built.target_digest == target_digest else None


def build_was_cancelled() -> bool:
    """The user pressed Cancel in the last run (told once)."""
    if cancelled(CANCEL_KEY):
        clear_cancelled(CANCEL_KEY)
        return True
    return False


# -- pictures --------------------------------------------------------------------------------------


def preview(result: MosaicResult, run: MosaicRun, tile_px: int, target: np.ndarray | None,
            blend: float, colour: float = 0.0) -> np.ndarray:
    """The mosaic drawn at ``tile_px`` px per tile (photo tiles from the memory store)."""
    return render_mosaic(result, run, tile_px=tile_px, target=target, blend_amount=blend, colour_amount=colour,
                         load_tiles=photo_tiles)
