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
    rank correlation per model; never training error.

Inputs travel as :class:`ForecastInputs` (labels, times, accounts and photo
features of the same posts), so every model sees the same posts.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from ..jobs import CancelCheck, Cancelled

__all__ = [
    "ForecastInputs",
    "SeedLabelModel",
    "MeanModel",
    "EngagementRegressor",
    "Evaluation",
    "evaluate",
    "regression_metrics",
    "label_table",
    "MIN_POSTS_TO_EVALUATE",
]

#: Fewer posts with counts than this cannot be split into train and test.
MIN_POSTS_TO_EVALUATE = 8
_YEAR_NS = 365.25 * 24 * 3600 * 1e9


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

    Examples
    --------
    >>> X = ForecastInputs.build([["#a"], ["#b"]], pd.to_datetime(["2024-01-01", None]))
    >>> len(X), X.take([1]).labels
    (2, [['#b']])
    """

    labels: list[list[str]]
    timestamp: np.ndarray
    account: np.ndarray
    visual: np.ndarray | None = None
    visual_valid: np.ndarray | None = None

    @classmethod
    def build(cls, labels: Sequence[Sequence[str]], timestamp=None, account=None, visual=None,
              visual_valid=None) -> "ForecastInputs":
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
        if len(ts) != n or len(acc) != n:
            raise ValueError("labels, timestamp and account must have one entry per post")
        return cls(labels, ts, acc, visual, valid)

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index) -> "ForecastInputs":
        """The posts at ``index`` (an integer array or list)."""
        index = np.asarray(index, dtype=int)
        return ForecastInputs(
            [self.labels[i] for i in index], self.timestamp[index], self.account[index],
            None if self.visual is None else self.visual[index],
            None if self.visual_valid is None else self.visual_valid[index],
        )


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

    def contributions(self, labels: Sequence[str]) -> pd.DataFrame:
        """Each known label's share of one prediction (shares sum to it).

        Returns
        -------
        pandas.DataFrame
            ``label``, ``count``, ``coefficient`` (γ of the first target) and
            ``contribution`` (its weight times γ).
        """
        known = self.known(labels)
        if not known:
            return pd.DataFrame(columns=["label", "count", "coefficient", "contribution"])
        idx = [self._lookup[label] for label in known]
        gamma, counts = self._means[idx, 0], self._counts[idx]
        weights = counts / counts.sum() if self.weighting == "count" else np.full(len(idx), 1 / len(idx))
        return pd.DataFrame({"label": known, "count": counts.astype(int), "coefficient": gamma,
                             "contribution": weights * gamma})


def label_table(labels: Sequence[Sequence[str]], likes, comments) -> pd.DataFrame:
    """Per label: posts, mean likes and comments, and their standard errors.

    Labels seen on a single post have no standard error and are flagged.

    Examples
    --------
    >>> t = label_table([["a"], ["a", "b"]], [10, 20], [1, 3])
    >>> t[["label", "posts", "mean_likes", "likes_se", "seen_once"]].values.tolist()
    [['a', 2, 15.0, 5.0, False], ['b', 1, 20.0, nan, True]]
    """
    rows = [(label, lk, cm) for row, lk, cm in zip(labels, likes, comments) for label in dict.fromkeys(row)]
    columns = ["label", "source", "posts", "mean_likes", "likes_se", "mean_comments", "comments_se", "seen_once"]
    if not rows:
        return pd.DataFrame(columns=columns)
    frame = pd.DataFrame(rows, columns=["label", "likes", "comments"]).astype({"likes": float, "comments": float})
    g = frame.groupby("label", sort=False)
    out = pd.DataFrame({
        "posts": g.size(),
        "mean_likes": g["likes"].mean(),
        "likes_se": g["likes"].std(ddof=1) / np.sqrt(g["likes"].count()),
        "mean_comments": g["comments"].mean(),
        "comments_se": g["comments"].std(ddof=1) / np.sqrt(g["comments"].count()),
    }).reset_index()
    out["seen_once"] = out["posts"] == 1
    out.insert(1, "source", [_source_of(label) for label in out["label"]])
    return out.sort_values(["posts", "label"], ascending=[False, True], kind="stable").reset_index(drop=True)[columns]


def _source_of(label: str) -> str:
    if label.startswith("#"):
        return "hashtag"
    head, sep, _ = label.partition(": ")
    return {"alt": "accessibility caption", "imagenet": "ImageNet", "faces": "face count",
            "person": "people", "cluster": "visual cluster"}.get(head, "other") if sep else "other"


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
                 n_components: int = 10, random_state: int = 0) -> None:
        self.kind = kind
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
        self.pca_ = None
        if X.visual is not None and X.visual_valid is not None and X.visual_valid.sum() >= 3:
            from sklearn.decomposition import PCA

            V = np.asarray(X.visual[X.visual_valid], np.float64)
            k = int(min(self.n_components, V.shape[1], len(V) - 1))
            if k >= 1:
                self.pca_ = PCA(n_components=k, random_state=self.random_state).fit(V)

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
            P = np.zeros((n, self.pca_.n_components_))
            if X.visual is not None and X.visual_valid is not None and X.visual_valid.any():
                ok = X.visual_valid
                P[ok] = self.pca_.transform(np.asarray(X.visual[ok], np.float64))
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
        self._fit_design(X)
        D, self.groups_, years = self._design(X)
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
        return self._predict_log(D, years)

    def predict(self, X: ForecastInputs, *, horizon_years: float = 0.5) -> np.ndarray:
        """Predicted counts. Dates beyond the last training post by more than
        ``horizon_years`` are treated as that far (the trend is not
        extrapolated without bound)."""
        out = np.maximum(np.expm1(self.predict_log(X, horizon_years=horizon_years)), 0.0)
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
        D, groups, _ = self._design(X_one, horizon_years=0.5)
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
    """MAE, median absolute percentage error and Spearman's rank correlation.

    Percentage errors skip posts with 0 actual count; Spearman is NaN when
    either side is constant.

    Examples
    --------
    >>> m = regression_metrics([10, 20, 40], [12, 18, 50])
    >>> m["mae"], m["mdape"], m["spearman"]
    (4.666666666666667, 0.2, 1.0)
    """
    from scipy.stats import spearmanr

    a = np.asarray(actual, float)
    p = np.asarray(predicted, float)
    ok = ~(np.isnan(a) | np.isnan(p))
    a, p = a[ok], p[ok]
    if len(a) == 0:
        return {"mae": np.nan, "mdape": np.nan, "spearman": np.nan, "n": 0}
    pos = a > 0
    mdape = float(np.median(np.abs(a[pos] - p[pos]) / a[pos])) if pos.any() else np.nan
    if len(a) > 2 and np.ptp(a) > 0 and np.ptp(p) > 0:
        rho = float(spearmanr(a, p).statistic)
    else:
        rho = np.nan
    return {"mae": float(np.mean(np.abs(a - p))), "mdape": mdape, "spearman": rho, "n": int(len(a))}


@dataclass
class Evaluation:
    """Held-out results of several models.

    Attributes
    ----------
    metrics : pandas.DataFrame
        ``model``, ``target``, ``mae``, ``mdape``, ``spearman``, ``n``.
    predictions : pandas.DataFrame
        ``row`` (position in the inputs), ``fold``, ``target``, ``model``,
        ``actual``, ``predicted``.
    scheme : str
        How the posts were split, in words.
    notes : list of str
    """

    metrics: pd.DataFrame
    predictions: pd.DataFrame
    scheme: str
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.metrics.empty

    def wide_table(self, order: Sequence[str] | None = None) -> pd.DataFrame:
        """One row per model: held-out posts, then MAE, mdape and Spearman per target.

        Examples
        --------
        >>> m = pd.DataFrame({"model": ["a", "a"], "target": ["likes", "comments"], "mae": [1.0, 2.0],
        ...                   "mdape": [0.1, 0.2], "spearman": [0.5, 0.6], "n": [4, 4]})
        >>> Evaluation(m, pd.DataFrame(), "").wide_table().columns.tolist()[:3]
        ['held-out posts', 'likes mae', 'likes mdape']
        """
        wide = self.metrics.pivot(index="model", columns="target", values=["mae", "mdape", "spearman"])
        wide.columns = [f"{target} {metric}" for metric, target in wide.columns]
        rows = [m for m in (order or wide.index) if m in wide.index]
        targets = list(dict.fromkeys(self.metrics["target"]))
        wide = wide.loc[rows, [f"{t} {m}" for t in targets for m in ("mae", "mdape", "spearman")]]
        wide.insert(0, "held-out posts", self.metrics.groupby("model")["n"].max().reindex(rows))
        return wide

    def residual_quantiles(self, model: str, target: str, q=(0.1, 0.9)) -> tuple[float, float] | None:
        """Quantiles of held-out ``log1p(actual) - log1p(predicted)``."""
        rows = self.predictions[(self.predictions["model"] == model) & (self.predictions["target"] == target)]
        rows = rows.dropna(subset=["actual", "predicted"])
        if len(rows) < 5:
            return None
        r = np.log1p(rows["actual"].to_numpy(float)) - np.log1p(np.maximum(rows["predicted"].to_numpy(float), 0))
        lo, hi = np.quantile(r, q)
        return float(lo), float(hi)


def _folds(n: int, times: np.ndarray, n_folds: int, random_state: int) -> tuple[list[tuple[np.ndarray, np.ndarray]], str]:
    known = ~np.isnat(times)
    if known.mean() >= 0.8:
        order = np.argsort(np.where(known, times.astype("datetime64[ns]").astype(np.int64), np.iinfo(np.int64).min),
                          kind="stable")
        min_train = max(5, int(np.ceil(n / 2)))
        n_test = n - min_train
        k = int(max(1, min(n_folds, n_test)))
        edges = np.linspace(min_train, n, k + 1).round().astype(int)
        folds = [(order[:a], order[a:b]) for a, b in zip(edges[:-1], edges[1:]) if b > a]
        scheme = (f"rolling origin: the newest {n_test} posts are predicted in {len(folds)} blocks, "
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
    cancel: CancelCheck | None = None,
) -> Evaluation:
    """Rolling-origin evaluation of several models on the same folds.

    Parameters
    ----------
    X : ForecastInputs
    y : numpy.ndarray
        ``(n, len(targets))`` counts; NaN where unknown (left out of that
        target's metrics).
    models : dict
        Name -> a function returning a fresh, unfitted model.

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
        empty = pd.DataFrame(columns=["model", "target", "mae", "mdape", "spearman", "n"])
        return Evaluation(empty, pd.DataFrame(columns=["row", "fold", "target", "model", "actual", "predicted"]),
                          "none", [note])
    folds, scheme = _folds(n, X.timestamp, n_folds, random_state)
    records = []
    for f, (train, test) in enumerate(folds):
        if cancel is not None and cancel():
            raise Cancelled("evaluation cancelled")
        X_train, X_test = X.take(train), X.take(test)
        for name, make in models.items():
            model = make().fit(X_train, y2[train])
            pred = np.asarray(model.predict(X_test)).reshape(len(test), -1)
            for j, target in enumerate(targets):
                records.append(pd.DataFrame({"row": test, "fold": f, "target": target, "model": name,
                                             "actual": y2[test, j], "predicted": pred[:, j]}))
    predictions = pd.concat(records, ignore_index=True)
    rows = []
    for (name, target), group in predictions.groupby(["model", "target"], sort=False):
        rows.append({"model": name, "target": target, **regression_metrics(group["actual"], group["predicted"])})
    return Evaluation(pd.DataFrame(rows), predictions, scheme)
