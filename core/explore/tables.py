"""Tables of a photo map: one row per photo, ImageNet labels, engagement per cluster and group.

:func:`photo_table` is the map's export (CSV, Parquet) and what the Explore
page reads its hover text, colours and gallery captions from; the others
summarise it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..archive.summary import engagement_by
from . import imagenet_groups as ig

__all__ = [
    "likes_of",
    "imagenet_columns",
    "photo_table",
    "group_class_counts",
    "cluster_engagement",
    "group_engagement",
]


def likes_of(frame: pd.DataFrame) -> np.ndarray:
    """The ``likes`` column as floats, NaN where unknown.

    Examples
    --------
    >>> likes_of(pd.DataFrame({"likes": pd.array([3, None], dtype="Int64")})).tolist()
    [3.0, nan]
    """
    return frame["likes"].astype("Float64").to_numpy(dtype=float, na_value=np.nan)


def imagenet_columns(probs: np.ndarray, k: int = 5) -> pd.DataFrame:
    """Top-1 class, its probability, its group, and the top-``k`` as text, per row of ``probs``.

    Examples
    --------
    >>> p = np.zeros((1, 1000)); p[0, [967, 3]] = [0.9, 0.1]
    >>> row = imagenet_columns(p, 2).iloc[0]
    >>> row["imagenet_top1"], float(row["imagenet_top1_p"]), row["imagenet_group"]
    ('espresso', 0.9, 'Coffee')
    >>> row["imagenet_top5"]
    'espresso 90%, tiger shark 10%'
    """
    top_idx, top_p = ig.top_k(probs, k)
    return pd.DataFrame({
        "imagenet_top1": [ig.class_name(i) for i in top_idx[:, 0]],
        "imagenet_top1_p": np.round(top_p[:, 0], 4),
        "imagenet_group": ig.class_to_group()[top_idx[:, 0]].astype(str),
        "imagenet_top5": [", ".join(f"{ig.class_name(i)} {p:.0%}" for i, p in zip(ii, pp))
                          for ii, pp in zip(top_idx, top_p)],
    })


def photo_table(rows: pd.DataFrame, coords: np.ndarray, clusters: np.ndarray, *, probs: np.ndarray | None = None,
                tag: str = "") -> pd.DataFrame:
    """One row per mapped photo: post, file, map position, cluster, engagement, labels.

    Parameters
    ----------
    rows : pandas.DataFrame
        The catalogue rows of the mapped photos, in map order.
    coords : ndarray (n, 2)
        Map coordinates (rounded to 4 decimals in the table).
    clusters : ndarray (n,)
        Cluster labels (ints, ``-1`` for outliers) or names (``"C1"``).
    probs : ndarray (n, 1000), optional
        ImageNet probabilities: adds ``imagenet_top1``, ``imagenet_top1_p``,
        ``imagenet_group`` and ``imagenet_top5``.
    tag : str
        The feature set's cache tag, in a ``features`` column.

    Returns
    -------
    pandas.DataFrame
        Columns ``post_id, position, file, x, y, cluster, likes, comments,
        timestamp, sha256`` (+ ImageNet columns) ``, features``.
    """
    from .mapping import cluster_names

    clusters = np.asarray(clusters)
    names = clusters.astype(object) if clusters.dtype.kind in "OUS" else cluster_names(clusters)
    rows = rows.reset_index(drop=True)
    coords = np.asarray(coords, dtype=float)
    frame = pd.DataFrame({
        "post_id": rows["post_id"], "position": rows["position"], "file": rows["file"],
        "x": np.round(coords[:, 0], 4), "y": np.round(coords[:, 1], 4),
        "cluster": names, "likes": rows["likes"], "comments": rows["comments"],
        "timestamp": rows["timestamp"], "sha256": rows["sha256"],
    })
    if probs is not None:
        frame = pd.concat([frame, imagenet_columns(probs)], axis=1)
    frame["features"] = tag
    return frame


def group_class_counts(table: pd.DataFrame) -> pd.DataFrame:
    """Photos per ImageNet group and top-1 class (the sunburst's two rings).

    Examples
    --------
    >>> t = pd.DataFrame({"imagenet_group": ["Coffee", "Coffee", "Water"],
    ...                   "imagenet_top1": ["espresso", "espresso", "lakeside"]})
    >>> group_class_counts(t).values.tolist()
    [['Coffee', 'espresso', 2], ['Water', 'lakeside', 1]]
    """
    return table.groupby(["imagenet_group", "imagenet_top1"]).size().reset_index(name="photos")


def cluster_engagement(table: pd.DataFrame) -> pd.DataFrame:
    """Engagement per cluster, best first; with ImageNet labels, each cluster's typical group."""
    labelled = "imagenet_group" in table.columns
    per_cluster = engagement_by(table, "cluster", typical="imagenet_group" if labelled else None)
    return per_cluster.rename(columns={"typical imagenet_group": "typical ImageNet group"})


def group_engagement(table: pd.DataFrame) -> pd.DataFrame:
    """Engagement per ImageNet group, best first (the table needs ImageNet columns)."""
    return engagement_by(table, "imagenet_group")
