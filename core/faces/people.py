"""People: the faces of an archive grouped by person, with the user's names and decisions.

:class:`PeopleClusterer` groups face descriptors into people. By default it
uses average-linkage agglomerative clustering cut at dlib's same-person
distance (0.6): on the 24 × 10 Glint celebrity crops it gives a purity of
0.99 against 0.94–0.98 for DBSCAN at ε = 0.5, whose single-linkage chains
join look-alikes (bench/faces_quality.py). Two faces of one photo are never
one person: the clustering is :func:`core.faces.cluster.average_linkage`,
which refuses such merges (and scales per connected component).

:class:`PeopleBook` holds what the user decided: names, merges, splits,
"this is Anna" (``must``), "not Anna" (``cannot``), hidden people, cover
faces. It is saved per archive (``Archive.key``) as JSON in the cache.
Until the first edit, people are simply the clusters. The first edit
freezes the current face → person assignment into the book; later, faces of
newly indexed photos join the person of their nearest assigned face when it
is within the threshold, not in their photo already and not ruled out by
the user, and the rest are clustered into new people. So the book wins on
every re-index, and a face taken out of a person never rejoins it.

:func:`find_people` is the whole "group people" step for one archive (cached
face index + saved book → :class:`People`, no Streamlit, no model run);
:func:`rename_person`, :func:`merge_people`, :func:`split_person`,
:func:`remove_faces`, :func:`confirm_faces`, :func:`reject_person`,
:func:`hide_person`, :func:`set_cover` and :func:`set_min_faces` save the
user's edits of what :func:`find_people` showed; an edit that would make
two faces of one photo one person raises :class:`SamePhotoError` unless
forced. :func:`post_person_labels` turns people into per-post labels for
other pages ("posts with Anna").
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import pandas as pd

from ..cache import DiskCache, default_cache
from ..jobs import JobError
from .cluster import MAX_BLOCK, ClusterReport, attach_nearest, average_linkage
from .engine import EMBEDDING_DIM, SAME_PERSON_THRESHOLD
from .index import FaceIndex, load_face_index

__all__ = [
    "PeopleClusterer",
    "SamePhotoError",
    "PeopleBook",
    "People",
    "clean_name",
    "assign_people",
    "people_table",
    "find_people",
    "rename_person",
    "merge_people",
    "split_person",
    "shared_photos",
    "remove_faces",
    "confirm_faces",
    "reject_person",
    "hide_person",
    "set_cover",
    "set_min_faces",
    "post_people",
    "post_person_labels",
    "photo_person_labels",
    "delete_people",
]

_KIND = "faces/people"
_MAX_NAME = 60


class PeopleClusterer:
    """Group face descriptors into people (scikit-learn style); faces of one photo stay apart.

    Poor faces (blurred, half hidden, turned away: low detector confidence)
    get descriptors near the "average face", close to each other whoever they
    show; clustered with the rest, they chain into one large mixed group. So
    only faces with ``scores >= min_score`` are clustered; each poorer face
    joins the person of its nearest good face if it is closer than
    ``attach_threshold``, and stays alone otherwise.

    Two faces found in one photo are two people: given ``photos``, the
    clustering (:func:`core.faces.cluster.average_linkage`) refuses every
    merge that would join them, and a poorer face never joins a person who
    is already in its photo.

    Parameters
    ----------
    threshold : float
        Same-person distance; for ``"average"`` the linkage cut.
    method : {"average", "dbscan"}
        Constrained average-linkage agglomerative clustering, or DBSCAN
        (unconstrained: a baseline for the benches).
    eps : float
        DBSCAN's neighbourhood radius.
    max_agglomerative : int
        Largest block clustered in one piece (its matrix takes 8·n² bytes);
        above it the faces are clustered per connected component (exact),
        and a component larger than this block by block (see
        :mod:`core.faces.cluster`).
    min_score : float
        Detector confidence a face needs to take part in the clustering.
    attach_threshold : float
        Distance within which a poorer face joins a person.
    constrained : bool
        Honour ``photos`` (``False``: the old, unconstrained grouping, for comparison).

    Attributes
    ----------
    labels_ : numpy.ndarray
        Cluster of each face, ``0`` for the largest cluster, ``1`` for the next...
    report_ : core.faces.cluster.ClusterReport
        Components, blocks and refused merges of the last fit.

    Examples
    --------
    >>> X = np.array([[0.0, 0], [0.1, 0], [2, 2], [2.1, 2], [2.2, 2], [9, 9]])
    >>> PeopleClusterer().fit(X).labels_.tolist()
    [1, 1, 0, 0, 0, 2]
    >>> PeopleClusterer().fit(X, scores=[0.9, 0.5, 0.9, 0.9, 0.9, 0.5]).labels_.tolist()
    [1, 1, 0, 0, 0, 2]
    >>> PeopleClusterer().fit(X, photos=["a", "a", "b", "c", "d", "e"]).labels_.tolist()
    [1, 2, 0, 0, 0, 3]
    """

    def __init__(self, threshold: float = SAME_PERSON_THRESHOLD, method: str = "average",
                 eps: float = 0.5, max_agglomerative: int = MAX_BLOCK, min_score: float = 0.8,
                 attach_threshold: float = 0.5, constrained: bool = True) -> None:
        self.threshold = threshold
        self.method = method
        self.eps = eps
        self.max_agglomerative = max_agglomerative
        self.min_score = min_score
        self.attach_threshold = attach_threshold
        self.constrained = constrained

    def _cluster(self, X: np.ndarray, photos) -> np.ndarray:
        if len(X) < 2:
            return np.zeros(len(X), int)
        if self.method == "average":
            return average_linkage(X, self.threshold, photos=photos, max_block=self.max_agglomerative,
                                   report=self.report_)
        from sklearn.cluster import DBSCAN

        return DBSCAN(eps=self.eps, min_samples=1).fit(X).labels_

    def fit(self, X: np.ndarray, scores: np.ndarray | None = None, photos=None) -> "PeopleClusterer":
        """Cluster the descriptors ``X`` (``(n, d)``), optionally with detector scores and photos.

        ``photos`` gives each face's photo (any hashable, ``None`` for none):
        faces of one photo never share a person.
        """
        X = np.asarray(X, dtype=np.float64)
        n = len(X)
        if self.method not in ("average", "dbscan"):
            raise ValueError(f"method must be 'average' or 'dbscan', not {self.method!r}")
        self.report_ = ClusterReport()
        photos = list(photos) if photos is not None and self.constrained else None
        if photos is not None and len(photos) != n:
            raise ValueError(f"{len(photos)} photos for {n} faces")
        good = np.ones(n, bool) if scores is None else np.asarray(scores, float) >= self.min_score
        if n and not good.any():  # nothing reliable: cluster what there is
            good[:] = True
        good_idx, poor = np.flatnonzero(good), np.flatnonzero(~good)
        raw = np.full(n, -1, int)
        raw[good] = self._cluster(X[good], None if photos is None else [photos[i] for i in good_idx])
        if len(poor):
            attached = attach_nearest(
                X[good_idx], raw[good_idx], X[poor], self.attach_threshold, k=1 if photos is None else 10,
                ref_photos=None if photos is None else [photos[i] for i in good_idx],
                new_photos=None if photos is None else [photos[i] for i in poor])
            alone = attached < 0
            attached[alone] = raw.max() + 1 + np.arange(int(alone.sum()))
            raw[poor] = attached
        # Renumber: biggest cluster first, ties by first appearance.
        uniq, first, counts = np.unique(raw, return_index=True, return_counts=True)
        order = sorted(range(len(uniq)), key=lambda i: (-counts[i], first[i]))
        mapping = {uniq[i]: rank for rank, i in enumerate(order)}
        self.labels_ = np.array([mapping[v] for v in raw], dtype=int)
        return self

    def fit_predict(self, X: np.ndarray, scores: np.ndarray | None = None, photos=None) -> np.ndarray:
        """Cluster ``X`` and return :attr:`labels_`."""
        return self.fit(X, scores, photos).labels_


def clean_name(name: str) -> str:
    """A person's name as stored: printable, single-spaced, at most 60 characters.

    Examples
    --------
    >>> clean_name("  Anna\\n  <b>Karenina</b>\\x00 ")
    'Anna <b>Karenina</b>'
    """
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in str(name))
    return re.sub(r"\s+", " ", text).strip()[:_MAX_NAME].strip()


def _pid_number(pid: str) -> int:
    return int(pid[1:]) if pid[:1] == "p" and pid[1:].isdigit() else 0


class SamePhotoError(JobError, ValueError):
    """An edit would make two faces of one photo the same person; ``photos`` names those photos.

    Attributes
    ----------
    photos : list of str
        File names of the photos (one per photo).
    """

    def __init__(self, message: str, photos: list[str]) -> None:
        super().__init__(message)
        self.photos = photos


@dataclass
class PeopleBook:
    """The user's decisions about people in one archive.

    The machine's grouping is only a proposal: what is in the book wins on
    every re-index (:func:`assign_people`), and a face the user took out of
    a person never joins that person again.

    Attributes
    ----------
    assign : dict
        ``face_key -> person id`` (empty until the first edit).
    names : dict
        ``person id -> name``.
    next_id : int
        Number of the next new person id (``"p<n>"``).
    must : dict
        ``face_key -> person id``: the user said "this is <person>".
    cannot : dict
        ``face_key -> set of person ids``: the user said "this is not <person>".
    hidden : set
        Person ids the user hid.
    min_faces : int
        People with fewer faces are hidden (1: nobody).
    covers : dict
        ``person id -> face_key`` of the face the user chose to show.

    Examples
    --------
    >>> book = PeopleBook()
    >>> book.freeze(["a-0", "b-0", "c-0"], ["p1", "p1", "p2"])
    >>> book.rename("p2", "Grace")
    'p2'
    >>> book.merge("p1", "p2")
    >>> book.display_name("p1"), sorted(set(book.assign.values()))
    ('Grace', ['p1'])
    >>> book.remove(["b-0"], "p1")
    >>> book.assign, book.cannot
    ({'a-0': 'p1', 'c-0': 'p1'}, {'b-0': {'p1'}})
    """

    assign: dict[str, str] = field(default_factory=dict)
    names: dict[str, str] = field(default_factory=dict)
    next_id: int = 1
    must: dict[str, str] = field(default_factory=dict)
    cannot: dict[str, set[str]] = field(default_factory=dict)
    hidden: set[str] = field(default_factory=set)
    min_faces: int = 1
    covers: dict[str, str] = field(default_factory=dict)

    # ----- persistence
    @staticmethod
    def _key(archive_key: str) -> str:
        return archive_key if archive_key and re.fullmatch(r"[A-Za-z0-9_-]+", archive_key) else "default"

    @classmethod
    def load(cls, archive_key: str, cache: DiskCache | None = None) -> "PeopleBook":
        """The saved book of an archive (an empty one if none or unreadable)."""
        cache = cache or default_cache()
        raw = cache.get(_KIND, cls._key(archive_key), ".json")
        if raw is None:
            return cls()
        try:
            data = json.loads(raw)
            return cls(assign={str(k): str(v) for k, v in data.get("assign", {}).items()},
                       names={str(k): clean_name(v) for k, v in data.get("names", {}).items()},
                       next_id=int(data.get("next_id", 1)),
                       must={str(k): str(v) for k, v in data.get("must", {}).items()},
                       cannot={str(k): {str(p) for p in v} for k, v in data.get("cannot", {}).items() if v},
                       hidden={str(p) for p in data.get("hidden", [])},
                       min_faces=max(1, int(data.get("min_faces", 1))),
                       covers={str(k): str(v) for k, v in data.get("covers", {}).items()})
        except (ValueError, TypeError, AttributeError):
            return cls()

    def save(self, archive_key: str, cache: DiskCache | None = None) -> None:
        """Write the book atomically."""
        cache = cache or default_cache()
        data = {"version": 2, "assign": self.assign, "names": self.names, "next_id": self.next_id,
                "must": self.must, "cannot": {k: sorted(v) for k, v in self.cannot.items() if v},
                "hidden": sorted(self.hidden), "min_faces": self.min_faces, "covers": self.covers}
        cache.put(_KIND, self._key(archive_key), json.dumps(data, ensure_ascii=False).encode("utf-8"), ".json")

    # ----- names
    def display_name(self, pid: str) -> str:
        """The person's name, or ``"Person <n>"``."""
        return self.names.get(pid) or f"Person {_pid_number(pid)}"

    # ----- edits (each needs the full assignment first: see freeze)
    def freeze(self, face_keys: list[str], person_ids: list[str]) -> None:
        """Store the current face → person assignment (before an edit)."""
        self.assign.update(dict(zip(face_keys, person_ids)))
        used = [_pid_number(p) for p in self.assign.values()]
        self.next_id = max([self.next_id, *(u + 1 for u in used)])

    def new_id(self) -> str:
        """Reserve a fresh person id."""
        pid = f"p{self.next_id}"
        self.next_id += 1
        return pid

    def rename(self, pid: str, name: str) -> str:
        """Name a person; an empty name removes it.

        If another person already has this name (ignoring case), the two are
        merged. Returns the id that carries the name afterwards.
        """
        name = clean_name(name)
        if not name:
            self.names.pop(pid, None)
            return pid
        other = self.named(name)
        if other is not None and other != pid:
            self.merge(other, pid)
            self.names[other] = name
            return other
        self.names[pid] = name
        return pid

    def named(self, name: str) -> str | None:
        """The id of the person called ``name`` (ignoring case), if any."""
        name = clean_name(name).casefold()
        return next((pid for pid, existing in self.names.items() if existing.casefold() == name), None)

    def merge(self, keep: str, other: str) -> None:
        """Move every face of ``other`` to ``keep``; ``keep``'s name (and cover) wins.

        The user's latest word wins: a face of either that was "not" the other is no longer so.
        """
        if keep == other:
            return
        for key, pid in self.assign.items():
            if pid == other:
                self.assign[key] = keep
        for key, pid in self.must.items():
            if pid == other:
                self.must[key] = keep
        merged = {k for k, p in self.assign.items() if p == keep}
        for key, banned in list(self.cannot.items()):
            if other in banned:
                banned.discard(other)
                banned.add(keep)
            if key in merged:
                banned.discard(keep)
            if not banned:
                del self.cannot[key]
        other_name = self.names.pop(other, None)
        if other_name and not self.names.get(keep):
            self.names[keep] = other_name
        other_cover = self.covers.pop(other, None)
        if other_cover and keep not in self.covers:
            self.covers[keep] = other_cover
        self.hidden.discard(other)

    def split(self, face_keys: list[str]) -> str:
        """Move the given faces to a new, unnamed person; return its id.

        The faces are no longer their old person (they never rejoin it).
        """
        pid = self.new_id()
        for key in face_keys:
            old = self.assign.get(key)
            if old is not None and old != pid:
                self.cannot.setdefault(key, set()).add(old)
            self.assign[key] = pid
            self.must.pop(key, None)
        return pid

    def remove(self, face_keys: list[str], pid: str) -> None:
        """"Not this person": the faces leave ``pid`` and never join it again.

        Each is grouped afresh on the next :func:`assign_people` (with another
        person if one is close, else alone).
        """
        for key in face_keys:
            self.cannot.setdefault(key, set()).add(pid)
            if self.assign.get(key) == pid:
                del self.assign[key]
            if self.must.get(key) == pid:
                del self.must[key]

    def confirm(self, face_keys: list[str], pid: str) -> None:
        """"This is <person>": the faces belong to ``pid``, whatever the clustering says."""
        for key in face_keys:
            self.assign[key] = pid
            self.must[key] = pid
            banned = self.cannot.get(key)
            if banned:
                banned.discard(pid)
                if not banned:
                    del self.cannot[key]

    def hide(self, pid: str, hidden: bool = True) -> None:
        """Hide a person from the gallery and the naming queue (or show it again)."""
        (self.hidden.add if hidden else self.hidden.discard)(pid)

    def set_cover(self, pid: str, face_key: str) -> None:
        """Show this face for the person."""
        self.covers[pid] = face_key


