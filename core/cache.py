"""A content-addressed disk cache with atomic writes.

Entries are keyed by what they were computed from (usually an image's sha256)
and by what was computed (``"thumb320"``, ``"features/mobilenet"``...). A write
goes to a temporary file in the same folder and is renamed into place, so an
interrupted job never leaves half an entry behind.
"""

from __future__ import annotations

import hashlib
import io
import os
import tempfile
from pathlib import Path

import numpy as np

from .config import cache_dir

__all__ = ["DiskCache", "atomic_write_bytes", "sha256_bytes", "sha256_file", "default_cache"]


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
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class DiskCache:
    """Key-value store on disk: ``(kind, key) -> bytes``.

    Parameters
    ----------
    root : path
        Folder that holds the entries (created on first write).

    Examples
    --------
    >>> import tempfile
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> _ = cache.put("thumb", "ab12", b"jpeg bytes")
    >>> cache.get("thumb", "ab12")
    b'jpeg bytes'
    >>> cache.get("thumb", "ffff") is None
    True
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def path(self, kind: str, key: str, suffix: str = "") -> Path:
        """Where the entry for ``(kind, key)`` lives (it may not exist yet)."""
        if not key or any(c in key for c in "/\\.") or any(p in ("", "..") for p in kind.split("/")):
            raise ValueError(f"invalid cache key {kind!r}/{key!r}")
        return self.root / kind / key[:2] / f"{key}{suffix}"

    def get(self, kind: str, key: str, suffix: str = "") -> bytes | None:
        """Return the stored bytes, or ``None`` on a miss."""
        try:
            return self.path(kind, key, suffix).read_bytes()
        except FileNotFoundError:
            return None

    def put(self, kind: str, key: str, data: bytes, suffix: str = "") -> Path:
        """Store bytes atomically and return the entry's path."""
        target = self.path(kind, key, suffix)
        atomic_write_bytes(target, data)
        return target

    def get_array(self, kind: str, key: str) -> np.ndarray | None:
        """Return a stored NumPy array, or ``None`` on a miss or a damaged entry."""
        raw = self.get(kind, key, ".npy")
        if raw is None:
            return None
        try:
            return np.load(io.BytesIO(raw), allow_pickle=False)
        except (ValueError, OSError, EOFError):
            return None

    def put_array(self, kind: str, key: str, array: np.ndarray) -> Path:
        """Store a NumPy array atomically (``.npy``, no pickle)."""
        buf = io.BytesIO()
        np.save(buf, np.asarray(array), allow_pickle=False)
        return self.put(kind, key, buf.getvalue(), ".npy")


def default_cache() -> DiskCache:
    """The cache under :func:`core.config.cache_dir`."""
    return DiskCache(cache_dir())
