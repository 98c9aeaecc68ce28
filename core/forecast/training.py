"""Forecast likes, comments (and saves, shares, reach when the archive has them) of a new photo from your posts.

The seed project (Columbia, AWS) labelled each post with Rekognition and
averaged likes per label. Here the same idea runs on the user's archive,
with honest held-out errors and a better model beside it:

1. :func:`prepare_training_data` labels every post's cover photo from the
   sources the user switched on (:mod:`core.forecast.labels`), computing
   only what is not cached yet: colour/texture and Keras CNN features (with
   ImageNet labels) per image sha256, MediaPipe faces through the Faces
   page's index. Progress and cancel work photo by photo.
2. :func:`train_forecaster` evaluates three baselines (the account's usual
   likes, the median of its last 10 posts, its trend), the seed's model
   (both weightings) and the ridge model (optionally gradient boosting) on
   the newest posts of each account, held out and given only what a new
   photo would have; chooses the model with the lowest held-out error
   (a content model only if it clearly beats the baselines); calibrates
   split-conformal 80 % intervals; then fits every model on every post
   with a like count.
3. :func:`train_and_save` runs 1, 2 and :func:`save_forecaster` as one job
   (the page's Train button and ``feedlens train``).
4. :func:`save_forecaster` / :func:`load_forecaster` keep one trained model
   per archive in the disk cache (written atomically, so a cancelled or
   killed training leaves the previous model intact).
5. :meth:`Forecaster.describe_photo` labels a new photo the same way and
   :meth:`Forecaster.predict` forecasts it for one account, clipped to that
   account's range, with conformal intervals, per-label contributions and
   the most similar past posts.
"""

from __future__ import annotations

import io
import pickle
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from ..cache import DiskCache, default_cache
from ..jobs import (
    CancelCheck,
    Cancelled,
    JobError,
    ModelUnavailableError,
    Progress,
    WeightsUnavailableError,
    report,
    stage_progress,
)
from .labels import (
    TARGETS,
    LabelSources,
    combine_labels,
    face_count_label,
    hashtag_labels,
    parse_accessibility_caption,
    post_frame,
    target_counts,
)
from .models import (
    AccountBaseline,
    AccountRange,
    EngagementRegressor,
    Evaluation,
    ForecastInputs,
    SeedLabelModel,
    evaluate,
    label_table,
)

__all__ = [
    "MODEL_USUAL",
    "MODEL_RECENT",
    "MODEL_TREND",
    "BASELINES",
    "MODEL_SEED",
    "MODEL_SEED_COUNT",
    "MODEL_RIDGE",
    "MODEL_BOOSTING",
    "NoEngagementError",
    "TrainingData",
    "PhotoLook",
    "VisualClusters",
    "NewPhoto",
    "Forecast",
    "Forecaster",
    "imagenet_labels",
    "prepare_training_data",
    "model_factories",
    "train_forecaster",
    "TrainingRequest",
    "train_and_save",
    "save_forecaster",
    "load_forecaster",
    "delete_forecaster",
    "forecaster_path",
    "forecaster_version",
    "NO_LIKES_HELP",
]

MODEL_USUAL = "your usual likes"
MODEL_RECENT = "median of your last 10 posts"
MODEL_TREND = "your account's trend"
#: What the user already knows: a content model must beat these to be shown first.
BASELINES = (MODEL_USUAL, MODEL_RECENT, MODEL_TREND)
MODEL_SEED = "seed: mean of label means"
MODEL_SEED_COUNT = "seed: count-weighted"
MODEL_RIDGE = "ridge regression"
MODEL_BOOSTING = "gradient boosting"

#: Bumped when the saved format changes; older saves are ignored (3: a forecast per target the archive has).
FORMAT_VERSION = 3
_MODEL_KIND = f"forecast-model-v{FORMAT_VERSION}"


NO_LIKES_HELP = (
    "None of this archive's posts has a like count, so there is nothing to learn from. "
    "Instagram's \"Download your information\" export has no likes unless you also request "
    "**Insights** (`past_instagram_insights/posts.json`, business and creator accounts). "
    "Alternatively, download your profile with [Instaloader](https://instaloader.github.io/) "
    "(`instaloader --no-videos <your name>`), which stores each post's likes and comments "
    "beside the photo, and import that folder or ZIP. A CSV manifest with `likes` and "
    "`comments` columns works too."
)


class NoEngagementError(JobError, ValueError):
    """The archive has no like counts to learn from (see :data:`NO_LIKES_HELP`)."""


def imagenet_labels(probs: np.ndarray, top_k: int = 3, min_prob: float = 0.1) -> list[list[str]]:
    """``imagenet: <class>`` labels: the ``top_k`` classes above ``min_prob``.

    Examples
    --------
    >>> p = np.zeros((2, 1000)); p[0, [207, 208]] = [0.6, 0.3]; p[1, 0] = 0.05
    >>> imagenet_labels(p, top_k=3, min_prob=0.1)
    [['imagenet: golden retriever', 'imagenet: Labrador retriever'], []]
    """
    from ..explore.imagenet_groups import class_name
    from ..explore.imagenet_groups import top_k as top

    if probs is None or len(probs) == 0:
        return []
    idx, val = top(np.asarray(probs), top_k)
    return [[f"imagenet: {class_name(i)}" for i, v in zip(row_i, row_v) if v >= min_prob]
            for row_i, row_v in zip(idx, val)]


