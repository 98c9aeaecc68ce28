"""Explore page: a t-SNE map of the archive, clusters, ImageNet groups, a gallery.

Features (core.explore.features) are computed once per photo and feature set and
cached on disk; the map (core.explore.photomap.PhotoMap: PCA then openTSNE) and the
clusters are cached in memory, so moving sliders or selecting points reruns
in a moment. Box/lasso selection on the map opens a gallery of the photos.
The feature set, perplexity, clustering, k and colouring are kept in the URL
(``ui.share``), so a copied link reopens the same map.
"""

from __future__ import annotations

import base64
import html
import io
import re
import time
from collections import OrderedDict

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import streamlit as st
from PIL import Image

from core.archive.ingest import THUMB_SIDE, thumbnail_bytes
from core.archive.summary import engagement_by, likes_and_date, shorten
from core.cache import default_cache
from core.explore import imagenet_groups as ig
from core.explore.features import (
    DEFAULT_FEATURE_SET,
    FEATURE_SETS,
    CNNFeatures,
    compute_features,
    make_extractor,
)
from core.explore.photomap import (
    MIN_MAP_PHOTOS,
    PhotoMap,
    effective_perplexity,
    hdbscan_labels,
    kmeans_labels,
    map_figure,
    nearest_neighbours,
    silhouette_curve,
    suggest_k,
)
from core.image.geometry import crop_square
from core.image.io import UPLOAD_TYPES, ImageError, load_image
from core.jobs import Cancelled, TooFewPhotosError, WeightsUnavailableError
from ui.gallery import photo_grid
from ui.images import inline
from ui.share import sync
from ui.state import current_archive

GALLERY_COLUMNS = 6
GALLERY_MAX = 60
WEBGL_ABOVE = 1000
THUMBS_MAX = 300  # photos drawn on the map at most
THUMBS_DEFAULT_MAX = 60
STORE_BYTES = 1_500_000_000  # feature matrices kept in memory (raw pixels of 1,000 photos: 270 MB)
FAILED_TTL_S = 600  # don't retry a failed weights download for every new session
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")
CLUSTER_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5",
    "#dbdb8d", "#393b79",
]


def md(value: object) -> str:
    """User text escaped for Markdown."""
    return _MD_SPECIAL.sub(r"\\\1", str(value))


# -- caches shared by every session -------------------------------------------------


@st.cache_resource
def _feature_store() -> OrderedDict:
    """Computed feature matrices by (archive key, feature tag); LRU of 12."""
    return OrderedDict()


@st.cache_resource
def _failed_weights() -> dict:
    """Feature sets whose weights could not be downloaded: name -> (time, message)."""
    return {}


@st.cache_resource(show_spinner=False)
def _extractor(name: str, raw_size: int, random_weights: bool):
    """One extractor per feature set (a CNN keeps its network loaded)."""
    return make_extractor(name, raw_size=raw_size, weights=None if random_weights else "imagenet")


@st.cache_resource(show_spinner="Laying out the map (PCA, then t-SNE)…", max_entries=8)
def _fit_map(archive_key: str, tag: str, n_valid: int, perplexity: float, l2: bool, _features: np.ndarray) -> PhotoMap:
    return PhotoMap(perplexity=perplexity, l2_normalise=l2, random_state=0).fit(_features)


@st.cache_data(show_spinner="Scoring k from 2 to 15 (silhouette)…", max_entries=16)
def _silhouette(archive_key: str, tag: str, n_valid: int, _pca: np.ndarray) -> pd.DataFrame:
    return silhouette_curve(_pca, 2, 15, random_state=0)


@st.cache_data(show_spinner=False, max_entries=32)
def _clusters(archive_key: str, tag: str, n_valid: int, method: str, param: int, _pca: np.ndarray,
              _coords: np.ndarray) -> np.ndarray:
    if method == "HDBSCAN":
        return hdbscan_labels(_coords, min_cluster_size=param)
    return kmeans_labels(_pca, param, random_state=0)


@st.cache_data(show_spinner=False, max_entries=16)
def _thumb_uris(shas: tuple, paths: tuple) -> list[str | None]:
    """Small square JPEG data URIs of the photos, for drawing them on the map."""
    from core.image.io import encode_jpeg

    out: list[str | None] = []
    store = default_cache()
    for sha, path in zip(shas, paths):
        data = thumbnail_bytes(sha, path, store)
        if data is None:
            out.append(None)
            continue
        small = Image.fromarray(crop_square(load_image(data))).resize((72, 72), Image.Resampling.BILINEAR)
        out.append("data:image/jpeg;base64," + base64.b64encode(encode_jpeg(small, quality=80)).decode())
    return out


