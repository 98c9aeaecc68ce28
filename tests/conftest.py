"""Shared fixtures: the real test data in ../shared, an isolated cache, a live server."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _shared_dir() -> Path:
    root = os.environ.get("FEEDLENS_SHARED_DIR")
    path = Path(root) if root else REPO.parent / "shared"
    if not (path / "data").is_dir():
        pytest.fail(
            f"shared test data not found at {path}: clone the project beside shared/ "
            "or set FEEDLENS_SHARED_DIR",
            pytrace=False,
        )
    return path


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """``../shared`` (or ``FEEDLENS_SHARED_DIR``): real photos, dumps and models."""
    return _shared_dir()


@pytest.fixture(scope="session")
def data_dir(shared_dir: Path) -> Path:
    return shared_dir / "data"


@pytest.fixture(autouse=True)
def isolated_cache(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own empty cache folder, so no test sees another's entries."""
    cache = tmp_path_factory.mktemp("cache")
    monkeypatch.setenv("FEEDLENS_CACHE_DIR", str(cache))
    return cache


def wait_for_app(page, timeout: int = 180_000) -> None:
    """Wait until the Streamlit app is connected and no script run is in progress.

    Streamlit marks its root with ``data-test-script-state`` (``notRunning``
    once a run has finished) and ``data-test-connection-state``; this app
    hides the toolbar's running indicator, so that alone would not tell.
    """
    page.wait_for_selector("[data-testid='stApp']", timeout=60_000)
    page.wait_for_function(
        "() => { const app = document.querySelector(\"[data-testid='stApp']\");"
        " return !!app && app.dataset.testScriptState === 'notRunning'"
        " && app.dataset.testConnectionState === 'CONNECTED'; }", timeout=timeout)


def open_folder(page, folder) -> None:
    """Open a folder from the sidebar's "Open a folder" source, as a user types it (the import then runs)."""
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("radio", name="Open a folder").click()
    box = sidebar.get_by_label("Folder on this computer")
    box.fill(str(folder))
    box.press("Enter")
    sidebar.get_by_role("button", name="Open folder").click()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def serve_app(workdir: Path, shared_dir: Path, *, port: int | None = None, args: tuple[str, ...] = (),
              env: dict | None = None):
    """Run ``streamlit run streamlit_app.py`` with its cache in ``workdir``; yield ``(url, cache)``.

    The server uses the shared MediaPipe models; ``env`` adds to (or
    overrides) its environment. A traceback in its log when it stops fails
    the test: a user saw (or would have seen) one.
    """
    port = port or _free_port()
    cache = workdir / "server-cache"
    cache.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "FEEDLENS_CACHE_DIR": str(cache), "FEEDLENS_MODEL_DIR": str(shared_dir / "models"),
                **(env or {})}
    with open(workdir / "streamlit.log", "w+") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             *args],
            cwd=REPO, env=full_env, stdout=log, stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                        if resp.status == 200:
                            break
                except OSError:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.seek(0)
                    pytest.fail(f"streamlit did not start:\n{log.read()[-3000:]}")
                time.sleep(0.3)
            yield url, cache
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            log.seek(0)
            server_log = log.read()
    assert "Traceback" not in server_log, server_log[-5000:]


def _start_server(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    """A server on a free port with a cache of its own; yields its URL."""
    with serve_app(tmp_path_factory.mktemp("server"), shared_dir) as (url, _cache):
        yield url


@pytest.fixture(scope="session")
def app_server(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    """A real ``streamlit run streamlit_app.py`` on a free localhost port, for the session.

    Yields the base URL. The server has its own cache folder and the shared
    MediaPipe models.
    """
    yield from _start_server(tmp_path_factory, shared_dir)


@pytest.fixture
def fresh_server(tmp_path_factory: pytest.TempPathFactory, shared_dir: Path):
    """A server no browser has talked to yet (for first-request behaviour)."""
    yield from _start_server(tmp_path_factory, shared_dir)


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium driven by Playwright."""
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(chromium).exists():
        pytest.fail("Chromium not found: apt-get install chromium", pytrace=False)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=chromium,
            args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """Where browser tests save screenshots for a person to look at."""
    path = REPO / "tests" / "artifacts"
    path.mkdir(parents=True, exist_ok=True)
    return path