def assign_people(index: FaceIndex, book: PeopleBook | None = None, *,
                  clusterer: PeopleClusterer | None = None, honour_cannot: bool = True) -> pd.Series:
    """The person id of every recognisable face of an index.

    The book wins: a face the user confirmed ("this is Anna") is that
    person, and every face in the book keeps its person. Other faces join
    the person of their nearest assigned face if it is within the
    same-person threshold, that person is not in the face's photo already
    and the user did not say the face is not that person; the rest are
    clustered into new people (ids after the book's), never two faces of one
    photo together. When none is in the book and no ``clusterer`` is given,
    a packed index's :attr:`~core.faces.index.FaceIndex.people_labels` are
    that clustering, computed by the batch job.

    Parameters
    ----------
    index : FaceIndex
    book : PeopleBook, optional
    clusterer : PeopleClusterer, optional
    honour_cannot : bool
        ``False`` forgets the user's "not this person" (what photo apps did
        before: the bench's baseline).

    Returns
    -------
    pandas.Series
        Person ids (``"p<n>"``) indexed by ``face_key``.
    """
    book = book or PeopleBook()
    packed = index.people_labels if clusterer is None else None
    clusterer = clusterer or PeopleClusterer()
    faces = index.recognisable
    keys = faces["face_key"].tolist()
    photos = faces["sha256"].tolist() if len(faces) else []
    X = index.embeddings[faces.index.to_numpy()] if len(faces) else np.zeros((0, EMBEDDING_DIM), np.float32)
    cannot = book.cannot if honour_cannot else {}
    ids = np.array([book.must.get(k) or book.assign.get(k, "") for k in keys], dtype=object)
    for i, key in enumerate(keys):
        if ids[i] and ids[i] in cannot.get(key, ()):
            ids[i] = ""  # the user took it out of that person: grouped afresh
    known = np.flatnonzero(ids != "")
    unknown = np.flatnonzero(ids == "")
    scores = faces["score"].to_numpy(float) if len(faces) else np.zeros(0)
    if len(known) and len(unknown):
        codes, pids = pd.factorize(pd.Series(ids[known], dtype=object))
        code_of = {pid: c for c, pid in enumerate(pids)}
        limit = np.where(scores[unknown] >= clusterer.min_score, clusterer.threshold, clusterer.attach_threshold)
        forbidden = [{code_of[p] for p in cannot.get(keys[i], ()) if p in code_of} for i in unknown]
        joined = attach_nearest(
            X[known], codes, X[unknown], limit, forbidden=forbidden,
            ref_photos=[photos[i] for i in known] if clusterer.constrained else None,
            new_photos=[photos[i] for i in unknown] if clusterer.constrained else None)
        close = joined >= 0
        ids[unknown[close]] = np.asarray(pids, dtype=object)[joined[close]]
        unknown = unknown[~close]
    if len(unknown):
        if packed is not None and len(unknown) == len(keys):
            labels = packed  # the same clustering, done when the index was packed
        else:
            labels = clusterer.fit_predict(X[unknown], scores[unknown], [photos[i] for i in unknown])
        start = book.next_id if (book.assign or book.must or book.cannot) else 1
        ids[unknown] = [f"p{start + int(label)}" for label in labels]
    return pd.Series(ids.astype(str) if len(ids) else np.array([], dtype=str), index=keys, name="person_id",
                     dtype=object)


