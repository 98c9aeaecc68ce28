"""Explore: photo features, the photo map (PCA + t-SNE, clusters), ImageNet groups.

Public verbs, by module:
- :mod:`core.explore.features`: FeatureSpec, FEATURE_SETS, DEFAULT_FEATURE_SET, BACKBONES, FeatureResult, RawPixels, ColourTexture, CNNFeatures, make_extractor, load_thumbnails, compute_features
- :mod:`core.explore.photomap`: MIN_MAP_PHOTOS, effective_perplexity, PhotoMap, run_tsne, map_figure, kmeans_labels, silhouette_curve, suggest_k, hdbscan_labels, nearest_neighbours, knn_accuracy, purity, trustworthiness_subsample
- :mod:`core.explore.imagenet_groups`: N_CLASSES, GroupInfo, class_names, class_wnids, class_name, groups, group_names, group_of, group_colours, class_to_group, top_k
"""

from . import features, imagenet_groups, photomap
from .features import (
    BACKBONES,
    DEFAULT_FEATURE_SET,
    FEATURE_SETS,
    CNNFeatures,
    ColourTexture,
    FeatureResult,
    FeatureSpec,
    RawPixels,
    compute_features,
    load_thumbnails,
    make_extractor,
)
from .imagenet_groups import (
    N_CLASSES,
    GroupInfo,
    class_name,
    class_names,
    class_to_group,
    class_wnids,
    group_colours,
    group_names,
    group_of,
    groups,
    top_k,
)
from .photomap import (
    MIN_MAP_PHOTOS,
    PhotoMap,
    effective_perplexity,
    hdbscan_labels,
    kmeans_labels,
    knn_accuracy,
    map_figure,
    nearest_neighbours,
    purity,
    run_tsne,
    silhouette_curve,
    suggest_k,
    trustworthiness_subsample,
)

__all__ = [*features.__all__, *photomap.__all__, *imagenet_groups.__all__]
