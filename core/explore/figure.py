"""The Explore page's figures: the map with its hover text, the silhouette curve, the label sunburst, the atlas.

:func:`explore_figure` composes :func:`~core.explore.photomap.map_figure`
from a :func:`~core.explore.tables.photo_table`: colours (clusters,
ImageNet groups or likes), point sizes, hover text, photos drawn at their
place, and a placed new photo as a gold star. It lives in core so that the
page and ``bench/explore.py`` build (and measure) the same figure.

Plotly is imported inside the functions.
"""

from __future__ import annotations

import html
from typing import Sequence

import numpy as np
import pandas as pd

from . import imagenet_groups as ig
from .photomap import map_figure
from .placement import Placement
from .tables import group_class_counts, likes_of

__all__ = [
    "COLOUR_BY",
    "NOT_A_PERSON",
    "person_order",
    "person_palette",
    "CLUSTER_COLOURS",
    "WEBGL_ABOVE",
    "HOVER",
    "LEAN_ABOVE",
    "LEAN_HOVER",
    "cluster_palette",
    "point_sizes",
    "hover_data",
    "explore_figure",
    "silhouette_figure",
    "sunburst_figure",
    "atlas_figure",
    "shares_figure",
    "cluster_likes_figure",
    "standalone_html",
]

#: What the map can be coloured by (the page offers those that apply).
COLOUR_BY = ("Cluster", "ImageNet group", "Person", "Likes")
CLUSTER_COLOURS = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
    "#7f7f7f", "#aec7e8", "#ffbb78", "#98df8a", "#ff9896", "#c5b0d5", "#c49c94", "#f7b6d2", "#9edae5",
    "#dbdb8d", "#393b79",
]
#: Points above which the map is drawn with WebGL.
WEBGL_ABOVE = 1000
#: Hover text of a photo; ``customdata`` columns as :func:`hover_data` makes them.
HOVER = ("<b>%{customdata[1]}</b><br>%{customdata[2]} · %{customdata[3]}<br>cluster %{customdata[4]}"
         " · likes %{customdata[5]}<extra></extra>")
#: Points above which the map sends only coordinates and row numbers, no per-photo text (``explore_figure``'s ``lean``).
LEAN_ABOVE = 20_000
#: Hover text of a lean map: the trace (cluster or group) and the row.
LEAN_HOVER = "<b>%{fullData.name}</b><br>photo #%{customdata[0]}<extra></extra>"


def cluster_palette(names: Sequence[str]) -> dict[str, str]:
    """A colour per cluster name, in legend order (``C1, C2, ..., outliers``; outliers grey).

    Examples
    --------
    >>> cluster_palette(["C10", "outliers", "C2"])
    {'C2': '#1f77b4', 'C10': '#ff7f0e', 'outliers': '#bbbbbb'}
    """
    order = sorted(set(names), key=lambda c: (c == "outliers", int(c[1:]) if c.startswith("C") else 0))
    return {c: ("#bbbbbb" if c == "outliers" else CLUSTER_COLOURS[i % len(CLUSTER_COLOURS)])
            for i, c in enumerate(order)}


def point_sizes(n: int, likes: np.ndarray | None = None, *, by_likes: bool = False,
                thumbnails: bool = False) -> np.ndarray:
    """Marker sizes: by likes (square root), small under photos, else smaller as the map fills.

    Examples
    --------
    >>> point_sizes(3).tolist(), point_sizes(2, np.array([0.0, 100.0]), by_likes=True).tolist()
    ([13.0, 13.0, 13.0], [6.0, 24.0])
    """
    if thumbnails and not by_likes:
        return np.full(n, 8.0)
    if by_likes and likes is not None and np.isfinite(likes).any():
        filled = np.nan_to_num(np.asarray(likes, dtype=float), nan=0.0)
        return 6 + 18 * np.sqrt(filled / max(filled.max(), 1.0))
    return np.full(n, 13.0 if n <= 50 else 9.0 if n <= 300 else 6.0 if n <= 3000 else 4.0)


