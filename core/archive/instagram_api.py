"""Fetch a professional account's own posts through the Instagram API with Instagram Login.

The user gives a long-lived access token (``instagram_business_basic``, and
``instagram_business_manage_insights`` for insights). The connector pages
through ``GET /me/media`` on ``graph.instagram.com`` (cursor paging), downloads
each image (every carousel child; a video's ``thumbnail_url``) into a folder
under the cache's :meth:`~core.cache.DiskCache.local_dir`, and keeps a CSV
manifest there (:data:`MANIFEST`, read by :mod:`core.archive.importers.csvmanifest`)
with likes, comments, caption, time, permalink and, optionally, the
``/{media-id}/insights`` metrics as extra columns. The folder is then an
archive like any other: :func:`import_instagram` fetches and opens it.

Why it is built this way:

- The manifest is rewritten (atomically) after every page, so whatever was
  fetched before an error, a cancel or an expired token is a usable archive,
  and a rerun downloads only the images not yet on disk (resumable).
- The token goes in the ``Authorization`` header of API requests only: never
  in a URL (so not in a server log, a link or a ``requests`` error message),
  never to the image CDN, never to disk, never in an exception or a progress
  message (every server text is scrubbed of it as well).
- Rate limits (error codes 4, 17, 32, 613, or HTTP 429) wait and retry, with
  a doubling wait bounded by :attr:`FetchRequest.max_wait`, polling
  ``cancel()`` while waiting.
- Only documented endpoints of the official API are called; nothing is
  scraped. ``FEEDLENS_INSTAGRAM_API_URL`` points the connector at another
  server speaking the same protocol (the tests' local one).
"""

from __future__ import annotations

import csv
import io
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from ..cache import DiskCache, atomic_write_bytes, default_cache
from ..jobs import CancelCheck, JobError, Progress, check_cancel, report

__all__ = [
    "API_URL",
    "API_URL_ENV",
    "TOKEN_ENV",
    "MEDIA_FIELDS",
    "INSIGHT_METRICS",
    "MANIFEST",
    "InstagramApiError",
    "TokenError",
    "RateLimitedError",
    "ApiUnreachableError",
    "FetchRequest",
    "FetchResult",
    "api_url",
    "fetch_instagram",
    "import_instagram",
]

#: The API's host for Instagram Login tokens.
API_URL = "https://graph.instagram.com"
#: Environment variable that replaces :data:`API_URL` (a local test server, a proxy).
API_URL_ENV = "FEEDLENS_INSTAGRAM_API_URL"
#: Environment variable the command line reads the token from.
TOKEN_ENV = "FEEDLENS_INSTAGRAM_TOKEN"
#: The ``fields`` asked of ``/me/media``.
MEDIA_FIELDS = ("id,caption,media_type,media_product_type,media_url,thumbnail_url,permalink,timestamp,"
                "like_count,comments_count,children{media_url,media_type,thumbnail_url}")
#: The ``metric`` asked of ``/{media-id}/insights`` (each becomes a catalogue column).
INSIGHT_METRICS = ("reach", "saved", "shares", "views", "total_interactions")
#: The manifest's file name inside the fetched folder.
MANIFEST = "instagram_api.csv"
_COLUMNS = ["file", "post_id", "position", "account", "likes", "comments", "caption", "timestamp",
            "instagram_media_type", "media_product_type", "permalink", *INSIGHT_METRICS]
_RATE_LIMIT_CODES = frozenset({4, 17, 32, 613})
_TOKEN_CODES = frozenset({190, 102})
_IMAGE_SUFFIX = {"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp", "image/gif": ".gif",
                 "image/heic": ".heic"}
_MAX_IMAGE_BYTES = 64 * 1024**2


class InstagramApiError(JobError, RuntimeError):
    """The API refused or failed; ``result`` is what was fetched until then (kept on disk)."""

    def __init__(self, message: str, result: FetchResult | None = None) -> None:
        super().__init__(message)
        self.result = result


class TokenError(InstagramApiError):
    """The access token is expired, revoked or wrong (API error 190)."""


class RateLimitedError(InstagramApiError):
    """The API kept answering "too many calls" for longer than the allowed wait."""


class ApiUnreachableError(InstagramApiError):
    """No answer, or not the API's JSON, from the API server."""


