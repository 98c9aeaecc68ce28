"""A grid of square photo thumbnails with a text block under each (Archive, Explore, Forecast)."""

from __future__ import annotations

import base64
from typing import Callable, Hashable

import pandas as pd
import streamlit as st

from core.archive.ingest import thumbnail_bytes
from core.cache import default_cache
from core.image.geometry import crop_square
from core.image.io import ImageError, encode_jpeg, load_image

__all__ = ["photo_grid"]


@st.cache_data(show_spinner=False, max_entries=4096)
def _square_uri(sha256: str, path: str) -> str | None:
    """The photo's square thumbnail as a ``data:`` URI.

    Inline images travel with the page, so the browser never asks the server
    for a media file that a newer run of the page has already replaced (under
    load, such requests came back 404 as broken images), and the server keeps
    no per-session media for the grid.
    """
    thumb = thumbnail_bytes(sha256, path, default_cache())
    if thumb is None:
        return None
    try:
        square = crop_square(load_image(thumb))
    except ImageError:
        return None
    return "data:image/jpeg;base64," + base64.b64encode(encode_jpeg(square, quality=82)).decode("ascii")


def photo_grid(rows: pd.DataFrame, columns: int, text_of: Callable[[Hashable, pd.Series], str]) -> None:
    """Draw ``rows`` (catalogue rows) as a grid; ``text_of(index, row)`` is shown as plain text."""
    for start in range(0, len(rows), columns):
        for col, (index, row) in zip(st.columns(columns), rows.iloc[start : start + columns].iterrows()):
            with col:
                uri = _square_uri(str(row["sha256"]), str(row["path"]))
                if uri is not None:
                    st.image(uri, width="stretch")
                st.text(text_of(index, row))
