"""Batch speed, scale and faults: ``feedlens batch`` run as a user runs it, one process per command.

Every figure comes from ``python -m cli batch STEP ARCHIVE... --engine E
--workers N --json`` started as a subprocess (cwd: this checkout, a fresh
``FEEDLENS_CACHE_DIR`` per run unless said otherwise): its wall time, its
JSON document, and its process tree sampled with psutil every 0.5 s (RSS of
the CLI process, "the driver", and of each worker process it spawned). No
internal API is used, so the bench runs unchanged on any version of the
batch internals. Prints one JSON object per line: ``{"name", "value", "unit"}``.

Three modes:

- default, **speed**: ``--photos`` (2,000) photos of 1080×1080 made from the
  shared photos (``bench/ingest.py``'s ``make_photos``, distinct bytes, under
  ``bench/out/``), on a fresh cache: ``batch thumbnails`` then
  ``batch features`` (import + thumbnails + colour/texture), then
  ``batch faces``, in-process, ``--engine local`` and ``--engine dask`` with
  ``--workers`` (2), and Dask again with the nanny's
  ``MALLOC_TRIM_THRESHOLD_=65536`` (which Feedlens unsets: the workers'
  environment is read to check which one they got), and in-process and local
  again with one OpenMP/BLAS thread (``OMP_NUM_THREADS=1`` and the like, as
  the Dask nanny sets for its workers). ``--runs`` rounds, the
  engines alternating within a round; medians. The fixed cost of each engine
  is the wall time of the same commands on a 4-photo archive;
  ``*_net_*`` rates take it off.
- ``--scale N`` (100,000): N generated photos (see :func:`generated_photos`) in
  archives of at most 10,000 (an agency's accounts; a folder archive reads at
  most 50,000 files), one ``batch all`` on ``--engine dask``: wall time, peak
  RSS of the driver and of each worker, cache size, then the same command
  again, which must compute nothing.
- ``--faults``: ``batch all`` on ``--photos`` generated photos; one worker
  process SIGKILLed (by PID, found in the CLI's process tree) once a third of
  the photos are done by the progress on stderr: the job must finish with
  every photo once in the catalogue, no failure, every cache entry whole and a
  rerun computing nothing; then a poison photo that kills its worker every
  time (``core.batch.work.CRASH_HOOK_ENV``) must end in the failures table
  with exit code 3.

Run (``--quick`` for a small trial)::

    python bench/batch.py [--photos 2000] [--runs 3] [--workers 2]
    python bench/batch.py --scale 100000
    python bench/batch.py --faults [--photos 3000] [--engine dask]
    python bench/batch.py --all          # all three, at the sizes of issue 13 (hours on 2 cores)
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import multiprocessing
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "bench"))

from ingest import make_photos, shared_dir  # noqa: E402  (bench/ingest.py: the same 1080 px photos)

#: Where the generated photos are kept between runs (one folder per count).
GENERATED_ROOT = Path(tempfile.gettempdir()) / "feedlens-bench-batch"
GENERATED_SIDE = 256
ARCHIVE_MAX = 10_000
#: The progress line of the batch job on stderr (not a terminal): "... Batch all (...): ... [done/total]".
PROGRESS = re.compile(r"Batch .*\[(\d+)/(\d+)\]\s*$")
MB = 1024 * 1024


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 3), "unit": unit}), flush=True)


def note(text: str) -> None:
    print(f"# {text}", file=sys.stderr, flush=True)


# -- photos -------------------------------------------------------------------------------------------------
_SOURCES: list = []


def _load_sources(paths: list[str]) -> None:
    from PIL import Image, ImageOps

    for path in paths:
        with Image.open(path) as img:
            img.draft("RGB", (320, 320))  # a JPEG decoded at the smallest scale of at least 320 px: much faster
            _SOURCES.append(ImageOps.fit(img.convert("RGB"), (320, 320), Image.Resampling.BILINEAR))


def _write_generated(job: tuple[int, str]) -> None:
    from PIL import ImageOps

    i, path = job
    source, k = _SOURCES[i % len(_SOURCES)], i // len(_SOURCES)
    # 16 × 16 crop offsets, 4 px apart, of a 320 px square, then mirrored, flipped, both: distinct by (source, k).
    dx, dy = (k % 16) * 4, (k // 16 % 16) * 4
    photo = source.crop((dx, dy, dx + GENERATED_SIDE, dy + GENERATED_SIDE))
    if k // 256 % 2:
        photo = ImageOps.mirror(photo)
    if k // 512 % 2:
        photo = ImageOps.flip(photo)
    photo.save(path, "JPEG", quality=90)


def generated_photos(count: int) -> list[Path]:
    """``count`` distinct 256×256 JPEGs cropped from the shared photos, in archives of at most 10,000.

    The sources are every photo of ``photos-imagenet-coarse6``,
    ``instaloader-top20-celebs`` (portraits: about half the photos have a
    face) and ``faces-deepface-pairs``, each fitted to 320×320; photo ``i`` is
    source ``i % S`` cropped to 256×256 at one of 256 offsets, then mirrored
    and/or flipped: up to 1,024 distinct crops per source. Names are unique
    across archives (``photo_000123.jpg``). Kept under
    ``$TMPDIR/feedlens-bench-batch/generated-COUNT/`` and reused; made with
    one process per core.
    """
    root = GENERATED_ROOT / f"generated-{count}"
    archives = 1 if count < 1000 else max(2, math.ceil(count / ARCHIVE_MAX))
    per = math.ceil(count / archives)
    folders = [root / f"account_{a:02d}" for a in range(archives)]
    if (root / ".complete").exists():
        return folders
    data = shared_dir() / "data"
    sources = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    sources += sorted((data / "instaloader-top20-celebs" / "DATA" / "IMAGES").rglob("*.jpg"))
    sources += sorted((data / "faces-deepface-pairs").rglob("*.jpg"))
    if not sources:
        raise SystemExit(f"no photos found under {data} (set FEEDLENS_SHARED_DIR)")
    sources = list({hashlib.sha256(p.read_bytes()).digest(): p for p in reversed(sources)}.values())[::-1]  # twins
    if count > 1024 * len(sources):
        raise SystemExit(f"at most {1024 * len(sources)} distinct generated photos")
    shutil.rmtree(root, ignore_errors=True)
    for folder in folders:
        folder.mkdir(parents=True)
    jobs = [(i, str(folders[i // per] / f"photo_{i:06d}.jpg")) for i in range(count)]
    start = time.perf_counter()
    processes = min(os.cpu_count() or 1, math.ceil(count / 1000))  # each one loads every source first
    with multiprocessing.get_context("fork").Pool(processes, _load_sources,
                                                  ([str(p) for p in sources],)) as pool:
        for _ in pool.imap_unordered(_write_generated, jobs, chunksize=256):
            pass
    (root / ".complete").touch()
    note(f"generated {count} photos in {time.perf_counter() - start:.0f} s under {root}")
    return folders


def tiny_archive() -> Path:
    """Four generated photos: a run on it is the fixed cost of a command and its engine."""
    return generated_photos(4)[0]


# -- one command --------------------------------------------------------------------------------------------
@dataclass
class ProcessPeak:
    pid: int
    role: str  # "driver", "worker" (a spawned process: a Dask or pool worker) or "other"
    started: float
    peak: int = 0
    malloc_trim: str | None = None  # the worker's MALLOC_TRIM_THRESHOLD_, read once


class TreeMonitor(threading.Thread):
    """Samples the RSS of a process and of every descendant every ``interval`` seconds."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.seen: dict[int, ProcessPeak] = {}
        self.tree_peak = 0
        self.stopped = threading.Event()
        self.lock = threading.Lock()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.sample()
            self.stopped.wait(self.interval)

    def sample(self) -> None:
        try:
            procs = [self.root, *self.root.children(recursive=True)]
        except psutil.Error:
            return
        total = 0
        with self.lock:
            for proc in procs:
                try:
                    rss = proc.memory_info().rss
                    info = self.seen.get(proc.pid)
                    if info is None:
                        info = self.seen[proc.pid] = self._describe(proc)
                except psutil.Error:
                    continue
                info.peak = max(info.peak, rss)
                total += rss
            self.tree_peak = max(self.tree_peak, total)

    def _describe(self, proc: psutil.Process) -> ProcessPeak:
        if proc.pid == self.root.pid:
            return ProcessPeak(proc.pid, "driver", proc.create_time())
        command = " ".join(proc.cmdline())
        worker = "spawn_main" in command and "resource_tracker" not in command
        info = ProcessPeak(proc.pid, "worker" if worker else "other", proc.create_time())
        if worker:
            info.malloc_trim = proc.environ().get("MALLOC_TRIM_THRESHOLD_")
        return info

    def live_workers(self) -> list[int]:
        try:
            children = self.root.children(recursive=True)
        except psutil.Error:
            return []
        self.sample()
        with self.lock:
            return [p.pid for p in children if p.pid in self.seen and self.seen[p.pid].role == "worker"]

    def workers(self) -> list[ProcessPeak]:
        with self.lock:
            return sorted((p for p in self.seen.values() if p.role == "worker"), key=lambda p: p.started)

    def driver_peak(self) -> int:
        return self.seen[self.root.pid].peak if self.root.pid in self.seen else 0

    def stop(self) -> None:
        self.stopped.set()
        self.join()