def hover_data(table: pd.DataFrame) -> np.ndarray:
    """Per-photo ``customdata``: row, file (HTML-escaped), top-1 class, group, cluster, likes.

    Column 0 (the row in ``table``) is what a selection on the map gives back.
    """
    n = len(table)
    likes = likes_of(table)
    like_text = ["unknown" if not np.isfinite(v) else f"{int(v):,}" for v in likes]
    labelled = "imagenet_top1" in table.columns
    label = table["imagenet_top1"].tolist() if labelled else ["–"] * n
    group = table["imagenet_group"].tolist() if labelled else ["–"] * n
    # Plotly reads hover text as a little HTML: user text (file names) is escaped.
    files = table["file"].astype(str).map(html.escape).to_numpy()
    return np.column_stack([np.arange(n), files, label, group, table["cluster"].to_numpy(), like_text]).astype(object)


#: Labels of :func:`core.faces.people.photo_person_labels` that are not a person, drawn last, in grey.
NOT_A_PERSON = ("several people", "someone else", "no one", "not indexed")


def person_order(people: Sequence[str]) -> list[str]:
    """Legend order for colouring by person: people by photo count, then the other labels.

    Examples
    --------
    >>> person_order(["no one", "Bo", "Ann", "Ann", "several people"])
    ['Ann', 'Bo', 'several people', 'no one']
    """
    counts = pd.Series(list(people)).value_counts()
    named = sorted((p for p in counts.index if p not in NOT_A_PERSON), key=lambda p: (-counts[p], p))
    return named + [p for p in NOT_A_PERSON if p in counts.index]


def person_palette(people: Sequence[str]) -> dict[str, str]:
    """A colour per person (the cluster colours), greys for the other labels."""
    greys = dict(zip(NOT_A_PERSON, ("#7f7f7f", "#a6a6a6", "#cccccc", "#e6e6e6")))
    order = person_order(people)
    named = [p for p in order if p not in greys]
    return {**{p: CLUSTER_COLOURS[i % len(CLUSTER_COLOURS)] for i, p in enumerate(named)},
            **{p: greys[p] for p in order if p in greys}}


def explore_figure(table: pd.DataFrame, *, colour_by: str = "Cluster", title: str = "",
                   highlight: str | None = None, size_by_likes: bool = False,
                   thumbnails: Sequence[str | None] | None = None, placed: Placement | None = None,
                   placed_name: str = "", lean: bool | None = None):
    """The Explore map of a :func:`~core.explore.tables.photo_table`.

    Parameters
    ----------
    table : pandas.DataFrame
        One row per photo with ``x, y, file, cluster, likes`` (and ImageNet
        columns for group colours and highlights).
    colour_by : {"Cluster", "ImageNet group", "Person", "Likes"}
        ``"Person"`` needs a ``person`` column (:func:`core.faces.people.photo_person_labels`).
    title : str
    highlight : str, optional
        An ImageNet group drawn on top, the rest faded.
    size_by_likes : bool
        Marker size grows with likes.
    thumbnails : sequence of str or None, optional
        An image URL (``data:`` URI) per photo, drawn at its place.
    placed : Placement, optional
        A new photo, drawn as a gold star "your photo".
    placed_name : str
        Its file name (hover text).
    lean : bool, optional
        Send only float32 coordinates and int32 row numbers per photo (hover:
        cluster and row; the gallery shows the photos): what keeps 100,000
        points at about 1.5 MB. Default: above :data:`LEAN_ABOVE` points.

    Returns
    -------
    plotly.graph_objects.Figure

    Examples
    --------
    >>> t = pd.DataFrame({"x": [0.0, 1, 2], "y": [0.0, 1, 0], "file": ["a", "b", "<c>"], "cluster": ["C1", "C2", "C1"],
    ...                   "likes": pd.array([1, None, 3], dtype="Int64")})
    >>> fig = explore_figure(t)
    >>> [trace.name for trace in fig.data], fig.data[0].customdata[1][1]
    (['C1 (2)', 'C2 (1)'], '&lt;c&gt;')
    """
    import plotly.graph_objects as go

    n = len(table)
    coords = table[["x", "y"]].to_numpy(dtype=float)
    likes = likes_of(table)
    labelled = "imagenet_group" in table.columns
    if (colour_by == "Person" and "person" not in table.columns) or (colour_by == "ImageNet group" and not labelled):
        colour_by = "Cluster"  # what the points then show, and the legend says
    groups = table["imagenet_group"].to_numpy() if labelled else None
    lean = n > LEAN_ABOVE if lean is None else lean
    if lean:
        coords = coords.astype(np.float32)
        custom, hover = np.arange(n, dtype=np.int32)[:, None], LEAN_HOVER
    else:
        custom, hover = hover_data(table), HOVER
    common = dict(sizes=point_sizes(n, likes, by_likes=size_by_likes, thumbnails=thumbnails is not None),
                  customdata=custom, hovertemplate=hover, webgl_above=WEBGL_ABOVE, title=title,
                  legend_title=colour_by)
    if highlight and labelled:
        common.update(highlight=np.asarray(groups) == highlight, highlight_name=f"{highlight} (highlighted)",
                      highlight_colour=ig.group_colours()[highlight])
    if colour_by == "Likes":
        fig = map_figure(coords, values=likes, value_label="likes", **common)
    elif colour_by == "ImageNet group" and labelled:
        fig = map_figure(coords, groups, order=ig.group_names(), palette=ig.group_colours(), **common)
    elif colour_by == "Person" and "person" in table.columns:
        # Plotly reads legend text as a little HTML: names the user typed are escaped.
        people = np.array([html.escape(p) for p in table["person"].fillna("not indexed").astype(str)], dtype=object)
        fig = map_figure(coords, people, order=person_order(people), palette=person_palette(people), **common)
    else:
        clusters = table["cluster"].astype(str).to_numpy()
        palette = cluster_palette(clusters)
        fig = map_figure(coords, clusters, order=list(palette), palette=palette, **common)
    if thumbnails is not None:
        _draw_thumbnails(fig, coords, thumbnails, placed)
    if placed is not None:
        fig.add_trace(go.Scatter(
            x=[float(placed.xy[0])], y=[float(placed.xy[1])], mode="markers+text", name="your photo",
            text=["your photo"], textposition="top center",
            customdata=[[-1, html.escape(placed_name), placed.imagenet_label or "–", "–", "–", "–"]],
            hovertemplate="<b>your photo</b><br>%{customdata[1]}<extra></extra>",
            marker={"symbol": "star", "size": 22, "color": "gold", "line": {"width": 1.5, "color": "black"}},
        ))
    return fig


