"""Explore: photo features, the photo map (PCA + t-SNE, clusters), placing new photos, the style atlas, ImageNet groups.

Public verbs, by module:
- :mod:`core.explore.features`: FeatureSpec, FEATURE_SETS, DEFAULT_FEATURE_SET, BACKBONES, FeatureResult, RawPixels, ColourTexture, CNNFeatures, make_extractor, load_thumbnails, compute_features
- :mod:`core.explore.photomap`: MIN_MAP_PHOTOS, effective_perplexity, PhotoMap, run_tsne, map_figure, kmeans_labels, silhouette_curve, suggest_k, hdbscan_labels, nearest_neighbours, knn_accuracy, purity, trustworthiness_subsample
- :mod:`core.explore.mapping`: CLUSTER_METHODS, K_RANGE, MapRequest, MapResult, cluster_method, fit_map, grow_map, LAYOUT_KIND, SavedLayout, layout_id, save_layout, load_layout, forget_layout, score_k, cluster_photos, cluster_names, compute_map
- :mod:`core.explore.placement`: Placement, place_photo, place_photos
- :mod:`core.explore.tables`: likes_of, imagenet_columns, photo_table, group_class_counts, cluster_engagement, group_engagement
- :mod:`core.explore.atlas`: PERIOD_UNITS, period_labels, atlas_periods, undated, period_centres, cluster_shares, cluster_likes, StyleChange, style_change
- :mod:`core.explore.figure`: COLOUR_BY, NOT_A_PERSON, person_order, person_palette, CLUSTER_COLOURS, WEBGL_ABOVE, HOVER, LEAN_ABOVE, LEAN_HOVER, SELECT_LAYER, map_config, add_select_layer, selection_rows, central_row, cluster_palette, point_sizes, hover_data, explore_figure, silhouette_figure, sunburst_figure, atlas_figure, shares_figure, cluster_likes_figure, standalone_html
- :mod:`core.explore.imagenet_groups`: N_CLASSES, GroupInfo, class_names, class_wnids, class_name, groups, group_names, group_of, group_colours, class_to_group, top_k
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["features", "photomap", "mapping", "placement", "tables", "atlas", "figure", "imagenet_groups"])
