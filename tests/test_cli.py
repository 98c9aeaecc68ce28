"""The ``feedlens`` command line, run as ``python -m cli`` on a real Instaloader archive.

Every subcommand runs in a subprocess against one cache folder for this
module (the app's cache: the Explore page is then opened on it with AppTest),
with the real MediaPipe models (``../shared/models``). ImageNet weights are
not forced either way: offline (here) ``features`` falls back to colour &
texture, as the Explore page does, and the test follows whichever set it used.
"""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

REPO = Path(__file__).resolve().parents[1]
BOSTON = "instaloader-boston-2accounts"
N_POSTS, N_PHOTOS = 10, 25  # see the data set's README: 10 posts, 25 photos once videos are skipped


@pytest.fixture(scope="module")
def cli_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One cache for the whole module, as a user's commands and app share one."""
    return tmp_path_factory.mktemp("cli-cache")


@pytest.fixture(autouse=True)
def isolated_cache(cli_cache: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The conftest's per-test cache, replaced by the module's (the AppTest reads it in-process)."""
    monkeypatch.setenv("FEEDLENS_CACHE_DIR", str(cli_cache))
    return cli_cache


@pytest.fixture(scope="module")
def boston(data_dir: Path) -> Path:
    return data_dir / BOSTON


def feedlens(*args: object, cache: Path, shared: Path | None = None, check: int | None = 0,
             timeout: int = 300) -> subprocess.CompletedProcess:
    """Run ``python -m cli ARGS`` with ``cache`` as its cache; check the exit code when ``check`` is given."""
    shared = shared or Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    env = {**os.environ, "FEEDLENS_CACHE_DIR": str(cache), "FEEDLENS_MODEL_DIR": str(shared / "models")}
    proc = subprocess.run([sys.executable, "-m", "cli", *map(str, args)], cwd=REPO, env=env, capture_output=True,
                          text=True, timeout=timeout)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    if check is not None:
        assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    return proc


def as_json(proc: subprocess.CompletedProcess) -> dict:
    """The one JSON document on stdout (it must be all of stdout)."""
    return json.loads(proc.stdout)


def one_line_error(proc: subprocess.CompletedProcess) -> str:
    """The error message: the last line of stderr, ``feedlens: error: ...``."""
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("feedlens: error: "), proc.stderr[-2000:]
    return last


def cache_files(cache: Path, under: str = "") -> dict[str, int]:
    """Every file under ``cache/under`` with its modification time (ns)."""
    root = cache / under
    return {p.relative_to(cache).as_posix(): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}


def assert_cache_whole(cache: Path) -> None:
    """No temporary file is left, and every array, table and JSON entry loads."""
    leftovers = [p for p in cache.rglob(".tmp-*")] + [p for p in cache.rglob("*.part")]
    assert not leftovers, leftovers
    for path in cache.rglob("*"):
        if not path.is_file() or "archives" in path.relative_to(cache).parts:
            continue  # extracted ZIP members are the user's files, not entries
        if path.suffix == ".npy":
            np.load(path, allow_pickle=False)
        elif path.suffix == ".npz":
            with np.load(path, allow_pickle=False) as npz:
                [npz[name] for name in npz.files]
        elif path.suffix == ".parquet":
            pd.read_parquet(path)
        elif path.suffix == ".json":
            json.loads(path.read_bytes())


# -- import -------------------------------------------------------------------------------


def test_import_prints_counts_formats_and_problems(boston: Path, cli_cache: Path):
    doc = as_json(feedlens("import", boston, "--json", cache=cli_cache))
    assert doc["ok"] is True
    assert doc["archive"]["posts"] == N_POSTS and doc["archive"]["images"] == N_PHOTOS
    assert doc["archive"]["formats"] == ["instaloader"] and doc["archive"]["likes_known"]
    assert {p["action"] for p in doc["problems"] if "video posts" in p["problem"]} == {"its thumbnail kept as a photo"}
    text = feedlens("import", boston, cache=cli_cache).stdout
    assert f"{N_POSTS} posts, {N_PHOTOS} photos" in text and "formats: instaloader" in text


@pytest.mark.parametrize("target, expected", [
    ("missing-folder", "no such folder or ZIP file"),
    ("notes.txt", "not a folder or a ZIP archive"),
    ("fake.zip", "not a folder or a ZIP archive"),
])
def test_a_missing_or_non_archive_path_exits_1_with_one_line(target: str, expected: str, tmp_path: Path,
                                                            cli_cache: Path):
    (tmp_path / "notes.txt").write_text("not an archive")
    (tmp_path / "fake.zip").write_bytes(b"PK\x03\x04 truncated")
    proc = feedlens("import", tmp_path / target, cache=cli_cache, check=1)
    assert expected in one_line_error(proc)
    doc = as_json(feedlens("import", tmp_path / target, "--json", cache=cli_cache, check=1))
    assert doc["ok"] is False and doc["exit_code"] == 1 and doc["error"]["type"] == "ArchiveError"


def _hostile_zip(folder: Path, photos: list[Path], *, good: bool = True) -> Path:
    path = folder / "hostile.zip"
    real = photos[0].read_bytes()
    with zipfile.ZipFile(path, "w") as zf:
        if good:
            for photo in photos:
                zf.write(photo, f"posts/{photo.name}")
        zf.writestr("../evil.jpg", real)  # zip slip
        zf.writestr("posts/truncated.jpg", real[: len(real) // 3])
        zf.writestr("posts/empty.jpg", b"")
    return path


def test_zip_with_bad_members_imports_the_good_photos_and_lists_the_rest(boston: Path, cli_cache: Path,
                                                                         tmp_path: Path):
    photos = sorted((boston / "beehiveboston").glob("*.jpg"))[:3]
    path = _hostile_zip(tmp_path, photos)
    proc = feedlens("import", path, "--json", cache=cli_cache)
    doc = as_json(proc)
    assert doc["archive"]["images"] == 3 and doc["archive"]["formats"] == ["plain images"]
    problems = {p["file"]: p for p in doc["problems"]}
    assert "unsafe path" in problems["../evil.jpg"]["problem"] and problems["../evil.jpg"]["action"] == "skipped"
    assert problems["posts/truncated.jpg"]["level"] == "error"
    assert problems["posts/empty.jpg"]["level"] == "error"
    assert not list(cli_cache.rglob("evil.jpg")) and not (tmp_path.parent / "evil.jpg").exists()
    assert "unsafe path" in feedlens("import", path, cache=cli_cache).stdout  # the text lists them too
    assert_cache_whole(cli_cache)


def test_zip_without_any_usable_photo_exits_1_and_still_lists_why(boston: Path, cli_cache: Path, tmp_path: Path):
    path = _hostile_zip(tmp_path, sorted((boston / "beehiveboston").glob("*.jpg"))[:1], good=False)
    proc = feedlens("import", path, "--json", cache=cli_cache, check=1)
    doc = as_json(proc)
    assert doc["ok"] is False and doc["archive"]["images"] == 0
    assert {p["file"] for p in doc["problems"]} >= {"../evil.jpg", "posts/truncated.jpg"}
    assert "no photo could be imported" in one_line_error(proc)


# -- bad arguments ------------------------------------------------------------------------


@pytest.mark.parametrize("args", [
    [],  # no command: help, exit 2 (Click's no_args_is_help)
    ["import"],
    ["import", "ARCHIVE", "--no-such-option"],
    ["features", "ARCHIVE", "--features", "no_such_set"],
    ["features", "ARCHIVE", "--features", "raw", "--random-weights"],
    ["train", "ARCHIVE", "--no-hashtags", "--no-alt-text", "--no-imagenet", "--no-faces", "--no-people",
     "--no-cluster"],
    ["people", "ARCHIVE", "--name", "no-equals-sign"],
    ["forecast", "PHOTO"],
    ["forecast", "PHOTO", "--archive", "ARCHIVE", "--time", "yesterday-ish"],
    ["filter", "ARCHIVE", "--out", "x.zip"],
])
def test_bad_arguments_exit_2_with_a_usage_message(args: list[str], boston: Path, cli_cache: Path):
    args = [str(boston) if a == "ARCHIVE" else str(boston / "beehiveboston" / "2023-03-24_00-19-52_UTC.jpg")
            if a == "PHOTO" else a for a in args]
    proc = feedlens(*args, cache=cli_cache, check=2)
    assert "Usage:" in proc.stderr or "Usage:" in proc.stdout
    assert proc.stdout == "" or not args  # nothing on stdout but the help of a bare `feedlens`


# -- features, then the Explore page ------------------------------------------------------------


def test_features_then_the_explore_page_reads_every_feature_from_the_cache(boston: Path, cli_cache: Path):
    proc = feedlens("features", boston, "--json", cache=cli_cache)
    doc = as_json(proc)
    assert doc["photos"] == N_PHOTOS and doc["computed"] + doc["reused"] > 0 and doc["unreadable"] == 0
    if doc["fallback"] is not None:  # offline: said clearly, and the page's own fallback was computed
        assert doc["feature_set"] == "colour_texture" and doc["fallback"]["from"] == "mobilenet_v3_small"
        assert "ImageNet weights" in doc["fallback"]["reason"]
        assert any("could not be had" in w for w in doc["warnings"])
        assert "could not be had" in proc.stderr
    else:
        assert doc["feature_set"] == "mobilenet_v3_small" and doc["imagenet_labels"]

    from core.archive.catalogue import open_archive
    from core.explore.features import compute_features, make_extractor

    archive = open_archive(boston)  # read back from the same cache: the key the page will use
    assert archive.key == doc["archive"]["key"]
    features = cache_files(cli_cache, f"features/{doc['tag']}")
    assert len(features) == archive.catalogue["sha256"].nunique()
    if doc["feature_set"] == "colour_texture":  # cheap to check in-process: the cache holds all of it
        again = compute_features(zip(archive.catalogue["sha256"], archive.catalogue["path"]),
                                 make_extractor("colour_texture"))
        assert (again.computed, again.tag) == (0, doc["tag"])

    before = cache_files(cli_cache, "features")
    st.cache_resource.clear()
    st.cache_data.clear()
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=240)
    at.session_state["archive"] = archive
    at.run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="explore_features").value == doc["feature_set"]
    assert at.get("plotly_chart"), "the map is drawn"
    # Nothing computed: no feature entry was added or rewritten (a computed photo is written atomically,
    # which gives a new file or a new modification time).
    assert cache_files(cli_cache, "features") == before
    st.cache_resource.clear()
    st.cache_data.clear()

    # A rerun reads everything back.
    rerun = as_json(feedlens("features", boston, "--features", doc["feature_set"], "--json", cache=cli_cache))
    assert rerun["computed"] == 0 and rerun["reused"] == len(features)


def test_map_reads_the_features_and_writes_the_map(boston: Path, cli_cache: Path, tmp_path: Path):
    feedlens("features", boston, "--features", "colour_texture", cache=cli_cache)
    out = tmp_path / "map.parquet"
    doc = as_json(feedlens("map", boston, "--features", "colour_texture", "-k", "3", "--out", out, "--json",
                           cache=cli_cache))
    assert doc["computed"] == 0 and doc["reused"] == doc["photos"] == N_PHOTOS
    assert doc["method"] == "kmeans" and doc["k"] == 3 and sum(doc["clusters"].values()) == N_PHOTOS
    table = pd.read_parquet(out)
    assert len(table) == N_PHOTOS and {"file", "x", "y", "cluster"} <= set(table.columns)
    assert "path" not in table.columns  # the server's own paths stay out of an export
    assert table["cluster"].nunique() == 3
    hdbscan = as_json(feedlens("map", boston, "--features", "colour_texture", "--clusters", "hdbscan",
                               "--min-cluster", "2", "--json", cache=cli_cache))
    assert hdbscan["method"] == "hdbscan" and hdbscan["k"] is None


def test_ctrl_c_stops_features_with_130_and_leaves_only_whole_entries(boston: Path, tmp_path: Path,
                                                                      shared_dir: Path):
    cache = tmp_path / "cache"
    args = [sys.executable, "-m", "cli", "features", str(boston), "--features", "mobilenet_v3_small",
            "--random-weights", "--batch-size", "1", "--json"]
    env = {**os.environ, "FEEDLENS_CACHE_DIR": str(cache), "FEEDLENS_MODEL_DIR": str(shared_dir / "models")}
    log = tmp_path / "stderr.txt"
    with open(log, "w") as stderr:  # a file, not a pipe: nobody reads it while the job runs
        proc = subprocess.Popen(args, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=stderr, text=True)
        entries = cache / "features" / "mobilenet_v3_small-random0-224-v1"
        deadline = time.monotonic() + 180
        while not (entries.is_dir() and any(entries.rglob("*.npy"))):  # the job is under way
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.05)
        proc.send_signal(signal.SIGINT)
        out, _ = proc.communicate(timeout=120)
    err = log.read_text()
    assert proc.returncode == 130, err[-3000:]
    assert "Traceback" not in err
    doc = json.loads(out)
    assert doc["ok"] is False and doc["exit_code"] == 130 and doc["error"]["type"] == "Cancelled"
    assert err.strip().splitlines()[-1].startswith("feedlens: error: stopped by Ctrl-C")
    done = len(list(entries.rglob("*.npy")))
    assert 0 < done < N_PHOTOS
    assert_cache_whole(cache)

    rerun = as_json(feedlens("features", boston, "--features", "mobilenet_v3_small", "--random-weights", "--json",
                             cache=cache))
    assert rerun["reused"] == done and rerun["computed"] == N_PHOTOS - done
    assert_cache_whole(cache)


# -- faces and people ----------------------------------------------------------------------------


def test_faces_then_people_with_names(boston: Path, cli_cache: Path):
    doc = as_json(feedlens("faces", boston, "--json", cache=cli_cache))
    assert doc["photos"] == doc["indexed"] == N_PHOTOS and doc["failed"] == []
    assert doc["faces"] >= 1 and doc["recognisable"] >= 1
    assert 0 <= doc["photos_without_faces"] < N_PHOTOS

    people = as_json(feedlens("people", boston, "--json", cache=cli_cache))["people"]
    assert people and sum(p["faces"] for p in people) == doc["recognisable"]
    assert [p["faces"] for p in people] == sorted((p["faces"] for p in people), reverse=True)
    first = people[0]["person_id"]
    assert people[0]["name"].startswith("Person ") and not people[0]["named"]

    text = feedlens("people", boston, "--name", f"{first}=Anna Ö", cache=cli_cache).stdout
    assert "Anna Ö" in text and "mean likes" in text
    named = as_json(feedlens("people", boston, "--json", cache=cli_cache))["people"]  # saved for the Faces page
    assert named[0]["person_id"] == first and named[0]["name"] == "Anna Ö" and named[0]["named"]

    proc = feedlens("people", boston, "--name", "p999=Nobody", cache=cli_cache, check=1)
    assert "no person p999" in one_line_error(proc)


# -- train and forecast ---------------------------------------------------------------------------


def test_forecast_without_a_saved_model_exits_1(boston: Path, cli_cache: Path, tmp_path: Path):
    photos = sorted((boston / "beehiveboston").glob("*.jpg"))[:2]
    proc = feedlens("forecast", photos[0], "--archive", _hostile_zip(tmp_path, photos), cache=cli_cache, check=1)
    assert "no forecast model is saved" in one_line_error(proc) and "feedlens train" in proc.stderr


def test_train_then_forecast_a_photo(boston: Path, cli_cache: Path, tmp_path: Path):
    doc = as_json(feedlens("train", boston, "--no-imagenet", "--boosting", "--json", cache=cli_cache))
    # One post hides its likes (README), not its comments: it trains the comments forecast only.
    assert doc["posts"] == N_POSTS and doc["hidden_likes"] == 1 and doc["targets"] == {"likes": 9, "comments": 10}
    assert "imagenet" not in doc["sources"] and "hashtags" in doc["sources"]
    assert "gradient boosting" in doc["models"] and Path(doc["model_path"]).is_file()
    assert {m["model"] for m in doc["evaluation"]["metrics"]} == set(doc["models"])

    photo = boston / "royaleboston" / "2024-06-05_19-06-02_UTC_1.jpg"
    result = as_json(feedlens("forecast", photo, "--archive", boston, "--caption", "#boston tonight",
                              "--time", "2024-07-01T18:00", "--json", cache=cli_cache))
    assert result["when"] == "2024-07-01T18:00:00+00:00"
    assert sorted(r["model"] for r in result["forecasts"]) == sorted(doc["models"])
    assert result["forecasts"][0]["model"] == result["best_model"]  # the chosen model first
    assert all(r["likes"] >= 0 for r in result["forecasts"])
    assert "#boston" in result["labels"] and len(result["similar"]) == 6
    assert result["similar"][0]["distance"] < 1e-3  # the photo is a post of the archive

    proc = feedlens("forecast", tmp_path / "missing.jpg", "--archive", boston, "--json", cache=cli_cache, check=1)
    assert as_json(proc)["error"]["type"] == "ImageError" and "no such file" in one_line_error(proc)
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(photo.read_bytes()[:300])
    proc = feedlens("forecast", broken, "--archive", boston, cache=cli_cache, check=1)
    assert proc.stdout == "" and "broken.jpg: " in one_line_error(proc)


# -- filter -------------------------------------------------------------------------------------


def test_filter_applies_a_pipeline_file_or_link_into_a_zip(boston: Path, cli_cache: Path, tmp_path: Path):
    from core.filters.pipeline import Pipeline

    pipe = Pipeline([]).append("grayscale").append("median_blur", {"size": 3})
    (tmp_path / "pipeline.json").write_text(pipe.to_json())
    out = tmp_path / "out" / "filtered.zip"
    doc = as_json(feedlens("filter", boston, "--pipeline", tmp_path / "pipeline.json", "--out", out,
                           "--format", "jpeg", "--json", cache=cli_cache))
    assert doc["written"] == doc["total"] == N_PHOTOS and doc["failures"] == []
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert Pipeline.from_json(zf.read("pipeline.json")) == pipe
        first = next(n for n in names if n.endswith(".jpg"))
        from PIL import Image

        assert Image.open(io.BytesIO(zf.read(first))).mode == "L"
    assert len([n for n in names if n.endswith(".jpg")]) == N_PHOTOS

    # A share link, on a ZIP whose broken members were left out at import.
    small = _hostile_zip(tmp_path, sorted((boston / "beehiveboston").glob("*.jpg"))[:2])
    link = f"http://localhost:8501/filters?archive=x&pipeline={pipe.to_query()}"
    png = as_json(feedlens("filter", small, "-p", link, "-o", tmp_path / "p.zip", "--json", cache=cli_cache))
    assert png["pipeline"] == pipe.to_dict() and png["written"] == png["total"] == 2
    with zipfile.ZipFile(tmp_path / "p.zip") as zf:
        assert sorted(n for n in zf.namelist() if n.endswith(".png")) == sorted(
            p.with_suffix(".png").name for p in sorted((boston / "beehiveboston").glob("*.jpg"))[:2])

    proc = feedlens("filter", boston, "--pipeline", "1z.not-a-pipeline", "--out", tmp_path / "bad.zip",
                    cache=cli_cache, check=1)
    assert "--pipeline:" in one_line_error(proc)
    assert not (tmp_path / "bad.zip").exists() and not list(tmp_path.glob(".tmp-*"))


def test_mosaic_writes_a_print_file_and_reports_region_errors(boston: Path, cli_cache: Path, tmp_path: Path):
    from PIL import Image

    target = sorted(boston.rglob("*.jpg"))[0]
    out = tmp_path / "mosaic.png"
    doc = as_json(feedlens("mosaic", boston, "--target", target, "--out", out, "--rows", "6", "--cols", "6",
                           "--width", "600", "--height", "600", "--dpi", "100", "--method", "greedy", "--uniform",
                           "--json", cache=cli_cache))
    assert (doc["rows"], doc["cols"], doc["method"], doc["weighted"]) == (6, 6, "greedy", False)
    assert doc["photos"] == N_PHOTOS - 1  # the target, one of the archive's photos, is not a tile
    with Image.open(out) as image:
        assert image.size == (doc["width"], doc["height"]) == (600, 600)
        assert [round(d) for d in image.info["dpi"]] == [100, 100]
    assert 0 < doc["region_errors"]["all"] < 1

    bad = feedlens("mosaic", boston, "--target", tmp_path / "missing.jpg", "--out", out, cache=cli_cache, check=1)
    assert "missing.jpg" in one_line_error(bad)
    feedlens("mosaic", boston, "--target", target, "--out", out, "--rows", "6", cache=cli_cache, check=2)


def test_cli_doctests():
    """The examples in cli/'s docstrings (pytest collects doctests from core/ only)."""
    import doctest

    import cli.filters
    import cli.runner
    import cli.text

    for module in (cli.runner, cli.text, cli.filters):
        result = doctest.testmod(module, optionflags=doctest.ELLIPSIS)
        assert result.failed == 0 and result.attempted > 0, module.__name__
