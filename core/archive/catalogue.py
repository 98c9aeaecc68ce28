"""One catalogue from any archive: folder or ZIP, any supported format.

The importers run in a fixed order (Instaloader, Instagram export, CSV
manifests, plain images); each claims the files it understood and leaves the
rest to the next, so a folder mixing formats still imports every photo.
The finished catalogue is cached under a fingerprint of the folder's files
(names, sizes, modification times): a second load of an unchanged archive
reads one Parquet file.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from ..cache import DiskCache, atomic_write_bytes, default_cache
from ..config import LIMITS, Limits
from ..jobs import CancelCheck, Progress
from ..problems import PROBLEM_COLUMNS, ProblemLog
from ..text import extract_hashtags
from .importers.base import ImageRecord, ImportResult
from .importers.csvmanifest import import_csv_manifests
from .importers.igexport import import_igexport
from .importers.instaloader import import_instaloader
from .importers.plain import import_plain_images
from .ingest import ImageInfo, ingest_files
from .safezip import ArchiveError, extract_zip, is_ignored_name

__all__ = [
    "Archive",
    "CATALOGUE_COLUMNS",
    "list_files",
    "load_folder",
    "load_zip",
    "open_archive",
]

_VERSION = "catalogue-v1"
_MAX_FOLDER_FILES = 50_000

#: Columns every catalogue has, in this order; format-specific extras follow.
CATALOGUE_COLUMNS = [
    "post_id", "position", "file", "path", "source_format", "account", "media_type",
    "likes", "comments", "caption", "hashtags", "accessibility_caption", "timestamp",
    "sha256", "width", "height",
]

# One resolution whatever the source (Parquet stores another): equal catalogues compare equal.
_TIME_DTYPE = "datetime64[ns, UTC]"


@dataclass
class Archive:
    """A user's posts: one catalogue row per image, plus the import's problems.

    Attributes
    ----------
    name : str
        What the user calls it (upload name, folder name, "Demo").
    root : Path
        Folder the images live in.
    catalogue : pandas.DataFrame
        :data:`CATALOGUE_COLUMNS` first. ``likes``/``comments`` are nullable
        ``Int64`` (missing = unknown), ``timestamp`` is UTC.
    problems : pandas.DataFrame
        One row per file that could not be used as it was.
    illustrative_engagement : bool
        Likes and comments are made up (the demo), not real.
    """

    name: str
    root: Path
    catalogue: pd.DataFrame
    problems: pd.DataFrame
    videos_skipped: int = 0
    posts_described: int = 0
    formats: tuple[str, ...] = ()
    illustrative_engagement: bool = False
    key: str = ""
    extras: dict = field(default_factory=dict)

    @property
    def n_posts(self) -> int:
        """Posts with at least one usable image."""
        return int(self.catalogue["post_id"].nunique()) if len(self.catalogue) else 0

    @property
    def n_images(self) -> int:
        """Usable images (catalogue rows)."""
        return len(self.catalogue)

    @property
    def likes_known(self) -> bool:
        """Whether any image has a like count."""
        return bool(self.catalogue["likes"].notna().any()) if len(self.catalogue) else False


def list_files(root: Path, problems: ProblemLog | None = None) -> list[Path]:
    """Every regular file under ``root``, skipping OS litter and links.

    Links are not followed: on a hosted server they could reach outside the
    archive.
    """
    found: list[Path] = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        base = Path(folder)
        dirs[:] = sorted(d for d in dirs if not is_ignored_name(d))
        for name in sorted(files):
            path = base / name
            if is_ignored_name(name):
                continue
            if path.is_symlink():
                if problems is not None:
                    problems.add(path.relative_to(root).as_posix(), "symbolic link not followed", "skipped")
                continue
            found.append(path)
            if len(found) >= _MAX_FOLDER_FILES:
                if problems is not None:
                    problems.add(".", f"more than {_MAX_FOLDER_FILES} files; the rest were not read", "rest skipped")
                return found
    return found


def _fingerprint(root: Path, files: list[Path]) -> str:
    digest = hashlib.sha256(f"{_VERSION}\0{root}\0".encode())
    for path in files:
        st = path.stat()
        digest.update(f"{path.relative_to(root).as_posix()}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return digest.hexdigest()


def _run_importers(files: list[Path], root: Path) -> list[ImportResult]:
    results = [import_instaloader(files, root)]
    claimed = set().union(*(r.claimed for r in results))
    results.append(import_igexport([f for f in files if f not in claimed], root))
    claimed |= results[-1].claimed
    results.append(import_csv_manifests(files, root, claimed))
    claimed |= results[-1].claimed
    results.append(import_plain_images(files, root, claimed))
    return results


def _record_row(record: ImageRecord, root: Path, info: ImageInfo) -> dict:
    row = {
        "post_id": record.post_id,
        "position": record.position,
        "file": record.file,
        "path": str(root / record.file),
        "source_format": record.source_format,
        "account": record.account,
        "media_type": record.media_type,
        "likes": record.likes,
        "comments": record.comments,
        "caption": record.caption or "",
        "hashtags": extract_hashtags(record.caption),
        "accessibility_caption": record.accessibility_caption,
        "timestamp": record.timestamp if record.timestamp is not None else info.taken_at,
        "sha256": info.sha256,
        "width": info.width,
        "height": info.height,
    }
    for key, value in record.extras.items():
        row.setdefault(key, value)
    return row


def _build_catalogue(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=CATALOGUE_COLUMNS)
    for col in CATALOGUE_COLUMNS:
        if col not in frame:
            frame[col] = None
    frame["likes"] = pd.array(frame["likes"], dtype="Int64")
    frame["comments"] = pd.array(frame["comments"], dtype="Int64")
    frame["position"] = frame["position"].astype("int64")
    frame["width"] = frame["width"].astype("int64")
    frame["height"] = frame["height"].astype("int64")
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True).astype(_TIME_DTYPE)
    for col in ("post_id", "file", "path", "source_format", "media_type", "caption", "sha256"):
        frame[col] = frame[col].astype("string")
    extras = [c for c in frame.columns if c not in CATALOGUE_COLUMNS]
    for col in extras:
        if frame[col].dtype == object:
            frame[col] = frame[col].astype("string")
    frame = frame[CATALOGUE_COLUMNS + extras]
    return frame.sort_values(["timestamp", "post_id", "position"], na_position="last").reset_index(drop=True)


def _save(cache: DiskCache, key: str, archive: Archive) -> None:
    buf = io.BytesIO()
    archive.catalogue.to_parquet(buf, index=False)
    cache.put("catalogue", key, buf.getvalue(), ".parquet")
    meta = {
        "problems": archive.problems.to_dict("records"),
        "videos_skipped": archive.videos_skipped,
        "posts_described": archive.posts_described,
        "formats": list(archive.formats),
    }
    # Written last: its presence marks a complete entry.
    cache.put("catalogue", key, json.dumps(meta).encode(), ".json")


def _load(cache: DiskCache, key: str, name: str, root: Path) -> Archive | None:
    meta_raw = cache.get("catalogue", key, ".json")
    table = cache.get("catalogue", key, ".parquet")
    if meta_raw is None or table is None:
        return None
    try:
        meta = json.loads(meta_raw)
        catalogue = pd.read_parquet(io.BytesIO(table))
    except (ValueError, OSError):
        return None
    catalogue["hashtags"] = catalogue["hashtags"].map(list)
    catalogue["timestamp"] = catalogue["timestamp"].astype(_TIME_DTYPE)
    return Archive(
        name=name,
        root=root,
        catalogue=catalogue,
        problems=pd.DataFrame(meta["problems"], columns=PROBLEM_COLUMNS),
        videos_skipped=meta["videos_skipped"],
        posts_described=meta["posts_described"],
        formats=tuple(meta["formats"]),
        key=key,
    )


def load_folder(
    root: str | Path,
    *,
    name: str | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    cache: DiskCache | None = None,
    extra_problems: ProblemLog | None = None,
) -> Archive:
    """Import every post in a folder.

    Parameters
    ----------
    root : path
        The archive folder.
    name : str, optional
        Display name; defaults to the folder name.
    progress : callable, optional
        ``progress(done, total, message)`` while images are decoded.
    cancel : callable, optional
        Polled during the import; return True to stop (raises :class:`core.jobs.Cancelled`).
    cache : DiskCache, optional
        Where thumbnails and the catalogue are cached.
    extra_problems : ProblemLog, optional
        Problems found before the folder existed (ZIP extraction), listed first.

    Returns
    -------
    Archive

    Raises
    ------
    ArchiveError
        If ``root`` is not a folder.
    """
    root = Path(os.path.abspath(Path(root).expanduser()))
    if not root.is_dir():
        raise ArchiveError(f"{root}: no such folder")
    cache = cache or default_cache()
    name = name or root.name
    listing_problems = ProblemLog()
    if extra_problems:
        listing_problems.extend(extra_problems)
    files = list_files(root, listing_problems)
    key = _fingerprint(root, files)
    if extra_problems:
        key = hashlib.sha256((key + json.dumps(listing_problems.to_frame().to_dict("records"))).encode()).hexdigest()
    cached = _load(cache, key, name, root)
    if cached is not None:
        return cached

    results = _run_importers(files, root)
    records = [r for res in results for r in res.records]
    problems = ProblemLog()
    problems.extend(listing_problems)
    for res in results:
        problems.extend(res.problems)

    infos = ingest_files([root / r.file for r in records], cache, progress=progress, cancel=cancel)
    rows = []
    first_seen: dict[str, str] = {}
    for record, info in zip(records, infos):
        if isinstance(info, Exception):
            problems.add(record.file, str(info), "skipped")
            continue
        for note in info.notes:
            problems.add(record.file, note, "used", level="warning")
        if info.sha256 in first_seen:
            problems.add(record.file, f"same photo as {first_seen[info.sha256]}", "kept", level="info")
        first_seen.setdefault(info.sha256, record.file)
        rows.append(_record_row(record, root, info))

    catalogue = _build_catalogue(rows)
    archive = Archive(
        name=name,
        root=root,
        catalogue=catalogue,
        problems=problems.to_frame(),
        videos_skipped=sum(r.videos_skipped for r in results),
        posts_described=sum(r.posts_described for r in results),
        formats=tuple(sorted(set(catalogue["source_format"].dropna()))),
        key=key,
    )
    _save(cache, key, archive)
    return archive


def _hash_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(1 << 20):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def load_zip(
    source: str | Path | bytes | BinaryIO,
    *,
    name: str | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    cache: DiskCache | None = None,
    limits: Limits = LIMITS,
) -> Archive:
    """Import a ZIP archive (a path, bytes, or a binary file object).

    The ZIP is extracted once, under the cache, into a folder named by its
    sha256; loading the same ZIP again reuses that folder.

    Raises
    ------
    ArchiveError
        If it is not a readable ZIP at all.
    """
    cache = cache or default_cache()
    if isinstance(source, (bytes, bytearray)):
        stream: BinaryIO = io.BytesIO(source)
    elif isinstance(source, (str, Path)):
        stream = open(source, "rb")  # noqa: SIM115 - closed below
        name = name or Path(source).name
    else:
        stream = source
    name = name or "upload.zip"
    try:
        sha = _hash_stream(stream)
        home = cache.local_dir("archives") / sha
        files_dir, problems_file = home / "files", home / "extract_problems.json"
        problems = ProblemLog()
        if files_dir.is_dir() and problems_file.is_file():
            for row in json.loads(problems_file.read_text()):
                problems.add(**row)
        else:
            shutil.rmtree(home, ignore_errors=True)  # a half-finished earlier run
            home.mkdir(parents=True, exist_ok=True)
            zip_copy = home / "upload.zip.part"
            with open(zip_copy, "wb") as out:
                shutil.copyfileobj(stream, out, 1 << 20)
            try:
                extract_zip(zip_copy, files_dir, problems, limits=limits, label=name)
            except ArchiveError:
                shutil.rmtree(home, ignore_errors=True)
                raise
            finally:
                zip_copy.unlink(missing_ok=True)
            atomic_write_bytes(problems_file, json.dumps(problems.to_frame().to_dict("records")).encode())
    finally:
        if isinstance(source, (str, Path)):
            stream.close()
    return load_folder(files_dir, name=name, progress=progress, cancel=cancel, cache=cache,
                       extra_problems=problems)


def open_archive(
    path: str | Path,
    *,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
    cache: DiskCache | None = None,
) -> Archive:
    """Import a folder or a ZIP file, whichever ``path`` is.

    Parameters
    ----------
    path : path
        An archive folder, or a ZIP file (recognised by its content, not its
        name).
    progress, cancel : callable, optional
        As for :func:`load_folder`.
    cache : DiskCache, optional
        Where thumbnails, the catalogue and an extracted ZIP are cached.

    Returns
    -------
    Archive

    Raises
    ------
    ArchiveError
        If ``path`` does not exist, cannot be read, or is a file that is not
        a ZIP archive.

    Examples
    --------
    >>> import tempfile
    >>> folder = Path(tempfile.mkdtemp())
    >>> open_archive(folder / "missing")
    Traceback (most recent call last):
    ...
    core.archive.safezip.ArchiveError: ...missing: no such folder or ZIP file
    >>> _ = (folder / "notes.txt").write_text("hello")
    >>> open_archive(folder / "notes.txt")
    Traceback (most recent call last):
    ...
    core.archive.safezip.ArchiveError: ...notes.txt: not a folder or a ZIP archive
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    try:
        if path.is_dir():
            return load_folder(path, progress=progress, cancel=cancel, cache=cache)
        if not path.exists():
            raise ArchiveError(f"{path}: no such folder or ZIP file")
        if not path.is_file() or not zipfile.is_zipfile(path):
            raise ArchiveError(f"{path}: not a folder or a ZIP archive")
        return load_zip(path, progress=progress, cancel=cancel, cache=cache)
    except PermissionError as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
