"""Archives: import any archive into one catalogue, uploads held by link, ingest, safe ZIP, the demo, summaries,
places, duplicates.

Public verbs, by module:
- :mod:`core.archive.catalogue`: Archive, CATALOGUE_COLUMNS, ImportPlan, finish_import, list_files, load_folder, load_zip, open_archive, prepare_archive, prepare_import
- :mod:`core.archive.uploads`: is_upload_hash, upload_hash, record_upload, held_upload, open_held_upload
- :mod:`core.archive.ingest`: THUMB_SIDE, ImageInfo, ingest_file, ingest_files, ingest_plain, thumbnail_bytes
- :mod:`core.archive.safezip`: ArchiveError, extract_zip, decode_member_name, is_ignored_name
- :mod:`core.archive.demo`: DEMO_POSTS, build_demo_folder, load_demo
- :mod:`core.archive.summary`: posts_table, top_hashtags, engagement_by, likes_and_date, shorten
- :mod:`core.archive.places`: LOCATION_COLUMNS, EARTH_RADIUS_KM, has_places, post_places, place_clusters, without_location
- :mod:`core.archive.instagram_api`: API_URL, API_URL_ENV, TOKEN_ENV, MEDIA_FIELDS, INSIGHT_METRICS, MANIFEST, InstagramApiError, TokenError, RateLimitedError, ApiUnreachableError, FetchRequest, FetchResult, api_url, fetch_instagram, import_instagram
- :mod:`core.archive.duplicates`: NEAR_DISTANCE, picture_hash, picture_hashes, duplicate_of, find_duplicates, duplicate_groups, unique_pictures
"""

from ..lazy import attach

# Each verb is imported from its module on first use (see core.lazy), so importing the package
# costs nothing; the modules, in the order of the list above:
__getattr__, __dir__, __all__ = attach(__name__, ["catalogue", "uploads", "ingest", "safezip", "demo", "summary", "places",
                                                  "instagram_api", "duplicates"])
