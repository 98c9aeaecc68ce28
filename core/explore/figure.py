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
    "SELECT_LAYER",
    "map_config",
    "add_select_layer",
    "selection_rows",
    "central_row",
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
#: The axes of a lean map's selection layer (:func:`add_select_layer`): a box or lasso drawn there is in map coordinates.
SELECT_LAYER = ("x2", "y2")


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
        Send only float32 coordinates per photo, no hover, and draw an empty
        selection layer on top (:func:`add_select_layer`): a box or lasso
        then selects nothing in the browser and the server reads the photos
        in it from the map (:func:`selection_rows`); the gallery and the
        photo beside the map show them. What keeps 100,000 points at about
        1.2 MB and a box drag as light as a zoom. Default: above
        :data:`LEAN_ABOVE` points.

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
        custom, hover = False, None
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
    if lean:
        add_select_layer(fig, coords)
    if placed is not None:
        fig.add_trace(go.Scatter(
            x=[float(placed.xy[0])], y=[float(placed.xy[1])], mode="markers+text", name="your photo",
            text=["your photo"], textposition="top center",
            customdata=[[-1, html.escape(placed_name), placed.imagenet_label or "–", "–", "–", "–"]],
            hovertemplate="<b>your photo</b><br>%{customdata[1]}<extra></extra>",
            marker={"symbol": "star", "size": 22, "color": "gold", "line": {"width": 1.5, "color": "black"}},
        ))
    return fig


def map_config(lean: bool) -> dict:
    """The map's Plotly ``config``: a lean map's WebGL canvas at one pixel per CSS pixel.

    Plotly draws WebGL at twice the screen's resolution by default
    (``plotGlPixelRatio`` 2): four times the fragments, and at 100,000 points
    in a software-rendered browser each redraw then costs about twice as long.

    Examples
    --------
    >>> map_config(True)["plotGlPixelRatio"], "plotGlPixelRatio" in map_config(False)
    (1, False)
    """
    config = {"scrollZoom": False, "displaylogo": False}
    return {**config, "plotGlPixelRatio": 1} if lean else config


def add_select_layer(fig, coords: np.ndarray) -> None:
    """An empty subplot over the map (axes ``x2, y2`` matching ``x, y``) that takes the mouse.

    A box or lasso drawn on it selects none of the map's points in the
    browser: Plotly searches only the traces of the subplot under the mouse,
    and redrawing 100,000 WebGL points on every mouse move of a drag is what
    made a selection slow. The drawn box (or lasso) comes back with the
    selection event in map coordinates, and :func:`selection_rows` finds the
    photos in it. Zoom and pan move both subplots (``matches``). The price:
    no hover on the points (the page shows a selected photo instead).

    Examples
    --------
    >>> import plotly.graph_objects as go
    >>> fig = go.Figure(go.Scattergl(x=[0, 1], y=[1, 0]))
    >>> add_select_layer(fig, np.array([[0.0, 1.0], [1.0, 0.0]]))
    >>> fig.data[-1].xaxis, fig.layout.xaxis2.matches, fig.data[-1].customdata is None
    ('x2', 'x', True)
    """
    import plotly.graph_objects as go

    # One invisible point: Plotly records a selection only on a subplot with a selectable trace.
    centre = np.median(np.asarray(coords, dtype=float), axis=0) if len(coords) else np.zeros(2)
    fig.add_trace(go.Scatter(x=[float(centre[0])], y=[float(centre[1])], mode="markers", xaxis=SELECT_LAYER[0],
                             yaxis=SELECT_LAYER[1], hoverinfo="skip", showlegend=False, name="selection layer",
                             marker={"size": 1, "opacity": 0}))
    hidden = {"showticklabels": False, "showgrid": False, "zeroline": False, "title": None}
    fig.update_layout(xaxis2={**hidden, "matches": "x", "anchor": SELECT_LAYER[1]},
                      yaxis2={**hidden, "matches": "y", "anchor": SELECT_LAYER[0]})


def central_row(coords: np.ndarray, rows: list[int]) -> int:
    """The one of ``rows`` whose point lies nearest the middle of their points (the photo shown for a selection).

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [9.0, 9.0]])
    >>> central_row(xy, [0, 1, 2])
    1
    >>> central_row(xy, [3])
    3
    """
    xy = np.asarray(coords, dtype=float)[rows]
    return rows[int(np.argmin(((xy - xy.mean(axis=0)) ** 2).sum(axis=1)))]


