"""The protocol-level load client (bench/load_protocol.py) against real servers, and the weights gate.

No timing is asserted: these check that the client sees scripts finish, tells a page
that raised, and that the multi-process setup keeps a visitor on one process.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import threading
import time
from pathlib import Path

import pytest

from core.jobs import WeightsUnavailableError
from ui.resources import WeightsGate

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench import load_protocol  # noqa: E402

RAISING_APP = '''
import streamlit as st

def calm():
    st.title("Calm")
    st.checkbox("A box", key="box")

def broken():
    st.title("Broken")
    raise ValueError("made to raise")

page = st.navigation([st.Page(calm, title="Calm", default=True), st.Page(broken, title="Broken", url_path="broken")])
page.run()
'''


def _run(coro):
    """Run the client in a thread of its own: a Playwright test earlier in the session can leave an event loop
    registered as running in the main thread, where ``asyncio.run`` refuses to start."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, asyncio.wait_for(coro, 600)).result()


def test_two_sessions_walk_the_app_and_every_run_finishes(tmp_path: Path):
    deployment = load_protocol.Deployment(REPO, tmp_path, processes=1)
    try:
        async def two_walks():
            sessions = await load_protocol.open_sessions(deployment.url, 2, run_timeout=300)
            records: list = []
            try:
                pages = ["Archive", "Filters", "Faces"]
                await asyncio.gather(*(load_protocol.walk(s, pages, 1, records, time.monotonic() + 500)
                                       for s in sessions))
            finally:
                await load_protocol.close_sessions(sessions)
            return sessions, records

        sessions, records = _run(two_walks())
    finally:
        deployment.stop()
    assert all(set(s.pages) >= {"Archive", "Filters", "Explore", "Forecast", "Mosaic", "Faces"} for s in sessions)
    assert [r.error for r in records if not r.ok] == []
    actions = [(r.page, r.action) for r in records]
    for page in ("Archive", "Filters", "Faces"):
        assert actions.count((page, "page")) == 2
    # Archive and Filters show widgets in their main area: each session changed one there.
    assert actions.count(("Archive", "widget")) == 2 and actions.count(("Filters", "widget")) == 2


def test_a_page_that_raises_is_an_error_and_the_session_goes_on(tmp_path: Path):
    app = tmp_path / "app"
    (app / ".streamlit").mkdir(parents=True)
    (app / "streamlit_app.py").write_text(RAISING_APP)
    # The app's own settings: no error details shown, and still the exception element arrives.
    shutil.copy(REPO / ".streamlit" / "config.toml", app / ".streamlit" / "config.toml")
    deployment = load_protocol.Deployment(app, tmp_path / "work", processes=1)
    try:
        async def visit():
            sessions = await load_protocol.open_sessions(deployment.url, 2, run_timeout=120)
            try:
                first = await sessions[0].rerun("", action="open")
                box = sessions[0].pick_widget("Calm")
                changed = await sessions[0].rerun("Calm", box, action="widget")
                unknown = await sessions[1].rerun("Broken")  # before any run: no page list yet
                await sessions[1].rerun("", action="open")
                broken = await sessions[1].rerun("Broken")
                calm_again = await sessions[1].rerun("Calm")
            finally:
                await load_protocol.close_sessions(sessions)
            return first, box, changed, unknown, broken, calm_again

        first, box, changed, unknown, broken, calm_again = _run(visit())
    finally:
        deployment.stop()
    assert first.ok and changed.ok and calm_again.ok
    assert box is not None and box.label == "A box"
    assert not unknown.ok and "no page" in unknown.error
    assert not broken.ok and broken.error


def test_quantile_is_nearest_rank():
    values = [float(v) for v in range(1, 101)]
    assert load_protocol.quantile(values, 0.95) == 95.0
    assert load_protocol.quantile(values, 0.99) == 99.0
    assert load_protocol.quantile([3.0], 0.5) == 3.0


# -- the weights gate: one attempt at a time, a failure re-checked after the lock -------------


def test_visitors_waiting_on_a_failing_download_do_not_each_retry_it():
    gate = WeightsGate(ttl_s=600)
    calls: list[int] = []
    started = threading.Event()

    def offline_download():
        calls.append(1)
        started.set()
        time.sleep(0.3)  # the others queue on the lock meanwhile
        raise WeightsUnavailableError("offline")

    results: list = []
    first = threading.Thread(target=lambda: results.append(gate.attempt("cnn", offline_download)))
    first.start()
    started.wait(10)
    waiters = [threading.Thread(target=lambda: results.append(gate.attempt("cnn", offline_download)))
               for _ in range(8)]
    for thread in waiters:
        thread.start()
    for thread in [first, *waiters]:
        thread.join(30)
    assert len(calls) == 1
    assert results == ["offline"] * 9


def test_after_the_ttl_one_visitor_retries_and_a_success_is_kept():
    now = [1000.0]
    gate = WeightsGate(ttl_s=600, clock=lambda: now[0])
    calls: list[str] = []

    def fails():
        calls.append("fail")
        raise WeightsUnavailableError("offline")

    def loads():
        calls.append("load")

    assert gate.attempt("cnn", fails) == "offline"
    now[0] += 599
    assert gate.attempt("cnn", loads) == "offline" and calls == ["fail"]
    now[0] += 2
    assert gate.attempt("cnn", loads) is None
    assert gate.attempt("cnn", fails) is None  # loaded: not tried again
    assert calls == ["fail", "load"]


