"""The archive's face index: every face of every photo, cached; build, load, status, delete, chips.

:func:`build_face_index` runs the :class:`~core.faces.engine.FaceEngine` on
every photo of a catalogue that is not cached yet (a long job following
:mod:`core.jobs`: ``progress(done, total, message)``, ``cancel()``,
:class:`core.jobs.Cancelled`). Each photo's faces are cached at once, per
image sha256 and :data:`~core.faces.engine.MODEL_VERSION`, so a cancelled or
killed build keeps its work and indexing an archive again is instant.
:func:`load_face_index` reads what is cached without any model, and
:func:`face_chip` gives the aligned chip of a stored face.

At scale, one read per photo is the slow part of loading (100,000 small
entries). :func:`pack_face_index` (run by ``feedlens batch`` after its faces
step) writes the whole index of an archive as one cache entry: the face
table, the descriptors, and from :data:`~core.faces.search.ANN_MIN_FACES`
recognisable faces on an HNSW graph (:class:`~core.faces.search.AnnFaceSearcher`)
instead of plain descriptors. :func:`load_face_index` and
:func:`index_status` use the pack when it is current and fall back to the
per-photo entries otherwise. A pack is current when it was made for the
same photos in the same order (its key hashes them; the stored list is
compared too), for the same :data:`~core.faces.engine.MODEL_VERSION` and
:data:`PACK_FORMAT`, before the last :func:`delete_face_index` (each one
writes a new deletion token, which the pack must carry), and when none of
the photos it saw unindexed has an entry now. A per-photo entry, once
written, is never rewritten (indexing skips done photos), so nothing newer
can hide behind a current pack. A damaged pack (its CRC-32 is checked) is
ignored.

Nothing here sends data anywhere; the index lives in the local cache and
:func:`delete_face_index` removes it.
"""

from __future__ import annotations

import hashlib
import io
import json
import struct
import uuid
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd

from ..cache import DiskCache, default_cache
from ..image.io import ImageError
from ..jobs import CancelCheck, Progress, check_cancel, report
from .engine import CHIP_SIZE, EMBEDDING_DIM, MODEL_VERSION, SAME_PERSON_THRESHOLD, Face, FaceEngine
from .search import ANN_MIN_FACES, AnnFaceSearcher, FaceSearcher

__all__ = [
    "PACK_FORMAT",
    "FaceIndex",
    "FacePack",
    "index_status",
    "build_face_index",
    "load_face_index",
    "pack_face_index",
    "delete_face_index",
    "face_chip",
]

#: Layout of a packed face index; part of its cache key, so a new layout never reads an old pack.
PACK_FORMAT = 1
#: How the pack's people were grouped; a pack grouped otherwise (before faces of one photo were kept
#: apart) has its people ignored and is written again by the next :func:`pack_face_index`.
PEOPLE_GROUPING = "average-cannot-link-1"

