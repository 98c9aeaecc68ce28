"""The archive's face index: every face of every photo, cached; build, load, status, delete, chips.

:func:`build_face_index` runs the :class:`~core.faces.engine.FaceEngine` on
every photo of a catalogue that is not cached yet (a long job following
:mod:`core.jobs`: ``progress(done, total, message)``, ``cancel()``,
:class:`core.jobs.Cancelled`). Each photo's faces are cached at once, per
image sha256 and :data:`~core.faces.engine.MODEL_VERSION`, so a cancelled or
killed build keeps its work and indexing an archive again is instant.
:func:`load_face_index` reads what is cached without any model, and
:func:`face_chip` gives the aligned chip of a stored face.

Nothing here sends data anywhere; the index lives in the local cache and
:func:`delete_face_index` removes it.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..cache import DiskCache, default_cache
from ..image.io import ImageError
from ..jobs import CancelCheck, Progress, check_cancel, report
from .engine import CHIP_SIZE, EMBEDDING_DIM, MODEL_VERSION, SAME_PERSON_THRESHOLD, Face, FaceEngine
from .search import FaceSearcher

__all__ = [
    "FaceIndex",
    "index_status",
    "build_face_index",
    "load_face_index",
    "delete_face_index",
    "face_chip",
]

# One row per face in the cache: box (4), score, 6 keypoints (12), descriptor (128).
# Box and keypoints are stored as fractions of the photo's width and height.
_ROW = 4 + 1 + 12 + EMBEDDING_DIM
_KIND = f"faces/{MODEL_VERSION}"
_CHIPS = f"faces/{MODEL_VERSION}-chips"
_ERRORS = f"faces/{MODEL_VERSION}-errors"


@dataclass
class FaceIndex:
    """Every face found in an archive's photos.

    Attributes
    ----------
    faces : pandas.DataFrame
        One row per face: ``face_key`` (``"<sha256>-<n>"``), ``sha256``,
        ``face_no``, ``x``, ``y``, ``w``, ``h`` (fractions of the photo's
        width/height), ``score``, ``recognisable``, and the catalogue's
        ``post_id``, ``file``, ``path`` of the first post using the photo.
    embeddings : numpy.ndarray
        ``(n_faces, 128)`` float32; rows of unrecognisable faces are NaN.
    n_photos : int
        Distinct photos (sha256) in the archive.
    n_done : int
        Photos indexed so far (with or without faces, failures included).
    failed : dict
        ``sha256 -> message`` for photos that could not be read.
    """

    faces: pd.DataFrame
    embeddings: np.ndarray
    n_photos: int
    n_done: int
    failed: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        ok = self.faces["recognisable"].to_numpy(bool) if len(self.faces) else np.zeros(0, bool)
        self._rows = np.flatnonzero(ok)
        self._searcher = FaceSearcher().fit(self.embeddings[self._rows].reshape(-1, EMBEDDING_DIM))

    @property
    def complete(self) -> bool:
        """Whether every photo of the archive has been indexed."""
        return self.n_done >= self.n_photos

    @property
    def recognisable(self) -> pd.DataFrame:
        """The faces that have a descriptor."""
        return self.faces.iloc[self._rows]

    @property
    def photos_without_faces(self) -> int:
        """Indexed, readable photos in which no face was found."""
        with_faces = self.faces["sha256"].nunique() if len(self.faces) else 0
        return self.n_done - len(self.failed) - with_faces

    def search(self, embedding: np.ndarray, k: int = 5) -> pd.DataFrame:
        """The ``k`` stored faces nearest to one descriptor.

        Returns
        -------
        pandas.DataFrame
            The matching rows of :attr:`faces`, nearest first, with
            ``distance`` and ``same_person`` (distance below
            :data:`SAME_PERSON_THRESHOLD`) added.
        """
        dist, idx = self._searcher.kneighbors(np.asarray(embedding, np.float32)[None], k)
        rows = self.faces.iloc[self._rows[idx[0]]].copy()
        rows["distance"] = dist[0].astype(float)
        rows["same_person"] = rows["distance"] < SAME_PERSON_THRESHOLD
        return rows.reset_index(drop=True)


def _photos(catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per distinct photo (sha256): its first post, file and path."""
    if catalogue is None or len(catalogue) == 0:
        return pd.DataFrame(columns=["sha256", "post_id", "file", "path"])
    cols = catalogue[["sha256", "post_id", "file", "path"]].dropna(subset=["sha256"])
    return cols.drop_duplicates("sha256").reset_index(drop=True)


