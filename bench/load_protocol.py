"""Benchmark: many visitors against Feedlens, spoken at Streamlit's own websocket protocol.

``bench/load.py`` drives Chromium, and ten browsers on the server's two cores measure the
browsers more than the server. This client speaks the protocol the browser speaks: it opens
``ws://HOST/_stcore/stream`` (subprotocol ``streamlit``), sends ``BackMsg.rerun_script`` with a
``ClientState`` (page script hash, widget states) and reads ``ForwardMsg`` frames (the protobuf
classes shipped inside the ``streamlit`` package). A session costs a coroutine, not a browser.

Each session does what a visitor does, back to back with no think time (a stress bound):

1. opens the app (the default page, the bundled demo archive);
2. for each page (Archive, Filters, Explore, Forecast, Mosaic, Faces): switches to it, then
   changes one widget in the page's main area (a checkbox, toggle, select box, radio or slider
   outside a form; ``PREFERRED`` names the widget per page), as a visitor's click does;
3. walks the pages ``--rounds`` times.

*Page-ready* is from sending the ``rerun_script`` message until ``script_finished`` arrives
with a finished status (a run stopped for a rerun, ``FINISHED_EARLY_FOR_RERUN``, is not the
end: the page is not ready until the run that follows finishes). A run is an **error** when
its delta stream holds an ``exception`` element (a traceback, whatever ``showErrorDetails``
hides of it), when the script did not compile, or when it did not finish within
``--run-timeout``.

The bench starts its own server(s) on 127.0.0.1 (``streamlit run streamlit_app.py`` of
``--app-dir``, a fresh ``FEEDLENS_CACHE_DIR``; with ``--processes N`` N servers behind nginx with
sticky sessions, :mod:`bench.load_proxy`), warms the caches with one session's walk on each
process, then:

- ``load_protocol_cpu_per_run_s``: server CPU (user + system of the server processes, psutil)
  per page run, median over pages; each page is re-run ``--cpu-runs`` times by one session
  with nothing else running, ``load_protocol_cpu_per_run_<page>_s`` per page;
- for each ``--sessions`` count S: ``load_protocol_<S>_p50_s`` / ``_p95_s`` / ``_p99_s``
  page-ready over every run of every session, ``load_protocol_<S>_errors``,
  ``load_protocol_<S>_cpu_per_run_s`` (server CPU over the phase / runs), ``load_protocol_<S>_runs_per_s``;
- ``load_protocol_peak_rss_mb`` (server processes, sampled every 0.25 s), ``load_protocol_rss_per_session_mb``
  (RSS with S idle connected sessions on their last page, less the RSS before they connected, / S,
  for the largest S), ``load_protocol_client_cpu_pct`` (this process's CPU over the load phases,
  % of one core), ``load_protocol_errors`` (all phases).

``--photos N`` makes every session open an upload of N photos (bench/load.py's ZIP, imported
into the cache first as a visitor's upload is, then opened by its share link ``?archive=<sha256>``)
instead of the demo. ``--proxy`` puts nginx in front of a single process too (a fair 1 vs 2).

``--heavy [S]`` adds the busy phase of issue 19 (S sessions, default 10): two more visitors start
the heavy jobs through the app, as a browser does (the same page switch and button press): one
builds a mosaic of ``--heavy-tiles`` tiles (default 10,000: a 100 × 100 grid on the Mosaic page,
exact placement, uniform weights, each photo allowed as often as the tiles need, set by the
page's share-link parameters), the other builds the face index on the Faces page ("Build the face
index"). Both open an upload of ``--heavy-photos`` photos (default 1,000, held as ``--photos``
holds one; 0: the walkers' archive). On the demo's 15 photos a 10,000-tile grid reuses each photo
667 times, and the exact assignment of so many identical columns is a pathological case that ran
for minutes; the 15 photos also index in seconds. Once both have started, S sessions walk the pages (at least ``--rounds`` walks, and on
until both jobs are over). ``load_protocol_busy_<S>_p50_s`` / ``_p95_s`` / ``_p99_s`` are over the
runs that started while a heavy job was running (``_busy_runs`` of them), with
``load_protocol_busy_mosaic_s`` and ``load_protocol_busy_faces_s`` the two jobs' page-ready times
(press to the page drawn after the job).

``--name-prefix`` is put after ``load_protocol_`` (``--name-prefix before_`` for a side-by-side run).
Prints one JSON object per line ``{"name", "value", "unit"}``; progress and error details go to stderr.
Every wait has a timeout and the whole run ``--deadline``.

Usage::

    .venv/bin/python bench/load_protocol.py [--sessions 1,10] [--rounds 2] [--processes 1] [--proxy]
        [--photos 1000] [--app-dir .] [--server-opt runner.postScriptGC=false] [--deadline 1800]
        [--heavy 10] [--heavy-tiles 10000] [--heavy-photos 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import http.cookiejar
import json
import math
import os
import secrets
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
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PAGES = ["Archive", "Filters", "Explore", "Forecast", "Mosaic", "Faces"]
#: The widget each page's visitor changes (its label), when the page shows it; else the first one.
PREFERRED = {
    "Archive": "Keep location private",
    "Filters": "Sigma (px)",
    "Explore": "Size by likes",
    "Forecast": "Also try gradient boosting (slower)",
    "Mosaic": "Leave the target out of the tiles",
}
WIDGET_KINDS = ("checkbox", "selectbox", "radio", "slider")
MAIN_ROOT = 0  # ForwardMsg.metadata.delta_path[0]: 0 = main area, 1 = sidebar


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def log(message: str) -> None:
    print(f"[load_protocol {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def shared_dir() -> Path:
    return Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quantile(values: list[float], q: float) -> float:
    """The ``q`` quantile (0–1) of ``values``, nearest rank; NaN when empty.

    Examples
    --------
    >>> quantile([1.0, 2.0, 3.0, 4.0], 0.5), quantile([1.0, 2.0, 3.0, 4.0], 0.95)
    (2.0, 4.0)
    """
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, int(-(-q * len(ordered) // 1)))  # ceil(q * n), at least 1
    return ordered[min(rank, len(ordered)) - 1]


# -- servers --------------------------------------------------------------------------------


class Server:
    """``streamlit run streamlit_app.py`` of ``app_dir`` on a free loopback port."""

    def __init__(self, app_dir: Path, cache: Path, log_path: Path, options: list[str], env: dict | None = None):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        models = os.environ.get("FEEDLENS_MODEL_DIR") or str(shared_dir() / "models")
        server_env = dict(os.environ, FEEDLENS_CACHE_DIR=str(cache), FEEDLENS_MODEL_DIR=models,
                          FEEDLENS_ALLOW_LOCAL_PATHS="0", PYTHONDONTWRITEBYTECODE="1", **(env or {}))
        # The app's own imports come from app_dir (a worktree, or main for a "before" run).
        server_env["PYTHONPATH"] = str(app_dir)
        flags = []
        for option in options:
            key, _, value = option.partition("=")
            flags += [f"--{key}", value]
        self.log = open(log_path, "w+")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "streamlit", "run", "streamlit_app.py", "--server.port", str(self.port),
             "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
             *flags],
            cwd=app_dir, env=server_env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True,
        )

    def wait_healthy(self, timeout: float = 120) -> None:
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
        """Stop the server and its process group; return its log."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
            except ProcessLookupError:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # children left in the group
        except (ProcessLookupError, PermissionError):
            pass
        text = self.tail(10**7)
        self.log.close()
        return text


