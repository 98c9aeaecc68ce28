"""Long jobs in worker processes (core.workers, ui.jobs): another process, Cancel reaches it, errors keep their type."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from core.jobs import Cancelled, TooFewPhotosError
from core.workers import JobCall, WorkerPool

# The jobs below are module-level: a worker process imports this module by name to run them.


def whose_process(*, progress=None) -> int:
    progress(1, 1, "done")
    return os.getpid()


def too_few(n: int, *, progress=None):
    raise TooFewPhotosError(f"needs 3 photos, got {n}")


def count_slowly(marks: str, units: int, *, progress=None) -> int:
    """One line in ``marks`` per finished unit, 0.1 s a unit."""
    for i in range(units):
        time.sleep(0.1)
        with open(marks, "a") as out:
            out.write(f"{i}\n")
        progress(i + 1, units, f"{i + 1} of {units}")
    return units


def _lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


@pytest.fixture(scope="module")
def pool():
    pool = WorkerPool(1)
    yield pool
    pool.shutdown()


def test_a_job_runs_in_another_process_and_its_progress_comes_back(pool):
    job = pool.start(JobCall(whose_process))
    pid = job.future.result(timeout=120)
    assert pid != os.getpid()
    assert pid in pool.pids()
    assert job.updates(timeout=1) == [(1, 1, "done")]


def test_an_error_comes_back_as_its_type(pool):
    job = pool.start(JobCall(too_few, (2,)))
    with pytest.raises(TooFewPhotosError, match="needs 3 photos, got 2"):
        job.result()


def test_stop_cancels_the_job_between_two_units_and_keeps_the_worker(pool, tmp_path):
    marks = tmp_path / "marks"
    job = pool.start(JobCall(count_slowly, (str(marks), 600)))
    deadline = time.monotonic() + 120
    while _lines(marks) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    job.stop()
    with pytest.raises(Cancelled):
        job.future.result(timeout=30)
    stopped_at = _lines(marks)
    time.sleep(0.5)
    assert 3 <= stopped_at < 600 and _lines(marks) == stopped_at  # nothing more was done after the stop
    assert pool.start(JobCall(whose_process)).result() != os.getpid()  # the worker takes the next job


class StopScript(Exception):
    """What Streamlit raises at an st call when the script is stopped (Cancel, a rerun)."""


def test_run_job_path_stops_the_child_when_the_script_is_stopped(tmp_path, monkeypatch):
    from ui import jobs

    monkeypatch.setenv("FEEDLENS_MAX_JOBS", "1")
    marks = tmp_path / "marks"
    seen = []

    def progress(done, total, message):  # the bar: the script is stopped at its third update
        seen.append(done)
        if len(seen) == 3:
            raise StopScript()

    with pytest.raises(StopScript):
        jobs._run_in_worker(JobCall(count_slowly, (str(marks), 600)), progress)
    deadline = time.monotonic() + 20
    before = -1
    while time.monotonic() < deadline and before != _lines(marks):  # wait until the child stops writing
        before = _lines(marks)
        time.sleep(0.5)
    assert before == _lines(marks) < 600  # it stopped, long before the end


def test_run_job_draws_a_worker_job_and_returns_its_value_and_errors():
    from streamlit.testing.v1 import AppTest

    def page():
        import os

        import streamlit as st
        from test_workers import too_few, whose_process

        from core.workers import JobCall
        from ui.jobs import run_job

        outcome = run_job("Working…", JobCall(whose_process), key="cancel_a")
        st.write(f"pid {outcome.value} {outcome.value != os.getpid()}")
        failed = run_job("Failing…", JobCall(too_few, (1,)), key="cancel_b")
        st.write(f"error {type(failed.exception).__name__}: {failed.error}")

    app = AppTest.from_function(page, default_timeout=180).run()
    assert not app.exception
    texts = [m.value for m in app.markdown]
    assert any(t.startswith("pid ") and t.endswith(" True") for t in texts), texts
    assert "error TooFewPhotosError: needs 3 photos, got 1" in texts


def test_a_worker_does_not_run_the_servers_main_script(tmp_path, monkeypatch):
    """Streamlit runs each page script as ``__main__``: a spawned worker must not run it again."""
    import sys
    import types

    marker = tmp_path / "ran"
    script = tmp_path / "page_script.py"
    script.write_text(f"open({str(marker)!r}, 'w').write('ran')\n")
    page_module = types.ModuleType("__main__")
    page_module.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", page_module)
    pool = WorkerPool(1)
    try:
        assert pool.start(JobCall(whose_process)).result() != os.getpid()
    finally:
        pool.shutdown()
    assert sys.modules["__main__"] is page_module
    assert not marker.exists()


def test_workers_end_when_their_server_is_killed(tmp_path):
    """A server killed outright cannot stop its workers: they watch it and end themselves, so they do not
    compute on for nobody (and write to the cache a restarted server reads)."""
    import signal
    import subprocess
    import sys

    marks = tmp_path / "marks.txt"
    script = (
        "import sys, time\n"
        "sys.path.insert(0, sys.argv[2])\n"
        "from core.workers import JobCall, WorkerPool\n"
        "from tests.test_workers import count_slowly\n"
        "pool = WorkerPool(1)\n"
        "job = pool.start(JobCall(count_slowly, (sys.argv[1], 10_000)))\n"
        "while not job.updates(timeout=1): pass\n"
        "print(*pool.pids(), flush=True)\n"
        "time.sleep(600)\n"
    )
    repo = Path(__file__).resolve().parents[1]
    server = subprocess.Popen([sys.executable, "-c", script, str(marks), str(repo)], cwd=repo,
                              stdout=subprocess.PIPE, text=True)
    try:
        workers = [int(pid) for pid in server.stdout.readline().split()]
        assert workers and _lines(marks) > 0
    finally:
        server.send_signal(signal.SIGKILL)
        server.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in workers):
        time.sleep(0.2)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers), "a worker outlived its server"
    written = _lines(marks)
    time.sleep(1.0)
    assert _lines(marks) == written  # and nothing more was computed
