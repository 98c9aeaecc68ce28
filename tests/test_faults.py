"""Faults: the server (or a worker) killed with SIGKILL in the middle of a long job.

What a kill must never do: leave a damaged cache entry that a later run reads,
stop the next run from completing, or lose what the user saved (person names).

* Real browser, real server: a face index build is killed halfway (SIGKILL of
  the ``streamlit run`` process), the server restarted on the same cache; the
  page offers to continue, the build completes, a person is named, the server
  is killed again right after, and the index and the name are on disk, whole
  (the Faces page reads both from there).
* Subprocesses running the core jobs on real photos, killed after some entries
  exist: feature extraction for Explore (the resumed run equals an
  uninterrupted one), the face index, and saves of the people book (the kill can
  land inside a save: the book is the old or the new one, never damaged).
* The mosaic: a solve runs in a child process of the server; when the server is
  killed, that child must go too rather than run on for nothing.

Every cache file is loaded after each kill (``.npy`` with NumPy, ``.json``,
``.parquet`` with pandas, images with Pillow). Files a kill cut off before
their rename (``.tmp-*``, ``*.part``) are never read as entries; they are
counted apart.
"""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from conftest import open_folder  # noqa: E402

from core.cache import DiskCache, sha256_file  # noqa: E402

# -- helpers ---------------------------------------------------------------------------------


def check_cache(root: Path) -> tuple[dict[str, int], list[Path]]:
    """Load every entry under ``root``; fail on any damaged one.

    Returns the number of entries per suffix and the cut-off temporary files.
    """
    counts: dict[str, int] = {}
    temps: list[Path] = []
    bad: list[str] = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        if path.name.startswith(".tmp-") or path.name.endswith(".part"):
            temps.append(path)
            continue
        suffix = path.suffix.lower()
        try:
            if suffix == ".npy":
                np.load(path, allow_pickle=False)
            elif suffix == ".json":
                json.loads(path.read_bytes())
            elif suffix == ".parquet":
                pd.read_parquet(path)
            elif suffix in (".jpg", ".jpeg", ".png", ".webp"):
                with Image.open(path) as image:
                    image.load()
            elif suffix == ".txt":
                path.read_text(encoding="utf-8")
        except Exception as exc:  # noqa: BLE001 - any failure to load is a damaged entry
            bad.append(f"{path.relative_to(root)}: {type(exc).__name__}: {exc}")
        counts[suffix] = counts.get(suffix, 0) + 1
    assert not bad, "damaged cache entries after the kill:\n" + "\n".join(bad)
    return counts, temps


class Child:
    """A Python child running ``code``; its stdout lines are read (in a thread) with a deadline."""

    def __init__(self, code: str, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(code), *args],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.put(line.strip())
        self.lines.put(None)

    def wait_for(self, pattern: str, timeout: float) -> re.Match:
        """Read lines until one matches ``pattern`` (a regex); fail at the deadline or when the child ends."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
            if m := re.fullmatch(pattern, line):
                return m
        self.kill()
        err = self.proc.stderr.read() if self.proc.stderr else ""
        pytest.fail(f"child never printed {pattern!r}; last lines {self.seen[-5:]}; stderr:\n{err[-3000:]}")

    def kill(self) -> None:
        """SIGKILL (if still running) and reap."""
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)


def child_env(cache: Path, shared_dir: Path) -> dict[str, str]:
    return dict(os.environ, FEEDLENS_CACHE_DIR=str(cache), FEEDLENS_MODEL_DIR=str(shared_dir / "models"),
                PYTHONPATH=str(REPO))


# -- Explore: feature extraction -------------------------------------------------------------

FEATURES_JOB = """
    import sys
    from pathlib import Path
    from core.cache import DiskCache, sha256_file
    from core.explore.features import ColourTexture, compute_features
    paths = sorted(Path(sys.argv[1]).rglob("*.JPEG"))[: int(sys.argv[2])]
    items = [(sha256_file(p), p) for p in paths]
    compute_features(items, ColourTexture(), cache=DiskCache(sys.argv[3]), chunk=4,
                     progress=lambda done, total, message: print(done, total, flush=True))
    print("finished", flush=True)
