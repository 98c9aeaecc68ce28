"""What every subcommand shares: the archive, progress, Ctrl-C, ``--json`` and exit codes.

A subcommand is a short function::

    def faces(archive: ArchiveArg, json_output: JsonOpt = False) -> None:
        with command(json_output) as run:
            arch = run.open_archive(archive)
            index = run.job("Finding faces", build_face_index, arch.catalogue, engine)
            run.done({"faces": len(index.faces)}, f"{len(index.faces)} faces")

:func:`command` maps what can go wrong to an exit code and a one-line
message on stderr (:data:`EXIT_OK`, :data:`EXIT_FAILED`, :data:`EXIT_CANCELLED`;
Click itself exits with 2 on a usage error), and prints the result once on
stdout: the JSON document with ``--json``, else the text. Everything else
(progress, warnings, what libraries print) goes to stderr, so stdout holds
the result alone.

Ctrl-C: the first press asks the running core job to stop at its next
unit of work (``cancel()`` returns True, and the next ``progress`` call
raises :class:`core.jobs.Cancelled`); a second press stops at once. Either
way the exit code is 130, and the cache holds only whole entries
(:mod:`core.cache` writes atomically), so a rerun resumes.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TextIO

from core.jobs import Cancelled, JobError

__all__ = [
    "EXIT_OK",
    "EXIT_FAILED",
    "EXIT_USAGE",
    "EXIT_CANCELLED",
    "InputError",
    "Run",
    "archive_summary",
    "command",
    "jsonable",
    "use_cache",
]

#: Done (an archive with problems in some files still counts: they are listed).
EXIT_OK = 0
#: A bad archive, photo or pipeline, a missing model or weights: the message says which.
EXIT_FAILED = 1
#: Bad arguments (Click's usage error).
EXIT_USAGE = 2
#: Stopped by Ctrl-C (128 + SIGINT, the shell's convention).
EXIT_CANCELLED = 130

_PROG = "feedlens"


class InputError(JobError, ValueError):
    """A value given on the command line cannot be used (an unreadable pipeline file, say)."""


def jsonable(value: Any) -> Any:
    """``value`` with NumPy/pandas scalars, paths and NaN turned into plain JSON values.

    Examples
    --------
    >>> import numpy as np
    >>> jsonable({"n": np.int64(3), "x": float("nan"), "p": Path("a/b"), "t": (1, 2)})
    {'n': 3, 'x': None, 'p': 'a/b', 't': [1, 2]}
    """
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if hasattr(value, "isoformat") and callable(value.isoformat):
        try:
            return None if value != value else value.isoformat()  # NaT != NaT
        except (TypeError, ValueError):
            return value.isoformat()
    if hasattr(value, "item") and callable(value.item):  # NumPy scalars
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return str(value)


def use_cache(location: str | None) -> None:
    """Make ``location`` (``--cache``: a folder or an object-store URL) this process's cache.

    It becomes ``FEEDLENS_CACHE_DIR``, so everything the command reads and
    writes (the import, results, batch manifests) goes there, and so do
    the processes it starts; ``None`` keeps the environment's.
    """
    if location:
        os.environ["FEEDLENS_CACHE_DIR"] = location


class _Bar:
    """Progress on stderr: a rich bar on a terminal, else a plain line now and then."""

    PLAIN_EVERY_S = 2.0

    def __init__(self, title: str, stream: TextIO) -> None:
        self.title, self.stream = title, stream
        self._rich = None
        self._last_plain = 0.0
        self._last_head = ""
        if stream.isatty():
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

            self._rich = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                  TimeElapsedColumn(), console=Console(file=stream), transient=True)
            self._task = self._rich.add_task(title, total=None)

    def __enter__(self) -> "_Bar":
        if self._rich is not None:
            self._rich.start()
        else:
            self._line(f"{self.title}…")
        return self

    def __exit__(self, *exc) -> None:
        if self._rich is not None:
            self._rich.stop()

    def update(self, done: int, total: int, message: str) -> None:
        text = f"{self.title}: {message}" if message else self.title
        if self._rich is not None:
            self._rich.update(self._task, completed=done, total=max(total, 1), description=text)
            return
        # A new step (its words change, not just its numbers) or the end is always shown.
        head = "".join(c for c in message if not c.isdigit())
        now = time.monotonic()
        if head != self._last_head or done >= total or now - self._last_plain >= self.PLAIN_EVERY_S:
            self._last_head, self._last_plain = head, now
            self._line(f"{text} [{done}/{total}]" if total else text)

    def _line(self, text: str) -> None:
        print(f"{_PROG}: {text}", file=self.stream, flush=True)


class _Interrupts:
    """SIGINT as a request to stop: the first press sets a flag, the second interrupts at once."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.requested = False
        self._previous = None

    def __enter__(self) -> "_Interrupts":
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread (tests calling the app in a thread): keep the default
            self._previous = None
        return self

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)

    def _handle(self, signum, frame) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        print(f"\n{_PROG}: stopping after the current step (Ctrl-C again to stop at once)…",
              file=self.stream, flush=True)


