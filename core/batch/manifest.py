"""Batch manifests: one small JSON entry per archive in the cache, saying what a batch did and how far it is.

The driver of a batch writes its archive's manifest when it starts, again as
chunks finish (at most every few seconds), and once more at the end; the app
reads it from the same cache (never from the engine) to show a running
batch's progress, and compares :attr:`BatchManifest.core_version` with its own
version to flag results computed by another version of Feedlens.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone

__all__ = ["MANIFEST_KIND", "BatchManifest", "core_version", "read_manifest", "write_manifest"]

#: The cache kind manifests live under (keyed by the archive's catalogue key).
MANIFEST_KIND = "batch-manifest-v1"

#: A running batch whose manifest was not rewritten for this long is taken for dead (its driver stopped).
STALE_AFTER_S = 15 * 60


def core_version() -> str:
    """The installed Feedlens version (``pyproject.toml``'s), or ``"unknown"`` from a bare source tree.

    Examples
    --------
    >>> isinstance(core_version(), str)
    True
    """
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("feedlens")
    except PackageNotFoundError:
        return "unknown"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


@dataclass
class BatchManifest:
    """What a batch did to one archive, and how far it is.

    Attributes
    ----------
    archive_key : str
        The archive's catalogue key (:attr:`core.archive.Archive.key`): the manifest's cache key.
    archive_name, archive_root : str
    steps : list of str
        The per-photo steps run (some of :data:`core.batch.plan.STEPS`).
    engine : str
    state : {"running", "finished", "cancelled", "failed"}
    total, done : int
        Distinct photos of the archive, and those handled so far (computed, read back or failed).
    failed : int
        Photos that could not be processed.
    failures : list of [file, reason]
        The first failures (at most 1,000, so the entry stays small).
    computed, reused : dict
        Per step: photos computed by this batch, photos found already cached.
    core_version : str
        The Feedlens version that computed the entries.
    started_at, updated_at : str
        UTC, ISO 8601.

    Examples
    --------
    >>> m = BatchManifest("k1", "feed", "/x", ["thumbnails"], "dask", total=10, done=4)
    >>> BatchManifest.from_json(m.to_json()) == m
    True
    >>> m.fraction
    0.4
    """

    archive_key: str
    archive_name: str
    archive_root: str
    steps: list[str]
    engine: str
    state: str = "running"
    total: int = 0
    done: int = 0
    failed: int = 0
    failures: list[list[str]] = field(default_factory=list)
    computed: dict[str, int] = field(default_factory=dict)
    reused: dict[str, int] = field(default_factory=dict)
    core_version: str = field(default_factory=core_version)
    started_at: str = field(default_factory=_now)
    updated_at: str = field(default_factory=_now)

    @property
    def fraction(self) -> float:
        """Done of total, in [0, 1]."""
        return min(1.0, self.done / self.total) if self.total else 1.0

    def seconds_since_update(self, now: datetime | None = None) -> float:
        """Seconds since the driver last wrote this manifest."""
        now = now or datetime.now(timezone.utc)
        return (now - datetime.fromisoformat(self.updated_at)).total_seconds()

    def is_stale(self, now: datetime | None = None) -> bool:
        """A ``running`` manifest not rewritten for :data:`STALE_AFTER_S` (its driver stopped without saying so)."""
        return self.state == "running" and self.seconds_since_update(now) > STALE_AFTER_S

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), ensure_ascii=False).encode()

    @classmethod
    def from_json(cls, raw: bytes) -> "BatchManifest":
        """Parse a manifest; unknown fields (from a newer version) are ignored.

        Raises
        ------
        ValueError
            Not a manifest.
        """
        data = json.loads(raw)
        if not isinstance(data, dict):
            raise ValueError("a batch manifest is a JSON object")
        known = {f.name for f in fields(cls)}
        try:
            return cls(**{k: v for k, v in data.items() if k in known})
        except TypeError as exc:
            raise ValueError(f"not a batch manifest: {exc}") from None


def write_manifest(cache, manifest: BatchManifest) -> None:
    """Store ``manifest`` (stamped with the current time) under its archive's key, atomically."""
    manifest.updated_at = _now()
    manifest.failures = [list(f) for f in manifest.failures[:1000]]
    cache.put(MANIFEST_KIND, manifest.archive_key, manifest.to_json(), ".json")


def read_manifest(cache, archive_key: str) -> BatchManifest | None:
    """The archive's manifest, or ``None`` when no batch ran on it (or the entry is damaged).

    Examples
    --------
    >>> import tempfile
    >>> from core.cache import DiskCache
    >>> cache = DiskCache(tempfile.mkdtemp())
    >>> read_manifest(cache, "k1") is None
    True
    >>> write_manifest(cache, BatchManifest("k1", "feed", "/x", ["faces"], "local", total=3, done=3, state="finished"))
    >>> read_manifest(cache, "k1").state
    'finished'
    """
    if not archive_key:
        return None
    raw = cache.get(MANIFEST_KIND, archive_key, ".json")
    if raw is None:
        return None
    try:
        return BatchManifest.from_json(raw)
    except ValueError:
        return None