def selection_rows(selection: dict | None, coords: np.ndarray | None = None,
                   selectable: np.ndarray | None = None) -> list[int]:
    """Rows of the photos a map selection holds (Streamlit's ``event["selection"]``).

    Points carry their row in ``customdata[0]`` (a full map); a box or lasso
    drawn on a lean map's selection layer (:data:`SELECT_LAYER`) selects the
    rows of ``coords`` inside it (the even-odd rule for a lasso). Rows below
    0 (the placed photo) are not photos of the archive. ``selectable``, a
    mask over the rows, leaves out the others (the atlas: other periods).

    Examples
    --------
    >>> xy = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, 5.0]])
    >>> selection_rows({"box": [{"xref": "x2", "yref": "y2", "x": [2, -1], "y": [-1, 2]}]}, xy)
    [0, 1]
    >>> selection_rows({"lasso": [{"xref": "x2", "yref": "y2", "x": [4, 6, 6], "y": [4, 4, 6]}]}, xy)
    [2]
    >>> selection_rows({"points": [{"customdata": [1, "b.jpg"]}, {"customdata": {"0": -1}}]})
    [1]
    >>> selection_rows({"box": [{"xref": "x2", "yref": "y2", "x": [2, -1], "y": [-1, 2]}]}, xy,
    ...                selectable=np.array([False, True, True]))
    [1]
    """
    selection = selection or {}
    rows: set[int] = set()
    for point in selection.get("points") or []:
        data = point.get("customdata")
        if isinstance(data, (int, float)):  # a one-column typed array can come back as a number
            data = [data]
        elif isinstance(data, dict):  # or as a typed array's row, {"0": value}
            data = [data[k] for k in sorted(data, key=int)]
        if data is not None and len(data) and int(data[0]) >= 0:
            rows.add(int(data[0]))
    if coords is not None:
        xy = np.asarray(coords, dtype=float)
        inside = np.zeros(len(xy), dtype=bool)
        for shape in selection.get("box") or []:
            if shape.get("xref") == SELECT_LAYER[0] and len(shape.get("x", ())) == 2:
                (x0, x1), (y0, y1) = sorted(map(float, shape["x"])), sorted(map(float, shape["y"]))
                inside |= (xy[:, 0] >= x0) & (xy[:, 0] <= x1) & (xy[:, 1] >= y0) & (xy[:, 1] <= y1)
        for shape in selection.get("lasso") or []:
            if shape.get("xref") == SELECT_LAYER[0] and len(shape.get("x", ())) >= 3:
                inside |= _in_polygon(xy, np.asarray(shape["x"], dtype=float), np.asarray(shape["y"], dtype=float))
        rows.update(np.flatnonzero(inside).tolist())
    if selectable is not None:
        rows = {i for i in rows if selectable[i]}
    return sorted(rows)


def _in_polygon(xy: np.ndarray, px: np.ndarray, py: np.ndarray) -> np.ndarray:
    """Which points lie inside the polygon (even-odd rule), tested only inside its bounding box."""
    inside = np.zeros(len(xy), dtype=bool)
    near = np.flatnonzero((xy[:, 0] >= px.min()) & (xy[:, 0] <= px.max())
                          & (xy[:, 1] >= py.min()) & (xy[:, 1] <= py.max()))
    x, y = xy[near, 0], xy[near, 1]
    hit = np.zeros(len(near), dtype=bool)
    for i in range(len(px)):
        xi, yi, xj, yj = px[i], py[i], px[i - 1], py[i - 1]
        crosses = (yi > y) != (yj > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            at = (xj - xi) * (y - yi) / (yj - yi) + xi
        hit ^= crosses & (x < at)
    inside[near] = hit
    return inside


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
        period's photos only (a lean atlas has the selection layer of
        :func:`add_select_layer`: the caller keeps the period's rows of
        :func:`selection_rows`).

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
    custom = None if lean else hover_data(table)
    for name in palette:
        mask = now & (clusters == name)
        if mask.any():
            per_point = {"hoverinfo": "skip"} if lean else {"customdata": custom[mask], "hovertemplate": HOVER}
            fig.add_trace(Scatter(x=xy[mask, 0], y=xy[mask, 1], mode="markers", name=f"{name} ({int(mask.sum())})",
                                  **per_point,
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
    if lean:
        add_select_layer(fig, xy)
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
