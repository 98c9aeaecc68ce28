"""The Archive page's Places tab, its location privacy switch, and the archived-posts switch.

The map is a Plotly ``scattergeo`` with every base layer that needs
Plotly's world outlines (coastlines, land, countries) switched off: those
come from a CDN, and the app must work offline. Posts are drawn on a
latitude/longitude grid, zoomed to where they are.

Location is personal data. :func:`location_hidden` (on unless the user turns
it off, never read from a link) keeps latitude and longitude out of the
catalogue download, the tables' own CSV buttons, the chart's image button and
the share link; the map on screen still shows the places.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go
import streamlit as st

from core.archive.places import has_places, place_clusters, post_places, without_location
from ui.share import drop, sync

__all__ = ["location_hidden", "privacy_switch", "archived_switch", "places_section", "for_export"]

_HIDE_KEY = "archive_hide_location"
_RADII = [1, 5, 10, 25, 50, 100, 250, 500]
_PARAM = "place_km"

PRIVACY_NOTE = (
    "Photos can carry where they were taken. Feedlens keeps the position only on this server, in your "
    "catalogue; it is not sent anywhere (the map draws no downloaded tiles). While **Keep location private** is "
    "on, latitude and longitude are left out of the catalogue download, the tables' downloads, the map's "
    "image button and the page's share link."
)


def location_hidden() -> bool:
    """Whether location is kept out of exports and links (the default)."""
    return bool(st.session_state.get(_HIDE_KEY, True))


def privacy_switch() -> bool:
    """The switch (not tied to the URL: a link must not turn privacy off); returns :func:`location_hidden`."""
    st.session_state.setdefault(_HIDE_KEY, True)
    st.toggle("Keep location private", key=_HIDE_KEY,
              help="Leave latitude and longitude out of downloads and share links.")
    return location_hidden()


def for_export(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The catalogue as a download or table should carry it (no location while it is private)."""
    return without_location(catalogue) if location_hidden() else catalogue


def archived_switch(catalogue: pd.DataFrame) -> pd.DataFrame:
    """A switch to leave out posts archived on Instagram (only when there are some); the catalogue to show."""
    if "archived" not in catalogue or not catalogue["archived"].fillna(False).astype(bool).any():
        return catalogue
    n = int(catalogue.loc[catalogue["archived"].fillna(False).astype(bool), "post_id"].nunique())
    include = st.toggle(f"Include archived posts ({n})",
                        key=sync("archive_include_archived", "archived", default=True),
                        help="Posts you archived on Instagram: hidden from your profile, still in your export.")
    return catalogue if include else catalogue[~catalogue["archived"].fillna(False).astype(bool)]


def _map(places: pd.DataFrame, posts: pd.DataFrame, suffix: str, hidden: bool) -> go.Figure:
    hover = posts["caption"].fillna("").map(lambda c: html.escape(str(c)[:80]))
    likes = pd.to_numeric(posts["likes"], errors="coerce")
    fig = go.Figure()
    fig.add_trace(go.Scattergeo(
        lat=posts["latitude"], lon=posts["longitude"], mode="markers", name="posts",
        marker={"size": 6, "color": "#888", "opacity": 0.6},
        text=[f"{h}<br>likes{suffix}: {'unknown' if pd.isna(v) else int(v)}" for h, v in zip(hover, likes)],
        hoverinfo="text",
    ))
    size = 10 + 30 * (places["posts"] / max(1, places["posts"].max())) ** 0.5
    fig.add_trace(go.Scattergeo(
        lat=places["latitude"], lon=places["longitude"], mode="markers+text", name="places",
        text=[f"#{p}" for p in places["place"]], textposition="top center",
        marker={"size": size, "color": places["mean_likes"].astype(float), "colorscale": "Viridis",
                "showscale": True, "colorbar": {"title": {"text": f"mean likes{suffix}"}}, "opacity": 0.75,
                "line": {"width": 1, "color": "white"}},
        customdata=places[["posts", "mean_likes"]].astype(float).to_numpy(),
        hovertemplate="place %{text}<br>%{customdata[0]} posts<br>mean likes: %{customdata[1]:.0f}"
                      + ("" if hidden else "<br>%{lat:.3f}, %{lon:.3f}") + "<extra></extra>",
    ))
    # Every layer that needs Plotly's world outlines (fetched from a CDN) is off: the map works offline.
    fig.update_geos(
        showcoastlines=False, showland=False, showocean=False, showlakes=False, showrivers=False,
        showcountries=False, showsubunits=False, showframe=True, projection_type="equirectangular",
        lataxis={"showgrid": True, "dtick": 5, "gridcolor": "#ddd"},
        lonaxis={"showgrid": True, "dtick": 5, "gridcolor": "#ddd"},
        fitbounds="locations", bgcolor="rgba(0,0,0,0)",
    )
    fig.update_layout(height=480, margin={"l": 0, "r": 0, "t": 10, "b": 0}, showlegend=False)
    return fig


def places_section(catalogue: pd.DataFrame, suffix: str) -> None:
    """Map of the posts with a GPS position, and engagement by place cluster."""
    st.caption(PRIVACY_NOTE)
    hidden = privacy_switch()
    if not has_places(catalogue):
        drop(_PARAM)
        st.info("No photo in this archive has a GPS position (Instaloader's post location, or the export's "
                "`exif_data` latitude and longitude), so there is no map.", icon=":material/location_off:")
        return
    if hidden:
        drop(_PARAM)  # the link says nothing about places while location is private
        radius = st.select_slider("Posts closer than this share a place (km)", _RADII,
                                  key="archive_place_km_private", value=25)
    else:
        radius = st.select_slider("Posts closer than this share a place (km)", _RADII,
                                  key=sync("archive_place_km", _PARAM, default=25, options=_RADII))
    posts = post_places(catalogue, radius_km=float(radius))
    places = place_clusters(catalogue, radius_km=float(radius))
    n_all = catalogue["post_id"].nunique()
    st.text(f"{len(posts)} of {n_all} posts have a position, in {len(places)} places.")
    st.plotly_chart(_map(places, posts, suffix, hidden), key="archive_places_map",
                    config={"displayModeBar": not hidden, "scrollZoom": True})
    st.caption("Offline map: no coastlines or tiles are downloaded; grid lines every 5°.")
    table = places.rename(columns={"mean_likes": f"mean_likes{suffix}", "median_likes": f"median_likes{suffix}"})
    if hidden:
        table = table.drop(columns=["latitude", "longitude"])
    st.subheader("Engagement by place")
    st.dataframe(table, hide_index=True, key="archive_places_table",
                 column_config={"radius_km": st.column_config.NumberColumn("spread (km)", format="%.1f")})
