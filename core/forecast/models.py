"""Like and comment forecasters and their honest, time-ordered evaluation.

:class:`SeedLabelModel`
    The seed project's model, exactly: per label, γ = mean likes and
    α = mean comments of the posts carrying it; a prediction is the mean of
    the γ (α) of the photo's known labels, or the user's mean when no label
    is known. ``weighting="count"`` is the variant in the seed's own code
    (``Σ avg·count / Σ count``), which weights each label by how often it was
    seen. (The seed's JavaScript also truncated each average with
    ``parseInt``; that rounding is not reproduced.)
:class:`EngagementRegressor`
    The better model the seed's authors asked for: ridge regression (or
    gradient boosting on top of a time trend) on ``log1p(likes)`` with label
    indicators, a PCA of the photo's features, hour of day, weekday, a
    recency trend and the account.
:func:`evaluate`
    Rolling-origin evaluation: every test post is predicted by models fitted
    on older posts only. MAE, median absolute percentage error and Spearman
    rank correlation per model; never training error. Each account's newest
    posts are held out, and they are given only what a new photo would have
    (no Instagram alt text, which exists only once a photo is posted).
:class:`AccountBaseline`
    What the user already knows: the account's usual likes (mean of
    ``log1p``), the median of its last 10 posts, or its trend. Every content
    model must beat these on the same held-out posts to be shown first
    (:meth:`Evaluation.choose`).
:class:`AccountRange`
    Clips every forecast to a plausible range of the account's history.
:func:`conformal_offsets`
    Split-conformal intervals from held-out errors (per account when it has
    enough of them), and :func:`conformal_check` measures their coverage.

Inputs travel as :class:`ForecastInputs` (labels, times, accounts and photo
features of the same posts), so every model sees the same posts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..jobs import CancelCheck, Cancelled

__all__ = [
    "ForecastInputs",
    "SeedLabelModel",
    "MeanModel",
    "EngagementRegressor",
    "AccountBaseline",
    "AccountRange",
    "Choice",
    "Evaluation",
    "conformal_offsets",
    "conformal_check",
    "NEW_PHOTO_LACKS",
    "repeated_photos",
    "evaluate",
    "regression_metrics",
    "label_table",
    "MIN_POSTS_TO_EVALUATE",
]

#: Fewer posts with counts than this cannot be split into train and test.
MIN_POSTS_TO_EVALUATE = 8
_YEAR_NS = 365.25 * 24 * 3600 * 1e9

#: Label prefixes a photo only gets once it is posted (Instagram writes its
#: alt text then): a new photo never has them, so no forecast may use them.
NEW_PHOTO_LACKS: tuple[str, ...] = ("alt: ",)


@dataclass
class ForecastInputs:
    """What the models know about a set of posts (one entry per post).

    Attributes
    ----------
    labels : list of list of str
    timestamp : numpy.ndarray
        ``datetime64[ns]`` in UTC; ``NaT`` when unknown.
    account : numpy.ndarray
        Account name per post (``""`` when unknown).
    visual : numpy.ndarray or None
        ``(n, d)`` photo features; rows where ``visual_valid`` is False are
        ignored.
    visual_valid : numpy.ndarray or None
        ``(n,)`` bool.
    photo : numpy.ndarray or None
        The photo's identity (sha256) per post, so a repost is seen as one photo.

    Examples
    --------
    >>> X = ForecastInputs.build([["#a"], ["#b", "alt: dog"]], pd.to_datetime(["2024-01-01", None]))
    >>> len(X), X.take([1]).labels, X.for_new_photos().labels
    (2, [['#b', 'alt: dog']], [['#a'], ['#b']])
    """

    labels: list[list[str]]
    timestamp: np.ndarray
    account: np.ndarray
    visual: np.ndarray | None = None
    visual_valid: np.ndarray | None = None
    photo: np.ndarray | None = None

    @classmethod
    def build(cls, labels: Sequence[Sequence[str]], timestamp=None, account=None, visual=None,
              visual_valid=None, photo=None) -> "ForecastInputs":
        """Validate and convert the parts (missing parts become unknowns)."""
        labels = [list(map(str, row)) for row in labels]
        n = len(labels)
        if timestamp is None:
            ts = np.full(n, np.datetime64("NaT"), dtype="datetime64[ns]")
        else:
            ts = pd.to_datetime(pd.Series(list(timestamp) if not isinstance(timestamp, pd.Series) else timestamp),
                                utc=True, errors="coerce")
            ts = ts.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[ns]")
        acc = np.array([""] * n if account is None else ["" if a is None else str(a) for a in account], dtype=object)
        if visual is not None:
            visual = np.asarray(visual, dtype=np.float32)
            if visual.ndim != 2 or len(visual) != n:
                raise ValueError(f"visual must be (n_posts, d); got {visual.shape} for {n} posts")
            valid = np.ones(n, bool) if visual_valid is None else np.asarray(visual_valid, bool)
        else:
            valid = None
        ids = None if photo is None else np.array([str(p) for p in photo], dtype=object)
        if len(ts) != n or len(acc) != n or (ids is not None and len(ids) != n):
            raise ValueError("labels, timestamp, account and photo must have one entry per post")
        return cls(labels, ts, acc, visual, valid, ids)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index) -> "ForecastInputs":
        """The posts at ``index`` (an integer array or list)."""
        index = np.asarray(index, dtype=int)
        return ForecastInputs(
            [self.labels[i] for i in index], self.timestamp[index], self.account[index],
            None if self.visual is None else self.visual[index],
            None if self.visual_valid is None else self.visual_valid[index],
            None if self.photo is None else self.photo[index],
        )

    def for_new_photos(self) -> "ForecastInputs":
        """The same posts with only what a photo not yet posted would have
        (labels starting with :data:`NEW_PHOTO_LACKS` removed)."""
        labels = [[label for label in row if not label.startswith(NEW_PHOTO_LACKS)] for row in self.labels]
        return replace(self, labels=labels)

    def years(self) -> np.ndarray:
        """Years since 1970 (NaN when the time is unknown)."""
        ts = self.timestamp.astype("datetime64[ns]").astype(np.int64).astype(float) / _YEAR_NS
        return np.where(np.isnat(self.timestamp), np.nan, ts)


def repeated_photos(X: ForecastInputs, tolerance: float = 0.02) -> np.ndarray:
    """True for posts whose photo an earlier post already showed.

    Same ``photo`` id (sha256), or ``visual`` coordinates closer than
    ``tolerance`` (a re-encoded or re-cropped copy). Posts are taken in the
    order given; the first showing of each photo is kept.

    Examples
    --------
    >>> V = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 0.001], [1.0, 1.0]])
    >>> X = ForecastInputs.build([[]] * 4, visual=V, photo=["a", "b", "c", "b"])
    >>> repeated_photos(X).tolist()
    [False, False, True, True]
    """
    n = len(X)
    repeated = np.zeros(n, bool)
    if X.photo is not None:
        repeated |= pd.Series(X.photo).duplicated().to_numpy()
    if X.visual is not None and X.visual_valid is not None and X.visual_valid.sum() > 1:
        from scipy.spatial import cKDTree

        rows = np.flatnonzero(X.visual_valid)
        pairs = cKDTree(np.asarray(X.visual[rows], np.float64)).query_pairs(tolerance, output_type="ndarray")
        if len(pairs):
            repeated[rows[pairs.max(axis=1)]] = True  # the later of each near-identical pair
    return repeated


def _as_2d(y) -> tuple[np.ndarray, bool]:
    y = np.asarray(y, dtype=np.float64)
    if y.ndim == 1:
        return y[:, None], True
    if y.ndim != 2:
        raise ValueError(f"y must be (n,) or (n, k); got shape {y.shape}")
    return y, False


def _labels_of(X) -> list[list[str]]:
    return X.labels if isinstance(X, ForecastInputs) else [list(row) for row in X]


class MeanModel:
    """The user's mean: the baseline every model must beat.

    Examples
    --------
    >>> MeanModel().fit(None, [1.0, 3.0]).predict([[], []]).tolist()
    [2.0, 2.0]
    """

    def fit(self, X, y) -> "MeanModel":
        y2, self._flat = _as_2d(y)
        self.mean_ = np.nanmean(y2, axis=0)
        return self

    def predict(self, X) -> np.ndarray:
        n = len(X)
        out = np.tile(self.mean_, (n, 1))
        return out[:, 0] if self._flat else out


def _log_targets(y) -> tuple[np.ndarray, bool]:
    y2, flat = _as_2d(y)
    with np.errstate(invalid="ignore"):
        return np.log1p(np.maximum(y2, 0)), flat


class AccountBaseline:
    """What the user already knows about each account: its usual likes.

    All three work on ``log1p(count)``, per account (an account the model
    has not seen gets the pooled value):

    - ``"mean"``: the account's mean of ``log1p(likes)`` ("your usual likes");
    - ``"recent"``: the median of its last ``recent`` posts;
    - ``"trend"``: a straight line of ``log1p(likes)`` against time, held at
      ``horizon_years`` past its newest post (the account's mean when it has
      fewer than ``min_trend_posts`` dated posts).

    Examples
    --------
    >>> when = pd.date_range("2024-01-01", periods=4, freq="30D")
    >>> X = ForecastInputs.build([[]] * 4, when, ["a", "a", "b", "b"])
    >>> y = [99, 9999, 9, 99]  # log1p: 4.6, 9.2 | 2.3, 4.6
    >>> AccountBaseline("mean").fit(X, y).predict(X).round().tolist()
    [999.0, 999.0, 31.0, 31.0]
    >>> AccountBaseline("recent", recent=1).fit(X, y).predict(X.take([0, 2])).round().tolist()
    [9999.0, 99.0]
    """

    def __init__(self, kind: str = "mean", *, recent: int = 10, horizon_years: float = 0.5,
                 min_trend_posts: int = 5) -> None:
        self.kind, self.recent, self.horizon_years, self.min_trend_posts = kind, recent, horizon_years, min_trend_posts

    def _level(self, years: np.ndarray, log_y: np.ndarray):
        """One account's parameters for one target: ``(intercept, slope, t_min, t_max)``."""
        if len(log_y) == 0:
            return None
        if self.kind == "mean":
            return (float(log_y.mean()), 0.0, 0.0, 0.0)
        known = ~np.isnan(years)
        if self.kind == "recent":
            order = np.argsort(np.where(known, years, -np.inf), kind="stable")
            return (float(np.median(log_y[order][-self.recent:])), 0.0, 0.0, 0.0)
        t = years[known]
        if known.sum() < self.min_trend_posts or np.ptp(t) <= 0:
            return (float(log_y.mean()), 0.0, 0.0, 0.0)
        slope, intercept = np.polyfit(t - t.min(), log_y[known], 1)
        return (float(intercept - slope * t.min()), float(slope), float(t.min()), float(t.max()))

    def fit(self, X: ForecastInputs, y) -> "AccountBaseline":
        if self.kind not in ("mean", "recent", "trend"):
            raise ValueError(f"kind must be 'mean', 'recent' or 'trend', not {self.kind!r}")
        log_y, self._flat = _log_targets(y)
        years = X.years()
        self.params_: dict[str, list] = {}
        for account in dict.fromkeys(X.account):
            rows = X.account == account
            self.params_[account] = [self._level(years[rows & ~np.isnan(log_y[:, j])],
                                                 log_y[rows & ~np.isnan(log_y[:, j]), j])
                                     for j in range(log_y.shape[1])]
        self.pooled_ = [(float(np.nanmean(log_y[:, j])) if (~np.isnan(log_y[:, j])).any() else 0.0, 0.0, 0.0, 0.0)
                        for j in range(log_y.shape[1])]
        return self

    def predict_log(self, X: ForecastInputs) -> np.ndarray:
        years = X.years()
        out = np.zeros((len(X), len(self.pooled_)))
        for i, (account, t) in enumerate(zip(X.account, years)):
            params = self.params_.get(account)
            for j in range(out.shape[1]):
                intercept, slope, t_min, t_max = (params[j] if params and params[j] is not None else self.pooled_[j])
                if slope:
                    t = t_max if np.isnan(t) else min(max(t, t_min), t_max + self.horizon_years)
                    out[i, j] = intercept + slope * t
                else:
                    out[i, j] = intercept
        return out

    def predict(self, X: ForecastInputs) -> np.ndarray:
        out = np.expm1(self.predict_log(X))
        return out[:, 0] if self._flat else out


