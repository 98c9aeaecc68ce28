"""Engines: each maps :func:`~core.batch.work.run_chunk` over the chunks, with progress and cancel.

``inprocess`` is a plain loop; ``local`` a pool of spawned processes (no
extra dependency); ``dask`` a Dask cluster (:mod:`core.batch.dask_engine`,
the only module that imports Dask). A chunk whose worker dies is retried; a
chunk that still fails is split into single photos, and a photo that still
fails ends in the failures, so one bad photo never hangs or stops the job.

:func:`map_chunks` is the engines' common form: its ``emit`` may return more
chunks to run (a batch driver plans an archive's per-photo chunks as soon as
its import chunks are done), so one pool or cluster serves the whole run.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..jobs import CancelCheck, Progress, check_cancel, report
from .plan import Chunk
from .work import ChunkResult, run_chunk

__all__ = ["ENGINES", "BatchResult", "map_chunks", "run_batch"]

#: The engines :func:`run_batch` knows.
ENGINES = ("inprocess", "local", "dask")

#: Attempts of a whole chunk before it is split into single photos, and of a single photo before it fails.
RETRIES = 2

#: Called with each chunk's result, once per chunk (or per photo of a chunk that was split); it may
#: return more chunks to run.
Emit = Callable[[ChunkResult], "Iterable[Chunk] | None"]


@dataclass
class BatchResult:
    """What a batch did, over every chunk.

    Attributes
    ----------
    photos : int
        Distinct photos handled (each once, failed or not).
    computed, reused : dict
        Per step: photos computed in this run, photos found in the cache.
    failures : list of (file, reason)
    seconds : float
        Wall time of the chunks (not of the import).
    engine : str
    """

    photos: int = 0
    computed: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    failures: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    engine: str = "inprocess"

    @property
    def photos_per_s(self) -> float:
        return self.photos / self.seconds if self.seconds > 0 else 0.0


def failed_result(chunk: Chunk, reason: str) -> ChunkResult:
    """Every photo of ``chunk`` failed with ``reason`` (its worker died every time, say)."""
    return ChunkResult(number=chunk.number, done=len(chunk.photos),
                       failures=[(file, reason) for _, _, file in chunk.photos])


def after_failure(chunk: Chunk, attempts: int, reason: str, emit: Emit) -> list[tuple[Chunk, int]]:
    """What to run next after ``chunk`` failed ``attempts`` times: itself, its photos one by one, or what
    ``emit`` asks for once its photo is failed."""
    if attempts < RETRIES:
        return [(chunk, attempts + 1)]
    if len(chunk.photos) > 1:
        return [(single, RETRIES - 1) for single in chunk.split()]
    return [(more, 0) for more in emit(failed_result(chunk, reason)) or ()]


def _map_inprocess(chunks, cache_root, emit, cancel, **_) -> None:
    queue = deque(chunks)
    while queue:
        check_cancel(cancel)
        queue.extend(emit(run_chunk(queue.popleft(), cache_root)) or ())


def _stop_quietly(signum, frame) -> None:
    raise SystemExit(130)


def _quiet_on_ctrl_c() -> None:
    """A pool worker's Ctrl-C (a terminal sends it to the whole process group) ends it without a traceback.

    Idle, the worker exits at once; busy, its chunk ends with the exit as its error and the driver, which
    handles the Ctrl-C itself, shuts the pool down. (KeyboardInterrupt would print one traceback per worker.)
    """
    import signal

    signal.signal(signal.SIGINT, _stop_quietly)


def _map_local(chunks, cache_root, emit, cancel, *, workers: int, **_) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    context = multiprocessing.get_context("spawn")  # no fork of a process holding threads and models
    queue = deque((chunk, 0) for chunk in chunks)
    running: dict = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet_on_ctrl_c)
    try:
        while queue or running:
            check_cancel(cancel)
            # After a crash, run the suspects one at a time: the next crash then names its chunk.
            suspects = any(a for _, a in queue) or any(a for _, a in running.values())
            limit = 1 if suspects else 2 * workers
            while queue and len(running) < limit:
                chunk, attempts = queue.popleft()
                running[pool.submit(run_chunk, chunk, cache_root)] = (chunk, attempts)
            finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            broken = False
            for future in finished:
                chunk, attempts = running.pop(future)
                try:
                    part = future.result()
                except BrokenProcessPool:
                    broken = True
                    queue.extend(after_failure(chunk, attempts, "its worker process died on every attempt", emit))
                except (SystemExit, KeyboardInterrupt):
                    # The worker's Ctrl-C (_stop_quietly), sent back as the chunk's error. A terminal's Ctrl-C
                    # set the driver's flag too: stop as cancelled, never exit from here. Else the chunk runs
                    # again, in a new pool: the interrupt may have cut an import short in that worker.
                    check_cancel(cancel)
                    broken = True
                    queue.extend(after_failure(chunk, attempts, "its worker process was interrupted", emit))
                except Exception as exc:  # noqa: BLE001 - a chunk's bug fails its photos, not the job
                    queue.extend(after_failure(chunk, attempts, f"{type(exc).__name__}: {exc}", emit))
                else:  # not under the try: an error of the caller's emit is not the chunk's
                    queue.extend((more, 0) for more in emit(part) or ())
            if broken:
                for chunk, attempts in running.values():
                    queue.extend(after_failure(chunk, attempts, "its worker process died on every attempt", emit))
                running.clear()
                pool.shutdown(wait=False, cancel_futures=True)
                pool = ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=_quiet_on_ctrl_c)
    finally:
        pool.shutdown(wait=not running, cancel_futures=True)


def map_chunks(
    chunks: Iterable[Chunk],
    cache_root: str | Path,
    emit: Emit,
    *,
    engine: str = "inprocess",
    workers: int = 2,
    address: str | None = None,
    cancel: CancelCheck | None = None,
) -> None:
    """Run every chunk on ``engine``, and every chunk ``emit`` returns, until none is left.

    Parameters
    ----------
    chunks : iterable of Chunk
        The first chunks to run.
    cache_root : path
        The cache every worker reads and writes.
    emit : callable
        ``emit(ChunkResult)``, called in this process for each result (a chunk
        that failed on every attempt is split; each of its photos then gets its
        own result); it may return more chunks to run.
    engine, workers, address
        As for :func:`run_batch`.
    cancel : callable, optional
        Polled between results; raises :class:`core.jobs.Cancelled`.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> from core.batch.plan import IMPORT
    >>> folder = Path(tempfile.mkdtemp()); Image.new("RGB", (8, 8)).save(folder / "a.png")
    >>> seen = []
    >>> def emit(part):
    ...     seen.append(part.computed)
    ...     if IMPORT in part.computed:  # then the thumbnail, by sha256
    ...         return [Chunk(str(folder), ((part.imported["a.png"]["sha256"], str(folder / "a.png"), "a.png"),),
    ...                       ("thumbnails",), 1)]
    >>> map_chunks([Chunk(str(folder), (("", str(folder / "a.png"), "a.png"),), (IMPORT,))], folder / "cache", emit)
    >>> seen
    [{'import': 1}, {'thumbnails': 0}]
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {list(ENGINES)}")
    chunks = list(chunks)
    if not chunks:
        return
    if engine == "dask":
        from .dask_engine import map_chunks_dask as mapper
    else:
        mapper = _map_local if engine == "local" else _map_inprocess
    mapper(chunks, str(cache_root), emit, cancel, workers=max(1, workers), address=address)


