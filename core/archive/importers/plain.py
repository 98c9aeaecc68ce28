"""Plain images: every photo no metadata importer claimed.

Two naming schemes still carry information and are read from the name:
Instaloader's ``<date>_UTC[_n].jpg`` (the time) and the scraper scheme
``<post id>_<likes>_<comments>_<unix time>.jpg`` seen in the wild
(``instaaudit-likes-in-filenames``).

A photo's own EXIF GPS position (a folder of camera or phone photos) is read
from its header; Instagram strips EXIF from what Instaloader and the export
download, so the other importers take positions from their metadata instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from .base import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ImageRecord,
    ImportResult,
    exif_position,
    parse_timestamp,
    rel,
    timestamp_from_filename,
)

__all__ = ["import_plain_images", "parse_engagement_filename", "facts_from_filename"]

FORMAT = "plain images"
FORMAT_FILENAMES = "likes in file names"
_ENGAGEMENT_NAME = re.compile(r"^(?P<post>\d{6,})_(?P<likes>\d+)_(?P<comments>\d+)_(?P<ts>\d{9,10})$")
_CAROUSEL_SUFFIX = re.compile(r"^(?P<stem>.+_UTC)_(?P<n>\d{1,2})$")
# Text and metadata files that sit beside photos in every kind of export.
_QUIET = {".txt", ".json", ".xz", ".csv", ".html", ".htm", ".md", ".pdf", ".xml", ".ini", ".db"}


def parse_engagement_filename(stem: str) -> dict | None:
    """Parse ``<post id>_<likes>_<comments>_<unix time>``; ``None`` if no match.

    Examples
    --------
    >>> parse_engagement_filename("2255295799725315841_12064_172_1583072240")["likes"]
    12064
    """
    match = _ENGAGEMENT_NAME.match(stem)
    if not match:
        return None
    try:
        timestamp = parse_timestamp(int(match["ts"]))
    except ValueError:
        return None
    return {
        "post_id": match["post"],
        "likes": int(match["likes"]),
        "comments": int(match["comments"]),
        "timestamp": timestamp,
    }


def facts_from_filename(path: Path) -> dict:
    """Post id, likes, comments and time that a file name carries, if any.

    Examples
    --------
    >>> facts_from_filename(Path("2024-05-31_16-57-15_UTC_2.jpg"))["timestamp"]
    Timestamp('2024-05-31 16:57:15+0000', tz='UTC')
    >>> facts_from_filename(Path("holiday.jpg"))
    {}
    """
    parsed = parse_engagement_filename(path.stem)
    if parsed:
        return parsed
    timestamp = timestamp_from_filename(path.name)
    return {"timestamp": timestamp} if timestamp is not None else {}


def import_plain_images(files: list[Path], root: Path, claimed: set[Path]) -> ImportResult:
    """Make a record for every unclaimed image file; report other unknown files."""
    result = ImportResult()
    for path in sorted(files):
        if path in claimed:
            continue
        suffix = path.suffix.lower()
        if suffix in VIDEO_EXTENSIONS:
            result.videos_skipped += 1
            result.claimed.add(path)
            result.problems.add(rel(path, root), "videos are not analysed", "skipped", level="info")
            continue
        if suffix not in IMAGE_EXTENSIONS:
            if suffix not in _QUIET:
                result.problems.add(rel(path, root), f"not a photo type Feedlens reads ({suffix or 'no extension'})",
                                    "ignored", level="info")
            continue
        result.claimed.add(path)
        place = exif_position(path)
        where = {"latitude": place[0], "longitude": place[1]} if place else {}
        parsed = parse_engagement_filename(path.stem)
        if parsed:
            result.posts_described += 1
            result.records.append(ImageRecord(file=rel(path, root), source_format=FORMAT_FILENAMES, **parsed,
                                              **where))
            continue
        post_id, position = path.stem, 1
        carousel = _CAROUSEL_SUFFIX.match(path.stem)
        if carousel:
            post_id, position = carousel["stem"], int(carousel["n"])
        result.records.append(
            ImageRecord(
                file=rel(path, root),
                post_id=post_id,
                position=position,
                source_format=FORMAT,
                timestamp=timestamp_from_filename(path.name),
                **where,
            )
        )
    result.posts_described += len({r.post_id for r in result.records if r.source_format == FORMAT})
    return result
