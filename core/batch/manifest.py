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

__all__ = ["MANIFEST_KIND", "BatchManifest", "BatchStatus", "batch_status", "core_version", "read_manifest",
           "write_manifest"]

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
        Distinct photos of the archive, and those handled so far (computed, read back or failed); while
        ``stage`` is ``"import"``, the archive's files and those read so far.
    stage : str
        What the batch is doing now: ``"import"`` (reading, hashing and thumbnailing the files), or the
        per-photo steps it runs (``"features/faces"``); empty once there is nothing left to do.
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
    stage: str = ""
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


@dataclass(frozen=True)
class BatchStatus:
    """What a page says about an archive's batch: the wording decided here, drawn by ``ui.batch_status``.

    Every text is plain (no Markdown): the caller escapes it.

    Attributes
    ----------
    state : {"running", "stale", "finished", "cancelled", "failed"}
        The manifest's state, with ``stale`` for a running batch whose driver went silent.
    level : {"progress", "warning", "error", "quiet"}
        How loudly to say it: a progress bar, a warning, an error, or a caption.
    message : str
        The one-line status.
    note : str
        What to do or expect next ("" when nothing).
    resume : str
        A ``feedlens batch`` command line that resumes or redoes the batch ("" when none is needed).
    version_note : str
        Set when another Feedlens version computed the results: names both versions.
    live : bool
        The batch is running: keep reading the manifest.
    fraction : float
        Done of total, in [0, 1].
    failures : list of (file, reason)
    """

    state: str
    level: str
    message: str
    note: str = ""
    resume: str = ""
    version_note: str = ""
    live: bool = False
    fraction: float = 0.0
    failures: list[tuple[str, str]] = field(default_factory=list)


def _ago(seconds: float | None) -> str:
    """``12 s ago``, ``3 min ago``, ``2 h ago``, ``4 days ago`` (``at an unknown time`` when unknown).

    Examples
    --------
    >>> [_ago(s) for s in (-3, 12.7, 150, 7300, 200000, None)]
    ['0 s ago', '12 s ago', '2 min ago', '2 h ago', '2 days ago', 'at an unknown time']
    """
    if seconds is None:
        return "at an unknown time"
    seconds = max(0, int(seconds))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    days = seconds // 86400
    return f"{days} day{'s' if days > 1 else ''} ago"


def _resume_command(manifest: BatchManifest) -> str:
    """The ``feedlens batch`` command line that runs the manifest's steps on its archive again.

    Examples
    --------
    >>> _resume_command(BatchManifest("k", "feed", "/data/my feed", ["thumbnails", "features", "faces"], "dask"))
    "feedlens batch all '/data/my feed' --engine dask"
    >>> _resume_command(BatchManifest("k", "feed", "/data/feed", ["faces"], "inprocess"))
    'feedlens batch faces /data/feed'
    """
    import shlex

    from .plan import STEPS

    steps = list(manifest.steps)
    step = "import" if not steps else steps[0] if len(steps) == 1 and steps[0] in STEPS else "all"
    engine = f" --engine {shlex.quote(manifest.engine)}" if manifest.engine and manifest.engine != "inprocess" else ""
    return f"feedlens batch {step} {shlex.quote(manifest.archive_root)}{engine}"


def _version_name(version: str) -> str:
    return "Feedlens (version unknown)" if version == "unknown" else f"Feedlens {version}"


def batch_status(manifest: BatchManifest, app_version: str, now: datetime | None = None) -> BatchStatus:
    """What to tell the user about ``manifest``'s batch, for an app of ``app_version``.

    A running batch shows its progress; one whose driver has not written for
    :data:`STALE_AFTER_S` stopped without finishing; a cancelled or failed one
    says so; each of these offers the command that resumes it. Results computed
    by another version than ``app_version`` are flagged, naming both.

    Examples
    --------
    >>> m = BatchManifest("k", "feed", "/data/feed", ["features"], "dask", total=5000, done=1234, failed=3,
    ...                   core_version="0.2.0", updated_at="2026-01-01T12:00:00+00:00")
    >>> now = datetime(2026, 1, 1, 12, 0, 12, tzinfo=timezone.utc)
    >>> s = batch_status(m, "0.2.0", now)
    >>> s.state, s.level, s.live, s.fraction
    ('running', 'progress', True, 0.2468)
    >>> s.message
    'Batch job (dask): 1,234 of 5,000 photos, 3 failed, updated 12 s ago'
    >>> import dataclasses
    >>> batch_status(dataclasses.replace(m, stage="import"), "0.2.0", now).message
    'Batch job (dask): importing, 1,234 of 5,000 files read, 3 failed, updated 12 s ago'
    >>> batch_status(m, "0.2.0", datetime(2026, 1, 1, 15, tzinfo=timezone.utc)).state
    'stale'
    >>> m.state = "finished"
    >>> batch_status(m, "0.2.0", now).level
    'quiet'
    >>> batch_status(m, "0.3.0", now).version_note[:79]
    'These results were computed by Feedlens 0.2.0, and this app is Feedlens 0.3.0. '
    """
    now = now or datetime.now(timezone.utc)
    try:
        since = manifest.seconds_since_update(now)
    except (TypeError, ValueError):  # a damaged time stamp: say so rather than fail the page
        since = None
    engine = f" ({manifest.engine})" if manifest.engine else ""
    progress = (f"importing, {manifest.done:,} of {manifest.total:,} files read" if manifest.stage == "import"
                else f"{manifest.done:,} of {manifest.total:,} photos")
    failed = f", {manifest.failed:,} failed" if manifest.failed else ""
    resume_note = ("Run the same feedlens batch command again to resume: photos already in the cache are read back, "
                   "not computed again.")
    common = dict(fraction=manifest.fraction, failures=[(str(f[0]), str(f[1]) if len(f) > 1 else "")
                                                         for f in manifest.failures if f])
    version_note = ""
    if manifest.core_version != app_version:
        version_note = (f"These results were computed by {_version_name(manifest.core_version)}, and this app is "
                        f"{_version_name(app_version)}. They may differ from what this version computes: run the "
                        "batch again with this version to recompute them.")
    if manifest.state == "running" and since is not None and since <= STALE_AFTER_S:
        return BatchStatus(
            "running", "progress", f"Batch job{engine}: {progress}{failed}, updated {_ago(since)}",
            note="Results appear as the batch writes them to the cache: the photos it has done are read from there, "
                 "not computed again. This bar updates by itself, and the page reloads when the batch ends.",
            version_note=version_note, live=True, **common)
    if manifest.state == "running":
        return BatchStatus(
            "stale", "warning", f"The batch job{engine} on this archive stopped without finishing: {progress} done"
            f"{failed}; its last update was {_ago(since)}.", note=resume_note, resume=_resume_command(manifest),
            version_note=version_note, **common)
    if manifest.state in ("cancelled", "failed"):
        what = "was cancelled" if manifest.state == "cancelled" else "stopped with an error"
        return BatchStatus(
            manifest.state, "warning" if manifest.state == "cancelled" else "error",
            f"The batch job{engine} on this archive {what} after {progress}{failed}.", note=resume_note,
            resume=_resume_command(manifest), version_note=version_note, **common)
    return BatchStatus(
        "finished", "quiet", f"Batch job{engine} finished {_ago(since)}: {manifest.total:,} photos{failed}.",
        resume=_resume_command(manifest) if version_note else "", version_note=version_note, **common)
