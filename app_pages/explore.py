"""Explore page: a t-SNE map of the archive, clusters, ImageNet groups, a gallery.

Features (core.explore.features) are computed once per photo and feature set and
cached on disk; the map (core.explore.mapping: PCA then openTSNE) and the
clusters are cached in memory, so moving sliders or selecting points reruns
in a moment. Box/lasso selection on the map opens a gallery of the photos.
The feature set, perplexity, clustering, k and colouring are kept in the URL
(``ui.share``), so a copied link reopens the same map.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.archive.duplicates import unique_pictures
from core.explore.features import FEATURE_SETS
from core.explore.figure import LEAN_ABOVE, explore_figure, map_config, silhouette_figure
from core.explore.mapping import cluster_names
from core.explore.photomap import MIN_MAP_PHOTOS, effective_perplexity, suggest_k
from core.explore.tables import photo_table
from core.jobs import TooFewPhotosError
from ui.auth import current_scope
from ui.batch_status import show_batch_status
from ui.explore_atlas import atlas_caption, atlas_controls, atlas_map, over_time_tab
from ui.explore_features import compute_features_job, feature_controls
from ui.explore_gallery import gallery, picked_photo
from ui.explore_map import (
    cached_clusters,
    cached_silhouette,
    layout_map,
    map_thumbnails,
    placement_of,
    refit_row,
    remembered_figure,
    selected_rows,
)
from ui.explore_tabs import engagement_tab, export_tab, labels_tab, new_photo_tab
from ui.explore_view import view_controls, with_people
from ui.run_cache import frame_key, reuse
from ui.share import sync
from ui.state import current_archive
from ui.text import md


def header(archive, n_photos: int) -> None:
    """Title, captions, the batch status; stops the page when there are too few distinct pictures to map."""
    st.title("Explore")
    st.caption(
        "A map of your photos: similar photos land close together. Features come from raw pixels, colour & "
        "texture, or a convolutional network; PCA and t-SNE flatten them to two dimensions; clusters and ImageNet "
        "labels colour the points. Drag on the map to select photos."
    )
    if archive.illustrative_engagement:
        st.caption(":material/info: Demo archive: likes, comments and dates are illustrative.")
    show_batch_status(archive)
    copies = len(archive.catalogue) - n_photos
    if copies:
        st.caption(f":material/content_copy: {copies} reposted or duplicate photo(s) are mapped once, with their "
                   "original (the Archive page's Duplicates tab lists them).")
    if n_photos < MIN_MAP_PHOTOS:
        has = f"{n_photos} distinct picture(s) ({len(archive.catalogue)} photos)" if copies else str(n_photos)
        st.info(
            f"A map needs at least {MIN_MAP_PHOTOS} photos; this archive has {has}. t-SNE places each photo "
            "among its nearest neighbours, and with so few photos there is nothing to arrange. Import a larger "
            "archive in the sidebar, or look at these photos on the Archive page.",
            icon=":material/scatter_plot:",
        )
        st.stop()


def perplexity_control(n: int) -> float:
    max_perplexity = effective_perplexity(100, n)
    if max_perplexity < 3:
        st.caption(f"Perplexity {max_perplexity:g}: fixed by the number of photos ({n}).")
        return max_perplexity
    return st.slider(
        "Perplexity", 2, int(max_perplexity),
        key=sync("explore_perplexity", "perplexity", default=int(min(30, max_perplexity)),
                 bounds=(2, int(max_perplexity))),
        help=f"About how many neighbours each photo listens to. It must stay below (n − 1) / 3 = "
             f"{(n - 1) / 3:.1f} for {n} photos.",
    )


def cluster_controls(photo_map, map_key: tuple) -> tuple[str, int]:
    """Method and its parameter (k or the smallest cluster), with the silhouette curve."""
    cols = st.columns([2, 2, 3])
    methods = ["K-Means", "HDBSCAN"]
    method = cols[0].segmented_control(
        "Clusters", methods, required=True,
        key=sync("explore_cluster_method", "clusters", default="K-Means", options=methods),
        help="K-Means (on the PCA features) needs a k; HDBSCAN (on the map) finds the number of clusters itself "
             "and leaves outliers unclustered.")
    curve = cached_silhouette(map_key, photo_map)
    tag, n = map_key[1], map_key[2]
    k_suggested = suggest_k(curve, default=1)
    with cols[1]:
        if method == "HDBSCAN":
            top = int(max(3, min(50, n // 2)))
            param = st.slider("Smallest cluster", 2, top,
                              key=sync("explore_min_cluster", "min_cluster", default=int(min(5, max(2, n // 3))),
                                       bounds=(2, top)))
        else:
            k_max = int(min(20, max(2, n - 1)))
            param = st.slider("k (number of clusters)", 2, k_max,
                              key=sync(f"explore_k::{tag}", "k", default=int(min(max(k_suggested, 2), k_max)),
                                       bounds=(2, k_max)),
                              help="Starts at the suggested k: the best silhouette score.")
        if not curve.empty:
            st.caption(f"Suggested k = **{k_suggested}** (highest silhouette score).")
    if not curve.empty:
        figure = reuse("explore_silhouette", (frame_key(curve), k_suggested),
                       lambda: silhouette_figure(curve, k_suggested))
        cols[2].plotly_chart(figure, key="explore_silhouette",
                             config={"displayModeBar": False})
    return method, int(param)


def main() -> None:
    archive = current_archive()
    catalogue = unique_pictures(archive.catalogue).reset_index(drop=True)  # a repost is mapped once
    header(archive, len(catalogue))
    controls = st.columns([3, 2, 2])
    feature_name, extractor = feature_controls(controls)
    spec = FEATURE_SETS[feature_name]
    archive_key = archive.key or archive.name
    result = compute_features_job(catalogue, spec, extractor, archive_key)
    for note in result.notes:
        st.warning(md(note), icon=":material/broken_image:")
    if spec.family == "cnn" and st.session_state.get("explore_random_weights", False):
        st.warning("Random weights: this map and its labels check the pipeline only; they say nothing about "
                   "your photos.", icon=":material/casino:")
    valid_rows = np.flatnonzero(result.valid)
    rows = catalogue.iloc[valid_rows].reset_index(drop=True)
    n = len(rows)
    if n < MIN_MAP_PHOTOS:
        st.info(f"Only {n} photo(s) could be read; a map needs at least {MIN_MAP_PHOTOS}.")
        st.stop()
    with controls[2]:
        perplexity = float(perplexity_control(n))
    map_key = (archive_key, extractor.cache_tag, n)
    layout_key = (str(archive.root), current_scope(), extractor.cache_tag, perplexity)
    try:
        photo_map, placed_count = layout_map(layout_key, feature_name, perplexity, tuple(rows["sha256"]),
                                             result.features[valid_rows])
    except TooFewPhotosError as exc:
        st.info(str(exc))
        st.stop()
    refit_row(layout_key, placed_count)
    # A grown map and its re-fit hold the same photos, not the same layout: later steps' caches tell them apart.
    map_key = (*map_key, placed_count)
    if photo_map.degenerate_:
        st.info("Every photo has the same features (identical photos?), so the map cannot order them: they are "
                "drawn on a circle.", icon=":material/content_copy:")
    method, param = cluster_controls(photo_map, map_key)
    clusters = cached_clusters(map_key, perplexity, method, param, photo_map)
    probs = None if result.probs is None else result.probs[valid_rows]
    table = photo_table(rows, photo_map.coords_, cluster_names(clusters), probs=probs, tag=extractor.cache_tag)
    view = view_controls(table)
    if view["colour_by"] == "Person":
        table = with_people(table, archive.catalogue, archive_key)
    atlas = atlas_controls(table)
    # "Where would this photo land?" is answered before the map is drawn, so the map can show it.
    placed, placed_name, upload_error = placement_of(extractor, photo_map, clusters, (map_key, perplexity))
    map_slot = st.container()
    tab_time, tab_eng, tab_labels, tab_new, tab_export = st.tabs(
        ["Over time", "Engagement", "ImageNet labels", "Where would this photo land?", "Export"])
    with tab_time:
        over_time_tab(table, atlas, archive.illustrative_engagement)
    with tab_eng:
        engagement_tab(table, archive.illustrative_engagement)
    with tab_labels:
        labels_tab(table)
    with tab_new:
        new_photo_tab(rows, placed, upload_error)
    thumbnails = map_thumbnails(tuple(rows["sha256"]), tuple(rows["path"])) if view["thumbs"] else None
    title = f"t-SNE of {spec.label} · {n} photos · perplexity {photo_map.perplexity_:g}"

    def build():
        if atlas.on:
            return atlas_map(table, atlas)
        return explore_figure(
            table, colour_by=view["colour_by"], highlight=view["highlight"], size_by_likes=view["size_by_likes"],
            thumbnails=thumbnails, placed=placed, placed_name=placed_name, title=title)

    def shared():
        # Built once per table and view for every session (ui.run_cache); a placed upload is one visitor's own.
        if placed is not None:
            return build()
        view_key = (tuple(view.values()), thumbnails, title, atlas.on, atlas.unit, atlas.current)
        return reuse("explore_map", (frame_key(table), view_key), build, 32)

    with map_slot:
        if atlas.on:
            atlas_caption(table, atlas)
        # A control elsewhere reruns the page: the figure (1.7 s at 100,000 points) is rebuilt only when it changes.
        people_key = frame_key(table[["person"]]) if "person" in table.columns else None  # names change on Faces
        figure = remembered_figure(
            (id(photo_map), n, method, param, tuple(view.values()), placed_name, None if placed is None else
             tuple(placed.xy), atlas.unit, atlas.current, people_key), shared)
        in_period = None if not atlas.on else (atlas.labels == atlas.current).to_numpy()
        map_and_gallery(figure, rows, table, in_period)
    with tab_export:
        export_tab(table, archive.name, feature_name, figure)


@st.fragment
def map_and_gallery(figure, rows: pd.DataFrame, table: pd.DataFrame, in_period: np.ndarray | None) -> None:
    """The map and the gallery of its selection: a selection reruns only this, not the whole page."""
    lean = len(table) > LEAN_ABOVE
    map_col, photo_col = st.columns([4, 1]) if lean else (st.container(), None)
    with map_col:
        event = st.plotly_chart(figure, key="explore_map", on_select="rerun",
                                selection_mode=("points", "box", "lasso"), config=map_config(lean))
    # A lean map's box or lasso is read here from the coordinates (no point is selected in the browser).
    # The atlas: only the period's photos are selectable.
    selected = selected_rows(event, table[["x", "y"]].to_numpy() if lean else None, in_period)
    if photo_col is not None:
        with photo_col:
            picked_photo(rows, table, selected)
    with st.container(key="explore_gallery"):
        gallery(rows, table, selected)


main()
