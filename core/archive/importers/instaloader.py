"""Instaloader dumps: ``<date>_UTC.jpg`` / ``_1.jpg``… beside ``<date>_UTC.json.xz``.

Field choices follow Instaloader's own ``Post`` class: likes from
``edge_media_preview_like`` (then ``edge_liked_by``, then the iPhone API's
``like_count``), where ``-1`` means Instagram hides the count.

Two node shapes are read side by side (a dump may mix them):

- GraphQL (Instaloader up to 4.12): caption in
  ``edge_media_to_caption.edges[0].node.text``, time in ``taken_at_timestamp``,
  comments in ``edge_media_to_comment.count``;
- the app's media structure (4.13 on, ``Post.from_iphone_struct``): caption a
  plain string under ``caption``, time under ``date``, comments an integer
  under ``comments``, carousel children from ``iphone_struct.carousel_media``,
  and ``iphone_struct.like_and_view_counts_disabled`` when the owner hides likes.

A hidden like count (``-1``, or the disabled flag) stays unknown, never 0.
Places come from ``location.lat``/``lng`` (or the app structure's ``lat``/``lng``).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

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
    timestamp_from_filename,
)

__all__ = ["import_instaloader", "is_metadata_file"]

FORMAT = "instaloader"
# <stem>.json.xz or <stem>.json, where <stem> is Instaloader's default
# "{date_utc}_UTC" name (optionally with a custom prefix before it).
_META = re.compile(r"^(?P<stem>.*\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2}_UTC)\.json(?:\.xz)?$")
_MEMBER = re.compile(r"^(?:_(?P<n>\d+))?$")
_SIDE_FILES = ("_comments.json", "_location.txt", ".txt")


def is_metadata_file(path: Path) -> bool:
    """True for an Instaloader post metadata file name."""
    return _META.match(path.name) is not None


def _dig(node: Any, *keys: str | int) -> Any:
    for key in keys:
        if isinstance(node, dict):
            node = node.get(key)
        elif isinstance(node, list) and isinstance(key, int) and -len(node) <= key < len(node):
            node = node[key]
        else:
            return None
    return node


def _first_count(node: dict, *paths: tuple[str, ...]) -> Any:
    for path in paths:
        value = _dig(node, *path)
        if value is not None:
            return value
    return None


def _likes_hidden(node: dict) -> bool:
    """The owner turned like counts off (the 4.13+ node carries the flag, older ones say -1)."""
    return bool(node.get("like_and_view_counts_disabled")
                or _dig(node, "iphone_struct", "like_and_view_counts_disabled"))


def _caption(node: dict) -> str | None:
    caption = _dig(node, "edge_media_to_caption", "edges", 0, "node", "text")
    if caption is None and isinstance(node.get("caption"), str):
        caption = node["caption"]  # 4.13+: a plain string
    if caption is None:
        caption = _dig(node, "iphone_struct", "caption", "text")
    return caption


def _place(node: dict) -> tuple[float, float] | None:
    for lat, lon in (
        (_dig(node, "location", "lat"), _dig(node, "location", "lng")),
        (_dig(node, "iphone_struct", "location", "lat"), _dig(node, "iphone_struct", "location", "lng")),
        (_dig(node, "iphone_struct", "lat"), _dig(node, "iphone_struct", "lng")),
    ):
        found = parse_coordinates(lat, lon)
        if found:
            return found
    return None


def _post_fields(node: dict, meta: Path, result: ImportResult) -> dict[str, Any]:
    """Likes, comments, caption, time and place of one post node (either shape)."""
    name = meta.name
    fields: dict[str, Any] = {}
    raw_likes = None if _likes_hidden(node) else _first_count(
        node,
        ("edge_media_preview_like", "count"),
        ("edge_liked_by", "count"),
        ("iphone_struct", "like_count"),
    )
    raw_comments = _first_count(
        node,
        ("edge_media_to_comment", "count"),
        ("edge_media_to_parent_comment", "count"),
        ("comments",),
        ("iphone_struct", "comment_count"),
    )
    for key, raw in (("likes", raw_likes), ("comments", raw_comments)):
        try:
            fields[key] = parse_count(raw)
        except ValueError as exc:
            result.problems.add(name, f"{key} {exc}", f"{key} left unknown", level="warning")
            fields[key] = None
    caption = _caption(node)
    if caption is None:
        txt = meta.with_name(meta.name.split(".json")[0] + ".txt")
        if txt.is_file():
            caption = txt.read_text(encoding="utf-8", errors="replace")
    fields["caption"] = caption or ""
    try:
        fields["timestamp"] = parse_timestamp(
            node.get("taken_at_timestamp") or node.get("date") or _dig(node, "iphone_struct", "taken_at")
        )
    except ValueError:
        fields["timestamp"] = None
    if fields["timestamp"] is None:
        fields["timestamp"] = timestamp_from_filename(name)
    fields["place"] = _place(node)
    return fields


def _children(node: dict) -> list[dict]:
    """Carousel members in order; the app structure's ``carousel_media`` fills what the fake node drops."""
    children = [dict(e.get("node") or {}) for e in _dig(node, "edge_sidecar_to_children", "edges") or []]
    iphone = _dig(node, "iphone_struct", "carousel_media")
    if isinstance(iphone, list):
        media_types = {1: False, 2: True}
        for i, item in enumerate(iphone):
            if not isinstance(item, dict):
                continue
            if i >= len(children):
                children.append({"is_video": media_types.get(item.get("media_type"), False)})
            children[i].setdefault("accessibility_caption", item.get("accessibility_caption"))
    return children