def test_the_offline_probe_fails_in_a_child_process_without_keras_here(tmp_path: Path, monkeypatch):
    """No weights in an empty KERAS_HOME and no network: the child's failure comes back as the error."""
    from ui import resources

    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras"))
    had_keras = "keras" in sys.modules
    try:
        resources.probe_weights("mobilenet_v3_small", timeout_s=300)
    except WeightsUnavailableError as exc:
        message = str(exc)
    else:
        pytest.skip("this machine downloaded the weights (it has a network)")
    assert "MobileNetV3Small" in message
    assert ("keras" in sys.modules) == had_keras


# -- several processes behind nginx ------------------------------------------------------------


def _established(port: int) -> int:
    import psutil

    return sum(1 for c in psutil.net_connections("tcp")
               if c.status == psutil.CONN_ESTABLISHED and c.laddr and c.laddr.port == port)


@pytest.mark.skipif(not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()),
                    reason="nginx not installed (apt-get install nginx-light)")
def test_the_proxy_serves_the_app_and_keeps_each_visitor_on_one_process(tmp_path: Path):
    import urllib.error
    import urllib.request

    from bench.load_proxy import ROUTE_COOKIE, UPSTREAM_HEADER

    deployment = load_protocol.Deployment(REPO, tmp_path, processes=2)
    try:
        ports = {f"127.0.0.1:{s.port}": s.port for s in deployment.servers}
        # Visitors without a cookie are spread over both processes.
        seen = set()
        for _ in range(16):
            with urllib.request.urlopen(deployment.url + "/", timeout=30) as resp:
                seen.add(resp.headers[UPSTREAM_HEADER])
        assert seen == set(ports)

        async def visit():
            session = load_protocol.Session(deployment.url, run_timeout=300)
            await session.connect()
            try:
                opened = await session.rerun("", action="open")
                upstream = session.page_headers[UPSTREAM_HEADER]
                sockets = {address: _established(port) for address, port in ports.items()}
                filters = await session.rerun("Filters")
            finally:
                await session.close()
            return session, opened, upstream, sockets, filters

        session, opened, upstream, sockets, filters = _run(visit())
        assert opened.ok and filters.ok
        # The websocket went to the process that served the page, and only there.
        assert sockets[upstream] >= 1 and all(n == 0 for a, n in sockets.items() if a != upstream)
        # Filters' pipeline download lives in that process's memory (/media/...); with the cookie it is found.
        cookie = session.page_headers["Set-Cookie"].split(";")[0]
        assert cookie.startswith(ROUTE_COOKIE + "=") and session.media
        for url in session.media[:5]:
            request = urllib.request.Request(deployment.url + url, headers={"Cookie": cookie})
            with urllib.request.urlopen(request, timeout=30) as resp:
                assert resp.status == 200 and resp.headers[UPSTREAM_HEADER] == upstream
        # ...and only there: the other process does not have it (why a visitor must stay on one).
        other = next(port for address, port in ports.items() if address != upstream)
        with pytest.raises(urllib.error.HTTPError) as missing:
            urllib.request.urlopen(f"http://127.0.0.1:{other}{session.media[0]}", timeout=30)
        assert missing.value.code == 404
    finally:
        deployment.stop()


def test_the_compose_recipe_uses_the_tested_nginx_config():
    import yaml

    from bench.load_proxy import nginx_conf

    deploy = REPO / "deploy"
    conf = (deploy / "nginx.conf").read_text()
    body = "\n".join(line for line in conf.splitlines() if not line.startswith("#")).strip()
    compose = yaml.safe_load((deploy / "compose.yaml").read_text())
    apps = sorted(name for name in compose["services"] if name.startswith("app"))
    assert body == nginx_conf([f"{app}:8501" for app in apps], "8080").strip()
    for app in apps:
        service = compose["services"][app]
        assert service["volumes"] == ["feedlens-data:/data"]  # one disk cache for every process
        assert "STREAMLIT_SERVER_COOKIE_SECRET" in service["environment"]
    assert "nginx.conf" in (deploy / "nginx.Dockerfile").read_text()


# -- the cap on long jobs (ui/jobs.py) ----------------------------------------------------------


def test_long_jobs_past_the_cap_wait_in_line_and_go_in_order():
    from ui.jobs import JobSlots

    slots = JobSlots(2)
    tickets = [slots.join() for _ in range(5)]
    assert [slots.wait(t, 0) for t in tickets] == [True, True, False, False, False]
    assert [slots.position(t) for t in tickets] == [0, 0, 1, 2, 3]
    order: list[int] = []

    def job(ticket: int) -> None:
        assert slots.wait(ticket, 30)
        order.append(ticket)
        slots.leave(ticket)

    waiting = [threading.Thread(target=job, args=(t,)) for t in reversed(tickets[2:])]
    for thread in waiting:
        thread.start()
    time.sleep(0.2)
    assert order == []  # both slots still held
    slots.leave(tickets[0])  # a job ends (or its visitor cancels): the freed slot serves the line in order
    for thread in waiting:
        thread.join(10)
    assert order == tickets[2:]
    assert slots.position(tickets[1]) == 0 and slots.wait(tickets[1], 0)  # the other slot was held throughout


def test_a_saturated_server_says_it_is_busy_on_the_page():
    from streamlit.testing.v1 import AppTest

    from ui.resources import runs_in_flight

    def busy_infos(at) -> list[str]:
        return [i.value for i in at.info if "server is busy" in i.value]

    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.run()
    assert not at.exception and busy_infos(at) == []
    counter = runs_in_flight()
    counter.now += 1000  # as if a thousand pages were being drawn for others
    try:
        at.run()
    finally:
        counter.now -= 1000
    assert not at.exception
    assert busy_infos(at) and "1000 other pages" in busy_infos(at)[0]
