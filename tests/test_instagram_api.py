"""The Instagram API connector against a local server speaking graph.instagram.com's documented protocol.

No internet here: :mod:`tests.instagram_server` answers ``/me``, ``/me/media``
(cursor paging, a carousel, videos), ``/{id}/insights`` and the documented
error objects (190, 4, 17, 32, 613) on 127.0.0.1.
"""

from __future__ import annotations

import csv
import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.archive.catalogue import load_folder
from core.archive.instagram_api import (
    API_URL_ENV,
    INSIGHT_METRICS,
    MANIFEST,
    TOKEN_ENV,
    ApiUnreachableError,
    FetchRequest,
    RateLimitedError,
    TokenError,
    fetch_instagram,
    import_instagram,
)
from core.cache import DiskCache
from core.jobs import Cancelled
from tests.instagram_server import FakeInstagram

REPO = Path(__file__).resolve().parents[1]
TOKEN = "IGAAtesttoken-Zq81x"


def _request(server: FakeInstagram, **kwargs) -> FetchRequest:
    return FetchRequest(token=kwargs.pop("token", TOKEN), base_url=server.url, page_size=kwargs.pop("page_size", 5),
                        first_wait=kwargs.pop("first_wait", 0.01), **kwargs)


def _manifest(folder: Path) -> list[dict]:
    with open(folder / MANIFEST, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _assert_no_token_on_disk(root: Path, token: str = TOKEN) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_pages_through_media_and_imports_captions_likes_times_carousels_and_video_thumbnails(
        tmp_path: Path, caplog: pytest.LogCaptureFixture):
    cache = DiskCache(tmp_path / "cache")
    seen = []
    caplog.set_level(logging.DEBUG)  # urllib3 logs every request line at DEBUG
    with FakeInstagram(12, token=TOKEN) as server:
        fetched, archive = import_instagram(_request(server, insights=True), cache=cache,
                                            progress=lambda d, t, m: seen.append((d, t, m)))
        assert server.cdn_requests == 12 + 2  # 2 carousels (posts 10 and 5) have two images each
        assert not server.cdn_saw_token
        assert not any(TOKEN in line or "access_token" in line for line in server.request_lines)
        assert {"/me/media" in line.split("?")[0] for line in server.request_lines} == {True, False}
    assert fetched.complete and fetched.pages == 3 and fetched.posts == 12 and fetched.images == 14
    assert fetched.videos == 1 and fetched.account == "feedlens_pro" and fetched.problems == []
    assert fetched.folder == cache.local_dir("instagram/17841400000000001")
    assert [d for d, t, m in seen if m.startswith("Step 1")] == sorted(d for d, t, m in seen if m.startswith("Step 1"))
    assert seen[-1][0] == seen[-1][1] and any("12 posts" in m for d, t, m in seen)
    assert any("GET /me/media" in r.getMessage() for r in caplog.records)  # the log was captured...
    assert not any(TOKEN in r.getMessage() for r in caplog.records)  # ...and has no token in it
    assert all(TOKEN not in m for d, t, m in seen)
    cat = archive.catalogue
    assert archive.n_posts == 12 and archive.n_images == 14 and archive.likes_known
    post3 = cat[cat["post_id"] == "179000000003"].iloc[0]
    assert post3["likes"] == 30 and post3["comments"] == 3 and post3["caption"] == "Post 3 #feedlens #tag0"
    assert str(post3["timestamp"]).startswith("2025-04-04 03:15:00")
    assert set(post3["hashtags"]) == {"feedlens", "tag0"}
    assert post3["permalink"] == "https://www.instagram.com/p/C000003/"
    carousel = cat[cat["post_id"] == "179000000010"].sort_values("position")
    assert list(carousel["position"]) == [1, 2] and list(carousel["instagram_media_type"]) == ["IMAGE", "VIDEO"]
    video = cat[cat["post_id"] == "179000000007"].iloc[0]
    assert video["instagram_media_type"] == "VIDEO" and video["media_product_type"] == "REELS"
    for metric, factor in zip(INSIGHT_METRICS, range(1, 6)):  # the server's reach = id's last 4 digits x 1, ...
        assert int(post3[metric]) == 3 * factor
    _assert_no_token_on_disk(tmp_path)
    assert TOKEN not in repr(_request(server))


def test_a_second_run_downloads_nothing_already_there(tmp_path: Path):
    cache = DiskCache(tmp_path)
    with FakeInstagram(9, token=TOKEN) as server:
        first = fetch_instagram(_request(server, insights=True), cache=cache)
        calls = server.api_requests
        second = fetch_instagram(_request(server, insights=True), cache=cache)
        assert server.cdn_requests == first.images_downloaded == 10
        assert server.api_requests - calls == 1 + 2  # /me and two pages: insights already in the manifest
    assert second.images_downloaded == 0 and second.images_kept == 10 and second.complete
    assert len(_manifest(second.folder)) == 10


@pytest.mark.parametrize("code", [4, 17, 32, 613])
def test_a_rate_limit_waits_and_resumes(tmp_path: Path, code: int):
    with FakeInstagram(8, token=TOKEN, rate_limited={3: code, 4: code}) as server:  # the 2nd page, twice
        messages = []
        result = fetch_instagram(_request(server), cache=DiskCache(tmp_path),
                                 progress=lambda d, t, m: messages.append(m))
    assert result.complete and result.posts == 8 and result.waited_seconds == pytest.approx(0.03)
    assert any(f"rate limit was reached (code {code})" in m for m in messages)


def test_a_rate_limit_that_lasts_stops_after_the_bounded_wait_and_keeps_what_was_fetched(tmp_path: Path):
    with FakeInstagram(6, token=TOKEN, always_rate_limited=True) as server:
        with pytest.raises(RateLimitedError) as caught:
            fetch_instagram(_request(server, first_wait=0.01, max_wait=0.05), cache=DiskCache(tmp_path))
    assert "Try again in an hour" in str(caught.value)
    assert caught.value.result is not None and caught.value.result.waited_seconds <= 0.05


def test_cancel_while_waiting_for_a_rate_limit(tmp_path: Path):
    calls = []

    def cancel() -> bool:
        calls.append(1)
        return len(calls) > 4

    with FakeInstagram(6, token=TOKEN, always_rate_limited=True) as server:
        with pytest.raises(Cancelled):
            fetch_instagram(_request(server, first_wait=30.0), cache=DiskCache(tmp_path), cancel=cancel)


def test_a_token_that_expires_mid_run_keeps_what_was_fetched_and_says_what_to_do(tmp_path: Path):
    cache = DiskCache(tmp_path)
    with FakeInstagram(15, token=TOKEN, expire_after=3) as server:  # /me, page 1, page 2, then expired
        with pytest.raises(TokenError) as caught:
            fetch_instagram(_request(server), cache=cache)
    message = str(caught.value)
    assert "expired" in message and "new long-lived token" in message and "what was fetched is kept" in message
    assert TOKEN not in message and TOKEN not in repr(caught.value.args)
    kept = caught.value.result
    assert kept is not None and not kept.complete and kept.posts == 10
    archive = load_folder(kept.folder, cache=cache)
    assert archive.n_posts == 10 and archive.catalogue["caption"].str.startswith("Post ").all()
    assert archive.catalogue["likes"].notna().all() and archive.catalogue["timestamp"].notna().all()
    with FakeInstagram(15, token=TOKEN) as server:  # a fresh token: the rest only
        resumed = fetch_instagram(_request(server), cache=cache)
        assert server.cdn_requests == resumed.images_downloaded == 5 + 1  # posts 5..1; post 5 is a carousel
    assert resumed.complete and resumed.images_kept == kept.images
    _assert_no_token_on_disk(tmp_path)


def test_a_wrong_token_is_refused_with_a_clear_message(tmp_path: Path):
    with FakeInstagram(3, token=TOKEN) as server:
        with pytest.raises(TokenError) as caught:
            fetch_instagram(_request(server, token="IGAAwrong-token-123"), cache=DiskCache(tmp_path))
    assert "190" in str(caught.value) and "IGAAwrong-token-123" not in str(caught.value)
    assert caught.value.result is None
    with pytest.raises(TokenError):
        fetch_instagram(_request(server, token="  "), cache=DiskCache(tmp_path))


def test_an_unreachable_server_is_a_typed_error_without_the_token(tmp_path: Path):
    with FakeInstagram(1) as server:
        url = server.url
    with pytest.raises(ApiUnreachableError) as caught:
        fetch_instagram(FetchRequest(token=TOKEN, base_url=url, timeout=2), cache=DiskCache(tmp_path))
    assert TOKEN not in str(caught.value) and caught.value.__suppress_context__


def test_cancel_mid_fetch_keeps_a_readable_manifest(tmp_path: Path):
    cache = DiskCache(tmp_path)
    with FakeInstagram(12, token=TOKEN) as server:
        seen = []
        with pytest.raises(Cancelled):
            fetch_instagram(_request(server), cache=cache, progress=lambda d, t, m: seen.append(d),
                            cancel=lambda: len(seen) >= 7)
    folder = cache.local_dir("instagram/17841400000000001")
    rows = _manifest(folder)
    assert 7 <= len({r["post_id"] for r in rows}) < 12
    assert all((folder / r["file"]).is_file() for r in rows)


# -- the command line ---------------------------------------------------------------------------


def _cli(*args: str, env: dict, check: int) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "cli", *args], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert "Traceback" not in proc.stderr, proc.stderr[-3000:]
    assert proc.returncode == check, f"exit {proc.returncode}\n{proc.stdout[-2000:]}\n{proc.stderr[-3000:]}"
    assert TOKEN not in proc.stdout + proc.stderr
    return proc