class Deployment:
    """One server, or ``processes`` servers behind nginx (sticky sessions), sharing one disk cache.

    ``url`` is where visitors go; ``cpu_seconds()`` and ``rss_bytes()`` sum the server processes
    and their children (not nginx, not this client); a thread keeps ``peak_rss``.
    """

    def __init__(self, app_dir: Path, workdir: Path, processes: int = 1, options: list[str] | None = None,
                 proxy: bool | None = None, env: dict | None = None, cache: Path | None = None):
        self.workdir = workdir
        self.cache = cache or workdir / "cache"
        self.cache.mkdir(parents=True, exist_ok=True)
        # One cookie secret for every process (XSRF tokens and login cookies are signed with it).
        env = {"STREAMLIT_SERVER_COOKIE_SECRET": secrets.token_hex(16), **(env or {})}
        self.servers = [Server(app_dir, self.cache, workdir / f"server{i}.log", options or [], env)
                        for i in range(processes)]
        self.proxy = None
        try:
            for server in self.servers:
                server.wait_healthy()
            if proxy if proxy is not None else processes > 1:
                from bench.load_proxy import NginxProxy

                self.proxy = NginxProxy([s.port for s in self.servers], workdir / "nginx")
                self.proxy.start()
        except BaseException:
            self.stop()
            raise
        self.url = self.proxy.url if self.proxy else self.servers[0].url
        self.peak_rss = 0
        self._stop = threading.Event()
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _procs(self):
        import psutil

        procs = []
        for server in self.servers:
            try:
                root = psutil.Process(server.proc.pid)
                procs += [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        return procs

    def cpu_seconds(self) -> float:
        import psutil

        total = 0.0
        for proc in self._procs():
            try:
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
            except psutil.NoSuchProcess:
                pass
        return total

    def rss_bytes(self) -> int:
        import psutil

        total = 0
        for proc in self._procs():
            try:
                total += proc.memory_info().rss
            except psutil.NoSuchProcess:
                pass
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak_rss = max(self.peak_rss, self.rss_bytes())
            self._stop.wait(0.25)

    def logs(self) -> str:
        return "\n".join(s.tail(3000) for s in self.servers)

    def stop(self) -> None:
        if hasattr(self, "_stop"):
            self._stop.set()
        if self.proxy is not None:
            self.proxy.stop()
        for server in self.servers:
            server.stop()


# -- the protocol client --------------------------------------------------------------------


@dataclass
class Widget:
    """A widget seen in a run's delta stream."""

    kind: str
    id: str
    label: str
    proto: object
    fragment_id: str = ""

    def changed_state(self, previous=None):
        """A ``WidgetState`` holding another value than the shown one, or than ``previous`` (the last one sent)."""
        from streamlit.proto.WidgetStates_pb2 import WidgetState

        state = WidgetState(id=self.id)
        p = self.proto
        if self.kind == "checkbox":
            current = previous.bool_value if previous is not None else (p.value if p.set_value else p.default)
            state.bool_value = not current
        elif self.kind in ("selectbox", "radio"):
            options = list(p.options)
            if previous is not None:
                current = previous.string_value
            elif p.HasField("raw_value"):
                current = p.raw_value
            else:
                current = options[p.default] if p.HasField("default") and p.default < len(options) else None
            others = [o for o in options if o != current] or options
            state.string_value = others[0]
        elif self.kind == "button":
            state.trigger_value = True
        elif self.kind == "slider":
            if previous is not None:
                values = list(previous.double_array_value.data)
            else:
                values = list(p.value) if p.set_value else list(p.default)
            step = p.step or 1.0
            low = values[0] + step if values[0] + step <= min(p.max, values[-1] if len(values) > 1 else p.max) \
                else values[0] - step
            state.double_array_value.data[:] = [max(p.min, low), *values[1:]]
        else:
            raise ValueError(f"cannot change a {self.kind}")
        return state


@dataclass
class RunRecord:
    """One run as the client saw it."""

    page: str
    action: str  # "open", "page" or "widget"
    seconds: float
    ok: bool
    error: str = ""


@dataclass
class _Run:
    done: asyncio.Event = field(default_factory=asyncio.Event)
    status: int | None = None
    exceptions: list[str] = field(default_factory=list)
    widgets: list[Widget] = field(default_factory=list)
    buttons: list[Widget] = field(default_factory=list)


class Session:
    """One visitor: a websocket to ``/_stcore/stream`` and the runs it asks for, one at a time."""

    def __init__(self, base_url: str, run_timeout: float = 180.0):
        self.base_url = base_url.rstrip("/")
        self.run_timeout = run_timeout
        self.pages: dict[str, str] = {}  # page title -> page script hash
        self.page = ""
        self.widgets: list[Widget] = []
        self.buttons: list[Widget] = []  # the buttons of the last page drawn (not used by the walk)
        self.sent: dict = {}  # widget id -> the last WidgetState sent
        self.media: list[str] = []  # /media/... URLs of images and downloads (held by the process that ran the script)
        self.ws = None
        self._run: _Run | None = None
        self._reader: asyncio.Task | None = None
        self.closed_reason = ""

    async def connect(self) -> None:
        """GET the app's page first (as a browser does: a proxy's sticky cookie comes with it), then the socket."""
        import websockets

        jar = http.cookiejar.CookieJar()
        opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar))
        loop = asyncio.get_running_loop()

        def fetch() -> dict:
            with opener.open(self.base_url + "/", timeout=30) as resp:
                resp.read()
                return dict(resp.headers)

        self.page_headers = await loop.run_in_executor(None, fetch)
        cookie = "; ".join(f"{c.name}={c.value}" for c in jar)
        headers = {"Cookie": cookie} if cookie else {}
        ws_url = self.base_url.replace("http://", "ws://", 1) + "/_stcore/stream"
        self.ws = await websockets.connect(ws_url, subprotocols=["streamlit"], additional_headers=headers,
                                           max_size=None, open_timeout=30, ping_interval=None)
        self.handshake_headers = dict(self.ws.response.headers)
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        try:
            async for frame in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(frame)
                self._handle(msg)
        except Exception as exc:  # noqa: BLE001 - the socket's end is reported on the run waiting for it
            self.closed_reason = f"{type(exc).__name__}: {exc}"
        else:
            self.closed_reason = "the server closed the socket"
        if self._run is not None:
            self._run.done.set()

    def _handle(self, msg) -> None:
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        kind = msg.WhichOneof("type")
        run = self._run
        if kind == "navigation":
            self.pages = {p.page_name: p.page_script_hash for p in msg.navigation.app_pages}
        elif kind == "delta" and run is not None and msg.delta.WhichOneof("type") == "new_element":
            element = msg.delta.new_element
            etype = element.WhichOneof("type")
            if etype == "imgs":
                self.media.extend(img.url for img in element.imgs.imgs if img.url.startswith("/media/"))
            elif etype == "download_button" and element.download_button.url.startswith("/media/"):
                self.media.append(element.download_button.url)
            if etype == "exception":
                run.exceptions.append(f"{element.exception.type}: {element.exception.message}"[:300])
            elif etype in WIDGET_KINDS and msg.metadata.delta_path[:1] == [MAIN_ROOT]:
                proto = getattr(element, etype)
                if not proto.form_id and not proto.disabled:
                    run.widgets.append(Widget(etype, proto.id, proto.label, proto, msg.delta.fragment_id))
            elif etype == "button" and not element.button.form_id and not element.button.disabled:
                button = element.button
                run.buttons.append(Widget("button", button.id, button.label, button, msg.delta.fragment_id))
        elif kind == "script_finished" and run is not None:
            status = msg.script_finished
            if status != ForwardMsg.FINISHED_EARLY_FOR_RERUN:
                run.status = status
                run.done.set()

    async def rerun(self, page: str = "", widget: Widget | None = None, action: str = "page",
                    query: str = "") -> RunRecord:
        """Ask for a run of ``page`` (its title; "" = the default page), with ``widget`` changed; wait for its end."""
        from streamlit.proto.BackMsg_pb2 import BackMsg
        from streamlit.proto.ClientState_pb2 import ClientState
        from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

        if page and page not in self.pages:  # the page list comes with the first run's navigation message
            return RunRecord(page, action, 0.0, False, f"no page {page!r} (known: {sorted(self.pages)})")
        state = ClientState(query_string=query, page_script_hash=self.pages.get(page, ""))
        if widget is not None:
            changed = widget.changed_state(self.sent.get(widget.id))
            self.sent[widget.id] = changed
            state.widget_states.widgets.append(changed)
            if widget.fragment_id:
                state.fragment_id = widget.fragment_id
        run = self._run = _Run()
        start = time.perf_counter()
        if self.closed_reason:
            return RunRecord(page, action, 0.0, False, f"socket closed: {self.closed_reason}")
        await self.ws.send(BackMsg(rerun_script=state).SerializeToString())
        try:
            await asyncio.wait_for(run.done.wait(), self.run_timeout)
        except TimeoutError:
            return RunRecord(page, action, time.perf_counter() - start, False,
                             f"no script_finished within {self.run_timeout:.0f} s")
        finally:
            self._run = None
        seconds = time.perf_counter() - start
        self.page = page
        if widget is None or not widget.fragment_id:
            self.widgets, self.buttons = run.widgets, run.buttons
        if run.status is None:
            return RunRecord(page, action, seconds, False, f"socket closed: {self.closed_reason}")
        if run.status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            return RunRecord(page, action, seconds, False, "the script did not compile")
        if run.exceptions:
            return RunRecord(page, action, seconds, False, "; ".join(run.exceptions))
        return RunRecord(page, action, seconds, True)

    def pick_widget(self, page: str) -> Widget | None:
        """The widget a visitor of ``page`` changes: the preferred label, else the first one."""
        for widget in self.widgets:
            if widget.label == PREFERRED.get(page):
                return widget
        return self.widgets[0] if self.widgets else None

    def button(self, key: str) -> Widget | None:
        """The button with widget key ``key`` on the last page drawn (Streamlit ends a keyed widget's id with it)."""
        return next((b for b in self.buttons if b.id.endswith("-" + key)), None)

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            try:
                await asyncio.wait_for(self._reader, 10)
            except (TimeoutError, asyncio.CancelledError):
                self._reader.cancel()