# One row per face in the cache: box (4), score, 6 keypoints (12), descriptor (128).
# Box and keypoints are stored as fractions of the photo's width and height.
_ROW = 4 + 1 + 12 + EMBEDDING_DIM
_KIND = f"faces/{MODEL_VERSION}"
_CHIPS = f"faces/{MODEL_VERSION}-chips"
_ERRORS = f"faces/{MODEL_VERSION}-errors"
_PACK = f"faces/{MODEL_VERSION}-pack"  # one per archive (its photos, in order): the whole index
_PACK_INFO = f"faces/{MODEL_VERSION}-pack-info"  # beside it, small: which photos it saw unindexed
_DELETIONS = f"faces/{MODEL_VERSION}-deletions"  # "current": a new token at each delete_face_index
_MAGIC = b"FLFPACK1"
_HEAD = struct.Struct("<IQ")  # CRC-32 and length of the payload (an uncompressed .npz)
_COLUMNS = ["face_key", "sha256", "face_no", "x", "y", "w", "h", "score", "recognisable", "post_id", "file", "path"]


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
    searcher : FaceSearcher or AnnFaceSearcher, optional
        Fitted on the recognisable rows of ``embeddings``, in order; default:
        an exact :class:`~core.faces.search.FaceSearcher` (a packed index
        of many faces brings its :class:`~core.faces.search.AnnFaceSearcher`).
    people_labels : numpy.ndarray, optional
        The recognisable faces grouped into people by a
        :class:`~core.faces.people.PeopleClusterer` with its defaults (one
        label per recognisable face, in order), computed when the index was
        packed so that :func:`~core.faces.people.assign_people` need not
        (clustering 100,000 faces takes minutes); ``None`` otherwise.
    """

    faces: pd.DataFrame
    embeddings: np.ndarray
    n_photos: int
    n_done: int
    failed: dict[str, str] = field(default_factory=dict)
    searcher: FaceSearcher | AnnFaceSearcher | None = field(default=None, repr=False, compare=False)
    people_labels: np.ndarray | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        ok = self.faces["recognisable"].to_numpy(bool) if len(self.faces) else np.zeros(0, bool)
        self._rows = np.flatnonzero(ok)
        if self.searcher is None:
            self.searcher = FaceSearcher().fit(self.embeddings[self._rows].reshape(-1, EMBEDDING_DIM))
        elif isinstance(self.searcher, AnnFaceSearcher) and self.searcher.index_.ntotal != len(self._rows):
            raise ValueError(f"the searcher holds {self.searcher.index_.ntotal} faces, "
                             f"the index {len(self._rows)} recognisable ones")
        if self.people_labels is not None and len(self.people_labels) != len(self._rows):
            raise ValueError(f"{len(self.people_labels)} people labels for {len(self._rows)} recognisable faces")

    @property
    def approximate(self) -> bool:
        """Whether :meth:`search` uses an HNSW graph rather than exact search."""
        return isinstance(self.searcher, AnnFaceSearcher)

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
        dist, idx = self.searcher.kneighbors(np.asarray(embedding, np.float32)[None], k)
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
    info = _pack_info(photos, cache)
    if info is not None:  # a current pack: only the photos it saw unindexed need a look
        unseen = info["not_done"]
        return len(photos) - len(unseen) + sum(_is_done(cache, sha) for sha in unseen), len(photos)
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

    Reads the archive's pack when it is current (see the module docstring),
    else every photo's entry. Photos not indexed yet are simply missing; see
    :attr:`FaceIndex.complete`.
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    packed = _load_pack(photos, cache)
    return packed if packed is not None else _assemble(photos, _read_entries(photos, cache))


@dataclass
class _Entries:
    """An archive's cached faces as flat arrays, one row per face, photos in the catalogue's order."""

    photo: np.ndarray  # (n,) position of the face's photo among the photos
    face_no: np.ndarray  # (n,) the face's number in its photo
    boxes: np.ndarray  # (n, 5) float32: x, y, w, h (fractions), score
    embeddings: np.ndarray  # (n, 128) float32, NaN for faces too small to recognise
    done: np.ndarray  # (n_photos,) bool: the photo has an entry (faces, no face, or a failure)
    failed: dict[str, str]


def _read_entries(photos: pd.DataFrame, cache: DiskCache, progress: Progress | None = None,
                  cancel: CancelCheck | None = None) -> _Entries:
    """Every photo's own entry (one read each)."""
    shas = photos["sha256"].tolist()
    positions, blocks, failed = [], [], {}
    done = np.zeros(len(shas), bool)
    for i, sha in enumerate(shas):
        if i % 1000 == 0:
            check_cancel(cancel)
            report(progress, i, len(shas), f"reading the faces of {i:,} of {len(shas):,} photos")
        rows = cache.get_array(_KIND, sha)
        if rows is None:
            message = cache.get(_ERRORS, sha, ".txt")
            if message is not None:
                failed[sha] = message.decode("utf-8", "replace")
                done[i] = True
            continue
        done[i] = True
        if rows.ndim != 2 or rows.shape[1] != _ROW or len(rows) == 0:
            continue
        positions.append(np.full(len(rows), i))
        blocks.append(rows)
    report(progress, len(shas), len(shas), f"read the faces of {len(shas):,} photos")
    rows = np.concatenate(blocks).astype(np.float32) if blocks else np.zeros((0, _ROW), np.float32)
    return _Entries(
        photo=np.concatenate(positions) if positions else np.zeros(0, np.int64),
        face_no=np.concatenate([np.arange(len(b)) for b in blocks]) if blocks else np.zeros(0, np.int64),
        boxes=np.ascontiguousarray(rows[:, :5]), embeddings=np.ascontiguousarray(rows[:, 17:]),
        done=done, failed=failed)


