"""Forecast: label sources, models, training and the saved forecaster, a synthetic archive for tests.

Public verbs, by module:
- :mod:`core.forecast.labels`: LABEL_SOURCES, TARGETS, LabelSources, parse_accessibility_caption, face_count_label, hashtag_labels, post_frame, target_counts, combine_labels
- :mod:`core.forecast.models`: ForecastInputs, SeedLabelModel, MeanModel, EngagementRegressor, AccountBaseline, AccountRange, Choice, Evaluation, conformal_offsets, conformal_check, NEW_PHOTO_LACKS, repeated_photos, evaluate, regression_metrics, label_table, MIN_POSTS_TO_EVALUATE
- :mod:`core.forecast.training`: MODEL_USUAL, MODEL_RECENT, MODEL_TREND, BASELINES, MODEL_SEED, MODEL_SEED_COUNT, MODEL_RIDGE, MODEL_BOOSTING, NoEngagementError, TrainingData, PhotoLook, VisualClusters, NewPhoto, Forecast, Forecaster, imagenet_labels, prepare_training_data, model_factories, train_forecaster, TrainingRequest, train_and_save, save_forecaster, load_forecaster, delete_forecaster, forecaster_path, forecaster_version, NO_LIKES_HELP
- :mod:`core.forecast.effects`: effects_table, time_labels
- :mod:`core.forecast.synth`: SyntheticTruth, make_synthetic_archive, make_synthetic_case, SYNTHETIC_CASES, CASE_LIFTS
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["labels", "models", "training", "effects", "synth"])
