"""Real browser: build a small mosaic of the demo archive and download the PNG."""

from __future__ import annotations

import re

import pytest
from conftest import wait_for_app
from PIL import Image

pytestmark = pytest.mark.browser


def test_build_small_mosaic_and_download_png(app_server, browser, artifacts_dir, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    # Wait for the app's own navigation (st.navigation) and archive picker before navigating.
    sidebar.get_by_text("Demo archive: 15 posts, 15 photos").wait_for(timeout=120_000)
    sidebar.get_by_role("link", name="Mosaic").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_role("heading", name="Mosaic").wait_for(timeout=60_000)
    # The demo has 15 photos; leaving the astronaut target out, 14 photos are each reused.
    main.get_by_text(re.compile(r"Planned from 14 photos × \d+")).wait_for(timeout=120_000)
    main.get_by_text("MediaPipe found 1 face(s) and a person.").wait_for(timeout=120_000)
    page.screenshot(path=str(artifacts_dir / "mosaic_settings.png"))

    main.get_by_role("button", name="Build mosaic").click()
    download = main.get_by_role("button", name="Download PNG (print resolution)")
    download.wait_for(timeout=180_000)
    wait_for_app(page)
    caption = main.get_by_text(re.compile(r"Download: \d+ × \d+ px PNG")).inner_text()
    width, height = map(int, re.search(r"Download: (\d+) × (\d+) px", caption).groups())
    assert main.get_by_text(re.compile(r"changes the mean error by")).is_visible()
    # Streamlit scrolls inside the app, not the document: a tall viewport shows the whole page.
    page.set_viewport_size({"width": 1400, "height": 3400})
    page.wait_for_timeout(1500)
    page.screenshot(path=str(artifacts_dir / "mosaic_result.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    with page.expect_download(timeout=180_000) as info:
        download.click()
    path = tmp_path / "mosaic.png"
    info.value.save_as(path)
    with Image.open(path) as png:
        assert png.format == "PNG"
        assert png.size == (width, height)
        png.load()
        assert png.mode == "RGB"
        # Not blank: a real mosaic has many colours.
        assert len(png.resize((64, 64)).getcolors(64 * 64) or []) > 100
    assert not errors, errors


def test_uploaded_target_then_cancel_a_slow_pulp_build(app_server, browser, artifacts_dir, data_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Demo archive: 15 posts, 15 photos").wait_for(timeout=120_000)
    sidebar.get_by_role("link", name="Mosaic").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_text(re.compile(r"Grid 20 × 20 = 400 tiles")).wait_for(timeout=120_000)
    wait_for_app(page)
    # An uploaded target: a real face photo.
    main.get_by_role("radio", name="Upload").click()
    main.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(
        str(data_dir / "faces-deepface-pairs" / "images" / "img20.jpg"))
    main.get_by_text("Target: 900 × 900 px (as used here).").wait_for(timeout=60_000)
    main.get_by_text("MediaPipe found 1 face(s) and a person.").wait_for(timeout=60_000)
    wait_for_app(page)
    box = main.get_by_role("spinbutton", name="Use each photo up to k times")
    box.fill("60")
    box.press("Enter")
    main.get_by_text(re.compile(r"Planned from 15 photos × 60 .* Grid 30 × 30 = 900 tiles")).wait_for(timeout=60_000)
    wait_for_app(page)
    # PuLP alone, uniform weights: 900 tiles x 900 photo slots takes minutes.
    for name in ("Exact (Jonker–Volgenant)", "Greedy best match", "PuLP LP", "Face & person weighted"):
        main.get_by_role("button", name=name, exact=True).click()
        wait_for_app(page)
    main.get_by_text(re.compile(r"PuLP: one variable per tile and photo slot")).wait_for(timeout=30_000)
    main.get_by_role("button", name="Build mosaic").click()
    main.get_by_text("Step 1 of 1: PuLP LP · uniform…").wait_for(timeout=60_000)
    page.wait_for_timeout(3000)
    page.screenshot(path=str(artifacts_dir / "mosaic_running.png"))
    main.get_by_role("button", name="Cancel").click()
    main.get_by_text("Build cancelled.").wait_for(timeout=30_000)
    wait_for_app(page)
    assert main.get_by_text("Press Build mosaic to place the photos.").is_visible()
    page.screenshot(path=str(artifacts_dir / "mosaic_cancelled.png"))
    assert not errors, errors


def test_build_adaptive_mosaic_with_colour_transfer_and_download_tiff(app_server, browser, artifacts_dir, tmp_path):
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    sidebar = page.locator("[data-testid='stSidebar']")
    sidebar.get_by_text("Demo archive: 15 posts, 15 photos").wait_for(timeout=120_000)
    sidebar.get_by_role("link", name="Mosaic").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_text(re.compile(r"Grid 20 × 20 = 400 tiles")).wait_for(timeout=120_000)
    main.get_by_text("MediaPipe found 1 face(s) and a person.").wait_for(timeout=120_000)
    wait_for_app(page)
    main.get_by_text("Adaptive tiles").click()
    wait_for_app(page)
    main.get_by_role("button", name="Build mosaic").click()
    main.get_by_text(re.compile(r"Download: \d+ × \d+ px PNG")).wait_for(timeout=240_000)
    wait_for_app(page)
    caption = main.get_by_text(re.compile(r"Download: \d+ × \d+ px PNG")).inner_text()
    assert "adaptive tiles" in caption
    width, height = map(int, re.search(r"Download: (\d+) × (\d+) px", caption).groups())
    assert main.get_by_text(re.compile(r"The target shows through from")).is_visible()
    assert main.locator("[data-testid='stPlotlyChart']").first.is_visible()  # the zoomable preview
    page.set_viewport_size({"width": 1400, "height": 3600})
    page.wait_for_timeout(2000)
    page.screenshot(path=str(artifacts_dir / "mosaic_adaptive.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    main.get_by_role("radio", name="TIFF").click() if main.get_by_role("radio", name="TIFF").count() else \
        main.get_by_role("button", name="TIFF").click()
    wait_for_app(page)
    download = main.get_by_role("button", name="Download TIFF (print resolution)")
    download.wait_for(timeout=60_000)
    with page.expect_download(timeout=180_000) as info:
        download.click()
    path = tmp_path / "mosaic.tif"
    info.value.save_as(path)
    with Image.open(path) as tif:
        assert tif.format == "TIFF" and tif.size == (width, height)
        tif.load()
        assert len(tif.convert("RGB").resize((64, 64)).getcolors(64 * 64) or []) > 100
    assert not errors, errors