class AccountRange:
    """A plausible range per account: its lowest and highest ``log1p(count)``,
    widened by ``margin`` (a factor) on each side. Every forecast is clipped
    to it, so no input can send a forecast to 0 or to a billion likes.

    Examples
    --------
    >>> X = ForecastInputs.build([[]] * 3, account=["a", "a", "b"])
    >>> r = AccountRange(margin=2.0).fit(X, [100.0, 400.0, 10.0])
    >>> r.clip(X.take([0, 0, 2]), np.array([1e9, 0.0, 1e9])).round(1).tolist()
    [801.0, 49.5, 21.0]
    """

    def __init__(self, margin: float = 1.5) -> None:
        self.margin = margin

    def fit(self, X: ForecastInputs, y) -> "AccountRange":
        log_y, _ = _log_targets(y)
        m = np.log(self.margin)

        def bounds(block: np.ndarray) -> np.ndarray:
            known = ~np.isnan(block)
            low = np.where(known, block, np.inf).min(axis=0, initial=np.inf)
            high = np.where(known, block, -np.inf).max(axis=0, initial=-np.inf)
            return np.where(known.any(axis=0), np.vstack([low - m, high + m]), np.nan)

        self.pooled_ = bounds(log_y)
        self.bounds_ = {account: bounds(log_y[X.account == account]) for account in dict.fromkeys(X.account)}
        return self

    def log_bounds(self, account: str) -> np.ndarray:
        """``(2, n_targets)``: low and high ``log1p`` bounds (the pooled ones where the account has none)."""
        own = self.bounds_.get(account)
        return self.pooled_ if own is None else np.where(np.isnan(own), self.pooled_, own)

    def clip(self, X: ForecastInputs, predicted: np.ndarray) -> np.ndarray:
        """``predicted`` counts (``(n,)`` or ``(n, n_targets)``) clipped to each post's account range."""
        p2, flat = _as_2d(predicted)
        out = p2.copy()
        for account in dict.fromkeys(X.account):
            rows = X.account == account
            lo, hi = self.log_bounds(account)[:, : p2.shape[1]]
            with np.errstate(invalid="ignore", over="ignore"):
                logs = np.log1p(np.maximum(np.nan_to_num(p2[rows], nan=np.nan, posinf=1e300), 0))
            logs = np.where(np.isnan(logs), (lo + hi) / 2, np.clip(logs, lo, hi))
            out[rows] = np.expm1(np.where(np.isnan(lo) | np.isnan(hi), np.nan, logs))
        return out[:, 0] if flat else out


