"""``feedlens batch``: the heavy per-photo work of many archives at once, in-process, in processes or on Dask."""

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
    """What to compute: ``import`` only, one per-photo step, or ``all`` of them."""

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


def _import_failures(arch) -> list[dict]:
    problems = arch.problems
    if problems is None or len(problems) == 0:
        return []
    skipped = problems[problems["level"] == "error"]
    return [{"archive": arch.name, "file": r.file, "reason": f"import: {r.problem}"} for r in skipped.itertuples()]


def batch(
    step: Annotated[BatchStep, typer.Argument(help="import, thumbnails, features (colour/texture), faces, or all.")],
    archives: Annotated[list[Path], typer.Argument(
        metavar="ARCHIVE...", show_default=False, help="One or more archives (folders or ZIP files).")],
    engine: Annotated[Engine, typer.Option("--engine", help="inprocess (a loop here), local (a pool of processes) "
                                                            "or dask (a Dask cluster).")] = Engine.inprocess,
    address: Annotated[Optional[str], typer.Option(
        "--address", show_default=False,
        help="--engine dask: the scheduler, e.g. tcp://127.0.0.1:8786 (default: DASK_SCHEDULER_ADDRESS, "
             "else a local cluster of --workers processes).")] = None,
    workers: Annotated[int, typer.Option("--workers", min=1, help="Worker processes (local, or a local Dask cluster).")] = 2,
    chunk: Annotated[int, typer.Option("--chunk", min=1, help="Photos per task.")] = 128,
    cache: CacheOpt = None,
    json_output: JsonOpt = False,
) -> None:
    """Import archives and compute their thumbnails, colour/texture features and faces into the cache the app reads.

    Photos already cached are read back, not computed (a rerun resumes).
    Exit codes: 0 all done, 3 some photos failed (listed), 130 stopped by Ctrl-C.
    """
    from core.batch.engines import BatchResult, run_batch
    from core.batch.plan import STEPS, plan_batch
    from core.config import cache_location

    some_failed = False
    use_cache(cache)
    with command(json_output) as run:
        opened = [run.open_archive(path, need_photos=False) for path in archives]
        failures = [f for arch in opened for f in _import_failures(arch)]
        steps = () if step is BatchStep.import_ else STEPS if step is BatchStep.all else (step.value,)
        chunks = plan_batch(opened, steps, chunk) if steps else []
        result = BatchResult(engine=engine.value)
        if chunks:
            result = run.job(f"Batch {step.value} ({engine.value}, {count(len(chunks), 'chunk')})", run_batch,
                             chunks, cache_location(), engine=engine.value, workers=workers, address=address)
        names = {str(arch.root): arch.name for arch in opened}
        where = {file: names[c.archive] for c in chunks for _, _, file in c.photos}
        failures += [{"archive": where.get(file, ""), "file": file, "reason": reason}
                     for file, reason in result.failures]
        photos = sum(len(c.photos) for c in chunks)
        lines = [f"{count(len(opened), 'archive')}, {count(photos, 'photo')}"
                 + (f" on {engine.value}: {result.photos_per_s:.1f} photos/s" if steps else " imported")]
        for name in steps:
            lines.append(f"  {name}: {result.computed.get(name, 0)} computed, "
                         f"{result.reused.get(name, 0)} read from the cache")
        if failures:
            some_failed = True
            lines.append(f"{count(len(failures), 'photo')} failed:")
            lines.append(table(["archive", "file", "reason"], [[f["archive"], f["file"], f["reason"]] for f in failures]))
        run.done({
            "archives": [archive_summary(arch) for arch in opened],
            "step": step.value,
            "engine": engine.value,
            "chunks": len(chunks),
            "photos": photos,
            "computed": {name: result.computed.get(name, 0) for name in steps},
            "reused": {name: result.reused.get(name, 0) for name in steps},
            "seconds": round(result.seconds, 3),
            "photos_per_s": round(result.photos_per_s, 2),
            "failures": failures,
            "exit_code": EXIT_SOME_FAILED if failures else 0,
        }, "\n".join(lines))
    if some_failed:
        raise typer.Exit(EXIT_SOME_FAILED)