@dataclass
class CliRun:
    """One ``feedlens batch`` process: exit code, wall time, JSON document, stderr tail, process peaks."""

    returncode: int
    seconds: float
    doc: dict | None
    stderr_tail: list[str]
    monitor: TreeMonitor
    progress: tuple[int, int] = (0, 0)
    extra: dict = field(default_factory=dict)

    @property
    def computed(self) -> int:
        return sum((self.doc or {}).get("computed", {}).values())

    def check(self, expect: int = 0) -> "CliRun":
        if self.returncode != expect:
            tail = "\n".join(self.stderr_tail[-25:])
            raise SystemExit(f"feedlens batch exited {self.returncode} (expected {expect}):\n{tail}")
        return self


def kill_tree(pid: int) -> None:
    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)


def feedlens_batch(step: str, archives: list[Path], cache: Path, *, engine: str, workers: int,
                   chunk: int | None = None, env: dict | None = None, timeout: float = 24 * 3600,
                   watch=None) -> CliRun:
    """Run ``python -m cli batch STEP ARCHIVE... --json`` here; ``watch(done, total, monitor)`` on each progress line."""
    command = [sys.executable, "-m", "cli", "batch", step, *map(str, archives), "--engine", engine,
               "--workers", str(workers), "--json"]
    if chunk:
        command += ["--chunk", str(chunk)]
    full_env = {**os.environ, "FEEDLENS_CACHE_DIR": str(cache), **(env or {})}
    full_env.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir() / "models"))
    full_env = {k: v for k, v in full_env.items() if v is not None}
    tail: deque[str] = deque(maxlen=400)
    progress = [0, 0]
    with tempfile.TemporaryFile("w+") as stdout:
        start = time.perf_counter()
        proc = subprocess.Popen(command, cwd=REPO, env=full_env, stdout=stdout, stderr=subprocess.PIPE, text=True,
                                errors="replace")
        monitor = TreeMonitor(proc.pid)
        monitor.start()

        def read_stderr() -> None:
            for line in proc.stderr:
                tail.append(line.rstrip("\n"))
                match = PROGRESS.search(line)
                if match:
                    progress[:] = int(match.group(1)), int(match.group(2))
                    if watch is not None:
                        watch(progress[0], progress[1], monitor)

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        try:
            returncode = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            kill_tree(proc.pid)
            returncode = -9
            tail.append(f"bench: killed after {timeout:.0f} s")
        except BaseException:
            kill_tree(proc.pid)
            raise
        seconds = time.perf_counter() - start
        monitor.stop()
        reader.join(timeout=10)
        stdout.seek(0)
        text = stdout.read()
    try:
        doc = json.loads(text) if text.strip() else None
    except ValueError:
        doc = None
    return CliRun(returncode, seconds, doc, list(tail), monitor, tuple(progress))