def _draw_thumbnails(fig, coords: np.ndarray, thumbnails: Sequence[str | None], placed: Placement | None) -> None:
    """Each photo at its place, sized to the map's spread; the axes keep every photo (and the star) in view."""
    n = len(coords)
    xy = np.round(coords, 3)
    span = float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1e-6))
    side = span * (0.09 if n <= 30 else 0.06 if n <= 100 else 0.035)
    for (x, y), uri in zip(xy, thumbnails):
        if uri:
            fig.add_layout_image(source=uri, x=x, y=y, xref="x", yref="y", sizex=side, sizey=side,
                                 xanchor="center", yanchor="middle", layer="below", opacity=0.9)
    every = xy if placed is None else np.vstack([xy, np.asarray(placed.xy, float)[None, :]])
    fig.update_xaxes(range=[every[:, 0].min() - side, every[:, 0].max() + side])
    fig.update_yaxes(range=[every[:, 1].min() - side, every[:, 1].max() + side])


def silhouette_figure(curve: pd.DataFrame, k_suggested: int):
    """The small "Silhouette by k" curve, the suggested k marked."""
    import plotly.graph_objects as go

    fig = go.Figure(go.Scatter(x=curve["k"], y=curve["silhouette"], mode="lines+markers",
                               line={"color": "#1f77b4"}, hovertemplate="k=%{x}: %{y:.3f}<extra></extra>"))
    fig.add_vline(x=k_suggested, line_dash="dot", line_color="#d62728")
    fig.update_layout(height=150, margin={"l": 10, "r": 10, "t": 24, "b": 10}, title_text="Silhouette by k",
                      title_font_size=12, xaxis={"dtick": 1}, yaxis={"title": None})
    return fig


def sunburst_figure(table: pd.DataFrame):
    """ImageNet group → top-1 class, sized by photos (the table needs ImageNet columns)."""
    import plotly.graph_objects as go

    counts = group_class_counts(table)
    group_list = list(counts["imagenet_group"].unique())
    colours = ig.group_colours()
    fig = go.Figure(go.Sunburst(
        labels=group_list + [f"{c} " for c in counts["imagenet_top1"]],
        ids=group_list + [f"{g}/{c}" for g, c in zip(counts["imagenet_group"], counts["imagenet_top1"])],
        parents=[""] * len(group_list) + list(counts["imagenet_group"]),
        values=list(counts.groupby("imagenet_group", sort=False)["photos"].sum()) + list(counts["photos"]),
        branchvalues="total",
        marker={"colors": [colours.get(g, "#ccc") for g in group_list]
                + [colours.get(g, "#ccc") for g in counts["imagenet_group"]]},
        hovertemplate="%{label}: %{value} photo(s)<extra></extra>",
    ))
    fig.update_layout(height=420, margin={"l": 0, "r": 0, "t": 10, "b": 0})
    return fig