def _store_get(key):
    store = _feature_store()
    if key in store:
        store.move_to_end(key)
        return store[key]
    return None


def _store_put(key, value) -> None:
    """Keep the newest results, at most 12 and about STORE_BYTES of features."""
    store = _feature_store()
    store[key] = value
    store.move_to_end(key)

    def size() -> int:
        return sum(r.features.nbytes + (r.probs.nbytes if r.probs is not None else 0) for r in store.values())

    while len(store) > 1 and (len(store) > 12 or size() > STORE_BYTES):
        store.popitem(last=False)


def _recent_failure(name: str) -> str | None:
    failed = _failed_weights().get(name)
    if failed and time.time() - failed[0] < FAILED_TTL_S:
        return failed[1]
    return None


# -- page ---------------------------------------------------------------------------

archive = current_archive()
catalogue = archive.catalogue.reset_index(drop=True)
n_photos = len(catalogue)
cache = default_cache()

st.title("Explore")
st.caption(
    "A map of your photos: similar photos land close together. Features come from raw pixels, colour & texture, "
    "or a convolutional network; PCA and t-SNE flatten them to two dimensions; clusters and ImageNet labels "
    "colour the points. Drag on the map to select photos."
)
if archive.illustrative_engagement:
    st.caption(":material/info: Demo archive: likes, comments and dates are illustrative.")

if n_photos < MIN_MAP_PHOTOS:
    st.info(
        f"A map needs at least {MIN_MAP_PHOTOS} photos; this archive has {n_photos}. t-SNE places each photo "
        "among its nearest neighbours, and with so few photos there is nothing to arrange. Import a larger "
        "archive in the sidebar, or look at these photos on the Archive page.",
        icon=":material/scatter_plot:",
    )
    st.stop()

# The CNN is loaded (its ImageNet weights downloaded at first use) before the
# selector is drawn, so that when the download fails the selector can switch
# to a feature set that needs none, in this same run.
names = list(FEATURE_SETS)
if pending := st.session_state.pop("explore_pending_features", None):
    st.session_state["explore_features"] = pending
FEATURES_LINK = dict(key="explore_features", param="features", default=DEFAULT_FEATURE_SET, options=names)
sync(**FEATURES_LINK)
wanted = st.session_state["explore_features"]
if FEATURE_SETS[wanted].needs_weights and not st.session_state.get("explore_random_weights", False):
    failure = _recent_failure(wanted)
    if failure is None:
        loading = _extractor(wanted, 150, False)
        if not hasattr(loading, "model_"):
            try:
                with st.spinner(f"Loading {loading.spec.constructor} (its ImageNet weights download once)…"):
                    loading.ensure_fitted()
            except WeightsUnavailableError as exc:
                failure = str(exc)
                _failed_weights()[wanted] = (time.time(), failure)
    if failure is not None:
        st.session_state["explore_features"] = "colour_texture"
        st.session_state["explore_show_failure"] = wanted

controls = st.columns([3, 2, 2])
with controls[0]:
    feature_name = st.selectbox(
        "Features",
        names,
        format_func=lambda n: FEATURE_SETS[n].label,
        key=sync(**FEATURES_LINK),  # again: an offline fallback above may have changed it
        help="\n\n".join(f"**{s.label}**: {s.description}" for s in FEATURE_SETS.values()),
    )
spec = FEATURE_SETS[feature_name]
with controls[1]:
    raw_size = 150
    if spec.family == "raw":
        raw_size = st.slider("Raw pixel size (side)", 16, 224, 150, step=2, key="explore_raw_size",
                             help="The seed analysis used 150 × 150 × 3 = 67,500 numbers per photo.")
    elif spec.family == "cnn":
        st.toggle(
            "Random weights (no download)", key="explore_random_weights",
            help="Runs the network with random weights: checks the pipeline offline, but the map and labels "
                 "are meaningless.",
        )
random_weights = bool(st.session_state.get("explore_random_weights", False)) and spec.family == "cnn"