# -- the cache, checked from outside --------------------------------------------------------------------------
def cache_size(root: Path) -> tuple[int, int]:
    """(bytes, files) of everything under ``root``."""
    size = files = 0
    for folder, _, names in os.walk(root):
        for name in names:
            try:
                size += os.stat(os.path.join(folder, name)).st_size
                files += 1
            except OSError:
                pass
    return size, files


def broken_entries(root: Path) -> tuple[list[str], list[str], int]:
    """(corrupt entries, leftover temporary files, entries checked) of the cache at ``root``.

    Every image must decode, every ``.npy``/``.npz`` load, every JSON parse,
    every Parquet table read; a ``.tmp-*`` file is a write that never finished
    (not an entry: readers never see it, but it is litter).
    """
    import numpy as np
    import pyarrow.parquet as pq
    from PIL import Image

    corrupt, temporary, checked = [], [], 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        if path.name.startswith(".tmp-"):
            temporary.append(str(path.relative_to(root)))
            continue
        suffix = path.suffix.lower()
        try:
            if suffix in (".jpg", ".jpeg", ".png", ".webp"):
                with Image.open(path) as img:
                    img.load()
            elif suffix == ".npy":
                np.load(path, allow_pickle=False)
            elif suffix == ".npz":
                with np.load(path, allow_pickle=False) as packed:
                    for name in packed.files:
                        packed[name]
            elif suffix == ".json":
                json.loads(path.read_text())
            elif suffix == ".parquet":
                pq.read_table(path)
            else:
                continue
        except Exception as exc:  # noqa: BLE001 - any failure to read is a corrupt entry
            corrupt.append(f"{path.relative_to(root)}: {type(exc).__name__}: {exc}")
            continue
        checked += 1
    return corrupt, temporary, checked


