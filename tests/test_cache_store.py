"""The cache in an object store: ``DiskCache("s3://bucket/prefix")`` against a local S3 server, and the batch on it.

No real bucket is reachable here: the module starts moto's S3 server on
127.0.0.1 (``ThreadedMotoServer``, a real HTTP server that s3fs talks to as to
AWS) and points botocore at it with the standard ``AWS_ENDPOINT_URL``, as a
user would for MinIO or Ceph.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from core.cache import DiskCache, StoreError

pytest.importorskip("s3fs")
moto_server = pytest.importorskip("moto.server")

REPO = Path(__file__).resolve().parents[1]
BUCKET = "feedlens-test"
BOSTON = "instaloader-boston-2accounts"


@pytest.fixture(scope="module")
def s3_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """A moto S3 server on 127.0.0.1 with one bucket; the environment that points s3fs (and workers) at it."""
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # not one line per request
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    env = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing", "AWS_DEFAULT_REGION": "us-east-1",
           "AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_EC2_METADATA_DISABLED": "true",
           # scratch of an object-store cache (core.config.cache_dir) kept out of the real user cache
           "XDG_CACHE_HOME": str(tmp_path_factory.mktemp("xdg"))}
    with pytest.MonkeyPatch.context() as patch:
        for key, value in env.items():
            patch.setenv(key, value)
        import boto3
        from s3fs import S3FileSystem

        S3FileSystem.clear_instance_cache()  # none made for another endpoint survives
        boto3.client("s3").create_bucket(Bucket=BUCKET)
        try:
            yield env
        finally:
            S3FileSystem.clear_instance_cache()
            server.stop()


@pytest.fixture
def store(s3_env, request: pytest.FixtureRequest) -> DiskCache:
    """An empty cache under its own prefix of the bucket."""
    return DiskCache(f"s3://{BUCKET}/{request.node.name.replace('[', '-').replace(']', '')}")


def _objects(prefix: str) -> list[str]:
    import boto3

    pages = boto3.client("s3").get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix)
    return sorted(o["Key"] for page in pages for o in page.get("Contents", []))


def test_entries_round_trip_in_the_bucket(store: DiskCache, monkeypatch: pytest.MonkeyPatch):
    from core.config import cache_dir

    prefix = store.location.split(f"{BUCKET}/", 1)[1]
    assert store.get("thumb256", "ab12", ".jpg") is None and not store.exists("thumb256", "ab12", ".jpg")
    where = store.put("thumb256", "ab12", b"jpeg bytes", ".jpg")
    assert where == f"{store.location}/thumb256/ab/ab12.jpg"
    assert _objects(prefix) == [f"{prefix}/thumb256/ab/ab12.jpg"]  # one object, where the layout says
    assert store.get("thumb256", "ab12", ".jpg") == b"jpeg bytes" and store.exists("thumb256", "ab12", ".jpg")
    store.put("thumb256", "cd34", b"more", ".jpg")
    assert store.keys("thumb256", ".jpg") == ["ab12", "cd34"]
    assert store.delete("thumb256", "ab12", ".jpg") and not store.delete("thumb256", "ab12", ".jpg")
    assert store.keys("thumb256", ".jpg") == ["cd34"]
    with pytest.raises(ValueError):
        store.put("thumb256", "../../x", b"escape")
    # No local folder behind it: path() and root say so; local_dir() is local scratch.
    assert not store.is_local
    with pytest.raises(StoreError, match=BUCKET):
        store.path("thumb256", "cd34", ".jpg")
    assert store.local_dir("archives") == cache_dir() / "archives"  # FEEDLENS_CACHE_DIR, a path here
    monkeypatch.setenv("FEEDLENS_CACHE_DIR", store.location)  # a URL: the user cache dir is local scratch
    assert store.local_dir("archives").is_relative_to(Path(os.environ["XDG_CACHE_HOME"]))


def test_arrays_round_trip_and_damaged_entries_miss(store: DiskCache):
    array = np.arange(12, dtype=np.float32).reshape(3, 4)
    store.put_array("features/x", "ab12", array)
    back = store.get_array("features/x", "ab12")
    assert back.dtype == np.float32 and np.array_equal(back, array)
    store.put("features/x", "ab12", b"\x93NUMPY garbage", ".npy")
    assert store.get_array("features/x", "ab12") is None


def test_an_entrys_version_changes_when_it_is_rewritten_so_the_forecast_page_reloads_its_model(store: DiskCache):
    from core.forecast.training import FORMAT_VERSION, forecaster_version

    kind = f"forecast-model-v{FORMAT_VERSION}"  # where save_forecaster puts it
    assert store.version(kind, "k") is None and forecaster_version("k", store) is None
    store.put(kind, "k", b"first model", ".pkl")
    first = forecaster_version("k", store)
    store.put(kind, "k", b"a second, retrained model", ".pkl")
    assert first and forecaster_version("k", store) not in (None, first)


def test_a_reader_sees_a_whole_object_or_the_previous_one_never_part(store: DiskCache):
    payloads = [bytes([k]) * (3 << 20) for k in (1, 2)]  # 3 MB each: many TCP segments per PUT
    store.put("blob", "ab12", payloads[0])
    seen: list[bytes] = []
    stop = threading.Event()

    def read() -> None:
        while not stop.is_set():
            seen.append(store.get("blob", "ab12"))

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for k in range(16):
            store.put("blob", "ab12", payloads[k % 2])
    finally:
        stop.set()
        reader.join()
    assert seen and all(data in payloads for data in seen), {len(d or b"") for d in seen if d not in payloads}
    # A write that fails leaves the previous object whole, and no temporary object beside it.
    with pytest.raises(TypeError):
        store.put("blob", "ab12", object())  # type: ignore[arg-type]
    assert store.get("blob", "ab12") == payloads[1] and store.keys("blob") == ["ab12"]


def test_a_missing_bucket_and_refused_credentials_are_store_errors(s3_env, data_dir: Path, tmp_path: Path):
    with pytest.raises(StoreError, match="s3://no-such-bucket/x.*no such bucket"):
        DiskCache("s3://no-such-bucket/x").put("thumb", "ab12", b"x")
    endpoint = s3_env["AWS_ENDPOINT_URL"]

    def moto_auth(count: str) -> None:  # moto's own switch: check every request's keys after `count` requests
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/moto-api/reset-auth", data=count.encode(),
                                                      headers={"Content-Type": "text/plain"}))

    moto_auth("0")
    try:
        with pytest.raises(StoreError, match=f"s3://{BUCKET}/denied: access denied.*AWS_ACCESS_KEY_ID"):
            DiskCache(f"s3://{BUCKET}/denied").get("thumb", "ab12")
        proc = _feedlens("batch", "import", data_dir / BOSTON, "--cache", f"s3://{BUCKET}/denied", "--json",
                         env=s3_env, local=tmp_path / "local")
    finally:
        moto_auth("inf")
    assert proc.returncode == 1, proc.stderr[-2000:]
    error = json.loads(proc.stdout)["error"]
    assert error["type"] == "StoreError" and f"s3://{BUCKET}/denied" in error["message"]


def test_a_missing_backend_is_a_store_error_naming_the_package(data_dir: Path, tmp_path: Path):
    try:
        import gcsfs  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("gcsfs is installed: no missing backend to show")
    with pytest.raises(StoreError, match="gs://bucket/feedlens needs the gcsfs package: pip install gcsfs"):
        DiskCache("gs://bucket/feedlens")
    proc = _feedlens("--cache", "gs://bucket/feedlens", "import", data_dir / BOSTON, env={}, local=tmp_path / "l")
    assert proc.returncode == 1 and "feedlens: error: the cache gs://bucket/feedlens needs the gcsfs" in proc.stderr


# -- packed features ---------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def photos(data_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> list[tuple[str, str]]:
    """(sha256, path) of 9 real photos, then an unreadable file, then the first photo again."""
    from core.cache import sha256_file

    folder = tmp_path_factory.mktemp("photos")
    sources = sorted((data_dir / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))[::16][:9]
    paths = [Path(shutil.copy(source, folder / source.name)) for source in sources] + [folder / "broken.jpg"]
    paths[-1].write_bytes(b"not a jpeg")
    items = [(sha256_file(p), str(p)) for p in paths]
    assert len({sha for sha, _ in items}) == 10
    return items + items[:1]


def _same(a, b) -> bool:
    return (a.features.tobytes() == b.features.tobytes() and a.valid.tobytes() == b.valid.tobytes()
            and a.features.dtype == b.features.dtype)


@pytest.mark.parametrize("extractor_name", ["colour_texture", "raw"])
def test_packed_features_read_back_the_same_values_as_per_photo_entries(
        extractor_name, s3_env, photos, tmp_path: Path):
    from core.explore.features import compute_features, make_extractor

    extractor = make_extractor(extractor_name, raw_size=16) if extractor_name == "raw" else make_extractor(
        extractor_name)
    tag = extractor.cache_tag
    per_photo = compute_features(photos, extractor, cache=DiskCache(tmp_path / "local"), chunk=4)
    assert per_photo.computed == 9 and per_photo.valid.tolist() == [True] * 9 + [False, True]

    store = DiskCache(f"s3://{BUCKET}/packs-{extractor_name}")
    packed = compute_features(photos, extractor, cache=store, chunk=4, pack=True)
    assert _same(packed, per_photo) and packed.computed == 9
    assert len(store.keys(f"features-pack/{tag}", ".npz")) == 3  # 10 distinct photos in chunks of 4
    assert store.keys(f"features/{tag}", ".npy") == []  # no per-photo object
    # The batch's rerun reads its packs by key: nothing computed, no pack rewritten.
    before = {key: store.get(f"features-pack/{tag}", key, ".npz") for key in store.keys(f"features-pack/{tag}", ".npz")}
    rerun = compute_features(photos, extractor, cache=store, chunk=4, pack=True)
    assert (rerun.computed, rerun.reused) == (0, 9) and _same(rerun, per_photo)
    assert {key: store.get(f"features-pack/{tag}", key, ".npz") for key in before} == before
    # A reader (the Explore page, `feedlens features`) finds them in the packs, with any chunking.
    read = compute_features(photos[::-1], extractor, cache=store, chunk=3)
    assert (read.computed, read.reused) == (0, 9)
    assert read.features[::-1].tobytes() == per_photo.features.tobytes()
    assert store.keys(f"features/{tag}", ".npy") == []


def test_a_reader_finds_vectors_in_packs_and_per_photo_entries_together(s3_env, photos, tmp_path: Path):
    from core.explore.features import compute_features, make_extractor

    extractor = make_extractor("colour_texture")
    expected = compute_features(photos, extractor, cache=DiskCache(tmp_path / "local"))
    for location in (f"s3://{BUCKET}/mixed", str(tmp_path / "mixed")):
        cache = DiskCache(location)
        compute_features(photos[:4], extractor, cache=cache, pack=True)  # a batch of some photos
        compute_features(photos[6:8], extractor, cache=cache)  # the app, per photo
        mixed = compute_features(photos, extractor, cache=cache)
        assert (mixed.computed, mixed.reused) == (9 - 6, 6) and _same(mixed, expected), location
        # Packs written after the reader listed them are found by the next listing.
        compute_features(photos[4:6], extractor, cache=cache, pack=True)
        assert compute_features(photos[:8], extractor, cache=cache).computed == 0


def test_catalogues_and_manifests_go_to_the_store(s3_env, data_dir: Path):
    from core.archive import open_archive
    from core.batch.manifest import BatchManifest, read_manifest, write_manifest

    store = DiskCache(f"s3://{BUCKET}/catalogues")
    archive = open_archive(data_dir / BOSTON, cache=store)
    assert store.keys("catalogue", ".parquet") == [archive.key] == store.keys("catalogue", ".json")
    again = open_archive(data_dir / BOSTON, cache=store)  # read back from the store
    assert again.catalogue.equals(archive.catalogue)
    write_manifest(store, BatchManifest(archive.key, archive.name, str(archive.root), ["features"], "dask",
                                        total=25, done=25, state="finished"))
    assert read_manifest(store, archive.key).state == "finished"
    assert len(_objects("catalogues/batch-manifest-v1/")) == 1


# -- the batch on Dask, writing to S3 --------------------------------------------------------------------------


def _feedlens(*args, env: dict, local: Path) -> subprocess.CompletedProcess:
    """``python -m cli ARGS`` with ``env`` added, its local cache (FEEDLENS_CACHE_DIR) at ``local``."""
    full = {**os.environ, **env, "FEEDLENS_CACHE_DIR": str(local)}
    proc = subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=REPO, env=full,
                          capture_output=True, text=True, timeout=600)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    return proc


def test_batch_all_on_dask_into_s3_then_a_rerun_computes_nothing_and_the_app_reads_it(
        s3_env, data_dir: Path, shared_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("distributed")
    from core.archive import open_archive
    from core.explore.features import compute_features, make_extractor
    from core.faces.index import index_status

    url = f"s3://{BUCKET}/batch"
    local = tmp_path / "local-cache"
    env = {**s3_env, "FEEDLENS_MODEL_DIR": str(shared_dir / "models")}
    args = ["batch", "all", data_dir / BOSTON, "--cache", url, "--engine", "dask", "--workers", "2", "--chunk", "8",
            "--json"]
    first = _feedlens(*args, env=env, local=local)
    assert first.returncode == 0, first.stderr[-3000:]
    doc = json.loads(first.stdout)
    # The workers import the archive (its thumbnails are the import's), then run the steps.
    assert doc["photos"] == 25
    assert doc["computed"] == {"import": 25, "thumbnails": 25, "features": 25, "faces": 25}
    rerun = json.loads(_feedlens(*args, env=env, local=local).stdout)
    assert rerun["computed"] == {"import": 0, "thumbnails": 0, "features": 0, "faces": 0}
    assert rerun["reused"] == {"import": 25, "thumbnails": 25, "features": 25, "faces": 25}
    # Everything went to the bucket: the local cache folder holds no entry.
    assert not local.exists() or not [p for p in local.rglob("*") if p.is_file()]
    store = DiskCache(url)
    kinds = {key.split("/")[1] for key in _objects("batch/")}
    assert {"catalogue", "batch-manifest-v1", "thumb256", "imageinfo-v1", "features-pack", "faces"} <= kinds, kinds
    assert "features" not in kinds  # one pack per chunk of 8 photos, not one object per photo
    assert len(store.keys(f"features-pack/{make_extractor('colour_texture').cache_tag}", ".npz")) == 4

    # The app pointed at the same URL: the features and faces are read, not computed, and equal local ones.
    monkeypatch.setenv("FEEDLENS_CACHE_DIR", url)
    archive = open_archive(data_dir / BOSTON)
    items = list(zip(archive.catalogue["sha256"], archive.catalogue["path"]))
    from_s3 = compute_features(items, make_extractor("colour_texture"))
    assert (from_s3.computed, from_s3.reused) == (0, 25)
    computed_here = compute_features(items, make_extractor("colour_texture"), cache=DiskCache(tmp_path / "here"))
    assert computed_here.computed == 25 and _same(from_s3, computed_here)
    assert index_status(archive.catalogue) == (25, 25)
