"""Real browser: the Explore map, a box selection that opens the gallery, a new photo placed on the map."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import wait_for_app

pytestmark = pytest.mark.browser


def _map(page):
    return page.locator(".st-key-explore_map")


def _wait_for_map(page) -> None:
    _map(page).locator(".scatterlayer .point").first.wait_for(timeout=180_000)
    wait_for_app(page)


def _eventually(page, condition, what: str, timeout_ms: int = 30_000) -> None:
    """Poll ``condition`` while Streamlit finishes a rerun (stale elements linger meanwhile)."""
    for _ in range(timeout_ms // 250):
        if condition():
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"timed out waiting for {what}")


def _box_select_everything(page) -> None:
    # The map opens with Plotly's box-select drag mode, so a plain drag selects.
    area = _map(page).locator(".nsewdrag").first
    box = area.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 3, box["y"] + 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3, steps=8)
    page.mouse.up()


def test_box_select_opens_the_gallery(app_server, browser, artifacts_dir, data_dir: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    # Wait for the app shell (its sidebar), then use its navigation.
    page.locator("[data-testid='stSidebar']").get_by_text("Demo archive: 15 posts, 15 photos").wait_for(
        timeout=120_000)
    page.get_by_role("link", name="Explore", exact=True).click()
    main = page.locator("[data-testid='stMain']")
    # Offline: the page says the CNN weights are missing and shows colour & texture instead.
    main.get_by_text("could not be had", exact=False).first.wait_for(timeout=180_000)
    _wait_for_map(page)
    assert main.get_by_text("Drag a box on the map", exact=False).is_visible()
    page.screenshot(path=str(artifacts_dir / "explore_map.png"), full_page=True)

    _box_select_everything(page)
    main.get_by_text("15 selected photo(s)", exact=False).wait_for(timeout=60_000)
    wait_for_app(page)
    gallery = main.locator(".st-key-explore_gallery img")
    gallery.nth(14).wait_for(timeout=30_000)
    _eventually(page, lambda: gallery.count() == 15, "15 photos in the gallery")
    main.get_by_text("Morning ritual #coffee #breakfast #latteart").first.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "explore_selection.png"), full_page=True)

    # "Where would this photo land?": upload a new photo and see it placed next to its nearest posts.
    page.get_by_role("tab", name="Where would this photo land?").click()
    photo = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "food_drink").glob("*.JPEG"))[0]
    main.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
    main.get_by_text("Nearest posts").wait_for(timeout=120_000)
    wait_for_app(page)
    _map(page).get_by_text("your photo").first.wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts_dir / "explore_new_photo.png"), full_page=True)
    assert not errors, errors


def test_style_atlas_moves_through_time_and_selects_a_period(app_server, browser, artifacts_dir, tmp_path: Path):
    """The demo's 15 posts (January to July 2025): the slider shows one month, a box selects only its posts."""
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    page.locator("[data-testid='stSidebar']").get_by_text("Demo archive: 15 posts, 15 photos").wait_for(
        timeout=120_000)
    page.get_by_role("link", name="Explore", exact=True).click()
    main = page.locator("[data-testid='stMain']")
    _wait_for_map(page)
    main.get_by_text("Style over time").click()
    main.get_by_text("2025-07: 1 post(s) in colour", exact=False).wait_for(timeout=60_000)
    wait_for_app(page)
    thumb = main.locator(".st-key-explore_atlas_period input[type='range']")
    for _ in range(2):  # July -> May, one keyboard step at a time, as a user nudges the slider
        thumb.focus()
        thumb.press("ArrowLeft")
        wait_for_app(page)
    main.get_by_text("2025-05: 2 post(s) in colour", exact=False).wait_for(timeout=60_000)
    _wait_for_map(page)
    _map(page).get_by_text("2025-05 centre").first.wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "explore_atlas.png"), full_page=True)

    _box_select_everything(page)  # the other months are grey and not selectable
    main.get_by_text("2 selected photo(s)", exact=False).wait_for(timeout=60_000)
    wait_for_app(page)
    _eventually(page, lambda: main.locator(".st-key-explore_gallery img").count() == 2, "2 photos in the gallery")

    page.get_by_role("tab", name="Over time").click()
    main.get_by_text("Older half (7 posts", exact=False).wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "explore_atlas_over_time.png"), full_page=True)

    # The map as standalone HTML opens offline (file://, no server) and draws its points.
    page.get_by_role("tab", name="Export").click()
    with page.expect_download(timeout=120_000) as download:
        main.get_by_role("button", name="Download map (HTML)").click()
    saved = tmp_path / "map.html"
    download.value.save_as(saved)
    offline = browser.new_page()
    offline.route("http*://**", lambda route: route.abort())  # no network at all
    offline.goto(saved.as_uri())
    offline.locator(".scatterlayer .point").first.wait_for(timeout=60_000)
    # The map as shown: the atlas (15 photos, 7 monthly centres on the path, the shown month's cross).
    assert offline.locator(".scatterlayer .point").count() == 15 + 7 + 1
    offline.close()
    assert not errors, errors