def _rows_of(faces: Sequence[Face], size: tuple[int, int]) -> np.ndarray:
    w, h = size
    rows = np.full((len(faces), _ROW), np.nan, np.float32)
    for i, f in enumerate(faces):
        rows[i, 0:4] = f.box / np.array([w, h, w, h])
        rows[i, 4] = f.score
        rows[i, 5:17] = (f.keypoints / np.array([w, h])).ravel()
        if f.embedding is not None:
            rows[i, 17:] = f.embedding
    return rows


def _chip_strip(faces: Sequence[Face]) -> bytes:
    from PIL import Image

    strip = np.concatenate([f.chip for f in faces], axis=1)
    buf = io.BytesIO()
    Image.fromarray(strip).save(buf, "JPEG", quality=88)
    return buf.getvalue()


def _index_photo(engine: FaceEngine, sha: str, path: str, cache: DiskCache) -> None:
    try:
        faces, size = engine.analyze_file(path)
    except ImageError as exc:
        cache.put(_ERRORS, sha, str(exc).encode(), ".txt")
        return
    except OSError as exc:
        cache.put(_ERRORS, sha, f"cannot read the file: {exc}".encode(), ".txt")
        return
    if faces:
        cache.put(_CHIPS, sha, _chip_strip(faces), ".jpg")
    cache.put_array(_KIND, sha, _rows_of(faces, size))  # written last: marks the photo done


def _is_done(cache: DiskCache, sha: str) -> bool:
    return cache.exists(_KIND, sha, ".npy") or cache.exists(_ERRORS, sha, ".txt")


