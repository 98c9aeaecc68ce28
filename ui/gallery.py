"""A grid of square photo thumbnails with a text block under each (Archive, Explore)."""

from __future__ import annotations

from typing import Callable, Hashable

import pandas as pd
import streamlit as st

from core.cache import default_cache
from core.imageio import crop_square, load_image
from core.ingest import thumbnail_bytes

__all__ = ["photo_grid"]


def photo_grid(rows: pd.DataFrame, columns: int, text_of: Callable[[Hashable, pd.Series], str]) -> None:
    """Draw ``rows`` (catalogue rows) as a grid; ``text_of(index, row)`` is shown as plain text."""
    cache = default_cache()
    for start in range(0, len(rows), columns):
        for col, (index, row) in zip(st.columns(columns), rows.iloc[start : start + columns].iterrows()):
            with col:
                thumb = thumbnail_bytes(row["sha256"], row["path"], cache)
                if thumb is not None:
                    st.image(crop_square(load_image(thumb)), width="stretch")
                st.text(text_of(index, row))