"""


def test_features_killed_halfway_resume_to_the_same_result(data_dir: Path, shared_dir: Path, tmp_path: Path) -> None:
    from core.explore.features import ColourTexture, _entry_kind, compute_features

    n = 60
    photos = data_dir / "photos-imagenet-coarse6" / "images"
    paths = sorted(photos.rglob("*.JPEG"))[:n]
    assert len(paths) == n
    cache_root = tmp_path / "cache"
    job = Child(FEATURES_JOB, str(photos), str(n), str(cache_root), env=child_env(cache_root, shared_dir))
    job.wait_for(r"(1[2-9]|[2-5]\d) 60", timeout=120)  # at least 12 of 60 done, not all
    job.kill()  # SIGKILL, in the middle of the next chunk

    counts, temps = check_cache(cache_root)
    kind_dir = cache_root / _entry_kind(ColourTexture().cache_tag)
    kept = len(list(kind_dir.rglob("*.npy")))
    assert 12 <= kept < n, (kept, counts)

    items = [(sha256_file(p), p) for p in paths]
    resumed = compute_features(items, ColourTexture(), cache=DiskCache(cache_root))
    assert resumed.reused == kept and resumed.computed == n - kept
    assert resumed.valid.all()
    fresh = compute_features(items, ColourTexture(), cache=DiskCache(tmp_path / "clean"))
    np.testing.assert_allclose(resumed.features, fresh.features, rtol=1e-6, atol=1e-7)
    check_cache(cache_root)
    print(f"features: kill kept {kept}/{n} entries, {len(temps)} cut-off temp file(s); {counts}")


# -- Faces: the index, and the people book -----------------------------------------------------

FACES_JOB = """
    import sys
    from core.archive.catalogue import load_folder
    from core.cache import DiskCache
    from core.faces.engine import FaceEngine
    from core.faces.index import build_face_index
    cache = DiskCache(sys.argv[2])
    archive = load_folder(sys.argv[1], cache=cache)
    print("catalogue", archive.n_images, flush=True)
    build_face_index(archive.catalogue, FaceEngine(), cache=cache,
                     progress=lambda done, total, message: print(done, total, flush=True))
    print("finished", flush=True)
"""


def test_face_index_killed_halfway_keeps_names_and_completes(data_dir: Path, shared_dir: Path, tmp_path: Path) -> None:
    from core.archive.catalogue import load_folder
    from core.faces.engine import FaceEngine
    from core.faces.index import build_face_index, index_status
    from core.faces.people import PeopleBook

    folder = data_dir / "faces-deepface-pairs" / "images"
    cache_root = tmp_path / "cache"
    cache = DiskCache(cache_root)
    archive = load_folder(folder, cache=cache)
    total = archive.n_images
    assert total >= 50
    # What the user saved before the job: names, a merge.
    book = PeopleBook()
    book.freeze(["a-0", "b-0", "c-0"], ["p1", "p1", "p2"])
    book.rename("p1", "Ada Lovelace")
    book.rename("p2", "Grace Hopper")
    book.save(archive.key, cache)
    saved = PeopleBook.load(archive.key, cache)

    job = Child(FACES_JOB, str(folder), str(cache_root), env=child_env(cache_root, shared_dir))
    job.wait_for(rf"catalogue {total}", timeout=120)
    job.wait_for(rf"([5-9]|[1-3]\d) {total}", timeout=120)  # 5 or more photos indexed, far from all
    job.kill()

    counts, temps = check_cache(cache_root)
    done, _ = index_status(archive.catalogue, cache)
    assert 5 <= done < total, (done, total)
    assert PeopleBook.load(archive.key, cache) == saved

    index = build_face_index(archive.catalogue, FaceEngine(), cache=cache)
    assert index.complete
    assert index_status(archive.catalogue, cache) == (total, total)
    assert len(index.recognisable) > 0
    check_cache(cache_root)
    assert PeopleBook.load(archive.key, cache) == saved
    print(f"faces: kill kept {done}/{total} photos, {len(temps)} cut-off temp file(s); {counts}")


BOOK_SAVES = """
    import sys
    from core.cache import DiskCache
    from core.faces.people import PeopleBook
    cache = DiskCache(sys.argv[1])
    book = PeopleBook()
    book.freeze([f"face{i}-0" for i in range(400)], [f"p{i % 40 + 1}" for i in range(400)])
    for i in range(1, 40):
        book.rename(f"p{i}", f"Person named {i} " + "x" * 40)
    n = 0
    while True:
        n += 1
        book.next_id = 1000 + n
        book.save("k1", cache)
        if n % 25 == 0:
            print(n, flush=True)
"""


def test_people_book_survives_a_kill_inside_save(shared_dir: Path, tmp_path: Path) -> None:
    """The kill lands while the book is being written, again and again: it is old or new, never lost."""
    from core.faces.people import PeopleBook

    cache_root = tmp_path / "cache"
    for attempt in range(3):
        job = Child(BOOK_SAVES, str(cache_root), env=child_env(cache_root, shared_dir))
        last = int(job.wait_for(r"\d+", timeout=60).group(0))
        time.sleep(0.013 * (attempt + 1))  # somewhere inside a later save
        job.kill()
        check_cache(cache_root)
        book = PeopleBook.load("k1", DiskCache(cache_root))
        assert book.next_id >= 1000 + last, (attempt, book.next_id, last)
        assert len(book.assign) == 400 and book.names["p7"].startswith("Person named 7")


# -- Mosaic: a solve in a child process --------------------------------------------------------

MOSAIC_SERVER = """
    import os, sys
    import numpy as np
    from core.mosaic import assignment as M
    rng = np.random.default_rng(0)
    tiles = rng.integers(0, 256, (600, 4, 4, 3), dtype=np.uint8)
    photos = rng.integers(0, 256, (600, 4, 4, 3), dtype=np.uint8)
    print("server", os.getpid(), flush=True)
    M.run_in_subprocess(M.solve, tiles, photos, method="lp", poll=lambda s: print("solving", flush=True))
    print("finished", flush=True)
