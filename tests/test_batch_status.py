"""The pages say how far a batch on the current archive is, from its manifest in the cache (``ui.batch_status``).

The manifests are written here as ``feedlens batch``'s driver writes them
(:func:`core.batch.manifest.write_manifest` into ``FEEDLENS_CACHE_DIR``);
the app reads them through the cache only.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.archive import open_archive
from core.batch.manifest import MANIFEST_KIND, BatchManifest, core_version, write_manifest
from core.cache import DiskCache

REPO = Path(__file__).resolve().parents[1]
PAGES = ["app_pages/archive.py", "app_pages/explore.py", "app_pages/faces.py", "app_pages/forecast.py"]
FAILURE = ["p1.jpg", "cannot identify image *bold* <b>x</b>"]  # user text: must stay text


@pytest.fixture
def archive(tmp_path: Path, isolated_cache: Path):
    """Three small photos, imported into the test's cache (the pages stop early on so few: nothing to compute)."""
    folder = tmp_path / "my feed"
    folder.mkdir()
    rng = np.random.default_rng(4)
    for i in range(3):
        Image.fromarray(rng.integers(0, 255, (60, 80, 3), dtype=np.uint8)).save(folder / f"p{i}.jpg")
    return open_archive(folder, cache=DiskCache(isolated_cache))


def _manifest(archive, **fields) -> BatchManifest:
    return BatchManifest(archive.key, archive.name, str(archive.root), ["thumbnails", "features", "faces"], "dask",
                         **{"total": 5000, "done": 1234, "failed": 1, "failures": [FAILURE], **fields})


def _write(cache: Path, manifest: BatchManifest, updated: datetime | None = None) -> None:
    """Write as the driver does; ``updated`` back-dates it (the driver went silent then)."""
    if updated is None:
        write_manifest(DiskCache(cache), manifest)
    else:
        manifest.updated_at = updated.isoformat(timespec="seconds")
        DiskCache(cache).put(MANIFEST_KIND, manifest.archive_key, manifest.to_json(), ".json")


def _app(archive, page: str = "app_pages/archive.py", **setup) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    for name, value in setup.items():
        setattr(at, name, value)
    at.session_state["archive"] = archive
    at.run()
    if page != "app_pages/archive.py":
        at.switch_page(page).run()
    assert not at.exception, at.exception
    return at


def _plain(markdown: str) -> str:
    """Text the page escaped for Markdown (``ui.text.md``), as the user reads it."""
    return re.sub(r"\\(.)", r"\1", markdown)


def _said(at: AppTest, kind: str) -> list[str]:
    return [_plain(e.value) for e in getattr(at, kind)]


def _progress(at: AppTest) -> list[tuple[int, str]]:
    return [(e.proto.value, _plain(e.proto.text)) for e in at.get("progress")]


def _failures_table(at: AppTest) -> list[list[str]]:
    [expander] = [e for e in at.expander if e.label == "Photos the batch could not process"]
    return expander.dataframe[0].value.to_numpy().tolist()


def test_a_running_batch_shows_its_progress_on_every_page(archive, isolated_cache: Path):
    _write(isolated_cache, _manifest(archive))
    at = _app(archive)
    for page in PAGES:
        if page != "app_pages/archive.py":
            at.switch_page(page).run()
        assert not at.exception, at.exception
        [(percent, text)] = _progress(at)
        assert percent == 24, page
        assert re.fullmatch(r"Batch job \(dask\): 1,234 of 5,000 photos, 1 failed, updated \d+ s ago", text), text
        assert any(c.startswith("Results appear as the batch writes them") for c in _said(at, "caption")), page
        assert _failures_table(at) == [FAILURE], page
        assert not at.warning and not at.error and not at.code, page


