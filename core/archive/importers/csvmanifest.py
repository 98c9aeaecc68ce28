"""CSV manifests: one row per image, paths relative to the CSV's folder.

Columns (names are case-insensitive; only ``file`` is required; common
spellings such as ``like_count`` or ``taken_at`` are accepted, see
:data:`ALIASES`). Blank cells fall back to what the file name says, when it
follows a known scheme (see :mod:`core.archive.importers.plain`).

========================  ====================================================
``file``                  image path relative to the CSV (aliases: ``path``,
                          ``filename``, ``image``)
``likes``, ``comments``   counts; ``1,234``, ``1.2k`` and blanks are accepted
``caption``               post text (hashtags are taken from it)
``timestamp``             Unix seconds or an ISO date (naive dates are UTC)
``post_id``, ``position``  group rows into a carousel post (optional)
``account``               owner name (optional)
``accessibility_caption``  alt text (optional)
========================  ====================================================

Any other column is kept as is in the catalogue.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path, PurePosixPath

from .base import ImageRecord, ImportResult, parse_count, parse_timestamp, rel
from .plain import facts_from_filename

__all__ = ["import_csv_manifests", "ALIASES"]

FORMAT = "csv manifest"
FILE_ALIASES = ("file", "path", "filename", "image")
#: Accepted spellings of each column, first match wins.
ALIASES: dict[str, tuple[str, ...]] = {
    "likes": ("likes", "like_count", "likes_count"),
    "comments": ("comments", "comment_count", "comments_count"),
    "caption": ("caption", "text", "description"),
    "timestamp": ("timestamp", "taken_at_timestamp", "taken_at", "date", "datetime", "posted_at", "created_at"),
    "post_id": ("post_id", "shortcode", "id"),
    "position": ("position",),
    "account": ("account", "username", "owner"),
    "accessibility_caption": ("accessibility_caption", "alt_text"),
}
_MAX_CSV_BYTES = 64 * 1024**2


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    return raw.decode("latin-1")


def _import_one(path: Path, root: Path, files: set[Path], taken: set[Path], result: ImportResult) -> None:
    label = rel(path, root)
    if path.stat().st_size > _MAX_CSV_BYTES:
        result.problems.add(label, "CSV larger than 64 MB", "ignored")
        return
    try:
        reader = csv.DictReader(io.StringIO(_read_text(path), newline=""))
        header = [h.strip() for h in (reader.fieldnames or [])]
        rows = list(reader)
    except csv.Error as exc:
        result.problems.add(label, f"broken CSV: {exc}", "ignored")
        return
    lower = {h.lower(): h for h in header if h}
    file_col = next((lower[a] for a in FILE_ALIASES if a in lower), None)
    if file_col is None:
        result.problems.add(
            label,
            f"CSV has no 'file' column (found: {', '.join(header) or 'no header'})",
            "not used as a manifest; images import without its data",
            level="warning",
        )
        return
    result.claimed.add(path)
    col = {name: next((lower[a] for a in spellings if a in lower), None) for name, spellings in ALIASES.items()}
    known = {c for c in col.values() if c} | {file_col}
    for line, row in enumerate(rows, start=2):
        row = {(k or "").strip(): (v if isinstance(v, str) else "") for k, v in row.items()}
        name = (row.get(file_col) or "").strip()
        where = f"{label} line {line}"
        if not name:
            result.problems.add(where, "row has an empty 'file'", "row skipped", level="warning")
            continue
        target = Path(os.path.normpath(path.parent / PurePosixPath(name.replace("\\", "/"))))
        if root not in target.parents:
            result.problems.add(where, f"'{name}' points outside the archive", "row skipped")
            continue
        if target not in files:
            result.problems.add(where, f"'{name}' is listed but not in the archive", "row skipped")
            continue
        if target in taken:
            continue
        def cell(key: str) -> str:
            return (row.get(col[key]) or "").strip() if col[key] else ""

        # What the file name tells fills what the manifest leaves blank.
        values: dict[str, object] = facts_from_filename(target)
        for key, parser in (("likes", parse_count), ("comments", parse_count), ("timestamp", parse_timestamp)):
            try:
                parsed = parser(cell(key))
            except ValueError as exc:
                result.problems.add(where, f"{key}: {exc}", f"{key} left unknown", level="warning")
                parsed = None
            if parsed is not None or key not in values:
                values[key] = parsed
        try:
            position = int(cell("position") or 1)
        except ValueError:
            position = 1
        taken.add(target)
        result.claimed.add(target)
        result.posts_described += 1
        result.records.append(
            ImageRecord(
                file=rel(target, root),
                post_id=cell("post_id") or str(values.get("post_id") or PurePosixPath(name).stem),
                source_format=FORMAT,
                position=position,
                account=cell("account") or None,
                likes=values["likes"],
                comments=values["comments"],
                caption=row.get(col["caption"]) or "" if col["caption"] else "",
                accessibility_caption=cell("accessibility_caption") or None,
                timestamp=values["timestamp"],
                extras={k: v for k, v in row.items() if k and k not in known},
            )
        )


def import_csv_manifests(files: list[Path], root: Path, claimed: set[Path]) -> ImportResult:
    """Read every CSV manifest among ``files``.

    Images already claimed by another importer are left to it.
    """
    result = ImportResult()
    available = set(files) - claimed
    taken: set[Path] = set()
    for path in sorted(p for p in files if p.suffix.lower() == ".csv" and p not in claimed):
        _import_one(path, root, available, taken, result)
    return result
