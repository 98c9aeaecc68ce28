"""Real browser: upload a ZIP of real photos through the real file uploader."""

from __future__ import annotations

import csv
import io
import re
import zipfile
from pathlib import Path

import pytest
from conftest import open_folder, wait_for_app

pytestmark = pytest.mark.browser


def _zip_of_real_photos(data_dir: Path, target: Path) -> Path:
    """An Instaloader account folder plus one truncated JPEG, zipped."""
    source = data_dir / "instaloader-boston-2accounts" / "beehiveboston"
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(source.iterdir()):
            zf.write(path, f"beehiveboston/{path.name}")
        good = (source / "2024-06-01_19-38-31_UTC.jpg").read_bytes()
        zf.writestr("beehiveboston/broken_half.jpg", good[: len(good) // 2])
    return target


def test_upload_zip_shows_catalogue_and_problem(app_server, browser, data_dir, tmp_path, artifacts_dir):
    upload = _zip_of_real_photos(data_dir, tmp_path / "beehive.zip")
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    # The app opens on the demo archive.
    page.get_by_text("Demo archive: the photos are real sample images").wait_for(timeout=60_000)

    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
    page.get_by_role("button", name="Import ZIP").click()
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Imported 10 photos from beehive.zip").wait_for(timeout=120_000)
    sidebar.get_by_text("beehive.zip: 7 posts, 10 photos").wait_for(timeout=30_000)
    wait_for_app(page)
    metrics = page.locator("[data-testid='stMetricValue']").all_inner_texts()
    # posts, photos, videos skipped (their thumbnails are kept), files with problems
    assert metrics == ["7", "10", "2", "1"], metrics
    assert page.get_by_text("♥ 834 · 2023-03-24").is_visible()
    page.screenshot(path=str(artifacts_dir / "archive_upload.png"), full_page=True)

    page.get_by_role("tab", name="Problems").click()
    # The grid draws on a canvas; its accessible table holds the cell texts.
    cell = page.locator("td[role='gridcell']", has_text="beehiveboston/broken_half.jpg")
    cell.first.wait_for(state="attached", timeout=30_000)
    row = page.locator("tr[role='row']", has=cell)
    assert "truncated image: the file ends before its pixel data does" in row.first.inner_text()
    page.screenshot(path=str(artifacts_dir / "archive_upload_problems.png"), full_page=True)
    assert not errors, errors


def test_open_folder_then_back_to_demo(app_server, browser, data_dir, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_server)
    wait_for_app(page)
    sidebar = page.locator("[data-testid='stSidebar']")

    open_folder(page, str(data_dir / "no-such-folder"))
    page.get_by_text("no such folder").wait_for(timeout=60_000)
    assert sidebar.get_by_text("Demo archive: 15 posts, 15 photos").is_visible()

    folder = data_dir / "instaloader-boston-2accounts"
    open_folder(page, str(folder))
    sidebar.get_by_text(f"Imported 25 photos from {folder}").wait_for(timeout=120_000)
    sidebar.get_by_text("instaloader-boston-2accounts: 10 posts, 25 photos").wait_for(timeout=30_000)
    wait_for_app(page)
    assert page.locator("[data-testid='stMetricValue']").all_inner_texts() == ["10", "25", "9", "0"]
    page.screenshot(path=str(artifacts_dir / "archive_folder.png"), full_page=True)

    # Another page sees the same archive.
    page.get_by_role("link", name="Faces").click()
    page.locator("[data-testid='stMain']").get_by_text("current archive: 25 photos").wait_for(timeout=30_000)

    sidebar.get_by_role("radio", name="Demo").click()
    sidebar.get_by_role("button", name="Back to the demo").click()
    sidebar.get_by_text("Demo archive: 15 posts, 15 photos").wait_for(timeout=30_000)


def _box_select_everything(page) -> None:
    area = page.locator(".st-key-explore_map .nsewdrag").first
    box = area.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + 3, box["y"] + 3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, steps=8)
    page.mouse.move(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3, steps=8)
    page.mouse.up()


def _tab(page, name: str) -> None:
    """Click a tab once the rerun has settled (a stale copy of the tabs may linger for a moment)."""
    wait_for_app(page)
    tabs = page.locator("[data-testid='stMain']").get_by_role("tab", name=name)
    for _ in range(120):
        if tabs.count() == 1:
            break
        page.wait_for_timeout(250)
    tabs.first.click()


def _nothing_ran(page, dialogs: list[str]) -> None:
    main = page.locator("[data-testid='stMain']")
    assert main.locator("img[src='x'], img[src='y']").count() == 0
    assert page.locator("a[href^='javascript'], [onerror], [onload]").count() == 0
    assert dialogs == [], dialogs


def test_captions_render_as_text_not_html(app_server, browser, data_dir, tmp_path, artifacts_dir):
    """Hostile captions, hashtags and file names are shown as text on Archive and in Explore's gallery."""
    photos = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "food_drink").glob("*.JPEG"))[:5]
    evil = '<img src=x onerror=alert(1)> [click](javascript:alert(2)) **bold** #xss<script>alert(5)</script>'
    evil_name = '"><img src=y onerror=alert(3)>.jpg'
    names = [photos[0].name, evil_name, *[p.name for p in photos[2:]]]
    captions = [evil, '<a href="javascript:alert(4)">click me</a> #tag', "plain", "plain too", "also plain"]
    lines = io.StringIO()
    writer = csv.writer(lines)
    writer.writerow(["file", "likes", "caption", "timestamp"])
    for i, (name, caption) in enumerate(zip(names, captions)):
        writer.writerow([name, 5 + i, caption, 1_700_000_000 + 86_400 * i])
    upload = tmp_path / "evil.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for name, photo in zip(names, photos):
            zf.write(photo, name)
        zf.writestr("manifest.csv", lines.getvalue())
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_server)
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
    page.get_by_role("button", name="Import ZIP").click()
    page.locator("[data-testid='stSidebar']").get_by_text("Imported 5 photos from evil.zip").wait_for(timeout=120_000)
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    # The caption is shown literally (truncated in the grid), and nothing in it was interpreted.
    main.get_by_text("<img src=x onerror=alert(1)> [click](javascript:alert(2))", exact=False).wait_for(timeout=30_000)
    main.get_by_text('<a href="javascript:alert(4)">click me</a>', exact=False).wait_for(timeout=30_000)
    _nothing_ran(page, dialogs)
    _tab(page, "Likes over time")
    page.wait_for_timeout(1500)
    point = main.locator(".scatterlayer .point").first
    point.hover(force=True)
    page.wait_for_timeout(800)
    _tab(page, "Hashtags")
    page.wait_for_timeout(1000)
    _tab(page, "Catalogue")
    cells = main.locator("td[role='gridcell']")
    cells.first.wait_for(state="attached", timeout=30_000)
    assert evil_name in "\n".join(cells.all_inner_texts())  # the file name, literally
    _nothing_ran(page, dialogs)
    page.screenshot(path=str(artifacts_dir / "xss_archive.png"), full_page=True)

    # Explore's gallery, opened from the share link of this upload (colour & texture: no download).
    sha = re.search(r"archive=([0-9a-f]{64})", page.url).group(1)
    page.goto(f"{app_server}/explore?archive={sha}&features=colour_texture")
    wait_for_app(page)
    page.locator(".st-key-explore_map .scatterlayer .point").first.wait_for(timeout=180_000)
    wait_for_app(page)
    page.locator(".st-key-explore_map .scatterlayer .point").first.hover(force=True)
    page.wait_for_timeout(800)
    _box_select_everything(page)
    main.get_by_text("5 selected photo(s)", exact=False).wait_for(timeout=60_000)
    wait_for_app(page)
    gallery = main.locator(".st-key-explore_gallery")
    gallery.get_by_text("<img src=x onerror=alert(1)>", exact=False).wait_for(timeout=30_000)
    gallery.get_by_text('<a href="javascript:alert(4)">', exact=False).wait_for(timeout=30_000)
    _tab(page, "Export")
    main.locator("td[role='gridcell']", has_text="onerror=alert(3)").first.wait_for(state="attached",
                                                                                      timeout=30_000)
    _nothing_ran(page, dialogs)
    page.screenshot(path=str(artifacts_dir / "xss_explore.png"), full_page=True)


def test_deep_link_on_a_fresh_server_has_the_app_shell(fresh_server, browser):
    # A shared link is often the first request a server gets: it must still run the
    # entry script (navigation, archive picker), not a bare page script.
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(f"{fresh_server}/filters")
    wait_for_app(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Demo archive: 15 posts, 15 photos").wait_for(timeout=60_000)
    page.locator("[data-testid='stMain']").get_by_role("heading", name="Filters").wait_for(timeout=60_000)
    nav = page.locator("[data-testid='stSidebarNav']").inner_text()
    assert "Filters" in nav and "filters" not in nav.split()
    assert page.get_by_text("Page not found").count() == 0
