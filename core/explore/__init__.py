"""Explore: photo features, the photo map (PCA + t-SNE, clusters), placing new photos, ImageNet groups.

Public verbs, by module:
- :mod:`core.explore.features`: FeatureSpec, FEATURE_SETS, DEFAULT_FEATURE_SET, BACKBONES, FeatureResult, RawPixels, ColourTexture, CNNFeatures, make_extractor, load_thumbnails, compute_features
- :mod:`core.explore.photomap`: MIN_MAP_PHOTOS, effective_perplexity, PhotoMap, run_tsne, map_figure, kmeans_labels, silhouette_curve, suggest_k, hdbscan_labels, nearest_neighbours, knn_accuracy, purity, trustworthiness_subsample
- :mod:`core.explore.mapping`: CLUSTER_METHODS, K_RANGE, MapRequest, MapResult, cluster_method, fit_map, score_k, cluster_photos, cluster_names, compute_map
- :mod:`core.explore.placement`: Placement, place_photo, place_photos
- :mod:`core.explore.tables`: likes_of, imagenet_columns, photo_table, group_class_counts, cluster_engagement, group_engagement
- :mod:`core.explore.figure`: COLOUR_BY, CLUSTER_COLOURS, WEBGL_ABOVE, HOVER, cluster_palette, point_sizes, hover_data, explore_figure, silhouette_figure, sunburst_figure
- :mod:`core.explore.imagenet_groups`: N_CLASSES, GroupInfo, class_names, class_wnids, class_name, groups, group_names, group_of, group_colours, class_to_group, top_k
"""

from . import features, figure, imagenet_groups, mapping, photomap, placement, tables
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
from .figure import (
    CLUSTER_COLOURS,
    COLOUR_BY,
    HOVER,
    WEBGL_ABOVE,
    cluster_palette,
    explore_figure,
    hover_data,
    point_sizes,
    silhouette_figure,
    sunburst_figure,
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
from .mapping import (
    CLUSTER_METHODS,
    K_RANGE,
    MapRequest,
    MapResult,
    cluster_method,
    cluster_names,
    cluster_photos,
    compute_map,
    fit_map,
    score_k,
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
from .placement import Placement, place_photo, place_photos
from .tables import (
    cluster_engagement,
    group_class_counts,
    group_engagement,
    imagenet_columns,
    likes_of,
    photo_table,
)

__all__ = [*features.__all__, *photomap.__all__, *mapping.__all__, *placement.__all__, *tables.__all__, *figure.__all__, *imagenet_groups.__all__]