def _representative_at(X: np.ndarray, size: np.ndarray) -> int:
    """Position of the representative among one person's faces (descriptors ``X``, box areas ``size``)."""
    if len(X) == 1:
        return 0
    centre = X.mean(axis=0)
    dist = np.linalg.norm(X - centre, axis=1)
    penalty = np.where(size >= np.median(size) * 0.5, 0.0, 1.0)
    return int(np.argmin(dist + penalty))


def people_table(index: FaceIndex, person_ids: pd.Series, book: PeopleBook,
                 catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per person: name, faces, photos, posts, mean likes, a face to show.

    Every count is one group-by over all faces or posts (no pass over the
    faces per person), so 100,000 faces of 10,000 people take seconds.

    Returns
    -------
    pandas.DataFrame
        ``person_id``, ``name``, ``n_faces``, ``n_photos``, ``n_posts``,
        ``mean_likes`` (NaN when no post's likes are known), ``face_key``,
        ``sha256``, ``face_no`` of the face to show (the user's cover, else
        the face nearest the person's mean), ``named`` (the user named
        them), ``hidden`` (hidden by the user, or fewer faces than the
        book's ``min_faces``); most faces first (the order of the automatic
        person numbers).
    """
    columns = ["person_id", "name", "n_faces", "n_photos", "n_posts", "mean_likes", "face_key", "sha256", "face_no",
               "named", "hidden"]
    faces = index.recognisable.assign(person_id=person_ids.reindex(index.recognisable["face_key"]).to_numpy())
    faces = faces[faces["person_id"].notna()]  # a face given no person is in no one's row
    if faces.empty:
        return pd.DataFrame(columns=columns)
    codes, pids = pd.factorize(faces["person_id"])  # people in order of first appearance
    order = np.argsort(codes, kind="stable")  # each person's faces together, in index order
    starts = np.searchsorted(codes[order], np.arange(len(pids)))
    X = index.embeddings[faces.index.to_numpy()]
    size = (faces["w"] * faces["h"]).to_numpy()
    rep = np.array([group[_representative_at(X[group], size[group])]
                    for group in np.split(order, starts[1:])])
    if book.covers:  # the user's choice, when the face is still that person's
        position = pd.Series(np.arange(len(faces)), index=faces["face_key"].to_numpy())
        pid_at = {pid: i for i, pid in enumerate(pids)}
        for pid, key in book.covers.items():
            at = position.get(key)
            if pid in pid_at and at is not None and codes[at] == pid_at[pid]:
                rep[pid_at[pid]] = at
    posts = post_people(index, person_ids, book, catalogue)[["person_id", "post_id"]].drop_duplicates()
    posts["likes"] = _post_likes(catalogue).reindex(posts["post_id"]).to_numpy()
    by_person = posts.groupby("person_id", sort=False)
    table = pd.DataFrame({
        "person_id": pids.to_numpy(dtype=object),
        "name": [book.display_name(pid) for pid in pids],
        "n_faces": np.bincount(codes, minlength=len(pids)),
        "n_photos": faces.groupby(codes, sort=True)["sha256"].nunique().to_numpy(),
        "n_posts": by_person["post_id"].size().reindex(pids, fill_value=0).to_numpy(),
        "mean_likes": by_person["likes"].mean().reindex(pids).to_numpy(float),
        "face_key": faces["face_key"].to_numpy()[rep],
        "sha256": faces["sha256"].to_numpy()[rep],
        "face_no": faces["face_no"].to_numpy()[rep].astype(int),
        "named": [pid in book.names for pid in pids],
    }, columns=columns)
    table["hidden"] = table["person_id"].isin(book.hidden) | (table["n_faces"] < book.min_faces)
    table["_num"] = table["person_id"].map(_pid_number)
    table = table.sort_values(["n_faces", "n_posts", "_num"], ascending=[False, False, True])
    return table.drop(columns="_num").reset_index(drop=True)


@dataclass
class People:
    """The people of an archive: the person of every face, and one row per person.

    The result of :func:`find_people`; plain data, usable without Streamlit.

    Attributes
    ----------
    archive_key : str
        ``Archive.key`` of the archive (names are saved per archive).
    index : FaceIndex
        The face index the people were found in.
    book : PeopleBook
        The saved names and edits they were found with.
    person_ids : pandas.Series
        Person id (``"p<n>"``) of every recognisable face, indexed by ``face_key``.
    table : pandas.DataFrame
        One row per person (:func:`people_table`): ``person_id``, ``name``,
        ``n_faces``, ``n_photos``, ``n_posts``, ``mean_likes``, and the
        ``face_key``, ``sha256``, ``face_no`` of a face to show; most faces first.
    """

    archive_key: str
    index: FaceIndex
    book: PeopleBook
    person_ids: pd.Series
    table: pd.DataFrame

    def __len__(self) -> int:
        return len(self.table)

    @cached_property
    def faces(self) -> pd.DataFrame:
        """The recognisable faces of the index with their ``person_id``."""
        faces = self.index.recognisable
        return faces.assign(person_id=self.person_ids.reindex(faces["face_key"]).to_numpy())

    def faces_of(self, person_id: str) -> pd.DataFrame:
        """The faces of one person (rows of :attr:`faces`)."""
        return self.faces[self.faces["person_id"] == person_id]

    @cached_property
    def _names(self) -> dict[str, str]:
        return dict(zip(self.table["person_id"], self.table["name"]))

    def name_of_face(self, face_key: str) -> str | None:
        """Display name of the person a face belongs to (``None`` for an unknown face)."""
        return self._names.get(self.person_ids.get(face_key))


def find_people(catalogue: pd.DataFrame, archive_key: str, *, cache: DiskCache | None = None,
                index: FaceIndex | None = None, book: PeopleBook | None = None,
                clusterer: PeopleClusterer | None = None) -> People:
    """Group the faces of an archive into people, with the user's names and edits.

    Reads the cached face index and the saved :class:`PeopleBook`; never
    runs a face model (index the photos first with
    :func:`core.faces.index.build_face_index`).

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The archive's catalogue.
    archive_key : str
        ``Archive.key``.
    cache : DiskCache, optional
    index : FaceIndex, optional
        The archive's face index when the caller has it loaded already.
    book : PeopleBook, optional
        The archive's saved book when the caller has it loaded already.
    clusterer : PeopleClusterer, optional
        How unassigned faces are grouped (default: :class:`PeopleClusterer`).

    Returns
    -------
    People

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"post_id": ["a"], "sha256": ["ab12"], "file": ["x.jpg"],
    ...                     "path": ["/x.jpg"], "likes": [3]})
    >>> people = find_people(cat, "k", cache=DiskCache(tempfile.mkdtemp()))
    >>> len(people), people.index.n_done, list(people.table.columns[:5])
    (0, 0, ['person_id', 'name', 'n_faces', 'n_photos', 'n_posts'])
    """
    cache = cache or default_cache()
    index = index if index is not None else load_face_index(catalogue, cache)
    book = book if book is not None else PeopleBook.load(archive_key, cache)
    person_ids = assign_people(index, book, clusterer=clusterer)
    return People(archive_key, index, book, person_ids, people_table(index, person_ids, book, catalogue))


def _edit(people: People, edit, cache: DiskCache | None):
    """Apply ``edit(book)`` to the saved book, after freezing the grouping ``people`` shows; save it."""
    cache = cache or default_cache()
    book = PeopleBook.load(people.archive_key, cache)  # afresh: another session may have saved since
    book.freeze(list(people.person_ids.index), list(people.person_ids.values))
    result = edit(book)
    book.save(people.archive_key, cache)
    return result


def shared_photos(people: People, a: str, b: str) -> list[str]:
    """The photos (sha256) in which both people ``a`` and ``b`` have a face, in index order.

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"post_id": ["a"], "sha256": ["ab12"], "file": ["x.jpg"], "path": ["/x.jpg"]})
    >>> shared_photos(find_people(cat, "k", cache=DiskCache(tempfile.mkdtemp())), "p1", "p2")
    []
    """
    faces = people.faces
    mine = faces.loc[faces["person_id"] == a, "sha256"]
    theirs = set(faces.loc[faces["person_id"] == b, "sha256"])
    return list(dict.fromkeys(sha for sha in mine if sha in theirs))


def _refuse_same_photo(people: People, a: str, b: str) -> None:
    shas = shared_photos(people, a, b) if a != b else []
    if not shas:
        return
    files = people.faces.drop_duplicates("sha256").set_index("sha256")["file"]
    names = [str(files.get(sha, sha)) for sha in shas]
    more = f" (and {len(names) - 1} more)" if len(names) > 1 else ""
    raise SamePhotoError(
        f"{people.book.display_name(a)} and {people.book.display_name(b)} are both in the photo {names[0]}{more}: "
        "two faces of one photo are usually two different people.", names)


def rename_person(people: People, person_id: str, name: str, *, cache: DiskCache | None = None,
                  force: bool = False) -> str:
    """Name a person (an empty name removes it) and save; see :meth:`PeopleBook.rename`.

    Returns
    -------
    str
        The id that carries the name afterwards (another person already
        named so absorbs this one).

    Raises
    ------
    SamePhotoError
        When another person already has this name and both are in one
        photo (``force=True`` merges them anyway).
    """
    other = people.book.named(name) if clean_name(name) else None
    if other is not None and not force:
        _refuse_same_photo(people, other, person_id)
    return _edit(people, lambda book: book.rename(person_id, name), cache)


def merge_people(people: People, keep: str, other: str, *, cache: DiskCache | None = None,
                 force: bool = False) -> None:
    """Move every face of ``other`` to ``keep`` and save; see :meth:`PeopleBook.merge`.

    Raises
    ------
    SamePhotoError
        When the two have faces in one photo: two faces of one photo are
        two people. ``force=True`` (the user confirmed: a mirror, a poster)
        merges them anyway.
    """
    if not force:
        _refuse_same_photo(people, keep, other)
    _edit(people, lambda book: book.merge(keep, other), cache)


def split_person(people: People, face_keys: list[str], *, cache: DiskCache | None = None) -> str:
    """Move the given faces to a new, unnamed person and save; return the new id."""
    return _edit(people, lambda book: book.split(face_keys), cache)


def remove_faces(people: People, face_keys: list[str], person_id: str, *, cache: DiskCache | None = None) -> None:
    """"Not this person": take the faces out of ``person_id`` for good and save; see :meth:`PeopleBook.remove`."""
    _edit(people, lambda book: book.remove(face_keys, person_id), cache)


def confirm_faces(people: People, face_keys: list[str], person_id: str, *, cache: DiskCache | None = None,
                  force: bool = False) -> None:
    """"This is <person>": put the faces in ``person_id`` for good and save; see :meth:`PeopleBook.confirm`.

    Raises
    ------
    SamePhotoError
        When a face's photo already shows that person in another face
        (``force=True`` confirms anyway).
    """
    if not force:
        faces = people.faces.set_index("face_key")
        theirs = set(people.faces_of(person_id)["sha256"])
        clash = [k for k in face_keys if k in faces.index and faces.at[k, "person_id"] != person_id
                 and faces.at[k, "sha256"] in theirs]
        if clash:
            names = list(dict.fromkeys(str(faces.at[k, "file"]) for k in clash))
            raise SamePhotoError(f"{people.book.display_name(person_id)} is already in the photo {names[0]}"
                                 f"{f' (and {len(names) - 1} more)' if len(names) > 1 else ''}: two faces of one "
                                 "photo are usually two different people.", names)
    _edit(people, lambda book: book.confirm(face_keys, person_id), cache)


def reject_person(people: People, person_id: str, not_person: str, *, cache: DiskCache | None = None) -> None:
    """"Not <not_person>": none of the faces of ``person_id`` is ever that person; save."""
    keys = list(people.faces_of(person_id)["face_key"])

    def edit(book: PeopleBook) -> None:
        for key in keys:
            book.cannot.setdefault(key, set()).add(not_person)

    _edit(people, edit, cache)


def hide_person(people: People, person_id: str, hidden: bool = True, *, cache: DiskCache | None = None) -> None:
    """Hide a person from the gallery and the naming queue (or show it again) and save."""
    _edit(people, lambda book: book.hide(person_id, hidden), cache)


def set_cover(people: People, person_id: str, face_key: str, *, cache: DiskCache | None = None) -> None:
    """Show ``face_key`` as the person's face and save."""
    _edit(people, lambda book: book.set_cover(person_id, face_key), cache)


