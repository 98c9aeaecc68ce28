"""Long jobs in worker processes: a pool of spawned processes, progress relayed, Cancel passed on.

A server runs page scripts as threads under one interpreter lock, so a long
job (features, a face index, a mosaic, training) computed in a visitor's
script thread takes CPU from every other visitor's page runs, and loads its
heavy libraries (TensorFlow, MediaPipe) into the server itself. Here it runs
in a worker process instead:

- :class:`JobCall` is what to run: a module-level function and plain-data
  arguments (everything picklable), called in the worker as
  ``func(*args, progress=progress, **kwargs)``, the protocol of
  :mod:`core.jobs`.
- :class:`WorkerPool` holds ``workers`` spawned processes for as long as the
  server lives, so models a job loaded stay loaded for the next one (the
  functions in :mod:`core.worker_jobs` keep them per process). Each job gets
  a queue for its progress and an event for its stop; both live in a
  ``multiprocessing`` manager process, so they can be handed to a pool task.
- In the worker, the job's ``progress`` puts ``(done, total, message)`` on
  the queue and raises :class:`~core.jobs.Cancelled` once the stop event is
  set: the job stops between two units of work and keeps what it finished in
  the disk cache. An exception comes back as itself (pickled), so a caller
  still tells :class:`~core.jobs.JobError` types apart.

Nothing here imports Streamlit (``ui.jobs`` draws the progress).

Examples
--------
>>> from core.workers import JobCall
>>> call = JobCall(divmod, (7, 2))
>>> call.func.__name__, call.args
('divmod', (7, 2))
"""

from __future__ import annotations

import multiprocessing
import pickle
import queue
import sys
import threading
import time
import types
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from core.jobs import Cancelled, JobError

__all__ = ["JobCall", "RunningJob", "WorkerPool", "WorkerDiedError", "run_call", "die_with_parent"]

#: Progress updates sent at most this often (s); the last one of a job always goes.
SEND_EVERY_S = 0.05


class WorkerDiedError(JobError, RuntimeError):
    """The worker process running a job ended without a result (out of memory, a crash)."""


@dataclass(frozen=True)
class JobCall:
    """A long job to run elsewhere: ``func(*args, progress=..., **kwargs)``.

    ``func`` must be a module-level function (it is pickled by name) and
    ``args``/``kwargs`` plain data. With ``cancel=True`` the job is also
    given ``cancel=``, a check of the stop event, for jobs that can stop
    inside one long unit (a mosaic placement polls it every 0.25 s).
    """

    func: Callable[..., Any]
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    cancel: bool = False

    def run(self, progress, cancel=None) -> Any:
        extra = {"cancel": cancel} if self.cancel else {}
        return self.func(*self.args, progress=progress, **extra, **self.kwargs)


def run_call(call: JobCall, messages, stop) -> Any:
    """Run ``call`` in this (worker) process, sending progress to ``messages`` and stopping once ``stop`` is set."""
    last = [0.0]

    def progress(done: int, total: int, message: str = "") -> None:
        now = time.monotonic()
        if now - last[0] < SEND_EVERY_S and done < total:
            return
        last[0] = now
        if stop.is_set():
            raise Cancelled()
        messages.put((int(done), int(total), str(message)))

    try:
        return call.run(progress, stop.is_set)
    except Exception as exc:
        try:  # the exception goes back pickled: one that cannot be rebuilt would break the pool instead
            pickle.loads(pickle.dumps(exc))
        except Exception:  # noqa: BLE001
            raise RuntimeError(f"{type(exc).__name__}: {exc}") from None
        raise


def die_with_parent(interval: float = 0.5, *, group: bool = False) -> None:  # pragma: no cover - runs in a child
    """End this process (with ``group``: its whole process group) once its parent is gone.

    A server killed outright (SIGKILL, out of memory) cannot stop its worker
    processes; without this they would compute on for nobody, and write to
    the cache while a restarted server reads it. A daemon thread compares
    the parent's id every ``interval`` seconds.
    """
    import os
    import signal

    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(interval)
            if os.getppid() != parent:
                if group:
                    try:
                        os.killpg(0, signal.SIGKILL)
                    except OSError:
                        pass
                os._exit(1)

    threading.Thread(target=watch, name="die-with-parent", daemon=True).start()


