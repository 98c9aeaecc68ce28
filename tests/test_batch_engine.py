"""``core.batch`` and ``feedlens batch``: the same cache bytes on every engine, resume, killed workers, poison photos.

One 2-worker Dask ``LocalCluster`` serves the whole module (the ``dask`` engine
connects to it by address, as to a real scheduler). Workers find a test-only
crash hook in their environment (:data:`core.batch.work.CRASH_HOOK_ENV`): a
marker file naming a photo makes the worker that reaches it exit at once.
The batch imports on the engine (:func:`core.batch.driver.run_archives`): the
photos are read by the workers, and the crash hook hits the import first.
"""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.archive import open_archive, prepare_archive
from core.batch.driver import run_archives
from core.batch.manifest import read_manifest
from core.batch.plan import STEPS
from core.batch.work import CRASH_HOOK_ENV
from core.cache import DiskCache
from core.jobs import Cancelled

REPO = Path(__file__).resolve().parents[1]
BOSTON = "instaloader-boston-2accounts"
ENTRY_KINDS = ("thumb256", "imageinfo-v1", "features-pack", "faces")  # what the per-photo steps write


@pytest.fixture(scope="module")
def crash_marker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("crash") / "crash.json"


@pytest.fixture(scope="module")
def dask_address(crash_marker: Path, shared_dir: Path):
    """A 2-worker local cluster (one thread each) for the module; its workers see the crash hook and the models."""
    distributed = pytest.importorskip("distributed")
    import dask

    from core.batch.dask_engine import DASK_CONFIG

    saved = {k: os.environ.get(k) for k in (CRASH_HOOK_ENV, "FEEDLENS_MODEL_DIR")}
    os.environ[CRASH_HOOK_ENV] = str(crash_marker)
    os.environ["FEEDLENS_MODEL_DIR"] = str(shared_dir / "models")
    with dask.config.set(DASK_CONFIG):
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Eight plain photos of distinct bytes (one with an EXIF time), a truncated JPEG and a text file named .jpg."""
    folder = tmp_path_factory.mktemp("generated")
    rng = np.random.default_rng(13)
    for i in range(8):
        exif = Image.Exif()
        if i == 0:
            exif[0x0132] = "2021:06:05 18:30:00"  # DateTime: the catalogue's time of a photo without metadata
        Image.fromarray(rng.integers(0, 255, (90 + i, 120, 3), dtype=np.uint8)).save(folder / f"p{i}.jpg", exif=exif)
    (folder / "truncated.jpg").write_bytes((folder / "p0.jpg").read_bytes()[:300])
    (folder / "fake.jpg").write_text("not an image")
    return folder


def _entries(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes()
            for kind in ENTRY_KINDS for p in sorted((root / kind).rglob("*")) if p.is_file()}


def _packed_photos(root: Path) -> set[str]:
    """The photos whose features the batch stored (one pack per chunk: ``features-pack/<tag>/…/<key>.npz``)."""
    shas: set[str] = set()
    for pack in (root / "features-pack").rglob("*.npz"):
        with np.load(pack) as npz:
            shas.update(str(sha) for sha, ok in zip(npz["shas"], npz["valid"]) if ok)
    return shas


def _run(archives: list[Path], cache: Path, engine: str, *, steps=STEPS, chunk: int = 8, **kwargs):
    return run_archives(archives, steps, cache, engine=engine, workers=2, chunk=chunk, **kwargs)


#: What the import lists for the generated folder's two files that are not photos.
NOT_PHOTOS = ["fake.jpg", "truncated.jpg"]


def _catalogue_entries(cache: Path, archives: list[Path]) -> dict[str, bytes]:
    """Each archive's catalogue (Parquet) and its problems (JSON), as cached."""
    entries = {}
    for path in archives:
        key = prepare_archive(path, cache=DiskCache(cache)).key
        for suffix in (".parquet", ".json"):
            entries[f"{path.name}{suffix}"] = DiskCache(cache).path("catalogue", key, suffix).read_bytes()
    return entries


@pytest.fixture(scope="module")
def app_catalogues(tmp_path_factory, data_dir: Path, generated: Path) -> dict[str, bytes]:
    """The catalogues the app's own import writes (in threads, in its process)."""
    cache = tmp_path_factory.mktemp("app")
    archives = [data_dir / BOSTON, generated]
    for path in archives:
        open_archive(path, cache=DiskCache(cache))
    return _catalogue_entries(cache, archives)


