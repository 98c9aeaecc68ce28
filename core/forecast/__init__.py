"""Forecast: label sources, models, training and the saved forecaster, a synthetic archive for tests.

Public verbs, by module:
- :mod:`core.forecast.labels`: LABEL_SOURCES, LabelSources, parse_accessibility_caption, face_count_label, hashtag_labels, post_frame, combine_labels
- :mod:`core.forecast.models`: ForecastInputs, SeedLabelModel, MeanModel, EngagementRegressor, Evaluation, evaluate, regression_metrics, label_table, MIN_POSTS_TO_EVALUATE
- :mod:`core.forecast.training`: MODEL_MEAN, MODEL_SEED, MODEL_SEED_COUNT, MODEL_RIDGE, MODEL_BOOSTING, NoEngagementError, TrainingData, PhotoLook, VisualClusters, NewPhoto, Forecast, Forecaster, imagenet_labels, prepare_training_data, train_forecaster, TrainingRequest, train_and_save, save_forecaster, load_forecaster, delete_forecaster, forecaster_path, NO_LIKES_HELP
- :mod:`core.forecast.synth`: SyntheticTruth, make_synthetic_archive
"""

from . import labels, models, synth, training
from .labels import (
    LABEL_SOURCES,
    LabelSources,
    combine_labels,
    face_count_label,
    hashtag_labels,
    parse_accessibility_caption,
    post_frame,
)
from .models import (
    MIN_POSTS_TO_EVALUATE,
    EngagementRegressor,
    Evaluation,
    ForecastInputs,
    MeanModel,
    SeedLabelModel,
    evaluate,
    label_table,
    regression_metrics,
)
from .synth import (
    SyntheticTruth,
    make_synthetic_archive,
)
from .training import (
    MODEL_BOOSTING,
    MODEL_MEAN,
    MODEL_RIDGE,
    MODEL_SEED,
    MODEL_SEED_COUNT,
    NO_LIKES_HELP,
    Forecast,
    Forecaster,
    NewPhoto,
    NoEngagementError,
    PhotoLook,
    TrainingData,
    TrainingRequest,
    VisualClusters,
    delete_forecaster,
    forecaster_path,
    imagenet_labels,
    load_forecaster,
    prepare_training_data,
    save_forecaster,
    train_and_save,
    train_forecaster,
)

__all__ = [*labels.__all__, *models.__all__, *training.__all__, *synth.__all__]
