"""Archives: import any archive into one catalogue, uploads held by link, ingest, safe ZIP, the demo, summaries.

Public verbs, by module:
- :mod:`core.archive.catalogue`: Archive, CATALOGUE_COLUMNS, list_files, load_folder, load_zip, open_archive
- :mod:`core.archive.uploads`: is_upload_hash, upload_hash, record_upload, held_upload, open_held_upload
- :mod:`core.archive.ingest`: THUMB_SIDE, ImageInfo, ingest_file, ingest_files, thumbnail_bytes
- :mod:`core.archive.safezip`: ArchiveError, extract_zip, decode_member_name, is_ignored_name
- :mod:`core.archive.demo`: DEMO_POSTS, build_demo_folder, load_demo
- :mod:`core.archive.summary`: posts_table, top_hashtags, engagement_by, likes_and_date, shorten
"""

from . import catalogue, demo, ingest, safezip, summary, uploads
from .catalogue import (
    CATALOGUE_COLUMNS,
    Archive,
    list_files,
    load_folder,
    load_zip,
    open_archive,
)
from .demo import (
    DEMO_POSTS,
    build_demo_folder,
    load_demo,
)
from .ingest import (
    THUMB_SIDE,
    ImageInfo,
    ingest_file,
    ingest_files,
    thumbnail_bytes,
)
from .safezip import (
    ArchiveError,
    decode_member_name,
    extract_zip,
    is_ignored_name,
)
from .summary import (
    engagement_by,
    likes_and_date,
    posts_table,
    shorten,
    top_hashtags,
)
from .uploads import (
    held_upload,
    is_upload_hash,
    open_held_upload,
    record_upload,
    upload_hash,
)

__all__ = [*catalogue.__all__, *uploads.__all__, *ingest.__all__, *safezip.__all__, *demo.__all__, *summary.__all__]
