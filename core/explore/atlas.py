"""The style atlas: how an archive's photos moved over its map, period by period.

The atlas reads a :func:`~core.explore.tables.photo_table` (one row per
mapped photo with ``x, y, cluster, likes, timestamp``) and cuts time into
months, quarters or years (:data:`PERIOD_UNITS`). Every function returns
plain pandas tables, so the page, a notebook and the tests see the same
numbers:

- :func:`period_labels`: the period of each photo (``"2022-08"``,
  ``"2022Q3"``, ``"2022"``); :func:`atlas_periods`: every period from the
  first post to the last, empty ones included (a gap in posting is a gap in
  the chart, not a jump);
- :func:`period_centres`: where each period's photos lie on average (the
  path of the feed's style across the map);
- :func:`cluster_shares`: photos and share of each cluster per period (the
  stacked area chart of which motifs grew or faded);
- :func:`cluster_likes`: photos, median and mean likes per cluster and
  period;
- :func:`style_change`: each cluster's share in the older and the newer
  half of the posts, and a chi-square test of whether the mix changed more
  than chance would make it (the honest baseline: with few posts, shares
  wander on their own).

Photos without a date are left out of every table (and counted by
:func:`undated`). Nothing here imports Plotly; the figures are in
:mod:`core.explore.figure`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .tables import likes_of

__all__ = [
    "PERIOD_UNITS",
    "period_labels",
    "atlas_periods",
    "undated",
    "period_centres",
    "cluster_shares",
    "cluster_likes",
    "StyleChange",
    "style_change",
]

#: Period lengths the atlas offers, and their pandas frequency.
PERIOD_UNITS = {"month": "M", "quarter": "Q", "year": "Y"}


def _freq(unit: str) -> str:
    if unit not in PERIOD_UNITS:
        raise ValueError(f"unknown period {unit!r}; choose one of {tuple(PERIOD_UNITS)}")
    return PERIOD_UNITS[unit]


def _periods(timestamps: pd.Series, unit: str) -> pd.Series:
    """Pandas periods of the timestamps (UTC), NaT where unknown."""
    ts = pd.to_datetime(pd.Series(timestamps).reset_index(drop=True), utc=True, errors="coerce")
    return ts.dt.tz_convert(None).dt.to_period(_freq(unit))


def period_labels(timestamps, unit: str = "quarter") -> pd.Series:
    """The period of each timestamp as text (``None`` where the date is unknown).

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2022-08-31T23:30", None, "2021-01-02T00:00"], utc=True))
    >>> period_labels(ts, "month").tolist()
    ['2022-08', None, '2021-01']
    >>> period_labels(ts, "quarter").tolist(), period_labels(ts, "year").tolist()
    (['2022Q3', None, '2021Q1'], ['2022', None, '2021'])
    """
    periods = _periods(timestamps, unit)
    return pd.Series([None if pd.isna(p) else str(p) for p in periods], dtype=object)


def atlas_periods(timestamps, unit: str = "quarter") -> list[str]:
    """Every period from the first dated photo to the last, in order, empty ones included.

    Examples
    --------
    >>> ts = pd.Series(pd.to_datetime(["2022-01-05", "2022-04-01", None], utc=True))
    >>> atlas_periods(ts, "month")
    ['2022-01', '2022-02', '2022-03', '2022-04']
    >>> atlas_periods(pd.Series([None]), "year")
    []
    """
    periods = _periods(timestamps, unit).dropna()
    if periods.empty:
        return []
    return [str(p) for p in pd.period_range(periods.min(), periods.max(), freq=_freq(unit))]


def undated(table: pd.DataFrame) -> int:
    """Photos of the table without a date (left out of the atlas)."""
    return int(pd.to_datetime(table["timestamp"], utc=True, errors="coerce").isna().sum())


def _dated(table: pd.DataFrame, unit: str) -> pd.DataFrame:
    frame = table.reset_index(drop=True).copy()
    frame["period"] = period_labels(frame["timestamp"], unit)
    frame["likes_f"] = likes_of(frame)
    return frame[frame["period"].notna()]


def period_centres(table: pd.DataFrame, unit: str = "quarter") -> pd.DataFrame:
    """Where each period's photos lie on the map: mean ``x, y`` and the number of photos.

    Only periods with photos have a centre; the rows are in time order.

    Examples
    --------
    >>> t = pd.DataFrame({"x": [0.0, 2.0, 10.0], "y": [0.0, 2.0, 10.0],
    ...                   "timestamp": pd.to_datetime(["2020-01-01", "2020-02-01", "2021-06-01"], utc=True)})
    >>> period_centres(t, "year").to_dict("records")
    [{'period': '2020', 'x': 1.0, 'y': 1.0, 'photos': 2}, {'period': '2021', 'x': 10.0, 'y': 10.0, 'photos': 1}]
    """
    frame = table.reset_index(drop=True).copy()
    frame["period"] = period_labels(frame["timestamp"], unit)
    frame = frame[frame["period"].notna()]
    order = atlas_periods(table["timestamp"], unit)
    out = frame.groupby("period").agg(x=("x", "mean"), y=("y", "mean"), photos=("x", "size"))
    out = out.reindex([p for p in order if p in out.index]).reset_index()
    out["photos"] = out["photos"].astype(int)
    return out[["period", "x", "y", "photos"]]


def _cluster_order(clusters: pd.Series) -> list[str]:
    names = set(clusters.astype(str))
    return sorted(names, key=lambda c: (c == "outliers", int(c[1:]) if c[:1] == "C" and c[1:].isdigit() else 0, c))


def cluster_shares(table: pd.DataFrame, unit: str = "quarter") -> pd.DataFrame:
    """Photos and share of each cluster in each period: every period × every cluster, zeros included.

    ``share`` is the cluster's fraction of the period's photos (0 for an
    empty period), so each non-empty period's shares add up to 1.

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": ["C1", "C2", "C2", "C1"],
    ...                   "timestamp": pd.to_datetime(["2020-01-01", "2020-02-01", "2022-03-01", None], utc=True)})
    >>> s = cluster_shares(t, "year")
    >>> s.to_dict("list")["share"], s["period"].tolist()
    ([0.5, 0.5, 0.0, 0.0, 0.0, 1.0], ['2020', '2020', '2021', '2021', '2022', '2022'])
    """
    frame = table.reset_index(drop=True).copy()
    frame["period"] = period_labels(frame["timestamp"], unit)
    frame = frame[frame["period"].notna()]
    periods = atlas_periods(table["timestamp"], unit)
    clusters = _cluster_order(table["cluster"])
    counts = frame.groupby(["period", "cluster"]).size()
    index = pd.MultiIndex.from_product([periods, clusters], names=["period", "cluster"])
    counts = counts.reindex(index, fill_value=0).rename("photos").reset_index()
    totals = counts.groupby("period")["photos"].transform("sum")
    counts["share"] = np.where(totals > 0, counts["photos"] / totals.where(totals > 0, 1), 0.0)
    counts["photos"] = counts["photos"].astype(int)
    return counts


def cluster_likes(table: pd.DataFrame, unit: str = "quarter") -> pd.DataFrame:
    """Likes per cluster and period: ``period, cluster, photos, median_likes, mean_likes`` (non-empty cells).

    Likes unknown for a photo leave it out of the medians (``photos``
    counts every dated photo of the cell).

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": ["C1", "C1", "C2"], "likes": pd.array([10, 30, None], dtype="Int64"),
    ...                   "timestamp": pd.to_datetime(["2020-01-01", "2020-05-01", "2020-02-01"], utc=True)})
    >>> cluster_likes(t, "year").to_dict("records")  # doctest: +NORMALIZE_WHITESPACE
    [{'period': '2020', 'cluster': 'C1', 'photos': 2, 'median_likes': 20.0, 'mean_likes': 20.0},
     {'period': '2020', 'cluster': 'C2', 'photos': 1, 'median_likes': nan, 'mean_likes': nan}]
    """
    frame = _dated(table, unit)
    periods = atlas_periods(table["timestamp"], unit)
    out = frame.groupby(["period", "cluster"]).agg(
        photos=("likes_f", "size"), median_likes=("likes_f", "median"), mean_likes=("likes_f", "mean")
    ).reset_index()
    rank = {p: i for i, p in enumerate(periods)}
    clusters = {c: i for i, c in enumerate(_cluster_order(table["cluster"]))}
    out = out.sort_values(["period", "cluster"], key=lambda s: s.map(rank if s.name == "period" else clusters))
    out["photos"] = out["photos"].astype(int)
    return out.reset_index(drop=True)


@dataclass(frozen=True)
class StyleChange:
    """Each cluster's share in the older and the newer half of the dated posts.

    Attributes
    ----------
    table : pandas.DataFrame
        ``cluster, older, newer, change`` (shares, and newer − older),
        the cluster that grew most first.
    split : pandas.Timestamp or None
        The date dividing the halves (the median post date).
    p_value : float
        Chi-square test of independence of cluster and half: the chance of a
        change at least this large if the mix had not changed (NaN when it
        cannot be computed: one cluster, or too few posts).
    n_older, n_newer : int
        Posts in each half.
    """

    table: pd.DataFrame
    split: pd.Timestamp | None
    p_value: float
    n_older: int
    n_newer: int

    @property
    def significant(self) -> bool:
        """The mix changed more than chance would make it (p < 0.05)."""
        return bool(np.isfinite(self.p_value) and self.p_value < 0.05)


def style_change(table: pd.DataFrame) -> StyleChange:
    """Which clusters grew or faded between the older and the newer half of the posts.

    Examples
    --------
    >>> t = pd.DataFrame({"cluster": ["C1"] * 20 + ["C2"] * 20,
    ...                   "timestamp": pd.date_range("2020-01-01", periods=40, freq="D", tz="UTC")})
    >>> change = style_change(t)
    >>> change.table[["cluster", "older", "newer"]].values.tolist()
    [['C2', 0.0, 1.0], ['C1', 1.0, 0.0]]
    >>> change.significant, change.n_older, change.n_newer
    (True, 20, 20)
    """
    from scipy.stats import chi2_contingency

    ts = pd.to_datetime(table["timestamp"].reset_index(drop=True), utc=True, errors="coerce")
    clusters = table["cluster"].reset_index(drop=True).astype(str)
    known = ts.notna()
    ts, clusters = ts[known], clusters[known]
    empty = pd.DataFrame(columns=["cluster", "older", "newer", "change"])
    if len(ts) < 2:
        return StyleChange(empty, None, float("nan"), 0, int(len(ts)))
    order = np.argsort(ts.to_numpy(), kind="stable")
    half = len(order) // 2
    newer = np.zeros(len(ts), bool)
    newer[order[half:]] = True
    split = ts.iloc[order[half]]
    crosstab = pd.crosstab(clusters.to_numpy(), newer).reindex(columns=[False, True], fill_value=0)
    shares = crosstab / crosstab.sum(axis=0)
    out = pd.DataFrame({"cluster": crosstab.index.astype(str), "older": shares[False].to_numpy(),
                        "newer": shares[True].to_numpy()})
    out["change"] = out["newer"] - out["older"]
    out = out.sort_values(["change", "cluster"], ascending=[False, True]).reset_index(drop=True)
    p_value = float("nan")
    if len(crosstab) >= 2:
        p_value = float(chi2_contingency(crosstab.to_numpy())[1])
    return StyleChange(out, split, p_value, int((~newer).sum()), int(newer.sum()))
