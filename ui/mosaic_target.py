"""The Mosaic page's target picture: an archive photo or an upload, and the output size.

Targets are decoded once (``st.cache_data``) at most :data:`TARGET_SIDE`
pixels; the output sizes are print and screen presets, turned to match the
target by :func:`core.mosaic.grid.print_size`.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np
import pandas as pd
import streamlit as st

from core.image.geometry import fit_longest_side
from core.image.io import UPLOAD_TYPES, ImageError, load_image
from core.mosaic.build import TARGET_SIDE
from core.mosaic.grid import print_size
from ui.images import inline
from ui.share import sync

__all__ = ["TARGET_SIDE", "PRESETS", "PRESET_LABELS", "Target", "choose_target", "archive_target",
           "uploaded_target", "display_image"]


#: (label, width px, height px, dpi) -- portrait sizes; turned to match the target. None = the target's shape.
PRESETS: list[tuple[str, int | None, int | None, int | None]] = [
    ("Same shape as the target · 3000 px long side", None, None, None),
    ("Instagram portrait · 1080 × 1350 px", 1080, 1350, None),
    ("A4 · 150 dpi · 1240 × 1754 px", 1240, 1754, 150),
    ("A4 · 300 dpi · 2480 × 3508 px", 2480, 3508, 300),
    ("A3 · 300 dpi · 3508 × 4961 px", 3508, 4961, 300),
    ("Poster 50 × 70 cm · 150 dpi · 2953 × 4134 px", 2953, 4134, 150),
    ("Poster 50 × 70 cm · 300 dpi · 5906 × 8268 px", 5906, 8268, 300),
    ("Custom size", 0, 0, None),
]
PRESET_LABELS = [p[0] for p in PRESETS]


class Target(NamedTuple):
    """The chosen target and output size."""

    image: np.ndarray
    digest: str  # the archive photo's sha256, or the upload's
    sha: str | None  # the archive photo's sha256 (None when uploaded)
    exclude: bool  # leave it out of the tiles
    box: tuple[int, int]  # the output's width and height in pixels
    dpi: int | None


@st.cache_data(show_spinner=False, max_entries=8)
def archive_target(sha: str, path: str) -> np.ndarray:
    """An archive photo as a target, at most :data:`TARGET_SIDE` px."""
    return load_image(path, max_side=TARGET_SIDE)


@st.cache_data(show_spinner=False, max_entries=8)
def uploaded_target(digest: str, data: bytes) -> np.ndarray:
    """An uploaded target, at most :data:`TARGET_SIDE` px."""
    return load_image(data, max_side=TARGET_SIDE)


@st.cache_data(show_spinner=False, max_entries=8)
def display_image(digest: str, _image: np.ndarray) -> np.ndarray:
    """The target at most 1024 px, for the page."""
    return fit_longest_side(_image, 1024)


def choose_target(photos: pd.DataFrame) -> Target:
    """Section 1 of the page: the target picture (from the archive or uploaded) and the output size.

    Stops the page (``st.stop``) until there is a target.
    """
    st.subheader("1 · Target picture")
    left, right = st.columns([2, 3], gap="large")
    target, digest, sha = None, "", None
    with left:
        sources = ["Archive photo", "Upload"]
        source = st.segmented_control("Target", sources, required=True, key=sync(
            "mosaic_target_source", "target_from", default=sources[0], options=sources))
        if source == "Upload":
            upload = st.file_uploader("Target picture", type=UPLOAD_TYPES, key="mosaic_upload")
            if upload is not None:
                data = upload.getvalue()
                digest = hashlib.sha256(data).hexdigest()
                try:
                    target = uploaded_target(digest, data)
                except ImageError as exc:
                    st.error(f"{upload.name}: {exc}", icon=":material/broken_image:")
        else:
            options = list(range(len(photos)))
            pick = st.selectbox(
                "Photo from the archive", options, key=sync("mosaic_target_pick", "target", default=0, options=options),
                format_func=lambda i: f"{photos.at[i, 'file']} · {str(photos.at[i, 'caption'] or '')[:50]}",
            )
            row = photos.iloc[int(pick)]
            sha = digest = str(row["sha256"])
            try:
                target = archive_target(sha, str(row["path"]))
            except ImageError as exc:
                st.error(f"{row['file']}: {exc}", icon=":material/broken_image:")
        exclude = st.checkbox("Leave the target out of the tiles", key=sync("mosaic_exclude", "exclude", default=True),
                              disabled=sha is None, help="Build the picture only from the other photos of the archive.")
        label = st.selectbox("Output size", PRESET_LABELS,
                             key=sync("mosaic_preset", "size", default=PRESET_LABELS[0], options=PRESET_LABELS),
                             help="Print sizes are turned to match the target (portrait or landscape).")
        _, pw, ph, dpi = PRESETS[PRESET_LABELS.index(label)]
        if pw == 0:
            c1, c2 = st.columns(2)
            pw = c1.number_input("Width (px)", 64, 20_000, step=100,
                                 key=sync("mosaic_custom_w", "width", default=3000, bounds=(64, 20_000)))
            ph = c2.number_input("Height (px)", 64, 20_000, step=100,
                                 key=sync("mosaic_custom_h", "height", default=2000, bounds=(64, 20_000)))
    if target is None:
        with right:
            st.info("Upload a target picture (JPEG, PNG, WebP…) or pick one from the archive.")
        st.stop()
    with right:
        st.image(inline(display_image(digest, target)), width=420)
        st.caption(f"Target: {target.shape[1]} × {target.shape[0]} px (as used here).")
    box = print_size(target.shape[1] / target.shape[0], pw, ph, turn=label != PRESET_LABELS[-1])
    return Target(target, digest, sha, exclude, box, dpi)
