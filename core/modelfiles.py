"""The model store: named pretrained model files, verified by sha256.

Every model file the app uses is listed in :data:`MODELS` with its official
download URL, size and sha256. :func:`model_path` returns a local copy that
has been checked against that sha256, looking in this order:

1. the folder named by ``FEEDLENS_MODEL_DIR`` (for offline machines and CI);
2. the cache copy in ``cache_dir()/models/<name>``;
3. a fresh download from the official URL into the cache.

A download is streamed into a temporary file next to the final one, checked,
and only then renamed into place, so a failed or damaged download never leaves
a file behind. Every failure is a :class:`ModelUnavailableError` whose message
tells the user what went wrong and how to put the file in place by hand.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import cache_dir, model_dir
from .jobs import ModelUnavailableError, Progress

__all__ = [
    "ModelSpec",
    "MODELS",
    "model_spec",
    "cache_path",
    "model_path",
]


_CHUNK = 64 * 1024
_ENV = "FEEDLENS_MODEL_DIR"


@dataclass(frozen=True)
class ModelSpec:
    """One model file: where it comes from and what its bytes must be.

    Parameters
    ----------
    name : str
        File name, also the key in :data:`MODELS` (``"face_landmarker.task"``).
    url : str
        Official download URL.
    sha256 : str
        Hex sha256 of the official file.
    size : int
        Size of the official file in bytes.
    description : str
        What the model does, in a few words.
    """

    name: str
    url: str
    sha256: str
    size: int
    description: str


_BASE = "https://storage.googleapis.com/mediapipe-models"

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "face_landmarker.task",
            f"{_BASE}/face_landmarker/face_landmarker/float16/1/face_landmarker.task",
            "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff",
            3_758_596,
            "MediaPipe Face Landmarker: 478 face landmarks and 52 blendshapes",
        ),
        ModelSpec(
            "blaze_face_short_range.tflite",
            f"{_BASE}/face_detector/blaze_face_short_range/float16/1/blaze_face_short_range.tflite",
            "b4578f35940bf5a1a655214a1cce5cab13eba73c1297cd78e1a04c2380b0152f",
            229_746,
            "MediaPipe BlazeFace short-range face detector",
        ),
        ModelSpec(
            "selfie_segmenter.tflite",
            f"{_BASE}/image_segmenter/selfie_segmenter/float16/1/selfie_segmenter.tflite",
            "191ac9529ae506ee0beefa6b2c945a172dab9d07d1e802a290a4e4038226658b",
            249_537,
            "MediaPipe Selfie Segmenter: person / background mask",
        ),
    )
}


# (path, mtime_ns, size) -> sha256 of the file as it was then.
_VERIFIED: dict[tuple[str, int, int], str] = {}
_DOWNLOAD_LOCK = threading.Lock()


def model_spec(name: str) -> ModelSpec:
    """Return the :class:`ModelSpec` for ``name``.

    Raises
    ------
    KeyError
        If ``name`` is not a known model; the message lists the known names.

    Examples
    --------
    >>> model_spec("selfie_segmenter.tflite").size
    249537
    """
    try:
        return MODELS[name]
    except KeyError:
        known = ", ".join(sorted(MODELS))
        raise KeyError(f"unknown model {name!r}; known models: {known}") from None


def cache_path(name: str) -> Path:
    """Where the cached copy of model ``name`` lives (it may not exist yet).

    Examples
    --------
    >>> cache_path("face_landmarker.task")  # doctest: +SKIP
    PosixPath('/home/me/.cache/feedlens/models/face_landmarker.task')
    """
    return cache_dir() / "models" / model_spec(name).name


def _file_sha256(path: Path) -> str:
    """sha256 of ``path``, memoised on (path, mtime, size)."""
    st = path.stat()
    key = (str(path.resolve()), st.st_mtime_ns, st.st_size)
    digest = _VERIFIED.get(key)
    if digest is None:
        from .cache import sha256_file  # lazy: core.cache pulls in numpy

        digest = _VERIFIED[key] = sha256_file(path)
    return digest


def _remember(path: Path, digest: str) -> None:
    st = path.stat()
    _VERIFIED[(str(path.resolve()), st.st_mtime_ns, st.st_size)] = digest


def _how_to_fix(spec: ModelSpec) -> str:
    return (
        f"How to fix: download {spec.url} by hand (for example in a web browser), "
        f"save it as {spec.name!r} in a folder of your choice and set the environment "
        f"variable {_ENV} to that folder before starting Feedlens; "
        f"or put the file at {cache_path(spec.name)}."
    )


def _unavailable(spec: ModelSpec, url: str, reason: str) -> ModelUnavailableError:
    lines = [
        f"The model file {spec.name!r} ({spec.description}) is not available.",
        f"Tried to download: {url}",
        f"Reason: {reason}",
    ]
    folder = model_dir()
    if folder is not None:
        lines.append(f"({_ENV} is set to {folder}, but it holds no file named {spec.name!r}.)")
    lines.append(_how_to_fix(spec))
    return ModelUnavailableError("\n".join(lines))


def _network_reason(exc: BaseException, done: int, total: int) -> str:
    """Turn a urllib / http.client / socket error into words for a user."""
    import http.client
    import socket
    import urllib.error

    if isinstance(exc, urllib.error.HTTPError):
        return f"the server answered HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, socket.gaierror):
        return "no network (the server name could not be looked up)"
    if isinstance(exc, TimeoutError):
        return "no network (the connection timed out)"
    if isinstance(exc, ConnectionRefusedError):
        return "no network (the connection was refused)"
    if done or isinstance(exc, (http.client.IncompleteRead, ConnectionResetError)):
        return f"the download was cut off after {done:,} of {total:,} bytes ({exc})"
    return f"no network or the server cannot be reached ({exc})"


def _remove_stale_parts(folder: Path, name: str, older_than_s: float = 3600.0) -> None:
    """Delete temporary files of downloads that died (a killed process cannot clean up).

    A download still running keeps writing to its file, so only files untouched
    for ``older_than_s`` go.
    """
    import time

    for part in folder.glob(f".{name}.*.part"):
        try:
            if time.time() - part.stat().st_mtime > older_than_s:
                part.unlink()
        except OSError:
            pass


def _download(spec: ModelSpec, url: str, dest: Path, progress: Progress | None, timeout: float) -> None:
    """Stream ``url`` into ``dest`` through a verified temporary file."""
    import urllib.request

    dest.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_parts(dest.parent, spec.name)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{spec.name}.", suffix=".part", dir=dest.parent)
    tmp = Path(tmp_name)
    digest = hashlib.sha256()
    done, total = 0, spec.size
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                request = urllib.request.Request(url, headers={"User-Agent": "feedlens"})
                with urllib.request.urlopen(request, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or spec.size)
                    while chunk := response.read(_CHUNK):
                        out.write(chunk)
                        digest.update(chunk)
                        done += len(chunk)
                        if done > spec.size:
                            raise _unavailable(
                                spec, url, f"the server sent more than the expected {spec.size:,} bytes"
                            )
                        if progress is not None:
                            progress(done, total, f"Downloading {spec.name}: {done / 1e6:.1f} of {total / 1e6:.1f} MB")
                    if done < total:  # http.client reads to EOF without complaint
                        raise _unavailable(
                            spec, url, f"the download was cut off after {done:,} of {total:,} bytes"
                        )
            except ModelUnavailableError:
                raise
            except Exception as exc:  # urllib, http.client and socket errors
                raise _unavailable(spec, url, _network_reason(exc, done, total)) from exc
        found = digest.hexdigest()
        if found != spec.sha256:
            raise _unavailable(
                spec,
                url,
                f"the downloaded file is damaged or not the expected one "
                f"({done:,} bytes; sha256 expected {spec.sha256}, found {found})",
            )
        os.replace(tmp, dest)
        _remember(dest, found)
    finally:
        tmp.unlink(missing_ok=True)


def model_path(
    name: str,
    progress: Progress | None = None,
    *,
    url: str | None = None,
    timeout: float = 30.0,
) -> Path:
    """Return the path of a verified local copy of model ``name``.

    Looks in ``FEEDLENS_MODEL_DIR`` first, then in the cache, and downloads the
    file into the cache only when neither has it. Checksums are memoised per
    file path, mtime and size, so repeated calls cost a ``stat``.

    Parameters
    ----------
    name : str
        A key of :data:`MODELS`.
    progress : callable, optional
        ``progress(done_bytes, total_bytes, message)``, called after each downloaded chunk.
    url : str, optional
        Download from this URL instead of the official one (tests, mirrors).
        The file must still match the official sha256.
    timeout : float
        Seconds to wait for the connection and for each read.

    Returns
    -------
    pathlib.Path
        A file whose sha256 matches :attr:`ModelSpec.sha256`.

    Raises
    ------
    KeyError
        ``name`` is not a known model.
    ModelUnavailableError
        The file in ``FEEDLENS_MODEL_DIR`` has the wrong checksum, or the
        download failed or gave the wrong bytes. The message says how to fix it.

    Examples
    --------
    >>> path = model_path("face_landmarker.task")  # doctest: +SKIP
    >>> path.name  # doctest: +SKIP
    'face_landmarker.task'
    """
    spec = model_spec(name)

    folder = model_dir()
    if folder is not None and (folder / spec.name).is_file():
        local = folder / spec.name
        found = _file_sha256(local)
        if found != spec.sha256:
            raise ModelUnavailableError(
                f"The model file {local} is damaged or not the expected version: "
                f"sha256 expected {spec.sha256}, found {found}.\n"
                f"How to fix: download {spec.url} again and replace {local} with it, "
                f"or unset {_ENV} to let Feedlens download the file itself."
            )
        return local

    cached = cache_path(spec.name)
    if cached.is_file() and _file_sha256(cached) == spec.sha256:
        return cached

    with _DOWNLOAD_LOCK:
        # Another thread may have finished the same download while we waited.
        if cached.is_file() and _file_sha256(cached) == spec.sha256:
            return cached
        _download(spec, url or spec.url, cached, progress, timeout)
    return cached
