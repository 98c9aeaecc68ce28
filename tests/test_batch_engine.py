"""``core.batch`` and ``feedlens batch``: the same cache bytes on every engine, resume, killed workers, poison photos.

One 2-worker Dask ``LocalCluster`` serves the whole module (the ``dask`` engine
connects to it by address, as to a real scheduler). Workers find a test-only
crash hook in their environment (:data:`core.batch.work.CRASH_HOOK_ENV`): a
marker file naming a photo makes the worker that reaches it exit at once.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.archive import open_archive
from core.batch.engines import run_batch
from core.batch.plan import STEPS, plan_batch
from core.batch.work import CRASH_HOOK_ENV
from core.cache import DiskCache

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
    """Eight plain photos of distinct bytes, a truncated JPEG and a text file named .jpg."""
    folder = tmp_path_factory.mktemp("generated")
    rng = np.random.default_rng(13)
    for i in range(8):
        Image.fromarray(rng.integers(0, 255, (90 + i, 120, 3), dtype=np.uint8)).save(folder / f"p{i}.jpg")
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
    opened = [open_archive(path, cache=DiskCache(cache)) for path in archives]
    return run_batch(plan_batch(opened, steps, chunk), cache, engine=engine, workers=2, **kwargs)


@pytest.fixture(scope="module")
def inprocess_cache(tmp_path_factory, data_dir: Path, generated: Path, shared_dir: Path) -> Path:
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    cache = tmp_path_factory.mktemp("inprocess")
    result = _run([data_dir / BOSTON, generated], cache, "inprocess")
    assert result.photos == 25 + 8 and not result.failures
    assert result.computed == {"thumbnails": 0, "features": 33, "faces": 33}  # thumbnails: made by the import
    return cache


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_every_engine_writes_the_same_bytes_and_a_rerun_computes_nothing(
        engine, inprocess_cache, dask_address, data_dir, generated, tmp_path):
    archives = [data_dir / BOSTON, generated]
    first = _run(archives, tmp_path, engine, address=dask_address)
    assert first.photos == 33 and first.failures == []
    assert first.computed["features"] == first.computed["faces"] == 33
    expected = _entries(inprocess_cache)
    assert len(expected) > 3 * 33 - 10
    assert sum(name.startswith("features-pack/") for name in expected) == 4 + 1  # one per chunk of 8 photos
    assert _entries(tmp_path) == expected
    again = _run(archives, tmp_path, engine, address=dask_address)
    assert sum(again.computed.values()) == 0
    assert again.reused == {"thumbnails": 33, "features": 33, "faces": 33}


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_worker_that_dies_once_is_retried_and_every_photo_is_done_once(
        engine, dask_address, generated, crash_marker, tmp_path):
    crash_marker.write_text(json.dumps({"file": "p2.jpg", "once": True}))
    try:
        result = _run([generated], tmp_path, engine, steps=("thumbnails", "features"), chunk=3,
                      address=dask_address)
    finally:
        crash_marker.unlink(missing_ok=True)
    assert result.photos == 8 and result.failures == []
    assert result.computed["features"] + result.reused["features"] == 8
    assert len(_packed_photos(tmp_path)) == 8


@pytest.mark.parametrize("engine", ["local", "dask"])
def test_a_photo_that_kills_its_worker_every_time_is_a_failure_not_a_hang(engine, dask_address, generated,
                                                                          crash_marker, tmp_path):
    crash_marker.write_text(json.dumps({"file": "p5.jpg", "once": False}))
    try:
        result = _run([generated], tmp_path, engine, steps=("features",), chunk=4, address=dask_address)
    finally:
        crash_marker.unlink(missing_ok=True)
    assert result.photos == 8
    assert [file for file, _ in result.failures] == ["p5.jpg"]
    assert "worker process died" in result.failures[0][1]
    # A chunk whose result died with a worker before it was gathered is run again: it then reads the cache.
    assert result.computed["features"] + result.reused["features"] == 7
    assert len(_packed_photos(tmp_path)) == 7


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
    assert doc["exit_code"] == 3 and doc["photos"] == 33 and doc["engine"] == "dask"
    assert sorted(f["file"] for f in doc["failures"]) == ["fake.jpg", "truncated.jpg"]
    assert doc["computed"] == {"thumbnails": 0, "features": 33, "faces": 33}
    assert "photos/s" in proc.stderr and "33 of 33 photos" in proc.stderr
    rerun = json.loads(_feedlens(*args, cache=tmp_path, shared_dir=shared_dir).stdout)
    assert rerun["computed"] == {"thumbnails": 0, "features": 0, "faces": 0}
    assert rerun["reused"] == {"thumbnails": 33, "features": 33, "faces": 33}


def test_cli_batch_import_on_a_clean_archive_exits_0(data_dir, shared_dir, tmp_path):
    proc = _feedlens("import", data_dir / BOSTON, "--json", cache=tmp_path, shared_dir=shared_dir)
    assert proc.returncode == 0, proc.stderr[-3000:]
    doc = json.loads(proc.stdout)
    assert doc["photos"] == 0 and doc["archives"][0]["images"] == 25 and doc["failures"] == []


def test_the_shipped_dask_yaml_is_the_config_the_local_cluster_gets():
    yaml = pytest.importorskip("yaml")
    from core.batch.dask_engine import DASK_CONFIG

    shipped = yaml.safe_load((REPO / "core" / "batch" / "dask.yaml").read_text())
    flat = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_":
            shipped["distributed"]["nanny"]["pre-spawn-environ"]["MALLOC_TRIM_THRESHOLD_"],
            "distributed.scheduler.allowed-failures": shipped["distributed"]["scheduler"]["allowed-failures"]}
    assert flat == DASK_CONFIG


def test_dask_workers_run_without_the_nannys_malloc_trim_threshold(dask_address):
    from distributed import Client

    with Client(dask_address) as client:
        values = client.run(lambda: os.environ.get("MALLOC_TRIM_THRESHOLD_"))
    assert len(values) == 2 and set(values.values()) == {None}


def test_after_a_batch_the_explore_features_and_the_faces_index_compute_nothing(inprocess_cache, data_dir):
    from core.explore.features import compute_features, make_extractor
    from core.faces.index import index_status

    archive = open_archive(data_dir / BOSTON, cache=DiskCache(inprocess_cache))
    items = list(zip(archive.catalogue["sha256"], archive.catalogue["path"]))
    features = compute_features(items, make_extractor("colour_texture"), cache=DiskCache(inprocess_cache))
    assert features.computed == 0 and features.reused == 25
    assert index_status(archive.catalogue, DiskCache(inprocess_cache)) == (25, 25)


@pytest.mark.parametrize("engine", ["inprocess", "local", "dask"])
def test_cancel_stops_every_engine(engine, dask_address, generated, tmp_path):
    from core.jobs import Cancelled

    with pytest.raises(Cancelled):
        _run([generated], tmp_path, engine, steps=("features",), chunk=2, address=dask_address, cancel=lambda: True)
    assert not (tmp_path / "features").exists() and not (tmp_path / "features-pack").exists()


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
