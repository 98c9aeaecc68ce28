"""``feedlens batch`` as it runs for real: on a ``dask scheduler`` and ``dask worker`` processes, and under Ctrl-C.

The cluster is the README's ("Running a batch for real"), on loopback: one
``dask scheduler`` and two ``dask worker`` processes (two "machines", one
single-threaded worker each), every one started as its own command with the
shipped ``core/batch/dask.yaml`` as ``DASK_CONFIG``; the batch is
``python -m cli batch all ARCHIVE --engine dask --address tcp://127.0.0.1:PORT``.
Every process is started in its own session and killed with its children when
the module ends, pass or fail.

Without ``DASK_CONFIG`` a worker's nanny sets ``MALLOC_TRIM_THRESHOLD_=65536``
(distributed's default), so the test that workers have none can fail.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
BOSTON = "instaloader-boston-2accounts"  # 25 photos
PROGRESS = re.compile(r"Batch .*\[(\d+)/(\d+)\]\s*$")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop(proc: subprocess.Popen) -> None:
    """End ``proc`` and everything in its session (a worker's nanny and its worker process)."""
    for sig, wait in ((signal.SIGTERM, 15), (signal.SIGKILL, 10)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # what the leader left behind
        return


def _session_alive(pid: int, grace: float = 5.0) -> bool:
    """Whether a process of the session led by ``pid`` is still there after ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while True:
        try:
            os.killpg(pid, 0)
        except ProcessLookupError:
            return False
        if time.monotonic() > deadline:
            return True
        time.sleep(0.2)


def _env(cache: Path, shared_dir: Path) -> dict:
    env = {**os.environ, "FEEDLENS_CACHE_DIR": str(cache), "FEEDLENS_MODEL_DIR": str(shared_dir / "models"),
           "PYTHONPATH": str(REPO), "DASK_CONFIG": str(REPO / "core" / "batch" / "dask.yaml")}
    env.pop("MALLOC_TRIM_THRESHOLD_", None)
    env.pop("DASK_SCHEDULER_ADDRESS", None)
    return env


def _feedlens_batch(*args, env: dict) -> tuple[subprocess.CompletedProcess, dict]:
    proc = subprocess.run([sys.executable, "-m", "cli", "batch", *map(str, args), "--json"], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc, json.loads(proc.stdout)


def _broken_entries(root: Path) -> list[str]:
    """Cache files that do not read back whole: images that do not decode, arrays, JSON, Parquet that do not load."""
    import pyarrow.parquet as pq

    broken = []
    for path in (p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".tmp-")):
        try:
            if path.suffix in (".jpg", ".png", ".webp"):
                with Image.open(path) as img:
                    img.load()
            elif path.suffix == ".npy":
                np.load(path, allow_pickle=False)
            elif path.suffix == ".json":
                json.loads(path.read_text())
            elif path.suffix == ".parquet":
                pq.read_table(path)
        except Exception as exc:  # noqa: BLE001 - any failure to read back is a broken entry
            broken.append(f"{path.relative_to(root)}: {exc}")
    return broken


@pytest.fixture(scope="module")
def scheduler_address(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    """``dask scheduler`` and two ``dask worker`` processes on 127.0.0.1, as the README starts them."""
    pytest.importorskip("distributed")
    from distributed import Client

    logs = tmp_path_factory.mktemp("dask-logs")
    env = _env(logs / "unused-cache", shared_dir)
    address = f"tcp://127.0.0.1:{_free_port()}"
    commands = [[sys.executable, "-m", "dask", "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                 "--no-dashboard"]]
    commands += [[sys.executable, "-m", "dask", "worker", address, "--nworkers", "1", "--nthreads", "1",
                  "--host", "127.0.0.1", "--no-dashboard", "--name", f"machine-{i}",
                  "--local-directory", str(logs / f"machine-{i}")] for i in (1, 2)]
    started: list[subprocess.Popen] = []
    try:
        for i, command in enumerate(commands):
            with open(logs / f"process-{i}.log", "wb") as log:
                started.append(subprocess.Popen(command, cwd=logs, env=env, stdout=log, stderr=subprocess.STDOUT,
                                                start_new_session=True))
        with Client(address, timeout=60) as client:
            client.wait_for_workers(2, timeout=120)
        yield address
    except Exception:
        for log in sorted(logs.glob("process-*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}", file=sys.stderr)
        raise
    finally:
        for proc in reversed(started):
            _stop(proc)
        assert not any(_session_alive(proc.pid) for proc in started)


def test_dask_workers_started_with_the_shipped_config_have_no_malloc_trim_threshold(scheduler_address):
    import dask
    from distributed import Client

    with Client(scheduler_address) as client:
        environment = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
        retries = client.run_on_scheduler(lambda: dask.config.get("distributed.scheduler.allowed-failures"))
    assert len(environment) == 2 and set(environment.values()) == {None}
    assert retries == 2  # the shipped config's, not distributed's default of 3: the scheduler read it too


def test_batch_all_on_a_real_scheduler_fills_the_cache_and_a_rerun_computes_nothing(
        scheduler_address, data_dir: Path, shared_dir: Path, tmp_path: Path):
    from distributed import Client

    def tasks_seen() -> int:
        with Client(scheduler_address) as client:
            return client.run_on_scheduler(lambda dask_scheduler: sum(
                sum(prefix.state_counts.values()) for prefix in dask_scheduler.task_prefixes.values()))

    env = _env(tmp_path / "cache", shared_dir)
    args = ["all", data_dir / BOSTON, "--engine", "dask", "--address", scheduler_address, "--chunk", "8"]
    before = tasks_seen()
    proc, doc = _feedlens_batch(*args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert doc["engine"] == "dask" and doc["photos"] == 25 and doc["failures"] == []
    assert doc["computed"]["features"] == doc["computed"]["faces"] == 25
    assert tasks_seen() - before >= 4  # the chunks ran on this scheduler's workers, not on a local cluster
    assert _broken_entries(tmp_path / "cache") == []
    # The workers wrote the cache the app reads: `feedlens features` (the Explore page's) finds every photo there.
    features = subprocess.run([sys.executable, "-m", "cli", "features", data_dir / BOSTON, "--features",
                               "colour_texture", "--json"], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=300)
    assert features.returncode == 0, features.stderr[-3000:]
    assert (json.loads(features.stdout)["computed"], json.loads(features.stdout)["reused"]) == (0, 25)
    proc, rerun = _feedlens_batch(*args, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert sum(rerun["computed"].values()) == 0
    assert rerun["reused"] == {"import": 25, "thumbnails": 25, "features": 25, "faces": 25}


@pytest.fixture(scope="module")
def four_hundred_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """400 small photos of distinct bytes: blurred 8×8 colour noise at 192×192."""
    folder = tmp_path_factory.mktemp("four-hundred")
    rng = np.random.default_rng(130)
    for i in range(400):
        block = Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
        block.resize((192, 192), Image.Resampling.BILINEAR).save(folder / f"p{i:03d}.jpg", quality=85)
    return folder


def test_ctrl_c_stops_a_local_batch_with_130_whole_entries_and_a_rerun_does_only_the_rest(
        four_hundred_photos: Path, shared_dir: Path, tmp_path: Path):
    """Ctrl-C as a terminal sends it: SIGINT to the whole process group, the worker processes too."""
    cache = tmp_path / "cache"
    # One OpenMP/BLAS thread per worker process, as Dask's nanny gives its workers: two processes with a thread
    # per core each on a small machine are several times slower (bench/batch.py, *_threads1).
    env = {**_env(cache, shared_dir), "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    args = ["all", four_hundred_photos, "--engine", "local", "--workers", "2", "--chunk", "8", "--json"]
    out_file = tmp_path / "stdout.json"
    with open(out_file, "wb") as out:  # a file, not a pipe: a worker left behind cannot hold the test up
        proc = subprocess.Popen([sys.executable, "-m", "cli", "batch", *map(str, args)], cwd=REPO, env=env,
                                stdout=out, stderr=subprocess.PIPE, text=True, start_new_session=True)
    stderr: list[str] = []
    interrupted_at: list[int] = []

    def read_stderr() -> None:
        for line in proc.stderr:
            stderr.append(line)
            match = PROGRESS.search(line)
            if match and not interrupted_at and 0 < int(match.group(1)) < int(match.group(2)):
                interrupted_at.append(int(match.group(1)))
                os.killpg(proc.pid, signal.SIGINT)

    reader = threading.Thread(target=read_stderr, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=300)
        reader.join(timeout=30)
        left_behind = _session_alive(proc.pid)  # the worker processes get a moment to go after the driver
    finally:
        _stop(proc)
    out = out_file.read_text()
    text = "".join(stderr)
    assert interrupted_at, f"no progress was printed before the end:\n{text[-3000:]}"
    assert proc.returncode == 130, text[-3000:]
    assert "Traceback" not in text, text[-3000:]
    assert json.loads(out)["error"]["type"] == "Cancelled"
    assert not left_behind, "a worker process outlived Ctrl-C"
    assert _broken_entries(cache) == []

    # The per-photo entries written before Ctrl-C (named by the photo's sha256): the rerun must not redo them.
    shas = {hashlib.sha256(p.read_bytes()).hexdigest() for p in four_hundred_photos.glob("*.jpg")}
    written = {p: p.stat().st_mtime_ns for p in cache.rglob("*") if p.is_file() and p.stem in shas}
    assert written
    rerun_proc, rerun = _feedlens_batch(*args[:-1], env=env)
    assert rerun_proc.returncode == 0, rerun_proc.stderr[-3000:]
    assert rerun["photos"] == 400 and rerun["failures"] == []
    for stage in ("import", "features", "faces"):
        assert rerun["computed"][stage] + rerun["reused"][stage] == 400
    # Progress counts the import's files, then the steps' photos: what was done before Ctrl-C is read back, not
    # redone, and the rest is done now.
    assert interrupted_at[0] <= sum(rerun["reused"][stage] for stage in ("import", "features", "faces"))
    assert sum(rerun["computed"].values()) > 0
    assert {p: p.stat().st_mtime_ns for p in written} == written
    _, again = _feedlens_batch(*args[:-1], env=env)
    assert sum(again["computed"].values()) == 0