# Offline: say so, and offer the feature sets that need no download.
shown_failure = st.session_state.get("explore_show_failure")
if shown_failure and not spec.needs_weights and (message := _recent_failure(shown_failure)):
    with st.container(border=True):
        st.warning(md(message), icon=":material/cloud_off:")
        cols = st.columns([2, 2, 3])
        if cols[0].button("Try the download again", key="explore_retry"):
            _failed_weights().pop(shown_failure, None)
            st.session_state["explore_pending_features"] = shown_failure
            st.session_state.pop("explore_show_failure", None)
            st.rerun()
        if cols[1].button("Use random weights instead", key="explore_use_random",
                          help="The pipeline runs, but the map and labels are meaningless."):
            st.session_state["explore_pending_features"] = shown_failure
            st.session_state["explore_random_weights"] = True
            st.session_state.pop("explore_show_failure", None)
            st.rerun()
        cols[2].caption(f"Now showing **{spec.label}**, which needs no download. Raw pixels work offline too.")

extractor = _extractor(feature_name, int(raw_size), random_weights)
feature_key = (archive.key or archive.name, extractor.cache_tag)
cancel_key = f"explore_cancelled::{feature_key}"


def _cancel() -> None:
    st.session_state[cancel_key] = True


result = _store_get(feature_key)
if result is None and st.session_state.get(cancel_key):
    st.info(f"Computing **{spec.label}** features was cancelled. Photos already done are kept in the cache.",
            icon=":material/pause_circle:")
    if st.button("Start again", type="primary", key="explore_restart"):
        st.session_state.pop(cancel_key, None)
        st.rerun()
    st.stop()

if result is None:
    failure = None
    items = list(zip(catalogue["sha256"], catalogue["path"]))
    job_slot = st.empty()
    with job_slot.container(), st.status(f"Computing {spec.label} features for {n_photos} photos…",
                                         expanded=True) as status:
        bar = st.progress(0.0, text="Reading the cache…")
        st.button("Cancel", key="explore_cancel", on_click=_cancel,
                  help="Stops after the current batch; finished photos stay cached.")

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(done / max(total, 1), text=message)

        try:
            result = compute_features(items, extractor, cache=cache, progress=progress)
        except WeightsUnavailableError as exc:
            failure = str(exc)
        except Cancelled:
            failure = "cancelled"
        except Exception as exc:  # noqa: BLE001 - never a traceback on the page
            failure = f"Computing the features failed ({type(exc).__name__}: {exc})."
        if failure:
            status.update(label="Features not available", state="error", expanded=False)
    if not failure:
        job_slot.caption(f":material/check: {spec.label}: {result.computed} photo(s) computed, "
                         f"{result.reused} read from the cache.")
    if failure and spec.needs_weights and failure != "cancelled" and "ImageNet weights" in failure:
        _failed_weights()[feature_name] = (time.time(), failure)
        st.session_state["explore_pending_features"] = "colour_texture"
        st.session_state["explore_show_failure"] = feature_name
        st.rerun()
    if failure:
        st.error(md(failure))
        st.stop()
    _store_put(feature_key, result)

for note in result.notes:
    st.warning(md(note), icon=":material/broken_image:")
if random_weights:
    st.warning("Random weights: this map and its labels check the pipeline only; they say nothing about your "
               "photos.", icon=":material/casino:")

valid_rows = np.flatnonzero(result.valid)
rows = catalogue.iloc[valid_rows].reset_index(drop=True)
features = result.features[valid_rows]
n = len(rows)
if n < MIN_MAP_PHOTOS:
    st.info(f"Only {n} photo(s) could be read; a map needs at least {MIN_MAP_PHOTOS}.")
    st.stop()

# -- map and cluster controls ----------------------------------------------------------

max_perplexity = effective_perplexity(100, n)
with controls[2]:
    if max_perplexity >= 3:
        perplexity = st.slider(
            "Perplexity", 2, int(max_perplexity),
            key=sync("explore_perplexity", "perplexity", default=int(min(30, max_perplexity)),
                     bounds=(2, int(max_perplexity))),
            help=f"About how many neighbours each photo listens to. It must stay below (n − 1) / 3 = "
                 f"{(n - 1) / 3:.1f} for {n} photos.",
        )
    else:
        perplexity = max_perplexity
        st.caption(f"Perplexity {perplexity:g}: fixed by the number of photos ({n}).")

l2 = spec.family != "raw"
try:
    photo_map = _fit_map(feature_key[0], extractor.cache_tag, n, float(perplexity), l2, features)