"""


def _descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry))
            except (OSError, ValueError, IndexError):
                pass
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()[:120]
    except OSError:
        return "?"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_mosaic_solve_dies_with_the_server(shared_dir: Path, tmp_path: Path) -> None:
    server = Child(MOSAIC_SERVER, env=child_env(tmp_path / "cache", shared_dir))
    pid = int(server.wait_for(r"server (\d+)", timeout=60).group(1))
    server.wait_for(r"solving", timeout=60)
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and not workers:  # the solve child (and CBC under it)
        workers = _descendants(pid)
        time.sleep(0.1)
    time.sleep(1.0)
    workers = _descendants(pid) or workers
    assert workers, "no solve process was started"
    server.kill()  # SIGKILL: the server gets no chance to stop its workers
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and any(_alive(w) for w in workers):
            time.sleep(0.2)
        left = {w: _cmdline(w) for w in workers if _alive(w)}
        assert not left, f"solve processes still running 10 s after the server died: {left}"
    finally:
        for w in [*workers, *(d for w in workers for d in _descendants(w))]:  # processes this test started
            if _alive(w):
                try:
                    os.kill(w, signal.SIGKILL)
                except ProcessLookupError:
                    pass


# -- the real thing: a browser against a server that is killed --------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """``streamlit run streamlit_app.py`` on a given cache; ``kill()`` is SIGKILL."""

    def __init__(self, cache: Path, shared_dir: Path, log: Path) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = dict(os.environ, FEEDLENS_CACHE_DIR=str(cache), FEEDLENS_MODEL_DIR=str(shared_dir / "models"),
                   FEEDLENS_ALLOW_LOCAL_PATHS="1")
        self.log = open(log, "w+")  # noqa: SIM115 - closed in kill()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.3)
        self.kill()
        pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")

    def kill(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)
        self.log.close()


def _settled(page, timeout: int = 180_000) -> None:
    """The app is connected and no script run is in progress (``stStatusWidget`` is not shown in this app)."""
    page.wait_for_function(
        "() => { const app = document.querySelector(\"[data-testid='stApp']\");"
        " return app && app.dataset.testScriptState === 'notRunning'"
        " && app.dataset.testConnectionState === 'CONNECTED'; }", timeout=timeout)


def _open_folder(page, folder: Path, n_photos: int) -> None:
    _settled(page)
    page.get_by_text("Demo archive: the photos are real sample images").wait_for(timeout=90_000)
    open_folder(page, folder)
    page.locator("[data-testid='stSidebar']").get_by_text(re.compile(rf": \d+ posts, {n_photos} photos$")).wait_for(timeout=120_000)
    _settled(page)


@pytest.mark.browser
def test_server_killed_during_face_index_then_restarted(browser, data_dir: Path, shared_dir: Path, tmp_path: Path,
                                                        artifacts_dir: Path) -> None:
    from core.archive.catalogue import load_folder
    from core.faces.index import index_status
    from core.faces.people import PeopleBook

    folder = data_dir / "faces-deepface-pairs" / "images"
    cache_root = tmp_path / "server-cache"
    total = sum(1 for f in folder.iterdir() if f.suffix.lower() in (".jpg", ".jpeg", ".png"))
    errors: list[str] = []
    t0 = time.monotonic()

    def step(what: str) -> None:
        print(f"{time.monotonic() - t0:6.1f} s  {what}", flush=True)

    def new_page(server: Server):
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(server.url)
        _open_folder(page, folder, total)
        page.locator("[data-testid='stSidebarNav']").get_by_role("link", name="Faces", exact=True).click()
        main = page.locator("[data-testid='stMain']")
        main.get_by_text("Private by design").wait_for(timeout=60_000)
        return page, main

    # 1. Start the build and kill the server once a few photos are indexed.
    server = Server(cache_root, shared_dir, tmp_path / "server1.log")
    try:
        page, main = new_page(server)
        step("server 1 up, folder open, Faces page")
        main.get_by_role("button", name="Build the face index").click()
        main.get_by_text(re.compile(rf"^([3-9]|[1-3]\d) of {total} photos indexed$")).first.wait_for(timeout=120_000)
    finally:
        server.kill()
    page.close()
    check_cache(cache_root)
    catalogue = load_folder(folder, cache=DiskCache(cache_root)).catalogue
    done, _ = index_status(catalogue, DiskCache(cache_root))
    assert 3 <= done < total, done

    # 2. Restart: the page offers to continue; the build completes; name a person.
    server = Server(cache_root, shared_dir, tmp_path / "server2.log")
    try:
        page, main = new_page(server)
        resume = main.get_by_role("button", name=re.compile(r"^Continue indexing \((\d+) photos left\)$"))
        resume.wait_for(timeout=60_000)
        step("server 2 up, Continue indexing offered")
        left = int(re.search(r"\((\d+) photos", resume.inner_text()).group(1))
        assert left <= total - done
        resume.click()
        main.get_by_text("Face index ready.").wait_for(timeout=180_000)
        _settled(page)
        box = main.get_by_label("Name")
        box.fill("Ada Lovelace")
        main.get_by_role("button", name="Save name").click()
        main.get_by_text("Name saved.").wait_for(timeout=60_000)
        _settled(page)
        step("index complete, name saved")
        page.screenshot(path=str(artifacts_dir / "faults_resumed_and_named.png"), full_page=True)
    finally:
        server.kill()  # 3. killed again, right after the save: the name and the index are on disk, whole
    page.close()
    check_cache(cache_root)
    archive = load_folder(folder, cache=DiskCache(cache_root))
    assert index_status(archive.catalogue, DiskCache(cache_root)) == (total, total)
    assert "Ada Lovelace" in PeopleBook.load(archive.key, DiskCache(cache_root)).names.values()

    logs = "".join((tmp_path / f"server{i}.log").read_text() for i in (1, 2))
    assert "Traceback" not in logs, logs[-5000:]
    assert not errors, errors


# -- Forecast: a retraining killed halfway ------------------------------------------------------

FORECAST_JOB = """
    import sys
    from core.archive.catalogue import load_folder
    from core.cache import DiskCache
    from core.faces.engine import FaceEngine
    from core.forecast.training import prepare_training_data, save_forecaster, train_forecaster
    from core.forecast.labels import LabelSources
    cache = DiskCache(sys.argv[2])
    archive = load_folder(sys.argv[1], cache=cache)
    sources = LabelSources.from_names(["hashtags", "faces", "cluster"])
    data = prepare_training_data(archive.catalogue, "my-archive", sources, cache=cache, face_engine=FaceEngine,
                                 progress=lambda done, total, message: print(message, flush=True))
    save_forecaster(train_forecaster(data, "my-archive"), cache)
    print("finished", flush=True)
