"""A local server speaking the documented protocol of graph.instagram.com (Instagram API with Instagram Login).

This machine has no internet, so the connector's tests and bench run against
this server on 127.0.0.1. It answers what the reference documents:

- ``GET /me?fields=user_id,username``;
- ``GET /me/media?fields=...&limit=N[&after=CURSOR]``: ``{"data": [...],
  "paging": {"cursors": {"before", "after"}, "next"}}``, newest first, with
  carousels (``children.data``), videos (``thumbnail_url``) and images;
- ``GET /{media-id}/insights?metric=...``: ``{"data": [{"name", "period",
  "values": [{"value"}], "title", "description", "id"}]}``;
- errors as ``{"error": {"message", "type", "code", "error_subcode",
  "fbtrace_id"}}`` (190 for a bad or expired token; 4, 17, 32, 613 for rate limits);

and serves the images on a separate "CDN" path (``/cdn/...``), recording
whether a token ever reached it. The token is accepted in the
``Authorization: Bearer`` header (or the ``access_token`` query parameter,
which the tests check the connector never uses).
"""

from __future__ import annotations

import base64
import io
import json
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from PIL import Image

__all__ = ["FakeInstagram", "Post"]

RATE_LIMIT_MESSAGES = {
    4: "Application request limit reached",
    17: "User request limit reached",
    32: "Page request limit reached",
    613: "Calls to this api have exceeded the rate limit.",
}


@dataclass
class Post:
    id: str
    media_type: str  # IMAGE, VIDEO, CAROUSEL_ALBUM
    timestamp: str
    caption: str
    like_count: int
    comments_count: int
    children: list[tuple[str, str]] = field(default_factory=list)  # (child id, IMAGE|VIDEO)