async def walk(session: Session, pages: list[str], rounds: int, records: list[RunRecord],
               deadline: float, change_widgets: bool = True, query: str = "") -> None:
    """Open the app (at ``?query``), then ``rounds`` times: every page, and one widget changed on each."""
    records.append(await session.rerun("", action="open", query=query))
    for _ in range(rounds):
        for page in pages:
            if time.monotonic() > deadline:
                return
            records.append(await session.rerun(page, action="page"))
            widget = session.pick_widget(page) if change_widgets else None
            if widget is not None and time.monotonic() < deadline:
                records.append(await session.rerun(page, widget, action="widget"))


async def open_sessions(url: str, count: int, run_timeout: float) -> list[Session]:
    sessions = [Session(url, run_timeout) for _ in range(count)]
    await asyncio.gather(*(s.connect() for s in sessions))
    return sessions


async def close_sessions(sessions: list[Session]) -> None:
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)


# -- phases ---------------------------------------------------------------------------------


def _client_cpu() -> float:
    times = os.times()
    return times.user + times.system


async def load_phase(deployment: Deployment, count: int, rounds: int, run_timeout: float,
                     deadline: float, query: str = "") -> tuple[list[RunRecord], dict]:
    """``count`` sessions walking at once; returns their runs and the phase's figures."""
    sessions = await open_sessions(deployment.url, count, run_timeout)
    records: list[RunRecord] = []
    cpu0, wall0, client0 = deployment.cpu_seconds(), time.monotonic(), _client_cpu()
    try:
        await asyncio.gather(*(walk(s, PAGES, rounds, records, deadline, query=query) for s in sessions))
        wall = time.monotonic() - wall0
        cpu = deployment.cpu_seconds() - cpu0
        client = _client_cpu() - client0
        # Sessions idle on their last page: what each costs in memory while connected.
        await asyncio.sleep(1.0)
        rss_connected = deployment.rss_bytes()
    finally:
        await close_sessions(sessions)
    figures = {"wall": wall, "cpu": cpu, "client_cpu": client, "rss_connected": rss_connected}
    return records, figures