class SeedLabelModel:
    """The seed's per-label mean model.

    Parameters
    ----------
    weighting : {"mean", "count"}
        ``"mean"``: the report's formula, the plain mean of the known labels'
        coefficients. ``"count"``: the seed code's ``Σ avg·count / Σ count``.

    Attributes
    ----------
    coefficients_ : pandas.DataFrame
        Indexed by label: ``count`` and one mean per target column
        (γ for likes, α for comments).
    fallback_ : numpy.ndarray
        The user's mean, used when a photo has no known label.

    Examples
    --------
    Two posts: ``forest`` (100 likes) and ``forest, person`` (200 likes).
    γ(forest) = 150, γ(person) = 200, so ``forest, person, stream`` gets
    (150 + 200) / 2 = 175 (``stream`` is unknown); count-weighted:
    (150·2 + 200·1) / 3.

    >>> m = SeedLabelModel().fit([["forest"], ["forest", "person"]], [100, 200])
    >>> m.predict([["forest", "person", "stream"]]).tolist()
    [175.0]
    >>> SeedLabelModel("count").fit([["forest"], ["forest", "person"]], [100, 200]).predict(
    ...     [["forest", "person"]]).round(3).tolist()
    [166.667]
    >>> m.predict([["stream"]]).tolist()  # no known label: the user's mean
    [150.0]
    """

    def __init__(self, weighting: str = "mean") -> None:
        self.weighting = weighting

    def fit(self, X, y) -> "SeedLabelModel":
        if self.weighting not in ("mean", "count"):
            raise ValueError(f"weighting must be 'mean' or 'count', not {self.weighting!r}")
        labels = _labels_of(X)
        y2, self._flat = _as_2d(y)
        if len(labels) != len(y2):
            raise ValueError(f"{len(labels)} label lists for {len(y2)} targets")
        self.fallback_ = np.nanmean(y2, axis=0) if len(y2) else np.zeros(y2.shape[1])
        rows = [(i, label) for i, row in enumerate(labels) for label in dict.fromkeys(row)]
        k = y2.shape[1]
        if not rows:
            self.coefficients_ = pd.DataFrame(columns=["count"] + [f"mean_{j}" for j in range(k)])
        else:
            post, label = zip(*rows)
            frame = pd.DataFrame(y2[list(post)], columns=[f"mean_{j}" for j in range(k)])
            frame["label"] = label
            grouped = frame.groupby("label", sort=False)
            table = grouped.mean()  # NaN targets (unknown comments) are skipped per column
            table.insert(0, "count", grouped.size())
            self.coefficients_ = table
        self._lookup = {label: i for i, label in enumerate(self.coefficients_.index)}
        self._means = self.coefficients_[[f"mean_{j}" for j in range(k)]].to_numpy(np.float64)
        self._counts = self.coefficients_["count"].to_numpy(np.float64) if k else np.zeros(0)
        return self

    def known(self, labels: Sequence[str]) -> list[str]:
        """The labels of one photo that the model has seen, in order."""
        return [label for label in dict.fromkeys(labels) if label in self._lookup]

    def _one(self, labels: Sequence[str]) -> np.ndarray:
        idx = [self._lookup[label] for label in self.known(labels)]
        if not idx:
            return self.fallback_.copy()
        means = self._means[idx]
        if self.weighting == "count":
            w = self._counts[idx][:, None] * ~np.isnan(means)
            with np.errstate(invalid="ignore", divide="ignore"):
                out = np.nansum(means * self._counts[idx][:, None], axis=0) / w.sum(axis=0)
        else:
            with np.errstate(invalid="ignore"):
                out = np.nanmean(means, axis=0) if np.isnan(means).any() else means.mean(axis=0)
        return np.where(np.isnan(out), self.fallback_, out)

    def predict(self, X) -> np.ndarray:
        labels = _labels_of(X)
        out = np.array([self._one(row) for row in labels]).reshape(len(labels), -1)
        return out[:, 0] if self._flat else out

    def contributions(self, labels: Sequence[str], target: int = 0) -> pd.DataFrame:
        """Each known label's share of one prediction of target column ``target`` (shares sum to it).

        Returns
        -------
        pandas.DataFrame
            ``label``, ``count``, ``coefficient`` (the label's mean of that
            target: γ for likes) and ``contribution`` (its weight times it).
        """
        known = self.known(labels)
        if not known:
            return pd.DataFrame(columns=["label", "count", "coefficient", "contribution"])
        idx = [self._lookup[label] for label in known]
        gamma, counts = self._means[idx, target], self._counts[idx]
        weights = counts / counts.sum() if self.weighting == "count" else np.full(len(idx), 1 / len(idx))
        return pd.DataFrame({"label": known, "count": counts.astype(int), "coefficient": gamma,
                             "contribution": weights * gamma})


