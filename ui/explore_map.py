"""Explore page glue for the map: in-memory caches of its steps, photos on it, a new photo, the selection.

Each step of :mod:`core.explore.mapping` is cached on its own inputs, so a
slider reruns only its step: the map on the perplexity, the silhouette
curve on the PCA features, the clusters on the method and its parameter.
``map_key`` is ``(archive key, feature cache tag, number of mapped photos,
photos placed since the fit)``.
The map itself is kept per layout (folder, user, feature set, perplexity),
in memory and in the disk cache (so a restarted server grows it rather than
re-fitting), and grows with the archive: new photos are placed on it, old ones stay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
import pandas as pd
import streamlit as st

from core.archive.ingest import thumbnail_bytes
from core.cache import default_cache
from core.explore.figure import selection_rows
from core.explore.mapping import (
    K_RANGE,
    SavedLayout,
    cluster_photos,
    fit_map,
    forget_layout,
    grow_map,
    layout_id,
    load_layout,
    save_layout,
    score_k,
)
from core.explore.photomap import PhotoMap
from core.explore.placement import Placement, place_photo
from core.image.geometry import square_resize
from core.image.io import ImageError, load_image
from ui.images import inline

__all__ = ["layout_map", "refit_row", "refit_map", "cached_silhouette", "cached_clusters", "map_thumbnails", "placement_of",
           "selected_rows", "remembered_figure"]

MAP_THUMB_SIDE = 72  # pixels of a photo drawn on the map


LAYOUTS_KEPT = 8  # fitted layouts kept per server (archives × feature sets × perplexities)


@st.cache_resource
def _layouts() -> tuple[threading.Lock, OrderedDict]:
    """Fitted maps per layout key: ``(photo keys, PhotoMap, photos placed since the fit)``, newest last."""
    return threading.Lock(), OrderedDict()


def layout_map(layout_key: tuple, feature_name: str, perplexity: float, keys: tuple,
               features: np.ndarray) -> tuple[PhotoMap, int]:
    """The archive's map and how many of its photos were placed onto it after the fit.

    ``layout_key`` names one layout (the archive's folder and user, the
    feature set, the perplexity): when the archive grows, its new photos are
    placed on the layout already fitted (:func:`core.explore.mapping.grow_map`),
    so the map does not move; :func:`refit_map` forgets the layout. A layout
    not in this server's memory is read from the disk cache
    (:func:`core.explore.mapping.load_layout`), and every new or grown one is
    written there.
    """
    lock, layouts = _layouts()
    with lock:
        held = layouts.get(layout_key)
    if held is None:
        saved = load_layout(default_cache(), layout_id(*layout_key))
        held = None if saved is None else (saved.keys, saved.photo_map, saved.placed)
    if held is not None and held[0] == keys:
        with lock:
            layouts[layout_key] = held
        return held[1], held[2]
    if held is not None:
        with st.spinner("Placing new photos on the map (openTSNE transform)…"):
            photo_map, placed = grow_map(held[1], held[0], keys, features)
        placed += held[2]
    else:
        with st.spinner("Laying out the map (PCA, then t-SNE)…"):
            photo_map, placed = fit_map(features, feature_name, perplexity=perplexity), 0
    with lock:
        layouts[layout_key] = (keys, photo_map, placed)
        layouts.move_to_end(layout_key)
        while len(layouts) > LAYOUTS_KEPT:
            layouts.popitem(last=False)
    save_layout(default_cache(), layout_id(*layout_key), SavedLayout(tuple(keys), photo_map, placed))
    return photo_map, placed


def refit_row(layout_key: tuple, placed_count: int) -> None:
    """How many photos were placed on the fitted map since, and the Re-fit button."""
    cols = st.columns([6, 1])
    if placed_count:
        cols[0].caption(f":material/push_pin: {placed_count} photo(s) added since this map was laid out were "
                        "placed onto it (openTSNE transform), so nothing else moved. Re-fit for a fresh layout.")
    if cols[1].button("Re-fit", key="explore_refit", icon=":material/refresh:",
                      help="Lay out the map again from all photos (the layout changes)."):
        refit_map(layout_key)
        st.rerun()


def refit_map(layout_key: tuple) -> None:
    """Forget the layout (in memory and on disk), so the next :func:`layout_map` fits a fresh one."""
    lock, layouts = _layouts()
    with lock:
        layouts.pop(layout_key, None)
    forget_layout(default_cache(), layout_id(*layout_key))


@st.cache_data(show_spinner=f"Scoring k from {K_RANGE[0]} to {K_RANGE[1]} (silhouette)…", max_entries=16)
def cached_silhouette(map_key: tuple, _photo_map: PhotoMap) -> pd.DataFrame:
    return score_k(_photo_map)


@st.cache_data(show_spinner=False, max_entries=32)
def cached_clusters(map_key: tuple, perplexity: float, method: str, param: int, _photo_map: PhotoMap) -> np.ndarray:
    """K-Means with k = ``param``, or HDBSCAN with smallest cluster ``param`` (on the map: perplexity counts)."""
    return cluster_photos(_photo_map, method, k=param, min_cluster_size=param)


@st.cache_data(show_spinner=False, max_entries=16)
def map_thumbnails(shas: tuple, paths: tuple) -> list[str | None]:
    """Small square JPEG data URIs of the photos, for drawing them on the map."""
    out: list[str | None] = []
    store = default_cache()
    for sha, path in zip(shas, paths):
        data = thumbnail_bytes(sha, path, store)
        try:
            out.append(None if data is None else inline(square_resize(load_image(data), MAP_THUMB_SIDE), quality=80))
        except ImageError:
            out.append(None)
    return out


def placement_of(extractor, photo_map: PhotoMap, clusters: np.ndarray,
                 key: tuple) -> tuple[Placement | None, str, str | None]:
    """The uploaded photo (``explore_upload``) placed on the map: ``(placement, file name, error)``.

    The placement is kept in the session while the photo and the map (``key``) stay the same.
    """
    upload = st.session_state.get("explore_upload")
    if upload is None:
        return None, "", None
    placed_key = (upload.file_id, key, np.asarray(clusters).tobytes())
    if st.session_state.get("explore_placed_key") == placed_key:
        return st.session_state.get("explore_placed"), upload.name, None  # same photo, same map: reuse
    try:
        placed = place_photo(upload.getvalue(), extractor, photo_map, clusters=clusters)
    except ImageError as exc:
        return None, upload.name, f"{upload.name}: {exc}"
    except Exception as exc:  # noqa: BLE001 - never a traceback on the page
        return None, upload.name, f"{upload.name}: could not place this photo ({type(exc).__name__}: {exc})"
    st.session_state["explore_placed_key"], st.session_state["explore_placed"] = placed_key, placed
    return placed, upload.name, None


def selected_rows(event, coords: np.ndarray | None = None, selectable: np.ndarray | None = None) -> list[int]:
    """Rows of the photos selected on the map (the placed photo, row -1, is not one).

    ``coords``: the map's coordinates, for a lean map, whose box or lasso is
    read on the server (:func:`core.explore.figure.selection_rows`);
    ``selectable``: a mask of the rows that may be selected.
    """
    return selection_rows(event.get("selection") if event else None, coords, selectable)


def remembered_figure(key: tuple, build):
    """The figure ``build()`` makes, rebuilt only when ``key`` changed since this session's last run.

    Selecting points reruns the page without changing the map; at 100,000
    points building the figure again would cost more than the rest of the run.
    """
    held = st.session_state.get("explore_figure_memo")
    if held is not None and held[0] == key:
        return held[1]
    figure = build()
    st.session_state["explore_figure_memo"] = (key, figure)
    return figure
