"""A content-addressed cache with atomic writes: a folder (local or shared) or an object store.

Entries are keyed by what they were computed from (usually an image's sha256)
and by what was computed (``"thumb320"``, ``"features/mobilenet"``...), and
live at ``<root>/<kind>/<key[:2]>/<key><suffix>``. No reader ever sees half
an entry, wherever the root is:

a folder path (or a ``file://`` URL)
    on this machine, or shared by every worker of a batch (NFS and the like):
    a write goes to a temporary file in the same folder and is renamed into
    place, which is atomic on one file system.
an object-store URL (``s3://bucket/prefix``, ``gs://…``, ``memory://…``, any fsspec protocol)
    through `fsspec <https://filesystem-spec.readthedocs.io>`_: a write is one
    PUT of the whole object (S3 and GCS show an object only once its upload
    is complete). The backend (``s3fs`` for S3, ``gcsfs`` for GCS) is imported
    at first use; a missing one, a missing bucket or refused credentials raise
    :class:`StoreError`, which names the URL and what to install or set.
    Credentials and endpoints come from the backend's usual environment
    (``AWS_ACCESS_KEY_ID``, ``AWS_ENDPOINT_URL``… for S3; any backend option
    as ``FSSPEC_<PROTOCOL>_<OPTION>``), so every worker of a batch sees the
    same store.

Some work needs real files on this machine (a ZIP extracted, model files,
scratch): :meth:`DiskCache.local_dir` gives a folder for it, inside the cache
folder for a local cache and under the local user cache dir
(:func:`core.config.cache_dir`) for an object store.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from .config import cache_dir, cache_location, is_store_url
from .jobs import JobError

__all__ = ["DiskCache", "StoreError", "atomic_write_bytes", "sha256_bytes", "sha256_file", "default_cache"]

#: Temporary files of :func:`atomic_write_bytes` start with this (never an entry).
_TMP_PREFIX = ".tmp-"

#: fsspec protocol -> (the package that implements it, the environment that gives it credentials).
_BACKENDS = {
    "s3": ("s3fs", "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), and AWS_ENDPOINT_URL for an "
                   "S3-compatible server"),
    "gs": ("gcsfs", "GOOGLE_APPLICATION_CREDENTIALS"),
    "az": ("adlfs", "AZURE_STORAGE_CONNECTION_STRING (or AZURE_STORAGE_ACCOUNT_NAME and AZURE_STORAGE_ACCOUNT_KEY)"),
}
_BACKENDS.update({"s3a": _BACKENDS["s3"], "gcs": _BACKENDS["gs"], "abfs": _BACKENDS["az"], "abfss": _BACKENDS["az"]})


class StoreError(JobError, RuntimeError):
    """The cache's object store cannot be used: backend not installed, no such bucket, credentials refused."""


def sha256_bytes(data: bytes) -> str:
    """Hex sha256 of a byte string.

    Examples
    --------
    >>> sha256_bytes(b"")[:8]
    'e3b0c442'
    """
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see all of it or nothing."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _relative(kind: str, key: str, suffix: str) -> str:
    if not key or any(c in key for c in "/\\.") or any(p in ("", "..") for p in kind.split("/")):
        raise ValueError(f"invalid cache key {kind!r}/{key!r}")
    return f"{kind}/{key[:2]}/{key}{suffix}"


