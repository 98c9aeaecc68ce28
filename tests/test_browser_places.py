"""Real browser: the Archive page's Places tab on an export whose photos carry GPS, offline."""

from __future__ import annotations

from urllib.parse import urlparse

import pytest
from conftest import open_folder, wait_for_app
from test_places import _gps_export

pytestmark = pytest.mark.browser


def test_places_tab_draws_the_offline_map(app_server, browser, tmp_path, artifacts_dir):
    folder = _gps_export(tmp_path / "trip")
    page = browser.new_page(viewport={"width": 1400, "height": 1100})
    errors: list[str] = []
    outside: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda req: outside.append(req.url)
            if urlparse(req.url).hostname not in {"127.0.0.1", "localhost", None} and req.url.startswith("http")
            else None)
    page.goto(app_server)
    wait_for_app(page)
    open_folder(page, folder)
    page.locator("[data-testid='stSidebar']").get_by_text("trip: 5 posts, 5 photos").wait_for(timeout=120_000)
    wait_for_app(page)
    page.get_by_role("tab", name="Places").click()
    page.get_by_text("4 of 5 posts have a position, in 2 places.").wait_for(timeout=30_000)
    # The map is drawn: plotly's geo layer holds one marker per post and one per place.
    page.locator(".geo .scattergeo .point").first.wait_for(state="attached", timeout=30_000)
    assert page.locator(".geo .scattergeo .point").count() == 4 + 2
    page.wait_for_timeout(1000)
    page.screenshot(path=str(artifacts_dir / "archive_places.png"), full_page=True)
    assert not errors, errors
    assert not outside, outside  # nothing fetched from the internet (no tiles, no world outlines)
