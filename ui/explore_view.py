"""The Explore map's view controls: what colours the points, their sizes, photos on the map, a highlight."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.explore import imagenet_groups as ig
from core.explore.tables import likes_of
from core.faces.people import photo_person_labels
from ui.share import sync

__all__ = ["THUMBS_MAX", "THUMBS_DEFAULT_MAX", "view_controls", "with_people"]

THUMBS_MAX = 300  # photos drawn on the map at most
THUMBS_DEFAULT_MAX = 60


def view_controls(table: pd.DataFrame) -> dict:
    """Colouring, sizes, photos on the map and a highlighted ImageNet group."""
    n, labelled = len(table), "imagenet_group" in table.columns
    likes_known = bool(np.isfinite(likes_of(table)).any())
    options = ["Cluster"] + (["ImageNet group"] if labelled else []) + ["Person"] + (["Likes"] if likes_known else [])
    cols = st.columns([3, 2, 5])
    view = {"colour_by": cols[0].segmented_control(
        "Colour by", options, required=True, key=sync("explore_colour_by", "colour", default="Cluster",
                                                       options=options))}
    with cols[1]:
        view["size_by_likes"] = st.toggle("Size by likes", value=False, key="explore_size",
                                          disabled=not likes_known)
        thumbs = st.toggle("Photos on the map", value=n <= THUMBS_DEFAULT_MAX, key="explore_thumbs",
                           disabled=n > THUMBS_MAX, help=f"Draws each photo at its place (up to {THUMBS_MAX} photos).")
        view["thumbs"] = thumbs and n <= THUMBS_MAX
    view["highlight"] = None
    with cols[2]:
        if labelled:
            present = table["imagenet_group"].value_counts()
            order = [g for g in ig.group_names() if g in present.index]
            view["highlight"] = st.pills("Highlight an ImageNet group", order, selection_mode="single",
                                         key="explore_group", format_func=lambda g: f"{g} ({present[g]})")
        else:
            st.caption("ImageNet groups need a CNN feature set with ImageNet weights.")
    return view


def with_people(table: pd.DataFrame, catalogue: pd.DataFrame, archive_key: str) -> pd.DataFrame:
    """The map's table with who is in each photo (``person``), from the Faces page's index and names."""
    people = photo_person_labels(catalogue, archive_key)
    if people.empty:
        st.caption("No face index yet: build it on the Faces page to colour the map by person.")
        return table
    return table.assign(person=table["sha256"].map(people).fillna("not indexed"))