class _Folder:
    """Entries as files under a folder; writes renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def read(self, rel: str) -> bytes | None:
        try:
            return (self.root / rel).read_bytes()
        except FileNotFoundError:
            return None

    def write(self, rel: str, data: bytes) -> Path:
        target = self.root / rel
        atomic_write_bytes(target, data)
        return target

    def exists(self, rel: str) -> bool:
        return (self.root / rel).is_file()

    def version(self, rel: str) -> str | None:
        try:
            info = (self.root / rel).stat()
        except FileNotFoundError:
            return None
        return f"{info.st_mtime_ns}-{info.st_size}"

    def delete(self, rel: str) -> bool:
        try:
            (self.root / rel).unlink()
        except FileNotFoundError:
            return False
        return True

    def names(self, kind: str) -> list[str]:
        folder = self.root / kind
        return [p.name for p in folder.glob("*/*") if p.is_file() and not p.name.startswith(_TMP_PREFIX)]


class _ObjectStore:
    """Entries as objects behind an fsspec URL; a write is one PUT of the whole object."""

    def __init__(self, url: str) -> None:
        self.url = url
        protocol = url.split("://", 1)[0].lower()
        package, self._credentials = _BACKENDS.get(protocol, (None, None))
        # s3fs asks for an object's size (a HEAD) before reading it in parallel parts; entries are small: one GET.
        self._read_options = {"max_concurrency": 1} if package == "s3fs" else {}
        try:
            import fsspec

            self.fs, self.base = fsspec.core.url_to_fs(url)
        except ImportError as exc:
            need = package or getattr(exc, "name", None) or "fsspec"
            extra = " (or pip install 'feedlens[store]')" if need in ("s3fs", "fsspec") else ""
            raise StoreError(f"the cache {url} needs the {need} package: pip install {need}{extra}") from None
        except ValueError as exc:  # fsspec: "Protocol not known"
            raise StoreError(f"the cache {url}: {exc}; use a folder path or an fsspec URL "
                             "(s3://bucket/prefix, gs://bucket/prefix)") from None
        except Exception as exc:  # noqa: BLE001 - a backend that fails to start (bad options) must say which store
            raise self._error("open", exc) from exc
        self.base = self.base.rstrip("/")

    def _error(self, what: str, exc: BaseException) -> StoreError:
        if isinstance(exc, FileNotFoundError):
            reason = "no such bucket or container"
        elif isinstance(exc, PermissionError):
            reason = "access denied"
        else:
            reason = f"{type(exc).__name__}: {exc}"
        hint = f" Check the URL and the credentials ({self._credentials})." if self._credentials else ""
        return StoreError(f"cannot {what} the cache {self.url}: {' '.join(reason.split())}.{hint}")

    def _path(self, rel: str) -> str:
        return f"{self.base}/{rel}"

    def read(self, rel: str) -> bytes | None:
        try:
            return self.fs.cat_file(self._path(rel), **self._read_options)
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001 - a remote store fails in many ways: all are a StoreError
            raise self._error("read", exc) from exc

    def write(self, rel: str, data: bytes) -> str:
        path, data = self._path(rel), bytes(data)
        try:
            self.fs.pipe_file(path, data)
        except Exception as exc:  # noqa: BLE001
            raise self._error("write to", exc) from exc
        return f"{self.url}/{rel}"

    def exists(self, rel: str) -> bool:
        try:
            return self.fs.info(self._path(rel)).get("type") == "file"
        except FileNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001 - not fs.isfile, which would hide refused credentials
            raise self._error("read", exc) from exc

    def version(self, rel: str) -> str | None:
        try:
            self.fs.invalidate_cache(self._path(rel))
            info = self.fs.info(self._path(rel))
        except FileNotFoundError:
            return None
        except Exception as exc:  # noqa: BLE001
            raise self._error("read", exc) from exc
        if info.get("type") != "file":
            return None
        tag = info.get("ETag") or info.get("etag") or info.get("md5Hash") or ""
        return f"{tag}-{info.get('LastModified') or info.get('mtime') or info.get('updated') or ''}-{info.get('size')}"

    def delete(self, rel: str) -> bool:
        if not self.exists(rel):
            return False
        try:
            self.fs.rm_file(self._path(rel))
        except FileNotFoundError:
            return False
        except Exception as exc:  # noqa: BLE001
            raise self._error("delete from", exc) from exc
        return True

    def names(self, kind: str) -> list[str]:
        prefix = self._path(kind)
        try:
            # Never a listing remembered from earlier: other workers add objects all the time.
            self.fs.invalidate_cache(prefix)
            found = self.fs.find(prefix)
            self.fs.invalidate_cache(prefix)
        except FileNotFoundError:
            return []
        except Exception as exc:  # noqa: BLE001
            raise self._error("list", exc) from exc
        names = [path.rsplit("/", 1)[-1] for path in found if path.count("/") - prefix.count("/") == 2]
        return [name for name in names if not name.startswith(_TMP_PREFIX)]


class DiskCache:
    """Key-value store: ``(kind, key) -> bytes``, in a folder or an object store.

    Parameters
    ----------
    root : path or str
        A folder (created on first write), or an object-store URL
        (``s3://bucket/prefix``, ``gs://…``, ``memory://…``); ``file://``
        URLs are folders. See the module docstring for what each guarantees.

    Raises
    ------
    StoreError
        A URL whose fsspec backend is not installed (``s3fs`` for ``s3://``).

    Attributes
    ----------
    location : str
        The root as given: the folder path or the URL.

    Examples
    --------
    >>> import tempfile
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> _ = cache.put("thumb", "ab12", b"jpeg bytes")
    >>> cache.get("thumb", "ab12"), cache.exists("thumb", "ab12")
    (b'jpeg bytes', True)
    >>> cache.get("thumb", "ffff") is None
    True

    The same in an object store (fsspec's in-memory one here; ``s3://`` alike):

    >>> store = DiskCache("memory://doctest-cache")
    >>> store.put("thumb", "ab12", b"jpeg bytes")
    'memory://doctest-cache/thumb/ab/ab12'
    >>> store.get("thumb", "ab12"), store.keys("thumb"), store.is_local
    (b'jpeg bytes', ['ab12'], False)
    """

    def __init__(self, root: str | Path) -> None:
        if is_store_url(root):
            self.location = str(root).rstrip("/")
            self._root: Path | None = None
            self._store: _Folder | _ObjectStore = _ObjectStore(self.location)
        else:
            text = str(root)
            path = Path(text[len("file://"):]) if text.lower().startswith("file://") else Path(root)
            self.location = str(path)
            self._root = path
            self._store = _Folder(path)

    def __repr__(self) -> str:
        return f"DiskCache({self.location!r})"

    @property
    def is_local(self) -> bool:
        """Whether the entries are files in a folder (``root`` and ``path()`` work)."""
        return self._root is not None

    @property
    def root(self) -> Path:
        """The cache's folder (a local cache only).

        Raises
        ------
        StoreError
            For an object store: use :meth:`local_dir` for local files, :attr:`location` for the URL.
        """
        if self._root is None:
            raise StoreError(f"the cache {self.location} is an object store, not a folder: this step needs a "
                             "local cache folder (set FEEDLENS_CACHE_DIR to a path)")
        return self._root

    def local_dir(self, name: str) -> Path:
        """A folder on this machine for files that must be real files (not created here).

        ``<root>/<name>`` for a local cache (where such files always were);
        ``<local user cache dir>/<name>`` (:func:`core.config.cache_dir`)
        for an object store.

        Examples
        --------
        >>> DiskCache("/srv/cache").local_dir("archives").as_posix()
        '/srv/cache/archives'
        """
        if not name or any(part in ("", ".", "..") for part in name.replace("\\", "/").split("/")):
            raise ValueError(f"invalid local folder name {name!r}")
        return (self._root if self._root is not None else cache_dir()) / name

    def path(self, kind: str, key: str, suffix: str = "") -> Path:
        """Where the entry for ``(kind, key)`` lives in a local cache (it may not exist yet).

        Raises
        ------
        StoreError
            For an object store, whose entries are not files: use :meth:`get`, :meth:`exists`.
        """
        return self.root / _relative(kind, key, suffix)

    def address(self, kind: str, key: str, suffix: str = "") -> Path | str:
        """Where the entry for ``(kind, key)`` is, to show a user: its path, or its URL in an object store.

        Examples
        --------
        >>> DiskCache("memory://bucket/feedlens").address("model", "k1", ".pkl")
        'memory://bucket/feedlens/model/k1/k1.pkl'
        >>> DiskCache("/srv/cache").address("model", "k1", ".pkl").as_posix()
        '/srv/cache/model/k1/k1.pkl'
        """
        rel = _relative(kind, key, suffix)
        return self._root / rel if self._root is not None else f"{self.location}/{rel}"

    def get(self, kind: str, key: str, suffix: str = "") -> bytes | None:
        """Return the stored bytes, or ``None`` on a miss."""
        return self._store.read(_relative(kind, key, suffix))

    def put(self, kind: str, key: str, data: bytes, suffix: str = "") -> Path | str:
        """Store bytes atomically; return where the entry is (a path, or a URL for an object store)."""
        return self._store.write(_relative(kind, key, suffix), data)

    def exists(self, kind: str, key: str, suffix: str = "") -> bool:
        """Whether the entry is stored (without reading it)."""
        return self._store.exists(_relative(kind, key, suffix))

    def version(self, kind: str, key: str, suffix: str = "") -> str | None:
        """A token that changes whenever the entry is rewritten (``None``: no entry), without reading it.

        Examples
        --------
        >>> import tempfile
        >>> cache = DiskCache(tempfile.mkdtemp())
        >>> cache.version("model", "k") is None
        True
        >>> _ = cache.put("model", "k", b"one")
        >>> first = cache.version("model", "k")
        >>> _ = cache.put("model", "k", b"three")
        >>> cache.version("model", "k") != first
        True
        """
        return self._store.version(_relative(kind, key, suffix))

    def delete(self, kind: str, key: str, suffix: str = "") -> bool:
        """Remove an entry; ``True`` if there was one."""
        return self._store.delete(_relative(kind, key, suffix))

    def keys(self, kind: str, suffix: str = "") -> list[str]:
        """The keys stored under ``kind`` with ``suffix``, sorted (one listing; for a few big entries, not
        for per-photo ones)."""
        _relative(kind, "probe", suffix)
        names = self._store.names(kind)
        return sorted({name[: len(name) - len(suffix)] for name in names if name.endswith(suffix)
                       and (not suffix or len(name) > len(suffix)) and "." not in name[: len(name) - len(suffix)]})

    def get_array(self, kind: str, key: str) -> np.ndarray | None:
        """Return a stored NumPy array, or ``None`` on a miss or a damaged entry."""
        raw = self.get(kind, key, ".npy")
        if raw is None:
            return None
        try:
            return np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None

    def put_array(self, kind: str, key: str, array: np.ndarray) -> Path | str:
        """Store a NumPy array atomically (``.npy``, no pickle)."""
        buf = io.BytesIO()
        np.save(buf, np.asarray(array), allow_pickle=False)
        return self.put(kind, key, buf.getvalue(), ".npy")


def default_cache() -> DiskCache:
    """The cache at :func:`core.config.cache_location` (``FEEDLENS_CACHE_DIR``: a folder or a URL)."""
    return DiskCache(cache_location())
