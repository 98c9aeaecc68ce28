"""Streamlit glue for the Forecast page: models, engines and the training run.

Heavy objects (the face engine, the Keras classifier, trained models) live
in ``st.cache_resource``; a session only keeps small settings. A trained
model is saved in the disk cache by :func:`core.forecast.training.save_forecaster`
and loaded here by archive key and file time, so every session of the same
archive shares one copy and a retrain is picked up at once.
"""

from __future__ import annotations

import time
from dataclasses import replace

import streamlit as st

from core.forecast.labels import LabelSources
from core.forecast.training import (
    Forecaster,
    NoEngagementError,
    forecaster_path,
    load_forecaster,
    prepare_training_data,
    save_forecaster,
    train_forecaster,
)
from core.jobs import WeightsUnavailableError
from ui.jobs import run_job
from ui.resources import face_engine, imagenet_classifier

__all__ = ["saved_model", "run_training"]

def _stamp(archive_key: str) -> float:
    """Modification time of the saved model (0 when none): part of the cache key."""
    path = forecaster_path(archive_key)
    return path.stat().st_mtime if path.is_file() else 0.0


@st.cache_resource(max_entries=4, show_spinner=False)
def _load(archive_key: str, stamp: float) -> Forecaster | None:
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

    def train(progress):
        cnn, no_weights, use = None, None, sources
        if use.imagenet:
            try:
                cnn = imagenet_classifier()
            except WeightsUnavailableError as exc:  # train on the other sources, and say why
                no_weights, use = str(exc), replace(use, imagenet=False)
        data = prepare_training_data(archive.catalogue, archive.key, use, cnn=cnn,
                                     face_engine=face_engine,
                                     progress=lambda d, t, m: progress(900 * d // max(t, 1), 1000, m))
        if no_weights:
            data.unavailable["imagenet"] = no_weights
        progress(920, 1000, "Evaluating on your newest posts, then fitting every model…")
        model = train_forecaster(data, archive.key, include_boosting=include_boosting)
        save_forecaster(model)
        return model

    started = time.perf_counter()
    outcome = run_job("Training the forecast…", train, key="cancel_forecast_training",
                      done=lambda model: f"Trained on {len(model.posts)} posts in {time.perf_counter() - started:.1f} s",
                      failed="Training did not finish")
    if outcome.cancelled:
        return "Training cancelled. The previous model (if any) is unchanged."
    if outcome.error and isinstance(outcome.exception, NoEngagementError):
        return outcome.error
    if outcome.error:
        return f"Training failed: {outcome.error} The previous model (if any) is unchanged."
    return None