def set_min_faces(archive_key: str, min_faces: int, *, cache: DiskCache | None = None) -> None:
    """Hide everyone with fewer than ``min_faces`` faces (1: nobody) and save; needs no grouping."""
    cache = cache or default_cache()
    book = PeopleBook.load(archive_key, cache)
    book.min_faces = max(1, int(min_faces))
    book.save(archive_key, cache)


def _post_likes(catalogue: pd.DataFrame) -> pd.Series:
    if catalogue is None or len(catalogue) == 0:
        return pd.Series(dtype=float)
    likes = catalogue.groupby("post_id", sort=False)["likes"].first()
    return pd.to_numeric(likes, errors="coerce").astype(float)


def post_people(index: FaceIndex, person_ids: pd.Series, book: PeopleBook,
                catalogue: pd.DataFrame) -> pd.DataFrame:
    """Who appears in which post (a photo used by several posts counts for each).

    Returns
    -------
    pandas.DataFrame
        ``post_id``, ``person_id``, ``person`` (display name), ``n_faces``.
    """
    faces = index.recognisable.assign(person_id=person_ids.reindex(index.recognisable["face_key"]).to_numpy())
    columns = ["post_id", "person_id", "person", "n_faces"]
    if faces.empty or catalogue is None or len(catalogue) == 0:
        return pd.DataFrame(columns=columns)
    links = catalogue[["post_id", "sha256"]].dropna().drop_duplicates()
    merged = links.merge(faces[["sha256", "person_id", "face_key"]], on="sha256")
    grouped = merged.groupby(["post_id", "person_id"], sort=False)["face_key"].nunique().reset_index(name="n_faces")
    grouped["person"] = grouped["person_id"].map(book.display_name)
    return grouped[columns]


