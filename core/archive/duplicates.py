"""The same picture posted twice: exact copies (same sha256) and near copies (perceptual hash).

A near copy is a re-encode, a resize, a small crop, a brightness change or a
filter look of an earlier photo. Each photo gets 64-bit perceptual hashes
(``imagehash.phash``: the signs of the low frequencies of a 32×32 DCT of its
grey levels) of the whole picture and of five 90 % crops, computed from its
cached 256-px thumbnail and cached by its sha256, so a second import costs a
cache read per photo. Photos whose hashes differ in at most
:data:`NEAR_DISTANCE` bits are one picture (:func:`duplicate_of`); the earliest
posted is the original, and every later copy's ``duplicate_of`` is the
original's sha256 (the catalogue's ``duplicate_of`` column; empty for
originals). ``bench/duplicates.py`` measures the threshold's precision and
recall.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd

from ..cache import DiskCache
from ..jobs import CancelCheck, Cancelled, Progress

__all__ = [
    "NEAR_DISTANCE",
    "picture_hash",
    "picture_hashes",
    "duplicate_of",
    "find_duplicates",
    "duplicate_groups",
    "unique_pictures",
]

#: Largest Hamming distance (of 64 bits) between two hashes of one picture;
#: chosen with ``bench/duplicates.py`` (see the README's figures).
NEAR_DISTANCE = 10

_HASH_KIND = "phash64x6-v1"
_CROP_KEEP = 0.9
_BLOCK = 128  # rows of the distance matrix computed at a time


def picture_hash(image: bytes) -> tuple[int, ...]:
    """The 64-bit perceptual hashes of an encoded image: the whole of it, then its five 90 % crops.

    The crops (each corner's and the centre's, keeping 90 % of the width and
    height) let a copy cropped by up to 10 % match its original: the copy's
    whole-picture hash is near one of the original's crop hashes.

    Examples
    --------
    >>> from PIL import Image
    >>> def jpeg(img, quality):
    ...     buf = io.BytesIO(); img.save(buf, "JPEG", quality=quality); return buf.getvalue()
    >>> ramp = Image.linear_gradient("L").rotate(30).convert("RGB")
    >>> a, b = picture_hash(jpeg(ramp, 95)), picture_hash(jpeg(ramp.resize((100, 100)), 40))
    >>> len(a), bin(a[0] ^ b[0]).count("1") <= NEAR_DISTANCE
    (6, True)
    """
    import imagehash
    from PIL import Image

    with Image.open(io.BytesIO(image)) as img:
        grey = img.convert("L")
    w, h = grey.size
    dx, dy = round(w * (1 - _CROP_KEEP)), round(h * (1 - _CROP_KEEP))
    boxes = [(0, 0, w, h), (0, 0, w - dx, h - dy), (dx, 0, w, h - dy), (0, dy, w - dx, h), (dx, dy, w, h),
             (dx // 2, dy // 2, w - (dx - dx // 2), h - (dy - dy // 2))]
    return tuple(int(np.packbits(imagehash.phash(grey.crop(box), hash_size=8).hash.ravel()).view(">u8")[0])
                 for box in boxes)


def picture_hashes(
    items: Iterable[tuple[str, str]],
    cache: DiskCache,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> dict[str, tuple[int, ...]]:
    """The perceptual hashes of each photo, by sha256, from its cached thumbnail.

    Parameters
    ----------
    items : iterable of (sha256, path)
        The photos; ``path`` rebuilds a thumbnail the cache no longer has.
    cache : DiskCache
        Where the thumbnails are, and where the hashes are kept (by sha256).
    progress, cancel : callable, optional
        The job protocol (:mod:`core.jobs`).

    Returns
    -------
    dict of str to tuple of int
        :func:`picture_hash` of each distinct sha256 whose photo could be read.

    Raises
    ------
    Cancelled
        When ``cancel()`` returns True; the hashes computed so far stay cached.
    """
    from .ingest import thumbnail_bytes

    todo = list(dict(items).items())
    hashes: dict[str, tuple[int, ...]] = {}

    def one(sha: str, path: str) -> tuple[int, ...] | None:
        cached = cache.get(_HASH_KIND, sha, ".bin")
        if cached is not None and len(cached) == 48:
            return tuple(int(x) for x in np.frombuffer(cached, ">u8"))
        thumb = thumbnail_bytes(sha, path, cache)
        if thumb is None:
            return None
        codes = picture_hash(thumb)
        cache.put(_HASH_KIND, sha, np.array(codes, ">u8").tobytes(), ".bin")
        return codes

    # Pillow's decoder and resize release the GIL: threads use every core.
    pool = ThreadPoolExecutor(max_workers=min(8, (os.cpu_count() or 2) * 2))
    try:
        futures = [pool.submit(one, sha, path) for sha, path in todo]
        for done, ((sha, _), future) in enumerate(zip(todo, futures), start=1):
            if cancel is not None and cancel():
                raise Cancelled("duplicate search cancelled")
            codes = future.result()
            if codes is not None:
                hashes[sha] = codes
            if progress is not None and (done % 256 == 0 or done == len(todo)):
                progress(done, len(todo), f"Looking for duplicates: {done} of {len(todo)} photos")
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return hashes


def _near_pairs(codes: np.ndarray, max_distance: int) -> list[list[tuple[int, int]]]:
    """For each photo i, the earlier photos j < i within ``max_distance`` bits, as (distance, j).

    ``codes`` is (n, k): each photo's whole-picture hash, then its crops'. The
    distance of two photos is the least between one's whole picture and any
    hash of the other (either way round: either may be the cropped one).
    """
    near: list[list[tuple[int, int]]] = [[] for _ in range(len(codes))]
    # One hash of every photo in a row of its own: each comparison runs over contiguous memory, and the
    # running minimum stays in one small (block × n) array (6x faster than one (block × n × k) array).
    columns = np.ascontiguousarray(codes.T)
    whole = columns[0]
    for start in range(0, len(codes), _BLOCK):
        stop = min(start + _BLOCK, len(codes))
        block = codes[start:stop]
        distance = np.bitwise_count(block[:, :1] ^ whole[None, :stop])
        for k in range(1, columns.shape[0]):
            np.minimum(distance, np.bitwise_count(block[:, :1] ^ columns[k][None, :stop]), out=distance)
            np.minimum(distance, np.bitwise_count(block[:, k:k + 1] ^ whole[None, :stop]), out=distance)
        rows, cols = np.nonzero(distance <= max_distance)
        for i, j in zip(rows + start, cols):
            if j < i:
                near[i].append((int(distance[i - start, j]), int(j)))
    return near


def duplicate_of(catalogue: pd.DataFrame, hashes: Mapping[str, int | Sequence[int]], max_distance: int = NEAR_DISTANCE) -> pd.Series:
    """Per catalogue row, the sha256 of the earlier photo it repeats (``<NA>`` for an original).

    Rows are taken in catalogue order (the catalogue is sorted oldest first).
    A row whose sha256 an earlier row has is an exact copy; otherwise a photo
    whose hash is within ``max_distance`` bits of an earlier original's is a
    near copy of the nearest such original (the earliest of equals). A copy
    always points at an original, never at another copy, so a chain of small
    edits cannot join two different pictures.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        Needs ``sha256``.
    hashes : mapping of str to int or tuple of int
        :func:`picture_hashes` (or a single hash per photo); a photo without a
        hash only matches exact copies.
    max_distance : int
        Largest Hamming distance of one picture's hashes.

    Returns
    -------
    pandas.Series
        ``string`` dtype, on the catalogue's index.

    Examples
    --------
    >>> cat = pd.DataFrame({"sha256": ["a", "b", "a", "c", "d"]})
    >>> duplicate_of(cat, {"a": 0b1111, "b": 0xFF00FF00, "c": 0b0111, "d": 0xFFFF << 40}).tolist()
    [<NA>, <NA>, 'a', 'a', <NA>]
    """
    shas = catalogue["sha256"]
    distinct = list(dict.fromkeys(s for s in shas if isinstance(s, str)))
    hashed = [s for s in distinct if s in hashes]
    rows = [tuple(np.atleast_1d(np.asarray(hashes[s], dtype=np.uint64))) for s in hashed]
    width = max((len(r) for r in rows), default=1)
    # A photo with fewer hashes repeats its whole-picture hash (which changes no distance).
    codes = np.array([r + (r[0],) * (width - len(r)) for r in rows], dtype=np.uint64).reshape(len(rows), width)
    near = _near_pairs(codes, max_distance)
    original_of: dict[str, str] = {}
    for i, sha in enumerate(hashed):
        earlier = [(d, j) for d, j in near[i] if hashed[j] not in original_of]
        if earlier:
            original_of[sha] = hashed[min(earlier)[1]]
    seen: set[str] = set()
    result = []
    for sha in shas:
        if not isinstance(sha, str):
            result.append(pd.NA)
            continue
        result.append(original_of.get(sha, sha if sha in seen else pd.NA))
        seen.add(sha)
    return pd.Series(result, index=catalogue.index, dtype="string", name="duplicate_of")


def find_duplicates(
    catalogue: pd.DataFrame,
    cache: DiskCache,
    *,
    max_distance: int = NEAR_DISTANCE,
    known: Mapping[str, Sequence[int]] | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> pd.Series:
    """:func:`duplicate_of` with the hashes of the catalogue's photos (:func:`picture_hashes`).

    Parameters
    ----------
    catalogue : pandas.DataFrame
        Needs ``sha256`` and ``path``.
    cache : DiskCache
        The thumbnails' and hashes' cache.
    max_distance : int
        As for :func:`duplicate_of`.
    known : mapping of str to sequence of int, optional
        Hashes already made (by sha256; a batch's workers make them as they
        import): only the other photos' are read or computed.
    progress, cancel : callable, optional
        The job protocol.

    Returns
    -------
    pandas.Series
        The ``duplicate_of`` column.
    """
    rows = catalogue.dropna(subset=["sha256"])
    known = {sha: tuple(codes) for sha, codes in (known or {}).items()}
    rows = rows[~rows["sha256"].astype(str).isin(known)]
    hashes = picture_hashes(zip(rows["sha256"].astype(str), rows["path"].astype(str)), cache,
                            progress=progress, cancel=cancel)
    hashes.update(known)
    return duplicate_of(catalogue, hashes, max_distance)


def duplicate_groups(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The pictures posted more than once: each original followed by its copies.

    Returns
    -------
    pandas.DataFrame
        The catalogue rows of every group (original first, then copies, oldest
        first), plus ``group`` (the original's sha256), ``is_original`` (bool)
        and ``exact`` (a copy with the original's very bytes). Groups are
        ordered by their original's place in the catalogue. Empty (same
        columns) when the catalogue has no ``duplicate_of`` column or no copy.

    Examples
    --------
    >>> cat = pd.DataFrame({"post_id": ["p1", "p2", "p3", "p4"], "sha256": ["a", "b", "a", "c"],
    ...                     "duplicate_of": pd.array([None, None, "a", "a"], dtype="string")})
    >>> duplicate_groups(cat)[["post_id", "group", "is_original", "exact"]].values.tolist()
    [['p1', 'a', True, False], ['p3', 'a', False, True], ['p4', 'a', False, False]]
    """
    columns = [*catalogue.columns, "group", "is_original", "exact"]
    if "duplicate_of" not in catalogue.columns or catalogue["duplicate_of"].isna().all():
        return pd.DataFrame(columns=list(dict.fromkeys(columns)))
    copies = catalogue["duplicate_of"].notna()
    groups = set(catalogue.loc[copies, "duplicate_of"])
    originals = catalogue["sha256"].isin(groups) & ~copies
    frame = catalogue.assign(
        group=catalogue["duplicate_of"].fillna(catalogue["sha256"]).astype(str),
        is_original=originals.astype(bool),
        exact=(copies & (catalogue["sha256"] == catalogue["duplicate_of"]).fillna(False)).astype(bool),
        _order=np.arange(len(catalogue)),
    )[(copies | originals).to_numpy()]
    first = frame.groupby("group")["_order"].transform("min")
    frame = frame.assign(_first=first).sort_values(["_first", "is_original", "_order"], ascending=[True, False, True])
    return frame.drop(columns=["_order", "_first"]).reset_index(drop=True)


def unique_pictures(catalogue: pd.DataFrame) -> pd.DataFrame:
    """The catalogue with every repeated picture left out: each picture counted once, at its first post.

    A catalogue without a ``duplicate_of`` column (made before Feedlens looked
    for duplicates) is returned whole.

    Examples
    --------
    >>> cat = pd.DataFrame({"sha256": ["a", "a", "b"], "duplicate_of": pd.array([None, "a", None], dtype="string")})
    >>> unique_pictures(cat)["sha256"].tolist()
    ['a', 'b']
    """
    if "duplicate_of" not in catalogue.columns:
        return catalogue
    return catalogue[catalogue["duplicate_of"].isna()]