def run_batch(
    chunks: Sequence[Chunk],
    cache_root: str | Path,
    *,
    engine: str = "inprocess",
    workers: int = 2,
    address: str | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> BatchResult:
    """Run every chunk on ``engine``: the same cache entries whichever engine runs them.

    Parameters
    ----------
    chunks : sequence of Chunk
        From :func:`~core.batch.plan.plan_batch`.
    cache_root : path
        The cache every worker reads and writes (a folder all of them see).
    engine : {"inprocess", "local", "dask"}
    workers : int
        Processes for ``local``, and for the ``dask`` local cluster.
    address : str, optional
        ``dask`` only: a scheduler to connect to (default: ``DASK_SCHEDULER_ADDRESS``, else a local cluster).
    progress, cancel : callable, optional
        The job protocol's (:mod:`core.jobs`): photos done of all photos.

    Raises
    ------
    core.jobs.Cancelled
        When ``cancel()`` returned True; finished chunks stay cached.

    Examples
    --------
    >>> run_batch([], "/nonexistent").photos
    0
    """
    if engine not in ENGINES:
        raise ValueError(f"unknown engine {engine!r}; expected one of {list(ENGINES)}")
    total = sum(len(c.photos) for c in chunks)
    result = BatchResult(engine=engine)
    start = time.perf_counter()

    def emit(part: ChunkResult) -> None:
        result.photos += part.done
        for step, n in part.computed.items():
            result.computed[step] = result.computed.get(step, 0) + n
        for step, n in part.reused.items():
            result.reused[step] = result.reused.get(step, 0) + n
        result.failures.extend(part.failures)
        rate = result.photos / max(time.perf_counter() - start, 1e-9)
        report(progress, result.photos, total,
               f"{result.photos} of {total} photos, {rate:.1f} photos/s, {len(result.failures)} failed")

    report(progress, 0, total, f"0 of {total} photos")
    map_chunks(chunks, cache_root, emit, engine=engine, workers=workers, address=address, cancel=cancel)
    result.seconds = time.perf_counter() - start
    result.failures.sort()
    return result