def photo_person_labels(catalogue: pd.DataFrame, archive_key: str, *, cache: DiskCache | None = None,
                        top: int = 8) -> pd.Series:
    """Who is in each photo, as one label per photo to colour a map by ("Anna", "several people").

    Reads the cached face index and the saved names only (never runs a
    model). People are ranked by how many photos they are in, named people
    first; the ``top`` of them keep their name and the rest are "someone
    else". Hidden people count as "someone else".

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The archive's catalogue (``sha256``, ``post_id``, ``file``, ``path``).
    archive_key : str
        ``Archive.key`` (names are saved per archive).
    top : int
        People shown by name.

    Returns
    -------
    pandas.Series
        Indexed by every distinct ``sha256`` of the catalogue: a person's
        display name, ``"several people"``, ``"someone else"``, ``"no one"``
        or ``"not indexed"``. Empty when no face index was built.

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"post_id": ["a"], "sha256": ["ab12"], "file": ["x.jpg"], "path": ["/x.jpg"]})
    >>> photo_person_labels(cat, "k", cache=DiskCache(tempfile.mkdtemp())).empty
    True
    """
    cache = cache or default_cache()
    shas = pd.Index(catalogue["sha256"].dropna().unique(), name="sha256")
    index = load_face_index(catalogue, cache)
    if index.n_done == 0:
        return pd.Series(index=pd.Index([], name="sha256"), dtype=object, name="person")
    book = PeopleBook.load(archive_key, cache)
    ids = assign_people(index, book)
    faces = index.recognisable[["sha256", "face_key"]].assign(
        person_id=ids.reindex(index.recognisable["face_key"]).to_numpy()).dropna(subset=["person_id"])
    per_photo = faces.drop_duplicates(["sha256", "person_id"])
    counts = per_photo["person_id"].value_counts()
    shown = [pid for pid in sorted(counts.index, key=lambda p: (p not in book.names, -counts[p], str(p)))
             if pid not in book.hidden][:top]
    names = {pid: book.display_name(pid) for pid in shown}
    people = per_photo.groupby("sha256")["person_id"].agg(list)
    indexed = set(index.faces["sha256"]) | set(index.failed)

    def label(sha: str) -> str:
        found = people.get(sha)
        if found:
            if len(found) > 1:
                return "several people"
            return names.get(found[0], "someone else")
        return "no one" if sha in indexed or _photo_done_without_faces(cache, sha) else "not indexed"

    return pd.Series([label(sha) for sha in shas], index=shas, dtype=object, name="person")


