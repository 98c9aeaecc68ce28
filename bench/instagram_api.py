"""Instagram API connector speed against a local server speaking graph.instagram.com's documented protocol.

The machine has no internet, so this measures the connector's own cost (HTTP,
JSON, image writes, manifest) on loopback: real API latency and rate limits
will dominate in practice (200 calls per hour per account, for instance).
The server is :mod:`tests.instagram_server` (1080×1080 JPEGs on its "CDN").

Measures, for ``--posts`` posts at 25 per page (the API's default page size):
- cold fetch: every image downloaded (pages/s, posts/s),
- warm fetch: a rerun, everything already on disk (pages/s),
- with ``--insights`` as well, one insights call per post.

Prints one JSON object per line: ``{"name", "value", "unit"}``.

Run: ``python bench/instagram_api.py [--posts 500] [--runs 3]``
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.archive.instagram_api import FetchRequest, fetch_instagram  # noqa: E402
from core.cache import DiskCache  # noqa: E402
from tests.instagram_server import FakeInstagram  # noqa: E402

PAGE_SIZE = 25


def emit(name: str, value: float, unit: str, **extra) -> None:
    print(json.dumps({"name": name, "value": round(value, 2), "unit": unit, **extra}), flush=True)


def timed_fetch(server: FakeInstagram, cache: DiskCache, insights: bool) -> tuple[float, object]:
    request = FetchRequest(token=server.token, base_url=server.url, page_size=PAGE_SIZE, insights=insights)
    start = time.perf_counter()
    result = fetch_instagram(request, cache=cache)
    return time.perf_counter() - start, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--side", type=int, default=1080, help="image side in pixels")
    args = parser.parse_args()
    figures: dict[str, list[float]] = {}
    with FakeInstagram(args.posts, image_side=args.side) as server:
        for name in server.posts:  # JPEG encoding is the server's cost, not the connector's: do it first
            server.image(f"{name.id}.jpg"), server.image(f"{name.id}_thumb.jpg")
            for cid, _ in name.children:
                server.image(f"{cid}.jpg"), server.image(f"{cid}_thumb.jpg")
        for _ in range(args.runs):
            with tempfile.TemporaryDirectory() as tmp:
                cache = DiskCache(tmp)
                cold, result = timed_fetch(server, cache, insights=False)
                warm, _ = timed_fetch(server, cache, insights=False)
            with tempfile.TemporaryDirectory() as tmp:
                with_insights, _ = timed_fetch(server, DiskCache(tmp), insights=True)
            for key, seconds in (("cold", cold), ("warm", warm), ("insights", with_insights)):
                figures.setdefault(key, []).append(seconds)
        pages, posts, images = result.pages, result.posts, result.images
    for key, label in (("cold", "cold fetch (images downloaded)"), ("warm", "warm rerun (all on disk)"),
                       ("insights", "cold fetch with insights")):
        seconds = statistics.median(figures[key])
        emit(f"instagram_api {label} pages/s", pages / seconds, "pages/s", posts=posts, images=images,
             page_size=PAGE_SIZE, image_side=args.side, runs=args.runs)
        emit(f"instagram_api {label} posts/s", posts / seconds, "posts/s")


if __name__ == "__main__":
    main()
