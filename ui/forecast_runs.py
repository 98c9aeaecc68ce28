"""Streamlit glue for the Forecast page: the saved model and the training run.

A trained model is saved in the disk cache by
:func:`core.forecast.training.train_and_save` and loaded here by archive key
and file time, so every session of the same archive shares one copy and a
retrain is picked up at once. Training runs in a worker process
(:func:`core.worker_jobs.forecast_training`), which loads its own face engine
and ImageNet classifier; a weights download the server knows to have failed
(:func:`ui.resources.weights_gate`) is not tried again there.
"""

from __future__ import annotations

import time

import streamlit as st

from core import worker_jobs
from core.forecast.labels import LabelSources
from core.forecast.training import (
    Forecaster,
    NoEngagementError,
    TrainingRequest,
    forecaster_version,
    load_forecaster,
)
from ui.jobs import JobCall, run_job
from ui.resources import weights_gate

__all__ = ["saved_model", "run_training"]


def _stamp(archive_key: str) -> str:
    """What version of the saved model is stored ("" when none; in a folder or an object store): part of the cache key."""
    return forecaster_version(archive_key) or ""


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(archive_key: str, stamp: str) -> Forecaster | None:
    return load_forecaster(archive_key) if stamp else None


def saved_model(archive_key: str) -> Forecaster | None:
    """The archive's trained model, if one was saved."""
    return _load(archive_key, _stamp(archive_key))


def run_training(archive, sources: LabelSources, include_boosting: bool) -> str | None:
    """Label new photos, evaluate, fit and save, with progress and Cancel.

    Returns an error message for the user, or None on success. Pressing
    Cancel reruns the page, which stops this run at its next progress
    update; nothing is saved then, so the previous model stays.
    """
    request = TrainingRequest(archive.catalogue, archive.key, sources, include_boosting=include_boosting)
    started = time.perf_counter()
    outcome = run_job(
        "Training the forecast…",
        # In a worker process, which loads its own classifier and face engine (core.worker_jobs).
        JobCall(worker_jobs.forecast_training, (request,), cancel=True,
                kwargs={"weights_failure": weights_gate().failure("mobilenet_v3_small")}),
        key="cancel_forecast_training",
        done=lambda model: f"Trained on {len(model.posts)} posts in {time.perf_counter() - started:.1f} s",
        failed="Training did not finish",
    )
    if outcome.cancelled:
        return "Training cancelled. The previous model (if any) is unchanged."
    if isinstance(outcome.exception, NoEngagementError):
        return outcome.error
    if outcome.error:
        return f"Training failed: {outcome.error} The previous model (if any) is unchanged."
    return None