def test_a_batch_whose_driver_went_silent_says_it_stopped_and_how_to_resume(archive, isolated_cache: Path):
    _write(isolated_cache, _manifest(archive), updated=datetime.now(timezone.utc) - timedelta(hours=2, minutes=5))
    at = _app(archive, "app_pages/faces.py")
    assert not at.get("progress")
    [warning] = _said(at, "warning")
    assert warning == ("The batch job (dask) on this archive stopped without finishing: 1,234 of 5,000 photos done, "
                       "1 failed; its last update was 2 h ago.")
    assert any(c.startswith("Run the same feedlens batch command again to resume") for c in _said(at, "caption"))
    assert [c.value for c in at.code] == [f"feedlens batch all '{archive.root}' --engine dask"]
    assert _failures_table(at) == [FAILURE]


@pytest.mark.parametrize("state, kind, words", [
    ("cancelled", "warning", "was cancelled after 1,234 of 5,000 photos, 1 failed."),
    ("failed", "error", "stopped with an error after 1,234 of 5,000 photos, 1 failed."),
])
def test_a_cancelled_or_failed_batch_says_so_with_the_command_that_resumes_it(
        state, kind, words, archive, isolated_cache: Path):
    _write(isolated_cache, _manifest(archive, state=state))
    at = _app(archive, "app_pages/explore.py")
    assert not at.get("progress")
    assert _said(at, kind) == [f"The batch job (dask) on this archive {words}"]
    assert [c.value for c in at.code] == [f"feedlens batch all '{archive.root}' --engine dask"]


def test_results_of_another_version_are_flagged_naming_both(archive, isolated_cache: Path):
    _write(isolated_cache, _manifest(archive, state="finished", done=5000, core_version="0.0.9"))
    at = _app(archive, "app_pages/forecast.py")
    app_version = core_version()
    app_name = "Feedlens (version unknown)" if app_version == "unknown" else f"Feedlens {app_version}"
    [flag] = _said(at, "warning")
    assert flag.startswith(f"These results were computed by Feedlens 0.0.9, and this app is {app_name}. "
                           "They may differ"), flag
    assert [c.value for c in at.code] == [f"feedlens batch all '{archive.root}' --engine dask"]


def test_a_batch_finished_by_this_version_is_only_a_quiet_caption(archive, isolated_cache: Path):
    _write(isolated_cache, _manifest(archive, state="finished", done=5000, failed=0, failures=[]))
    at = _app(archive)
    assert not at.get("progress") and not at.warning and not at.error and not at.code
    assert [c for c in _said(at, "caption") if re.fullmatch(r"Batch job \(dask\) finished \d+ s ago: 5,000 photos\.", c)]


def test_an_archive_without_a_manifest_shows_no_batch_status(archive, isolated_cache: Path):
    other = _manifest(archive)
    other.archive_key = "another-archive"
    _write(isolated_cache, other)  # a batch on another archive is not this one's
    at = _app(archive)
    for page in PAGES:
        if page != "app_pages/archive.py":
            at.switch_page(page).run()
        assert not at.exception, at.exception
        assert not at.get("progress"), page
        shown = [m for kind in ("caption", "warning", "error", "info", "markdown") for m in _said(at, kind)]
        assert not [m for m in shown if "batch" in m.lower()], page


def test_with_login_on_the_batch_of_the_users_archive_is_shown(archive, isolated_cache: Path):
    # Pages see a per-user Archive.key (core.links.scoped_key); the driver wrote the catalogue's own key.
    _write(isolated_cache, _manifest(archive, done=12, total=50, failed=0, failures=[]))
    auth = {"redirect_uri": "http://127.0.0.1:1/oauth2callback", "cookie_secret": "s", "client_id": "c",
            "client_secret": "d", "server_metadata_url": "http://127.0.0.1:1/.well-known/openid-configuration"}
    at = _app(archive, secrets={"auth": auth}, user={"is_logged_in": True, "iss": "https://idp", "sub": "alice"})
    [(percent, text)] = _progress(at)
    assert percent == 24 and text.startswith("Batch job (dask): 12 of 50 photos, updated ")
    assert not at.code