"""


def test_forecast_retraining_killed_halfway_keeps_the_saved_model(shared_dir: Path, tmp_path: Path) -> None:
    from core.archive.catalogue import load_folder
    from core.forecast.labels import LabelSources
    from core.forecast.synth import make_synthetic_archive
    from core.forecast.training import (
        forecaster_path,
        load_forecaster,
        prepare_training_data,
        save_forecaster,
        train_forecaster,
    )

    cache_root = tmp_path / "cache"
    cache = DiskCache(cache_root)
    folder = tmp_path / "archive"
    make_synthetic_archive(folder, n_posts=40, random_state=5)
    first = load_folder(folder, cache=cache)
    sources = LabelSources.from_names(["hashtags", "cluster"])
    saved = train_forecaster(prepare_training_data(first.catalogue, "my-archive", sources, cache=cache), "my-archive")
    save_forecaster(saved, cache)
    saved_bytes = forecaster_path("my-archive", cache).read_bytes()

    make_synthetic_archive(folder / "more", n_posts=80, prefix="more", random_state=6)
    job = Child(FORECAST_JOB, str(folder), str(cache_root), env=child_env(cache_root, shared_dir))
    job.wait_for(r"Step 2 of 2 \(faces\): processed ([2-9]\d) of 120 photos", timeout=240)
    job.kill()  # SIGKILL while faces are being labelled

    check_cache(cache_root)
    assert forecaster_path("my-archive", cache).read_bytes() == saved_bytes
    kept = load_forecaster("my-archive", cache)
    assert kept is not None and kept.trained_at == saved.trained_at and len(kept.posts) == 40

    grown = load_folder(folder, cache=cache)
    data = prepare_training_data(grown.catalogue, "my-archive", LabelSources.from_names(["hashtags", "faces", "cluster"]),
                                 cache=cache)
    assert data.new_photos == 0  # the killed run had finished every photo's features
    save_forecaster(train_forecaster(data, "my-archive"), cache)
    assert len(load_forecaster("my-archive", cache).posts) == 120
    check_cache(cache_root)
