"""``feedlens batch``: the heavy per-photo work of many archives at once, in-process, in processes or on Dask.

A thin front end to :func:`core.batch.driver.run_archives`: the workers import
the archives (every photo read, hashed and thumbnailed once, by them), then
run the per-photo steps; the driver writes each archive's manifest.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import CacheOpt, JsonOpt
from .runner import archive_summary, command, use_cache
from .text import count, table

__all__ = ["EXIT_SOME_FAILED", "BatchStep", "Engine", "batch"]

#: Done, but some photos failed: they are listed (the failures table, ``failures`` in the JSON).
EXIT_SOME_FAILED = 3


class BatchStep(str, Enum):
    """What to compute: ``import`` only, one per-photo step, or ``all`` of them.

    Every step first imports the archives not imported yet, on the engine; the
    import makes each photo's thumbnail, so ``thumbnails`` adds work only for
    an archive imported earlier (it remakes missing thumbnails).
    """

    import_ = "import"
    thumbnails = "thumbnails"
    features = "features"
    faces = "faces"
    all = "all"


class Engine(str, Enum):
    """Where the chunks run (:data:`core.batch.engines.ENGINES`)."""

    inprocess = "inprocess"
    local = "local"
    dask = "dask"


def batch(
    step: Annotated[BatchStep, typer.Argument(
        help="import, thumbnails, features (colour/texture), faces, or all. Each imports the archives first, "
             "on the engine; the import makes the thumbnails (one decode per photo), so thumbnails only remakes "
             "missing ones of archives imported before.")],
    archives: Annotated[list[Path], typer.Argument(
        metavar="ARCHIVE...", show_default=False, help="One or more archives (folders or ZIP files).")],
    engine: Annotated[Engine, typer.Option("--engine", help="inprocess (a loop here), local (a pool of processes) "
                                                            "or dask (a Dask cluster).")] = Engine.inprocess,
    address: Annotated[Optional[str], typer.Option(
        "--address", show_default=False,
        help="--engine dask: the scheduler, e.g. tcp://127.0.0.1:8786 (default: DASK_SCHEDULER_ADDRESS, "
             "else a local cluster of --workers processes).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (local, or a local Dask cluster).")] = 2,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Files per import task, photos per step task.")] = 128,
    cache: CacheOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Import archives on the engine and compute their thumbnails, colour/texture features and faces into the cache.

    The workers read every photo once (hash, check, thumbnail); this process
    only lists the files, reads the metadata and writes the catalogues, and
    each archive's manifest (which the app reads to show a running batch).
    Photos already cached are read back, not computed (a rerun resumes).
    Exit codes: 0 all done, 3 some photos failed (listed), 130 stopped by Ctrl-C.
    """
    from core.batch.driver import run_archives
    from core.batch.plan import IMPORT, STEPS
    from core.config import cache_location

    some_failed = False
    use_cache(cache)
    with command(json_output) as run:
        steps = () if step is BatchStep.import_ else STEPS if step is BatchStep.all else (step.value,)
        result = run.job(f"Batch {step.value} ({engine.value})", run_archives, archives, steps, cache_location(),
                         engine=engine.value, workers=workers, address=address, chunk=chunk)
        stages = (IMPORT, *steps)
        failures = [{"archive": name, "file": file, "reason": reason} for name, file, reason in result.failures]
        lines = [f"{count(len(result.archives), 'archive')}, {count(result.photos, 'photo')} "
                 f"({count(result.files, 'file')} imported now) on {engine.value}: "
                 f"{result.photos_per_s:.1f} photos/s"]
        for name in stages:
            lines.append(f"  {name}: {result.computed.get(name, 0)} computed, "
                         f"{result.reused.get(name, 0)} read from the cache")
        if failures:
            some_failed = True
            lines.append(f"{count(len(failures), 'photo')} failed:")
            lines.append(table(["archive", "file", "reason"], [[f["archive"], f["file"], f["reason"]] for f in failures]))
        run.done({
            "archives": [archive_summary(arch) for arch in result.archives],
            "step": step.value,
            "engine": engine.value,
            "files": result.files,
            "photos": result.photos,
            "computed": {name: result.computed.get(name, 0) for name in stages},
            "reused": {name: result.reused.get(name, 0) for name in stages},
            "seconds": round(result.seconds, 3),
            "photos_per_s": round(result.photos_per_s, 2),
            "failures": failures,
            "exit_code": EXIT_SOME_FAILED if failures else 0,
        }, "\n".join(lines))
    if some_failed:
        raise typer.Exit(EXIT_SOME_FAILED)