def index_status(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> tuple[int, int]:
    """``(photos indexed, photos in the archive)``, from the cache alone.

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"sha256": ["ab", "ab", "cd"], "post_id": ["1", "2", "3"],
    ...                     "file": ["a", "a", "c"], "path": ["/a", "/a", "/c"]})
    >>> index_status(cat, DiskCache(tempfile.mkdtemp()))
    (0, 2)
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    return sum(_is_done(cache, sha) for sha in photos["sha256"]), len(photos)


def _blas_threads(limit: int | None):
    """Limit BLAS threads (threadpoolctl ships with scikit-learn); a no-op without it."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - scikit-learn always brings it
        import contextlib

        return contextlib.nullcontext()
    return threadpool_limits(limits=limit, user_api="blas")


def build_face_index(
    catalogue: pd.DataFrame,
    engine: FaceEngine | None = None,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    workers: int = 2,
) -> FaceIndex:
    """Index every photo of a catalogue that is not cached yet.

    Photos are processed in ``workers`` threads (decoding, MediaPipe and BLAS
    release the GIL). Each finished photo is cached at once, so a cancelled
    or interrupted build keeps its work.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive's catalogue (``sha256``, ``post_id``, ``file``, ``path``).
    engine : FaceEngine, optional
        Default: a new :class:`~core.faces.engine.FaceEngine`, loaded only
        when some photo is not indexed yet.
    cache : DiskCache, optional
    progress : callable, optional
        ``progress(done, total, message)``, called in the calling thread:
        ``done`` of ``total`` distinct photos, "12 of 40 photos indexed".
    cancel : callable, optional
        Polled between photos; ``True`` stops the build.
    workers : int

    Returns
    -------
    FaceIndex
        The whole index, as :func:`load_face_index` reads it.

    Raises
    ------
    core.jobs.Cancelled
        When ``cancel()`` returned True (the photos finished so far stay cached).
    core.jobs.ModelUnavailableError
        When ``engine`` is not given and a model file cannot be had.
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    todo = [(r.sha256, r.path) for r in photos.itertuples() if not _is_done(cache, r.sha256)]
    total, done = len(photos), len(photos) - len(todo)
    report(progress, done, total, f"{done} of {total} photos indexed")
    if todo:
        own_engine = engine is None
        if own_engine:
            engine = FaceEngine()
        pool = ThreadPoolExecutor(max_workers=max(1, workers))
        try:
            # One BLAS thread per worker: the workers already fill the cores.
            with _blas_threads(1 if workers > 1 else None):
                futures = [pool.submit(_index_photo, engine, sha, str(path), cache) for sha, path in todo]
                for future in futures:
                    check_cancel(cancel)
                    future.result()
                    done += 1
                    report(progress, done, total, f"{done} of {total} photos indexed")
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
            if own_engine:
                engine.close()
    return load_face_index(catalogue, cache)


def load_face_index(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> FaceIndex:
    """The face index of a catalogue as far as it is cached (no model needed).

    Photos not indexed yet are simply missing; see :attr:`FaceIndex.complete`.
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    frames, vectors, failed, done = [], [], {}, 0
    for r in photos.itertuples():
        rows = cache.get_array(_KIND, r.sha256)
        if rows is None:
            message = cache.get(_ERRORS, r.sha256, ".txt")
            if message is not None:
                failed[r.sha256] = message.decode("utf-8", "replace")
                done += 1
            continue
        done += 1
        if rows.ndim != 2 or rows.shape[1] != _ROW or len(rows) == 0:
            continue
        frames.append(pd.DataFrame({
            "face_key": [f"{r.sha256}-{i}" for i in range(len(rows))],
            "sha256": r.sha256,
            "face_no": np.arange(len(rows)),
            "x": rows[:, 0], "y": rows[:, 1], "w": rows[:, 2], "h": rows[:, 3],
            "score": rows[:, 4],
            "recognisable": ~np.isnan(rows[:, 17]),
            "post_id": r.post_id, "file": r.file, "path": r.path,
        }))
        vectors.append(rows[:, 17:])
    columns = ["face_key", "sha256", "face_no", "x", "y", "w", "h", "score", "recognisable", "post_id", "file", "path"]
    faces = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    embeddings = np.concatenate(vectors).astype(np.float32) if vectors else np.zeros((0, EMBEDDING_DIM), np.float32)
    return FaceIndex(faces=faces, embeddings=embeddings, n_photos=len(photos), n_done=done, failed=failed)


def delete_face_index(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> int:
    """Delete the cached faces, chips and failures of a catalogue's photos.

    Returns
    -------
    int
        How many cache files were removed.
    """
    cache = cache or default_cache()
    removed = 0
    for sha in _photos(catalogue)["sha256"]:
        for kind, suffix in ((_KIND, ".npy"), (_CHIPS, ".jpg"), (_ERRORS, ".txt")):
            removed += cache.delete(kind, sha, suffix)
    return removed


def face_chip(sha256: str, face_no: int, cache: DiskCache | None = None) -> np.ndarray | None:
    """The aligned 150×150 chip of a stored face (``None`` if not cached)."""
    cache = cache or default_cache()
    data = cache.get(_CHIPS, sha256, ".jpg")
    if data is None:
        return None
    from PIL import Image

    try:
        strip = np.asarray(Image.open(io.BytesIO(data)).convert("RGB"))
    except OSError:
        return None
    start = int(face_no) * CHIP_SIZE
    if strip.shape[1] < start + CHIP_SIZE:
        return None
    return np.ascontiguousarray(strip[:, start : start + CHIP_SIZE])
