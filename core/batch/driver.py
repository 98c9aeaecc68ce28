"""The batch driver: many archives imported on the engine, then their per-photo steps, with a manifest each.

:func:`run_archives` is the whole ``feedlens batch`` job, callable from any
front end. The driver process does only the cheap parts of an import
(:func:`core.archive.prepare_archive`: list the files, read the metadata)
and :func:`core.archive.finish_import` (the catalogue, from what the workers
learned); every photo is read, hashed, decoded and thumbnailed once, by a
worker, in import chunks (:func:`~core.batch.plan.plan_import`). As soon as
an archive's import chunks are back, its per-photo chunks (by sha256,
:func:`~core.batch.plan.plan_batch`) join the same pool or cluster.

The import makes every thumbnail, so an archive imported by the run needs no
``thumbnails`` chunk (its counts are the import's); an archive whose
catalogue was already cached skips the import (nothing is read) and gets
``thumbnails`` chunks that remake only missing thumbnails.

Each archive's :class:`~core.batch.manifest.BatchManifest` is written when the
run starts (``running``), as its chunks finish (at most every
:data:`MANIFEST_EVERY_S` seconds), when it completes (``finished``), and at
the end (``cancelled`` on a cancel or Ctrl-C, ``failed`` on an unexpected
error). While its ``stage`` is ``"import"``, ``total`` and ``done`` count the
archive's files and those read so far; then its photos and those through
every step of the run (failed ones included).

With the ``faces`` step, once every chunk is back, each archive's face index
is packed into one cache entry for the app (:func:`core.faces.index.pack_face_index`).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..jobs import CancelCheck, Cancelled, Progress, check_cancel, report
from .manifest import BatchManifest, read_manifest, write_manifest
from .plan import IMPORT, STEPS, Chunk, plan_batch, plan_import
from .work import ChunkResult

__all__ = ["MANIFEST_EVERY_S", "BatchRun", "run_archives"]

#: Least seconds between two writes of a running archive's manifest (its completion is always written).
MANIFEST_EVERY_S = 2.0


@dataclass
class BatchRun:
    """What :func:`run_archives` did, over every archive.

    Attributes
    ----------
    archives : list of core.archive.Archive
        The imported archives, in the order given (an archive given twice once).
    manifests : list of BatchManifest
        Each archive's manifest as last written (per-archive counts and failures).
    steps : tuple of str
        The per-photo steps asked for (some of :data:`~core.batch.plan.STEPS`; none: import only).
    engine : str
    files : int
        Files the workers imported (0 for archives whose catalogue was cached).
    photos : int
        Distinct photos of the archives.
    computed, reused : dict
        Per stage (``"import"`` and each step): photos computed by this run, photos found in the cache.
        ``import`` counts files decoded / files read back (a cached catalogue: its photos).
    failures : list of (archive, file, reason)
        Files the import could not use (as the archive's problems list them) and photos a step could not
        process, once each.
    seconds : float
        Wall time of the whole run.
    processes : set of int
        The process ids that ran chunks (the driver's own with ``engine="inprocess"``).
    """

    archives: list = field(default_factory=list)
    manifests: list[BatchManifest] = field(default_factory=list)
    steps: tuple[str, ...] = ()
    engine: str = "inprocess"
    files: int = 0
    photos: int = 0
    computed: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str, str]] = field(default_factory=list)
    seconds: float = 0.0
    processes: set[int] = field(default_factory=set)

    @property
    def photos_per_s(self) -> float:
        """Distinct photos per second of the whole run."""
        return self.photos / self.seconds if self.seconds > 0 else 0.0


@dataclass
class _Archive:
    """One archive's state during the run."""

    plan: object  # core.archive.ImportPlan
    manifest: BatchManifest
    archive: object = None  # core.archive.Archive, once imported
    import_left: int = 0  # files not back from the workers yet
    outcomes: dict = field(default_factory=dict)  # file -> ImageInfo | ImageError
    decoded: set[str] = field(default_factory=set)  # sha256 of the photos the import decoded
    hashes: dict = field(default_factory=dict)  # sha256 -> the duplicate finder's hashes, from the workers
    steps_left: int = 0  # photos of per-photo chunks not back yet
    rerun: bool = False  # batched before: its results may sit under another chunking
    failures: list[tuple[str, str]] = field(default_factory=list)  # all of them (the manifest keeps the first)
    last_write: float = 0.0

    @property
    def complete(self) -> bool:
        return self.archive is not None and self.steps_left == 0


def _add(counts: dict[str, int], more: dict[str, int]) -> None:
    for key, n in more.items():
        counts[key] = counts.get(key, 0) + n


def _import_failures(archive) -> list[tuple[str, str]]:
    """The files the import could not use, as :func:`core.archive.finish_import` listed them."""
    problems = archive.problems
    if problems is None or len(problems) == 0:
        return []
    skipped = problems[problems["level"] == "error"]
    return [(str(r.file), f"{IMPORT}: {r.problem}") for r in skipped.itertuples()]


def _photos(archive) -> int:
    catalogue = archive.catalogue
    return int(catalogue["sha256"].dropna().nunique()) if catalogue is not None and len(catalogue) else 0


def run_archives(
    paths: Iterable[str | Path],
    steps: Sequence[str],
    cache_root: str | Path,
    *,
    engine: str = "inprocess",
    workers: int = 2,
    address: str | None = None,
    chunk: int = 128,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> BatchRun:
    """Import archives on ``engine`` and run ``steps`` on their photos, writing a manifest per archive.

    Parameters
    ----------
    paths : iterable of path
        Archive folders or ZIP files.
    steps : sequence of str
        Some of :data:`~core.batch.plan.STEPS` (any order); empty: import only.
    cache_root : path
        The cache every worker reads and writes, and the app reads.
    engine, workers, address
        As for :func:`core.batch.engines.run_batch`.
    chunk : int
        Files per import chunk, photos per step chunk.
    progress, cancel : callable, optional
        The job protocol's (:mod:`core.jobs`): one stream over the whole run,
        counting each file the import reads and each photo the per-photo steps
        run on (the steps' photos are estimated by the files until their
        archive is imported).

    Returns
    -------
    BatchRun

    Raises
    ------
    core.archive.ArchiveError
        A path is not an archive (before any work starts).
    core.jobs.Cancelled
        When ``cancel()`` returned True; finished chunks stay cached, and the
        unfinished archives' manifests say ``cancelled``.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> from core.batch.manifest import read_manifest
    >>> from core.cache import DiskCache
    >>> folder = Path(tempfile.mkdtemp()); cache = folder / ".cache"
    >>> (folder / "feed").mkdir(); Image.new("RGB", (64, 48), "red").save(folder / "feed" / "red.jpg")
    >>> run = run_archives([folder / "feed"], ["thumbnails"], cache)
    >>> run.photos, run.computed, run.failures
    (1, {'import': 1, 'thumbnails': 1}, [])
    >>> m = read_manifest(DiskCache(cache), run.archives[0].key)
    >>> m.state, m.done, m.total
    ('finished', 1, 1)
    >>> run_archives([folder / "feed"], ["thumbnails"], cache).computed  # a rerun computes nothing
    {'import': 0, 'thumbnails': 0}
    """
    from ..archive.catalogue import finish_import, prepare_archive
    from ..archive.ingest import ImageInfo
    from ..cache import DiskCache
    from ..image.io import ImageError
    from .engines import ENGINES, map_chunks

    unknown = [s for s in steps if s not in STEPS]
    if unknown:
        raise ValueError(f"unknown step(s) {unknown}; expected some of {list(STEPS)}")
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {list(ENGINES)}")
    if chunk < 1:
        raise ValueError("chunk must be at least 1")
    steps = tuple(s for s in STEPS if s in steps)
    after_import = tuple(s for s in steps if s != "thumbnails")  # the import made the thumbnails
    stages = (IMPORT, *steps)
    start = time.perf_counter()
    cache = DiskCache(cache_root)
    run = BatchRun(steps=steps, engine=engine)

    # Driver-side part of each import: cheap (no photo is read); a bad path stops the run before any work.
    states: list[_Archive] = []
    seen_keys: set[str] = set()
    for path in paths:
        check_cancel(cancel)
        report(progress, 0, 0, f"Reading {Path(path).name}")
        plan = prepare_archive(path, cache=cache)
        if plan.key in seen_keys:
            continue
        seen_keys.add(plan.key)
        manifest = BatchManifest(plan.key, plan.name, str(plan.root), list(steps), engine,
                                 computed=dict.fromkeys(stages, 0), reused=dict.fromkeys(stages, 0))
        states.append(_Archive(plan, manifest, rerun=read_manifest(cache, plan.key) is not None))

    owner: dict[int, int] = {}  # chunk number -> index in states
    numbers = iter(range(1 << 62))
    units = {"import_total": 0, "import_done": 0, "steps_total": 0, "steps_done": 0}

    def register(index: int, chunks: list[Chunk]) -> list[Chunk]:
        numbered = []
        for c in chunks:
            c = dataclasses.replace(c, number=next(numbers), rerun=states[index].rerun)
            owner[c.number] = index
            numbered.append(c)
        return numbered

    def write(state: _Archive, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - state.last_write >= MANIFEST_EVERY_S:
            write_manifest(cache, state.manifest)
            state.last_write = now

    def imported(index: int, archive) -> list[Chunk]:
        """The archive is imported: count it, and plan its per-photo chunks."""
        state = states[index]
        state.archive, state.outcomes = archive, {}
        m = state.manifest
        failures = _import_failures(archive)
        state.failures = list(failures)
        m.failures = [list(f) for f in failures]
        m.failed = len(failures)
        photos = _photos(archive)
        m.total, m.done = photos + len(failures), len(failures)
        todo = after_import if state.plan.cached is None else steps
        m.stage = "/".join(todo)
        if state.plan.cached is not None:
            m.reused[IMPORT] = len(archive.catalogue)
        elif "thumbnails" in steps:
            made = len(state.decoded & set(archive.catalogue["sha256"].dropna()))
            m.computed["thumbnails"], m.reused["thumbnails"] = made, photos - made
        state.hashes, state.decoded = {}, set()  # in the catalogue now; a big run holds many archives
        chunks = register(index, plan_batch(archive, todo, chunk)) if todo else []
        state.steps_left = sum(len(c.photos) for c in chunks)
        units["steps_total"] += state.steps_left
        if not state.steps_left:
            m.done = m.total
        return chunks

    def finished(state: _Archive) -> None:
        if state.complete and state.manifest.state == "running":
            state.manifest.state = "finished"
            write(state, force=True)

    def say() -> None:
        done = units["import_done"] + units["steps_done"]
        total = units["import_total"] + units["steps_total"]
        parts = []
        if units["import_total"]:
            parts.append(f"import {units['import_done']} of {units['import_total']} files")
        if units["steps_total"] or after_import:
            parts.append(f"{'/'.join(steps) or 'steps'} {units['steps_done']} of {units['steps_total']} photos")
        failed = sum(s.manifest.failed for s in states)
        rate = done / max(time.perf_counter() - start, 1e-9)
        report(progress, done, total, f"{'; '.join(parts) or 'nothing to do'}; {rate:.1f} per s; {failed} failed")

    def emit(part: ChunkResult) -> list[Chunk]:
        index = owner[part.number]
        state, m = states[index], states[index].manifest
        if part.pid:
            run.processes.add(part.pid)
        more: list[Chunk] = []
        if state.archive is None:  # an import chunk (or one of its files, after a split)
            back = dict(part.imported)
            for file, reason in part.failures:  # files with no outcome: their chunk failed on every attempt
                back.setdefault(file, {"error": reason})
            for file, outcome in back.items():
                if "error" in outcome:
                    state.outcomes[file] = ImageError(outcome["error"])
                else:
                    info = ImageInfo.from_plain(outcome)
                    state.outcomes[file] = info
                    if outcome.get("decoded"):
                        state.decoded.add(info.sha256)
                    if outcome.get("picture_hash"):
                        state.hashes[info.sha256] = tuple(int(code) for code in outcome["picture_hash"])
            _add(m.computed, {IMPORT: part.computed.get(IMPORT, 0)})
            _add(m.reused, {IMPORT: part.reused.get(IMPORT, 0)})
            state.import_left -= part.done
            units["import_done"] += part.done
            m.done += part.done  # files read (the manifest's stage is "import" until the catalogue is made)
            if state.import_left <= 0:
                estimate = len(state.plan.files) if after_import else 0
                units["steps_total"] -= estimate
                more = imported(index, finish_import(state.plan, state.outcomes, cache=cache,
                                                     picture_hashes=state.hashes))
        else:
            _add(m.computed, part.computed)
            _add(m.reused, part.reused)
            state.failures.extend(part.failures)
            m.failures = [list(f) for f in state.failures]
            m.failed += len(part.failures)
            m.done += part.done
            state.steps_left -= part.done
            units["steps_done"] += part.done
        if state.complete:
            finished(state)
        else:
            write(state)
        say()
        return more

    first: list[Chunk] = []
    try:
        for index, state in enumerate(states):
            if state.plan.cached is None:
                files = len(state.plan.files)
                state.import_left = files
                state.manifest.total, state.manifest.stage = files, IMPORT
                units["import_total"] += files
                units["steps_total"] += files if after_import else 0
                first.extend(register(index, plan_import([state.plan], chunk)))
                if not files:  # nothing to read: the (empty) catalogue at once
                    first.extend(imported(index, finish_import(state.plan, {}, cache=cache)))
            else:
                first.extend(imported(index, state.plan.cached))
        for state in states:
            write(state, force=True)
            finished(state)
        say()
        map_chunks(first, cache_root, emit, engine=engine, workers=workers, address=address, cancel=cancel)
        unfinished = [state.plan.name for state in states if not state.complete]
        if unfinished:  # every chunk is back, so this is a bug, not the user's
            raise RuntimeError(f"the batch ended with work left in {unfinished}")
        if "faces" in steps:  # each archive's face index as one entry the app loads (an HNSW graph when large)
            from ..faces.index import pack_face_index

            for state in states:
                name = state.plan.name
                pack_face_index(state.archive.catalogue, cache, cancel=cancel,
                                progress=lambda d, t, m, name=name: report(progress, d, t, f"{name}: {m}"))
    except BaseException as exc:
        end = "cancelled" if isinstance(exc, (Cancelled, KeyboardInterrupt)) else "failed"
        for state in states:
            if state.manifest.state == "running":
                state.manifest.state = end
                try:
                    write_manifest(cache, state.manifest)
                except OSError:  # the cache itself failing: the original error says more
                    pass
        raise
    for state in states:
        run.archives.append(state.archive)
        run.manifests.append(state.manifest)
        _add(run.computed, state.manifest.computed)
        _add(run.reused, state.manifest.reused)
        run.failures.extend((state.plan.name, file, reason) for file, reason in state.failures)
        run.photos += _photos(state.archive)
        if state.plan.cached is None:
            run.files += len(state.plan.files)
    run.seconds = time.perf_counter() - start
    return run