class Run:
    """One command's run: its output streams, progress bars and stop request.

    Created by :func:`command`; a subcommand calls :meth:`open_archive`,
    :meth:`job`, :meth:`step`, :meth:`warn` and, once, :meth:`done`.
    """

    def __init__(self, json_output: bool, stdout: TextIO, stderr: TextIO, interrupts: _Interrupts) -> None:
        self.json_output = json_output
        self.stdout, self.stderr = stdout, stderr
        self._interrupts = interrupts
        self.result: dict | None = None
        self.text: str = ""
        self.warnings: list[str] = []

    # -- stopping ------------------------------------------------------------------
    def cancel(self) -> bool:
        """The core jobs' ``cancel()``: True once Ctrl-C was pressed."""
        return self._interrupts.requested

    def _check(self) -> None:
        if self._interrupts.requested:
            raise Cancelled()

    # -- running core jobs ------------------------------------------------------------
    def job(self, title: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, progress=..., cancel=..., **kwargs)`` with a progress bar on stderr.

        Once Ctrl-C was pressed, ``cancel()`` returns True and the next
        ``progress`` call raises :class:`Cancelled`, so a job that polls
        ``cancel`` rarely still stops at its next progress update. Pass
        ``cancel=None`` for a job whose own cancel keeps partial output.
        """
        self._check()
        with _Bar(title, self.stderr) as bar:
            def progress(done: int, total: int, message: str = "") -> None:
                bar.update(done, total, message)
                self._check()

            kwargs.setdefault("cancel", self.cancel)
            value = function(*args, progress=progress, **kwargs)
        self._check()
        return value

    def step(self, title: str, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """``function(*args, **kwargs)`` for a step without progress (loading a model), announced on stderr."""
        self._check()
        print(f"{_PROG}: {title}…", file=self.stderr, flush=True)
        value = function(*args, **kwargs)
        self._check()
        return value

    def open_archive(self, path: Path, *, need_photos: bool = True):
        """Import (or read back from the cache) the folder or ZIP at ``path``.

        Raises
        ------
        core.archive.ArchiveError
            Missing path, not an archive, or (with ``need_photos``) no usable photo.
        """
        from core.archive import ArchiveError, open_archive

        archive = self.job(f"Importing {Path(path).name}", open_archive, path)
        if need_photos and archive.n_images == 0:
            raise ArchiveError(f"{archive.root}: no photo could be imported "
                               f"({len(archive.problems)} problem(s); see `{_PROG} import`)")
        return archive

    # -- output --------------------------------------------------------------------
    def warn(self, message: str) -> None:
        """A warning on stderr (and in the JSON document's ``warnings``)."""
        self.warnings.append(message)
        print(f"{_PROG}: warning: {message}", file=self.stderr, flush=True)

    def done(self, result: dict, text: str) -> None:
        """The command's result: ``result`` is printed as JSON with ``--json``, else ``text``."""
        self.result, self.text = result, text

    def _emit(self) -> None:
        if self.json_output:
            document = {"ok": True, **(self.result or {}), "warnings": self.warnings}
            self.stdout.write(json.dumps(jsonable(document), ensure_ascii=False, indent=2) + "\n")
        elif self.text:
            self.stdout.write(self.text.rstrip("\n") + "\n")
        self.stdout.flush()

    def _fail(self, code: int, kind: str, message: str) -> None:
        # A result given before the failure (what an import found) is still printed.
        if self.text and not self.json_output:
            self.stdout.write(self.text.rstrip("\n") + "\n")
            self.stdout.flush()
        message = " ".join(str(message).split()) or kind  # one line, whatever the library wrote
        print(f"{_PROG}: error: {message}", file=self.stderr, flush=True)
        if self.json_output:
            document = {"ok": False, **(self.result or {}), "error": {"type": kind, "message": message},
                        "exit_code": code, "warnings": self.warnings}
            self.stdout.write(json.dumps(jsonable(document), ensure_ascii=False, indent=2) + "\n")
            self.stdout.flush()


def archive_summary(archive) -> dict:
    """The archive's counts, as every command's JSON document has them under ``archive``."""
    return {
        "name": archive.name,
        "root": str(archive.root),
        "key": archive.key,
        "posts": archive.n_posts,
        "images": archive.n_images,
        "videos_skipped": archive.videos_skipped,
        "formats": list(archive.formats),
        "likes_known": archive.likes_known,
        "problems": len(archive.problems),
    }


@contextlib.contextmanager
def command(json_output: bool = False) -> Iterator[Run]:
    """Run one subcommand's body: output streams, Ctrl-C, and errors mapped to exit codes.

    Inside, ``print`` and whatever libraries write to stdout go to stderr;
    the result given to :meth:`Run.done` is written to stdout at the end.

    Raises
    ------
    typer.Exit
        With :data:`EXIT_FAILED` for a :class:`core.jobs.JobError` (bad
        archive, photo, pipeline, missing model or weights) or an
        ``OSError`` (a file that cannot be read or written), and
        :data:`EXIT_CANCELLED` after Ctrl-C.
    """
    import typer

    stdout, stderr = sys.stdout, sys.stderr
    with _Interrupts(stderr) as interrupts:
        run = Run(json_output, stdout, stderr, interrupts)
        code, failure = EXIT_OK, None
        try:
            with contextlib.redirect_stdout(stderr):
                yield run
        except (Cancelled, KeyboardInterrupt):
            code, failure = EXIT_CANCELLED, ("Cancelled", "stopped by Ctrl-C; finished work is kept in the cache "
                                             "and a rerun resumes from it")
        except JobError as exc:
            code, failure = EXIT_FAILED, (type(exc).__name__, str(exc))
        except OSError as exc:
            where = f"{exc.filename}: " if exc.filename else ""
            code, failure = EXIT_FAILED, (type(exc).__name__, f"{where}{exc.strerror or exc}")
    if failure is not None:
        run._fail(code, *failure)
        raise typer.Exit(code)
    run._emit()
