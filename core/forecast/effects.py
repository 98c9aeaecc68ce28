"""Who and what lifts your likes: each label's effect against the account's usual level.

For every label (hashtag, alt-text object, ImageNet class, face count, named
person, visual cluster) and for the posting time and weekday, the effect is
the ratio of likes of the posts with it to the posts without it, both taken
against their own account's usual level (its trend of ``log1p(likes)`` when
it has enough dated posts, else its mean). So a label used mostly by a big
account does not look like a lift, and a growing account does not make its
newest labels look good.

The confidence interval is a bootstrap over posts (Poisson weights, all
labels at once). An effect whose interval contains "no change" (a factor
of 1) is "no evidence": with many labels, about one in twenty of those
without any effect still shows an interval that misses 1 by chance, which
is why the count of posts and the interval stand beside every factor.
"""

from __future__ import annotations

from collections import Counter
from typing import Sequence

import numpy as np
import pandas as pd

from .models import AccountBaseline, ForecastInputs, _source_of

__all__ = ["effects_table", "time_labels"]

_WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
_PARTS = ((0, "night (0–6 h UTC)"), (6, "morning (6–12 h UTC)"), (12, "afternoon (12–18 h UTC)"),
          (18, "evening (18–24 h UTC)"))


def time_labels(timestamp) -> list[list[str]]:
    """``posted: <part of day>`` and ``weekday: <day>`` labels of each post (none when undated).

    Examples
    --------
    >>> time_labels(pd.to_datetime(["2024-06-01 19:30", None], utc=True))
    [['posted: evening (18–24 h UTC)', 'weekday: Saturday'], []]
    """
    out = []
    for t in pd.to_datetime(pd.Series(list(timestamp)), utc=True, errors="coerce"):
        if pd.isna(t):
            out.append([])
            continue
        part = [name for start, name in _PARTS if t.hour >= start][-1]
        out.append([f"posted: {part}", f"weekday: {_WEEKDAYS[t.weekday()]}"])
    return out


def effects_table(
    labels: Sequence[Sequence[str]],
    likes,
    accounts=None,
    timestamp=None,
    *,
    min_posts: int = 3,
    max_labels: int = 300,
    n_boot: int = 400,
    level: float = 0.95,
    random_state: int = 0,
) -> pd.DataFrame:
    """Each label's multiplicative effect on likes, with a bootstrap confidence interval.

    Parameters
    ----------
    labels : sequence of sequence of str
        Per post (posts with unknown likes are skipped).
    likes : array-like
    accounts, timestamp : array-like, optional
        Per post; time labels (part of day, weekday) are added when dated.
    min_posts : int
        A label needs this many posts with it and without it.
    level : float
        Of the confidence interval.

    Returns
    -------
    pandas.DataFrame
        ``label``, ``source``, ``posts``, ``factor`` (likes with it ÷ likes
        without it, against the account's usual level), ``low``, ``high``
        (the interval of ``factor``), ``evidence`` (the interval misses 1),
        most certain first: effects with evidence by the size of the effect
        relative to its uncertainty, then the others.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> tags = [["#dog"] if i % 3 == 0 else ["#cat"] for i in range(90)]
    >>> likes = np.exp(5 + np.where([t == ["#dog"] for t in tags], np.log(2), 0) + rng.normal(0, 0.2, 90))
    >>> t = effects_table(tags, likes).set_index("label")
    >>> bool(t.at["#dog", "low"] < 2 < t.at["#dog", "high"]), bool(t.at["#dog", "evidence"])
    (True, True)
    """
    columns = ["label", "source", "posts", "factor", "low", "high", "evidence"]
    likes = np.asarray(pd.to_numeric(pd.Series(list(likes)), errors="coerce"), float)
    n = len(likes)
    accounts = [""] * n if accounts is None else list(accounts)
    times = pd.Series([pd.NaT] * n) if timestamp is None else pd.Series(list(timestamp))
    rows = [[*dict.fromkeys(map(str, row))] for row in labels]
    rows = [row + extra for row, extra in zip(rows, time_labels(times))]
    ok = ~np.isnan(likes) & (likes >= 0)
    idx = np.flatnonzero(ok)
    if len(idx) < 2 * min_posts:
        return pd.DataFrame(columns=columns)
    X = ForecastInputs.build([rows[i] for i in idx], times.iloc[idx], [accounts[i] for i in idx])
    y = likes[idx]
    usual = AccountBaseline("trend", min_trend_posts=10).fit(X, y).predict_log(X)[:, 0]
    r = np.log1p(y) - usual
    counts = Counter(label for row in X.labels for label in row)
    m = len(idx)
    kept = [label for label, c in counts.most_common() if min_posts <= c <= m - min_posts][:max_labels]
    if not kept:
        return pd.DataFrame(columns=columns)
    col = {label: j for j, label in enumerate(kept)}
    ind = np.zeros((m, len(kept)))
    for i, row in enumerate(X.labels):
        for label in row:
            j = col.get(label)
            if j is not None:
                ind[i, j] = 1.0

    def contrast(w: np.ndarray) -> np.ndarray:
        """Mean residual with each label minus without it, for weights ``w`` (B, m)."""
        s_with, c_with = w @ (ind * r[:, None]), w @ ind
        s_all, c_all = (w @ r)[:, None], w.sum(axis=1)[:, None]
        with np.errstate(invalid="ignore", divide="ignore"):
            return s_with / c_with - (s_all - s_with) / (c_all - c_with)

    point = contrast(np.ones((1, m)))[0]
    weights = np.random.default_rng(random_state).poisson(1.0, size=(n_boot, m)).astype(float)
    boot = contrast(weights)
    boot[~np.isfinite(boot)] = np.nan  # a resample without (or with only) the label's posts
    alpha = (1 - level) / 2
    with np.errstate(invalid="ignore"):
        low, high = np.nanquantile(boot, alpha, axis=0), np.nanquantile(boot, 1 - alpha, axis=0)
        spread = np.nanstd(boot, axis=0)
    table = pd.DataFrame({
        "label": kept, "source": [_source_of(label) for label in kept], "posts": [counts[k] for k in kept],
        "factor": np.exp(point), "low": np.exp(low), "high": np.exp(high),
        "evidence": (low > 0) | (high < 0),
    })
    with np.errstate(divide="ignore", invalid="ignore"):
        certainty = np.abs(point) / np.where(spread > 0, spread, np.inf)
    table["certainty"] = certainty
    table = table.sort_values(["evidence", "certainty"], ascending=[False, False], kind="stable")
    return table[columns].reset_index(drop=True)
