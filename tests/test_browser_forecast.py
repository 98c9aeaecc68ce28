"""Real browser: train the forecast on the demo, upload a photo and read its forecast."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for_app
from PIL import Image

pytestmark = pytest.mark.browser


def test_train_upload_and_forecast(app_server, browser, tmp_path: Path, artifacts_dir: Path):
    page = browser.new_page(viewport={"width": 1400, "height": 2600})
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{app_server}/forecast")
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Train a model on this archive's posts").wait_for(timeout=60_000)

    main.get_by_role("button", name="Train", exact=True).click()
    main.get_by_text("Model trained and saved for this archive.").wait_for(timeout=300_000)
    wait_for_app(page)
    # The target picker offers what the demo has counts of, and nothing else (no insights here).
    picker = main.locator(".st-key-forecast_target")
    options = [text for text in picker.locator("button").all_inner_texts() if text]  # not the help icon
    assert options == ["likes (15 posts)", "comments (15 posts)"]

    # A photo the archive has never seen: a crop of scikit-image's coffee, re-encoded.
    from skimage import data

    photo = tmp_path / "new_post.jpg"
    Image.fromarray(np.ascontiguousarray(data.coffee()[50:350, 100:500])).save(photo, quality=85)
    main.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(photo))
    # The chosen model's forecast, or the usual range when the photo's content did not beat it.
    likes = main.locator("[data-testid='stMetric']", has_text=re.compile(r"^(Likes \(|Your usual likes)")).first
    try:
        likes.wait_for(timeout=180_000)
    finally:
        page.screenshot(path=str(artifacts_dir / "forecast_upload.png"), full_page=True)
    wait_for_app(page)
    # The planned caption is user text: its hashtag becomes a label, its markup stays text.
    caption = main.get_by_label("Caption you plan to write (its hashtags become labels)")
    caption.fill("Morning <img src=x onerror=alert(1)> [link](javascript:alert(2)) #coffee")
    caption.press("Control+Enter")
    main.get_by_text(re.compile(r"^Labels: .*#coffee")).wait_for(timeout=120_000)
    wait_for_app(page)
    value = likes.locator("[data-testid='stMetricValue']").inner_text()
    assert re.fullmatch(r"[\d,]+( – [\d,]+)?", value), value
    assert "faces: 0" in main.get_by_text(re.compile(r"^Labels: ")).inner_text()
    assert main.get_by_text(re.compile(r"80 % interval|^Typical: ")).count() >= 2
    main.get_by_text("Most similar past posts").wait_for(timeout=30_000)
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')].filter(i => i.complete"
        " && i.naturalWidth > 0).length >= 7", timeout=60_000)  # the upload + six similar posts
    page.screenshot(path=str(artifacts_dir / "forecast_predict.png"), full_page=True)

    page.get_by_role("tab", name="Held-out error").click()
    page.get_by_text(re.compile(r"^Split: rolling origin")).wait_for(timeout=30_000)
    page.get_by_text("80 % intervals").wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "forecast_error.png"), full_page=True)
    page.get_by_role("tab", name="What lifts your likes").click()
    page.get_by_text(re.compile(r"effects have evidence|Too few posts to measure")).wait_for(timeout=30_000)
    page.screenshot(path=str(artifacts_dir / "forecast_effects.png"), full_page=True)
    assert not dialogs, dialogs
    assert not errors, errors
    assert main.locator("[data-testid='stException']").count() == 0


def test_cancel_stops_training_and_saves_nothing(fresh_server, browser, artifacts_dir: Path):
    # A fresh server has not imported TensorFlow yet: the first seconds of training load it,
    # so Cancel, pressed as soon as it shows, lands while the run is busy.
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{fresh_server}/forecast")
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Train a model on this archive's posts").wait_for(timeout=60_000)
    main.get_by_role("button", name="Train", exact=True).click()
    main.get_by_role("button", name="Cancel").click(timeout=60_000)
    wait_for_app(page)
    page.wait_for_timeout(15_000)  # a run that was not stopped would finish and save by now (~10 s)
    wait_for_app(page)
    page.screenshot(path=str(artifacts_dir / "forecast_cancelled.png"), full_page=True)
    assert main.get_by_text("Model trained and saved").count() == 0
    main.get_by_text("Train a model on this archive's posts").wait_for(timeout=30_000)
    assert main.get_by_role("button", name="Train", exact=True).is_visible()
    assert main.locator("[data-testid='stException']").count() == 0
    assert not errors, errors
