"""The Archive page's Duplicates tab: each picture posted more than once, its original first."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.archive.duplicates import duplicate_groups
from core.archive.summary import likes_and_date, shorten
from ui.gallery import photo_grid

__all__ = ["duplicate_count", "duplicates_section"]

GRID_COLUMNS = 6
GROUPS_PER_PAGE = 8


def duplicate_count(catalogue: pd.DataFrame) -> int:
    """Later copies in the catalogue (0 for a catalogue made before duplicates were looked for)."""
    return int(catalogue["duplicate_of"].notna().sum()) if "duplicate_of" in catalogue.columns else 0


def _photo_text(row: pd.Series) -> str:
    role = "Original" if row["is_original"] else ("Exact copy" if row["exact"] else "Edited copy")
    return (f"{role} · {likes_and_date(row['likes'], row['timestamp'])}\npost {shorten(str(row['post_id']), 40)}\n"
            f"{shorten(row['caption'], 90)}")


def duplicates_section(catalogue: pd.DataFrame) -> None:
    """Summary, then every group of copies as a row of thumbnails (original first), a page at a time."""
    if "duplicate_of" not in catalogue.columns:
        st.info("This catalogue was made before Feedlens looked for duplicates; import the archive again.")
        return
    groups = duplicate_groups(catalogue)
    if groups.empty:
        st.success("No picture is posted twice: each photo counts once.", icon=":material/check_circle:")
        return
    copies = groups[~groups["is_original"]]
    n_groups = groups["group"].nunique()
    st.text(f"{n_groups} picture(s) posted more than once: {len(copies)} later copies "
            f"({int(copies['exact'].sum())} exact, {int((~copies['exact']).sum())} edited: re-encoded, resized, "
            "cropped, brightened or filtered).")
    st.caption("Explore and Forecast count each picture once, at its first post (the original); the catalogue's "
               "`duplicate_of` column names the original's sha256. Exact copies are also listed under Problems.")
    order = list(dict.fromkeys(groups["group"]))
    n_pages = max(1, -(-len(order) // GROUPS_PER_PAGE))
    page = 1
    if n_pages > 1:
        page = st.columns([1, 5])[0].number_input(f"Page (of {n_pages})", 1, n_pages, key="archive_dups_page")
    for number, group in enumerate(order[(page - 1) * GROUPS_PER_PAGE: page * GROUPS_PER_PAGE],
                                   start=(page - 1) * GROUPS_PER_PAGE + 1):
        rows = groups[groups["group"] == group]
        with st.container(border=True, key=f"archive_dups_group_{number}"):
            st.text(f"Picture {number}: posted {len(rows)} times")
            photo_grid(rows.reset_index(drop=True), GRID_COLUMNS, lambda _, row: _photo_text(row))