def atlas_figure(table: pd.DataFrame, periods: Sequence[str | None], current: str, centres: pd.DataFrame, *,
                 title: str = "", lean: bool | None = None):
    """The style atlas: one period's photos in colour on the whole map (the rest grey), and the path of centres.

    Parameters
    ----------
    table : pandas.DataFrame
        A :func:`~core.explore.tables.photo_table` (``x, y, cluster`` ...).
    periods : sequence of str or None
        The period of each row (:func:`core.explore.atlas.period_labels`).
    current : str
        The period drawn in colour.
    centres : pandas.DataFrame
        :func:`core.explore.atlas.period_centres`: the path, the current
        period's centre marked.
    lean : bool, optional
        Hover shows the cluster and row only (no per-photo text is sent);
        default: above :data:`LEAN_ABOVE` points.

    Returns
    -------
    plotly.graph_objects.Figure
        Grey points carry no ``customdata``, so a box selection picks the
        period's photos only.

    Examples
    --------
    >>> t = pd.DataFrame({"x": [0.0, 1, 2], "y": [0.0, 1, 0], "file": ["a", "b", "c"],
    ...                   "cluster": ["C1", "C2", "C1"], "likes": pd.array([1, 2, 3], dtype="Int64")})
    >>> c = pd.DataFrame({"period": ["2020", "2021"], "x": [0.5, 2.0], "y": [0.5, 0.0], "photos": [2, 1]})
    >>> fig = atlas_figure(t, ["2020", "2020", "2021"], "2020", c)
    >>> [trace.name for trace in fig.data]
    ['other periods (1)', 'C1 (1)', 'C2 (1)', 'path of period centres', '2020 centre']
    """
    import plotly.graph_objects as go

    n = len(table)
    lean = n > LEAN_ABOVE if lean is None else lean
    xy = np.round(table[["x", "y"]].to_numpy(dtype=np.float32 if lean else float), 3)
    now = np.asarray([p == current for p in periods], dtype=bool)
    clusters = table["cluster"].astype(str).to_numpy()
    palette = cluster_palette(clusters)
    Scatter = go.Scattergl if n > WEBGL_ABOVE else go.Scatter
    size = 9.0 if n <= 300 else 6.0 if n <= 3000 else 3.0
    fig = go.Figure()
    fig.add_trace(Scatter(x=xy[~now, 0], y=xy[~now, 1], mode="markers", name=f"other periods ({int((~now).sum())})",
                          hoverinfo="skip", marker={"size": size * 0.8, "color": "#d9d9d9"}))
    custom = np.arange(n, dtype=np.int32)[:, None] if lean else hover_data(table)
    hover = LEAN_HOVER if lean else HOVER
    for name in palette:
        mask = now & (clusters == name)
        if mask.any():
            fig.add_trace(Scatter(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=f"{name} ({int(mask.sum())})",
                                  customdata=custom[mask], hovertemplate=hover,
                                  marker={"size": size + 2, "color": palette[name],
                                          "line": {"width": 0.5 if n <= WEBGL_ABOVE else 0, "color": "white"}}))
    if len(centres):
        photos = centres["photos"].to_numpy(dtype=float)
        fig.add_trace(go.Scatter(
            x=centres["x"], y=centres["y"], mode="lines+markers", name="path of period centres",
            line={"color": "#444444", "width": 1.5}, text=centres["period"],
            marker={"size": 5 + 10 * np.sqrt(photos / max(photos.max(), 1.0)), "color": "#444444"},
            # No customdata: a selection reads photo rows from it, and these points are not photos.
            hovertext=[f"{p}: centre of {int(k)} photo(s)" for p, k in zip(centres["period"], photos)],
            hovertemplate="%{hovertext}<extra></extra>",
        ))
        here = centres[centres["period"] == current]
        if len(here):
            fig.add_trace(go.Scatter(
                x=here["x"], y=here["y"], mode="markers+text", name=f"{current} centre", text=[current],
                textposition="top center", hoverinfo="skip",
                marker={"symbol": "x", "size": 16, "color": "black", "line": {"width": 2, "color": "white"}},
            ))
    fig.update_layout(
        height=620, dragmode="select", hovermode="closest", margin={"l": 10, "r": 10, "t": 30, "b": 10},
        legend={"itemsizing": "constant", "title": {"text": "Cluster"}}, title={"text": title, "font": {"size": 13}},
        xaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        yaxis={"showticklabels": False, "title": None, "zeroline": False, "showgrid": False},
        plot_bgcolor="#fafafa",
    )
    return fig


