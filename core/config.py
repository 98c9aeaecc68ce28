"""Settings read from the environment, with the defaults a local user expects.

Every limit that guards against hostile input lives here, so tests and hosted
deployments can tighten them in one place.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

__all__ = ["Limits", "LIMITS", "is_store_url", "cache_location", "cache_dir", "model_dir", "local_paths_allowed"]


@dataclass(frozen=True)
class Limits:
    """Caps applied to everything a user uploads or points at."""

    #: Largest image accepted, in pixels (width * height). 100 MP covers any
    #: phone or camera photo; Pillow's own default bomb warning is at 89 MP.
    max_image_pixels: int = 100_000_000
    #: Largest single file read from an archive, in bytes.
    max_file_bytes: int = 200 * 1024**2
    #: ZIP archives: member count, total uncompressed bytes, worst ratio.
    max_zip_members: int = 20_000
    max_zip_total_bytes: int = 4 * 1024**3
    max_zip_ratio: float = 200.0
    #: JSON metadata files larger than this are refused (an Instagram
    #: ``posts_1.json`` for thousands of posts is a few MB).
    max_json_bytes: int = 64 * 1024**2


LIMITS = Limits()


def _user_cache_root() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("feedlens", appauthor=False))


def is_store_url(location: object) -> bool:
    """Whether a cache location is an object-store URL (``s3://…``, ``gs://…``, ``memory://…``), not a path.

    ``file://`` URLs are local paths.

    Examples
    --------
    >>> is_store_url("s3://bucket/feedlens"), is_store_url("/srv/cache"), is_store_url("file:///srv/cache")
    (True, False, False)
    """
    return (isinstance(location, str) and bool(re.match(r"[A-Za-z][A-Za-z0-9+.-]+://", location))
            and not location.lower().startswith("file://"))


def cache_location() -> str:
    """Where the cache's entries live: ``FEEDLENS_CACHE_DIR`` as given, else the user cache dir.

    A folder path (local, or shared by every worker: NFS and the like; created
    here) or an object-store URL (``s3://bucket/prefix``; see
    :class:`core.cache.DiskCache`). What :func:`core.cache.default_cache` opens.
    """
    root = os.environ.get("FEEDLENS_CACHE_DIR", "").strip()
    if is_store_url(root):
        return root
    return str(cache_dir())


def cache_dir() -> Path:
    """A LOCAL folder for what must be files on this machine (created if missing).

    Model files (:mod:`core.modelfiles`), filter batches, extracted ZIPs and
    other scratch live here. It is ``FEEDLENS_CACHE_DIR`` when that is a
    path (``file://`` accepted), and the user cache dir when it is unset or
    an object-store URL (then the cache's entries are in the store:
    :func:`cache_location`).
    """
    root = os.environ.get("FEEDLENS_CACHE_DIR", "").strip()
    if root.lower().startswith("file://"):
        root = root[len("file://"):]
    path = Path(root).expanduser() if root and not is_store_url(root) else _user_cache_root()
    path.mkdir(parents=True, exist_ok=True)
    return path


def model_dir() -> Path | None:
    """Return ``FEEDLENS_MODEL_DIR`` if set: a folder holding local model copies."""
    root = os.environ.get("FEEDLENS_MODEL_DIR")
    return Path(root).expanduser() if root else None


def local_paths_allowed() -> bool:
    """Whether the UI may read a folder path typed by the user.

    On for local runs; set ``FEEDLENS_ALLOW_LOCAL_PATHS=0`` on a hosted server
    so visitors cannot read the server's disk.
    """
    value = os.environ.get("FEEDLENS_ALLOW_LOCAL_PATHS", "1").strip().lower()
    return value not in {"0", "false", "no", "off"}
