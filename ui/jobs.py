"""One way to run a long core job on a page: status box, progress bar, Cancel, errors by type.

Every long job in ``core`` takes ``progress(done, total, message)`` and raises
:class:`core.jobs.Cancelled` when stopped (see :mod:`core.jobs`). Pages hand
such a job to :func:`run_job`, which draws it the same way everywhere.

Cancel works the Streamlit way: pressing the button asks for a rerun, and
Streamlit stops the running script at its next call (the next progress
update), so the core job stops between two units of work and keeps what it
finished in the cache. The button's ``on_click`` leaves a mark that the next
run reads with :func:`cancelled`, so a page that starts a job by itself (the
Explore features, say) does not start it again at once.

A job given as a :class:`core.workers.JobCall` (a module-level core function
and plain data) runs in one of the server's worker processes
(:func:`worker_pool`, spawned once and kept, so models stay loaded between
jobs): page scripts are threads under one interpreter lock, and a job computed
in one would take CPU from every other visitor's page runs, and bring
TensorFlow or MediaPipe into the server. The script thread only draws the
progress the worker relays; when Streamlit stops the script (Cancel, a rerun,
leaving the page) it sets the job's stop event, and the job raises
:class:`core.jobs.Cancelled` at its next progress update in the worker. Errors
come back as their own types. A plain callable still runs in the script thread
(the archive import, which reads the upload held in this process's memory).
``FEEDLENS_JOB_WORKERS=0`` runs every job in the script thread.

At most :func:`max_jobs` jobs run at once on a server (``FEEDLENS_MAX_JOBS``,
default: the number of cores; the pool has as many workers): more of them
than cores would leave no CPU for everyone else's page runs. A job past the
cap waits in the status box, which shows its place in the line
(:class:`JobSlots`, first come first served); Cancel leaves the line.
"""

from __future__ import annotations

import itertools
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import streamlit as st

from core.jobs import Cancelled, JobError, Progress
from core.workers import JobCall, WorkerPool

__all__ = ["JobOutcome", "JobSlots", "JobCall", "job_slots", "max_jobs", "worker_pool", "in_workers", "run_job",
           "cancelled", "clear_cancelled"]

_MARK = "job_cancelled::"


@dataclass
class JobOutcome:
    """What became of a job: its value, or why there is none."""

    value: Any = None
    #: A message for the user when the job failed (``None`` when it did not).
    error: str | None = None
    #: The exception behind ``error``, for pages that tell error types apart.
    exception: BaseException | None = None
    cancelled: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None and not self.cancelled


class JobSlots:
    """At most ``slots`` holders at once; the others wait in line, first come first served.

    Examples
    --------
    >>> slots = JobSlots(1)
    >>> a, b = slots.join(), slots.join()
    >>> slots.wait(a, 0), slots.position(b), slots.wait(b, 0)
    (True, 1, False)
    >>> slots.leave(a); slots.wait(b, 0)
    True
    """

    def __init__(self, slots: int) -> None:
        self.slots = max(1, int(slots))
        self._cond = threading.Condition()
        self._line: list[int] = []  # tickets, oldest first; the first ``slots`` hold a slot
        self._tickets = itertools.count()

    def join(self) -> int:
        """Take a ticket at the end of the line."""
        with self._cond:
            ticket = next(self._tickets)
            self._line.append(ticket)
            return ticket

    def position(self, ticket: int) -> int:
        """How many waiting tickets are ahead of ``ticket`` (0: it holds a slot or is next)."""
        with self._cond:
            return max(0, self._line.index(ticket) - self.slots + 1) if ticket in self._line else 0

    def wait(self, ticket: int, timeout: float) -> bool:
        """Whether ``ticket`` holds a slot, waiting up to ``timeout`` seconds for one."""
        with self._cond:
            return self._cond.wait_for(lambda: self._line.index(ticket) < self.slots, timeout)

    def leave(self, ticket: int) -> None:
        """Give the slot (or the place in line) back."""
        with self._cond:
            if ticket in self._line:
                self._line.remove(ticket)
            self._cond.notify_all()


def max_jobs() -> int:
    """How many long jobs may run at once: ``FEEDLENS_MAX_JOBS``, else the number of cores."""
    try:
        return max(1, int(os.environ.get("FEEDLENS_MAX_JOBS", "")))
    except ValueError:
        return max(1, os.cpu_count() or 1)


@st.cache_resource
def job_slots() -> JobSlots:
    """The server's one line of long jobs."""
    return JobSlots(max_jobs())


@st.cache_resource
def worker_pool() -> WorkerPool:
    """The server's worker processes, as many as :func:`max_jobs` (started at the first job)."""
    return WorkerPool(max_jobs())


