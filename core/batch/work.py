"""Run one chunk: the app's own per-photo pipelines, writing the cache the app reads.

:func:`run_chunk` imports no engine: the in-process loop, a process pool and a
Dask worker all call it the same way, so the cache holds the same bytes
whichever ran it. A worker process keeps its models loaded between chunks
(:func:`_face_engine`), since loading them costs seconds and about 1 GB.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from .plan import IMPORT, Chunk

__all__ = ["ChunkResult", "run_chunk"]

#: Test-only hook: the path of a JSON file ``{"file": NAME, "once": bool}``; a worker that reaches
#: the photo NAME while the file exists exits at once (deleting the file first when ``once``), as a
#: decoder crash or the out-of-memory killer would end it.
CRASH_HOOK_ENV = "FEEDLENS_BATCH_TEST_CRASH"

_MODELS: dict[str, object] = {}  # per process: loaded once, kept between chunks


@dataclass
class ChunkResult:
    """What one chunk did.

    Attributes
    ----------
    number : int
        The chunk's number in the plan.
    done : int
        Photos handled (computed, read back, or failed).
    computed, reused : dict
        Per step: photos computed in this run, photos found in the cache (for
        :data:`~core.batch.plan.IMPORT`: files decoded, files whose entries were cached).
    failures : list of (file, reason)
        Photos that could not be processed, once each.
    imported : dict
        Import chunks: per file, :func:`core.archive.ingest.ingest_plain`'s plain
        result (the photo's ``ImageInfo`` fields and ``decoded``, or ``error``).
    pid : int
        The process that ran the chunk (0 for a result made by the driver: a chunk that failed).
    """

    number: int = 0
    done: int = 0
    computed: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    imported: dict[str, dict] = field(default_factory=dict)
    pid: int = 0


def _face_engine():
    if "faces" not in _MODELS:
        from ..faces.engine import FaceEngine

        _MODELS["faces"] = FaceEngine()
    return _MODELS["faces"]


def _colour_texture():
    if "colour_texture" not in _MODELS:
        from ..explore.features import make_extractor

        _MODELS["colour_texture"] = make_extractor("colour_texture").fit()  # as `feedlens features` makes it
    return _MODELS["colour_texture"]


def _crash_hook(files: list[str]) -> None:
    marker = os.environ.get(CRASH_HOOK_ENV)
    if not marker:
        return
    try:
        spec = json.loads(Path(marker).read_text())
    except (OSError, ValueError):
        return
    if spec.get("file") in files:
        if spec.get("once"):
            Path(marker).unlink(missing_ok=True)
        os._exit(70)


def _import(chunk: Chunk, cache, result: ChunkResult, failed: dict[str, str]) -> None:
    from ..archive.duplicates import picture_hashes
    from ..archive.ingest import ingest_plain

    decoded = 0
    for _, path, file in chunk.photos:
        outcome = ingest_plain(Path(path), cache)
        result.imported[file] = outcome
        if "error" in outcome:
            failed.setdefault(file, f"{IMPORT}: {outcome['error']}")
        else:
            decoded += outcome["decoded"]
    # The duplicate finder's hashes, here rather than in the driver (which would read every thumbnail back).
    paths = {file: path for _, path, file in chunk.photos}
    photos = {o["sha256"]: paths[file] for file, o in result.imported.items() if "error" not in o}
    hashes = picture_hashes(photos.items(), cache)
    for outcome in result.imported.values():
        if outcome.get("sha256") in hashes:
            outcome["picture_hash"] = [str(code) for code in hashes[outcome["sha256"]]]  # 64-bit: JSON-safe as text
    result.computed[IMPORT] = decoded
    result.reused[IMPORT] = len(result.imported) - decoded - sum("error" in o for o in result.imported.values())


def _thumbnails(chunk: Chunk, cache, result: ChunkResult, failed: dict[str, str]) -> None:
    from ..archive.ingest import THUMB_SIDE, ingest_file
    from ..image.io import ImageError

    computed = reused = 0
    for sha, path, file in chunk.photos:
        cached = cache.exists("imageinfo-v1", sha, ".json") and cache.exists(f"thumb{THUMB_SIDE}", sha, ".jpg")
        if cached:  # what ingest_file would read back: no need to read and hash the photo again
            reused += 1
            continue
        try:
            ingest_file(Path(path), cache)
        except ImageError as exc:
            failed.setdefault(file, f"thumbnails: {exc}")
            continue
        except Exception as exc:  # noqa: BLE001 - one odd file must not stop the chunk
            failed.setdefault(file, f"thumbnails: the decoder failed: {type(exc).__name__}: {exc}")
            continue
        computed += 1
    result.computed["thumbnails"], result.reused["thumbnails"] = computed, reused


def _features(chunk: Chunk, cache, result: ChunkResult, failed: dict[str, str]) -> None:
    from ..explore.features import compute_features

    items = [(sha, path) for sha, path, _ in chunk.photos]
    features = compute_features(items, _colour_texture(), cache=cache, chunk=len(items), pack=True,
                                other_packs=chunk.rerun)
    for (_, _, file), ok in zip(chunk.photos, features.valid):
        if not ok:
            failed.setdefault(file, "features: the photo could not be read")
    result.computed["features"], result.reused["features"] = features.computed, features.reused


def _faces(chunk: Chunk, cache, result: ChunkResult, failed: dict[str, str]) -> None:
    import pandas as pd

    from ..faces.index import build_face_index, index_status

    catalogue = pd.DataFrame({"sha256": [p[0] for p in chunk.photos], "post_id": [p[0] for p in chunk.photos],
                              "file": [p[2] for p in chunk.photos], "path": [p[1] for p in chunk.photos]})
    before, total = index_status(catalogue, cache)
    engine = _face_engine() if before < total else None
    index = build_face_index(catalogue, engine, cache=cache, workers=1)
    files = dict(zip(catalogue["sha256"], catalogue["file"]))
    for sha, message in index.failed.items():
        if sha in files:
            failed.setdefault(files[sha], f"faces: {message}")
    result.computed["faces"], result.reused["faces"] = total - before, before


_STEP_FUNCTIONS = {IMPORT: _import, "thumbnails": _thumbnails, "features": _features, "faces": _faces}


def run_chunk(chunk: Chunk, cache_root: str | Path) -> ChunkResult:
    """Run ``chunk.steps`` on the chunk's photos, reading and writing the cache at ``cache_root``.

    ``cache_root`` is a folder or an object-store URL (:class:`core.cache.DiskCache`).
    Each step is the app's own: thumbnails as the import makes them
    (:func:`core.archive.ingest.ingest_file`), colour/texture features as
    the Explore page and ``feedlens features --features colour_texture``
    compute them, stored as one pack for the chunk
    (:func:`core.explore.features.compute_features` with ``pack=True``), faces as the
    Faces page indexes them (:func:`core.faces.index.build_face_index`).
    Photos already cached are read back, not computed. An import chunk
    (step :data:`~core.batch.plan.IMPORT`) ingests its files as
    :func:`core.archive.load_folder` does and returns what it learned in
    :attr:`ChunkResult.imported`.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> from core.cache import sha256_file
    >>> folder = Path(tempfile.mkdtemp()); photo = folder / "red.jpg"
    >>> Image.new("RGB", (64, 48), "red").save(photo)
    >>> chunk = Chunk(str(folder), ((sha256_file(photo), str(photo), "red.jpg"),), ("thumbnails", "features"))
    >>> first = run_chunk(chunk, folder / "cache")
    >>> first.done, first.computed, first.failures
    (1, {'thumbnails': 1, 'features': 1}, [])
    >>> run_chunk(chunk, folder / "cache").reused
    {'thumbnails': 1, 'features': 1}
    """
    from threadpoolctl import threadpool_limits

    from ..cache import DiskCache

    _crash_hook([file for _, _, file in chunk.photos])
    cache = DiskCache(cache_root)
    result = ChunkResult(number=chunk.number, done=len(chunk.photos), pid=os.getpid())
    failed: dict[str, str] = {}
    # One BLAS/OpenMP thread: an engine runs one chunk per core already, and more threads on top of that
    # made the faces step up to five times slower (bench/batch.py); a Dask nanny sets the same by default.
    with threadpool_limits(limits=1):
        for step in chunk.steps:
            _STEP_FUNCTIONS[step](chunk, cache, result, failed)
    result.failures = sorted(failed.items())
    return result