def label_table(labels: Sequence[Sequence[str]], likes, comments, *, others: dict | None = None) -> pd.DataFrame:
    """Per label: posts, mean likes and comments (and of each of ``others``), and their standard errors.

    Labels seen on a single post have no standard error and are flagged.
    Each post counts once: pass each picture once (a repost is the same photo).

    Parameters
    ----------
    labels : sequence of sequence of str
    likes, comments : array-like
        Per post (NaN: unknown, skipped in that column).
    others : dict, optional
        More targets, name -> counts per post: ``mean_<name>`` and ``<name>_se`` columns.

    Examples
    --------
    >>> t = label_table([["a"], ["a", "b"]], [10, 20], [1, 3])
    >>> t[["label", "posts", "mean_likes", "likes_se", "seen_once"]].values.tolist()
    [['a', 2, 15.0, 5.0, False], ['b', 1, 20.0, nan, True]]
    >>> label_table([["a"], ["a"]], [10, 20], [1, 3], others={"saves": [4, 6]})["mean_saves"].tolist()
    [5.0]
    """
    targets = {"likes": list(likes), "comments": list(comments), **{k: list(v) for k, v in (others or {}).items()}}
    columns = ["label", "source", "posts"] + [c for t in targets for c in (f"mean_{t}", f"{t}_se")] + ["seen_once"]
    rows = [(label, *values) for row, *values in zip(labels, *targets.values()) for label in dict.fromkeys(row)]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=["label", *targets])
    for t in targets:
        frame[t] = pd.to_numeric(frame[t], errors="coerce").astype(float)
    g = frame.groupby("label", sort=False)
    parts = {"posts": g.size()}
    for t in targets:
        parts[f"mean_{t}"] = g[t].mean()
        parts[f"{t}_se"] = g[t].std(ddof=1) / np.sqrt(g[t].count())
    out = pd.DataFrame(parts).reset_index()
    out["seen_once"] = out["posts"] == 1
    out.insert(1, "source", [_source_of(label) for label in out["label"]])
    return out.sort_values(["posts", "label"], ascending=[False, True], kind="stable").reset_index(drop=True)[columns]


def _source_of(label: str) -> str:
    if label.startswith("#"):
        return "hashtag"
    head, sep, _ = label.partition(": ")
    return {"alt": "accessibility caption", "imagenet": "ImageNet", "faces": "face count",
            "person": "people", "cluster": "visual cluster", "posted": "posting time",
            "weekday": "weekday"}.get(head, "other") if sep else "other"


