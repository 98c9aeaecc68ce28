"""Real browser: build a pipeline on the Filters page, download the result, open a shared link."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs, quote, urlparse

import numpy as np
import pytest
from conftest import wait_for_app
from PIL import Image

from core.filters.pipeline import QUERY_PARAM, Pipeline, Step
from core.image.io import load_image

pytestmark = pytest.mark.browser

BIG_PHOTO = Path("instaloader-boston-2accounts/beehiveboston/2023-03-24_00-19-52_UTC.jpg")  # 1440x959


def _open(browser, url: str):
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(url)
    wait_for_app(page)
    page.get_by_text("After ·").first.wait_for(timeout=120_000)
    return page, errors


def _start(app_server: str, browser):
    # A deep link, as a shared link would be opened.
    return _open(browser, f"{app_server}/filters")


def _choose(page, key: str, option: str) -> None:
    """Pick ``option`` in the selectbox with widget key ``key``."""
    page.locator(f".st-key-{key}").click()
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def _pipeline_in_url(page) -> Pipeline:
    return Pipeline.from_query(parse_qs(urlparse(page.url).query)[QUERY_PARAM][0])


def _download_png(page, tmp_path: Path) -> Path:
    with page.expect_download(timeout=120_000) as info:
        page.get_by_role("button", name="Download the result (PNG, full resolution)").click()
    download = info.value
    target = tmp_path / download.suggested_filename
    download.save_as(target)
    return target


def test_two_step_pipeline_and_full_resolution_download(app_server, browser, data_dir, tmp_path, artifacts_dir):
    page, errors = _start(app_server, browser)
    steps = page.locator("[data-testid='stExpander']")
    page.get_by_text("1. Gaussian blur").wait_for()
    assert _pipeline_in_url(page) == Pipeline([Step("gaussian_blur")])

    _choose(page, "fl_add_choice", "Colour and looks › Saturation")
    page.get_by_role("button", name="Add").click()
    page.get_by_text("2. Saturation").wait_for(timeout=60_000)
    wait_for_app(page)
    assert _pipeline_in_url(page) == Pipeline([Step("gaussian_blur"), Step("adjust_saturation")])
    assert steps.filter(has_text="Colour:").count() == 2  # each step says how it treats colour

    # A non-square photo from the demo archive, downloaded at its full size.
    _choose(page, "fl_photo", "coffee.jpg")
    page.get_by_text("Before · 600×400").wait_for(timeout=60_000)
    png = _download_png(page, tmp_path)
    assert png.name == "coffee-feedlens.png"
    with Image.open(png) as img:
        assert img.format == "PNG" and img.size == (600, 400)
    page.screenshot(path=str(artifacts_dir / "filters_two_steps.png"), full_page=True)

    # An uploaded photo larger than the preview: the preview is 1080 px, the download full size.
    source = data_dir / BIG_PHOTO
    page.get_by_text("Upload a photo", exact=True).click()
    page.locator(".st-key-fl_upload [data-testid='stFileUploaderDropzoneInput']").set_input_files(str(source))
    page.get_by_text("Before · 1080×719").wait_for(timeout=120_000)
    wait_for_app(page)
    assert page.get_by_text("Preview at 1080 px (1080×719 of 1440×959)").is_visible()
    png = _download_png(page, tmp_path)
    with Image.open(png) as img:
        assert img.size == (1440, 959)
        got = np.asarray(img.convert("RGB"))
    expected = Pipeline([Step("gaussian_blur"), Step("adjust_saturation")]).render(load_image(source))
    np.testing.assert_array_equal(got, expected)
    page.screenshot(path=str(artifacts_dir / "filters_upload_large.png"), full_page=True)
    assert not errors, errors


def test_shared_link_reopens_the_pipeline(app_server, browser, artifacts_dir):
    shared = Pipeline([Step("median_blur", {"size": 5}), Step("equalize_clahe"),
                       Step("convolve_kernel", {"kernel": [[0, -1, 0], [-1, 5, -1], [0, -1, 0]]}),
                       Step("flip_lr", enabled=False)])
    _start(app_server, browser)[0].close()
    page, errors = _open(browser, f"{app_server}/filters?{QUERY_PARAM}={quote(shared.to_query())}")
    for label in ["1. Median (denoise)", "2. CLAHE (adaptive)", "3. Custom kernel", "4. Flip left-right (off)"]:
        page.get_by_text(label, exact=True).wait_for(timeout=60_000)
    assert _pipeline_in_url(page) == shared
    page.get_by_text("Colour handling").first.wait_for()  # CLAHE's luminance / per-channel choice
    page.screenshot(path=str(artifacts_dir / "filters_shared_link.png"), full_page=True)

    # A damaged link: a warning and the default pipeline, never a crash.
    page.goto(f"{app_server}/filters?{QUERY_PARAM}=1z.not-a-pipeline")
    wait_for_app(page)
    page.get_by_text("could not be opened").wait_for(timeout=60_000)
    page.get_by_text("1. Gaussian blur").wait_for()
    assert not errors, errors
