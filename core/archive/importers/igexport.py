"""Instagram's "Download your information" export (JSON format).

Posts live in ``your_instagram_activity/media/posts_1.json`` (2024 layout),
``content/posts_1.json`` or ``media.json`` (2018 layout); reels in
``reels.json``; archived posts and reels beside them in ``archived_posts.json``
/ ``archived_reels.json`` (kept, flagged ``archived``). Media ``uri`` values
are relative to the export root. Text is UTF-8 mis-decoded as Latin-1. The
posts file has no like or comment counts; when
``past_instagram_insights/posts.json`` (or ``reels.json``) is present its
likes and comments are joined by creation time (then by media path).

Insights labels are written in the account's display language ("Likes",
"Me gusta", "J'aime", "Gefällt mir", "Нравится"…): :data:`INSIGHT_LABELS`
knows nine languages; for any other the fields are matched by structure (the
time is the field holding a ``timestamp``) and by position (Instagram's
English field order), and the problems say so.

A photo's ``media_metadata.photo_metadata.exif_data`` gives its GPS position
(``latitude``/``longitude``) and camera time (``date_time_original``, the
camera's local clock, kept as text in ``camera_time``). An export requested
in HTML (``posts_1.html``) is recognised and the problems say how to ask for
JSON instead.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from ...text import fix_mojibake
from .base import (
    IMAGE_EXTENSIONS,
    VIDEO_EXTENSIONS,
    ImageRecord,
    ImportResult,
    MetadataError,
    parse_coordinates,
    parse_count,
    parse_timestamp,
    read_json,
    rel,
)

__all__ = ["import_igexport", "find_posts_files", "find_html_export", "read_insights", "INSIGHT_LABELS",
           "INSIGHT_COLUMNS", "HTML_EXPORT_ADVICE"]

FORMAT = "instagram export"
_MEDIA_FOLDERS = {"media", "content", "posts"}

#: Insights labels by field and language (Instagram writes them in the account's display language).
INSIGHT_LABELS: dict[str, dict[str, tuple[str, ...]]] = {
    "likes": {
        "en": ("Likes",), "es": ("Me gusta",), "pt": ("Curtidas", "Gostos"), "fr": ("J'aime", "J\u2019aime"),
        "de": ("Gefällt mir", "\u201eGefällt mir\u201c-Angaben", "Gefällt mir-Angaben"), "it": ("Mi piace",),
        "ru": ("Нравится", "Отметки «Нравится»", 'Отметки "Нравится"'), "tr": ("Beğenme", "Beğeniler"),
        "id": ("Suka", "Jumlah suka"),
    },
    "comments": {
        "en": ("Comments",), "es": ("Comentarios",), "pt": ("Comentários",), "fr": ("Commentaires",),
        "de": ("Kommentare",), "it": ("Commenti",), "ru": ("Комментарии",), "tr": ("Yorumlar",),
        "id": ("Komentar",),
    },
    # Only in insights entries; catalogue columns as the Graph API connector names them (INSIGHT_COLUMNS).
    "saves": {"en": ("Saves",)},
    "shares": {"en": ("Shares",)},
    "reach": {"en": ("Accounts reached",)},
}
#: Insights counts beyond likes and comments -> the catalogue column that keeps them (the names of
#: :data:`core.archive.instagram_api.INSIGHT_METRICS`, so both sources fill the same columns).
INSIGHT_COLUMNS: dict[str, str] = {"saves": "saved", "shares": "shares", "reach": "reach"}
_ENGLISH_NAME = {"likes": "Likes", "comments": "Comments", "saves": "Saves", "shares": "Shares",
                 "reach": "Accounts reached"}
#: Instagram's English field order in an insights entry, for a language not in :data:`INSIGHT_LABELS`.
_ENGLISH_ORDER = ("Creation Timestamp", "Profile visits", "Impressions", "Follows", "Accounts reached",
                  "Saves", "Likes", "Comments", "Shares")

#: What to tell a user whose export is in HTML.
HTML_EXPORT_ADVICE = (
    "this is Instagram's HTML export, which has no machine-readable captions, times or counts; "
    "request the JSON format instead: Instagram app or website > Accounts Center > Your information and "
    "permissions > Download your information > Download or transfer information > your account > "
    "All available information (or Some: Posts, Insights) > Download to device > Format: JSON, "
    "Media quality: High > Create files"
)


def _norm(label: str) -> str:
    return "".join(ch for ch in label.casefold() if ch.isalnum() or ch == " ").strip()


_LABEL_LANGUAGE = {(field, _norm(label)): lang
                   for field, langs in INSIGHT_LABELS.items() for lang, labels in langs.items() for label in labels}


def find_posts_files(files: list[Path]) -> list[Path]:
    """The posts files of an export among ``files`` (posts, reels and archived ones)."""
    found = []
    for path in files:
        name = path.name
        if path.parent.name in _MEDIA_FOLDERS and name.endswith(".json") and (
                name.startswith(("posts_", "archived_")) or name == "reels.json"):
            found.append(path)
        elif name == "media.json":
            found.append(path)
    return sorted(found)


def find_html_export(files: list[Path]) -> list[Path]:
    """The posts pages of an export requested in HTML (``posts_1.html``…)."""
    return sorted(p for p in files if p.name.startswith("posts_") and p.suffix.lower() == ".html"
                  and p.parent.name in _MEDIA_FOLDERS)


def _insights_files(files: list[Path]) -> list[Path]:
    return sorted(p for p in files if p.name in {"posts.json", "reels.json"}
                  and p.parent.name == "past_instagram_insights")


def _field_of(label: str) -> tuple[str, str] | None:
    norm = _norm(label)
    for field in INSIGHT_LABELS:
        if (field, norm) in _LABEL_LANGUAGE:
            return field, _LABEL_LANGUAGE[(field, norm)]
    return None


def read_insights(data: Any, *, notes: list[str] | None = None) -> tuple[dict[int, dict], dict[str, dict]]:
    """Index an insights ``posts.json`` or ``reels.json`` by creation time and by thumbnail URI.

    Labels are matched in any language of :data:`INSIGHT_LABELS`; in another
    language the time and thumbnail are found by structure and the counts by
    their position in Instagram's English field order, and a note saying so is
    appended to ``notes``.

    Returns
    -------
    by_time, by_uri : dict
        Each maps to ``{"likes": value, "comments": value}`` (raw values), plus
        ``saves``, ``shares`` and ``reach`` when the entry has them.

    Raises
    ------
    MetadataError
        No ``organic_insights_*`` list.

    Examples
    --------
    >>> entry = {"string_map_data": {"Hora de creación": {"timestamp": 1700000000},
    ...          "Me gusta": {"value": "12"}, "Comentarios": {"value": "3"}}}
    >>> read_insights({"organic_insights_posts": [entry]})[0]
    {1700000000: {'likes': '12', 'comments': '3', 'language': 'es'}}
    """
    by_time: dict[int, dict] = {}
    by_uri: dict[str, dict] = {}
    entries = None
    if isinstance(data, dict):
        entries = next((v for k, v in data.items() if k.startswith("organic_insights") and isinstance(v, list)),
                       None)
    if not isinstance(entries, list):
        raise MetadataError("no 'organic_insights_posts' or 'organic_insights_reels' list")
    unknown_labels: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        values = entry.get("string_map_data") or {}
        if not isinstance(values, dict):
            continue
        media_map = entry.get("media_map_data") or {}
        thumb = next((v for v in media_map.values() if isinstance(v, dict) and v.get("uri")), {})
        counts: dict[str, Any] = {"likes": None, "comments": None, "language": None}
        known = False
        for label, value in values.items():
            found = _field_of(label)
            if found and isinstance(value, dict):
                counts[found[0]] = value.get("value")
                counts["language"] = found[1]
                known = True
        if not known:
            labels = list(values)
            unknown_labels.update(labels)
            if len(labels) == len(_ENGLISH_ORDER):
                for field, english in _ENGLISH_NAME.items():
                    counts[field] = (values[labels[_ENGLISH_ORDER.index(english)]] or {}).get("value")
                counts["language"] = "by position"
        stamp = thumb.get("creation_timestamp")
        if stamp is None:
            stamp = next((v["timestamp"] for v in values.values() if isinstance(v, dict) and "timestamp" in v), None)
        if isinstance(stamp, (int, float)):
            by_time[int(stamp)] = counts
        if thumb.get("uri"):
            by_uri[str(thumb["uri"])] = counts
    if unknown_labels and notes is not None:
        sample = ", ".join(sorted(unknown_labels)[:4])
        notes.append(f"insights labels in a language Feedlens does not know ({sample}…): the time was found by "
                     f"structure and likes/comments by Instagram's field order, so check them"
                     if any(c["language"] == "by position" for c in by_time.values())
                     else f"insights labels in a language Feedlens does not know ({sample}…), and not in "
                          f"Instagram's usual field order: likes and comments left unknown")
    return by_time, by_uri


def _exif(item: dict) -> tuple[tuple[float, float] | None, str | None]:
    """GPS position and camera time of one media item, from its export ``exif_data``."""
    exif = ((item.get("media_metadata") or {}).get("photo_metadata") or {}).get("exif_data")
    place, camera_time = None, None
    for entry in exif if isinstance(exif, list) else []:
        if not isinstance(entry, dict):
            continue
        place = place or parse_coordinates(entry.get("latitude"), entry.get("longitude"))
        raw = entry.get("date_time_original")
        if camera_time is None and isinstance(raw, str) and len(raw) >= 19:
            text = raw[:10].replace(":", "-") + " " + raw[11:19]
            try:
                pd.Timestamp(text)
                camera_time = text
            except ValueError:
                pass
    return place, camera_time


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
        for key in ("ig_posts", "ig_reels_media", "ig_archived_post_media", "ig_archived_reels_media"):
            if isinstance(data.get(key), list):
                return [p for p in data[key] if isinstance(p, dict)]
        if len(data) == 1 and isinstance(next(iter(data.values())), list):  # another ig_* list
            return [p for p in next(iter(data.values())) if isinstance(p, dict)]
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
    html = find_html_export(files)
    if html:
        result.claimed.update(html)
        result.problems.add(rel(html[0], root), HTML_EXPORT_ADVICE,
                            "photos imported without captions, times or counts" if not posts_files
                            else "the HTML pages ignored")
    if not posts_files:
        return result

    by_time: dict[int, dict] = {}
    by_uri: dict[str, dict] = {}
    insights = _insights_files(files)
    for path in insights:
        result.claimed.add(path)
        notes: list[str] = []
        try:
            t, u = read_insights(read_json(path), notes=notes)
            by_time.update(t)
            by_uri.update(u)
        except MetadataError as exc:
            result.problems.add(rel(path, root), f"insights file unreadable: {exc}",
                                "likes and comments left unknown")
        for note in notes:
            result.problems.add(rel(path, root), note, "used", level="warning")

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
        archived = posts_file.name.startswith("archived_")
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
            more = {}
            for key, column in INSIGHT_COLUMNS.items():
                try:
                    value = parse_count(counts.get(key))
                except ValueError:
                    value = None
                if value is not None:
                    more[column] = value
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
                place, camera_time = _exif(item)
                extras: dict[str, Any] = {"has_insights": bool(counts), **more}
                if camera_time:
                    extras["camera_time"] = camera_time
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
                        latitude=place[0] if place else None,
                        longitude=place[1] if place else None,
                        archived=archived,
                        extras=extras,
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