def test_feedlens_import_instagram_reads_the_token_from_the_environment(tmp_path: Path):
    base = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}
    env = {**base, "FEEDLENS_CACHE_DIR": str(tmp_path), TOKEN_ENV: TOKEN}
    with FakeInstagram(7, token=TOKEN) as server:
        env[API_URL_ENV] = server.url
        doc = json.loads(_cli("import", "--instagram", "--insights", "--json", env=env, check=0).stdout)
        assert doc["instagram"]["posts"] == 7 and doc["archive"]["images"] == 8
        assert doc["archive"]["name"] == "Instagram API @feedlens_pro" and doc["likes_known_photos"] == 8
        text = _cli("import", "--instagram", env=env, check=0).stdout
        assert "0 images downloaded, 8 already here" in text
    with FakeInstagram(7, token=TOKEN, expire_after=1) as server:  # /me answers, then the token has expired
        env[API_URL_ENV] = server.url
        proc = _cli("import", "--instagram", env=env, check=1)
        assert "new long-lived token" in proc.stderr
        assert "Instagram API @feedlens_pro" in proc.stdout  # what was fetched before is still imported
        no_token = _cli("import", "--instagram", env={**base, "FEEDLENS_CACHE_DIR": str(tmp_path),
                                                      API_URL_ENV: server.url}, check=1)
        assert TOKEN_ENV in no_token.stderr
    _cli("import", env=env, check=2)  # neither an archive nor --instagram: a usage error
    _assert_no_token_on_disk(tmp_path)
