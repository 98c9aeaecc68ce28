"""One catalogue from any archive: folder or ZIP, any supported format.

The importers run in a fixed order (Instaloader, Instagram export, CSV
manifests, plain images); each claims the files it understood and leaves the
rest to the next, so a folder mixing formats still imports every photo.
The finished catalogue is cached under a fingerprint of the folder's files
(names, sizes, modification times): a second load of an unchanged archive
reads one Parquet file.

An import is three stages, which :func:`load_folder` runs in turn and a batch
driver runs apart (:mod:`core.batch.driver`): :func:`prepare_import` lists the
files and runs the metadata importers (cheap: no photo is decoded; plain photos' headers are read for their GPS);
:func:`core.archive.ingest.ingest_file` hashes, validates and thumbnails each
photo (the costly part, on any process that sees the files and the cache);
:func:`finish_import` builds the catalogue and its problems and caches them.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from ..cache import DiskCache, atomic_write_bytes, default_cache
from ..config import LIMITS, Limits
from ..image.io import ImageError
from ..jobs import CancelCheck, Progress
from ..problems import PROBLEM_COLUMNS, ProblemLog
from ..text import extract_hashtags
from .duplicates import find_duplicates
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
    "ImportPlan",
    "finish_import",
    "list_files",
    "load_folder",
    "load_zip",
    "open_archive",
    "prepare_archive",
    "prepare_import",
]

_VERSION = "catalogue-v4"  # v2: latitude, longitude, archived; v3: duplicate_of; v4: saved, shares, reach of export insights
_MAX_FOLDER_FILES = 50_000

#: Columns every catalogue has, in this order; format-specific extras follow.
CATALOGUE_COLUMNS = [
    "post_id", "position", "file", "path", "source_format", "account", "media_type",
    "likes", "comments", "caption", "hashtags", "accessibility_caption", "timestamp",
    "sha256", "width", "height", "latitude", "longitude", "archived", "duplicate_of",
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


@dataclass
class ImportPlan:
    """An import before its photos are read: what :func:`prepare_import` found (no photo decoded yet).

    Attributes
    ----------
    name : str
        The archive's display name.
    root : Path
        The folder the photos live in (absolute).
    key : str
        The catalogue's cache key (:attr:`Archive.key` once imported).
    records : list of ImageRecord
        Every image the importers found, before decoding (empty when ``cached``).
    problems : ProblemLog
        What listing the folder and reading its metadata found wrong.
    videos_skipped, posts_described : int
        The importers' counts.
    cached : Archive or None
        The finished archive, when its catalogue was already in the cache: nothing is left to do.
    """

    name: str
    root: Path
    key: str
    records: list[ImageRecord] = field(default_factory=list)
    problems: ProblemLog = field(default_factory=ProblemLog)
    videos_skipped: int = 0
    posts_described: int = 0
    cached: Archive | None = None

    @property
    def files(self) -> list[str]:
        """The distinct image files to ingest (paths relative to :attr:`root`), in catalogue order."""
        return list(dict.fromkeys(r.file for r in self.records))


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
        "latitude": record.latitude,
        "longitude": record.longitude,
        "archived": record.archived,
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
    frame["latitude"] = pd.to_numeric(frame["latitude"]).astype("float64")
    frame["longitude"] = pd.to_numeric(frame["longitude"]).astype("float64")
    frame["archived"] = frame["archived"].fillna(False).astype(bool)
    for col in ("post_id", "file", "path", "source_format", "media_type", "caption", "sha256", "duplicate_of"):
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


def prepare_import(
    root: str | Path,
    *,
    name: str | None = None,
    cache: DiskCache | None = None,
    extra_problems: ProblemLog | None = None,
) -> ImportPlan:
    """The cheap first stage of an import: list the files, key the catalogue, read the metadata.

    No photo is decoded (a plain photo's header is read for its EXIF GPS). When the catalogue of this very folder content is
    already cached, the plan carries it (:attr:`ImportPlan.cached`) and the
    importers are not run.

    Parameters
    ----------
    root : path
        The archive folder.
    name : str, optional
        Display name; defaults to the folder name.
    cache : DiskCache, optional
        Where the catalogue is cached.
    extra_problems : ProblemLog, optional
        Problems found before the folder existed (ZIP extraction), listed first.

    Returns
    -------
    ImportPlan

    Raises
    ------
    ArchiveError
        If ``root`` is not a folder.

    Examples
    --------
    >>> import tempfile
    >>> from PIL import Image
    >>> folder = Path(tempfile.mkdtemp()); cache = DiskCache(folder / ".cache")
    >>> Image.new("RGB", (32, 24), "red").save(folder / "red.jpg")
    >>> plan = prepare_import(folder, cache=cache)
    >>> plan.files, plan.cached is None
    (['red.jpg'], True)
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
        return ImportPlan(name, root, key, cached=cached)

    results = _run_importers(files, root)
    problems = ProblemLog()
    problems.extend(listing_problems)
    for res in results:
        problems.extend(res.problems)
    return ImportPlan(
        name=name,
        root=root,
        key=key,
        records=[r for res in results for r in res.records],
        problems=problems,
        videos_skipped=sum(r.videos_skipped for r in results),
        posts_described=sum(r.posts_described for r in results),
    )


def finish_import(
    plan: ImportPlan,
    infos: Mapping[str, ImageInfo | ImageError],
    *,
    cache: DiskCache | None = None,
    picture_hashes: Mapping[str, tuple[int, ...]] | None = None,
) -> Archive:
    """The last stage of an import: the catalogue and its problems, from each file's ingest; cached.

    Parameters
    ----------
    plan : ImportPlan
        From :func:`prepare_import`.
    infos : mapping of str to ImageInfo or ImageError
        For each of :attr:`ImportPlan.files`: what
        :func:`core.archive.ingest.ingest_file` returned, or the error that
        says why the file could not be used (it is listed as skipped).
    cache : DiskCache, optional
        Where the catalogue is cached.
    picture_hashes : mapping of str to tuple of int, optional
        The duplicate finder's hashes of some photos, by sha256, when the
        processes that ingested them made them too (a batch's workers); the
        others are computed here (:func:`core.archive.duplicates.find_duplicates`).

    Returns
    -------
    Archive
        The same catalogue (and cache entry) whichever process ingested the files.

    Raises
    ------
    KeyError
        A file of the plan has no entry in ``infos``.
    """
    if plan.cached is not None:
        return plan.cached
    cache = cache or default_cache()
    problems = ProblemLog()
    problems.extend(plan.problems)
    rows = []
    first_seen: dict[str, str] = {}
    for record in plan.records:
        info = infos[record.file]
        if isinstance(info, Exception):
            problems.add(record.file, str(info), "skipped")
            continue
        for note in info.notes:
            problems.add(record.file, note, "used", level="warning")
        if info.sha256 in first_seen:
            problems.add(record.file, f"same photo as {first_seen[info.sha256]}", "kept", level="info")
        first_seen.setdefault(info.sha256, record.file)
        rows.append(_record_row(record, plan.root, info))

    catalogue = _build_catalogue(rows)
    catalogue["duplicate_of"] = find_duplicates(catalogue, cache, known=picture_hashes)
    archive = Archive(
        name=plan.name,
        root=plan.root,
        catalogue=catalogue,
        problems=problems.to_frame(),
        videos_skipped=plan.videos_skipped,
        posts_described=plan.posts_described,
        formats=tuple(sorted(set(catalogue["source_format"].dropna()))),
        key=plan.key,
    )
    _save(cache, plan.key, archive)
    return archive


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
    cache = cache or default_cache()
    plan = prepare_import(root, name=name, cache=cache, extra_problems=extra_problems)
    if plan.cached is not None:
        return plan.cached
    files = plan.files
    infos = ingest_files([plan.root / f for f in files], cache, progress=progress, cancel=cancel)
    return finish_import(plan, dict(zip(files, infos)), cache=cache)


def _hash_stream(stream: BinaryIO) -> str:
    digest = hashlib.sha256()
    stream.seek(0)
    while block := stream.read(1 << 20):
        digest.update(block)
    stream.seek(0)
    return digest.hexdigest()


def _extract_zip(
    source: str | Path | bytes | BinaryIO,
    *,
    name: str | None,
    cache: DiskCache,
    limits: Limits,
) -> tuple[Path, str, ProblemLog]:
    """The ZIP's folder (extracted once, under the cache, named by the ZIP's sha256), its name and problems."""
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
    return files_dir, name, problems


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
    files_dir, name, problems = _extract_zip(source, name=name, cache=cache, limits=limits)
    return load_folder(files_dir, name=name, progress=progress, cancel=cancel, cache=cache,
                       extra_problems=problems)


def _checked_archive_path(path: str | Path) -> tuple[Path, bool]:
    """``path`` made absolute, and whether it is a folder (else a ZIP file).

    Raises
    ------
    ArchiveError
        It does not exist, or is neither a folder nor a ZIP file.
    """
    path = Path(os.path.abspath(Path(path).expanduser()))
    if path.is_dir():
        return path, True
    if not path.exists():
        raise ArchiveError(f"{path}: no such folder or ZIP file")
    if not path.is_file() or not zipfile.is_zipfile(path):
        raise ArchiveError(f"{path}: not a folder or a ZIP archive")
    return path, False


def prepare_archive(path: str | Path, *, cache: DiskCache | None = None) -> ImportPlan:
    """:func:`prepare_import` of a folder or a ZIP file, whichever ``path`` is (a ZIP is extracted first).

    The first stage of :func:`open_archive`, for a caller that ingests the
    photos elsewhere (a batch's workers) and then calls :func:`finish_import`.

    Raises
    ------
    ArchiveError
        As :func:`open_archive`.

    Examples
    --------
    >>> import tempfile
    >>> prepare_archive(Path(tempfile.mkdtemp()) / "missing")
    Traceback (most recent call last):
    ...
    core.archive.safezip.ArchiveError: ...missing: no such folder or ZIP file
    """
    cache = cache or default_cache()
    try:
        path, is_folder = _checked_archive_path(path)
        if is_folder:
            return prepare_import(path, cache=cache)
        files_dir, name, problems = _extract_zip(path, name=None, cache=cache, limits=LIMITS)
        return prepare_import(files_dir, name=name, cache=cache, extra_problems=problems)
    except PermissionError as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


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
        path, is_folder = _checked_archive_path(path)
        if is_folder:
            return load_folder(path, progress=progress, cancel=cancel, cache=cache)
        return load_zip(path, progress=progress, cancel=cancel, cache=cache)
    except PermissionError as exc:
        raise ArchiveError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