except TooFewPhotosError as exc:
    st.info(str(exc))
    st.stop()
if photo_map.degenerate_:
    st.info("Every photo has the same features (identical photos?), so the map cannot order them: they are "
            "drawn on a circle.", icon=":material/content_copy:")
pca = photo_map.pca_features_
coords = photo_map.coords_

labels_known = result.probs is not None
if labels_known:
    top_idx, top_p = ig.top_k(result.probs[valid_rows], 5)
    top1 = [ig.class_name(i) for i in top_idx[:, 0]]
    groups = ig.class_to_group()[top_idx[:, 0]].astype(str)
    top5 = [", ".join(f"{ig.class_name(i)} {p:.0%}" for i, p in zip(ii, pp)) for ii, pp in zip(top_idx, top_p)]
else:
    top1 = groups = top5 = None
    top_p = None

cluster_cols = st.columns([2, 2, 3])
with cluster_cols[0]:
    methods = ["K-Means", "HDBSCAN"]
    method = st.segmented_control("Clusters", methods, required=True,
                                  key=sync("explore_cluster_method", "clusters", default="K-Means", options=methods),
                                  help="K-Means (on the PCA features) needs a k; HDBSCAN (on the map) finds "
                                       "the number of clusters itself and leaves outliers unclustered.")