def _assemble(photos: pd.DataFrame, entries: _Entries, searcher: FaceSearcher | AnnFaceSearcher | None = None,
              people_labels: np.ndarray | None = None) -> FaceIndex:
    """The :class:`FaceIndex` of the entries, with the catalogue's post, file and path of each photo."""
    n_done = int(entries.done.sum())
    if len(entries.photo) == 0:
        return FaceIndex(faces=pd.DataFrame(columns=_COLUMNS), embeddings=np.zeros((0, EMBEDDING_DIM), np.float32),
                         n_photos=len(photos), n_done=n_done, failed=entries.failed, searcher=searcher,
                         people_labels=people_labels)
    at = entries.photo
    sha = photos["sha256"].to_numpy()[at]
    face_no = entries.face_no.astype(np.int64)
    boxes = entries.boxes
    faces = pd.DataFrame({
        "face_key": [f"{s}-{n}" for s, n in zip(sha.tolist(), face_no.tolist())],
        "sha256": sha, "face_no": face_no,
        "x": boxes[:, 0], "y": boxes[:, 1], "w": boxes[:, 2], "h": boxes[:, 3], "score": boxes[:, 4],
        "recognisable": ~np.isnan(entries.embeddings[:, 0]),
        **{column: photos[column].to_numpy()[at] for column in ("post_id", "file", "path")},
    })
    return FaceIndex(faces=faces, embeddings=entries.embeddings, n_photos=len(photos), n_done=n_done,
                     failed=entries.failed, searcher=searcher, people_labels=people_labels)


@dataclass
class FacePack:
    """What :func:`pack_face_index` found or wrote: one archive's packed face index.

    Attributes
    ----------
    n_photos, n_done : int
        Distinct photos of the archive, and those indexed when it was packed.
    n_faces, n_recognisable : int
        Faces in the pack, and those with a descriptor.
    approximate : bool
        The pack holds an HNSW graph (search is approximate).
    nbytes : int
        Size of the cache entry.
    written : bool
        ``False`` when a current pack was found and kept.
    """

    n_photos: int
    n_done: int
    n_faces: int
    n_recognisable: int
    approximate: bool
    nbytes: int
    written: bool


def _pack_key(shas: Sequence[str]) -> str:
    """The cache key of the pack of these photos, in this order (the rows of the index follow it)."""
    digest = hashlib.sha256(f"feedlens face pack {PACK_FORMAT} {MODEL_VERSION}\n".encode())
    digest.update("\n".join(shas).encode())
    return digest.hexdigest()


def _photo_list(shas: Sequence[str]) -> np.ndarray:
    """The photos a pack is for, as stored in it: their sha256s, one a line (bytes)."""
    return np.frombuffer("\n".join(shas).encode(), np.uint8)


def _deletion_token(cache: DiskCache) -> str:
    """The token :func:`delete_face_index` wrote last ("" if never): a pack made before it is stale."""
    raw = cache.get(_DELETIONS, "current", ".txt")
    return raw.decode("ascii", "replace") if raw else ""


def _encode_pack(arrays: dict[str, np.ndarray], meta: dict) -> bytes:
    buf = io.BytesIO()
    np.savez(buf, meta=np.frombuffer(json.dumps(meta).encode(), np.uint8), **arrays)
    payload = buf.getvalue()
    return _MAGIC + _HEAD.pack(zlib.crc32(payload), len(payload)) + payload


def _decode_pack(blob: bytes) -> tuple[dict[str, np.ndarray], dict]:
    """The arrays and the metadata of a pack; ``ValueError`` if it is not one or is damaged."""
    start = len(_MAGIC) + _HEAD.size
    if len(blob) < start or blob[: len(_MAGIC)] != _MAGIC:
        raise ValueError("not a face pack")
    crc, size = _HEAD.unpack(blob[len(_MAGIC) : start])
    payload = memoryview(blob)[start:]
    if len(payload) != size or zlib.crc32(payload) != crc:
        raise ValueError("damaged face pack (length or CRC-32)")
    with np.load(io.BytesIO(payload), allow_pickle=False) as npz:
        arrays = {name: npz[name] for name in npz.files}
    return arrays, json.loads(arrays.pop("meta").tobytes())


