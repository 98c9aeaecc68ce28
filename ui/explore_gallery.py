"""The Explore map's selection: the gallery under the map, and the photo beside a lean map.

Photos are read for what is shown only: the gallery's page (60 photos) and
the one photo beside the map, never the whole selection.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from core.archive.summary import likes_and_date, shorten
from core.explore.figure import central_row
from core.explore.tables import likes_of
from ui.gallery import photo_grid

__all__ = ["GALLERY_COLUMNS", "GALLERY_MAX", "picked_photo", "gallery"]

GALLERY_COLUMNS = 6
GALLERY_MAX = 60


def picked_photo(rows: pd.DataFrame, table: pd.DataFrame, selected: list[int]) -> None:
    """Beside a lean map (no hover): the selected photo nearest the selection's centre, read now, with its text."""
    if not selected:
        st.caption("Drag a small box around a point to see its photo here.")
        return
    i = central_row(table[["x", "y"]].to_numpy(), selected)
    photo_grid(rows.iloc[[i]], 1, lambda _, r: "\n".join([
        str(r["file"]), f"{likes_and_date(r['likes'], r['timestamp'])} · {table['cluster'].iloc[i]}",
        shorten(r["caption"], 200)]))
    if len(selected) > 1:
        st.caption(f"The one nearest the middle of {len(selected):,} selected; all are below.")


def gallery(rows: pd.DataFrame, table: pd.DataFrame, selected: list[int]) -> None:
    if not selected:
        st.info("Drag a box on the map (or use the lasso in the toolbar) to see the photos "
                "here.", icon=":material/touch_app:")
        return
    chosen = rows.iloc[selected]
    summary = f"{len(chosen)} selected photo(s)"
    if len(chosen["likes"].dropna()) and np.isfinite(likes_of(rows)).any():
        summary += (f" · median likes {chosen['likes'].dropna().median():,.0f} (whole archive "
                    f"{rows['likes'].dropna().median():,.0f})")
    st.subheader("Selection")
    st.caption(summary)

    def text(i, row) -> str:
        lines = [f"{likes_and_date(row['likes'], row['timestamp'])} · {table['cluster'].iloc[i]}"]
        if "imagenet_top1" in table.columns:
            lines.append(f"{table['imagenet_top1'].iloc[i]} ({table['imagenet_group'].iloc[i]})")
        lines.append(shorten(row["caption"], 120))
        return "\n".join(lines)

    pages = -(-len(chosen) // GALLERY_MAX)
    page = 1
    if pages > 1:
        page = int(st.number_input(f"Page (of {pages:,})", 1, pages, 1, key="explore_gallery_page"))
        first = (page - 1) * GALLERY_MAX
        st.caption(f"Photos {first + 1:,}–{min(first + GALLERY_MAX, len(chosen)):,} of {len(chosen):,}; "
                   "the Export tab has them all.")
    photo_grid(chosen.iloc[(page - 1) * GALLERY_MAX : page * GALLERY_MAX], GALLERY_COLUMNS, text)
