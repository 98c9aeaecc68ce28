"""Explore page glue for the style atlas: the period controls above the map, the "Over time" tab.

The tables come from :mod:`core.explore.atlas`, the figures from
:mod:`core.explore.figure`; these functions only lay them out. The atlas
shows on the page's one map (the map does not change, only which photos are
in colour), so a selection on it opens the same gallery.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.explore.atlas import (
    PERIOD_UNITS,
    atlas_periods,
    cluster_likes,
    cluster_shares,
    period_centres,
    period_labels,
    style_change,
    undated,
)
from core.explore.figure import atlas_figure, cluster_likes_figure, shares_figure

__all__ = ["AtlasView", "atlas_controls", "atlas_caption", "atlas_map", "over_time_tab"]

UNIT_KEY, PERIOD_KEY, ON_KEY = "explore_atlas_unit", "explore_atlas_period", "explore_atlas"


class AtlasView:
    """What the controls chose: the period length, the period shown, each photo's period (``None`` when off)."""

    def __init__(self, unit: str, periods: list[str], current: str | None, labels: pd.Series) -> None:
        self.unit, self.periods, self.current, self.labels = unit, periods, current, labels

    @property
    def on(self) -> bool:
        return self.current is not None


def _default_unit(periods_by_month: int) -> str:
    """Months for up to two years of posts, quarters up to eight, else years."""
    return "month" if periods_by_month <= 24 else "quarter" if periods_by_month <= 96 else "year"


def atlas_controls(table: pd.DataFrame) -> AtlasView:
    """The "Style over time" toggle, the period length and the period slider (above the map)."""
    months = atlas_periods(table["timestamp"], "month")
    if not months:
        st.caption(":material/event_busy: No photo has a date, so the style atlas (the map over time) is off.")
        return AtlasView("quarter", [], None, pd.Series([None] * len(table), dtype=object))
    if UNIT_KEY not in st.session_state:
        st.session_state[UNIT_KEY] = _default_unit(len(months))
    cols = st.columns([2, 3, 6])
    on = cols[0].toggle("Style over time", key=ON_KEY,
                        help="Show one period's posts in colour on the map (the others grey) and the path of each "
                             "period's centre; the Over time tab has each cluster's share and likes per period.")
    unit = cols[1].segmented_control("Period", list(PERIOD_UNITS), required=True, key=UNIT_KEY,
                                     disabled=not on)
    periods = atlas_periods(table["timestamp"], unit)
    labels = period_labels(table["timestamp"], unit)
    if st.session_state.get(PERIOD_KEY) not in periods:
        st.session_state[PERIOD_KEY] = periods[-1]
    if len(periods) > 1:
        current = cols[2].select_slider("Period shown", periods, key=PERIOD_KEY, disabled=not on)
    else:
        current = periods[0]
        cols[2].caption(f"Every dated post is in {current}.")
    return AtlasView(unit, periods, current if on else None, labels)


def atlas_caption(table: pd.DataFrame, view: AtlasView) -> None:
    """What the atlas shows: the period, its posts in colour, the path."""
    in_period = int((view.labels == view.current).sum())
    st.caption(f"{view.current}: {in_period} post(s) in colour; the line joins each {view.unit}'s centre "
               f"(larger dots: more posts). Drag a box to see this period's photos.")


def atlas_map(table: pd.DataFrame, view: AtlasView, *, lean: bool | None = None):
    """The atlas figure for the period shown."""
    centres = period_centres(table, view.unit)
    in_period = int((view.labels == view.current).sum())
    return atlas_figure(table, view.labels.tolist(), view.current, centres, lean=lean,
                        title=f"Style atlas · {view.current} · {in_period} of {len(table)} photos")


def over_time_tab(table: pd.DataFrame, view: AtlasView, illustrative: bool) -> None:
    """Cluster shares per period (stacked), median likes per cluster and period, and what changed."""
    if not view.periods:
        st.info("The atlas needs dated posts; this archive has none.", icon=":material/event_busy:")
        return
    missing = undated(table)
    st.caption(f"Each cluster's share of the posts per {view.unit}"
               + (f"; {missing} undated photo(s) left out" if missing else "")
               + (" (likes and dates illustrative)" if illustrative else "") + ".")
    shares = cluster_shares(table, view.unit)
    st.plotly_chart(shares_figure(shares, view.current), key="explore_atlas_shares")
    _change_summary(table)
    likes = cluster_likes(table, view.unit)
    if likes["median_likes"].notna().any():
        st.plotly_chart(cluster_likes_figure(likes), key="explore_atlas_likes")
    else:
        st.caption("No like counts: likes per cluster and period need them.")
    with st.expander("Tables"):
        cols = st.columns(2)
        cols[0].dataframe(shares, hide_index=True, key="explore_atlas_share_table",
                          column_config={"share": st.column_config.NumberColumn(format="percent")})
        cols[1].dataframe(likes, hide_index=True, key="explore_atlas_likes_table",
                          column_config={"median_likes": st.column_config.NumberColumn(format="%.0f"),
                                         "mean_likes": st.column_config.NumberColumn(format="%.0f")})


def _change_summary(table: pd.DataFrame) -> None:
    change = style_change(table)
    if change.table.empty or change.split is None:
        return
    grew, faded = change.table.iloc[0], change.table.iloc[-1]
    when = change.split.strftime("%Y-%m-%d")
    text = (f"Older half ({change.n_older} posts, before {when}) vs newer half ({change.n_newer}): "
            f"{grew['cluster']} grew from {grew['older']:.0%} to {grew['newer']:.0%}, "
            f"{faded['cluster']} went from {faded['older']:.0%} to {faded['newer']:.0%}. ")
    if pd.isna(change.p_value):
        text += "Too few posts or clusters to test whether that is more than chance."
    elif change.significant:
        text += f"The mix of clusters changed more than chance would make it (chi-square p = {change.p_value:.2g})."
    else:
        text += (f"That is within what chance alone makes of {change.n_older + change.n_newer} posts "
                 f"(chi-square p = {change.p_value:.2g}): read the chart's wiggles with care.")
    st.markdown(text)