def _l2_rows(V: np.ndarray) -> np.ndarray:
    V = np.asarray(V, np.float64)
    return V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-12)


class PhotoLook:
    """How a photo looks, in a few numbers: L2-normalised features, then PCA.

    Fitted once on every photo of the archive (no likes involved), it gives
    the clusters, the "look" inputs of the regression and the similarity of
    a new photo to past posts. The PCA is fitted on at most
    ``max_fit_rows`` photos, which is plenty for 20 components.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> look = PhotoLook(n_components=3).fit(rng.random((50, 16)))
    >>> look.transform(rng.random((2, 16))).shape
    (2, 3)
    """

    def __init__(self, n_components: int = 20, max_fit_rows: int = 2000, random_state: int = 0) -> None:
        self.n_components, self.max_fit_rows, self.random_state = n_components, max_fit_rows, random_state

    def fit(self, V: np.ndarray) -> "PhotoLook":
        from sklearn.decomposition import PCA

        # Each distinct photo once (a repost adds nothing about how photos
        # look), and only components with real spread: one of ~0 variance
        # turns noise of a new photo into a huge coordinate.
        Z = np.unique(_l2_rows(V).round(6), axis=0)
        if len(Z) > self.max_fit_rows:
            rows = np.random.default_rng(self.random_state).choice(len(Z), self.max_fit_rows, replace=False)
            Z = Z[np.sort(rows)]
        k = int(max(1, min(self.n_components, Z.shape[1], len(Z) - 1)))
        self.pca_ = PCA(n_components=k, random_state=self.random_state).fit(Z)
        spread = self.pca_.explained_variance_
        self.n_kept_ = int(max(1, (spread > max(spread[0], 1e-12) * 1e-4).sum()))
        return self

    def transform(self, V: np.ndarray) -> np.ndarray:
        return self.pca_.transform(_l2_rows(np.atleast_2d(V)))[:, : self.n_kept_].astype(np.float32)


