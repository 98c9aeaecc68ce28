"""The one protocol of every long job: progress, cancellation and typed errors.

A long job (importing an archive, computing features, indexing faces,
training the forecast, building a mosaic, applying a filter pipeline) is a
plain function that takes a request, returns a result, and accepts two
optional keyword arguments:

``progress(done, total, message)``
    Called as work gets done: ``done`` of ``total`` units (photos, steps,
    bytes), and a sentence for the user. A caller may raise from it (Streamlit
    does, when the user presses Cancel); the job then stops at once and
    leaves no half-written cache entry.

``cancel()``
    Polled between units of work; when it returns True the job raises
    :class:`Cancelled`. Finished units stay cached, so a rerun resumes.

Errors that a user interface must tell apart are types, all derived from
:class:`JobError`, whose message is written for the user (what is wrong, and
how to fix it). Nothing here imports Streamlit.

Examples
--------
>>> seen = []
>>> def job(n, *, progress=None, cancel=None):
...     for i in range(n):
...         check_cancel(cancel)
...         report(progress, i + 1, n, f"{i + 1} of {n}")
...     return n
>>> job(2, progress=lambda done, total, message: seen.append(message))
2
>>> seen
['1 of 2', '2 of 2']
>>> job(2, cancel=lambda: True)
Traceback (most recent call last):
...
core.jobs.Cancelled: stopped by the user
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = [
    "Progress",
    "CancelCheck",
    "Cancelled",
    "JobError",
    "WeightsUnavailableError",
    "ModelUnavailableError",
    "TooFewPhotosError",
    "report",
    "check_cancel",
    "stage_progress",
]

#: ``progress(done, total, message)``: ``done`` of ``total`` units finished.
Progress = Callable[[int, int, str], None]
#: ``cancel()``: True when the job should stop.
CancelCheck = Callable[[], bool]


class Cancelled(Exception):
    """A long job was stopped by its caller; finished work is kept in the cache."""

    def __init__(self, message: str = "stopped by the user") -> None:
        super().__init__(message)


class JobError(Exception):
    """A failure the user can act on; ``str(error)`` is written for them."""


class WeightsUnavailableError(JobError, RuntimeError):
    """Pretrained network weights (ImageNet) could not be downloaded or read."""


class ModelUnavailableError(JobError, RuntimeError):
    """A model file (MediaPipe, dlib) is missing and could not be downloaded."""


class TooFewPhotosError(JobError, ValueError):
    """The analysis needs more photos than the archive (or selection) has."""


def report(progress: Progress | None, done: int, total: int, message: str) -> None:
    """Call ``progress`` if there is one."""
    if progress is not None:
        progress(done, total, message)


def check_cancel(cancel: CancelCheck | None) -> None:
    """Raise :class:`Cancelled` when ``cancel()`` says so."""
    if cancel is not None and cancel():
        raise Cancelled()


def stage_progress(progress: Progress | None, index: int, count: int, name: str, *,
                   unit: str = "photos") -> Progress | None:
    """Progress of stage ``index`` (0-based) of ``count``, reported over the whole job.

    Every stage has the same weight: the job's bar moves from ``index / count``
    to ``(index + 1) / count`` while the stage runs, and never goes back.

    Examples
    --------
    >>> seen = []
    >>> inner = stage_progress(lambda d, t, m: seen.append((d, t, m)), 1, 2, "faces")
    >>> inner(5, 10, "5 of 10 photos indexed")
    >>> seen
    [(15, 20, 'Step 2 of 2 (faces): processed 5 of 10 photos')]
    """
    if progress is None:
        return None

    def inner(done: int, total: int, message: str = "") -> None:
        total = max(total, 1)
        progress(index * total + min(done, total), count * total,
                 f"Step {index + 1} of {count} ({name}): processed {done} of {total} {unit}")

    return inner