@dataclass(frozen=True)
class FetchRequest:
    """What to fetch. The token is left out of ``repr`` (and so of any log of the request).

    Parameters
    ----------
    token : str
        A long-lived Instagram User access token.
    insights : bool
        Also fetch ``/{media-id}/insights`` (needs ``instagram_business_manage_insights``).
    base_url : str, optional
        The API's address; default :func:`api_url`.
    page_size : int
        ``limit`` asked per page of ``/me/media``.
    max_posts : int, optional
        Stop after this many posts (newest first).
    first_wait, max_wait : float
        Seconds of the first rate-limit wait (doubled at each retry), and of
        all the waits of one run together before :class:`RateLimitedError`.
    timeout : float
        Seconds per HTTP request.
    """

    token: str = field(repr=False)
    insights: bool = False
    base_url: str | None = None
    page_size: int = 50
    max_posts: int | None = None
    first_wait: float = 30.0
    max_wait: float = 900.0
    timeout: float = 30.0


@dataclass
class FetchResult:
    """What a fetch left in its folder."""

    folder: Path
    account: str
    user_id: str
    pages: int = 0
    posts: int = 0
    images_downloaded: int = 0
    images_kept: int = 0
    videos: int = 0
    waited_seconds: float = 0.0
    complete: bool = False
    problems: list[str] = field(default_factory=list)

    @property
    def images(self) -> int:
        """Images in the folder's manifest after this run."""
        return self.images_downloaded + self.images_kept


def api_url() -> str:
    """The API's base address: ``FEEDLENS_INSTAGRAM_API_URL`` or :data:`API_URL`.

    Examples
    --------
    >>> import os; os.environ.pop(API_URL_ENV, None) and None
    >>> api_url()
    'https://graph.instagram.com'
    """
    return (os.environ.get(API_URL_ENV) or API_URL).rstrip("/")


class _Client:
    """HTTP calls with the token in a header, errors turned into typed, token-free messages."""

    def __init__(self, request: FetchRequest, cancel: CancelCheck | None, progress: Progress | None) -> None:
        import requests

        self._requests = requests
        self.base = (request.base_url or api_url()).rstrip("/")
        self.host = urlsplit(self.base).netloc or self.base
        self.request = request
        self.cancel, self.progress = cancel, progress
        self.api = requests.Session()
        self.api.headers["Authorization"] = f"Bearer {request.token}"
        # No .netrc credentials may replace the header; the environment's proxies are still honoured.
        self.api.trust_env = False
        self.api.proxies.update(requests.utils.get_environ_proxies(self.base))
        self.cdn = requests.Session()  # image downloads: never the token
        self.waited = 0.0
        self.position: tuple[int, int] = (0, 0)

    def scrub(self, text: str) -> str:
        token = self.request.token
        return text.replace(token, "[token]") if token else text

    def close(self) -> None:
        self.api.close()
        self.cdn.close()

    def _wait(self, seconds: float, why: str) -> None:
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            check_cancel(self.cancel)
            report(self.progress, *self.position, f"{why}; trying again in {left:.0f} s")
            time.sleep(min(left, 0.5))
        self.waited += seconds

    def get(self, path: str, params: dict[str, Any]) -> dict:
        """``GET base/path`` as JSON, retrying rate limits; raises typed errors."""
        wait = self.request.first_wait
        while True:
            check_cancel(self.cancel)
            try:
                response = self.api.get(f"{self.base}/{path.lstrip('/')}", params=params,
                                        timeout=self.request.timeout, allow_redirects=False)
            except self._requests.RequestException as exc:
                raise ApiUnreachableError(
                    f"The Instagram API at {self.host} did not answer ({type(exc).__name__}). "
                    "Check the connection and try again; what was fetched is kept.") from None
            try:
                body = response.json()
            except ValueError:
                body = None
            error = body.get("error") if isinstance(body, dict) else None
            if response.ok and isinstance(body, dict) and error is None:
                return body
            code = error.get("code") if isinstance(error, dict) else None
            message = self.scrub(str(error.get("message", ""))) if isinstance(error, dict) else ""
            if code in _RATE_LIMIT_CODES or response.status_code == 429:
                if self.waited + wait > self.request.max_wait:
                    raise RateLimitedError(
                        f"Instagram's rate limit (code {code or 429}) still applies after waiting "
                        f"{self.waited:.0f} s. Try again in an hour; what was fetched is kept and "
                        "the next run continues from it.")
                self._wait(wait, f"Instagram's rate limit was reached (code {code or 429})")
                wait *= 2
                continue
            if code in _TOKEN_CODES or response.status_code == 401:
                raise TokenError(
                    "Instagram refused the access token: it has expired, was revoked, or is not an "
                    "Instagram Login token (API error 190"
                    + (f": {message}" if message else "") + "). Generate a new long-lived token in the "
                    "Meta app dashboard (Instagram > API setup with Instagram login) and run the import "
                    "again: what was fetched is kept, and only what is missing is downloaded.")
            if not response.ok or error is not None:
                what = f"error {code}: {message}" if code is not None else f"HTTP {response.status_code}"
                raise InstagramApiError(f"The Instagram API refused {path.split('?')[0]} ({what}).")
            raise ApiUnreachableError(f"The server at {self.host} did not answer with the API's JSON.")

    def download(self, url: str) -> tuple[bytes, str]:
        """An image's bytes and suffix, from the CDN address the API gave (no token sent)."""
        check_cancel(self.cancel)
        try:
            response = self.cdn.get(url, timeout=self.request.timeout, stream=True)
            response.raise_for_status()
            data = response.raw.read(_MAX_IMAGE_BYTES + 1, decode_content=True)
        except self._requests.RequestException as exc:
            raise OSError(f"download failed ({type(exc).__name__})") from None
        if len(data) > _MAX_IMAGE_BYTES:
            raise OSError("image larger than 64 MB")
        kind = response.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return data, _IMAGE_SUFFIX.get(kind, ".jpg")