def shares_figure(shares: pd.DataFrame, current: str | None = None):
    """Stacked area of each cluster's share of the posts per period (:func:`core.explore.atlas.cluster_shares`).

    Examples
    --------
    >>> s = pd.DataFrame({"period": ["2020", "2020", "2021", "2021"], "cluster": ["C1", "C2", "C1", "C2"],
    ...                   "photos": [1, 1, 0, 2], "share": [0.5, 0.5, 0.0, 1.0]})
    >>> [trace.stackgroup for trace in shares_figure(s, "2021").data]
    ['shares', 'shares']
    """
    import plotly.graph_objects as go

    palette = cluster_palette(shares["cluster"].astype(str))
    fig = go.Figure()
    for name in palette:
        part = shares[shares["cluster"] == name]
        fig.add_trace(go.Scatter(
            x=part["period"], y=part["share"] * 100, mode="lines", stackgroup="shares", name=name,
            line={"width": 0.5, "color": palette[name]}, customdata=part["photos"],
            hovertemplate=f"{html.escape(name)} · %{{x}}: %{{y:.0f}}% (%{{customdata}} photo(s))<extra></extra>",
        ))
    if current is not None:
        fig.add_vline(x=current, line_dash="dot", line_color="black")
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title_text="Cluster shares over time",
                      title_font_size=13, yaxis={"title": "% of the period's posts", "range": [0, 100]},
                      xaxis={"type": "category", "title": None}, hovermode="x unified")
    return fig


def cluster_likes_figure(likes: pd.DataFrame):
    """Median likes per cluster (rows) and period (columns), as a heat map (:func:`core.explore.atlas.cluster_likes`).

    Examples
    --------
    >>> l = pd.DataFrame({"period": ["2020", "2021"], "cluster": ["C1", "C1"], "photos": [2, 1],
    ...                   "median_likes": [10.0, 30.0], "mean_likes": [10.0, 30.0]})
    >>> cluster_likes_figure(l).data[0].z.tolist()
    [[10.0, 30.0]]
    """
    import plotly.graph_objects as go

    grid = likes.pivot(index="cluster", columns="period", values="median_likes")
    counts = likes.pivot(index="cluster", columns="period", values="photos")
    periods = list(dict.fromkeys(likes["period"]))
    clusters = list(cluster_palette(likes["cluster"].astype(str)))
    grid, counts = grid.reindex(index=clusters, columns=periods), counts.reindex(index=clusters, columns=periods)
    fig = go.Figure(go.Heatmap(
        z=grid.to_numpy(dtype=float), x=periods, y=clusters, colorscale="Viridis",
        customdata=counts.fillna(0).to_numpy(dtype=int), colorbar={"title": {"text": "median likes"}, "thickness": 12},
        hovertemplate="%{y} · %{x}: median %{z:,.0f} likes (%{customdata} photo(s))<extra></extra>",
    ))
    fig.update_layout(height=320, margin={"l": 10, "r": 10, "t": 30, "b": 10}, title_text="Median likes per cluster",
                      title_font_size=13, xaxis={"type": "category"}, yaxis={"autorange": "reversed"})
    return fig


def standalone_html(fig, title: str = "Feedlens map") -> bytes:
    """The figure as one HTML file that opens offline: plotly.js inside, no network, no server.

    Box selection stays on (the drag mode) but nothing listens to it; zoom,
    pan and hover work as on the page.

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> page = standalone_html(go.Figure(go.Scatter(x=[0, 1], y=[1, 0])), "a <map>")
    >>> b"<title>a &lt;map&gt;</title>" in page, b"https://cdn" in page[:2000]
    (True, False)
    """
    body = fig.to_html(include_plotlyjs=True, full_html=True, config={"displaylogo": False, "scrollZoom": True})
    return body.replace("<head>", f"<head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>", 1).encode()