def _jpeg(seed: int, side: int = 64) -> bytes:
    image = Image.new("RGB", (side, side), ((seed * 53) % 256, (seed * 97) % 256, (seed * 31) % 256))
    image.putpixel((seed % side, (seed // side) % side), (255 - (seed % 256), 0, 0))
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=90)
    return buf.getvalue()


def make_posts(n: int) -> list[Post]:
    """``n`` posts, newest first: every 5th a carousel (image + video), every 7th a video."""
    posts = []
    for i in range(n, 0, -1):
        kind = "CAROUSEL_ALBUM" if i % 5 == 0 else "VIDEO" if i % 7 == 0 else "IMAGE"
        pid = f"1790{i:08d}"
        children = [(f"{pid}1", "IMAGE"), (f"{pid}2", "VIDEO")] if kind == "CAROUSEL_ALBUM" else []
        posts.append(Post(pid, kind, f"2025-{1 + i % 12:02d}-{1 + i % 28:02d}T{i % 24:02d}:15:00+0000",
                          f"Post {i} #feedlens #tag{i % 3}", 10 * i, i % 9, children))
    return posts


class FakeInstagram:
    """The server, in a thread; use as a context manager. ``url`` is its base address.

    Parameters
    ----------
    posts : int
        How many posts the account has.
    token : str
        The valid token.
    expire_after : int, optional
        The token expires once this many API requests were answered.
    rate_limited : dict, optional
        ``{request number: error code}``: those API requests answer a rate-limit error.
    always_rate_limited : bool
        Every ``/me/media`` request answers code 4.
    """

    def __init__(self, posts: int = 12, *, token: str = "IGAAtesttoken", expire_after: int | None = None,
                 rate_limited: dict[int, int] | None = None, always_rate_limited: bool = False,
                 image_side: int = 64) -> None:
        self.posts = make_posts(posts)
        self.token = token
        self.expire_after = expire_after
        self.rate_limited = dict(rate_limited or {})
        self.always_rate_limited = always_rate_limited
        self.image_side = image_side
        self.api_requests = 0
        self.cdn_requests = 0
        self.request_lines: list[str] = []  # every path and query asked, as a server log would have them
        self.cdn_saw_token = False
        self._images: dict[str, bytes] = {}
        self._lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeInstagram":
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- documented shapes -----------------------------------------------------------
    def image(self, name: str) -> bytes:
        with self._lock:
            if name not in self._images:
                self._images[name] = _jpeg(int("".join(c for c in name if c.isdigit()) or 0) % 100_003,
                                           self.image_side)
            return self._images[name]

    def media_node(self, post: Post) -> dict:
        node = {"id": post.id, "caption": post.caption, "media_type": post.media_type,
                "media_product_type": "REELS" if post.media_type == "VIDEO" else "FEED",
                "permalink": f"https://www.instagram.com/p/C{post.id[-6:]}/", "timestamp": post.timestamp,
                "like_count": post.like_count, "comments_count": post.comments_count}
        if post.media_type == "VIDEO":
            node["media_url"] = f"{self.url}/cdn/{post.id}.mp4"
            node["thumbnail_url"] = f"{self.url}/cdn/{post.id}_thumb.jpg?stp=dst-jpg&_nc_sid=abc"
        else:
            node["media_url"] = f"{self.url}/cdn/{post.id}.jpg?stp=dst-jpg&_nc_sid=abc"
        if post.children:
            node["children"] = {"data": [
                {"media_url": f"{self.url}/cdn/{cid}.mp4" if kind == "VIDEO" else f"{self.url}/cdn/{cid}.jpg",
                 "media_type": kind, "id": cid,
                 **({"thumbnail_url": f"{self.url}/cdn/{cid}_thumb.jpg"} if kind == "VIDEO" else {})}
                for cid, kind in post.children]}
        return node

    def media_page(self, query: dict[str, str]) -> dict:
        limit = min(int(query.get("limit", 25)), 100)
        start = int(base64.b64decode(query["after"]).decode()) if query.get("after") else 0
        chunk = self.posts[start:start + limit]
        page: dict = {"data": [self.media_node(p) for p in chunk]}
        if chunk:
            def cursor(i: int) -> str:
                return base64.b64encode(str(i).encode()).decode()
            page["paging"] = {"cursors": {"before": cursor(start), "after": cursor(start + len(chunk))}}
            if start + len(chunk) < len(self.posts):
                page["paging"]["next"] = (f"{self.url}/v23.0/me/media?fields={query.get('fields', '')}"
                                          f"&limit={limit}&after={cursor(start + len(chunk))}")
        return page

    @staticmethod
    def insights(media_id: str, metrics: list[str]) -> dict:
        seed = int(media_id[-4:])
        return {"data": [{"name": m, "period": "lifetime", "values": [{"value": seed * (k + 1)}],
                          "title": m.replace("_", " ").title(), "description": f"The {m} of the media.",
                          "id": f"{media_id}/insights/{m}/lifetime"} for k, m in enumerate(metrics)]}

    @staticmethod
    def error(code: int, message: str, subcode: int | None = None) -> dict:
        error = {"message": message, "type": "OAuthException" if code == 190 else "IGApiException",
                 "code": code, "fbtrace_id": "AbCdEfGhIjK"}
        if subcode is not None:
            error["error_subcode"] = subcode
        return {"error": error}

    # -- HTTP ---------------------------------------------------------------------------
    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # the request lines are kept in fake.request_lines
                pass

            def _send(self, status: int, body: bytes, kind: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _json(self, status: int, doc: dict) -> None:
                self._send(status, json.dumps(doc).encode(), "application/json; charset=UTF-8")

            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                auth = self.headers.get("Authorization", "")
                with fake._lock:
                    fake.request_lines.append(self.path)
                path = parts.path.removeprefix("/v23.0")
                if path.startswith("/cdn/"):
                    with fake._lock:
                        fake.cdn_requests += 1
                        fake.cdn_saw_token |= bool(auth) or fake.token in self.path
                    self._send(200, fake.image(path.rsplit("/", 1)[-1]), "image/jpeg")
                    return
                with fake._lock:
                    fake.api_requests += 1
                    number = fake.api_requests
                token = auth.removeprefix("Bearer ").strip() if auth.startswith("Bearer ") else query.get(
                    "access_token", "")
                if token != fake.token:
                    self._json(400, fake.error(190, "Invalid OAuth access token - Cannot parse access token"))
                    return
                if fake.expire_after is not None and number > fake.expire_after:
                    self._json(400, fake.error(190, "Error validating access token: Session has expired on "
                                                    "Tuesday, 01-Dec-26 12:00:00 PST.", 463))
                    return
                code = fake.rate_limited.pop(number, None)
                if code is None and fake.always_rate_limited and path == "/me/media":
                    code = 4
                if code is not None:
                    self._json(400 if code != 613 else 403, fake.error(code, RATE_LIMIT_MESSAGES[code]))
                    return
                if path == "/me":
                    self._json(200, {"user_id": "17841400000000001", "username": "feedlens_pro",
                                     "media_count": len(fake.posts), "id": "9000000000000001"})
                elif path == "/me/media":
                    self._json(200, fake.media_page(query))
                elif path.endswith("/insights"):
                    self._json(200, fake.insights(path.split("/")[1], query.get("metric", "").split(",")))
                else:
                    self._json(400, fake.error(100, "Unsupported get request."))

        return Handler