def _pack_info(photos: pd.DataFrame, cache: DiskCache) -> dict | None:
    """The small entry beside a pack, if it belongs to these photos and no deletion came after it."""
    if len(photos) == 0:
        return None
    raw = cache.get(_PACK_INFO, _pack_key(photos["sha256"].tolist()), ".json")
    try:
        info = json.loads(raw) if raw is not None else None
        if (info is None or info.get("format") != PACK_FORMAT or info.get("n_photos") != len(photos)
                or info.get("deletions") != _deletion_token(cache) or not isinstance(info.get("not_done"), list)):
            return None
    except (ValueError, AttributeError):
        return None
    return info


def _load_pack(photos: pd.DataFrame, cache: DiskCache) -> FaceIndex | None:
    """The archive's index from its pack, or ``None`` when there is no current, readable pack."""
    if len(photos) == 0:
        return None
    shas = photos["sha256"].tolist()
    blob = cache.get(_PACK, _pack_key(shas), ".bin")
    if blob is None:
        return None
    try:
        arrays, meta = _decode_pack(blob)
        del blob
        if (meta.get("format") != PACK_FORMAT or meta.get("model") != MODEL_VERSION
                or meta.get("deletions") != _deletion_token(cache)
                or arrays["photos"].tobytes() != _photo_list(shas).tobytes()):
            return None
        done = arrays["done"].astype(bool)
        if any(_is_done(cache, shas[i]) for i in np.flatnonzero(~done)):
            return None  # indexed since it was packed: the per-photo entries are newer
        recognisable = arrays["recognisable"].astype(bool)
        searcher = None
        if meta.get("ann"):
            searcher = AnnFaceSearcher.from_bytes(arrays["ann"])
            embeddings = np.full((len(recognisable), EMBEDDING_DIM), np.nan, np.float32)
            embeddings[recognisable] = searcher.X_
        else:
            embeddings = arrays["embeddings"].astype(np.float32, copy=False)
        entries = _Entries(photo=arrays["photo"].astype(np.int64), face_no=arrays["face_no"].astype(np.int64),
                           boxes=arrays["boxes"].astype(np.float32, copy=False), embeddings=embeddings, done=done,
                           failed={shas[int(i)]: str(m) for i, m in meta["failed"]})
        if not (len(entries.photo) == len(entries.face_no) == len(entries.boxes) == len(embeddings)
                and len(done) == len(shas) and np.array_equal(~np.isnan(embeddings[:, 0]), recognisable)):
            return None
        people_labels = None
        if "people_labels" in arrays and meta.get("people") == PEOPLE_GROUPING:  # else grouped the old way
            people_labels = arrays["people_labels"].astype(np.int64)
        return _assemble(photos, entries, searcher, people_labels)
    except (ValueError, KeyError, TypeError, IndexError, OSError, EOFError, zipfile.BadZipFile):
        return None  # damaged or from another layout: the per-photo entries are the truth


