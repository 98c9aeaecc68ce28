"""Real browser: the sidebar's "Instagram API" source against a local server speaking the documented protocol."""

from __future__ import annotations

import pytest
from conftest import serve_app, wait_for_app

from core.archive.instagram_api import API_URL_ENV
from tests.instagram_server import FakeInstagram

pytestmark = pytest.mark.browser

TOKEN = "IGAAbrowsertoken-Zq81x"


def _fetch(page, token: str) -> None:
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("radio", name="Instagram API").click()
    box = sidebar.get_by_label("Access token (professional account)", exact=True)
    box.fill(token)
    box.press("Enter")
    sidebar.get_by_role("button", name="Fetch posts").click()


def test_fetch_posts_then_a_token_that_expired(browser, shared_dir, tmp_path, artifacts_dir):
    with FakeInstagram(12, token=TOKEN, image_side=320) as api, \
            serve_app(tmp_path, shared_dir, env={API_URL_ENV: api.url}) as (url, cache):
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(url)
        wait_for_app(page)
        sidebar = page.locator("[data-testid='stSidebar']")

        _fetch(page, "IGAAwrong")
        page.get_by_text("Instagram refused the access token").wait_for(timeout=60_000)
        assert sidebar.get_by_text("Demo archive: 15 posts, 15 photos").is_visible()
        page.screenshot(path=str(artifacts_dir / "archive_instagram_wrong_token.png"), full_page=True)

        _fetch(page, TOKEN)
        sidebar.get_by_text("Imported 14 photos from the Instagram API").wait_for(timeout=120_000)
        sidebar.get_by_text("Instagram API @feedlens_pro: 12 posts, 14 photos").wait_for(timeout=30_000)
        wait_for_app(page)
        assert page.locator("[data-testid='stMetricValue']").all_inner_texts() == ["12", "14", "0", "0"]
        assert page.get_by_text("♥ 120 · 2025-01-13").first.is_visible()  # the grid (the Duplicates tab may list it too)
        # The field is a new, empty one: the token is neither in the page nor in the address.
        assert sidebar.get_by_label("Access token (professional account)", exact=True).input_value() == ""
        assert TOKEN not in page.content() and TOKEN not in page.url
        page.screenshot(path=str(artifacts_dir / "archive_instagram.png"), full_page=True)

        api.expire_after = api.api_requests + 1  # /me answers, then the token has expired
        _fetch(page, TOKEN)
        sidebar.get_by_text("The fetch stopped early; the 12 posts fetched so far are open.").wait_for(
            timeout=120_000)
        assert sidebar.get_by_text("Generate a new long-lived token").is_visible()
        assert api.cdn_requests == 14  # nothing downloaded twice
        page.screenshot(path=str(artifacts_dir / "archive_instagram_expired.png"), full_page=True)
        assert not errors, errors
    assert TOKEN not in (tmp_path / "streamlit.log").read_text()
    for path in cache.rglob("*"):
        if path.is_file():
            assert TOKEN.encode() not in path.read_bytes(), path
