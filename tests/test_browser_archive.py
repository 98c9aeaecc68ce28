"""Real browser: upload a ZIP of real photos through the real file uploader."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from conftest import wait_for_app

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


def _open_folder(page, folder: str) -> None:
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_role("radio", name="Open a folder").click()
    box = sidebar.get_by_label("Folder on this computer")
    box.fill(folder)
    box.press("Enter")
    sidebar.get_by_role("button", name="Open folder").click()


def test_open_folder_then_back_to_demo(app_server, browser, data_dir, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(app_server)
    wait_for_app(page)
    sidebar = page.locator("[data-testid='stSidebar']")

    _open_folder(page, str(data_dir / "no-such-folder"))
    page.get_by_text("no such folder").wait_for(timeout=60_000)
    assert sidebar.get_by_text("Demo archive: 15 posts, 15 photos").is_visible()

    folder = data_dir / "instaloader-boston-2accounts"
    _open_folder(page, str(folder))
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


def test_captions_render_as_text_not_html(app_server, browser, data_dir, tmp_path):
    photos = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "food_drink").glob("*.JPEG"))[:2]
    evil = '<img src=x onerror=alert(1)> [click](javascript:alert(2)) **bold**'
    manifest = "file,likes,caption\n" + f"{photos[0].name},5,\"{evil}\"\n" + f"{photos[1].name},7,plain\n"
    upload = tmp_path / "evil.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for photo in photos:
            zf.write(photo, photo.name)
        zf.writestr("manifest.csv", manifest)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_server)
    wait_for_app(page)
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
    page.get_by_role("button", name="Import ZIP").click()
    page.locator("[data-testid='stSidebar']").get_by_text("Imported 2 photos from evil.zip").wait_for(timeout=120_000)
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    # The caption is shown literally (truncated in the grid), and nothing in it was interpreted.
    main.get_by_text("<img src=x onerror=alert(1)> [click](javascript:alert(2))", exact=False).wait_for(timeout=30_000)
    assert main.locator("img[src='x']").count() == 0
    assert main.locator("a[href^='javascript']").count() == 0
    page.get_by_role("tab", name="Likes over time").click()
    page.wait_for_timeout(1500)
    assert main.locator("img[src='x']").count() == 0
    assert dialogs == []


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
