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

from core.explore.features import WeightsUnavailableError
from core.forecast.training import (
    Forecaster,
    forecaster_path,
    NoEngagementError,
    TrainingCancelled,
    load_forecaster,
    prepare_training_data,
    save_forecaster,
    train_forecaster,
)
from core.forecast.labels import LabelSources

__all__ = ["saved_model", "face_engine", "classifier", "run_training"]

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


@st.cache_resource(show_spinner="Loading the face models…")
def face_engine():
    """One MediaPipe + dlib face engine for every session (it is thread-safe)."""
    from core.faces.engine import FaceEngine

    return FaceEngine()


@st.cache_resource(show_spinner="Loading the ImageNet classifier…")
def classifier():
    """MobileNetV3 Small with ImageNet weights (raises if they cannot be had)."""
    from core.explore.features import make_extractor

    return make_extractor("mobilenet_v3_small").ensure_fitted()


def run_training(archive, sources: LabelSources, include_boosting: bool) -> str | None:
    """Label new photos, evaluate, fit and save, with progress and Cancel.

    Returns an error message for the user, or None on success. Pressing
    Cancel reruns the page, which stops this run at its next progress
    update; nothing is saved then, so the previous model stays.
    """
    failure = None
    with st.status("Training the forecast…", expanded=True) as status:
        bar = st.progress(0.0, text="Looking for new photos…")
        st.button("Cancel", key="cancel_forecast_training")

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(min(0.9 * done / max(total, 1), 0.9), text=message)

        started = time.perf_counter()
        try:
            cnn, no_weights = None, None
            if sources.imagenet:
                try:
                    cnn = classifier()
                except WeightsUnavailableError as exc:  # train on the other sources, and say why
                    no_weights, sources = str(exc), replace(sources, imagenet=False)
            data = prepare_training_data(archive.catalogue, archive.key, sources, cnn=cnn,
                                         face_engine=face_engine, progress=progress)
            if no_weights:
                data.unavailable["imagenet"] = no_weights
            bar.progress(0.92, text="Evaluating on your newest posts, then fitting every model…")
            model = train_forecaster(data, archive.key, include_boosting=include_boosting)
            save_forecaster(model)
        except NoEngagementError as exc:
            failure = str(exc)
        except TrainingCancelled:
            failure = "Training cancelled. The previous model (if any) is unchanged."
        except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
            failure = f"Training failed ({type(exc).__name__}: {exc}). The previous model (if any) is unchanged."
        if failure:
            status.update(label="Training did not finish", state="error", expanded=False)
        else:
            bar.progress(1.0, text=f"Done in {time.perf_counter() - started:.1f} s")
            status.update(label=f"Trained on {len(model.posts)} posts", state="complete", expanded=False)
    return failure
