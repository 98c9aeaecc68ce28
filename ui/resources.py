"""Heavy objects owned once per server and shared by every page and session.

The face engine (MediaPipe + dlib) and the Keras CNN extractors each take
seconds and hundreds of MB to load; pages get them here, so a hosted server
holds one copy of each whichever pages its visitors open.

Keras stays out of the server until its weights are known to load. Once
``keras`` is imported, Streamlit calls ``keras.backend.clear_session()`` after
every script run of every session (``script_runner._clean_problem_modules``),
a full garbage collection each time. So the ImageNet weights are first tried
in a child process (:func:`probe_weights`, which downloads them into
``KERAS_HOME`` when it can): a server without them never imports Keras. A
failure is remembered for :data:`FAILED_TTL_S` by a :class:`WeightsGate`: one
attempt at a time per feature set, and a visitor who waited for another's
attempt gets its failure instead of trying again.

Once a heavy library is loaded, :func:`freeze_heap` moves every object alive
then into the collector's permanent generation (``gc.freeze()``), so the full
collections after each run (Streamlit's ``runner.postScriptGC``, Keras's
``clear_session``) walk only the objects made since, not the libraries' own.
"""

from __future__ import annotations

import gc
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import streamlit as st

from core.jobs import WeightsUnavailableError

__all__ = ["FAILED_TTL_S", "WeightsGate", "face_engine", "extractor", "imagenet_classifier", "weights_gate",
           "load_cnn_weights", "probe_weights", "freeze_heap", "freeze_after_imports", "RunCounter", "runs_in_flight",
           "BUSY_RUNS_PER_CORE"]

FAILED_TTL_S = 600  # don't retry a failed weights download for every new session
_REPO = Path(__file__).resolve().parents[1]


@st.cache_resource(show_spinner="Loading the face models…")
def face_engine():
    """One MediaPipe + dlib face engine (thread-safe); raises if a model file cannot be had."""
    from core.faces.engine import FaceEngine

    engine = FaceEngine()
    freeze_heap()
    return engine


def extractor(name: str, raw_size: int = 150, random_weights: bool = False):
    """One feature extractor per feature set (a CNN keeps its network loaded)."""
    # Streamlit keys its cache on the arguments as passed (a default left out is another key), so every
    # call style must reach the same entry: one network in memory, whichever page asked first.
    return _extractor(str(name), int(raw_size) if name == "raw" else 150, bool(random_weights))


@st.cache_resource(show_spinner=False)
def _extractor(name: str, raw_size: int, random_weights: bool):
    from core.explore.features import make_extractor

    return make_extractor(name, raw_size=raw_size, weights=None if random_weights else "imagenet")