def in_workers() -> bool:
    """Whether a :class:`JobCall` runs in a worker process (``FEEDLENS_JOB_WORKERS`` is not ``0``)."""
    return os.environ.get("FEEDLENS_JOB_WORKERS", "1").strip() != "0"


_REDRAW_S = 1.0  # with no progress for this long, the bar is drawn again: Streamlit stops a script only at an st call


def _run_in_worker(call: JobCall, progress: Progress) -> object:
    """Run ``call`` in a worker process, drawing its progress here; stop it if this script is stopped."""
    running = worker_pool().start(call)
    last, drawn, finished = (0, 1, "Starting…"), time.monotonic(), False
    try:
        while True:
            updates = running.updates(timeout=0.2)
            if updates:  # only the newest is drawn: the bar shows where the job is now
                last = updates[-1]
                progress(*last)
                drawn = time.monotonic()
            elif running.done():
                if updates := running.updates(timeout=0):
                    progress(*updates[-1])
                finished = True
                return running.result()
            elif time.monotonic() - drawn > _REDRAW_S:
                progress(*last)
                drawn = time.monotonic()
    finally:  # Cancel, a rerun, leaving the page (Streamlit raised at an st call), or an error here
        if not finished:
            running.stop()


def _take_slot(ticket: int, bar) -> None:
    """Wait for a slot, saying the place in line; a rerun (Cancel, leaving) stops the script at ``bar.progress``."""
    slots = job_slots()
    while not slots.wait(ticket, 1.0):
        ahead = slots.position(ticket)
        bar.progress(0.0, text=f"Waiting for a free worker: {ahead} job(s) ahead of yours "
                                f"(this server runs {slots.slots} at a time)…")


def _mark(key: str) -> None:
    st.session_state[_MARK + key] = True


def cancelled(key: str) -> bool:
    """Whether the user cancelled the job started with ``key`` (until :func:`clear_cancelled`)."""
    return bool(st.session_state.get(_MARK + key))


def clear_cancelled(key: str) -> None:
    """Forget a cancellation (the user asked for the job again)."""
    st.session_state.pop(_MARK + key, None)


def run_job(title: str, job: Callable[[Progress], Any] | JobCall, *, key: str, note: str | None = None,
            done: Callable[[Any], str] | None = None, failed: str = "Did not finish",
            collapse: bool = True) -> JobOutcome:
    """Run ``job(progress)`` in a status box with a progress bar and a Cancel button.

    Parameters
    ----------
    title : str
        The status box's label while the job runs ("Indexing faces…").
    job : JobCall or callable
        A :class:`core.workers.JobCall` runs in a worker process (see the
        module's text); its value must be picklable. A callable is called
        here with ``progress(done, total, message)``. The return value
        becomes ``JobOutcome.value``.
    key : str
        The Cancel button's widget key (unique on the page).
    note : str, optional
        A caption under the bar (what Cancel keeps, for instance).
    done : callable, optional
        ``done(value)`` gives the box's label when the job finished.
    failed : str
        The box's label when the job failed or was cancelled.
    collapse : bool
        Fold the box once the job is over.

    Returns
    -------
    JobOutcome
        ``error`` is the exception's own message for a
        :class:`core.jobs.JobError` (written for the user), and a short
        generic sentence for anything else: no traceback reaches the page.
    """
    clear_cancelled(key)
    with st.status(title, expanded=True) as status:
        bar = st.progress(0.0, text="Starting…")
        if note:
            st.caption(note)
        st.button("Cancel", key=key, icon=":material/cancel:", on_click=_mark, args=(key,))

        def progress(n_done: int, total: int, message: str) -> None:
            bar.progress(min(max(n_done / max(total, 1), 0.0), 1.0), text=message)

        ticket = job_slots().join()
        try:
            _take_slot(ticket, bar)
            if isinstance(job, JobCall):
                value = _run_in_worker(job, progress) if in_workers() else job.run(progress)
            else:
                value = job(progress)
            outcome = JobOutcome(value=value)
        except Cancelled:
            outcome = JobOutcome(cancelled=True)
        except JobError as exc:
            outcome = JobOutcome(error=str(exc), exception=exc)
        except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
            outcome = JobOutcome(error=f"It failed unexpectedly ({type(exc).__name__}: {exc}).", exception=exc)
        finally:  # also when Streamlit stops the script (Cancel, a rerun): the next in line goes on
            job_slots().leave(ticket)
        if outcome.ok:
            bar.progress(1.0, text="Done")
            status.update(label=done(outcome.value) if done else "Done", state="complete",
                          expanded=not collapse)
        else:
            status.update(label=failed, state="error", expanded=not collapse)
    return outcome