@pytest.fixture(scope="module")
def inprocess_cache(tmp_path_factory, data_dir: Path, generated: Path, shared_dir: Path) -> Path:
    """``batch all`` in-process on both archives; the manifest read at every progress report says ``running``."""
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    cache = tmp_path_factory.mktemp("inprocess")
    key = prepare_archive(generated, cache=DiskCache(tmp_path_factory.mktemp("keys"))).key
    seen: list[tuple[str, int, int]] = []

    def progress(done: int, total: int, message: str) -> None:
        manifest = read_manifest(DiskCache(cache), key)
        if manifest is not None:
            seen.append((manifest.state, manifest.done, manifest.total))

    result = _run([data_dir / BOSTON, generated], cache, "inprocess", progress=progress)
    assert result.photos == 25 + 8 and result.files == 25 + 10
    assert sorted(file for _, file, _ in result.failures) == NOT_PHOTOS
    assert result.computed == {"import": 33, "thumbnails": 33, "features": 33, "faces": 33}
    assert result.processes == {os.getpid()}  # in-process: the driver ran the chunks (so the pid check can fail)
    # The manifest says running from the start (8 photos and 2 failed files: 10 of 10 at the end), then finished.
    assert seen[0] == ("running", 0, 10) and {state for state, _, _ in seen} == {"running", "finished"}
    assert [done for _, done, _ in seen] == sorted(done for _, done, _ in seen)
    final = read_manifest(DiskCache(cache), key)
    assert (final.state, final.done, final.total, final.failed) == ("finished", 10, 10, 2)
    assert final.computed == {"import": 8, "thumbnails": 8, "features": 8, "faces": 8}
    return cache


def test_dask_workers_run_without_the_nannys_malloc_trim_threshold(dask_address):
    # First of the Dask tests, before any test kills a worker (a restarting worker may still be listed).
    from distributed import Client

    with Client(dask_address) as client:
        client.wait_for_workers(2, timeout=120)
        values = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(values) == 2 and set(values.values()) == {None}, values


def test_the_batch_writes_the_catalogue_the_app_writes(inprocess_cache, app_catalogues, data_dir, generated):
    assert _catalogue_entries(inprocess_cache, [data_dir / BOSTON, generated]) == app_catalogues


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_every_engine_writes_the_same_bytes_and_a_rerun_computes_nothing(
        engine, inprocess_cache, app_catalogues, dask_address, data_dir, generated, tmp_path):
    archives = [data_dir / BOSTON, generated]
    first = _run(archives, tmp_path, engine, address=dask_address)
    assert first.photos == 33 and sorted(file for _, file, _ in first.failures) == NOT_PHOTOS
    # Each photo decoded once (an import in the driver first would leave the workers nothing to decode), and
    # never in the driver.
    assert first.computed == {"import": 33, "thumbnails": 33, "features": 33, "faces": 33}
    assert first.reused["import"] == 0
    assert len(first.processes) >= 1 and os.getpid() not in first.processes
    expected = _entries(inprocess_cache)
    assert len(expected) > 3 * 33 - 10
    assert sum(name.startswith("features-pack/") for name in expected) == 4 + 1  # one per chunk of 8 photos
    assert _entries(tmp_path) == expected
    assert _catalogue_entries(tmp_path, archives) == app_catalogues
    again = _run(archives, tmp_path, engine, address=dask_address)
    assert sum(again.computed.values()) == 0
    assert again.reused == {"import": 33, "thumbnails": 33, "features": 33, "faces": 33}
    assert again.files == 0 and sorted(file for _, file, _ in again.failures) == NOT_PHOTOS
    for manifest in again.manifests:
        assert manifest.state == "finished" and manifest.done == manifest.total
        assert manifest.computed == dict.fromkeys(["import", *STEPS], 0)


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_worker_that_dies_once_is_retried_and_every_photo_is_done_once(
        engine, dask_address, generated, crash_marker, tmp_path):
    crash_marker.write_text(json.dumps({"file": "p2.jpg", "once": True}))  # in the import
    try:
        result = _run([generated], tmp_path, engine, steps=("thumbnails", "features"), chunk=3,
                      address=dask_address)
    finally:
        crash_marker.unlink(missing_ok=True)
    assert result.photos == 8 and sorted(file for _, file, _ in result.failures) == NOT_PHOTOS
    assert result.computed["import"] + result.reused["import"] == 8
    assert result.computed["features"] + result.reused["features"] == 8
    assert len(_packed_photos(tmp_path)) == 8


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_photo_that_kills_its_worker_every_time_is_a_failure_not_a_hang(engine, dask_address, generated,
                                                                          crash_marker, tmp_path):
    crash_marker.write_text(json.dumps({"file": "p5.jpg", "once": False}))  # in the import
    try:
        result = _run([generated], tmp_path, engine, steps=("features",), chunk=4, address=dask_address)
    finally:
        crash_marker.unlink(missing_ok=True)
    assert result.photos == 7
    assert sorted(file for _, file, _ in result.failures) == sorted([*NOT_PHOTOS, "p5.jpg"])
    reason = dict((file, reason) for _, file, reason in result.failures)["p5.jpg"]
    assert reason.startswith("import: ") and "worker process died" in reason
    # The archive lists it as the app's import lists a file it could not use.
    problems = result.archives[0].problems
    assert problems[problems["file"] == "p5.jpg"][["action", "level"]].values.tolist() == [["skipped", "error"]]
    assert "p5.jpg" not in set(result.archives[0].catalogue["file"])
    # A chunk whose result died with a worker before it was gathered is run again: it then reads the cache.
    assert result.computed["features"] + result.reused["features"] == 7
    assert len(_packed_photos(tmp_path)) == 7