class WeightsGate:
    """Attempts at loading a feature set's weights: one at a time, a failure remembered for ``ttl_s``.

    Parameters
    ----------
    ttl_s : float
        How long a failure is handed out instead of trying again.
    clock : callable
        Seconds, monotonic (a test may pass its own).

    Examples
    --------
    >>> gate = WeightsGate()
    >>> def offline():
    ...     raise WeightsUnavailableError("no internet")
    >>> gate.attempt("cnn", offline), gate.attempt("cnn", lambda: None)
    ('no internet', 'no internet')
    >>> gate.forget("cnn"); gate.attempt("cnn", lambda: None) is None
    True
    """

    def __init__(self, ttl_s: float = FAILED_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.ttl_s = ttl_s
        self._clock = clock
        self._guard = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._failed: dict[str, tuple[float, str]] = {}
        self._loaded: set[str] = set()

    def failure(self, name: str) -> str | None:
        """The message of a failure younger than ``ttl_s``, else None."""
        with self._guard:
            failed = self._failed.get(name)
        if failed and self._clock() - failed[0] < self.ttl_s:
            return failed[1]
        return None

    def remember(self, name: str, message: str) -> None:
        with self._guard:
            self._failed[name] = (self._clock(), message)
            self._loaded.discard(name)

    def forget(self, name: str) -> None:
        """Drop a remembered failure (the visitor asked to try again)."""
        with self._guard:
            self._failed.pop(name, None)

    def attempt(self, name: str, load: Callable[[], object]) -> str | None:
        """Run ``load()`` unless it succeeded already or failed recently; return the failure's message or None.

        Callers that arrive while an attempt runs wait for it and then look again: a failure it
        left is theirs, without a second download.
        """
        if name in self._loaded:
            return None
        if (failure := self.failure(name)) is not None:
            return failure
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            if name in self._loaded:
                return None
            if (failure := self.failure(name)) is not None:  # failed while we waited for the lock
                return failure
            try:
                load()
            except WeightsUnavailableError as exc:
                self.remember(name, str(exc))
                return str(exc)
            with self._guard:
                self._loaded.add(name)
        return None


@st.cache_resource
def weights_gate() -> WeightsGate:
    """The server's one :class:`WeightsGate`."""
    return WeightsGate()


_PROBE = """
import sys
from core.explore.features import make_extractor
from core.jobs import WeightsUnavailableError
try:
    make_extractor(sys.argv[1]).ensure_fitted()
except WeightsUnavailableError as exc:
    print(exc)
    sys.exit(3)
"""


def probe_weights(name: str, timeout_s: float = 900) -> None:
    """Load the ImageNet weights of CNN feature set ``name`` in a child process (downloading them if need be).

    Raises
    ------
    WeightsUnavailableError
        When the child could not load them (its message), or did not finish in ``timeout_s``.
    """
    try:
        done = subprocess.run([sys.executable, "-c", _PROBE, name], cwd=_REPO, capture_output=True, text=True,
                              timeout=timeout_s, env=dict(os.environ, PYTHONPATH=str(_REPO)))
    except subprocess.TimeoutExpired as exc:
        raise WeightsUnavailableError(f"Loading the ImageNet weights of {name} took over {timeout_s:.0f} s.") from exc
    if done.returncode == 3:
        raise WeightsUnavailableError(done.stdout.strip().splitlines()[-1] if done.stdout.strip() else
                                      f"The ImageNet weights of {name} could not be had.")
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no message"])[-1][:300]
        raise WeightsUnavailableError(f"Loading the ImageNet weights of {name} failed ({tail}).")


def load_cnn_weights(name: str) -> str | None:
    """Have the ImageNet weights of CNN feature set ``name`` on disk; the failure's message or None.

    The weights are tried in a child process (:func:`probe_weights`, which downloads them), one
    attempt at a time (:func:`weights_gate`). The network is not loaded here: features are computed
    in a worker process (:mod:`core.worker_jobs`), and :func:`imagenet_classifier` loads it where
    the server itself needs it.
    """
    shared = extractor(name, 150, False)

    def load() -> None:
        if not hasattr(shared, "model_"):
            probe_weights(name)

    return weights_gate().attempt(name, load)


_FIT_LOCK = threading.Lock()


def imagenet_classifier():
    """MobileNetV3 Small with ImageNet weights, loaded in this server; raises ``WeightsUnavailableError``."""
    if (failure := load_cnn_weights("mobilenet_v3_small")) is not None:
        raise WeightsUnavailableError(failure)
    shared = extractor("mobilenet_v3_small")
    with _FIT_LOCK:
        if not hasattr(shared, "model_"):
            shared.ensure_fitted()
            freeze_heap()
    return shared


_FROZEN_MODULES = [0]


def freeze_heap() -> None:
    """Collect once, then exempt every object alive now from later collections (``gc.freeze()``).

    For objects that live as long as the server (modules, models): the full collections after each
    script run then skip them. An object frozen here is still freed when its last reference goes;
    only a reference cycle among frozen objects stays, so this is called after heavy imports, not per run.
    """
    gc.collect()
    gc.freeze()
    _FROZEN_MODULES[0] = len(sys.modules)


def freeze_after_imports(threshold: int = 50) -> bool:
    """:func:`freeze_heap` when ``threshold`` modules or more were imported since the last freeze (after a run)."""
    if len(sys.modules) - _FROZEN_MODULES[0] < threshold:
        return False
    freeze_heap()
    return True


BUSY_RUNS_PER_CORE = 4  # page runs at once per core past which a visitor is told the server is busy


class RunCounter:
    """How many script runs are in progress on this server (``with counter.running() as others:``).

    Examples
    --------
    >>> counter = RunCounter()
    >>> with counter.running() as others_a:
    ...     with counter.running() as others_b:
    ...         pass
    >>> others_a, others_b, counter.now
    (0, 1, 0)
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.now = 0

    class _Running:
        def __init__(self, counter: "RunCounter") -> None:
            self.counter = counter

        def __enter__(self) -> int:
            with self.counter._lock:
                others = self.counter.now
                self.counter.now += 1
            return others

        def __exit__(self, *exc) -> None:
            with self.counter._lock:
                self.counter.now -= 1

    def running(self) -> "RunCounter._Running":
        return RunCounter._Running(self)


@st.cache_resource
def runs_in_flight() -> RunCounter:
    """The server's one :class:`RunCounter` (streamlit_app.py counts every page run)."""
    return RunCounter()
