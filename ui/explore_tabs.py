"""Explore page glue for the tabs under the map: engagement, ImageNet labels, a new photo, export.

The tables and figures come from core (:mod:`core.explore.tables`,
:mod:`core.explore.figure`); these functions only lay them out.
"""

from __future__ import annotations

import io
import re

import pandas as pd
import streamlit as st

from core.explore.figure import standalone_html, sunburst_figure
from core.explore.placement import Placement
from core.explore.tables import cluster_engagement, group_engagement
from core.image.geometry import crop_square
from core.image.io import UPLOAD_TYPES
from ui.gallery import photo_grid
from ui.images import inline
from ui.text import md

__all__ = ["engagement_tab", "labels_tab", "new_photo_tab", "export_tab"]

ENGAGEMENT_FORMAT = {"median_likes": st.column_config.NumberColumn(format="%.0f"),
                     "median_comments": st.column_config.NumberColumn(format="%.0f"),
                     "mean_likes": st.column_config.NumberColumn(format="%.1f")}


def engagement_tab(table: pd.DataFrame, illustrative: bool) -> None:
    labelled = "imagenet_group" in table.columns
    suffix = " (illustrative)" if illustrative else ""
    st.caption(f"Engagement per cluster{' and per ImageNet group' if labelled else ''}: which kinds of "
               f"photos do best{suffix}.")
    cols = st.columns(2 if labelled else 1)
    cols[0].markdown("**Per cluster**")
    cols[0].dataframe(cluster_engagement(table), hide_index=True, key="explore_eng_cluster",
                      column_config=ENGAGEMENT_FORMAT)
    if labelled:
        cols[1].markdown("**Per ImageNet group**")
        cols[1].dataframe(group_engagement(table), hide_index=True, key="explore_eng_group",
                          column_config=ENGAGEMENT_FORMAT)


def labels_tab(table: pd.DataFrame) -> None:
    if "imagenet_group" not in table.columns:
        st.info("ImageNet labels come with the CNN feature sets (MobileNetV3, EfficientNet, VGG19) and their "
                "ImageNet weights. Pick one above.", icon=":material/label:")
        return
    st.caption("Top-1 ImageNet class of each photo, grouped by the mapping Feedlens ships "
               "(core/explore/data/imagenet_groups.json): group → class.")
    st.plotly_chart(sunburst_figure(table), key="explore_sunburst")
    st.dataframe(table[["file", "imagenet_top1", "imagenet_top1_p", "imagenet_group", "imagenet_top5"]],
                 hide_index=True, key="explore_label_table",
                 column_config={"imagenet_top1_p": st.column_config.ProgressColumn(
                     "p(top-1)", min_value=0.0, max_value=1.0, format="%.2f")})


def new_photo_tab(rows: pd.DataFrame, placed: Placement | None, upload_error: str | None) -> None:
    st.caption("Upload a photo: it is embedded with the same features and placed on the existing map by "
               "openTSNE (a gold star), next to its nearest posts.")
    st.file_uploader("A new photo", type=UPLOAD_TYPES, key="explore_upload")
    if upload_error:
        st.error(md(upload_error))
    elif placed is not None:
        _show_nearest(rows, placed)


def export_tab(table: pd.DataFrame, archive_name: str, feature_name: str, figure=None) -> None:
    st.caption("Map coordinates, clusters, labels and dates of every photo (CSV, Parquet for pandas, DuckDB or "
               "Arrow), and the map itself as one HTML file that opens offline (zoom, pan, hover).")
    stem = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"feedlens_map_{archive_name}_{feature_name}")
    cols = st.columns(3)
    # Every file is written when its button is clicked, not on every run.
    cols[0].download_button("Download CSV", lambda: table.to_csv(index=False).encode("utf-8"),
                            file_name=f"{stem}.csv", mime="text/csv", key="explore_csv", icon=":material/download:",
                            on_click="ignore")

    def parquet() -> bytes:
        buffer = io.BytesIO()
        table.to_parquet(buffer, index=False)
        return buffer.getvalue()

    cols[1].download_button("Download Parquet", parquet, file_name=f"{stem}.parquet",
                            mime="application/vnd.apache.parquet", key="explore_parquet", icon=":material/download:",
                            on_click="ignore")
    if figure is not None:
        # plotly.js alone is 4.6 MB.
        cols[2].download_button("Download map (HTML)", lambda: standalone_html(figure, f"Feedlens map: {archive_name}"),
                                file_name=f"{stem}.html", mime="text/html", key="explore_html",
                                icon=":material/download:", on_click="ignore")
    st.dataframe(table.drop(columns=["sha256"]), hide_index=True, key="explore_export_table")


def _show_nearest(rows: pd.DataFrame, placed: Placement) -> None:
    """The placed photo, its ImageNet label and its nearest posts (``rows``: the mapped catalogue rows)."""
    cols = st.columns([1, 3])
    cols[0].image(inline(crop_square(placed.image)), caption="your photo", width="stretch")
    with cols[1]:
        if placed.imagenet_label:
            st.text(f"ImageNet: {placed.imagenet_label}")
        st.markdown("**Nearest posts**")
        near = rows.iloc[placed.neighbours]

        def text(_, row) -> str:
            likes = "likes unknown" if pd.isna(row["likes"]) else f"♥ {row['likes']:,}"
            return f"{row['file']}\n{likes}"

        photo_grid(near, len(near), text)