def _read_manifest(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    if not path.is_file():
        return {}
    rows = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline=""))
    return {(row.get("post_id", ""), row.get("position", "")): row for row in rows}


def _write_manifest(path: Path, rows: dict[tuple[str, str], dict[str, str]]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=_COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for key in sorted(rows, key=lambda k: (rows[k].get("timestamp", ""), k[0], int(k[1] or 0)), reverse=True):
        writer.writerow(rows[key])
    atomic_write_bytes(path, buf.getvalue().encode("utf-8"))


def _images_of(media: dict) -> list[tuple[str | None, str]]:
    """``(url, media type)`` of each picture of a post: carousel children, else the media itself.

    Examples
    --------
    >>> _images_of({"media_type": "VIDEO", "media_url": "v.mp4", "thumbnail_url": "v.jpg"})
    [('v.jpg', 'VIDEO')]
    """
    children = (media.get("children") or {}).get("data") or [media]
    images = []
    for child in children:
        kind = str(child.get("media_type") or "IMAGE").upper()
        images.append((child.get("thumbnail_url") if kind == "VIDEO" else child.get("media_url"), kind))
    return images


def _insight_values(body: dict) -> dict[str, str]:
    """``{metric: value}`` from an insights answer (``values[0].value`` or ``total_value.value``)."""
    values = {}
    for item in body.get("data") or []:
        name = item.get("name")
        value = (item.get("total_value") or {}).get("value")
        if value is None and item.get("values"):
            value = item["values"][0].get("value")
        if name in INSIGHT_METRICS and isinstance(value, (int, float)):
            values[name] = str(int(value))
    return values


def _count(value: Any) -> str:
    return str(int(value)) if isinstance(value, (int, float)) and not isinstance(value, bool) else ""


def fetch_instagram(
    request: FetchRequest,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
) -> FetchResult:
    """Fetch the account's posts into ``<cache local dir>/instagram/<user id>``.

    Parameters
    ----------
    request : FetchRequest
        The token and options.
    cache : DiskCache, optional
        Whose :meth:`~core.cache.DiskCache.local_dir` holds the folder.
    progress, cancel : callable, optional
        The job protocol (:mod:`core.jobs`): posts done of posts known so far.

    Returns
    -------
    FetchResult
        ``complete`` is True once every page was read.

    Raises
    ------
    TokenError
        Expired or wrong token (code 190); ``error.result`` is what was kept.
    RateLimitedError
        Still rate limited after ``request.max_wait`` seconds of waiting.
    ApiUnreachableError, InstagramApiError
        No answer, or another API error.
    core.jobs.Cancelled
        ``cancel()`` returned True; what was fetched is kept.
    """
    if not request.token or not request.token.strip():
        raise TokenError("No access token was given. Paste a long-lived Instagram access token.")
    cache = cache or default_cache()
    client = _Client(request, cancel, progress)
    result: FetchResult | None = None
    try:
        me = client.get("me", {"fields": "user_id,username,media_count"})
        user_id = "".join(c for c in str(me.get("user_id") or me.get("id") or "") if c.isalnum()) or "me"
        account = str(me.get("username") or user_id)
        folder = cache.local_dir(f"instagram/{user_id}")
        folder.mkdir(parents=True, exist_ok=True)
        result = FetchResult(folder=folder, account=account, user_id=user_id)
        expected = me.get("media_count") if isinstance(me.get("media_count"), int) else 0
        if request.max_posts is not None:
            expected = min(expected, request.max_posts) if expected else request.max_posts
        _fetch_pages(client, request, result, expected)
        result.complete = True
        return result
    except InstagramApiError as exc:
        exc.result = result
        raise
    finally:
        if result is not None:
            result.waited_seconds = client.waited
        client.close()


def _fetch_pages(client: _Client, request: FetchRequest, result: FetchResult, expected: int) -> None:
    manifest_path = result.folder / MANIFEST
    rows = _read_manifest(manifest_path)
    # Images already here (from an earlier, interrupted run), by "<media id>_<position>"; listed once.
    suffixes = set(_IMAGE_SUFFIX.values())
    on_disk = {p.stem: p.name for p in result.folder.iterdir() if p.suffix in suffixes and p.is_file()}
    params: dict[str, Any] = {"fields": MEDIA_FIELDS, "limit": request.page_size}
    while True:
        page = client.get("me/media", params)
        result.pages += 1
        media_list = page.get("data") or []
        if request.max_posts is not None:
            media_list = media_list[: max(0, request.max_posts - result.posts)]
        try:
            more = 1 if (page.get("paging") or {}).get("next") else 0
            for i, media in enumerate(media_list):
                # media_count (from /me) is the total; posts listed beyond it (new ones) stretch it.
                total = max(expected, result.posts + len(media_list) - i + more)
                client.position = (result.posts, total)
                _fetch_media(client, request, result, media, rows, on_disk)
                result.posts += 1
                report(client.progress, result.posts, max(total, result.posts),
                       f"{result.posts} of {total} posts fetched from @{result.account} ({result.images} images)")
        finally:
            _write_manifest(manifest_path, rows)
        after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
        if not media_list or not (page.get("paging") or {}).get("next") or not after:
            return
        if request.max_posts is not None and result.posts >= request.max_posts:
            return
        params = {**params, "after": after}


def _fetch_media(client: _Client, request: FetchRequest, result: FetchResult, media: dict,
                 rows: dict[tuple[str, str], dict[str, str]], on_disk: dict[str, str]) -> None:
    media_id = "".join(c for c in str(media.get("id", "")) if c.isalnum() or c in "_-")
    if not media_id:
        result.problems.append("a post without an id was skipped")
        return
    kind = str(media.get("media_type", "")).upper()
    result.videos += kind == "VIDEO"
    insights: dict[str, str] | None = None
    if request.insights:
        known = rows.get((media_id, "1"), {})
        if all(known.get(m) for m in INSIGHT_METRICS):
            insights = {m: known[m] for m in INSIGHT_METRICS}
        else:
            try:
                insights = _insight_values(client.get(f"{media_id}/insights",
                                                      {"metric": ",".join(INSIGHT_METRICS)}))
            except (TokenError, RateLimitedError, ApiUnreachableError):
                raise
            except InstagramApiError as exc:  # e.g. code 10, "not enough viewers": the post stays
                result.problems.append(f"{media_id}: no insights ({exc})")
    for position, (url, image_kind) in enumerate(_images_of(media), start=1):
        key = (media_id, str(position))
        old = rows.get(key)
        if f"{media_id}_{position}" in on_disk:
            name = on_disk[f"{media_id}_{position}"]
            result.images_kept += 1
        elif not url:
            result.problems.append(f"{media_id} image {position}: the API gave no address for it")
            continue
        else:
            try:
                data, suffix = client.download(url)
            except OSError as exc:
                result.problems.append(f"{media_id} image {position}: {exc}")
                continue
            name = f"{media_id}_{position}{suffix}"
            atomic_write_bytes(result.folder / name, data)
            on_disk[f"{media_id}_{position}"] = name
            result.images_downloaded += 1
        row = {
            "file": name, "post_id": media_id, "position": str(position), "account": result.account,
            "likes": _count(media.get("like_count")), "comments": _count(media.get("comments_count")),
            "caption": str(media.get("caption") or ""), "timestamp": str(media.get("timestamp") or ""),
            "instagram_media_type": image_kind,
            "media_product_type": str(media.get("media_product_type") or ""),
            "permalink": str(media.get("permalink") or ""),
        }
        row.update(insights or {m: (old or {}).get(m, "") for m in INSIGHT_METRICS})
        rows[key] = row


def import_instagram(
    request: FetchRequest,
    *,
    cache: DiskCache | None = None,
    progress: Progress | None = None,
    cancel: CancelCheck | None = None,
):
    """Fetch (:func:`fetch_instagram`) and open the folder as an archive.

    Returns
    -------
    tuple[FetchResult, core.archive.catalogue.Archive]

    Raises
    ------
    InstagramApiError
        As :func:`fetch_instagram`; ``error.result.folder`` can still be
        opened with :func:`core.archive.catalogue.load_folder`.
    """
    from ..jobs import stage_progress
    from .catalogue import load_folder

    cache = cache or default_cache()
    fetched = fetch_instagram(request, cache=cache, progress=stage_progress(progress, 0, 2, "fetch", unit="posts"),
                              cancel=cancel)
    archive = load_folder(fetched.folder, name=f"Instagram API @{fetched.account}", cache=cache,
                          progress=stage_progress(progress, 1, 2, "import"), cancel=cancel)
    return fetched, archive
