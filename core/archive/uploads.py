"""Uploads the server holds, reopened by link: ``?archive=<sha256 of the ZIP>``.

An uploaded ZIP is extracted to ``<cache>/archives/<sha256>/files`` (see
:func:`core.archive.catalogue.load_zip`). It can be reopened only while the
server still holds that folder. Each import writes an owner record beside it
(``owners/<scope>.json``); with login on, a user may open an upload by hash
only with a record of their own scope, so a link alone is worth nothing to
another account.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from ..cache import DiskCache, atomic_write_bytes, default_cache
from ..problems import ProblemLog
from .catalogue import Archive, load_folder

__all__ = [
    "is_upload_hash",
    "upload_hash",
    "record_upload",
    "held_upload",
    "open_held_upload",
]

_HASH = re.compile(r"[0-9a-f]{64}")
_SCOPE = re.compile(r"[0-9a-f]{1,64}|open")



def is_upload_hash(raw: object) -> bool:
    """Whether ``raw`` looks like an upload's content hash (64 lowercase hex digits)."""
    return isinstance(raw, str) and bool(_HASH.fullmatch(raw))


def _home(sha: str, cache: DiskCache) -> Path:
    return cache.local_dir("archives") / sha


def upload_hash(archive: Archive, cache: DiskCache | None = None) -> str | None:
    """The ZIP hash an archive was extracted under, or ``None`` (a folder, the demo)."""
    cache = cache or default_cache()
    root = Path(archive.root).resolve()
    sha = root.parent.name
    if root.name == "files" and is_upload_hash(sha) and root.parent.parent == cache.local_dir("archives").resolve():
        return sha
    return None


def _scope_file(sha: str, scope: str | None, cache: DiskCache) -> Path:
    scope = scope or "open"
    if not _SCOPE.fullmatch(scope):
        raise ValueError(f"not a user scope: {scope!r}")
    return _home(sha, cache) / "owners" / f"{scope}.json"


def record_upload(sha: str, name: str, scope: str | None, cache: DiskCache | None = None) -> None:
    """Note that the user ``scope`` (``None``: login off) imported the upload ``sha`` as ``name``."""
    cache = cache or default_cache()
    if not is_upload_hash(sha) or not (_home(sha, cache) / "files").is_dir():
        raise ValueError("no such upload on this server")
    atomic_write_bytes(_scope_file(sha, scope, cache), json.dumps({"name": name}).encode("utf-8"))


def held_upload(sha: object, scope: str | None, cache: DiskCache | None = None, *,
                owner_only: bool = False) -> str | None:
    """The display name of upload ``sha`` if this user may open it now, else ``None``.

    Parameters
    ----------
    sha : object
        The link's value (anything: it is validated first).
    scope : str or None
        The user's scope (:func:`core.links.user_scope`), ``None`` with login off.
    owner_only : bool
        Login on: only an owner record of ``scope`` opens it. Off: any upload
        the server still holds opens, named after any record found.
    """
    cache = cache or default_cache()
    if not is_upload_hash(sha):
        return None
    home = _home(str(sha), cache)
    if not (home / "files").is_dir() or not (home / "extract_problems.json").is_file():
        return None
    records = [_scope_file(str(sha), scope, cache)]
    if not owner_only:
        records += sorted((home / "owners").glob("*.json"))
    for record in records:
        try:
            name = json.loads(record.read_text(encoding="utf-8"))["name"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(name, str) and name:
            return name[:200]
    return None if owner_only else f"upload {str(sha)[:12]}"


def open_held_upload(sha: str, scope: str | None, cache: DiskCache | None = None, *, owner_only: bool = False,
                     progress=None) -> Archive | None:
    """Reopen an upload the server holds (see :func:`held_upload`), or ``None``.

    The catalogue is usually read back from the cache, so this is quick.
    """
    cache = cache or default_cache()
    name = held_upload(sha, scope, cache, owner_only=owner_only)
    if name is None:
        return None
    home = _home(sha, cache)
    problems = ProblemLog()
    try:
        for row in json.loads((home / "extract_problems.json").read_text(encoding="utf-8")):
            problems.add(**row)
    except (OSError, ValueError, TypeError):
        return None
    return load_folder(home / "files", name=name, progress=progress, cache=cache, extra_problems=problems)