def post_person_labels(catalogue: pd.DataFrame, archive_key: str, *, cache: DiskCache | None = None,
                       named_only: bool = False, min_posts: int = 1) -> pd.DataFrame:
    """Per-post person labels for other pages ("posts with Anna").

    Reads the cached face index and the saved names only: it never runs a
    model. Posts whose photos are not all indexed yet get ``<NA>``.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The archive's catalogue.
    archive_key : str
        ``Archive.key`` (names are saved per archive).
    named_only : bool
        Only people the user has named.
    min_posts : int
        Only people seen in at least this many posts.

    Returns
    -------
    pandas.DataFrame
        Indexed by ``post_id`` (every post of the catalogue), one nullable
        boolean column per person, headed by the person's display name, most
        frequent person first. No columns if no face index has been built.

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"post_id": ["a"], "sha256": ["ab12"], "file": ["x.jpg"],
    ...                     "path": ["/x.jpg"], "likes": [3]})
    >>> post_person_labels(cat, "k", cache=DiskCache(tempfile.mkdtemp())).shape
    (1, 0)
    """
    cache = cache or default_cache()
    post_ids = pd.Index(pd.unique(catalogue["post_id"]), name="post_id") if len(catalogue) else pd.Index([], name="post_id")
    index = load_face_index(catalogue, cache)
    if index.n_done == 0:
        return pd.DataFrame(index=post_ids)
    book = PeopleBook.load(archive_key, cache)
    ids = assign_people(index, book)
    links = post_people(index, ids, book, catalogue)
    counts = links.groupby("person_id")["post_id"].nunique().sort_values(ascending=False, kind="stable")
    indexed = set(index.faces["sha256"]) | set(index.failed)
    done_photos = {sha for sha in catalogue["sha256"].dropna().unique()
                   if sha in indexed or _photo_done_without_faces(cache, sha)}
    post_done = catalogue.groupby("post_id")["sha256"].agg(lambda s: all(x in done_photos for x in s.dropna()))
    table = pd.DataFrame(index=post_ids)
    for pid, n_posts in counts.items():
        if n_posts < min_posts or (named_only and pid not in book.names):
            continue
        with_person = set(links.loc[links["person_id"] == pid, "post_id"])
        column = pd.array([True if p in with_person else (False if post_done.get(p, False) else pd.NA)
                           for p in post_ids], dtype="boolean")
        table[book.display_name(pid)] = column
    return table


def _photo_done_without_faces(cache: DiskCache, sha: str) -> bool:
    from .index import _KIND as FACES_KIND

    return cache.exists(FACES_KIND, sha, ".npy")


def delete_people(archive_key: str, cache: DiskCache | None = None) -> bool:
    """Delete an archive's saved names and edits; ``True`` if there were any."""
    cache = cache or default_cache()
    return cache.delete(_KIND, PeopleBook._key(archive_key), ".json")
