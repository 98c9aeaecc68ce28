"""nginx in front of several Streamlit processes: websockets passed through, each visitor kept on one process.

Streamlit keeps a visitor's session, its uploaded files and its media (``/media/...``) in the
memory of the process that served the page, so every request of one visitor must reach the same
process. Open-source nginx has no ``sticky`` directive; this configuration gets the same with a
cookie: a first request without ``feedlens_route`` is routed by its random ``$request_id``, and
the response sets that value as the cookie, so the page, its websocket and its media requests all
hash (``hash ... consistent``) to one process from then on. ``Host`` is passed with its port
(``$http_host``), as Streamlit compares it with the websocket's ``Origin``.

:func:`nginx_conf` writes the configuration for the bench (``bench/load_protocol.py
--processes N``) and the test; ``deploy/nginx.conf`` is the same for ``deploy/compose.yaml``.
Debian's ``nginx-light`` (``apt-get install nginx-light``) is enough.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

__all__ = ["NginxProxy", "nginx_conf", "ROUTE_COOKIE", "UPSTREAM_HEADER"]

ROUTE_COOKIE = "feedlens_route"
UPSTREAM_HEADER = "X-Feedlens-Upstream"

#: The proxying part, shared by the bench's configuration and deploy/nginx.conf.
LOCATION = """
        location / {
            proxy_pass http://feedlens;
            proxy_http_version 1.1;
            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_set_header Host $http_host;
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_read_timeout 1d;
            proxy_send_timeout 1d;
            proxy_buffering off;
            add_header Set-Cookie "feedlens_route=$feedlens_route; Path=/; HttpOnly; SameSite=Lax" always;
            add_header X-Feedlens-Upstream $upstream_addr always;
        }
"""

#: The sticky routing: the route cookie, else a random id that becomes the cookie.
ROUTING = """
    map $http_upgrade $connection_upgrade {
        default upgrade;
        "" close;
    }
    map $cookie_feedlens_route $feedlens_route {
        "" $request_id;
        default $cookie_feedlens_route;
    }
"""


def nginx_conf(backends: list[str], listen: str, workdir: Path | None = None) -> str:
    """An nginx configuration proxying ``listen`` to ``backends`` (``host:port``) with sticky sessions.

    With ``workdir``, nginx runs in the foreground as this user with its pid, logs and temporary
    files there (the bench); without, it is the ``http`` block's content for a packaged nginx.

    Examples
    --------
    >>> conf = nginx_conf(["127.0.0.1:8501", "127.0.0.1:8502"], "127.0.0.1:8080")
    >>> "hash $feedlens_route consistent;" in conf, "server 127.0.0.1:8502" in conf
    (True, True)
    """
    servers = "\n".join(f"        server {backend} max_fails=0;" for backend in backends)
    http = f"""{ROUTING}
    upstream feedlens {{
        hash $feedlens_route consistent;
{servers}
    }}
    client_max_body_size 1024m;
    server {{
        listen {listen};
{LOCATION}    }}
"""
    if workdir is None:
        return http
    temp = "\n".join(f"    {name}_temp_path {workdir / name};" for name in
                     ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root root;\n" if os.geteuid() == 0 else ""
    return f"""{user}worker_processes 1;
daemon off;
pid {workdir / "nginx.pid"};
error_log {workdir / "error.log"} warn;
events {{
    worker_connections 4096;
}}
http {{
    access_log off;
{temp}
{http}}}
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class NginxProxy:
    """Debian's nginx on a free loopback port in front of ``ports``; ``start()``, ``stop()``."""

    def __init__(self, ports: list[int], workdir: Path):
        self.binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
        if self.binary is None:
            raise RuntimeError("nginx is not installed (Debian: apt-get install nginx-light)")
        self.workdir = workdir
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.backends = [f"127.0.0.1:{p}" for p in ports]
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 20) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_conf(self.backends, f"127.0.0.1:{self.port}", self.workdir))
        self.proc = subprocess.Popen([self.binary, "-p", str(self.workdir), "-c", str(conf), "-e",
                                      str(self.workdir / "error.log")],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"nginx exited: {self.error_log()}")
            try:
                with urllib.request.urlopen(f"{self.url}/_stcore/health", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"nginx did not answer in {timeout} s: {self.error_log()}")

    def error_log(self) -> str:
        path = self.workdir / "error.log"
        return path.read_text()[-2000:] if path.exists() else ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGQUIT)  # graceful: nginx closes its connections
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        except ProcessLookupError:
            pass