def test_the_dask_driver_polls_without_piling_up_waiters(dask_address, generated, shared_dir, tmp_path):
    """The driver polls for finished chunks several times a second; each poll must not leave a pending asyncio
    task per running chunk behind (``distributed.wait(timeout=...)`` did: the driver reached 7.7 GB at 100,000
    photos). Counted on the client's event loop at every poll (the engine polls ``cancel`` each time)."""
    import asyncio

    from distributed import default_client

    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    counts: list[int] = []

    def count_tasks() -> bool:
        try:
            client = default_client()
        except ValueError:  # polled before the engine's client exists (the driver's own checks)
            return False
        counts.append(client.sync(lambda: asyncio.sleep(0, result=len(asyncio.all_tasks()))))
        return False

    result = _run([generated], tmp_path, "dask", steps=("features", "faces"), chunk=1, address=dask_address,
                  cancel=count_tasks)
    assert result.photos == 8
    assert len(counts) >= 5  # it did poll while chunks ran (the old poll added about one task per chunk per poll)
    # About one task per running chunk (8 photos, chunk=1: 22 measured); the old poll added one per chunk per poll.
    assert max(counts) < 50, f"{max(counts)} asyncio tasks on the client's loop after {len(counts)} polls"


def test_a_rerun_with_another_chunk_size_reuses_the_packed_features(generated, shared_dir, tmp_path):
    """Features are packed per chunk, keyed by the chunk's photos: a rerun with another ``--chunk`` finds them
    in the other packs (the archive has a manifest, so the workers look), and computes nothing."""
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    first = _run([generated], tmp_path, "inprocess", steps=("features",), chunk=3)
    assert first.computed["features"] == 8
    packs = {p: p.read_bytes() for p in (tmp_path / "features-pack").rglob("*.npz")}
    again = _run([generated], tmp_path, "inprocess", steps=("features",), chunk=5)
    assert again.computed["features"] == 0 and again.reused["features"] == 8
    assert {p: p.read_bytes() for p in (tmp_path / "features-pack").rglob("*.npz")} == packs  # nothing rewritten


def test_a_sigint_that_reaches_only_the_workers_costs_a_retry_not_the_run(generated, shared_dir, tmp_path):
    """A terminal's Ctrl-C reaches the pool's workers too, and a busy worker's chunk comes back with its exit
    (``SystemExit``) as the error. Whether the driver stops is its own flag's call (checked first): here it
    was not pressed, so the chunk is run again and the batch finishes; it never exits with the worker's code."""
    import multiprocessing
    import signal

    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    sent: list[int] = []
    others = {child.pid for child in multiprocessing.active_children()}  # this module's Dask cluster

    def progress(done: int, total: int, message: str) -> None:
        steps = re.search(r"(\d+) of \d+ photos", message)
        if steps and int(steps.group(1)) > 0 and not sent:  # mid-steps: the workers are busy
            for child in multiprocessing.active_children():
                if child.pid not in others:  # the pool's workers only
                    os.kill(child.pid, signal.SIGINT)
                    sent.append(child.pid)

    result = _run([generated], tmp_path, "local", steps=("features", "faces"), chunk=1, progress=progress)
    assert sent
    assert result.photos == 8 and sorted(file for _, file, _ in result.failures) == NOT_PHOTOS
    for stage in ("import", "features", "faces"):
        assert result.computed[stage] + result.reused[stage] == 8