@pytest.mark.browser
def test_a_running_batch_updates_on_screen_without_a_reload(browser, shared_dir: Path, tmp_path: Path):
    """The driver rewrites the manifest; the page's progress follows it, and the page reloads when it ends."""
    from conftest import serve_app, wait_for_app

    from core.archive.demo import load_demo

    cache = tmp_path / "server-cache"  # the server's FEEDLENS_CACHE_DIR (conftest.serve_app)
    demo = load_demo(DiskCache(cache))  # the archive the server opens first: same folder, same key
    running = BatchManifest(demo.key, demo.name, str(demo.root), ["thumbnails", "features", "faces"], "dask",
                            total=200, done=20)
    write_manifest(DiskCache(cache), running)
    with serve_app(tmp_path, shared_dir) as (url, served_cache):
        assert served_cache == cache
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        wait_for_app(page)
        main = page.locator("[data-testid='stMain']")
        main.get_by_text(re.compile(r"Batch job \(dask\): 20 of 200 photos, updated \d+ s ago")).wait_for(
            timeout=60_000)
        page.evaluate("window.__feedlens_same_page = true")  # gone if the page were reloaded

        running.done, running.failed = 120, 2
        running.failures = [["p7.jpg", "cannot identify image <b>x</b>"], ["p9.jpg", "worker process died"]]
        write_manifest(DiskCache(cache), running)
        main.get_by_text(re.compile(r"Batch job \(dask\): 120 of 200 photos, 2 failed")).wait_for(timeout=30_000)
        assert page.evaluate("window.__feedlens_same_page") is True
        bar = main.locator("[data-testid='stProgress'] [role='progressbar']")
        assert bar.get_attribute("aria-valuenow") == "60"
        main.get_by_text("Photos the batch could not process").click()
        table = main.locator("[data-testid='stExpander'] [data-testid='stDataFrame']")
        table.wait_for(timeout=30_000)
        running.done = 130
        write_manifest(DiskCache(cache), running)
        main.get_by_text(re.compile(r"Batch job \(dask\): 130 of 200 photos, 2 failed")).wait_for(timeout=30_000)
        assert table.is_visible(), "the failures stay open while the bar refreshes"
        page.screenshot(path="/tmp/batch_status_running.png", full_page=False)

        running.state, running.done = "finished", 200
        write_manifest(DiskCache(cache), running)
        main.get_by_text(re.compile(r"Batch job \(dask\) finished \d+ s ago: 200 photos, 2 failed\.")).wait_for(
            timeout=30_000)
        wait_for_app(page)
        assert main.locator("[data-testid='stProgress']").count() == 0
        assert page.evaluate("window.__feedlens_same_page") is True
        page.screenshot(path="/tmp/batch_status_finished.png", full_page=False)

        running.core_version = "0.0.9"
        _write(cache, running, updated=datetime.now(timezone.utc) - timedelta(minutes=3))
        page.goto(f"{url}/faces")
        wait_for_app(page)
        main.get_by_text("These results were computed by Feedlens 0.0.9, and this app is").wait_for(timeout=60_000)
        main.get_by_text(f"feedlens batch all {demo.root} --engine dask").wait_for(timeout=30_000)
        main.get_by_role("button", name="Build the face index").wait_for(timeout=30_000)
        page.screenshot(path="/tmp/batch_status_other_version.png", full_page=False)

        running.state, running.core_version, running.done = "running", core_version(), 150
        _write(cache, running, updated=datetime.now(timezone.utc) - timedelta(hours=3))
        page.goto(f"{url}/forecast")
        wait_for_app(page)
        main.get_by_text("stopped without finishing").wait_for(timeout=60_000)
        main.get_by_text(f"feedlens batch all {demo.root} --engine dask").wait_for(timeout=30_000)
        page.screenshot(path="/tmp/batch_status_stale.png", full_page=False)
        assert not errors, errors