def _media_files(folder_index: dict[str, list[Path]], stem: str) -> dict[int, list[Path]]:
    """Files of one post by carousel position (0 = not numbered)."""
    by_pos: dict[int, list[Path]] = {}
    for path in folder_index.get(stem, []):
        tail = path.name[len(stem) :]
        base = tail.split(".", 1)[0]
        match = _MEMBER.match(base)
        if not match or not tail.startswith(base + "."):
            continue
        by_pos.setdefault(int(match.group("n") or 0), []).append(path)
    return by_pos


def import_instaloader(files: list[Path], root: Path) -> ImportResult:
    """Read every Instaloader post found among ``files``.

    Parameters
    ----------
    files : list of Path
        All files of the archive (absolute paths).
    root : Path
        The archive root, for the paths shown to the user.

    Returns
    -------
    ImportResult
        One record per image. A post whose metadata is broken is reported and
        its images are left unclaimed, so they still import as plain photos.
    """
    result = ImportResult()
    metas = [p for p in files if is_metadata_file(p)]
    if not metas:
        return result
    # Index files by the Instaloader stem they start with, per folder.
    stems = {(m.parent, _META.match(m.name).group("stem")) for m in metas}
    index: dict[tuple[Path, str], list[Path]] = {}
    for path in files:
        cut = path.name.find("_UTC")
        if cut >= 0 and (path.parent, path.name[: cut + 4]) in stems:
            index.setdefault((path.parent, path.name[: cut + 4]), []).append(path)

    for meta in sorted(metas):
        stem = _META.match(meta.name).group("stem")
        members = _media_files({stem: index.get((meta.parent, stem), [])}, stem)
        try:
            data = read_json(meta)
        except MetadataError as exc:
            result.problems.add(rel(meta, root), f"Instaloader metadata unreadable: {exc}",
                                "its photos imported without likes or caption")
            result.claimed.add(meta)
            continue
        node = data.get("node") if isinstance(data, dict) else None
        node_type = _dig(data, "instaloader", "node_type")
        if not isinstance(node, dict):
            result.problems.add(rel(meta, root), "Instaloader metadata has no 'node' object",
                                "its photos imported without likes or caption")
            result.claimed.add(meta)
            continue
        result.claimed.add(meta)
        if node_type not in (None, "Post"):
            continue  # profile or story metadata: nothing to catalogue
        result.claimed.update(meta.with_name(stem + side) for side in _SIDE_FILES)
        result.posts_described += 1
        fields = _post_fields(node, meta, result)
        children = _children(node)
        shortcode = str(node.get("shortcode") or node.get("id") or stem)
        account = _dig(node, "owner", "username") or meta.parent.name
        typename = node.get("__typename", "")
        for position, paths in sorted(members.items()):
            images = [p for p in paths if p.suffix.lower() in IMAGE_EXTENSIONS]
            videos = [p for p in paths if p.suffix.lower() in VIDEO_EXTENSIONS]
            result.claimed.update(images[:1] + videos)
            child = children[position - 1] if 0 < position <= len(children) else {}
            is_video = bool(child.get("is_video") if child else node.get("is_video")) or bool(videos)
            if is_video:
                result.videos_skipped += 1
                what = "its thumbnail kept as a photo" if images else "no thumbnail"
                result.problems.add(
                    rel(videos[0] if videos else meta, root),
                    "video posts are not analysed", what, level="info",
                )
            for image in images[:1]:
                result.records.append(
                    ImageRecord(
                        file=rel(image, root),
                        post_id=shortcode,
                        source_format=FORMAT,
                        position=max(position, 1),
                        account=account,
                        likes=fields["likes"],
                        comments=fields["comments"],
                        caption=fields["caption"],
                        accessibility_caption=(child.get("accessibility_caption")
                                               or node.get("accessibility_caption")),
                        timestamp=fields["timestamp"],
                        media_type="video thumbnail" if is_video else "image",
                        latitude=fields["place"][0] if fields["place"] else None,
                        longitude=fields["place"][1] if fields["place"] else None,
                        extras={"typename": typename},
                    )
                )
        if not members:
            result.problems.add(rel(meta, root), "post metadata without any photo beside it",
                                "post skipped", level="warning")
    return result