async def cpu_profile(deployment: Deployment, runs: int, run_timeout: float, deadline: float,
                      query: str = "") -> dict[str, float]:
    """Server CPU per run of each page: one session re-runs each page ``runs`` times, nothing else running."""
    (session,) = await open_sessions(deployment.url, 1, run_timeout)
    per_page: dict[str, float] = {}
    try:
        await session.rerun("", action="open", query=query)
        for page in PAGES:
            await session.rerun(page)  # the first run of the page is not counted (page switch)
            cpu0 = deployment.cpu_seconds()
            done = 0
            for _ in range(runs):
                if time.monotonic() > deadline:
                    break
                record = await session.rerun(page)
                if not record.ok:
                    log(f"cpu profile {page}: {record.error}")
                done += 1
            if done:
                per_page[page] = (deployment.cpu_seconds() - cpu0) / done
    finally:
        await close_sessions([session])
    return per_page


async def press_job_button(session: Session, page: str, button_key: str, query: str, page_query: str,
                           records: list[RunRecord]) -> RunRecord:
    """Open the app, go to ``page`` (with its share-link ``page_query``), press ``button_key``; the job's run."""
    records.append(await session.rerun("", action="open", query=query))
    records.append(await session.rerun(page, action="page", query=page_query))
    button = session.button(button_key)
    if button is None:
        return RunRecord(page, "job", 0.0, False, f"no button {button_key!r} on {page} "
                                                  f"(buttons: {[b.label for b in session.buttons]})")
    return await session.rerun(page, button, action="job", query=page_query)