class VisualClusters:
    """K-Means on :class:`PhotoLook` coordinates, k by silhouette.

    The same recipe as the Explore page's K-Means colouring. The silhouette
    search runs on at most ``max_search_rows`` photos; the final K-Means on
    all. ``predict`` puts a new photo in the nearest cluster.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> P = np.vstack([rng.normal(c, 0.05, (20, 3)) for c in (0.0, 1.0)])
    >>> vc = VisualClusters(k_max=4).fit(P)
    >>> vc.k_, int(vc.predict(P[:1])[0]) == int(vc.labels_[0])
    (2, True)
    """

    def __init__(self, k_min: int = 2, k_max: int = 10, max_search_rows: int = 1000, random_state: int = 0) -> None:
        self.k_min, self.k_max, self.max_search_rows, self.random_state = k_min, k_max, max_search_rows, random_state

    def fit(self, P: np.ndarray) -> "VisualClusters":
        from sklearn.cluster import KMeans

        from ..explore.photomap import silhouette_curve, suggest_k

        P = np.asarray(P, np.float64)
        search = P
        if len(P) > self.max_search_rows:
            rows = np.random.default_rng(self.random_state).choice(len(P), self.max_search_rows, replace=False)
            search = P[np.sort(rows)]
        curve = silhouette_curve(search, self.k_min, min(self.k_max, max(2, len(search) // 3)), self.random_state)
        self.k_ = suggest_k(curve, default=1)
        if self.k_ < 2:
            self.k_, self.centres_, self.labels_ = 1, P.mean(axis=0, keepdims=True), np.zeros(len(P), int)
            return self
        km = KMeans(n_clusters=self.k_, n_init=4, random_state=self.random_state).fit(P)
        self.centres_, self.labels_ = km.cluster_centers_, km.labels_
        return self

    def predict(self, P: np.ndarray) -> np.ndarray:
        P = np.atleast_2d(np.asarray(P, np.float64))
        d2 = ((P[:, None, :] - self.centres_[None]) ** 2).sum(-1)
        return d2.argmin(axis=1)


@dataclass
class TrainingData:
    """Every post of an archive with its labels and photo features.

    Attributes
    ----------
    posts : pandas.DataFrame
        :func:`~core.forecast.labels.post_frame` plus ``labels`` (list of
        str) and ``n_faces`` (float, NaN when not detected).
    visual, visual_valid : numpy.ndarray
        :class:`PhotoLook` coordinates of each post's cover and where they
        exist. They come from CNN features with real ImageNet weights when
        available, else colour & texture.
    visual_tag : str
        Which features ``visual`` was computed from.
    look : PhotoLook or None
        Turns features of a new photo into ``visual`` coordinates.
    sources : LabelSources
        The sources asked for.
    unavailable : dict
        Source (or ``"cnn"``) -> why it could not be used.
    clusters : VisualClusters or None
    new_photos, reused_photos : int
        Photos labelled in this run vs. read from the cache.
    people_faces : tuple
        ``(embeddings (m, 128), names)`` of faces of named people, so a new
        photo can be matched without the face index.
    """

    posts: pd.DataFrame
    visual: np.ndarray
    visual_valid: np.ndarray
    visual_tag: str
    sources: LabelSources
    look: PhotoLook | None = None
    unavailable: dict[str, str] = field(default_factory=dict)
    clusters: VisualClusters | None = None
    new_photos: int = 0
    reused_photos: int = 0
    people_faces: tuple = (np.zeros((0, 128), np.float32), [])
    imagenet_ok: bool = False


_POST_FEATURES_KIND = "forecast-features-v1"


def _post_features(archive_key: str, items, extractor, cache: DiskCache, progress, cancel):
    """:func:`~core.explore.features.compute_features` of every post's cover, plus one
    copy of the whole matrix per archive and feature set (replaced when the
    photos change), so a warm retrain reads one file instead of one per photo."""
    import hashlib

    from ..explore.features import FeatureResult, compute_features

    key = hashlib.sha256(f"{archive_key}\n{extractor.cache_tag}".encode()).hexdigest()
    photos = hashlib.sha256("\n".join(sha for sha, _ in items).encode()).hexdigest()
    stored = cache.get(_POST_FEATURES_KIND, key, ".npz")
    if stored is not None:
        try:
            with np.load(io.BytesIO(stored)) as npz:
                if str(npz["photos"]) != photos:
                    raise ValueError("the archive's photos changed")
                probs = npz["probs"] if "probs" in npz.files else None
                result = FeatureResult(npz["features"], npz["valid"], probs, bool(npz["has_labels"]),
                                       computed=0, reused=len(set(sha for sha, _ in items)), tag=extractor.cache_tag)
            if progress is not None:
                progress(len(items), len(items), "all cached")
            return result
        except (OSError, ValueError, KeyError):
            pass  # unreadable: recompute from the per-photo entries
    result = compute_features(items, extractor, cache=cache, progress=progress, cancel=cancel)
    buffer = io.BytesIO()
    arrays = {"features": result.features, "valid": result.valid, "has_labels": np.array(result.has_labels),
              "photos": np.array(photos)}
    if result.probs is not None:
        arrays["probs"] = result.probs
    np.savez(buffer, **arrays)
    cache.put(_POST_FEATURES_KIND, key, buffer.getvalue(), ".npz")
    return result


_LOOK_KIND = "forecast-look-v2"


def _one_thread():
    """One BLAS/OpenMP thread: these matrices are small, and on a busy
    2-core server extra threads only fight (measured 5-10x slower)."""
    from threadpoolctl import threadpool_limits

    return threadpool_limits(limits=1)


def _look_and_clusters(archive_key: str, tag: str, shas, visual: np.ndarray, valid: np.ndarray,
                       cache: DiskCache, *, want_clusters: bool):
    """Fit (or read back) the archive's :class:`PhotoLook` and clusters.

    Both depend on the photos only, never on likes, so they are cached per
    archive, feature set and photo list: a warm retrain skips PCA and K-Means.
    """
    import hashlib

    if valid.sum() < 3:
        return None, None
    digest = hashlib.sha256("\n".join([archive_key, tag, *map(str, np.asarray(shas)[valid])]).encode()).hexdigest()
    stored = cache.get(_LOOK_KIND, digest, ".pkl")
    if stored is not None:
        try:
            look, clusters = pickle.loads(stored)
            if clusters is not None or not want_clusters:
                return look, clusters
        except Exception:  # noqa: BLE001 - an unreadable entry is refitted
            pass
    with _one_thread():
        look = PhotoLook().fit(visual[valid])
        clusters = VisualClusters().fit(look.transform(visual[valid])) if want_clusters and valid.sum() >= 6 else None
    cache.put(_LOOK_KIND, digest, pickle.dumps((look, clusters), protocol=pickle.HIGHEST_PROTOCOL), ".pkl")
    return look, clusters


def prepare_training_data(
    catalogue: pd.DataFrame,
    archive_key: str,
    sources: LabelSources = LabelSources(),
    *,
    cache: DiskCache | None = None,
    cnn=None,
    face_engine: Callable[[], object] | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> TrainingData:
    """Label every post and gather its photo features, computing only what is new.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The archive's catalogue.
    archive_key : str
        ``Archive.key`` (people's names are saved per archive).
    sources : LabelSources
    cache : DiskCache, optional
    cnn : CNNFeatures, optional
        The Keras classifier for ImageNet labels (default: MobileNetV3 Small
        with ImageNet weights). Only real weights give labels.
    face_engine : callable, optional
        Returns a :class:`~core.faces.engine.FaceEngine` (default: build one).
    progress : callable, optional
        ``progress(done, total, message)``: ``done / total`` is the share of
        the whole run, the message names the step, like "Step 2 of 3
        (faces): processed 37 of 120 photos".
    cancel : callable, optional
        Polled between photos; True raises :class:`core.jobs.Cancelled`.
        Finished photos stay cached.
    """
    from ..explore.features import (
        ColourTexture,
        make_extractor,
    )

    cache = cache or default_cache()
    posts = post_frame(catalogue)
    items = list(zip(posts["sha256"], posts["path"]))
    want_faces = sources.faces or sources.people
    stage_names = ["colour & texture"] + (["ImageNet classifier"] if sources.imagenet else []) + (
        ["faces"] if want_faces else [])
    n_stages = len(stage_names)
    unavailable: dict[str, str] = {}
    colour = _post_features(archive_key, items, ColourTexture(), cache,
                            stage_progress(progress, 0, n_stages, stage_names[0]), cancel)
    visual, valid, tag = colour.features, colour.valid, colour.tag
    probs, imagenet_ok = None, False
    if sources.imagenet:
        stage = stage_names.index("ImageNet classifier") + 1
        try:
            extractor = cnn if cnn is not None else make_extractor("mobilenet_v3_small")
            result = _post_features(archive_key, items, extractor, cache,
                                    stage_progress(progress, stage - 1, n_stages, "ImageNet classifier"), cancel)
        except WeightsUnavailableError as exc:
            unavailable["imagenet"] = str(exc)
        else:
            if result.has_labels:
                probs, imagenet_ok = result.probs, True
                visual, valid, tag = result.features, result.valid & colour.valid, result.tag
            else:
                unavailable["imagenet"] = ("The classifier has random weights (no ImageNet download), so it "
                                           "gives no labels; colour & texture features are used instead.")
    n_faces = pd.Series(np.nan, index=posts.index)
    people_table = None
    people_faces: tuple = (np.zeros((0, 128), np.float32), [])
    if want_faces:
        from ..faces.dlib_net import DlibModelError

        stage = stage_names.index("faces") + 1
        try:
            n_faces, people_table, people_faces = _faces(
                catalogue, posts, archive_key, cache, face_engine, sources,
                stage_progress(progress, stage - 1, n_stages, "faces"), cancel)
        except (ModelUnavailableError, DlibModelError) as exc:  # say so, and train without faces
            for name in ("faces", "people"):
                unavailable[name] = f"Face detection is unavailable: {exc}"
    look, clusters = _look_and_clusters(archive_key, tag, posts["sha256"], visual, valid, cache,
                                        want_clusters=sources.cluster)
    coords = np.zeros((len(posts), look.n_kept_ if look else 0), np.float32)
    if look is not None:
        coords[valid] = look.transform(visual[valid])
    if sources.cluster:
        if clusters is None:
            unavailable["cluster"] = "Visual clusters need at least 6 readable photos."
    parts = []
    if sources.hashtags:
        parts.append([hashtag_labels(h) for h in posts["hashtags"]])
    if sources.alt_text:
        parts.append([[f"alt: {x}" for x in parse_accessibility_caption(c)] for c in posts["accessibility_caption"]])
    if imagenet_ok:
        parts.append(imagenet_labels(probs, sources.imagenet_top_k, sources.imagenet_min_prob))
    if sources.faces and "faces" not in unavailable:
        parts.append([[lab] if (lab := face_count_label(n)) else [] for n in n_faces])
    if sources.people and people_table is not None:
        parts.append([[f"person: {name}" for name in people_table.columns if row.get(name) is True]
                      for _, row in people_table.reindex(posts["post_id"]).iterrows()])
    if clusters is not None:
        cluster_of = np.full(len(posts), -1)
        cluster_of[np.flatnonzero(valid)] = clusters.labels_
        parts.append([[f"cluster: {c + 1}"] if c >= 0 else [] for c in cluster_of])
    posts = posts.assign(labels=combine_labels(len(posts), *parts), n_faces=n_faces.to_numpy())
    return TrainingData(posts, coords, valid, tag, sources, look, unavailable, clusters,
                        new_photos=colour.computed, reused_photos=colour.reused, people_faces=people_faces,
                        imagenet_ok=imagenet_ok)


def _faces(catalogue, posts, archive_key, cache, face_engine, sources, progress, cancel):
    from ..faces.engine import FaceEngine
    from ..faces.index import build_face_index
    from ..faces.people import PeopleBook, assign_people, post_person_labels

    covers = catalogue[catalogue["sha256"].isin(set(posts["sha256"]))]
    engine = face_engine() if face_engine is not None else FaceEngine()
    index = build_face_index(covers, engine, cache=cache, progress=progress, cancel=cancel)
    counts = index.faces.groupby("sha256").size() if len(index.faces) else pd.Series(dtype=float)
    done = {sha for sha in posts["sha256"] if sha not in index.failed}
    n_faces = pd.Series([float(counts.get(sha, 0)) if sha in done else np.nan for sha in posts["sha256"]],
                        index=posts.index)
    people = None
    faces = (np.zeros((0, 128), np.float32), [])
    if sources.people:
        people = post_person_labels(catalogue, archive_key, cache=cache, named_only=True)
        full = _full_index(catalogue, cache)
        book = PeopleBook.load(archive_key, cache)
        if len(full.recognisable) and book.names:
            ids = assign_people(full, book)
            rec = full.recognisable
            pid = ids.reindex(rec["face_key"]).to_numpy()
            named = np.array([p in book.names for p in pid])
            rows = np.flatnonzero(full.faces["recognisable"].to_numpy(bool))
            faces = (full.embeddings[rows[named]].astype(np.float32), [book.display_name(p) for p in pid[named]])
    return n_faces, people, faces


def _full_index(catalogue, cache):
    from ..faces.index import load_face_index

    return load_face_index(catalogue, cache)


@dataclass
class NewPhoto:
    """A photo the user may post, labelled like the training posts."""

    labels: list[str]
    visual: np.ndarray | None
    when: pd.Timestamp
    account: str = ""
    n_faces: int | None = None
    notes: list[str] = field(default_factory=list)


@dataclass
class Forecast:
    """A forecast for one new photo.

    Attributes
    ----------
    table : pandas.DataFrame
        One row per model, the chosen one (for the first target) first:
        ``model``, then ``<target>``, ``<target>_low``, ``<target>_high`` for
        each of ``targets`` (``likes``, ``comments``, and ``saves``,
        ``shares``, ``reach`` when the archive has them). Every forecast is clipped to the account's range;
        the interval is split-conformal 80 % from held-out errors (NaN when
        too few posts were held out).
    account : str
        The account the photo was forecast for.
    choice : dict
        Target -> :class:`~core.forecast.models.Choice`: the model shown
        first and whether what the photo shows beats the account's usual
        likes on held-out posts.
    known_labels : list of str
        The photo's labels that the seed model knows.
    fallback : bool
        True when no label is known and the seed model gave the user's mean.
    seed_contributions, ridge_contributions : pandas.DataFrame
        Of the first target (likes).
    contributions : dict
        Target -> ``(seed_contributions, ridge_contributions)`` of that target.
    similar : pandas.DataFrame
        Most similar past posts (``post_id``, ``sha256``, ``path``, ``likes``,
        ``comments``, ``timestamp``, ``caption``, ``distance``).
    """

    table: pd.DataFrame
    known_labels: list[str]
    fallback: bool
    seed_contributions: pd.DataFrame
    ridge_contributions: pd.DataFrame
    similar: pd.DataFrame
    labels: list[str]
    notes: list[str] = field(default_factory=list)
    account: str = ""
    choice: dict = field(default_factory=dict)
    #: The targets of ``table``, likes first when the archive has them.
    targets: tuple = ("likes", "comments")
    contributions: dict = field(default_factory=dict)

    def chosen(self, target: str = "likes") -> str:
        """The model whose forecast is shown first for ``target``."""
        c = self.choice.get(target)
        return c.model if c is not None else str(self.table["model"].iloc[0])

    def content_helps(self, target: str = "likes") -> bool:
        """Whether a content model beat the account's baselines on held-out posts."""
        c = self.choice.get(target)
        return bool(c is not None and c.content_helps)


@dataclass
class Forecaster:
    """A trained forecast for one archive: models, evaluation and what to show."""

    archive_key: str
    sources: LabelSources
    models: dict[str, object]
    evaluation: Evaluation
    labels: pd.DataFrame
    posts: pd.DataFrame
    visual: np.ndarray
    visual_valid: np.ndarray
    visual_tag: str
    look: PhotoLook | None
    clusters: VisualClusters | None
    unavailable: dict[str, str]
    n_hidden: int
    n_posts: int
    trained_photos: frozenset
    new_photos: int
    reused_photos: int
    people_faces: tuple
    imagenet_ok: bool
    trained_at: pd.Timestamp = field(default_factory=lambda: pd.Timestamp.now(tz="UTC"))
    #: (model, target) -> {account or "": (low, high) log1p offsets}, split-conformal 80 %.
    intervals: dict = field(default_factory=dict)
    #: Target -> :class:`~core.forecast.models.Choice`.
    choice: dict = field(default_factory=dict)
    #: Every forecast is clipped to this range of the account's history.
    history: AccountRange | None = None
    #: Coverage and width of each model's 80 % interval, each held-out post left out of its calibration.
    interval_check: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: Who and what lifts likes (:func:`core.forecast.effects.effects_table`), each picture counted once.
    effects: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: The targets the archive has counts of (:data:`~core.forecast.labels.TARGETS` order), each with
    #: the same baselines, choice, intervals and effects.
    targets: tuple = ("likes", "comments")
    #: Target -> posts with a count of it.
    target_posts: dict = field(default_factory=dict)
    #: Target -> its effects table (``effects`` is the likes one).
    target_effects: dict = field(default_factory=dict)
    version: int = FORMAT_VERSION

    def effects_of(self, target: str = "likes") -> pd.DataFrame:
        """Who and what lifts ``target`` (empty when the archive has no count of it or too few posts)."""
        table = self.target_effects.get(target)
        if table is None:
            table = self.effects if target == "likes" else pd.DataFrame()
        return table

    @property
    def accounts(self) -> list[str]:
        """The archive's accounts, the one with the newest post first."""
        newest = self.posts.sort_values("timestamp", na_position="first")["account"].iloc[::-1]
        return list(dict.fromkeys(newest))

    def usual_range(self, account: str, target: str = "likes") -> tuple[float, float, float]:
        """The account's usual ``target`` count: the best baseline's forecast and its 80 % interval."""
        c = self.choice.get(target)
        name = c.best_baseline if c is not None and c.best_baseline else MODEL_USUAL
        photo = NewPhoto([], None, self.posts["timestamp"].max() if self.posts["timestamp"].notna().any()
                         else pd.Timestamp.now(tz="UTC"), account)
        row = self._rows(self._inputs(photo), account)[name]
        return row[target], row[f"{target}_low"], row[f"{target}_high"]

    # -- a new photo ------------------------------------------------------------
    def describe_photo(self, data: bytes, *, caption: str = "", when: pd.Timestamp | None = None,
                       account: str | None = None, cnn=None,
                       face_engine: Callable[[], object] | None = None) -> NewPhoto:
        """Label a new photo with the sources this model was trained on.

        ``account`` is the account it would be posted on; by default the one
        with the newest post (the forecast says so when there are several).

        Raises
        ------
        core.image.io.ImageError
            If the photo cannot be decoded.
        """
        from ..archive.ingest import THUMB_SIDE
        from ..explore.features import ColourTexture, make_extractor
        from ..image.io import decode_image, encode_jpeg, load_image
        from ..text import extract_hashtags

        notes: list[str] = []
        accounts = self.accounts
        if not account:
            account = accounts[0] if accounts else ""
            if len(accounts) > 1:
                notes.append(f"Forecast for {account}, the account of your newest post; this archive has "
                             f"{len(accounts)} accounts.")
        elif account not in accounts:
            raise ValueError(f"{account!r} is not an account of this archive ({', '.join(accounts)})")
        when = pd.Timestamp.now(tz="UTC") if when is None else pd.Timestamp(when)
        when = when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")
        # The very thumbnail recipe the archive's photos went through.
        thumb = load_image(encode_jpeg(decode_image(data, max_side=THUMB_SIDE).pixels, quality=85))
        parts: list[list[str]] = []
        probs = None
        if self.imagenet_ok:  # the model learnt from CNN features
            extractor = cnn if cnn is not None else make_extractor("mobilenet_v3_small")
            extractor.ensure_fitted()
            feats, probs = extractor.transform_with_probs([thumb])
            visual = feats[0]
        else:
            visual = ColourTexture().fit().transform([thumb])[0]
        if self.sources.hashtags:
            parts.append(hashtag_labels(extract_hashtags(caption)))
        if self.sources.alt_text:
            notes.append("A new photo has no Instagram accessibility caption yet, so those labels cannot be used for it.")
        if self.imagenet_ok and probs is not None:
            parts += imagenet_labels(probs, self.sources.imagenet_top_k, self.sources.imagenet_min_prob)
        n_faces = None
        if (self.sources.faces or self.sources.people) and "faces" not in self.unavailable:
            from ..faces.engine import SAME_PERSON_THRESHOLD, FaceEngine

            engine = face_engine() if face_engine is not None else FaceEngine()
            faces, _ = engine.analyze_file(data)
            n_faces = len(faces)
            if self.sources.faces:
                parts.append([face_count_label(n_faces)])
            E, names = self.people_faces
            if self.sources.people and len(names):
                found = []
                for face in faces:
                    if face.embedding is None:
                        continue
                    d = np.linalg.norm(E - face.embedding[None], axis=1)
                    if d.min() < SAME_PERSON_THRESHOLD:
                        found.append(f"person: {names[int(d.argmin())]}")
                parts.append(found)
        coords = self.look.transform(visual[None])[0] if self.look is not None else None
        if self.clusters is not None and coords is not None:
            parts.append([f"cluster: {int(self.clusters.predict(coords)[0]) + 1}"])
        labels = combine_labels(1, *[[p] for p in parts])[0]
        return NewPhoto(labels, coords, when, account, n_faces, notes)

    # -- forecast --------------------------------------------------------------
    def _inputs(self, photo: NewPhoto) -> ForecastInputs:
        """Every input the models were trained on: labels, time, account and look."""
        visual = None if photo.visual is None else np.asarray(photo.visual, np.float32)[None]
        if visual is None and self.visual.shape[1]:  # trained with a look: "unknown look" is a valid row
            visual = np.zeros((1, self.visual.shape[1]), np.float32)
            valid = [False]
        else:
            valid = None if visual is None else [True]
        return ForecastInputs.build([photo.labels], [photo.when], [photo.account], visual, valid).for_new_photos()

    def _rows(self, X: ForecastInputs, account: str) -> dict[str, dict]:
        rows = {}
        for name, model in self.models.items():
            value = np.asarray(model.predict(X), float).reshape(1, -1)
            if self.history is not None:
                value = self.history.clip(X, value)
            row = {"model": name}
            for j, target in enumerate(self.targets):
                row[target] = float(value[0, j])
                offsets = self.intervals.get((name, target), {})
                q = offsets.get(account, offsets.get(""))
                centre = np.log1p(max(value[0, j], 0.0))
                row[f"{target}_low"] = np.nan if q is None else max(float(np.expm1(centre + q[0])), 0.0)
                row[f"{target}_high"] = np.nan if q is None else float(np.expm1(centre + q[1]))
            rows[name] = row
        return rows

    def predict(self, photo: NewPhoto, *, n_similar: int = 6) -> Forecast:
        """Forecast every target of a labelled new photo with every model, the chosen one (for likes) first."""
        X = self._inputs(photo)
        rows = self._rows(X, photo.account)
        first = self.targets[0] if self.targets else "likes"
        chosen = self.choice[first].model if first in self.choice else next(iter(rows))
        order = [chosen] + [name for name in rows if name != chosen]
        seed: SeedLabelModel = self.models[MODEL_SEED]  # type: ignore[assignment]
        known = seed.known(photo.labels)
        ridge = self.models.get(MODEL_RIDGE)
        contributions = {target: (seed.contributions(photo.labels, j),
                                  ridge.contributions(X, j) if isinstance(ridge, EngagementRegressor)
                                  else pd.DataFrame())
                         for j, target in enumerate(self.targets)}
        seed_contrib, ridge_contrib = contributions.get(first, (seed.contributions(photo.labels), pd.DataFrame()))
        notes = list(photo.notes)
        if not known:
            notes.append("None of this photo's labels appears in your posts, so the seed model falls back to "
                         "your mean.")
        return Forecast(pd.DataFrame([rows[name] for name in order]), known, not known,
                        seed_contrib, ridge_contrib, self.similar_posts(photo, n_similar),
                        photo.labels, notes, photo.account, dict(self.choice), tuple(self.targets), contributions)

    def similar_posts(self, photo: NewPhoto, k: int = 6) -> pd.DataFrame:
        """The ``k`` training posts whose photos look most like the new one."""
        from ..explore.photomap import nearest_neighbours

        ok = np.flatnonzero(self.visual_valid)
        if photo.visual is None or len(ok) == 0:
            return self.posts.iloc[:0].assign(distance=[])
        idx, dist = nearest_neighbours(self.visual[ok], photo.visual[None], k)
        rows = self.posts.iloc[ok[idx[0]]].copy()
        rows["distance"] = dist[0]
        return rows.reset_index(drop=True)

    def new_photos_since(self, posts: pd.DataFrame) -> int:
        """Cover photos in ``posts`` (:func:`~core.forecast.labels.post_frame`) this model has not seen."""
        return int(len(set(posts["sha256"]) - set(self.trained_photos)))


def model_factories(include_boosting: bool = False, random_state: int = 0) -> dict[str, Callable[[], object]]:
    """Name -> a fresh unfitted model: the three baselines, the seed's model (both weightings), ridge
    (and gradient boosting)."""
    factories: dict[str, Callable[[], object]] = {
        MODEL_USUAL: lambda: AccountBaseline("mean"),
        MODEL_RECENT: lambda: AccountBaseline("recent", recent=10),
        MODEL_TREND: lambda: AccountBaseline("trend"),
        MODEL_SEED: lambda: SeedLabelModel("mean"),
        MODEL_SEED_COUNT: lambda: SeedLabelModel("count"),
        MODEL_RIDGE: lambda: EngagementRegressor("ridge", random_state=random_state),
    }
    if include_boosting:
        factories[MODEL_BOOSTING] = lambda: EngagementRegressor("boosting", random_state=random_state)
    return factories


def train_forecaster(
    data: TrainingData,
    archive_key: str,
    *,
    include_boosting: bool = False,
    random_state: int = 0,
    cancel: CancelCheck | None = None,
) -> Forecaster:
    """Evaluate on each account's held-out newest posts, choose, calibrate, then fit every model on all posts.

    Every target the archive has counts of (:func:`~core.forecast.labels.target_counts`:
    likes, comments, and saves, shares and reach from Instagram insights) gets
    the same baselines, choice by held-out error, intervals and effects. A
    post whose count of a target is hidden or unknown is left out of that
    target only (posts without a like count are counted in ``n_hidden``).
    The models learn only from what a new photo also has (no Instagram alt
    text: it is in the label table and the effects, not in the forecast).
    The label table and the effects count each picture once (a repost,
    same sha256 or the catalogue's ``duplicate_of``, only at its first showing).

    Raises
    ------
    NoEngagementError
        When no post has a count of any target.
    Cancelled
        When ``cancel()`` returns True.
    """
    posts = data.posts
    counts = target_counts(posts)
    if not counts:
        raise NoEngagementError(NO_LIKES_HELP)
    targets = tuple(counts)
    known = posts[list(targets)].notna().any(axis=1).to_numpy()
    train = posts[known].reset_index(drop=True)
    rows = np.flatnonzero(known)
    X = ForecastInputs.build(train["labels"], train["timestamp"], train["account"], data.visual[rows],
                             data.visual_valid[rows], photo=train["picture"]).for_new_photos()
    y = train[list(targets)].to_numpy(float)
    factories = model_factories(include_boosting, random_state)
    with _one_thread():
        evaluation = evaluate(X, y, factories, targets=targets, baselines=BASELINES, cancel=cancel,
                              random_state=random_state)
        if cancel is not None and cancel():
            raise Cancelled("training cancelled")
        models = {name: make().fit(X, y) for name, make in factories.items()}
    intervals, choice, check = {}, {}, pd.DataFrame()
    if evaluation.ok:
        for name in factories:
            for target in targets:
                offsets = evaluation.intervals(name, target)
                if offsets:
                    intervals[(name, target)] = offsets
        for target in targets:
            c = evaluation.choose(target)
            if c is not None:
                choice[target] = c
        check = evaluation.interval_check()
    from .effects import effects_table

    # Each picture once in the tables of what it shows: a repost's likes are the same picture's again.
    # Same picture = same sha256 or the archive's duplicate_of (post_frame's "picture"); not the looser
    # look-alike rule of the regression, which would merge distinct photos of one scene in these counts.
    once = train[~train["picture"].duplicated()].reset_index(drop=True)
    target_effects = {target: effects_table(once["labels"], once[target], once["account"], once["timestamp"],
                                            random_state=random_state) for target in targets}
    keep = ["post_id", "sha256", "path", *TARGETS, "timestamp", "account", "caption", "labels"]
    extra = {t: once[t] for t in targets if t not in ("likes", "comments")}
    return Forecaster(
        archive_key=archive_key, sources=data.sources, models=models, evaluation=evaluation,
        labels=label_table(once["labels"], once["likes"], once["comments"], others=extra),
        posts=train[keep].copy(), visual=data.visual[rows].copy(), visual_valid=data.visual_valid[rows].copy(),
        visual_tag=data.visual_tag, look=data.look, clusters=data.clusters, unavailable=dict(data.unavailable),
        n_hidden=int(posts["likes"].isna().sum()), n_posts=len(posts), trained_photos=frozenset(posts["sha256"]),
        new_photos=data.new_photos, reused_photos=data.reused_photos, people_faces=data.people_faces,
        imagenet_ok=data.imagenet_ok, intervals=intervals, choice=choice,
        history=AccountRange().fit(X, y), interval_check=check,
        effects=target_effects.get("likes", pd.DataFrame()), targets=targets, target_posts=counts,
        target_effects=target_effects,
    )


@dataclass(frozen=True)
class TrainingRequest:
    """What to train: an archive's posts and the label sources to use.

    ``catalogue`` and ``archive_key`` come from an :class:`~core.archive.catalogue.Archive`
    (its ``catalogue`` and ``key``).
    """

    catalogue: pd.DataFrame
    archive_key: str
    sources: LabelSources = LabelSources()
    include_boosting: bool = False
    random_state: int = 0


def train_and_save(
    request: TrainingRequest,
    *,
    cache: DiskCache | None = None,
    imagenet_classifier: Callable[[], object] | None = None,
    face_engine: Callable[[], object] | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> Forecaster:
    """Label new photos, evaluate, fit every model and save it for the archive.

    Parameters
    ----------
    request : TrainingRequest
    cache : DiskCache, optional
    imagenet_classifier : callable, optional
        Returns the loaded Keras classifier (a shared one, in a server). When
        it raises :class:`~core.jobs.WeightsUnavailableError` the model is
        trained on the other label sources and says why. Default: build
        MobileNetV3 Small with ImageNet weights.
    face_engine : callable, optional
        Returns a :class:`~core.faces.engine.FaceEngine` (default: build one).
    progress, cancel
        As in :mod:`core.jobs`; labelling is 90 % of the bar.

    Returns
    -------
    Forecaster
        The trained model, already saved: a cancelled or failed run saves
        nothing, so the previous model stays.

    Raises
    ------
    NoEngagementError
        When no post has a like count.
    core.jobs.Cancelled
        When ``cancel()`` returns True.
    """
    sources, cnn, no_weights = request.sources, None, None
    if sources.imagenet and imagenet_classifier is not None:
        try:
            cnn = imagenet_classifier()
        except WeightsUnavailableError as exc:  # train on the other sources, and say why
            no_weights, sources = str(exc), replace(sources, imagenet=False)

    def labelling(done: int, total: int, message: str) -> None:
        report(progress, 900 * done // max(total, 1), 1000, message)

    data = prepare_training_data(request.catalogue, request.archive_key, sources, cache=cache, cnn=cnn,
                                 face_engine=face_engine, progress=labelling, cancel=cancel)
    if no_weights:
        data.unavailable["imagenet"] = no_weights
    report(progress, 920, 1000, "Evaluating on your newest posts, then fitting every model…")
    model = train_forecaster(data, request.archive_key, include_boosting=request.include_boosting,
                             random_state=request.random_state, cancel=cancel)
    save_forecaster(model, cache)
    report(progress, 1000, 1000, f"Trained on {len(model.posts)} posts")
    return model


def save_forecaster(forecaster: Forecaster, cache: DiskCache | None = None) -> None:
    """Save a trained model under its archive key (atomic: all or nothing)."""
    cache = cache or default_cache()
    buffer = io.BytesIO()
    pickle.dump(forecaster, buffer, protocol=pickle.HIGHEST_PROTOCOL)
    cache.put(_MODEL_KIND, forecaster.archive_key, buffer.getvalue(), ".pkl")


def forecaster_path(archive_key: str, cache: DiskCache | None = None) -> Path | str:
    """Where the archive's model is saved (it may not exist): a path, or a URL in an object-store cache."""
    return (cache or default_cache()).address(_MODEL_KIND, archive_key, ".pkl")


#: Where the classes of a saved forecaster lived before ``core`` was split into
#: packages; a model saved by an older Feedlens still loads.
_MOVED_MODULES = {
    "core.forecast": "core.forecast.training",
    "core.forecast_labels": "core.forecast.labels",
    "core.forecast_models": "core.forecast.models",
    "core.embedding": "core.explore.photomap",
    "core.features": "core.explore.features",
}


class _MovedModulesUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        return super().find_class(_MOVED_MODULES.get(module, module), name)


def forecaster_version(archive_key: str, cache: DiskCache | None = None) -> str | None:
    """A token that changes whenever the archive's saved model is replaced (``None``: no model), without reading it."""
    return (cache or default_cache()).version(_MODEL_KIND, archive_key, ".pkl")


def load_forecaster(archive_key: str, cache: DiskCache | None = None) -> Forecaster | None:
    """The archive's saved model, or None (never saved, or from an older version).

    The file is our own, written by :func:`save_forecaster` into the cache;
    it is never taken from an upload.
    """
    cache = cache or default_cache()
    data = cache.get(_MODEL_KIND, archive_key, ".pkl")
    if data is None:
        return None
    try:
        model = _MovedModulesUnpickler(io.BytesIO(data)).load()
    except Exception:  # noqa: BLE001 - an unreadable save is as good as none
        return None
    if not isinstance(model, Forecaster) or model.version != FORMAT_VERSION:
        return None
    return model


def delete_forecaster(archive_key: str, cache: DiskCache | None = None) -> bool:
    """Delete the archive's saved model; True if there was one."""
    return (cache or default_cache()).delete(_MODEL_KIND, archive_key, ".pkl")