def pack_face_index(
    catalogue: pd.DataFrame,
    cache: DiskCache | None = None,
    *,
    ann_min_faces: int = ANN_MIN_FACES,
    people: bool = True,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> FacePack:
    """Write the archive's whole face index as one cache entry, for :func:`load_face_index`.

    Reads every photo's entry once and writes the pack: the face table,
    the descriptors and, from ``ann_min_faces`` recognisable faces on, an
    HNSW graph in their place (:class:`~core.faces.search.AnnFaceSearcher`),
    and the faces grouped into people as the Faces page first shows them.
    A current pack (see the module docstring) is kept, so running it again
    costs one read. Photos not indexed yet are recorded as such: once one
    of them is indexed the pack is no longer current, until the next call.
    A long job following :mod:`core.jobs`.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        The archive's catalogue (``sha256``, ``post_id``, ``file``, ``path``).
    cache : DiskCache, optional
    ann_min_faces : int
        Recognisable faces from which the pack carries an HNSW graph.
    people : bool
        Also group the faces into people (:attr:`FaceIndex.people_labels`).
    progress, cancel : callable, optional

    Returns
    -------
    FacePack

    Raises
    ------
    core.jobs.Cancelled
        When ``cancel()`` returned True (nothing is written).

    Examples
    --------
    >>> import tempfile
    >>> cat = pd.DataFrame({"sha256": ["ab", "cd"], "post_id": ["1", "2"], "file": ["a", "c"], "path": ["/a", "/c"]})
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> pack_face_index(cat, cache).written, pack_face_index(cat, cache).written
    (True, False)
    """
    cache = cache or default_cache()
    photos = _photos(catalogue)
    shas = photos["sha256"].tolist()
    if not shas:
        return FacePack(0, 0, 0, 0, False, 0, written=False)
    key = _pack_key(shas)
    deletions = _deletion_token(cache)  # read before the entries: a deletion from now on makes this pack stale
    info, current = _pack_info(photos, cache), _load_pack(photos, cache)
    if info is not None and current is not None:
        n_recognisable = len(current.recognisable)
        same_kind = (current.approximate == (n_recognisable >= ann_min_faces)
                     and (current.people_labels is not None) == people)
        if same_kind:
            return FacePack(len(photos), current.n_done, len(current.faces), n_recognisable, current.approximate,
                            int(info.get("nbytes", 0)), written=False)
    entries = _read_entries(photos, cache, progress, cancel)
    recognisable = ~np.isnan(entries.embeddings[:, 0])
    arrays = {"photos": _photo_list(shas), "done": entries.done, "photo": entries.photo.astype(np.int32),
              "face_no": entries.face_no.astype(np.int32), "boxes": entries.boxes, "recognisable": recognisable}
    if people:
        from .people import PeopleClusterer

        report(progress, 0, 1, f"grouping {int(recognisable.sum()):,} faces into people")
        check_cancel(cancel)
        arrays["people_labels"] = PeopleClusterer().fit_predict(
            entries.embeddings[recognisable], entries.boxes[recognisable, 4].astype(float),
            photos=entries.photo[recognisable]).astype(np.int32)
    approximate = int(recognisable.sum()) >= ann_min_faces
    if approximate:
        searcher = AnnFaceSearcher().fit(entries.embeddings[recognisable], progress=progress, cancel=cancel)
        arrays["ann"] = np.frombuffer(searcher.to_bytes(), np.uint8)
    else:
        arrays["embeddings"] = entries.embeddings
    index_of = {sha: i for i, sha in enumerate(shas)}
    meta = {"format": PACK_FORMAT, "model": MODEL_VERSION, "deletions": deletions, "ann": approximate,
            "people": PEOPLE_GROUPING,
            "failed": [[index_of[sha], message] for sha, message in entries.failed.items()]}
    check_cancel(cancel)
    blob = _encode_pack(arrays, meta)
    cache.put(_PACK, key, blob, ".bin")
    not_done = [shas[i] for i in np.flatnonzero(~entries.done)]
    info = {"format": PACK_FORMAT, "n_photos": len(shas), "deletions": deletions, "not_done": not_done,
            "n_faces": len(entries.photo), "approximate": approximate, "nbytes": len(blob)}
    cache.put(_PACK_INFO, key, json.dumps(info).encode(), ".json")  # after the pack it describes
    return FacePack(len(shas), int(entries.done.sum()), len(entries.photo), int(recognisable.sum()), approximate,
                    len(blob), written=True)


def delete_face_index(catalogue: pd.DataFrame, cache: DiskCache | None = None) -> int:
    """Delete the cached faces, chips and failures of a catalogue's photos, and its packed index.

    Packs of other archives that share some of these photos become stale
    (they are no longer read), so no deleted face is served from a pack.

    Returns
    -------
    int
        How many cache files were removed.
    """
    cache = cache or default_cache()
    removed = 0
    shas = _photos(catalogue)["sha256"].tolist()
    targets = [(kind, sha, suffix) for sha in shas for kind, suffix in ((_KIND, ".npy"), (_CHIPS, ".jpg"),
                                                                        (_ERRORS, ".txt"))]
    if shas:
        key = _pack_key(shas)
        targets += [(_PACK, key, ".bin"), (_PACK_INFO, key, ".json")]
    for kind, key, suffix in targets:
        removed += cache.delete(kind, key, suffix)
    # After the entries are gone: every pack made before now (other archives sharing these photos
    # included) is stale from here on, and a pack being made right now records the old token.
    cache.put(_DELETIONS, "current", uuid.uuid4().hex.encode(), ".txt")
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