class RunningJob:
    """A job submitted to a :class:`WorkerPool`: its progress, its end, and how to stop it."""

    def __init__(self, future: Future, messages, stop) -> None:
        self.future = future
        self._messages = messages
        self._stop = stop

    def updates(self, timeout: float) -> list[tuple[int, int, str]]:
        """The progress sent since the last call, waiting up to ``timeout`` s for the first one."""
        found = []
        try:
            found.append(self._messages.get(timeout=timeout) if timeout > 0 else self._messages.get_nowait())
            while True:
                found.append(self._messages.get_nowait())
        except (queue.Empty, EOFError, OSError, BrokenPipeError):
            pass
        return found

    def done(self) -> bool:
        return self.future.done()

    def result(self) -> Any:
        """The job's value; raises its exception (its own type), or :class:`WorkerDiedError`."""
        try:
            return self.future.result()
        except BrokenProcessPool as exc:
            raise WorkerDiedError("The worker process running this job stopped unexpectedly (out of memory?). "
                                  "Finished work is kept in the cache; try again.") from exc

    def stop(self) -> None:
        """Ask the job to stop at its next progress update (or drop it if it has not started)."""
        try:
            self._stop.set()
        except (EOFError, OSError, BrokenPipeError):
            pass
        self.future.cancel()


_MAIN_LOCK = threading.Lock()


@contextmanager
def _plain_main() -> Iterator[None]:
    """Hide the ``__main__`` module from processes spawned meanwhile.

    A spawned child runs the parent's ``__main__`` file again (as ``__mp_main__``) before its
    task. In a Streamlit server ``__main__`` is the page script being run (Streamlit executes each
    run in a module of that name), so every worker would run the whole app, in bare mode, at start.
    A stand-in module without a file leaves the child with nothing to run.
    """
    with _MAIN_LOCK:
        held = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")
        try:
            yield
        finally:
            if held is not None:
                sys.modules["__main__"] = held


class WorkerPool:
    """``workers`` spawned processes that run :class:`JobCall` s, one at a time each.

    Started at the first job; a pool whose process died is replaced at the next one.

    Examples
    --------
    >>> pool = WorkerPool(1)
    >>> job = pool.start(JobCall(divmod, (7, 2)))  # doctest: +SKIP
    """

    def __init__(self, workers: int) -> None:
        self.workers = max(1, int(workers))
        self._lock = threading.Lock()
        self._executor: ProcessPoolExecutor | None = None
        self._manager = None

    def _ready(self) -> tuple[ProcessPoolExecutor, Any]:
        with self._lock:
            broken = self._executor is not None and getattr(self._executor, "_broken", False)
            if broken:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            # spawn, not fork: the server has threads (and maybe TensorFlow), which fork would copy half-way
            context = multiprocessing.get_context("spawn")
            if self._manager is None:
                from multiprocessing.managers import SyncManager

                with _plain_main():
                    self._manager = SyncManager(ctx=context)
                    self._manager.start(initializer=die_with_parent)
            if self._executor is None:
                self._executor = ProcessPoolExecutor(self.workers, mp_context=context, initializer=die_with_parent)
            return self._executor, self._manager

    def start(self, call: JobCall) -> RunningJob:
        """Submit ``call``; it waits inside the pool when every worker is busy."""
        executor, manager = self._ready()
        messages, stop = manager.Queue(), manager.Event()
        try:
            with _plain_main():  # a worker is spawned here when the pool has fewer than it may
                future = executor.submit(run_call, call, messages, stop)
        except BrokenProcessPool:
            executor, manager = self._ready()
            with _plain_main():
                future = executor.submit(run_call, call, messages, stop)
        return RunningJob(future, messages, stop)

    def pids(self) -> list[int]:
        """The worker processes' ids (those started so far)."""
        with self._lock:
            processes = getattr(self._executor, "_processes", None) or {}
            return sorted(processes)

    def __del__(self) -> None:  # a server's pool lives as long as it; a test's goes with its cache
        try:
            self.shutdown()
        except Exception:  # noqa: BLE001 - at interpreter exit, half the modules are gone
            pass

    def shutdown(self) -> None:
        """Stop the worker processes (a job still running is left to finish) and the manager."""
        with self._lock:
            if self._executor is not None:
                self._executor.shutdown(wait=False, cancel_futures=True)
                self._executor = None
            if self._manager is not None:
                self._manager.shutdown()
                self._manager = None
