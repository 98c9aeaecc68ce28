"""Tests for core.modelfiles: real model files, a real local HTTP server, no mocks."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as `.venv/bin/pytest` from anywhere
    sys.path.insert(0, str(ROOT))

from core import modelfiles as models  # noqa: E402
from core.jobs import ModelUnavailableError
from core.modelfiles import MODELS, cache_path, model_path  # noqa: E402


def _shared_dir() -> Path:
    env = os.environ.get("FEEDLENS_SHARED_DIR")
    return Path(env).expanduser() if env else ROOT.parent / "shared"


@pytest.fixture(scope="session")
def shared_models() -> Path:
    folder = _shared_dir() / "models"
    missing = [n for n in MODELS if not (folder / n).is_file()]
    if not folder.is_dir() or missing or not (folder / "MANIFEST.md").is_file():
        pytest.fail(
            f"shared model folder {folder} is missing or incomplete (missing: {missing or 'MANIFEST.md'}); "
            "set FEEDLENS_SHARED_DIR to the folder that holds models/",
            pytrace=False,
        )
    return folder


@pytest.fixture(scope="session")
def manifest(shared_models: Path) -> dict[str, tuple[int, str]]:
    """name -> (size, sha256), parsed from the MANIFEST.md table."""
    rows = {}
    text = (shared_models / "MANIFEST.md").read_text(encoding="utf-8")
    for m in re.finditer(r"^\| `([^`]+)` \| ([\d,]+) \| `([0-9a-f]{64})` \|", text, re.M):
        rows[m.group(1)] = (int(m.group(2).replace(",", "")), m.group(3))
    assert set(rows) == set(MODELS), rows
    return rows


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FEEDLENS_CACHE_DIR", str(cache))
    monkeypatch.delenv("FEEDLENS_MODEL_DIR", raising=False)
    return cache


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _leftovers(cache: Path) -> list[str]:
    folder = cache / "models"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Server:
    """A local HTTP server that serves one body in one of three ways."""

    def __init__(self, body: bytes, mode: str = "ok") -> None:
        self.body, self.mode, self.requests = body, mode, 0
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.requests += 1
                body = outer.body
                if outer.mode == "wrong":
                    body = bytes(b ^ 0xFF for b in body[:16]) + body[16:]
                self.send_response(200)
                self.send_header("Content-Type", "application/octet-stream")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if outer.mode == "slow":  # 64 KiB every 20 ms, until the client goes away
                    try:
                        for start in range(0, len(body), 64 * 1024):
                            self.wfile.write(body[start : start + 64 * 1024])
                            self.wfile.flush()
                            time.sleep(0.02)
                    except (BrokenPipeError, ConnectionResetError):
                        pass
                elif outer.mode == "half":
                    self.wfile.write(body[: len(body) // 2])
                    self.wfile.flush()
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                else:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.httpd.server_address[1]}/{name}"

    def __enter__(self) -> "_Server":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def test_registry_matches_manifest(manifest: dict[str, tuple[int, str]]) -> None:
    for name, spec in MODELS.items():
        assert spec.name == name
        assert (spec.size, spec.sha256) == manifest[name]
        assert spec.url.startswith("https://storage.googleapis.com/mediapipe-models/")
        assert spec.url.endswith("/" + name)


def test_unknown_name_lists_known_models() -> None:
    with pytest.raises(KeyError) as info:
        model_path("nope.tflite")
    for name in MODELS:
        assert name in str(info.value)


def test_model_dir_resolves_all_models(
    shared_models: Path, manifest: dict[str, tuple[int, str]], monkeypatch: pytest.MonkeyPatch, isolated_env: Path
) -> None:
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_models))
    for name, (size, sha) in manifest.items():
        path = model_path(name, url="http://127.0.0.1:9/never-used")
        assert path == shared_models / name
        assert path.stat().st_size == size
        assert _sha256(path) == sha
        assert model_path(name) == path  # memoised second call
    assert _leftovers(isolated_env) == []


def test_model_dir_wrong_checksum(shared_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "blaze_face_short_range.tflite"
    folder = tmp_path / "local-models"
    folder.mkdir()
    bad = folder / name
    data = bytearray((shared_models / name).read_bytes())
    data[1000] ^= 0x01
    bad.write_bytes(bytes(data))
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(folder))
    with pytest.raises(ModelUnavailableError) as info:
        model_path(name)
    msg = str(info.value)
    assert str(bad) in msg
    assert MODELS[name].sha256 in msg
    assert hashlib.sha256(bytes(data)).hexdigest() in msg
    assert MODELS[name].url in msg


def test_download_from_local_server(shared_models: Path, isolated_env: Path) -> None:
    name = "face_landmarker.task"
    spec = MODELS[name]
    calls: list[tuple[int, int]] = []
    with _Server((shared_models / name).read_bytes()) as server:
        path = model_path(name, progress=lambda d, t, m: calls.append((d, t)), url=server.url(name))
        assert server.requests == 1
        assert path == cache_path(name) == isolated_env / "models" / name
        assert _sha256(path) == spec.sha256
        assert len(calls) > 1
        done = [d for d, _ in calls]
        assert done == sorted(set(done))  # strictly increasing
        assert calls[-1] == (spec.size, spec.size)
        assert all(t == spec.size for _, t in calls)
        assert _leftovers(isolated_env) == [name]

        # Second call: served from the cache, no request.
        assert model_path(name, url=server.url(name)) == path
        assert server.requests == 1

        # Without the memo too (a fresh process): the file is re-verified, still no request.
        models._VERIFIED.clear()
        assert model_path(name, url=server.url(name)) == path
        assert server.requests == 1


def test_damaged_cache_copy_is_downloaded_again(shared_models: Path, isolated_env: Path) -> None:
    name = "selfie_segmenter.tflite"
    target = cache_path(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"not a model")
    with _Server((shared_models / name).read_bytes()) as server:
        assert model_path(name, url=server.url(name)) == target
        assert server.requests == 1
    assert _sha256(target) == MODELS[name].sha256
    assert _leftovers(isolated_env) == [name]


def test_download_cut_off_halfway(shared_models: Path, isolated_env: Path) -> None:
    name = "face_landmarker.task"
    with _Server((shared_models / name).read_bytes(), mode="half") as server:
        with pytest.raises(ModelUnavailableError) as info:
            model_path(name, url=server.url(name))
    msg = str(info.value)
    assert "cut off" in msg
    assert server.url(name) in msg
    assert "FEEDLENS_MODEL_DIR" in msg
    assert _leftovers(isolated_env) == []


def test_download_wrong_bytes(shared_models: Path, isolated_env: Path) -> None:
    name = "blaze_face_short_range.tflite"
    with _Server((shared_models / name).read_bytes(), mode="wrong") as server:
        with pytest.raises(ModelUnavailableError) as info:
            model_path(name, url=server.url(name))
        assert server.requests == 1
    msg = str(info.value)
    assert "sha256" in msg and MODELS[name].sha256 in msg
    assert _leftovers(isolated_env) == []


def test_unreachable_url(isolated_env: Path) -> None:
    name = "selfie_segmenter.tflite"
    url = f"http://127.0.0.1:{_free_port()}/{name}"
    with pytest.raises(ModelUnavailableError) as info:
        model_path(name, url=url, timeout=5)
    msg = str(info.value)
    assert url in msg
    assert "FEEDLENS_MODEL_DIR" in msg
    assert MODELS[name].url in msg  # the official URL to download by hand
    assert "no network" in msg
    assert _leftovers(isolated_env) == []


def test_unreachable_mentions_empty_model_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(empty))
    url = f"http://127.0.0.1:{_free_port()}/x"
    with pytest.raises(ModelUnavailableError, match="holds no file named"):
        model_path("blaze_face_short_range.tflite", url=url, timeout=5)


def test_copy_in_model_dir_is_used_without_network(shared_models: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = "selfie_segmenter.tflite"
    folder = tmp_path / "m"
    folder.mkdir()
    shutil.copy(shared_models / name, folder / name)
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(folder))
    assert model_path(name, url=f"http://127.0.0.1:{_free_port()}/x") == folder / name


_DOWNLOAD_CHILD = """
import sys
from core.modelfiles import model_path
model_path(sys.argv[1], progress=lambda done, total, message: print(done, flush=True), url=sys.argv[2])
print("finished", flush=True)
"""


def test_download_killed_midway_leaves_no_model_file(shared_models: Path, isolated_env: Path) -> None:
    """SIGKILL of the process that downloads (a server crash): no file under the model's name; the next call works."""
    name = "face_landmarker.task"
    spec = MODELS[name]
    env = dict(os.environ, FEEDLENS_CACHE_DIR=str(isolated_env), PYTHONPATH=str(ROOT))
    env.pop("FEEDLENS_MODEL_DIR", None)
    with _Server((shared_models / name).read_bytes(), mode="slow") as server:
        child = subprocess.Popen([sys.executable, "-c", _DOWNLOAD_CHILD, name, server.url(name)], cwd=ROOT, env=env,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            done = 0
            deadline = time.monotonic() + 60
            while done < spec.size // 3 and time.monotonic() < deadline:
                line = child.stdout.readline()
                if not line:
                    break
                done = int(line) if line.strip().isdigit() else done
            assert spec.size // 3 <= done < spec.size, (done, child.stderr.read() if child.poll() is not None else "")
        finally:
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            child.stdout.close()
            child.stderr.close()
        assert child.returncode == -signal.SIGKILL
        target = cache_path(name)
        assert not target.exists()  # only a temporary .part file can be left: never taken for the model
        assert all(n.endswith(".part") for n in _leftovers(isolated_env)), _leftovers(isolated_env)

        server.mode = "ok"
        assert model_path(name, url=server.url(name)) == target
    assert _sha256(target) == spec.sha256
    assert name in _leftovers(isolated_env)


def test_a_dead_download_s_part_file_is_cleaned_up_later(shared_models: Path, isolated_env: Path) -> None:
    name = "face_landmarker.task"
    folder = cache_path(name).parent
    folder.mkdir(parents=True, exist_ok=True)
    stale, fresh = folder / f".{name}.dead.part", folder / f".{name}.running.part"
    stale.write_bytes(b"half a model")
    fresh.write_bytes(b"another download in progress")
    two_hours_ago = time.time() - 7200
    os.utime(stale, (two_hours_ago, two_hours_ago))
    with _Server((shared_models / name).read_bytes(), mode="ok") as server:
        assert model_path(name, url=server.url(name)) == cache_path(name)
    assert not stale.exists() and fresh.exists()