async def heavy_phase(deployment: Deployment, count: int, rounds: int, run_timeout: float, job_timeout: float,
                      deadline: float, query: str, n_photos: int, tiles: int,
                      heavy_query: str = "") -> tuple[list, dict]:
    """``count`` sessions walk while one visitor builds a ``tiles``-tile mosaic and another indexes faces.

    The walkers open the archive of ``query``, the two heavy visitors that of ``heavy_query``
    (``n_photos`` distinct photos).

    Returns ``(busy, record)`` for every walk run (``busy``: a heavy job was running when it started)
    and the two jobs' runs by name.
    """
    side = max(1, round(math.sqrt(tiles)))
    reuse = min(1000, max(1, -(-side * side // max(n_photos, 1))))
    link = f"exclude=false&reuse={reuse}&rows={side}&cols={side}&methods=exact&weights=false"
    mosaic_query = f"{heavy_query}&{link}" if heavy_query else link
    (mosaic_visitor, faces_visitor) = await open_sessions(deployment.url, 2, job_timeout)
    walkers = await open_sessions(deployment.url, count, run_timeout)
    side_records: list[RunRecord] = []
    jobs = {
        "mosaic": asyncio.create_task(press_job_button(mosaic_visitor, "Mosaic", "mosaic_build", heavy_query,
                                                       mosaic_query, side_records)),
        "faces": asyncio.create_task(press_job_button(faces_visitor, "Faces", "faces_build", heavy_query,
                                                      heavy_query, side_records)),
    }
    log(f"heavy jobs: a {side} x {side} mosaic (reuse {reuse}, {n_photos} photos) and the face index")

    def busy() -> bool:
        return any(not job.done() for job in jobs.values())

    # Both visitors open the app and switch pages first; the walkers start once both jobs are pressed.
    started = time.monotonic()
    while len(side_records) < 4 and busy() and time.monotonic() - started < job_timeout:
        await asyncio.sleep(0.2)
    await asyncio.sleep(2.0)
    runs: list[tuple[bool, RunRecord]] = []

    async def walk_while_busy(session: Session) -> None:
        runs.append((busy(), await session.rerun("", action="open", query=query)))
        done = 0
        while (done < rounds or busy()) and time.monotonic() < deadline:
            for page in PAGES:
                was_busy = busy()
                runs.append((was_busy, await session.rerun(page, action="page")))
                widget = session.pick_widget(page)
                if widget is not None:
                    was_busy = busy()
                    runs.append((was_busy, await session.rerun(page, widget, action="widget")))
            done += 1

    try:
        await asyncio.gather(*(walk_while_busy(s) for s in walkers))
        remaining = max(1.0, min(job_timeout - (time.monotonic() - started), deadline - time.monotonic()))
        done, _ = await asyncio.wait(jobs.values(), timeout=remaining)
        heavy = {name: job.result() if job in done else RunRecord(name, "job", remaining, False, "not finished")
                 for name, job in jobs.items()}
        report_errors("heavy visitors (open, page)", side_records)
    finally:
        for job in jobs.values():
            job.cancel()
        await close_sessions([mosaic_visitor, faces_visitor, *walkers])
    return runs, heavy


def hold_upload(photos: int, cache: Path) -> str:
    """Import bench/load.py's ``photos``-photo ZIP into ``cache`` as an upload the server holds; its share-link hash.

    What a visitor's upload leaves behind (``core.archive``: extracted under its hash, an open owner
    record), so sessions open it as a share link does, without each sending 150 MB.
    """
    from bench.load import make_archive
    from core.archive.catalogue import load_zip
    from core.archive.uploads import record_upload, upload_hash
    from core.cache import DiskCache

    zip_path = make_archive(photos)
    disk = DiskCache(cache)
    archive = load_zip(zip_path, name=zip_path.name, cache=disk)
    sha = upload_hash(archive, disk)
    record_upload(sha, zip_path.name, None, disk)
    return sha


def _demo_photos() -> int:
    """Distinct photos of the demo archive (what the Mosaic page tiles with)."""
    from core.archive.demo import load_demo

    return int(load_demo().catalogue["sha256"].nunique())


def report_errors(label: str, records: list[RunRecord]) -> int:
    errors = [r for r in records if not r.ok]
    for record in errors[:20]:
        log(f"{label}: error on {record.page or 'open'} ({record.action}, {record.seconds:.1f} s): {record.error}")
    return len(errors)


async def run_bench(args: argparse.Namespace) -> None:
    app_dir = Path(args.app_dir).resolve()
    prefix = "load_protocol_" + args.name_prefix
    workdir = Path(tempfile.mkdtemp(prefix="feedlens-load-protocol-"))
    deadline = time.monotonic() + args.deadline
    counts = [int(c) for c in args.sessions.split(",") if c.strip()]
    log(f"starting {args.processes} server(s) of {app_dir} (options: {args.server_opt or 'none'}); "
        f"load {os.getloadavg()[0]:.2f}")
    cache = Path(args.cache).resolve() if args.cache else workdir / "cache"
    query = ""
    if args.photos:
        query = "archive=" + hold_upload(args.photos, cache)
        log(f"sessions open a {args.photos}-photo upload by its share link (?{query[:20]}...)")
    deployment = Deployment(app_dir, workdir, args.processes, args.server_opt, proxy=args.proxy or None, cache=cache)
    total_errors = 0
    try:
        # Each process has its own in-memory caches: one walk on each, straight to it (not through the proxy).
        log(f"warm-up: one session walks every page once on each process (caches: {deployment.cache})")
        warm: list[RunRecord] = []
        t0 = time.monotonic()
        for server in deployment.servers:
            (session,) = await open_sessions(server.url, 1, args.warmup_timeout)
            await walk(session, PAGES, 1, warm, deadline, query=query)
            await close_sessions([session])
        report_errors("warm-up", warm)
        emit(prefix + "warmup_s", time.monotonic() - t0, "s")

        if args.cpu_runs > 0:
            per_page = await cpu_profile(deployment, args.cpu_runs, args.run_timeout, deadline, query)
            for page, seconds in per_page.items():
                emit(f"{prefix}cpu_per_run_{page.lower()}_s", seconds, "s")
            if per_page:
                emit(prefix + "cpu_per_run_s", statistics.median(per_page.values()), "s")

        client_cpu, client_wall = 0.0, 0.0
        rss_per_session = None
        for count in counts:
            if time.monotonic() > deadline:
                log(f"deadline reached before {count} sessions")
                break
            rss_before = deployment.rss_bytes()
            log(f"{count} sessions x {args.rounds} walk(s); load {os.getloadavg()[0]:.2f}")
            records, figures = await load_phase(deployment, count, args.rounds, args.run_timeout, deadline, query)
            times = [r.seconds for r in records if r.ok]
            errors = report_errors(f"{count} sessions", records)
            total_errors += errors
            emit(f"{prefix}{count}_p50_s", quantile(times, 0.50), "s")
            emit(f"{prefix}{count}_p95_s", quantile(times, 0.95), "s")
            emit(f"{prefix}{count}_p99_s", quantile(times, 0.99), "s")
            emit(f"{prefix}{count}_errors", errors, "count")
            emit(f"{prefix}{count}_runs", len(records), "count")
            emit(f"{prefix}{count}_runs_per_s", len(records) / max(figures["wall"], 1e-9), "1/s")
            emit(f"{prefix}{count}_cpu_per_run_s", figures["cpu"] / max(len(records), 1), "s")
            client_cpu += figures["client_cpu"]
            client_wall += figures["wall"]
            rss_per_session = (figures["rss_connected"] - rss_before) / count / 2**20
        if args.heavy and time.monotonic() < deadline:
            heavy_query, n_photos = query, args.photos or _demo_photos()
            if args.heavy_photos and args.heavy_photos != args.photos:
                heavy_query, n_photos = "archive=" + hold_upload(args.heavy_photos, cache), args.heavy_photos
            log(f"busy phase: {args.heavy} sessions walk while two visitors run heavy jobs; "
                f"load {os.getloadavg()[0]:.2f}")
            runs, heavy = await heavy_phase(deployment, args.heavy, args.rounds, args.run_timeout,
                                            args.heavy_timeout, deadline, query, n_photos, args.heavy_tiles,
                                            heavy_query)
            busy_times = [r.seconds for was_busy, r in runs if was_busy and r.ok]
            errors = report_errors(f"busy {args.heavy} sessions", [r for _, r in runs])
            total_errors += errors
            for name, record in heavy.items():
                if not record.ok:
                    log(f"heavy job {name}: {record.error}")
                    total_errors += 1
                emit(f"{prefix}busy_{name}_s", record.seconds, "s")
            emit(f"{prefix}busy_{args.heavy}_p50_s", quantile(busy_times, 0.50), "s")
            emit(f"{prefix}busy_{args.heavy}_p95_s", quantile(busy_times, 0.95), "s")
            emit(f"{prefix}busy_{args.heavy}_p99_s", quantile(busy_times, 0.99), "s")
            emit(f"{prefix}busy_{args.heavy}_busy_runs", len(busy_times), "count")
            emit(f"{prefix}busy_{args.heavy}_runs", len(runs), "count")
            emit(f"{prefix}busy_{args.heavy}_errors", errors, "count")
        if rss_per_session is not None:
            emit(prefix + "rss_per_session_mb", rss_per_session, "MB")
        if client_wall:
            emit(prefix + "client_cpu_pct", 100 * client_cpu / client_wall, "%")
        emit(prefix + "peak_rss_mb", deployment.peak_rss / 2**20, "MB")
        emit(prefix + "errors", total_errors, "count")
        emit(prefix + "loadavg_1min", os.getloadavg()[0], "")
    finally:
        deployment.stop()
        if total_errors or args.keep_logs:
            log(f"server logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", default="1,10", help="comma-separated session counts, one phase each")
    parser.add_argument("--rounds", type=int, default=2, help="walks over every page per session")
    parser.add_argument("--processes", type=int, default=1, help="servers behind nginx (sticky sessions)")
    parser.add_argument("--proxy", action="store_true", help="nginx in front even of one process (a fair 1 vs 2)")
    parser.add_argument("--app-dir", default=str(REPO), help="the checkout whose streamlit_app.py is served")
    parser.add_argument("--server-opt", action="append", default=[],
                        help="a Streamlit option for the server(s), e.g. runner.postScriptGC=false")
    parser.add_argument("--cache", help="a cache folder to use and keep (warm from an earlier run); default: a new one")
    parser.add_argument("--photos", type=int, default=0,
                        help="sessions open an upload of this many photos by its share link (0: the demo)")
    parser.add_argument("--cpu-runs", type=int, default=5, help="runs per page for the CPU profile (0: none)")
    parser.add_argument("--name-prefix", default="", help="put after load_protocol_ in every name")
    parser.add_argument("--run-timeout", type=float, default=180.0)
    parser.add_argument("--warmup-timeout", type=float, default=600.0)
    parser.add_argument("--deadline", type=float, default=1800.0, help="seconds for the whole run")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--heavy", type=int, nargs="?", const=10, default=0,
                        help="the busy phase: this many sessions (default 10) walk while one visitor builds a "
                             "mosaic and another indexes faces")
    parser.add_argument("--heavy-tiles", type=int, default=10_000, help="tiles of the busy phase's mosaic")
    parser.add_argument("--heavy-photos", type=int, default=1000,
                        help="the heavy visitors open an upload of this many photos (0: the walkers' archive)")
    parser.add_argument("--heavy-timeout", type=float, default=1800.0, help="seconds each heavy job may take")
    args = parser.parse_args(argv)
    asyncio.run(run_bench(args))


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    main()
