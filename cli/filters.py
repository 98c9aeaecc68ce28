"""``feedlens filter``: apply a Filters-page pipeline to every photo of an archive, into a ZIP."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from .options import ArchiveArg, JsonOpt
from .runner import InputError, archive_summary, command
from .text import count, table

__all__ = ["OutputFormat", "read_pipeline", "filter_archive"]


class OutputFormat(str, Enum):
    """Image format of the photos in the ZIP (:data:`core.filters.batch.FORMATS`)."""

    png = "png"
    jpeg = "jpeg"


def read_pipeline(text: str):
    """A :class:`core.filters.pipeline.Pipeline` from what the user gave ``--pipeline``.

    Accepted: a JSON file saved on the Filters page (its path), the JSON
    itself, a share link (``...?pipeline=1z....``) or just its ``pipeline``
    value.

    Raises
    ------
    InputError
        When none of these can be read, with the reason.

    Examples
    --------
    >>> pipe = read_pipeline('{"steps": [{"name": "grayscale"}]}')
    >>> read_pipeline("https://example.org/filters?pipeline=" + pipe.to_query()) == pipe
    True
    >>> read_pipeline("not a pipeline")
    Traceback (most recent call last):
    ...
    cli.runner.InputError: --pipeline: ...
    """
    from core.filters.pipeline import Pipeline

    value = text.strip()
    try:
        if _is_file(value):
            value = Path(value).expanduser().read_text(encoding="utf-8", errors="replace")
        return Pipeline.parse(value)
    except (ValueError, OSError) as exc:
        raise InputError(f"--pipeline: {exc}") from None


def _is_file(value: str) -> bool:
    try:
        return value[:1] not in "{[" and Path(value).expanduser().is_file()
    except (OSError, ValueError):  # a share-link value longer than a file name can be
        return False


def filter_archive(
    archive: ArchiveArg,
    pipeline: Annotated[str, typer.Option(
        "--pipeline", "-p", show_default=False,
        help="The pipeline: a JSON file saved on the Filters page, its JSON text, or a share link (or its "
             "pipeline=... value).")],
    out: Annotated[Path, typer.Option("--out", "-o", show_default=False,
                                      help="The ZIP to write (replaced whole, never left half-written).")],
    fmt: Annotated[OutputFormat, typer.Option("--format", help="Format of the filtered photos.")] = OutputFormat.png,
    quality: Annotated[int, typer.Option("--quality", min=1, max=95, help="JPEG quality.")] = 90,
    json_output: JsonOpt = False,
) -> None:
    """Apply a filter pipeline to every photo of the archive at full resolution, into one ZIP.

    The ZIP holds the filtered photos, pipeline.json and, when some photos
    could not be processed, failures.txt (they are listed here too).
    """
    from core.filters.batch import BatchRequest, run_batch

    with command(json_output) as run:
        pipe = read_pipeline(pipeline)
        arch = run.open_archive(archive)
        if not len(pipe):
            run.warn("the pipeline has no steps: the photos are copied as they are")
        request = BatchRequest.from_catalogue(pipe, arch.catalogue, out, fmt=fmt.value, quality=quality)
        # On Ctrl-C run_batch raises Cancelled and leaves no partial ZIP (it writes under a temporary name).
        result = run.job(f"Applying {count(len(pipe), 'step')}", run_batch, request)
        failures = [{"file": label, "problem": reason} for label, reason in result.failures]
        lines = [f"{out}: {len(result.written)} of {count(result.total, 'photo')} filtered "
                 f"({', '.join(step.name for step in pipe) or 'no steps'})."]
        if failures:
            lines.append(f"{count(len(failures), 'photo')} could not be processed:")
            lines.append(table(["file", "problem"], [[f["file"], f["problem"]] for f in failures]))
        run.done({"archive": archive_summary(arch), "out": result.path or out, "pipeline": pipe.to_dict(),
                  "total": result.total, "written": len(result.written), "failures": failures}, "\n".join(lines))