def _feedlens(*args, cache: Path, shared_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "FEEDLENS_CACHE_DIR": str(cache), "FEEDLENS_MODEL_DIR": str(shared_dir / "models")}
    env.pop(CRASH_HOOK_ENV, None)
    proc = subprocess.run([sys.executable, "-m", "cli", "batch", *map(str, args)], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def test_cli_batch_all_json_lists_the_poison_photos_exits_3_and_resumes(
        dask_address, data_dir, generated, shared_dir, tmp_path):
    args = ["all", generated, data_dir / BOSTON, "--engine", "dask", "--address", dask_address, "--chunk", "16",
            "--json"]
    proc = _feedlens(*args, cache=tmp_path, shared_dir=shared_dir)
    assert proc.returncode == 3, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["exit_code"] == 3 and doc["photos"] == 33 and doc["files"] == 35 and doc["engine"] == "dask"
    assert sorted(f["file"] for f in doc["failures"]) == NOT_PHOTOS
    assert doc["computed"] == {"import": 33, "thumbnails": 33, "features": 33, "faces": 33}
    # One progress stream over the import's files and the steps' photos.
    assert "import 35 of 35 files" in proc.stderr and "33 of 33 photos" in proc.stderr, proc.stderr[-3000:]
    rerun = json.loads(_feedlens(*args, cache=tmp_path, shared_dir=shared_dir).stdout)
    assert rerun["computed"] == {"import": 0, "thumbnails": 0, "features": 0, "faces": 0}
    assert rerun["reused"] == {"import": 33, "thumbnails": 33, "features": 33, "faces": 33}
    assert sorted(f["file"] for f in rerun["failures"]) == NOT_PHOTOS  # listed again, not run again


def test_cli_batch_import_then_the_apps_import_decodes_nothing(data_dir, generated, shared_dir, tmp_path):
    """``batch import`` of a folder and a ZIP on processes: the app then reads both catalogues back."""
    zipped = Path(shutil.make_archive(str(tmp_path / "feed"), "zip", generated))
    cache = tmp_path / "cache"
    proc = _feedlens("import", data_dir / BOSTON, zipped, "--engine", "local", "--json",
                     cache=cache, shared_dir=shared_dir)
    assert proc.returncode == 3, proc.stderr[-3000:]  # the ZIP's two files that are not photos
    doc = json.loads(proc.stdout)
    assert doc["photos"] == 33 and [a["images"] for a in doc["archives"]] == [25, 8]
    assert doc["computed"] == {"import": 33} and sorted(f["file"] for f in doc["failures"]) == NOT_PHOTOS
    for archive in doc["archives"]:
        manifest = read_manifest(DiskCache(cache), archive["key"])
        assert (manifest.state, manifest.steps, manifest.engine) == ("finished", [], "local")
    # With every thumbnail gone, an import that decoded anything would write them again.
    shutil.rmtree(cache / "thumb256")
    for path, images in ((data_dir / BOSTON, 25), (zipped, 8)):
        archive = open_archive(path, cache=DiskCache(cache))
        assert archive.n_images == images and archive.key in {a["key"] for a in doc["archives"]}
    assert not (cache / "thumb256").exists()
    # `batch thumbnails` of archives imported before: no import, and only the missing thumbnails are made.
    again = run_archives([data_dir / BOSTON, zipped], ["thumbnails"], cache)
    assert (again.files, again.computed) == (0, {"import": 0, "thumbnails": 33})
    assert len(list((cache / "thumb256").rglob("*.jpg"))) == 33


def test_the_manifest_is_rewritten_as_chunks_finish(generated, tmp_path, monkeypatch: pytest.MonkeyPatch):
    import core.batch.driver

    monkeypatch.setattr(core.batch.driver, "MANIFEST_EVERY_S", 0.0)  # every chunk, not every 2 s
    key = prepare_archive(generated, cache=DiskCache(tmp_path / "keys")).key
    seen: list[tuple[str, int]] = []

    def progress(done: int, total: int, message: str) -> None:
        manifest = read_manifest(DiskCache(tmp_path), key)
        if manifest is not None:
            seen.append((manifest.state, manifest.done))

    _run([generated], tmp_path, "inprocess", steps=(), chunk=2, progress=progress)
    assert seen == [("running", 0), ("running", 2), ("running", 4), ("running", 6), ("running", 8), ("finished", 10)]


def test_the_shipped_dask_yaml_is_the_config_the_local_cluster_gets():
    yaml = pytest.importorskip("yaml")
    from core.batch.dask_engine import DASK_CONFIG

    shipped = yaml.safe_load((REPO / "core" / "batch" / "dask.yaml").read_text())
    flat = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
            shipped["distributed"]["nanny"]["pre-spawn-environ"]["MALLOC_TRIM_THRESHOLD_"],
            "distributed.scheduler.allowed-failures": shipped["distributed"]["scheduler"]["allowed-failures"]}
    assert flat == DASK_CONFIG


