"""Explore page glue for the feature set: the selector, offline ImageNet weights, the features job.

The CNN is loaded (its ImageNet weights downloaded at first use) before the
selector is drawn, so that when the download fails the selector can switch
to a feature set that needs none, in this same run. A failed download is
remembered for :data:`FAILED_TTL_S` by every session, so a server without
internet does not retry it for each visitor; the page says so and offers to
retry or to use random weights.

Features are computed on page load, in a worker process (:mod:`core.worker_jobs`):
the server itself never loads the CNN for them. After Cancel the job does not start
again by itself (for that archive and feature set) until the user asks.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import worker_jobs
from core.explore.features import DEFAULT_FEATURE_SET, FEATURE_SETS, FeatureResult, FeatureSpec
from core.jobs import WeightsUnavailableError
from ui.jobs import JobCall, cancelled, clear_cancelled, run_job
from ui.memory import shared_store
from ui.resources import FAILED_TTL_S, load_cnn_weights, weights_gate
from ui.resources import extractor as shared_extractor
from ui.share import sync
from ui.text import md

__all__ = ["FAILED_TTL_S", "STORE_MB", "CANCEL_KEY", "feature_controls", "compute_features_job"]

STORE_MB = 1500  # feature matrices kept in memory (raw pixels of 1,000 photos: 270 MB)
CANCEL_KEY = "explore_cancel"
_NAMES = list(FEATURE_SETS)
_LINK = dict(key="explore_features", param="features", default=DEFAULT_FEATURE_SET, options=_NAMES)
_CANCELLED = "explore_cancelled"  # session: feature keys whose job the user cancelled
_RUNNING = "explore_running"  # session: the feature key of the last job started


def _recent_failure(name: str) -> str | None:
    return weights_gate().failure(name)


def _remember_failure(name: str, message: str) -> None:
    weights_gate().remember(name, message)


def _load_wanted_weights() -> None:
    if pending := st.session_state.pop("explore_pending_features", None):
        st.session_state["explore_features"] = pending
    sync(**_LINK)
    wanted = st.session_state["explore_features"]
    if not FEATURE_SETS[wanted].needs_weights or st.session_state.get("explore_random_weights", False):
        return
    failure = _recent_failure(wanted)
    if failure is None and not hasattr(shared_extractor(wanted, 150, False), "model_"):
        # One attempt at a time for the whole server, tried in a child process (ui.resources).
        with st.spinner(f"Loading {FEATURE_SETS[wanted].label} (its ImageNet weights download once)…"):
            failure = load_cnn_weights(wanted)
    if failure is not None:  # show colour & texture instead, and say why
        st.session_state["explore_features"] = "colour_texture"
        st.session_state["explore_show_failure"] = wanted


def _offline_panel(spec: FeatureSpec) -> None:
    """Offline: say so, and offer the feature sets that need no download."""
    shown_failure = st.session_state.get("explore_show_failure")
    if not shown_failure or spec.needs_weights or not (message := _recent_failure(shown_failure)):
        return
    with st.container(border=True):
        st.warning(md(message), icon=":material/cloud_off:")
        cols = st.columns([2, 2, 3])
        if cols[0].button("Try the download again", key="explore_retry"):
            weights_gate().forget(shown_failure)
            st.session_state["explore_pending_features"] = shown_failure
            st.session_state.pop("explore_show_failure", None)
            st.rerun()
        if cols[1].button("Use random weights instead", key="explore_use_random",
                          help="The pipeline runs, but the map and labels are meaningless."):
            st.session_state["explore_pending_features"] = shown_failure
            st.session_state["explore_random_weights"] = True
            st.session_state.pop("explore_show_failure", None)
            st.rerun()
        cols[2].caption(f"Now showing **{spec.label}**, which needs no download. Raw pixels work offline too.")


def feature_controls(controls) -> tuple[str, object]:
    """The feature-set selector and its options in ``controls[0:2]``; returns the name and its extractor."""
    _load_wanted_weights()
    with controls[0]:
        name = st.selectbox(
            "Features", _NAMES, format_func=lambda n: FEATURE_SETS[n].label,
            key=sync(**_LINK),  # again: an offline fallback above may have changed it
            help="\n\n".join(f"**{s.label}**: {s.description}" for s in FEATURE_SETS.values()),
        )
    spec = FEATURE_SETS[name]
    raw_size = 150
    with controls[1]:
        if spec.family == "raw":
            raw_size = st.slider("Raw pixel size (side)", 16, 224, 150, step=2, key="explore_raw_size",
                                 help="The seed analysis used 150 × 150 × 3 = 67,500 numbers per photo.")
        elif spec.family == "cnn":
            st.toggle("Random weights (no download)", key="explore_random_weights",
                      help="Runs the network with random weights: checks the pipeline offline, but the map and "
                           "labels are meaningless.")
    random_weights = bool(st.session_state.get("explore_random_weights", False)) and spec.family == "cnn"
    _offline_panel(spec)
    return name, shared_extractor(name, int(raw_size), random_weights)


def compute_features_job(catalogue: pd.DataFrame, spec: FeatureSpec, extractor, archive_key: str) -> FeatureResult:
    """The features of every photo: from memory, else computed (or read from the disk cache) as a job.

    Stops the page when the job was cancelled or failed; reruns it with
    colour & texture when the ImageNet weights cannot be had.
    """
    feature_key = (archive_key, extractor.cache_tag)
    store = shared_store("explore_features", STORE_MB)
    if (result := store.get(feature_key)) is not None:
        return result
    stopped: set = st.session_state.setdefault(_CANCELLED, set())
    if cancelled(CANCEL_KEY):  # Cancel was pressed during the last job: remember which one
        stopped.add(st.session_state.get(_RUNNING))
        clear_cancelled(CANCEL_KEY)
    if feature_key in stopped:
        st.info(f"Computing **{spec.label}** features was cancelled. Photos already done are kept in the cache.",
                icon=":material/pause_circle:")
        if st.button("Start again", type="primary", key="explore_restart"):
            stopped.discard(feature_key)
            st.rerun()
        st.stop()

    st.session_state[_RUNNING] = feature_key
    items = [(str(sha), str(path)) for sha, path in zip(catalogue["sha256"], catalogue["path"])]
    # The worker builds its own extractor from these (plain data); the server's stays unloaded.
    made_as = (spec.name, int(getattr(extractor, "size", 150)) if spec.name == "raw" else 150,
               getattr(extractor, "weights", "imagenet") if spec.family == "cnn" else "imagenet")
    slot = st.empty()
    with slot.container():
        outcome = run_job(f"Computing {spec.label} features for {len(items)} photos…",
                          JobCall(worker_jobs.features, (items, *made_as)),
                          key=CANCEL_KEY, note="Cancel stops after the current batch; finished photos stay cached.",
                          failed="Features not available")
    if outcome.cancelled:
        stopped.add(feature_key)
        st.rerun()
    if isinstance(outcome.exception, WeightsUnavailableError):
        _remember_failure(spec.name, outcome.error)
        st.session_state["explore_pending_features"] = "colour_texture"  # the selector is drawn already
        st.session_state["explore_show_failure"] = spec.name
        st.rerun()
    if not outcome.ok:
        st.error(md(outcome.error))
        st.stop()
    result = outcome.value
    slot.caption(f":material/check: {spec.label}: {result.computed} photo(s) computed, "
                 f"{result.reused} read from the cache.")
    store.put(feature_key, result)
    return result
