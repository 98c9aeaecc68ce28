"""What both tabs of the Faces page use: the shared face engine (or why not), short texts, previews."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.archive.ingest import thumbnail_bytes
from core.cache import default_cache
from core.faces.engine import FaceEngine
from core.image.io import ImageError, load_image
from core.jobs import ModelUnavailableError
from ui.resources import face_engine

__all__ = ["engine_or_error", "short", "plural", "likes_text", "preview"]


def engine_or_error() -> FaceEngine | None:
    """The server's one face engine, or ``None`` after showing why it cannot load."""
    try:
        return face_engine()
    except ModelUnavailableError as exc:  # DlibModelError included
        st.error(f"The face models are not available, so faces cannot be found.\n\n{exc}",
                 icon=":material/error:")
    return None


def short(text: object, n: int = 80) -> str:
    """``text`` on one line, cut to ``n`` characters with an ellipsis."""
    text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    text = " ".join(text.split())
    return text[:n] + ("…" if len(text) > n else "")


def plural(n: int, word: str) -> str:
    """``"1 face"``, ``"2 faces"``."""
    return f"{n} {word}" + ("" if n == 1 else "s")


def likes_text(value: float, *, compact: bool = False) -> str:
    """``"♥ 1,234"`` (``"♥ 12k"`` when compact), or "likes unknown"."""
    if value is None or pd.isna(value):
        return "likes unknown"
    if compact and value >= 1e6:
        return f"♥ {value / 1e6:.1f}M"
    if compact and value >= 1e4:
        return f"♥ {value / 1e3:.0f}k"
    return f"♥ {value:,.0f}"


@st.cache_data(max_entries=64, show_spinner=False)
def preview(sha256: str, path: str) -> np.ndarray | None:
    """A photo at most 640 px wide (the cached thumbnail if the file is gone)."""
    try:
        return load_image(path, max_side=640)
    except (ImageError, OSError):
        thumb = thumbnail_bytes(sha256, path, default_cache())
        return load_image(thumb) if thumb is not None else None