def test_after_a_batch_the_explore_features_and_the_faces_index_compute_nothing(inprocess_cache, data_dir):
    from core.explore.features import compute_features, make_extractor
    from core.faces.index import index_status

    archive = open_archive(data_dir / BOSTON, cache=DiskCache(inprocess_cache))
    items = list(zip(archive.catalogue["sha256"], archive.catalogue["path"]))
    features = compute_features(items, make_extractor("colour_texture"), cache=DiskCache(inprocess_cache))
    assert features.computed == 0 and features.reused == 25
    assert index_status(archive.catalogue, DiskCache(inprocess_cache)) == (25, 25)


@pytest.mark.parametrize("engine", ["inprocess", "local", "dask"])
def test_cancel_stops_every_engine_and_the_manifest_says_cancelled(engine, dask_address, generated, tmp_path):
    polls = itertools.count()  # the first poll is the driver's, before the engine starts; then stop
    with pytest.raises(Cancelled):
        _run([generated], tmp_path, engine, steps=("features",), chunk=2, address=dask_address,
             cancel=lambda: next(polls) >= 1)
    assert not (tmp_path / "features").exists() and not (tmp_path / "features-pack").exists()
    manifest = read_manifest(DiskCache(tmp_path), prepare_archive(generated, cache=DiskCache(tmp_path)).key)
    assert (manifest.state, manifest.total, manifest.steps) == ("cancelled", 10, ["features"])


def test_an_unexpected_error_leaves_a_failed_manifest(generated, tmp_path):
    (tmp_path / "features-pack").write_text("")  # where the batch's features go: a file, so the first write fails
    with pytest.raises(OSError):
        _run([generated], tmp_path, "inprocess", steps=("features",))
    manifest = read_manifest(DiskCache(tmp_path), prepare_archive(generated, cache=DiskCache(tmp_path)).key)
    assert manifest.state == "failed" and manifest.computed["import"] == 8


def test_the_explore_and_faces_pages_of_a_batch_processed_archive_compute_nothing(
        inprocess_cache, data_dir, monkeypatch: pytest.MonkeyPatch):
    import streamlit as st
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FEEDLENS_CACHE_DIR", str(inprocess_cache))
    archive = open_archive(data_dir / BOSTON, cache=DiskCache(inprocess_cache))

    def per_photo_entries() -> dict[str, int]:
        return {p.relative_to(inprocess_cache).as_posix(): p.stat().st_mtime_ns
                for kind in ("features", "faces") for p in (inprocess_cache / kind).rglob("*") if p.is_file()}

    before = per_photo_entries()
    assert before, "the batch wrote features and faces"
    st.cache_resource.clear()
    st.cache_data.clear()
    try:
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=240)
        at.session_state["archive"] = archive
        at.run()
        at.switch_page("app_pages/explore.py").run()
        if at.selectbox(key="explore_features").value != "colour_texture":  # ImageNet weights downloaded here
            at.selectbox(key="explore_features").set_value("colour_texture").run()
        assert not at.exception, at.exception
        assert at.get("plotly_chart"), "the map is drawn"
        at.switch_page("app_pages/faces.py").run()
        assert not at.exception, at.exception
        assert not [b for b in at.button if b.key == "faces_build"], "the index is complete: nothing to build"
        assert any(c.value.startswith("Face index: ") and " in 25 photos " in c.value for c in at.caption)
    finally:
        st.cache_resource.clear()
        st.cache_data.clear()
    # Neither page computed a photo: no feature or face entry was added or rewritten.
    assert per_photo_entries() == before
