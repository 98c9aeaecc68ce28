"""Extract a user's ZIP without trusting anything in it.

Guards: no path may leave the destination (absolute paths, ``..``, links are
refused), member count, total size and per-member compression ratio are capped
(zip bombs), and the declared sizes are enforced while streaming, since a
hostile archive can lie about them. Names that are not UTF-8 are decoded the
way the archiver most likely wrote them. Each refused member becomes a row in
the problem log; the rest is extracted.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import unicodedata
import zipfile
import zlib
from pathlib import Path, PurePosixPath

from ..config import LIMITS, Limits
from ..jobs import JobError
from ..problems import ProblemLog

__all__ = ["ArchiveError", "extract_zip", "decode_member_name", "is_ignored_name"]

_CHUNK = 1 << 20
# Tiny members compress extremely well for innocent reasons (a blank PNG);
# the ratio guard is for members that would expand into real memory or disk.
_RATIO_MIN_BYTES = 1 << 20
_UTF8_FLAG = 0x800
_ENCRYPTED_FLAG = 0x1


class ArchiveError(JobError, ValueError):
    """The archive as a whole cannot be used (not a ZIP, corrupt directory)."""


def decode_member_name(info: zipfile.ZipInfo) -> str:
    """Return a member's name, repairing archivers that did not flag UTF-8.

    ZIP names without the UTF-8 flag are officially CP437, but most tools
    today write UTF-8 (or the system code page) without setting the flag.

    Examples
    --------
    >>> import zipfile
    >>> info = zipfile.ZipInfo("caf\\u00e9.jpg")
    >>> decode_member_name(info)
    'café.jpg'
    """
    name = info.filename
    if info.flag_bits & _UTF8_FLAG:
        return name
    try:
        raw = name.encode("cp437")
    except UnicodeEncodeError:
        return name  # built in memory from a str: already decoded
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    # Legacy code pages: DOS/Explorer write CP437 (OEM), other tools CP1252.
    # Keep the reading with more Latin letters; file names rarely hold box
    # drawing or Greek, which is what the wrong one produces.
    readings = [name]
    try:
        readings.append(raw.decode("cp1252"))
    except UnicodeDecodeError:
        pass
    return max(readings, key=_latin_letters)


def _latin_letters(text: str) -> int:
    return sum(1 for c in text if ord(c) > 127 and "LATIN" in unicodedata.name(c, ""))


def is_ignored_name(name: str) -> bool:
    """True for OS litter: ``__MACOSX/``, hidden files, ``Thumbs.db``.

    Examples
    --------
    >>> is_ignored_name("__MACOSX/._a.jpg"), is_ignored_name("posts/a.jpg")
    (True, False)
    """
    parts = PurePosixPath(name.replace("\\", "/")).parts
    return any(p == "__MACOSX" or p.startswith(".") and p not in (".", "..") for p in parts) or (
        bool(parts) and parts[-1].lower() in {"thumbs.db", "desktop.ini"}
    )


def _safe_relative(name: str) -> PurePosixPath | None:
    name = name.replace("\\", "/")
    if name.startswith("/") or (len(name) > 1 and name[1] == ":"):
        return None
    parts = [p for p in PurePosixPath(name).parts if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return PurePosixPath(*parts)


def _is_link(info: zipfile.ZipInfo) -> bool:
    return stat.S_ISLNK(info.external_attr >> 16)


def _unique(rel: PurePosixPath, taken: set[str]) -> PurePosixPath:
    candidate, n = rel, 2
    while str(candidate).lower() in taken:
        candidate = rel.with_name(f"{rel.stem} ({n}){rel.suffix}")
        n += 1
    return candidate


def extract_zip(
    zip_path: str | Path,
    dest: str | Path,
    problems: ProblemLog,
    *,
    limits: Limits = LIMITS,
    label: str | None = None,
) -> Path:
    """Extract ``zip_path`` into the new folder ``dest``, guarding every member.

    Extraction happens in a temporary sibling folder which is renamed to
    ``dest`` at the end, so ``dest`` either is complete or does not exist.

    Parameters
    ----------
    zip_path : path
        The ZIP file.
    dest : path
        Folder to create; must not exist yet.
    problems : ProblemLog
        Receives one row per refused or renamed member.
    limits : Limits
        Caps on members, sizes and compression ratio.
    label : str, optional
        The archive's name as the user knows it (defaults to the file name).

    Returns
    -------
    pathlib.Path
        ``dest``.

    Raises
    ------
    ArchiveError
        When the file is not a readable ZIP at all.
    """
    dest = Path(dest)
    label = label or Path(zip_path).name
    try:
        zf = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise ArchiveError(f"{label}: not a readable ZIP archive ({exc})") from None

    dest.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=".extract-", dir=dest.parent))
    try:
        with zf:
            members = zf.infolist()
            if len(members) > limits.max_zip_members:
                problems.add(
                    label,
                    f"the ZIP has {len(members)} entries; only the first "
                    f"{limits.max_zip_members} are read (zip bomb guard)",
                    "rest skipped",
                )
                members = members[: limits.max_zip_members]
            total = 0
            taken: set[str] = set()
            for info in members:
                total += _extract_member(zf, info, work, problems, limits, taken, total)
        os.replace(work, dest)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    return dest


def _extract_member(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    work: Path,
    problems: ProblemLog,
    limits: Limits,
    taken: set[str],
    total_so_far: int,
) -> int:
    """Extract one member; return the bytes written."""
    name = decode_member_name(info)
    if info.is_dir() or is_ignored_name(name):
        return 0
    rel = _safe_relative(name)
    if rel is None:
        problems.add(name, "unsafe path in ZIP (absolute or '..': zip slip)", "skipped")
        return 0
    if _is_link(info):
        problems.add(name, "symbolic link in ZIP (could point outside the archive)", "skipped")
        return 0
    if info.flag_bits & _ENCRYPTED_FLAG:
        problems.add(name, "encrypted ZIP entry (password protected)", "skipped")
        return 0
    if rel.suffix.lower() == ".zip":
        problems.add(name, "ZIP inside the ZIP is not opened", "skipped; upload it on its own")
        return 0
    if info.file_size > limits.max_file_bytes:
        problems.add(
            name,
            f"entry is {info.file_size / 1024**2:.0f} MB uncompressed; the limit is "
            f"{limits.max_file_bytes / 1024**2:.0f} MB",
            "skipped",
        )
        return 0
    if info.file_size >= _RATIO_MIN_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio:
            problems.add(
                name,
                f"compression ratio {ratio:.0f}:1 exceeds {limits.max_zip_ratio:.0f}:1 (zip bomb guard)",
                "skipped",
            )
            return 0
    if total_so_far + info.file_size > limits.max_zip_total_bytes:
        problems.add(
            name,
            f"the archive expands beyond {limits.max_zip_total_bytes / 1024**3:.1f} GB (zip bomb guard)",
            "skipped",
        )
        return 0

    final = _unique(rel, taken)
    if final != rel:
        problems.add(name, "duplicate name in the ZIP", f"kept as {final}", level="warning")
    target = work.joinpath(*final.parts)
    target.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    try:
        with zf.open(info) as src, open(target, "wb") as out:
            while block := src.read(_CHUNK):
                written += len(block)
                # The header can lie about sizes: enforce what it declared.
                if written > info.file_size:
                    raise ValueError("entry is larger than its header declares")
                out.write(block)
    except (zipfile.BadZipFile, zlib.error, ValueError, OSError, EOFError, RuntimeError) as exc:
        target.unlink(missing_ok=True)
        problems.add(name, f"corrupt ZIP entry: {exc}", "skipped")
        return 0
    taken.add(str(final).lower())
    return written
