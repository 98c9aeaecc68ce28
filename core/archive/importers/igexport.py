"""Instagram's "Download your information" export (JSON format).

Posts live in ``your_instagram_activity/media/posts_1.json`` (2024 layout),
``content/posts_1.json`` or ``media.json`` (2018 layout). Media ``uri`` values
are relative to the export root. Text is UTF-8 mis-decoded as Latin-1. The
posts file has no like or comment counts; when
``past_instagram_insights/posts.json`` is present its Likes and Comments are
joined by creation time (then by media path).
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

from ...text import fix_mojibake
from .base import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ImageRecord,
    ImportResult,
    MetadataError,
    parse_count,
    parse_timestamp,
    read_json,
    rel,
)

__all__ = ["import_igexport", "find_posts_files", "read_insights"]

FORMAT = "instagram export"


def find_posts_files(files: list[Path]) -> list[Path]:
    """The posts files of an export among ``files``."""
    found = []
    for path in files:
        name = path.name
        if name.startswith("posts_") and name.endswith(".json") and path.parent.name in {"media", "content", "posts"}:
            found.append(path)
        elif name == "media.json":
            found.append(path)
    return sorted(found)


def _insights_files(files: list[Path]) -> list[Path]:
    return [p for p in files if p.name == "posts.json" and p.parent.name == "past_instagram_insights"]


def read_insights(data: Any) -> tuple[dict[int, dict], dict[str, dict]]:
    """Index an insights ``posts.json`` by creation time and by thumbnail URI.

    Returns
    -------
    by_time, by_uri : dict
        Each maps to ``{"likes": value, "comments": value}`` (raw values).
    """
    by_time: dict[int, dict] = {}
    by_uri: dict[str, dict] = {}
    entries = data.get("organic_insights_posts") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise MetadataError("no 'organic_insights_posts' list")
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        values = entry.get("string_map_data") or {}
        thumb = (entry.get("media_map_data") or {}).get("Media Thumbnail") or {}
        counts = {
            "likes": (values.get("Likes") or {}).get("value"),
            "comments": (values.get("Comments") or {}).get("value"),
        }
        stamp = thumb.get("creation_timestamp") or (values.get("Creation Timestamp") or {}).get("timestamp")
        if isinstance(stamp, (int, float)):
            by_time[int(stamp)] = counts
        if thumb.get("uri"):
            by_uri[str(thumb["uri"])] = counts
    return by_time, by_uri


def _root_for(posts_file: Path, uris: list[str], archive_root: Path) -> Path:
    """The export root: the ancestor of the posts file where media URIs resolve."""
    candidates = [p for p in posts_file.parents if p == archive_root or archive_root in p.parents]
    best, best_hits = candidates[-1] if candidates else archive_root, -1
    for folder in candidates:
        hits = sum((folder / u).is_file() for u in uris[:50])
        if hits > best_hits:
            best, best_hits = folder, hits
    return best


def _posts_from(data: Any) -> list[dict]:
    if isinstance(data, list):
        return [p for p in data if isinstance(p, dict)]
    if isinstance(data, dict):
        if isinstance(data.get("ig_posts"), list):
            return data["ig_posts"]
        if isinstance(data.get("photos"), list):  # 2018 media.json
            return [
                {"media": [{"uri": p.get("path"), "title": p.get("caption", ""),
                            "creation_timestamp": p.get("taken_at")}]}
                for p in data["photos"] if isinstance(p, dict)
            ]
    raise MetadataError("not a list of posts")


def _is_video(item: dict) -> bool:
    suffix = PurePosixPath(str(item.get("uri", ""))).suffix.lower()
    if suffix in VIDEO_EXTENSIONS:
        return True
    meta = item.get("media_metadata") or {}
    return "video_metadata" in meta or (suffix == "" and "photo_metadata" not in meta)


def import_igexport(files: list[Path], root: Path) -> ImportResult:
    """Read every posts file of an Instagram export found among ``files``.

    Returns
    -------
    ImportResult
        One record per image file present. Posts whose images are missing are
        counted in ``posts_described`` and reported, so a user who exported
        without media learns why nothing shows.
    """
    result = ImportResult()
    posts_files = find_posts_files(files)
    if not posts_files:
        return result

    by_time: dict[int, dict] = {}
    by_uri: dict[str, dict] = {}
    insights = _insights_files(files)
    for path in insights:
        result.claimed.add(path)
        try:
            t, u = read_insights(read_json(path))
            by_time.update(t)
            by_uri.update(u)
        except MetadataError as exc:
            result.problems.add(rel(path, root), f"insights file unreadable: {exc}",
                                "likes and comments left unknown")

    missing = 0
    for posts_file in posts_files:
        result.claimed.add(posts_file)
        try:
            posts = _posts_from(read_json(posts_file))
        except MetadataError as exc:
            result.problems.add(rel(posts_file, root), f"posts file unreadable: {exc}", "skipped")
            continue
        uris = [str(m.get("uri")) for p in posts for m in (p.get("media") or []) if isinstance(m, dict)]
        export_root = _root_for(posts_file, uris, root)
        for number, post in enumerate(posts, start=1):
            media = [m for m in (post.get("media") or []) if isinstance(m, dict) and m.get("uri")]
            if not media:
                continue
            result.posts_described += 1
            first = media[0]
            caption = fix_mojibake(str(post.get("title") or first.get("title") or ""))
            raw_time = post.get("creation_timestamp") or first.get("creation_timestamp")
            try:
                timestamp = parse_timestamp(raw_time)
            except ValueError:
                timestamp = None
            counts = (by_time.get(int(raw_time)) if isinstance(raw_time, (int, float)) else None) \
                or by_uri.get(str(first["uri"])) or {}
            likes = comments = None
            for key in ("likes", "comments"):
                try:
                    value = parse_count(counts.get(key))
                except ValueError:
                    value = None
                if key == "likes":
                    likes = value
                else:
                    comments = value
            post_id = PurePosixPath(str(first["uri"])).stem or f"post-{number}"
            for position, item in enumerate(media, start=1):
                path = export_root / str(item["uri"])
                if _is_video(item):
                    result.videos_skipped += 1
                    result.claimed.add(path)
                    result.problems.add(str(item["uri"]), "video posts are not analysed", "skipped", level="info")
                    continue
                if not path.is_file() or path.suffix.lower() not in IMAGE_EXTENSIONS and path.suffix:
                    missing += 1
                    continue
                result.claimed.add(path)
                result.records.append(
                    ImageRecord(
                        file=rel(path, root),
                        post_id=post_id,
                        source_format=FORMAT,
                        position=position,
                        likes=likes,
                        comments=comments,
                        caption=caption,
                        timestamp=timestamp,
                        extras={"has_insights": bool(counts)},
                    )
                )
    if missing:
        result.problems.add(
            rel(posts_files[0], root),
            f"{missing} photos listed in the export are not in the archive",
            "export the media too (Instagram: Download your information, format JSON, all media)",
            level="warning",
        )
    if not insights and result.posts_described:
        result.problems.add(
            rel(posts_files[0], root),
            "the export has no like or comment counts (no past_instagram_insights/posts.json)",
            "likes and comments left unknown",
            level="info",
        )
    return result
