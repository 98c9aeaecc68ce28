"""Benchmark: 10 concurrent browser sessions against one local ``streamlit run``.

The script starts its own server (``streamlit run streamlit_app.py`` on a free
localhost port, a fresh ``FEEDLENS_CACHE_DIR`` under /tmp, ``FEEDLENS_MODEL_DIR``
from the environment or ``../shared/models``), drives Debian's Chromium through
Playwright (one browser, one context per session, asyncio) and always stops the
server at the end.

Every session does what a visitor of a hosted Feedlens does:

1. open the app (the demo archive) and walk through every page by clicking the
   sidebar links: Archive, Filters, Explore, Forecast, Mosaic, Faces;
2. upload a 1,000-photo archive through the real sidebar uploader (one ZIP of
   1,000 distinct 1080×1080 JPEGs made once from the shared photos, about
   150 MB) and import it. An upload is what a hosted visitor does (opening a
   server folder is off there, ``FEEDLENS_ALLOW_LOCAL_PATHS=0``, which this
   server also sets), so it is what is measured;
3. walk through every page again, on the 1,000-photo archive.

*Page-ready time* is from the click on a page's link (or ``page.goto`` for the
first page) until the page's own title is shown, Streamlit's running indicator
(``[data-testid='stStatusWidget']``) is gone and the main block has content,
and stays so for 0.4 s (the time is the moment it first became so).

Caches: a **warm-up** pass (one session doing the same walk) runs first on the
empty cache; it computes thumbnails, the catalogue, Explore's features and map.
Its figures are reported as ``load_warmup_*``. Then the 10 sessions run at once
with warm caches: ``load_10_sessions_p50_s`` and ``load_10_sessions_p95_s`` are
over all their page visits (10 × 12). The import itself (upload, hash, read the
catalogue back from the cache) is timed apart: ``load_10_sessions_import_p50_s``.

Errors (``load_errors``) are counted over the 10 sessions: exceptions shown on
a page (``[data-testid='stException']``), timeouts, JavaScript page errors and
console errors. ``load_peak_rss_mb`` is the peak of the summed RSS of the server
process and its children, sampled every 0.25 s (psutil if installed, else /proc),
during the whole run including the warm-up. Targets: p95 <= 5 s warm, 0 errors,
RSS <= 4 GB.

Prints one JSON object per line, ``{"name", "value", "unit"}``; details of each
error go to stderr. Every wait has a timeout and the whole run a deadline.

Usage::

    .venv/bin/python bench/load.py [--sessions 10] [--photos 1000] [--no-warmup] [--deadline 2400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
WORK = Path(tempfile.gettempdir()) / "feedlens-load"
PAGES = ["Archive", "Filters", "Explore", "Forecast", "Mosaic", "Faces"]
SIDE = 1080
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--disable-dev-shm-usage"]

READY_JS = """
(title) => {
  const app = document.querySelector("[data-testid='stApp']");
  if (!app || app.dataset.testScriptState !== "notRunning") return false;
  if (app.dataset.testConnectionState && app.dataset.testConnectionState !== "CONNECTED") return false;
  if (document.querySelector("[data-testid='stStatusWidget']")) return false;
  const main = document.querySelector("[data-testid='stMain']");
  if (!main) return false;
  const h1 = main.querySelector("h1");
  if (!h1 || !h1.textContent.trim().startsWith(title)) return false;
  const block = main.querySelector("[data-testid='stMainBlockContainer']") || main;
  return block.innerText.trim().length > 0;
}
"""


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(value, 3), "unit": unit}), flush=True)


def log(message: str) -> None:
    print(f"[load {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# -- the 1,000-photo archive ----------------------------------------------------------------


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def make_archive(n: int) -> Path:
    """A ZIP of ``n`` distinct 1080×1080 JPEGs cut from the shared photos (made once, reused)."""
    from PIL import Image, ImageOps

    target = WORK / f"archive-{n}.zip"
    if target.is_file() and (WORK / f"archive-{n}.complete").is_file():
        return target
    data = shared_dir() / "data"
    sources = sorted((data / "photos-imagenet-coarse6" / "images").rglob("*.JPEG"))
    sources += sorted((data / "instaloader-top20-celebs" / "DATA" / "IMAGES").rglob("*.jpg"))
    if not sources:
        raise SystemExit(f"no photos found under {data}")
    WORK.mkdir(parents=True, exist_ok=True)
    rng = random.Random(8)
    log(f"writing {n} JPEGs into {target} (once)")
    part = target.with_suffix(".part")
    with zipfile.ZipFile(part, "w", zipfile.ZIP_STORED) as zf:
        for i in range(n):
            with Image.open(sources[i % len(sources)]) as img:
                img = img.convert("RGB")
                w, h = img.size
                # A different crop (and mirror) on every pass over the sources: distinct photos.
                scale = rng.uniform(0.7, 1.0)
                cw, ch = max(16, int(w * scale)), max(16, int(h * scale))
                x, y = rng.randint(0, w - cw), rng.randint(0, h - ch)
                photo = ImageOps.fit(img.crop((x, y, x + cw, y + ch)), (SIDE, SIDE), Image.Resampling.BILINEAR)
                if rng.random() < 0.5:
                    photo = ImageOps.mirror(photo)
                buf = WORK / "one.jpg"
                photo.save(buf, "JPEG", quality=85)
                zf.write(buf, f"photos/photo_{i:04d}.jpg")
    os.replace(part, target)
    (WORK / f"archive-{n}.complete").touch()
    return target


# -- the server and its memory ------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def tree_rss_bytes(pid: int) -> int:
    """Summed RSS of ``pid`` and all its descendants."""
    try:
        import psutil
    except ImportError:
        psutil = None
    if psutil is not None:
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for proc in procs:
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total
    # /proc: build the parent map once per sample.
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as fh:
                stat = fh.read()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    total, todo = 0, [pid]
    page = os.sysconf("SC_PAGE_SIZE")
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/statm") as fh:
                total += int(fh.read().split()[1]) * page
        except (OSError, ValueError, IndexError):
            pass
    return total


class Server:
    """``streamlit run streamlit_app.py`` on a free port, with an RSS sampler."""

    def __init__(self, cache: Path, log_path: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        models = os.environ.get("FEEDLENS_MODEL_DIR") or str(shared_dir() / "models")
        env = dict(os.environ, FEEDLENS_CACHE_DIR=str(cache), FEEDLENS_MODEL_DIR=models,
                   FEEDLENS_ALLOW_LOCAL_PATHS="0")
        self.log = open(log_path, "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"],
            cwd=REPO, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, tree_rss_bytes(self.proc.pid))
            self._stop.wait(0.25)

    def wait_healthy(self, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"streamlit exited:\n{self.tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError(f"streamlit did not answer /_stcore/health in {timeout} s:\n{self.tail()}")

    def tail(self, n: int = 4000) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-n:]

    def stop(self) -> str:
        """Stop the server and every process it started; return its log."""
        self._stop.set()
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        # Children left in the group (a mosaic solve, say).
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        text = self.tail(10**7)
        self.log.close()
        return text


# -- one browser session ---------------------------------------------------------------------


@dataclass
class Session:
    name: str
    samples: list[tuple[str, str, float]] = field(default_factory=list)  # (archive, page, seconds)
    import_s: float | None = None
    errors: list[str] = field(default_factory=list)
    offline: list[str] = field(default_factory=list)  # URLs of other hosts that could not be resolved
    verbose: bool = False


def on_console_error(session: Session, msg, origin: str) -> None:
    """Count a console error; a resource of another host the offline machine cannot reach is kept apart."""
    where = (msg.location or {}).get("url", "")
    if "ERR_NAME_NOT_RESOLVED" in msg.text and where and not where.startswith(origin):
        session.offline.append(where)
    else:
        session.errors.append(f"{session.name} console error: {msg.text[:300]} at {where[:200]}")


async def page_ready(page, title: str, timeout_s: float) -> float:
    """Wait until the page titled ``title`` is ready and has stayed ready for 0.4 s."""
    deadline = time.monotonic() + timeout_s
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError(f"{title}: not ready after {timeout_s:.0f} s")
        await page.wait_for_function(READY_JS, arg=title, polling=100, timeout=left * 1000)
        first = time.monotonic()
        await asyncio.sleep(0.4)
        if await page.evaluate(READY_JS, title):
            return first
        # A rerun started again (a page that reruns itself once): wait for it to settle.


async def count_exceptions(page) -> int:
    return await page.locator("[data-testid='stException']").count()


async def visit(session: Session, page, archive: str, title: str, timeout_s: float, *, goto: str | None = None) -> None:
    start = time.monotonic()
    try:
        if goto is not None:
            await page.goto(goto, timeout=timeout_s * 1000)
        else:
            link = page.locator("[data-testid='stSidebarNav']").get_by_role("link", name=title, exact=True)
            await link.click(timeout=timeout_s * 1000)
        ready = await page_ready(page, title, timeout_s)
        session.samples.append((archive, title, ready - start))
        if session.verbose:
            log(f"{session.name} {archive}/{title}: {ready - start:.2f} s")
        if n := await count_exceptions(page):
            session.errors.append(f"{session.name} {archive}/{title}: {n} exception(s) shown on the page")
    except Exception as exc:  # noqa: BLE001 - a timeout or a broken page is an error to count
        session.errors.append(f"{session.name} {archive}/{title}: {type(exc).__name__}: {str(exc)[:300]}")


async def import_zip(session: Session, page, zip_path: Path, n_photos: int, here: str, timeout_s: float) -> None:
    """Upload and import the ZIP from the page titled ``here`` (the app stays on that page)."""
    start = time.monotonic()
    try:
        sidebar = page.locator("[data-testid='stSidebar']")
        await sidebar.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
            str(zip_path), timeout=timeout_s * 1000)
        await sidebar.get_by_role("button", name="Import ZIP").click(timeout=timeout_s * 1000)
        await sidebar.get_by_text(f"Imported {n_photos} photos from {zip_path.name}").wait_for(
            timeout=timeout_s * 1000)
        await page_ready(page, here, timeout_s)
        session.import_s = time.monotonic() - start
    except Exception as exc:  # noqa: BLE001
        session.errors.append(f"{session.name} import: {type(exc).__name__}: {str(exc)[:300]}")
        raise


async def run_session(browser, url: str, name: str, zip_path: Path, n_photos: int, timeout_s: float) -> Session:
    session = Session(name, verbose=name == "warmup")
    context = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await context.new_page()
    page.on("pageerror", lambda exc: session.errors.append(f"{name} page error: {str(exc)[:300]}"))
    page.on("console", lambda msg: msg.type == "error" and on_console_error(session, msg, url))
    try:
        await visit(session, page, "demo", "Archive", timeout_s, goto=url)
        for title in PAGES[1:]:
            await visit(session, page, "demo", title, timeout_s)
        await import_zip(session, page, zip_path, n_photos, PAGES[-1], timeout_s)
        for title in PAGES:
            await visit(session, page, f"{n_photos}", title, timeout_s)
    except Exception:  # noqa: BLE001 - already counted; the other sessions go on
        pass
    finally:
        await context.close()
    return session


async def drive(url: str, zip_path: Path, n_photos: int, sessions: int, warmup: bool,
                cold_timeout: float, warm_timeout: float) -> tuple[Session | None, list[Session]]:
    from playwright.async_api import async_playwright

    chromium = shutil.which("chromium") or "/usr/bin/chromium"
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            warm = None
            if warmup:
                log("warm-up: one session on the empty cache")
                warm = await run_session(browser, url, "warmup", zip_path, n_photos, cold_timeout)
                log(f"warm-up done: {len(warm.samples)} pages, {len(warm.errors)} errors")
            log(f"{sessions} sessions at once")
            runs = await asyncio.gather(*(
                run_session(browser, url, f"s{i}", zip_path, n_photos, warm_timeout) for i in range(sessions)
            ))
        finally:
            await browser.close()
    return warm, list(runs)


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=10)
    parser.add_argument("--photos", type=int, default=1000)
    parser.add_argument("--no-warmup", action="store_true")
    parser.add_argument("--warm-timeout", type=float, default=180, help="seconds per page with warm caches")
    parser.add_argument("--cold-timeout", type=float, default=900, help="seconds per page in the warm-up")
    parser.add_argument("--deadline", type=float, default=2400, help="seconds for the whole run")
    args = parser.parse_args()

    # A SIGTERM (a CI timeout, say) ends the run through the finally below, which stops the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    zip_path = make_archive(args.photos)
    run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=WORK))
    cache = run_dir / "cache"
    server = Server(cache, run_dir / "streamlit.log")
    status, n_errors = 1, 0
    try:
        server.wait_healthy()
        log(f"server {server.url}, cache {cache}, ZIP {zip_path} ({zip_path.stat().st_size / 1e6:.0f} MB)")
        t0 = time.monotonic()
        warm, runs = asyncio.run(asyncio.wait_for(
            drive(server.url, zip_path, args.photos, args.sessions, not args.no_warmup,
                  args.cold_timeout, args.warm_timeout),
            timeout=args.deadline,
        ))
        log(f"done in {time.monotonic() - t0:.0f} s")
        times = [s for run in runs for _, _, s in run.samples]
        errors = [e for run in runs for e in run.errors]
        expected = args.sessions * 2 * len(PAGES)
        emit("load_sessions", args.sessions, "sessions")
        prefix = f"load_{args.sessions}_sessions"  # the names with the default 10
        emit("load_archive_photos", args.photos, "photos")
        emit(f"{prefix}_p50_s", percentile(times, 50), "s")
        emit(f"{prefix}_p95_s", percentile(times, 95), "s")
        emit(f"{prefix}_max_s", max(times, default=float("nan")), "s")
        emit(f"{prefix}_page_visits", len(times), f"visits of {expected}")
        for archive in ("demo", str(args.photos)):
            part = [s for run in runs for a, _, s in run.samples if a == archive]
            emit(f"{prefix}_{archive}_p95_s", percentile(part, 95), "s")
        imports = [run.import_s for run in runs if run.import_s is not None]
        emit(f"{prefix}_import_p50_s", percentile(imports, 50), "s")
        emit(f"{prefix}_import_max_s", max(imports, default=float("nan")), "s")
        n_errors = len(errors)
        offline = sorted({u for run in runs for u in run.offline})
        emit("load_external_resources_unreachable", sum(len(run.offline) for run in runs), "requests")
        for url in offline:
            log(f"not counted as an error (this machine has no internet): could not load {url}")
        if warm is not None:
            wt = [s for _, _, s in warm.samples]
            emit("load_warmup_p50_s", percentile(wt, 50), "s")
            emit("load_warmup_max_s", max(wt, default=float("nan")), "s")
            emit("load_warmup_import_s", warm.import_s if warm.import_s is not None else float("nan"), "s")
            emit("load_warmup_errors", len(warm.errors), "errors")
            for archive, title, s in warm.samples:
                log(f"warm-up {archive:>5} {title:<9} {s:7.2f} s")
        by_page: dict[str, list[float]] = {}
        for run in runs:
            for archive, title, s in run.samples:
                by_page.setdefault(f"{archive}/{title}", []).append(s)
        for key, values in by_page.items():
            log(f"10 sessions {key:<15} p50 {statistics.median(values):6.2f} s  max {max(values):6.2f} s")
        for error in (warm.errors if warm else []) + errors:
            log(f"error: {error}")
        status = 0
    except (asyncio.TimeoutError, TimeoutError):
        log(f"the run passed its deadline of {args.deadline:.0f} s")
    finally:
        text = server.stop()
        tracebacks = text.count("Traceback")
        if tracebacks:
            log(f"the server log holds {tracebacks} traceback(s):\n" + text[-3000:])
        if status == 0:
            emit("load_errors", n_errors + tracebacks, "errors")
        else:
            emit("load_errors", -1, "errors (the run did not finish)")
        emit("load_peak_rss_mb", server.peak_rss / 1024**2, "MB")
        shutil.rmtree(run_dir, ignore_errors=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