class EngagementRegressor:
    """A regularised model of ``log1p(likes)`` (and comments).

    Inputs (built from :class:`ForecastInputs`):

    - indicators of the labels seen on at least ``min_label_posts`` training
      posts (the ``max_labels`` most frequent);
    - a PCA (``n_components``) of the photo features (give it short,
      comparable features such as :class:`core.forecast.training.PhotoLook`'s);
    - hour of day (sine and cosine) and weekday (one-hot), in UTC;
    - the recency trend: years since the first training post, which lets
      the model follow a growing (or shrinking) account — the seed's own
      failure;
    - the account, when the archive has several.

    Parameters
    ----------
    kind : {"ridge", "boosting"}
        ``"ridge"``: :class:`~sklearn.linear_model.RidgeCV` on standardised
        inputs (its contributions are exact and shown on the page).
        ``"boosting"``: a linear time trend, then
        :class:`~sklearn.ensemble.HistGradientBoostingRegressor` on what the
        trend leaves (trees cannot extrapolate a trend into the future).
    random_state : int

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> labels = [["dog"] if i % 2 else ["cat"] for i in range(40)]
    >>> when = pd.date_range("2023-01-01", periods=40, freq="7D")
    >>> likes = np.where([i % 2 for i in range(40)], 300, 100) * rng.lognormal(0, 0.1, 40)
    >>> model = EngagementRegressor().fit(ForecastInputs.build(labels, when), likes)
    >>> pred = model.predict(ForecastInputs.build([["dog"], ["cat"]], when[-2:]))
    >>> bool(pred[0] > 2 * pred[1])
    True
    """

    def __init__(self, kind: str = "ridge", *, min_label_posts: int = 2, max_labels: int = 300,
                 n_components: int = 10, min_component_share: float = 1e-4, random_state: int = 0) -> None:
        self.kind = kind
        self.min_component_share = min_component_share
        self.min_label_posts = min_label_posts
        self.max_labels = max_labels
        self.n_components = n_components
        self.random_state = random_state

    # -- inputs ---------------------------------------------------------------
    def _fit_design(self, X: ForecastInputs) -> None:
        counts = Counter(label for row in X.labels for label in dict.fromkeys(row))
        frequent = [lab for lab, c in counts.most_common() if c >= self.min_label_posts][: self.max_labels]
        self.vocabulary_ = {label: i for i, label in enumerate(frequent)}
        ts = X.timestamp.astype("datetime64[ns]").astype(np.int64).astype(float)
        known_t = ~np.isnat(X.timestamp)
        self.t0_ = float(ts[known_t].min()) if known_t.any() else 0.0
        years = (ts - self.t0_) / _YEAR_NS
        self.t_fill_ = float(np.median(years[known_t])) if known_t.any() else 0.0
        self.t_max_ = float(years[known_t].max()) if known_t.any() else 0.0
        self.has_time_ = bool(known_t.any())
        accounts = sorted(set(X.account))
        self.accounts_ = accounts if len(accounts) > 1 else []
        self.pca_, self.n_look_ = None, 0
        if X.visual is not None and X.visual_valid is not None and X.visual_valid.sum() >= 3:
            from sklearn.decomposition import PCA

            # One row per distinct photo (``X`` has no repeats by now), and only
            # components with real spread: a component of ~1e-34 variance, once
            # standardised, would multiply any new photo's tiny offset into
            # forecasts of 0 or of 10^9 likes.
            V = np.asarray(X.visual[X.visual_valid], np.float64)
            k = int(min(self.n_components, V.shape[1], len(V) - 1))
            if k >= 1:
                self.pca_ = PCA(n_components=k, random_state=self.random_state).fit(V)
                spread = self.pca_.explained_variance_
                self.n_look_ = int((spread > max(spread[0], 1e-12) * self.min_component_share).sum())
                if self.n_look_ == 0:
                    self.pca_ = None

    def _design(self, X: ForecastInputs, *, horizon_years: float | None = None) -> tuple[np.ndarray, list[str], np.ndarray]:
        """Design matrix, the group of each column, and the trend column."""
        n = len(X)
        blocks, groups = [], []
        L = np.zeros((n, len(self.vocabulary_)), np.float64)
        for i, row in enumerate(X.labels):
            for label in row:
                j = self.vocabulary_.get(label)
                if j is not None:
                    L[i, j] = 1.0
        blocks.append(L)
        groups += list(self.vocabulary_)
        if self.pca_ is not None:
            P = np.zeros((n, self.n_look_))
            if X.visual is not None and X.visual_valid is not None and X.visual_valid.any():
                ok = X.visual_valid
                P[ok] = self.pca_.transform(np.asarray(X.visual[ok], np.float64))[:, : self.n_look_]
            blocks.append(P)
            groups += ["look of the photo"] * P.shape[1]
        ts = X.timestamp.astype("datetime64[ns]").astype(np.int64).astype(float)
        known = ~np.isnat(X.timestamp)
        years = np.where(known, (ts - self.t0_) / _YEAR_NS, self.t_fill_)
        if horizon_years is not None:
            # A trend is only trusted a little beyond the data it was fitted on.
            years = np.minimum(years, self.t_max_ + horizon_years)
        if self.has_time_:
            hours = np.where(known, (ts / 3.6e12) % 24, 0.0)
            angle = 2 * np.pi * hours / 24
            blocks.append(np.column_stack([np.where(known, np.sin(angle), 0), np.where(known, np.cos(angle), 0)]))
            groups += ["time of day"] * 2
            weekday = np.where(known, ((ts // 8.64e13).astype(np.int64) + 3) % 7, -1)  # 1970-01-01 was a Thursday
            blocks.append(np.column_stack([(weekday == d).astype(float) for d in range(7)]))
            groups += ["weekday"] * 7
            blocks.append(years[:, None])
            groups += ["recency trend"]
        if self.accounts_:
            blocks.append(np.column_stack([(X.account == a).astype(float) for a in self.accounts_]))
            groups += ["account"] * len(self.accounts_)
        return np.hstack(blocks) if blocks else np.zeros((n, 0)), groups, years

    # -- estimator ------------------------------------------------------------
    def fit(self, X: ForecastInputs, y) -> "EngagementRegressor":
        if self.kind not in ("ridge", "boosting"):
            raise ValueError(f"kind must be 'ridge' or 'boosting', not {self.kind!r}")
        if not isinstance(X, ForecastInputs):
            raise TypeError("X must be ForecastInputs")
        y2, self._flat = _as_2d(y)
        if len(y2) != len(X):
            raise ValueError(f"{len(X)} posts for {len(y2)} targets")
        # A repost is the same photo twice: learn from its first showing only.
        first = np.flatnonzero(~repeated_photos(X))
        X, y2 = X.take(first), y2[first]
        self._fit_design(X)
        D, groups, years = self._design(X)
        # Inputs with (almost) no spread carry nothing, and standardising them blows up.
        spread = D.std(axis=0) if len(D) else np.zeros(D.shape[1])
        self.kept_ = spread > 1e-6
        D, self.groups_ = D[:, self.kept_], [g for g, k in zip(groups, self.kept_) if k]
        self.models_ = []
        for j in range(y2.shape[1]):
            ok = ~np.isnan(y2[:, j])
            target = np.log1p(np.maximum(y2[ok, j], 0))
            self.models_.append(self._fit_one(D[ok], target, years[ok]))
        return self

    def _fit_one(self, D: np.ndarray, target: np.ndarray, years: np.ndarray):
        from sklearn.linear_model import RidgeCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        if len(target) == 0:
            return ("constant", 0.0)
        if len(target) < 3:
            return ("constant", float(target.mean()))
        if self.kind == "ridge":
            model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 3, 11), gcv_mode="svd"))
            return ("ridge", model.fit(D, target))
        from sklearn.ensemble import HistGradientBoostingRegressor
        from sklearn.linear_model import Ridge

        trend = Ridge(alpha=1e-3).fit(years[:, None], target) if self.has_time_ else None
        rest = target - (trend.predict(years[:, None]) if trend is not None else target.mean())
        booster = HistGradientBoostingRegressor(
            max_iter=100, learning_rate=0.05, min_samples_leaf=int(max(3, min(20, len(target) // 10))),
            l2_regularization=1.0, random_state=self.random_state,
        ).fit(D, rest)
        return ("boosting", (trend, float(target.mean()), booster))

    def _predict_log(self, D: np.ndarray, years: np.ndarray) -> np.ndarray:
        out = np.zeros((len(D), len(self.models_)))
        for j, (kind, model) in enumerate(self.models_):
            if kind == "constant":
                out[:, j] = model
            elif kind == "ridge":
                out[:, j] = model.predict(D)
            else:
                trend, mean, booster = model
                base = trend.predict(years[:, None]) if trend is not None else mean
                out[:, j] = base + booster.predict(D)
        return out

    def predict_log(self, X: ForecastInputs, *, horizon_years: float = 0.5) -> np.ndarray:
        """Predictions on the ``log1p`` scale, ``(n, n_targets)``."""
        D, _, years = self._design(X, horizon_years=horizon_years)
        return self._predict_log(D[:, self.kept_], years)

    def predict(self, X: ForecastInputs, *, horizon_years: float = 0.5) -> np.ndarray:
        """Predicted counts. Dates beyond the last training post by more than
        ``horizon_years`` are treated as that far (the trend is not
        extrapolated without bound)."""
        out = np.maximum(np.expm1(np.minimum(self.predict_log(X, horizon_years=horizon_years), 50.0)), 0.0)
        return out[:, 0] if self._flat else out

    def contributions(self, X_one: ForecastInputs, target: int = 0) -> pd.DataFrame:
        """How each input moves one prediction, for the ridge model.

        Returns
        -------
        pandas.DataFrame
            ``input`` (a label, or a group such as ``time of day``) and
            ``log_effect`` (added to ``log1p`` of the prediction relative to an
            average training post); ``factor`` = ``exp(log_effect)``. Labels
            the photo does not have are left out. Empty for boosting.
        """
        kind, model = self.models_[target]
        if kind != "ridge" or len(X_one) != 1:
            return pd.DataFrame(columns=["input", "log_effect", "factor"])
        D, _, _ = self._design(X_one, horizon_years=0.5)
        D, groups = D[:, self.kept_], self.groups_
        scaler, ridge = model.steps[0][1], model.steps[-1][1]
        effect = ridge.coef_ * (D[0] - scaler.mean_) / np.where(scaler.scale_ == 0, 1, scaler.scale_)
        frame = pd.DataFrame({"input": groups, "log_effect": effect, "present": D[0] != 0})
        is_label = frame["input"].isin(list(self.vocabulary_))
        labels = frame[is_label & frame["present"]]
        others = frame[~is_label].groupby("input", sort=False)["log_effect"].sum().reset_index()
        out = pd.concat([labels[["input", "log_effect"]], others], ignore_index=True)
        absent = frame[is_label & ~frame["present"]]["log_effect"].sum()
        if len(self.vocabulary_):
            out.loc[len(out)] = ["labels the photo lacks", absent]
        out["factor"] = np.exp(out["log_effect"])
        return out.reset_index(drop=True)


def regression_metrics(actual, predicted) -> dict[str, float]:
    """MAE, MAE of ``log1p``, median absolute percentage error and Spearman's rank correlation.

    Percentage errors skip posts with 0 actual count; Spearman is NaN when
    either side is constant. ``mae_log`` is the error that does not let the
    biggest accounts or posts drown the others (0.1 is about 10 % off).

    Examples
    --------
    >>> m = regression_metrics([10, 20, 40], [12, 18, 50])
    >>> m["mae"], m["mdape"], m["spearman"], round(m["mae_log"], 3)
    (4.666666666666667, 0.2, 1.0, 0.162)
    """
    from scipy.stats import spearmanr

    a = np.asarray(actual, float)
    p = np.asarray(predicted, float)
    ok = ~(np.isnan(a) | np.isnan(p))
    a, p = a[ok], p[ok]
    if len(a) == 0:
        return {"mae": np.nan, "mae_log": np.nan, "mdape": np.nan, "spearman": np.nan, "n": 0}
    pos = a > 0
    mdape = float(np.median(np.abs(a[pos] - p[pos]) / a[pos])) if pos.any() else np.nan
    if len(a) > 2 and np.ptp(a) > 0 and np.ptp(p) > 0:
        rho = float(spearmanr(a, p).statistic)
    else:
        rho = np.nan
    mae_log = float(np.mean(np.abs(np.log1p(np.maximum(a, 0)) - np.log1p(np.maximum(p, 0)))))
    return {"mae": float(np.mean(np.abs(a - p))), "mae_log": mae_log, "mdape": mdape, "spearman": rho,
            "n": int(len(a))}


def _conformal_bounds(sorted_r: np.ndarray, level: float) -> tuple[float, float]:
    """Split-conformal low/high of signed residuals (finite-sample corrected)."""
    n = len(sorted_r)
    alpha = (1 - level) / 2
    lo = int(np.floor((n + 1) * alpha)) - 1
    hi = int(np.ceil((n + 1) * (1 - alpha))) - 1
    return float(sorted_r[max(lo, 0)]), float(sorted_r[min(hi, n - 1)])


def conformal_offsets(residuals, accounts=None, *, level: float = 0.8,
                      min_account: int = 20) -> dict[str, tuple[float, float]]:
    """Split-conformal interval offsets on the ``log1p`` scale, from held-out residuals.

    ``residuals`` are ``log1p(actual) - log1p(forecast)`` of posts the model
    never saw. A new forecast ``f`` gets the interval
    ``expm1(log1p(f) + low) .. expm1(log1p(f) + high)``. Accounts with at
    least ``min_account`` held-out posts get their own offsets; every
    account also falls back on the pooled ones (key ``""``).

    Examples
    --------
    >>> r = np.linspace(-1, 1, 21)
    >>> [round(v, 6) for v in conformal_offsets(r, level=0.8)[""]]
    [-0.9, 0.9]
    """
    r = np.asarray(residuals, float)
    acc = np.array([""] * len(r) if accounts is None else accounts, dtype=object)
    ok = ~np.isnan(r)
    r, acc = r[ok], acc[ok]
    if len(r) < 5:
        return {}
    out = {"": _conformal_bounds(np.sort(r), level)}
    for account in dict.fromkeys(acc):
        own = r[acc == account]
        if account and len(own) >= min_account:
            out[account] = _conformal_bounds(np.sort(own), level)
    return out


def conformal_check(residuals, accounts=None, folds=None, *, level: float = 0.8, min_account: int = 20,
                    min_calibration: int = 10) -> dict[str, float]:
    """Coverage and width of :func:`conformal_offsets` intervals on posts they were not calibrated on.

    With ``folds`` (the evaluation block of each residual, oldest first),
    the posts of each block are checked against intervals calibrated on the
    earlier blocks only (as a saved model's interval meets future posts);
    blocks with fewer than ``min_calibration`` earlier residuals are skipped.
    Without, each post is left out of its own calibration.

    Returns ``coverage`` (share of checked posts inside their interval; the
    target is ``level``), ``width_ratio`` (median of high ÷ low of the
    interval, in counts) and ``n`` (posts checked).

    Examples
    --------
    >>> r = np.random.default_rng(0).normal(0, 0.3, 400)
    >>> check = conformal_check(r, folds=np.repeat(np.arange(5), 80))
    >>> 0.75 <= check["coverage"] <= 0.85, round(check["width_ratio"], 1), check["n"]
    (True, 2.2, 320)
    >>> drift = r + np.repeat(np.arange(5), 80) * 0.3  # later posts do ever better
    >>> conformal_check(drift, folds=np.repeat(np.arange(5), 80))["coverage"] < 0.6
    True
    """
    r = np.asarray(residuals, float)
    acc = np.array([""] * len(r) if accounts is None else accounts, dtype=object)
    fold = None if folds is None else np.asarray(folds)
    ok = ~np.isnan(r)
    r, acc = r[ok], acc[ok]
    fold = None if fold is None else fold[ok]
    covered, widths = [], []

    def check(calibration: np.ndarray, targets: np.ndarray) -> None:
        offsets = conformal_offsets(r[calibration], acc[calibration], level=level, min_account=min_account)
        if not offsets:
            return
        for i in targets:
            lo, hi = offsets.get(acc[i], offsets[""])
            covered.append(lo <= r[i] <= hi)
            widths.append(np.exp(hi - lo))

    if fold is not None:
        for f in sorted(set(fold.tolist())):
            earlier = np.flatnonzero(fold < f)
            if len(earlier) >= min_calibration:
                check(earlier, np.flatnonzero(fold == f))
    else:
        everyone = np.arange(len(r))
        for i in everyone:
            check(everyone[everyone != i], np.array([i]))
    if not covered:
        return {"coverage": np.nan, "width_ratio": np.nan, "n": 0}
    return {"coverage": float(np.mean(covered)), "width_ratio": float(np.median(widths)), "n": len(covered)}


@dataclass
class Choice:
    """Which model a forecast shows first, and whether the photo's content helps.

    Attributes
    ----------
    target : str
    model : str
        The model with the lowest held-out MAE of ``log1p`` (a content model
        only when it beats the best baseline clearly: ``content_helps``).
    best_baseline : str
    best_content : str or None
    content_helps : bool
        A content model's held-out error is lower than the best baseline's
        by more than one standard error of the paired difference.
    gain : float
        ``1 - MAE(best content) / MAE(best baseline)`` (negative: worse).
    mae_log : dict
        Model -> held-out MAE of ``log1p``.
    n : int
        Held-out posts the best content model and the best baseline were
        compared on; below ``min_posts`` of :meth:`Evaluation.choose`, too few
        to tell, and the baseline is kept.
    """

    target: str
    model: str
    best_baseline: str
    best_content: str | None
    content_helps: bool
    gain: float
    mae_log: dict[str, float]
    n: int = 0


@dataclass
class Evaluation:
    """Held-out results of several models.

    Attributes
    ----------
    metrics : pandas.DataFrame
        ``model``, ``target``, ``mae``, ``mae_log``, ``mdape``, ``spearman``, ``n``.
    predictions : pandas.DataFrame
        ``row`` (position in the inputs), ``fold``, ``account``, ``target``,
        ``model``, ``actual``, ``predicted``.
    scheme : str
        How the posts were split, in words.
    notes : list of str
    baselines : tuple of str
        The models that are baselines (what the user already knows).
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    scheme: str
    notes: list[str] = field(default_factory=list)
    baselines: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.metrics.empty

    def wide_table(self, order: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per model: held-out posts, then MAE, MAE of log1p, mdape and Spearman per target.

        Examples
        --------
        >>> m = pd.DataFrame({"model": ["a", "a"], "target": ["likes", "comments"], "mae": [1.0, 2.0],
        ...                   "mae_log": [0.1, 0.2], "mdape": [0.1, 0.2], "spearman": [0.5, 0.6], "n": [4, 4]})
        >>> Evaluation(m, pd.DataFrame(), "").wide_table().columns.tolist()[:4]
        ['held-out posts', 'likes mae_log', 'likes mdape', 'likes mae']
        """
        shown = ("mae_log", "mdape", "mae", "spearman")
        wide = self.metrics.pivot(index="model", columns="target", values=list(shown))
        wide.columns = [f"{target} {metric}" for metric, target in wide.columns]
        rows = [m for m in (order or wide.index) if m in wide.index]
        targets = list(dict.fromkeys(self.metrics["target"]))
        wide = wide.loc[rows, [f"{t} {m}" for t in targets for m in shown]]
        wide.insert(0, "held-out posts", self.metrics.groupby("model")["n"].max().reindex(rows))
        return wide

    def per_account(self, target: str = "likes") -> pd.DataFrame:
        """Held-out MAE of log1p, mdape and posts per account and model (plus an ``all accounts`` row each)."""
        shown = self.predictions[self.predictions["target"] == target]
        rows = []
        for (account, model), group in shown.groupby(["account", "model"], sort=True):
            rows.append({"account": account, "model": model, **regression_metrics(group["actual"], group["predicted"])})
        for model, group in shown.groupby("model", sort=False):
            rows.append({"account": "all accounts", "model": model,
                         **regression_metrics(group["actual"], group["predicted"])})
        columns = ["account", "model", "mae_log", "mdape", "n"]
        return pd.DataFrame(rows, columns=[*columns, "mae", "spearman"])[columns]

    def residuals(self, model: str, target: str) -> pd.DataFrame:
        """``account``, ``fold`` and ``residual`` (``log1p(actual) - log1p(forecast)``) of each held-out post."""
        rows = self.predictions[(self.predictions["model"] == model) & (self.predictions["target"] == target)]
        rows = rows.dropna(subset=["actual", "predicted"])
        r = np.log1p(rows["actual"].to_numpy(float)) - np.log1p(np.maximum(rows["predicted"].to_numpy(float), 0))
        return pd.DataFrame({"account": rows["account"].to_numpy(), "fold": rows["fold"].to_numpy(), "residual": r})

    def residual_quantiles(self, model: str, target: str, q=(0.1, 0.9)) -> tuple[float, float] | None:
        """Quantiles of held-out ``log1p(actual) - log1p(predicted)``."""
        r = self.residuals(model, target)["residual"].to_numpy()
        if len(r) < 5:
            return None
        lo, hi = np.quantile(r, q)
        return float(lo), float(hi)

    def intervals(self, model: str, target: str, *, level: float = 0.8,
                  min_account: int = 20) -> dict[str, tuple[float, float]]:
        """:func:`conformal_offsets` of a model's held-out residuals."""
        r = self.residuals(model, target)
        return conformal_offsets(r["residual"], r["account"], level=level, min_account=min_account)

    def interval_check(self, *, level: float = 0.8, min_account: int = 20) -> pd.DataFrame:
        """:func:`conformal_check` of every model and target, each evaluation block checked against
        intervals calibrated on the earlier blocks: ``model``, ``target``, ``coverage``, ``width_ratio``, ``n``."""
        rows = []
        for (model, target), _ in self.metrics.groupby(["model", "target"], sort=False):
            r = self.residuals(model, target)
            rows.append({"model": model, "target": target,
                         **conformal_check(r["residual"], r["account"], r["fold"], level=level,
                                           min_account=min_account)})
        return pd.DataFrame(rows, columns=["model", "target", "coverage", "width_ratio", "n"])

    def choose(self, target: str = "likes", *, min_posts: int = 10) -> Choice | None:
        """The model to show first for ``target``, by held-out MAE of ``log1p``, baselines included.

        A content model is chosen only when, on at least ``min_posts``
        held-out posts, it beats the best baseline by more than one standard
        error of the paired per-post difference, so chance alone rarely
        makes the page claim that content matters. None when nothing was
        evaluated.
        """
        shown = self.metrics[(self.metrics["target"] == target) & self.metrics["mae_log"].notna()]
        if shown.empty:
            return None
        mae = dict(zip(shown["model"], shown["mae_log"].astype(float)))
        baselines = [m for m in mae if m in self.baselines]
        content = [m for m in mae if m not in self.baselines]
        best_content = min(content, key=mae.get) if content else None
        if not baselines:
            best = min(mae, key=mae.get)
            return Choice(target, best, "", best_content, best_content is not None, np.nan, mae)
        best_baseline = min(baselines, key=mae.get)
        helps, gain, n = False, np.nan, 0
        if best_content is not None:
            gain = 1 - mae[best_content] / mae[best_baseline] if mae[best_baseline] > 0 else np.nan
            errors = self._abs_log_errors(target, [best_baseline, best_content])
            diff = (errors[best_baseline] - errors[best_content]).dropna().to_numpy()
            n = len(diff)
            if n >= max(min_posts, 3):
                se = diff.std(ddof=1) / np.sqrt(len(diff))
                helps = bool(diff.mean() > 0 and diff.mean() > se)
        return Choice(target, best_content if helps else best_baseline, best_baseline, best_content, helps,
                      float(gain), mae, n)

    def _abs_log_errors(self, target: str, models: Sequence[str]) -> pd.DataFrame:
        rows = self.predictions[(self.predictions["target"] == target) & self.predictions["model"].isin(models)]
        err = (np.log1p(rows["actual"].astype(float).clip(lower=0))
               - np.log1p(rows["predicted"].astype(float).clip(lower=0))).abs()
        return rows.assign(err=err).pivot_table(index="row", columns="model", values="err")


def _account_folds(times: np.ndarray, accounts: np.ndarray, n_folds: int) -> tuple[list, int, int]:
    """Rolling origin within each account: its newest half, in blocks."""
    keys = np.where(np.isnat(times), np.iinfo(np.int64).min, times.astype("datetime64[ns]").astype(np.int64))
    trains = [[] for _ in range(n_folds)]
    tests = [[] for _ in range(n_folds)]
    held, smallest_train = 0, None
    for account in dict.fromkeys(accounts):
        rows = np.flatnonzero(accounts == account)
        rows = rows[np.argsort(keys[rows], kind="stable")]
        n = len(rows)
        min_train = max(3, int(np.ceil(n / 2)))
        if n - min_train < 1:  # too few posts to hold any out: they only train
            for f in range(n_folds):
                trains[f].extend(rows)
            continue
        held += n - min_train
        smallest_train = min_train if smallest_train is None else min(smallest_train, min_train)
        edges = np.linspace(min_train, n, n_folds + 1).round().astype(int)
        for f, (a, b) in enumerate(zip(edges[:-1], edges[1:])):
            trains[f].extend(rows[:a])
            tests[f].extend(rows[a:b])
    folds = [(np.array(tr, int), np.array(te, int)) for tr, te in zip(trains, tests) if te]
    return folds, held, smallest_train or 0


def _folds(n: int, times: np.ndarray, accounts: np.ndarray, n_folds: int,
           random_state: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    known = ~np.isnat(times)
    if known.mean() >= 0.8:
        n_accounts = len(set(accounts))
        k = int(max(1, n_folds))
        folds, held, min_train = _account_folds(times, accounts, k)
        if folds:
            if n_accounts > 1:
                scheme = (f"rolling origin within each account: the newest half of each account's posts "
                          f"({held} posts) are predicted in {len(folds)} blocks, each by models fitted only on "
                          "the posts before it in that account (and the other accounts' posts up to the same block)")
            else:
                scheme = (f"rolling origin: the newest {held} posts are predicted in {len(folds)} blocks, "
                          f"each by models fitted only on the posts before it (at least {min_train})")
            return folds, scheme
    from sklearn.model_selection import KFold

    k = int(min(n_folds, n))
    folds = [(tr, te) for tr, te in KFold(k, shuffle=True, random_state=random_state).split(np.arange(n))]
    scheme = (f"shuffled {k}-fold cross-validation: most posts have no date, so a time-ordered split "
              "is impossible and the trend cannot be learnt")
    return folds, scheme


def evaluate(
    X: ForecastInputs,
    y: np.ndarray,
    models: dict[str, Callable[[], object]],
    *,
    targets: Sequence[str] = ("likes", "comments"),
    n_folds: int = 5,
    random_state: int = 0,
    baselines: Sequence[str] = (),
    clip: bool = True,
    cancel: CancelCheck | None = None,
) -> Evaluation:
    """Rolling-origin evaluation of several models on the same folds.

    Within each account the newest half of the posts is held out, in
    ``n_folds`` blocks; each block is forecast by models fitted only on
    older posts. A held-out post is given only what a new photo would have
    (:meth:`ForecastInputs.for_new_photos`), and every forecast is clipped
    to its account's range (:class:`AccountRange`, fitted on the training
    posts) exactly as the saved model's forecasts are.

    Parameters
    ----------
    X : ForecastInputs
    y : numpy.ndarray
        ``(n, len(targets))`` counts; NaN where unknown (left out of that
        target's metrics).
    models : dict
        Name -> a function returning a fresh, unfitted model.
    baselines : sequence of str
        Which of ``models`` are baselines (for :meth:`Evaluation.choose`).
    clip : bool
        Clip forecasts to the account's range.

    Returns
    -------
    Evaluation
        Empty metrics (and a note saying why) when there are fewer than
        :data:`MIN_POSTS_TO_EVALUATE` posts.
    """
    y2, _ = _as_2d(y)
    n = len(X)
    if n < MIN_POSTS_TO_EVALUATE:
        note = (f"Only {n} posts have like counts; at least {MIN_POSTS_TO_EVALUATE} are needed to hold some "
                "out and measure the error honestly.")
        empty = pd.DataFrame(columns=["model", "target", "mae", "mae_log", "mdape", "spearman", "n"])
        return Evaluation(empty, pd.DataFrame(columns=["row", "fold", "account", "target", "model", "actual",
                                                       "predicted"]), "none", [note], tuple(baselines))
    folds, scheme = _folds(n, X.timestamp, X.account, n_folds, random_state)
    records = []
    for f, (train, test) in enumerate(folds):
        if cancel is not None and cancel():
            raise Cancelled("evaluation cancelled")
        X_train, X_test = X.take(train), X.take(test).for_new_photos()
        bounds = AccountRange().fit(X_train, y2[train]) if clip else None
        for name, make in models.items():
            model = make().fit(X_train, y2[train])
            pred = np.asarray(model.predict(X_test), float).reshape(len(test), -1)
            if bounds is not None:
                pred = bounds.clip(X_test, pred)
            for j, target in enumerate(targets):
                records.append(pd.DataFrame({"row": test, "fold": f, "account": X_test.account, "target": target,
                                             "model": name, "actual": y2[test, j], "predicted": pred[:, j]}))
    predictions = pd.concat(records, ignore_index=True)
    rows = []
    for (name, target), group in predictions.groupby(["model", "target"], sort=False):
        rows.append({"model": name, "target": target, **regression_metrics(group["actual"], group["predicted"])})
    return Evaluation(pd.DataFrame(rows), predictions, scheme, baselines=tuple(baselines))
