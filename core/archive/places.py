"""Places: posts with a GPS position, grouped by distance, and their engagement per place.

A post's place is the first of its photos with a position (a photo's EXIF GPS, Instaloader's
``location``, the export's ``exif_data``). Places are single-linkage clusters:
two posts closer than ``radius_km`` (great-circle) share a place, and so does
any chain of such posts. The position is personal data: :func:`without_location`
is what every export and share link should see unless the user allows it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["LOCATION_COLUMNS", "EARTH_RADIUS_KM", "has_places", "post_places", "place_clusters", "without_location"]

#: Catalogue columns that say where a photo was taken.
LOCATION_COLUMNS = ("latitude", "longitude")
EARTH_RADIUS_KM = 6371.0088


def has_places(catalogue: pd.DataFrame) -> bool:
    """Whether any photo of the catalogue has a GPS position.

    Examples
    --------
    >>> has_places(pd.DataFrame({"latitude": [None, 1.0], "longitude": [None, 2.0]}))
    True
    """
    if not set(LOCATION_COLUMNS) <= set(catalogue.columns):
        return False
    return bool((catalogue["latitude"].notna() & catalogue["longitude"].notna()).any())


def without_location(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The catalogue without its location columns (for exports and links that must not say where).

    Examples
    --------
    >>> list(without_location(pd.DataFrame({"file": ["a"], "latitude": [1.0], "longitude": [2.0]})).columns)
    ['file']
    """
    return catalogue.drop(columns=[c for c in LOCATION_COLUMNS if c in catalogue.columns])


def _unit_vectors(lat: np.ndarray, lon: np.ndarray) -> np.ndarray:
    phi, lam = np.radians(lat), np.radians(lon)
    return np.column_stack([np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)])


def post_places(catalogue: pd.DataFrame, *, radius_km: float = 25.0) -> pd.DataFrame:
    """One row per post with a position: where it is and which place it belongs to.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive catalogue (one row per image) with ``latitude``/``longitude``.
    radius_km : float
        Posts closer than this (great-circle) are in the same place.

    Returns
    -------
    pandas.DataFrame
        ``post_id, latitude, longitude, timestamp, likes, comments, caption,
        place`` (place numbered 0, 1, … by decreasing size).

    Raises
    ------
    ValueError
        ``radius_km`` is not positive.

    Examples
    --------
    >>> cat = pd.DataFrame({"post_id": ["a", "b", "c"], "latitude": [42.36, 42.37, 48.86],
    ...                     "longitude": [-71.06, -71.05, 2.35], "likes": pd.array([10, 30, 5], dtype="Int64")})
    >>> post_places(cat)[["post_id", "place"]].values.tolist()
    [['a', 0], ['b', 0], ['c', 1]]
    """
    if radius_km <= 0:
        raise ValueError(f"radius_km must be positive, not {radius_km!r}")
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    columns = ["post_id", "latitude", "longitude", "timestamp", "likes", "comments", "caption", "place"]
    if not has_places(catalogue):
        return pd.DataFrame(columns=columns)
    located = catalogue.dropna(subset=list(LOCATION_COLUMNS))
    keep = [c for c in columns[:-1] if c in located.columns]
    posts = located.groupby("post_id", sort=False)[keep[1:]].first().reset_index()
    for col in columns[:-1]:
        if col not in posts:
            posts[col] = pd.NA
    points = _unit_vectors(posts["latitude"].to_numpy(float), posts["longitude"].to_numpy(float))
    # Chord length on the unit sphere for a great-circle distance d: 2 sin(d / 2R).
    chord = 2 * np.sin(min(radius_km / EARTH_RADIUS_KM, np.pi) / 2)
    pairs = cKDTree(points).query_pairs(chord, output_type="ndarray")
    n = len(posts)
    graph = coo_matrix((np.ones(len(pairs)), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Number places by size (largest first), ties by first appearance, so numbers are stable.
    sizes = pd.Series(labels).value_counts()
    first = pd.Series(range(n)).groupby(labels).min()
    order = sorted(sizes.index, key=lambda lab: (-sizes[lab], first[lab]))
    renumber = {lab: i for i, lab in enumerate(order)}
    posts["place"] = [renumber[lab] for lab in labels]
    return posts[columns]


def place_clusters(catalogue: pd.DataFrame, *, radius_km: float = 25.0) -> pd.DataFrame:
    """Engagement by place: one row per place cluster.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive catalogue with ``latitude``/``longitude``.
    radius_km : float
        As for :func:`post_places`.

    Returns
    -------
    pandas.DataFrame
        ``place, latitude, longitude`` (the centre: mean of the unit vectors),
        ``radius_km`` (farthest post from the centre), ``posts``,
        ``posts_with_likes``, ``mean_likes``, ``median_likes``,
        ``mean_comments``, ``first``, ``last``; unknown likes are left out of
        the means, never counted as 0.

    Examples
    --------
    >>> cat = pd.DataFrame({"post_id": ["a", "b", "c"], "latitude": [42.36, 42.37, 48.86],
    ...                     "longitude": [-71.06, -71.05, 2.35], "likes": pd.array([10, 30, None], dtype="Int64")})
    >>> table = place_clusters(cat)
    >>> table["posts"].tolist(), table["posts_with_likes"].tolist(), table["mean_likes"].tolist()
    ([2, 1], [2, 0], [20.0, nan])
    """
    posts = post_places(catalogue, radius_km=radius_km)
    columns = ["place", "latitude", "longitude", "radius_km", "posts", "posts_with_likes", "mean_likes",
               "median_likes", "mean_comments", "first", "last"]
    if posts.empty:
        return pd.DataFrame(columns=columns)
    rows = []
    for place, group in posts.groupby("place", sort=True):
        vectors = _unit_vectors(group["latitude"].to_numpy(float), group["longitude"].to_numpy(float))
        centre = vectors.mean(axis=0)
        norm = np.linalg.norm(centre)
        centre = centre / norm if norm > 1e-12 else vectors[0]
        lat = float(np.degrees(np.arcsin(np.clip(centre[2], -1, 1))))
        lon = float(np.degrees(np.arctan2(centre[1], centre[0])))
        spread = float(np.max(np.arccos(np.clip(vectors @ centre, -1, 1))) * EARTH_RADIUS_KM)
        likes = pd.to_numeric(group["likes"], errors="coerce").astype(float)
        comments = pd.to_numeric(group["comments"], errors="coerce").astype(float)
        times = pd.to_datetime(group["timestamp"], utc=True, errors="coerce")
        rows.append({
            "place": int(place), "latitude": round(lat, 6), "longitude": round(lon, 6),
            "radius_km": round(spread, 3), "posts": len(group), "posts_with_likes": int(likes.notna().sum()),
            "mean_likes": likes.mean(), "median_likes": likes.median(), "mean_comments": comments.mean(),
            "first": times.min(), "last": times.max(),
        })
    return pd.DataFrame(rows, columns=columns)