curve = _silhouette(feature_key[0], extractor.cache_tag, n, pca) if not photo_map.degenerate_ else pd.DataFrame()
k_suggested = suggest_k(curve, default=1)
with cluster_cols[1]:
    k_max = int(min(20, max(2, n - 1)))
    if method == "HDBSCAN":
        top = int(max(3, min(50, n // 2)))
        param = st.slider("Smallest cluster", 2, top,
                          key=sync("explore_min_cluster", "min_cluster", default=int(min(5, max(2, n // 3))),
                                   bounds=(2, top)))
    else:
        param = st.slider("k (number of clusters)", 2, k_max,
                          key=sync(f"explore_k::{extractor.cache_tag}", "k",
                                   default=int(min(max(k_suggested, 2), k_max)), bounds=(2, k_max)),
                          help="Starts at the suggested k: the best silhouette score.")
    if not curve.empty:
        st.caption(f"Suggested k = **{k_suggested}** (highest silhouette score).")
with cluster_cols[2]:
    if not curve.empty:
        sil = go.Figure(go.Scatter(x=curve["k"], y=curve["silhouette"], mode="lines+markers",
                                   line={"color": "#1f77b4"}, hovertemplate="k=%{x}: %{y:.3f}<extra></extra>"))
        sil.add_vline(x=k_suggested, line_dash="dot", line_color="#d62728")
        sil.update_layout(height=150, margin={"l": 10, "r": 10, "t": 24, "b": 10}, title_text="Silhouette by k",
                          title_font_size=12, xaxis={"dtick": 1}, yaxis={"title": None})
        st.plotly_chart(sil, key="explore_silhouette", config={"displayModeBar": False})

clusters = _clusters(feature_key[0], extractor.cache_tag, n, method, int(param), pca, coords)
cluster_names = np.array([("outliers" if c < 0 else f"C{c + 1}") for c in clusters], dtype=object)

likes = rows["likes"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
likes_known = bool(np.isfinite(likes).any())
colour_options = ["Cluster"] + (["ImageNet group"] if labels_known else []) + (["Likes"] if likes_known else [])
view_cols = st.columns([3, 2, 5])
with view_cols[0]:
    colour_by = st.segmented_control("Colour by", colour_options, required=True,
                                     key=sync("explore_colour_by", "colour", default="Cluster",
                                              options=colour_options))
with view_cols[1]:
    size_by_likes = st.toggle("Size by likes", value=False, key="explore_size", disabled=not likes_known)
    show_thumbs = st.toggle("Photos on the map", value=n <= THUMBS_DEFAULT_MAX, key="explore_thumbs",
                            disabled=n > THUMBS_MAX,
                            help=f"Draws each photo at its place (up to {THUMBS_MAX} photos).") and n <= THUMBS_MAX
highlight = None
with view_cols[2]:
    if labels_known:
        present = pd.Series(groups).value_counts()
        order = [g for g in ig.group_names() if g in present.index]
        highlight = st.pills("Highlight an ImageNet group", order, selection_mode="single", key="explore_group",
                             format_func=lambda g: f"{g} ({present[g]})")
    else:
        st.caption("ImageNet groups need a CNN feature set with ImageNet weights.")

# -- "where would this photo land?" (computed before the map so it can be drawn on it) --

placed = None
upload = st.session_state.get("explore_upload")
upload_error = None
placed_key = None if upload is None else (upload.file_id, feature_key, float(perplexity), n)
if upload is not None and st.session_state.get("explore_placed_key") == placed_key:
    placed = st.session_state.get("explore_placed")  # same photo, same map: reuse
elif upload is not None:
    try:
        new_image = load_image(upload.getvalue(), max_side=THUMB_SIDE)
        if isinstance(extractor, CNNFeatures):
            new_feat, new_probs = extractor.transform_with_probs([new_image])
        else:
            new_feat, new_probs = extractor.fit().transform([new_image]), None
        new_xy = photo_map.transform(new_feat)[0]
        nn_idx, nn_dist = nearest_neighbours(pca, photo_map.reduce(new_feat), k=min(6, n))
        new_label = None
        if new_probs is not None and labels_known:
            i = int(np.argmax(new_probs[0]))
            new_label = f"{ig.class_name(i)} ({ig.group_of(i)}, {new_probs[0, i]:.0%})"
        placed = {"xy": new_xy, "nn": nn_idx[0], "dist": nn_dist[0], "label": new_label, "name": upload.name,
                  "image": new_image}
        st.session_state["explore_placed_key"], st.session_state["explore_placed"] = placed_key, placed
    except ImageError as exc:
        upload_error = f"{upload.name}: {exc}"
    except Exception as exc:  # noqa: BLE001
        upload_error = f"{upload.name}: could not place this photo ({type(exc).__name__}: {exc})"

# -- the map ----------------------------------------------------------------------------


def _point_size() -> np.ndarray:
    if show_thumbs and not size_by_likes:
        return np.full(n, 8.0)
    if size_by_likes and likes_known:
        filled = np.nan_to_num(likes, nan=0.0)
        return 6 + 18 * np.sqrt(filled / max(filled.max(), 1.0))
    return np.full(n, 13.0 if n <= 50 else 9.0 if n <= 300 else 6.0 if n <= 3000 else 4.0)


def _customdata() -> np.ndarray:
    like_text = ["unknown" if not np.isfinite(v) else f"{int(v):,}" for v in likes]
    label = top1 if labels_known else ["–"] * n
    group = list(groups) if labels_known else ["–"] * n
    # Plotly reads hover text as a little HTML: user text (file names) is escaped.
    return np.column_stack([np.arange(n), rows["file"].astype(str).map(html.escape).to_numpy(), label, group,
                            cluster_names, like_text]).astype(object)


def build_figure() -> go.Figure:
    custom = _customdata()
    size = _point_size()
    xy = np.round(coords.astype(float), 3)
    hover = ("<b>%{customdata[1]}</b><br>%{customdata[2]} · %{customdata[3]}<br>cluster %{customdata[4]}"
             " · likes %{customdata[5]}<extra></extra>")
    common = dict(sizes=size, customdata=custom, hovertemplate=hover, webgl_above=WEBGL_ABOVE,
                  title=f"t-SNE of {spec.label} · {n} photos · perplexity {photo_map.perplexity_:g}",
                  legend_title=colour_by)
    if highlight and labels_known:
        common.update(highlight=np.asarray(groups) == highlight, highlight_name=f"{highlight} (highlighted)",
                      highlight_colour=ig.group_colours()[highlight])
    if colour_by == "Likes":
        fig = map_figure(coords, values=likes, value_label="likes", **common)
    elif colour_by == "ImageNet group":
        fig = map_figure(coords, np.asarray(groups), order=ig.group_names(), palette=ig.group_colours(), **common)
    else:
        uniq = sorted(set(cluster_names), key=lambda c: (c == "outliers", int(c[1:]) if c.startswith("C") else 0))
        palette = {c: ("#bbbbbb" if c == "outliers" else CLUSTER_COLOURS[i % len(CLUSTER_COLOURS)])
                   for i, c in enumerate(uniq)}
        fig = map_figure(coords, cluster_names, order=uniq, palette=palette, **common)
    if show_thumbs:
        span = float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1e-6))
        side = span * (0.09 if n <= 30 else 0.06 if n <= 100 else 0.035)
        for (x, y), uri in zip(xy, _thumb_uris(tuple(rows["sha256"]), tuple(rows["path"]))):
            if uri:
                fig.add_layout_image(source=uri, x=x, y=y, xref="x", yref="y", sizex=side, sizey=side,
                                     xanchor="center", yanchor="middle", layer="below", opacity=0.9)
        every = xy if placed is None else np.vstack([xy, np.asarray(placed["xy"], float)[None, :]])
        fig.update_xaxes(range=[every[:, 0].min() - side, every[:, 0].max() + side])
        fig.update_yaxes(range=[every[:, 1].min() - side, every[:, 1].max() + side])
    if placed is not None:
        fig.add_trace(go.Scatter(
            x=[float(placed["xy"][0])], y=[float(placed["xy"][1])], mode="markers+text", name="your photo",
            text=["your photo"], textposition="top center",
            customdata=[[-1, html.escape(placed["name"]), placed["label"] or "–", "–", "–", "–"]],
            hovertemplate="<b>your photo</b><br>%{customdata[1]}<extra></extra>",
            marker={"symbol": "star", "size": 22, "color": "gold", "line": {"width": 1.5, "color": "black"}},
        ))
    return fig


map_slot = st.container()
gallery_slot = st.container(key="explore_gallery")

# -- tabs below the gallery ---------------------------------------------------------------

frame = pd.DataFrame({
    "post_id": rows["post_id"], "position": rows["position"], "file": rows["file"],
    "x": np.round(coords[:, 0].astype(float), 4), "y": np.round(coords[:, 1].astype(float), 4),
    "cluster": cluster_names, "likes": rows["likes"], "comments": rows["comments"],
    "timestamp": rows["timestamp"], "sha256": rows["sha256"],
})
if labels_known:
    frame["imagenet_top1"] = top1
    frame["imagenet_top1_p"] = np.round(top_p[:, 0], 4)
    frame["imagenet_group"] = groups
    frame["imagenet_top5"] = top5
frame["features"] = extractor.cache_tag

tab_eng, tab_labels, tab_new, tab_export = st.tabs(
    ["Engagement", "ImageNet labels", "Where would this photo land?", "Export"]
)


with tab_eng:
    suffix = " (illustrative)" if archive.illustrative_engagement else ""
    st.caption(f"Engagement per cluster{' and per ImageNet group' if labels_known else ''}: which kinds of "
               f"photos do best{suffix}.")
    ENGAGEMENT_FORMAT = {"median_likes": st.column_config.NumberColumn(format="%.0f"),
                         "median_comments": st.column_config.NumberColumn(format="%.0f"),
                         "mean_likes": st.column_config.NumberColumn(format="%.1f")}
    cols = st.columns(2 if labels_known else 1)
    with cols[0]:
        st.markdown("**Per cluster**")
        per_cluster = engagement_by(frame, "cluster", typical="imagenet_group" if labels_known else None)
        st.dataframe(per_cluster.rename(columns={"typical imagenet_group": "typical ImageNet group"}),
                     hide_index=True, key="explore_eng_cluster",
                     column_config=ENGAGEMENT_FORMAT)
    if labels_known:
        with cols[1]:
            st.markdown("**Per ImageNet group**")
            st.dataframe(engagement_by(frame, "imagenet_group"), hide_index=True, key="explore_eng_group",
                         column_config=ENGAGEMENT_FORMAT)

with tab_labels:
    if not labels_known:
        st.info("ImageNet labels come with the CNN feature sets (MobileNetV3, EfficientNet, VGG19) and their "
                "ImageNet weights. Pick one above.", icon=":material/label:")
    else:
        st.caption("Top-1 ImageNet class of each photo, grouped by the mapping Feedlens ships "
                   "(core/explore/data/imagenet_groups.json): group → class.")
        counts = frame.groupby(["imagenet_group", "imagenet_top1"]).size().reset_index(name="photos")
        sun = go.Figure(go.Sunburst(
            labels=list(counts["imagenet_group"].unique()) + [f"{c} " for c in counts["imagenet_top1"]],
            ids=list(counts["imagenet_group"].unique()) + [f"{g}/{c}" for g, c in
                                                           zip(counts["imagenet_group"], counts["imagenet_top1"])],
            parents=[""] * counts["imagenet_group"].nunique() + list(counts["imagenet_group"]),
            values=list(counts.groupby("imagenet_group", sort=False)["photos"].sum()) + list(counts["photos"]),
            branchvalues="total",
            marker={"colors": [ig.group_colours().get(g, "#ccc") for g in counts["imagenet_group"].unique()]
                    + [ig.group_colours().get(g, "#ccc") for g in counts["imagenet_group"]]},
            hovertemplate="%{label}: %{value} photo(s)<extra></extra>",
        ))
        sun.update_layout(height=420, margin={"l": 0, "r": 0, "t": 10, "b": 0})
        st.plotly_chart(sun, key="explore_sunburst")
        st.dataframe(frame[["file", "imagenet_top1", "imagenet_top1_p", "imagenet_group", "imagenet_top5"]],
                     hide_index=True, key="explore_label_table",
                     column_config={"imagenet_top1_p": st.column_config.ProgressColumn(
                         "p(top-1)", min_value=0.0, max_value=1.0, format="%.2f")})

with tab_new:
    st.caption("Upload a photo: it is embedded with the same features and placed on the existing map by "
               "openTSNE (a gold star), next to its nearest posts.")
    st.file_uploader("A new photo", type=UPLOAD_TYPES, key="explore_upload")
    if upload_error:
        st.error(md(upload_error))
    elif placed is not None:
        cols = st.columns([1, 3])
        cols[0].image(inline(crop_square(placed["image"])), caption="your photo", width="stretch")
        with cols[1]:
            if placed["label"]:
                st.text(f"ImageNet: {placed['label']}")
            near = rows.iloc[placed["nn"]]
            st.markdown("**Nearest posts**")
            near_cols = st.columns(len(near))
            for col, (_, row), dist in zip(near_cols, near.iterrows(), placed["dist"]):
                thumb = thumbnail_bytes(row["sha256"], row["path"], cache)
                if thumb is not None:
                    col.image(inline(crop_square(load_image(thumb))), width="stretch")
                likes_text = "likes unknown" if pd.isna(row["likes"]) else f"♥ {row['likes']:,}"
                col.text(f"{row['file']}\n{likes_text}")

with tab_export:
    st.caption("Map coordinates, clusters and labels of every photo.")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"feedlens_map_{archive.name}_{feature_name}")
    cols = st.columns(2)
    cols[0].download_button("Download CSV", frame.to_csv(index=False).encode("utf-8"), file_name=f"{stem}.csv",
                            mime="text/csv", key="explore_csv", icon=":material/download:")
    parquet = io.BytesIO()
    frame.to_parquet(parquet, index=False)
    cols[1].download_button("Download Parquet", parquet.getvalue(), file_name=f"{stem}.parquet",
                            mime="application/vnd.apache.parquet", key="explore_parquet",
                            icon=":material/download:")
    st.dataframe(frame.drop(columns=["sha256"]), hide_index=True, key="explore_export_table")

# -- map and gallery (drawn in their slots above the tabs) --------------------------------

with map_slot:
    event = st.plotly_chart(
        build_figure(), key="explore_map", on_select="rerun", selection_mode=("points", "box", "lasso"),
        config={"scrollZoom": False, "displaylogo": False},
    )

selected: list[int] = []
if event is not None and event.get("selection"):
    for point in event["selection"].get("points", []):
        data = point.get("customdata")
        if data is not None and len(data) and int(data[0]) >= 0:
            selected.append(int(data[0]))
selected = sorted(set(selected))

with gallery_slot:
    if not selected:
        st.info("Drag a box on the map (or use the lasso in the toolbar, or click a point) to see the photos "
                "here.", icon=":material/touch_app:")
    else:
        chosen = rows.iloc[selected]
        sel_likes = chosen["likes"].dropna()
        summary = f"{len(chosen)} selected photo(s)"
        if len(sel_likes) and likes_known:
            summary += (f" · median likes {sel_likes.median():,.0f} (whole archive "
                        f"{rows['likes'].dropna().median():,.0f})")
        st.subheader("Selection")
        st.caption(summary)
        shown = chosen.iloc[:GALLERY_MAX]

        def gallery_text(i, row) -> str:
            lines = [f"{likes_and_date(row['likes'], row['timestamp'])} · {cluster_names[i]}"]
            if labels_known:
                lines.append(f"{top1[i]} ({groups[i]})")
            lines.append(shorten(row["caption"], 120))
            return "\n".join(lines)

        photo_grid(shown, GALLERY_COLUMNS, gallery_text)
        if len(chosen) > GALLERY_MAX:
            st.caption(f"Showing the first {GALLERY_MAX} of {len(chosen)}; export the table for all.")
