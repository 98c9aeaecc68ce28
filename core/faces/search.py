"""Search: the stored faces nearest to a face, and every face of a photo looked up in an archive.

:class:`FaceSearcher` is an exact nearest-neighbour search over face
descriptors (brute force on BLAS: a few milliseconds per query at 100,000
faces, so no approximate index is needed at archive scale).
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

__all__ = ["FaceSearcher", "FaceMatches", "search_photo"]


class FaceSearcher:
    """Exact nearest neighbours of face descriptors (Euclidean), on BLAS.

    The API follows ``sklearn.neighbors.NearestNeighbors``. A query against
    100,000 stored faces is one matrix-vector product plus a partial sort:
    a few milliseconds, so no approximate index is needed at archive scale.

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
