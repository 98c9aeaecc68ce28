"""Real browser: build the face index of the demo, name a person, upload a face and see matches."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from conftest import wait_for_app
from PIL import Image

pytestmark = pytest.mark.browser


def _wait_for_images(page) -> None:
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stMain\"] img')]"
        ".every(img => img.complete && img.naturalWidth > 0)", timeout=60_000
    )


def _astronaut_variant(target: Path) -> Path:
    """Another photo of the demo's astronaut: mirrored, cropped, rescaled, re-encoded."""
    from skimage import data

    image = data.astronaut()[20:420, 60:460][:, ::-1]
    Image.fromarray(np.ascontiguousarray(image)).resize((300, 300)).save(target, quality=80)
    return target


def test_build_index_name_person_and_search(app_server, browser, tmp_path, artifacts_dir):
    page = browser.new_page(viewport={"width": 1400, "height": 2400})
    errors: list[str] = []
    dialogs: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(app_server)
    wait_for_app(page)
    # The entry script has run (st.navigation is in charge) once the archive page shows.
    page.get_by_text("Demo archive: the photos are real sample images").wait_for(timeout=60_000)
    page.get_by_role("link", name="Faces").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Private by design").wait_for(timeout=60_000)

    main.get_by_role("button", name="Build the face index").click()
    main.get_by_text("Face index ready.").wait_for(timeout=180_000)
    wait_for_app(page)
    main.get_by_text("3 of 3 people shown", exact=False).wait_for(timeout=30_000)
    main.get_by_role("button", name="Build the face index").wait_for(state="detached", timeout=30_000)
    _wait_for_images(page)
    page.screenshot(path=str(artifacts_dir / "faces_people.png"), full_page=True)

    # Name the open person: the name is shown as text, never interpreted.
    evil = "Eileen <b>Collins</b> **bold**"
    box = main.get_by_label("Name", exact=True)
    box.fill(evil)
    main.get_by_role("button", name="Save name").click()
    main.get_by_text("Name saved.").wait_for(timeout=60_000)
    wait_for_app(page)
    main.get_by_text(evil, exact=True).first.wait_for(timeout=30_000)
    assert main.locator("b", has_text="Collins").count() == 0
    # The gallery finds the person by name (no widget lists everyone).
    main.get_by_label("Find a person").fill("eileen")
    main.get_by_label("Find a person").press("Enter")
    main.get_by_text("1 of 3 people shown", exact=False).wait_for(timeout=30_000)
    wait_for_app(page)

    # Search by photo: another picture of the astronaut finds her post.
    page.get_by_role("tab", name="Search by photo").click()
    query = _astronaut_variant(tmp_path / "query.jpg")
    main.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(query))
    main.get_by_text("1 face found in query.jpg.").wait_for(timeout=120_000)
    wait_for_app(page)
    verdicts = main.get_by_role("tabpanel", name="Search by photo").get_by_text(re.compile(r"^\d\.\d\d · (same|another) person$"))
    verdicts.first.wait_for(timeout=30_000)
    # The best match is the astronaut's own post, clearly the same person.
    best = verdicts.first.inner_text()
    assert best.endswith("same person") and float(best.split()[0]) < 0.45, best
    search = main.get_by_role("tabpanel", name="Search by photo")
    assert search.get_by_text("astronaut.jpg", exact=True).first.is_visible()
    assert search.get_by_text(evil, exact=True).first.is_visible()  # the match carries the person's name
    _wait_for_images(page)
    page.screenshot(path=str(artifacts_dir / "faces_search.png"), full_page=True)

    # A photo without faces says so.
    from skimage import data

    empty = tmp_path / "coffee.png"
    Image.fromarray(data.coffee()).save(empty)
    main.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(empty))
    main.get_by_text("No face found in this photo", exact=False).wait_for(timeout=120_000)

    page.get_by_role("tab", name="Index and privacy").click()
    page.screenshot(path=str(artifacts_dir / "faces_index.png"), full_page=True)
    assert not errors, errors
    assert dialogs == []


def test_cancel_keeps_the_finished_photos(app_server, browser, data_dir, artifacts_dir):
    """Cancel a build of a real Instaloader folder (25 photos), then finish it."""
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(app_server)
    wait_for_app(page)
    page.get_by_text("Demo archive: the photos are real sample images").wait_for(timeout=60_000)
    sidebar = page.locator("[data-testid='stSidebar']")
    folder = data_dir / "instaloader-boston-2accounts"
    sidebar.get_by_role("radio", name="Open a folder").click()
    box = sidebar.get_by_label("Folder on this computer")
    box.fill(str(folder))
    box.press("Enter")
    sidebar.get_by_role("button", name="Open folder").click()
    sidebar.get_by_text("instaloader-boston-2accounts: 10 posts, 25 photos").wait_for(timeout=120_000)
    wait_for_app(page)
    page.get_by_role("link", name="Faces").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_role("button", name="Build the face index").click()
    main.get_by_text(re.compile(r"^[1-9]\d* of 25 photos indexed$")).first.wait_for(timeout=120_000)
    main.get_by_role("button", name="Cancel").click()
    warning = main.get_by_text(re.compile(r"^Indexing cancelled: \d+ of 25 photos indexed, kept for next time\.$"))
    warning.wait_for(timeout=60_000)
    kept = int(warning.inner_text().split()[2])
    assert 1 <= kept < 25
    main.get_by_text("Showing the photos indexed so far.").wait_for(timeout=30_000)
    wait_for_app(page)
    page.screenshot(path=str(artifacts_dir / "faces_cancelled.png"), full_page=True)

    main.get_by_role("button", name=f"Continue indexing ({25 - kept} photos left)").click()
    main.get_by_text("Face index ready.").wait_for(timeout=180_000)
    wait_for_app(page)
    assert main.get_by_text("Face index: ", exact=False).first.inner_text().startswith("Face index: ")
    assert not errors, errors