def catalogue_counts(cache: Path, doc: dict) -> dict[str, int]:
    """How often each photo file appears in the catalogues of the archives ``doc`` names (read from the cache)."""
    import pyarrow.parquet as pq

    counts: dict[str, int] = defaultdict(int)
    for archive in doc.get("archives", []):
        tables = sorted(cache.rglob(f"{archive['key']}*.parquet"))
        if not tables:
            raise SystemExit(f"no catalogue for {archive['name']} ({archive['key']}) in {cache}")
        for name in pq.read_table(tables[0], columns=["file"]).column("file").to_pylist():
            counts[Path(name).name] += 1
    return counts


# -- the modes ----------------------------------------------------------------------------------------------
def speed(args) -> None:
    folder = make_photos(REPO / "bench" / "out" / f"batch-{args.photos}", args.photos, distinct=True)
    n = len(list(folder.glob("*.jpg")))
    tiny = tiny_archive()
    chunk = args.chunk or min(128, max(8, n // (4 * args.workers)))
    # Dask's nanny also gives its workers one OpenMP/BLAS thread each (distributed's default pre-spawn-environ,
    # which dask.yaml keeps): *_threads1 runs the other engines so too.
    one_thread = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    variants = [("inprocess", "inprocess", {}), ("local", "local", {}), ("dask", "dask", {}),
                ("dask_malloc65536", "dask", {"MALLOC_TRIM_THRESHOLD_": "65536"}),
                ("inprocess_threads1", "inprocess", one_thread), ("local_threads1", "local", one_thread)]
    figures: dict[str, list[float]] = defaultdict(list)
    emit("batch_photos", n, "photos")
    emit("batch_chunk", chunk, "photos")
    for round_ in range(args.runs):
        for name, engine, env in variants:
            with tempfile.TemporaryDirectory(prefix="feedlens-bench-batch-") as tmp:
                cache = Path(tmp)
                kwargs = dict(engine=engine, workers=args.workers, env=env)
                # The fixed cost: the same three commands on four photos, in their own cache.
                fixed = [feedlens_batch(step, [tiny], cache / "tiny", **kwargs).check()
                         for step in ("thumbnails", "features", "faces")]
                thumbs = feedlens_batch("thumbnails", [folder], cache / "c", chunk=chunk, **kwargs).check()
                features = feedlens_batch("features", [folder], cache / "c", chunk=chunk, **kwargs).check()
                faces = feedlens_batch("faces", [folder], cache / "c", chunk=chunk, **kwargs).check()
            for run in (thumbs, features, faces):
                assert run.doc["photos"] == n and not run.doc["failures"], (run.doc["photos"], run.doc["failures"])
            assert features.doc["computed"]["features"] == n and faces.doc["computed"]["faces"] == n
            trims = {w.malloc_trim for run in (*fixed, thumbs, features, faces) for w in run.monitor.workers()}
            if engine == "dask":
                expected = env.get("MALLOC_TRIM_THRESHOLD_")
                assert trims == {expected}, f"{name}: workers had MALLOC_TRIM_THRESHOLD_ in {trims}"
            fixed_colour = fixed[0].seconds + fixed[1].seconds
            colour = thumbs.seconds + features.seconds
            figures[f"batch_{name}_photos_per_s"].append(n / colour)
            figures[f"batch_{name}_faces_photos_per_s"].append(n / faces.seconds)
            figures[f"batch_{name}_fixed_s"].append(fixed_colour)
            figures[f"batch_{name}_faces_fixed_s"].append(fixed[2].seconds)
            figures[f"batch_{name}_net_photos_per_s"].append(n / max(colour - fixed_colour, 1e-3))
            figures[f"batch_{name}_faces_net_photos_per_s"].append(n / max(faces.seconds - fixed[2].seconds, 1e-3))
            figures[f"batch_{name}_features_job_photos_per_s"].append(features.doc["photos_per_s"])
            figures[f"batch_{name}_driver_peak_mb"].append(
                max(r.monitor.driver_peak() for r in (thumbs, features, faces)) / MB)
            workers = [w.peak for r in (thumbs, features, faces) for w in r.monitor.workers()]
            if workers:
                figures[f"batch_{name}_worker_peak_mb"].append(max(workers) / MB)
            note(f"round {round_ + 1}/{args.runs} {name}: thumbnails {thumbs.seconds:.1f} s, features "
                 f"{features.seconds:.1f} s, faces {faces.seconds:.1f} s; fixed {fixed_colour:.1f} + "
                 f"{fixed[2].seconds:.1f} s")
    for name, values in figures.items():
        unit = "photos/s" if name.endswith("per_s") else "s" if name.endswith("_s") else "MB"
        emit(name, statistics.median(values), unit)


def scale(args) -> None:
    count = args.scale
    folders = generated_photos(count)
    chunk = args.chunk
    with tempfile.TemporaryDirectory(prefix="feedlens-bench-batch-", dir=args.cache_parent) as tmp:
        cache = Path(tmp)
        first = feedlens_batch("all", folders, cache, engine=args.engine, workers=args.workers, chunk=chunk).check()
        doc = first.doc
        assert doc["photos"] == count and not doc["failures"], (doc["photos"], doc["failures"][:5])
        size, files = cache_size(cache)
        rerun = feedlens_batch("all", folders, cache, engine=args.engine, workers=args.workers, chunk=chunk).check()
    emit(f"batch_{count}_archives", len(folders), "archives")
    emit(f"batch_{count}_s", first.seconds, "s")
    emit(f"batch_{count}_photos_per_s", count / first.seconds, "photos/s")
    emit(f"batch_{count}_job_s", doc["seconds"], "s")
    emit(f"batch_{count}_driver_peak_mb", first.monitor.driver_peak() / MB, "MB")
    emit(f"batch_{count}_tree_peak_mb", first.monitor.tree_peak / MB, "MB")
    for i, worker in enumerate(first.monitor.workers(), 1):
        emit(f"batch_{count}_worker{i}_peak_mb", worker.peak / MB, "MB")
    emit(f"batch_{count}_cache_mb", size / MB, "MB")
    emit(f"batch_{count}_cache_files", files, "files")
    for step, n in doc["computed"].items():
        emit(f"batch_{count}_computed_{step}", n, "photos")
    emit("batch_rerun_computed", rerun.computed, "photos")
    emit("batch_rerun_s", rerun.seconds, "s")
    emit(f"batch_{count}_rerun_driver_peak_mb", rerun.monitor.driver_peak() / MB, "MB")


def faults(args) -> None:
    prefix = "batch" if args.engine == "dask" else f"batch_{args.engine}"
    folders = generated_photos(args.photos)
    n = args.photos
    chunk = args.chunk or min(128, max(8, n // (8 * args.workers)))
    killed: list[tuple[int, int]] = []  # (pid, done) of the worker killed

    def kill_one(done: int, total: int, monitor: TreeMonitor) -> None:
        if killed or not total or done < total / 3:
            return
        pids = monitor.live_workers()
        if pids:
            os.kill(pids[0], signal.SIGKILL)
            killed.append((pids[0], done))
            note(f"killed worker {pids[0]} at {done} of {total} photos")

    with tempfile.TemporaryDirectory(prefix="feedlens-bench-batch-") as tmp:
        cache = Path(tmp)
        run = feedlens_batch("all", folders, cache, engine=args.engine, workers=args.workers, chunk=chunk,
                             watch=kill_one, timeout=3600)
        if not killed:
            raise SystemExit(f"no worker was killed (progress {run.progress}): more --photos")
        doc = run.doc or {}
        failed = {Path(f["file"]).name for f in doc.get("failures", [])}
        counts = catalogue_counts(cache, doc) if doc else {}
        names = [f"photo_{i:06d}.jpg" for i in range(n)]
        not_once = {name for name in names if counts.get(name, 0) != 1}
        corrupt, temporary, checked = broken_entries(cache)
        rerun = feedlens_batch("all", folders, cache, engine=args.engine, workers=args.workers, chunk=chunk)
        workers_seen = len(run.monitor.workers())
    for line in corrupt[:10]:
        note(f"corrupt: {line}")
    emit(f"{prefix}_kill_photos", n, "photos")
    emit(f"{prefix}_kill_exit_code", run.returncode, "code")
    emit(f"{prefix}_kill_at_done", killed[0][1], "photos")
    emit(f"{prefix}_kill_worker_processes_seen", workers_seen, "processes")
    emit(f"{prefix}_kill_s", run.seconds, "s")
    # Missing: a photo not handled, not exactly once in the catalogue, failed, or computed again by the rerun.
    handled = doc.get("photos", 0)  # distinct photos the job handled (each once, failed or not)
    missing = max(len(not_once | failed), n - handled) + max(rerun.doc["computed"].values(), default=0)
    emit(f"{prefix}_kill_missing", missing, "photos")
    emit(f"{prefix}_kill_failures", len(failed), "photos")
    emit(f"{prefix}_kill_corrupt_entries", len(corrupt), "entries")
    emit(f"{prefix}_kill_entries_checked", checked, "entries")
    emit(f"{prefix}_kill_temp_files", len(temporary), "files")
    emit(f"{prefix}_kill_rerun_computed", rerun.computed, "photos")

    # A poison photo: its worker dies each time it reaches it.
    poison_folders = generated_photos(args.poison_photos)
    poison = f"photo_{args.poison_photos // 2:06d}.jpg"
    with tempfile.TemporaryDirectory(prefix="feedlens-bench-batch-") as tmp:
        marker = Path(tmp) / "crash.json"
        marker.write_text(json.dumps({"file": poison, "once": False}))
        run = feedlens_batch("all", poison_folders, Path(tmp) / "cache", engine=args.engine, workers=args.workers,
                             chunk=16, env={"FEEDLENS_BATCH_TEST_CRASH": str(marker)}, timeout=1800)
    failures = (run.doc or {}).get("failures", [])
    emit(f"{prefix}_poison_exit_code", run.returncode, "code")
    emit(f"{prefix}_poison_failed", sum(Path(f["file"]).name == poison for f in failures), "photos")
    emit(f"{prefix}_poison_other_failures", sum(Path(f["file"]).name != poison for f in failures), "photos")
    emit(f"{prefix}_poison_s", run.seconds, "s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=None,
                        help="speed: 1080 px photos (2,000); faults: generated photos (3,000)")
    parser.add_argument("--runs", type=int, default=3, help="speed: rounds (medians)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--chunk", type=int, default=None,
                        help="photos per task (default: 128, or fewer so that each worker gets several)")
    parser.add_argument("--scale", type=int, default=None, metavar="N", help="the scale run on N generated photos")
    parser.add_argument("--faults", action="store_true", help="the killed worker and the poison photo")
    parser.add_argument("--engine", default="dask", choices=["local", "dask"], help="--scale and --faults")
    parser.add_argument("--poison-photos", type=int, default=200, help="--faults: photos of the poison run")
    parser.add_argument("--cache-parent", default=None, help="--scale: where the cache goes (default: $TMPDIR)")
    parser.add_argument("--quick", action="store_true", help="a small trial: 200 photos, one round")
    parser.add_argument("--all", action="store_true",
                        help="every figure of issue 13 in one go: speed, --scale 100000, --faults (hours)")
    args = parser.parse_args()
    if args.quick:
        args.runs = 1
        args.photos = args.photos or 200
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir() / "models"))
    emit("batch_cpu_count", os.cpu_count() or 0, "cores")
    emit("batch_workers", args.workers, "processes")
    if args.all:
        photos = args.photos
        args.photos = photos or 2000
        speed(args)
        args.scale = args.scale or 100_000
        scale(args)
        args.photos = photos or 3000
        faults(args)
    elif args.scale:
        scale(args)
    elif args.faults:
        args.photos = args.photos or 3000
        faults(args)
    else:
        args.photos = args.photos or 2000
        speed(args)


if __name__ == "__main__":
    main()
