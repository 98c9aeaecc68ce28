"""Search: the stored faces nearest to a face, and every face of a photo looked up in an archive.

:class:`FaceSearcher` is an exact nearest-neighbour search over face
descriptors (brute force on BLAS); :class:`AnnFaceSearcher` is an
approximate one (a faiss HNSW graph), with the same contract. Measured by
``bench/faces_ann.py`` on this 2-core machine (one query, k = 10): exact
search grows with the faces stored, 0.4 ms at 20,000, 0.8 ms at 50,000,
1.6 ms at 100,000 on idle cores, and 10–20 ms at 100,000 when other work
holds the cores (two BLAS threads wait on each other); the HNSW query stays
at 0.3–0.5 ms, with a recall@10 of 0.99 against exact search at 100,000
faces (0.97 for real faces as queries). So an archive's face index uses
exact search below :data:`ANN_MIN_FACES` recognisable faces, and above it
the HNSW graph that the batch job builds once
(:func:`core.faces.index.pack_face_index`: 5–40 s for 100,000 faces,
depending on the load) and the app loads with the index.
:func:`search_photo` answers "who in my archive is in this photo?": each face
found by :meth:`core.faces.engine.FaceEngine.analyze` is looked up in the
archive's :class:`~core.faces.index.FaceIndex`, and its matches carry the
person's name and the post's likes and caption.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Sequence

import numpy as np
import pandas as pd

if TYPE_CHECKING:  # the index and people modules import this one
    from .engine import Face
    from .index import FaceIndex
    from .people import People

__all__ = ["ANN_MIN_FACES", "FaceSearcher", "AnnFaceSearcher", "FaceMatches", "search_photo"]

#: From this many stored descriptors on, an archive's packed face index carries an HNSW graph. Below
#: it an exact query takes under half a millisecond and is exact, and there is nothing to build; above
#: it exact search grows linearly (bench/faces_ann.py) while the graph's query stays near 0.3-0.5 ms.
ANN_MIN_FACES = 20_000

# HNSW parameters, chosen with bench/faces_ann.py at 100,000 faces: M = 32 links per node (16 loses
# recall on the dense clusters of one person's faces, 48 only adds size), efConstruction = 40
# (faiss' default; 100 and 200 cost 1.2-2.5x the build for +0.0-0.3 points of recall) and
# efSearch = 128 (recall@10 about 0.99; 64 gives 0.97, 256 gives 0.998 at twice the time).
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 40
HNSW_EF_SEARCH = 128


class FaceSearcher:
    """Exact nearest neighbours of face descriptors (Euclidean), on BLAS.

    The API follows ``sklearn.neighbors.NearestNeighbors``. A query against
    100,000 stored faces is one matrix-vector product plus a partial sort:
    a few milliseconds (see the module docstring; :class:`AnnFaceSearcher`
    takes over above :data:`ANN_MIN_FACES`).

    Examples
    --------
    >>> searcher = FaceSearcher().fit(np.eye(3, dtype=np.float32))
    >>> dist, idx = searcher.kneighbors(np.array([[0.9, 0.1, 0.0]]), n_neighbors=2)
    >>> idx.tolist(), [round(float(d), 3) for d in dist[0]]
    ([[0, 1]], [0.141, 1.273])
    """

    def __init__(self, n_neighbors: int = 5) -> None:
        self.n_neighbors = n_neighbors

    def fit(self, X: np.ndarray) -> "FaceSearcher":
        """Store the descriptors ``X`` (``(N, D)``)."""
        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError("X must be a 2-D array")
        self.X_ = X
        self.sq_norms_ = np.einsum("ij,ij->i", X, X)
        return self

    def kneighbors(self, X: np.ndarray, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the nearest stored descriptors.

        Returns
        -------
        distances, indices : numpy.ndarray
            ``(n_queries, k)``, nearest first; ``k`` is at most the number stored.
        """
        Q = np.atleast_2d(np.asarray(X, dtype=np.float32))
        k = min(n_neighbors or self.n_neighbors, len(self.X_))
        if k == 0:
            return np.zeros((len(Q), 0), np.float32), np.zeros((len(Q), 0), np.int64)
        dist_out = np.empty((len(Q), k), np.float32)
        idx_out = np.empty((len(Q), k), np.int64)
        chunk = max(1, 2**24 // max(1, len(self.X_)))
        for start in range(0, len(Q), chunk):
            q = Q[start : start + chunk]
            d2 = self.sq_norms_[None, :] - 2.0 * (q @ self.X_.T)
            d2 += np.einsum("ij,ij->i", q, q)[:, None]
            if k < d2.shape[1]:
                part = np.argpartition(d2, k - 1, axis=1)[:, :k]
            else:
                part = np.broadcast_to(np.arange(d2.shape[1]), d2.shape)
            vals = np.take_along_axis(d2, part, axis=1)
            order = np.argsort(vals, axis=1, kind="stable")
            idx_out[start : start + len(q)] = np.take_along_axis(part, order, axis=1)
            dist_out[start : start + len(q)] = np.sqrt(np.maximum(np.take_along_axis(vals, order, axis=1), 0))
        return dist_out, idx_out


class AnnFaceSearcher:
    """Approximate nearest neighbours of face descriptors (Euclidean): a faiss HNSW graph.

    Same contract as :class:`FaceSearcher` (``fit``, ``kneighbors``: Euclidean
    distances and indices into the fitted rows, nearest first), plus
    :meth:`to_bytes` / :meth:`from_bytes` so the batch job builds the graph
    once and the app loads it. faiss is imported on first use.

    Parameters
    ----------
    n_neighbors : int
    m : int
        Links per node of the graph (faiss' ``M``).
    ef_construction, ef_search : int
        Candidate list sizes when building and when searching; a search uses
        at least ``k`` of them.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 8)).astype(np.float32)
    >>> ann = AnnFaceSearcher().fit(X)
    >>> dist, idx = AnnFaceSearcher.from_bytes(ann.to_bytes()).kneighbors(X[:2] + 0.01, 3)
    >>> idx[:, 0].tolist(), dist.shape
    ([0, 1], (2, 3))
    """

    def __init__(self, n_neighbors: int = 5, *, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
                 ef_search: int = HNSW_EF_SEARCH) -> None:
        self.n_neighbors = n_neighbors
        self.m = m
        self.ef_construction = ef_construction
        self.ef_search = ef_search
        self.index_ = None
        self._exact: FaceSearcher | None = None

    def fit(self, X: np.ndarray, *, progress=None, cancel=None, batch: int = 10_000) -> "AnnFaceSearcher":
        """Build the graph over the descriptors ``X`` (``(N, D)``).

        ``progress(done, total, message)`` and ``cancel()`` follow
        :mod:`core.jobs`; they are called between batches of ``batch`` rows.
        """
        import faiss

        from ..jobs import check_cancel, report

        X = np.ascontiguousarray(X, dtype=np.float32)
        if X.ndim != 2:
            raise ValueError("X must be a 2-D array")
        index = faiss.IndexHNSWFlat(X.shape[1], self.m)
        index.hnsw.efConstruction = self.ef_construction
        for start in range(0, len(X), batch):
            check_cancel(cancel)
            report(progress, start, len(X), f"ANN index: {start:,} of {len(X):,} faces")
            index.add(X[start : start + batch])
        report(progress, len(X), len(X), f"ANN index: {len(X):,} faces")
        self.index_, self._exact = index, None
        return self

    @property
    def X_(self) -> np.ndarray:
        """The fitted descriptors, read back from the graph's storage (a copy)."""
        import faiss

        storage = faiss.downcast_index(self.index_.storage)
        return faiss.vector_to_array(storage.codes).view(np.float32).reshape(-1, self.index_.d)

    def kneighbors(self, X: np.ndarray, n_neighbors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Distances and indices of the (approximately) nearest stored descriptors.

        Returns
        -------
        distances, indices : numpy.ndarray
            ``(n_queries, k)``, nearest first; ``k`` is at most the number stored.
        """
        import faiss

        Q = np.ascontiguousarray(np.atleast_2d(np.asarray(X, dtype=np.float32)))
        k = min(n_neighbors or self.n_neighbors, self.index_.ntotal)
        if k == 0:
            return np.zeros((len(Q), 0), np.float32), np.zeros((len(Q), 0), np.int64)
        params = faiss.SearchParametersHNSW()
        params.efSearch = max(self.ef_search, k)
        d2, idx = self.index_.search(Q, k, params=params)
        short = np.flatnonzero((idx < 0).any(axis=1))
        if len(short):  # the graph returned fewer than k: answer those queries exactly
            if self._exact is None:
                self._exact = FaceSearcher().fit(self.X_)
            exact_dist, idx[short] = self._exact.kneighbors(Q[short], k)
            d2[short] = exact_dist**2
        return np.sqrt(np.maximum(d2, 0)), idx.astype(np.int64)

    def to_bytes(self) -> bytes:
        """The graph and its descriptors, serialised by faiss."""
        import faiss

        return faiss.serialize_index(self.index_).tobytes()

    @classmethod
    def from_bytes(cls, data: bytes, n_neighbors: int = 5, *, ef_search: int = HNSW_EF_SEARCH) -> "AnnFaceSearcher":
        """A searcher over a graph written by :meth:`to_bytes`.

        Raises
        ------
        ValueError
            When ``data`` is not a faiss HNSW index.
        """
        import faiss

        try:
            index = faiss.deserialize_index(np.frombuffer(data, np.uint8))
        except RuntimeError as exc:  # faiss reports a damaged stream as RuntimeError
            raise ValueError(f"not a faiss index: {exc}") from exc
        if not isinstance(index, faiss.IndexHNSWFlat):
            raise ValueError(f"not an HNSW index: {type(index).__name__}")
        searcher = cls(n_neighbors, m=index.hnsw.nb_neighbors(1), ef_construction=index.hnsw.efConstruction,
                       ef_search=ef_search)
        searcher.index_ = index
        return searcher


@dataclass
class FaceMatches:
    """The archive's faces nearest to one face of a searched photo.

    Attributes
    ----------
    face : core.faces.engine.Face
        The face of the searched photo (box, chip, descriptor).
    matches : pandas.DataFrame or None
        Rows of :attr:`core.faces.index.FaceIndex.faces`, nearest first, with
        ``distance`` and ``same_person`` (see :meth:`~core.faces.index.FaceIndex.search`),
        ``person`` (display name, or None) when people were given, and
        ``likes`` and ``caption`` of the photo's first post when a catalogue
        was given. ``None`` when the face is too small to recognise or the
        index holds no recognisable face.
    """

    face: Face
    matches: pd.DataFrame | None = None

    @property
    def same_person_posts(self) -> int:
        """How many posts among the matches show the same person."""
        if self.matches is None or self.matches.empty:
            return 0
        return int(self.matches.loc[self.matches["same_person"], "post_id"].nunique())

    @property
    def maybe_more(self) -> bool:
        """Every match is the same person, so more may lie beyond the ``k`` asked for."""
        return self.matches is not None and len(self.matches) > 0 and bool(self.matches["same_person"].all())


def search_photo(faces: Sequence[Face], index: FaceIndex, *, k: int = 5, people: People | None = None,
                 catalogue: pd.DataFrame | None = None) -> list[FaceMatches]:
    """Look up every face of a photo among the faces of an archive.

    Parameters
    ----------
    faces : sequence of Face
        The faces of the searched photo, as :meth:`FaceEngine.analyze
        <core.faces.engine.FaceEngine.analyze>` (or ``analyze_file``) found them.
    index : FaceIndex
        The archive's face index (:func:`core.faces.index.load_face_index`).
    k : int
        Matches per face.
    people : People, optional
        The archive's people (:func:`core.faces.people.find_people`): each
        match gets its person's display name in ``person``.
    catalogue : pandas.DataFrame, optional
        The archive's catalogue: each match gets ``likes`` and ``caption`` of
        the first post using its photo.

    Returns
    -------
    list of FaceMatches
        One per face, in the order of ``faces``.
    """
    posts = None
    if catalogue is not None and len(catalogue):
        posts = catalogue.dropna(subset=["sha256"]).drop_duplicates("sha256").set_index("sha256")
    searchable = len(index.recognisable) > 0
    found = []
    for face in faces:
        if not (face.recognisable and searchable):
            found.append(FaceMatches(face))
            continue
        rows = index.search(face.embedding, k=k)
        if people is not None:
            rows["person"] = [people.name_of_face(key) for key in rows["face_key"]]
        if posts is not None:
            for column in ("likes", "caption"):
                rows[column] = posts[column].reindex(rows["sha256"]).to_numpy() if column in posts else None
        found.append(FaceMatches(face, rows))
    return found
