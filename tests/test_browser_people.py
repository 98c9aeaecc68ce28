"""Real browser: name three people through the "Who is this?" queue, merge two, restart the server."""

from __future__ import annotations

import pytest
from conftest import open_folder, serve_app, wait_for_app
from test_people_page import friends_folder

pytestmark = pytest.mark.browser


def _open_faces(page, url: str, folder) -> object:
    page.goto(url)
    wait_for_app(page)
    page.get_by_text("Demo archive: the photos are real sample images").wait_for(timeout=60_000)
    open_folder(page, folder)
    page.locator("[data-testid='stSidebar']").get_by_text("friends: 17 posts, 17 photos").wait_for(timeout=120_000)
    wait_for_app(page)
    page.get_by_role("link", name="Faces").click()
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("Private by design").wait_for(timeout=60_000)
    return main


def test_name_three_through_the_queue_merge_two_and_restart(browser, shared_dir, data_dir, tmp_path, artifacts_dir):
    folder = friends_folder(data_dir, tmp_path / "friends")
    workdir = tmp_path / "server"
    errors: list[str] = []
    with serve_app(workdir, shared_dir) as (url, _cache):
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        main = _open_faces(page, url, folder)
        main.get_by_role("button", name="Build the face index").click()
        main.get_by_text("Face index ready.").wait_for(timeout=180_000)
        wait_for_app(page)
        main.get_by_text("4 unnamed people to go", exact=False).wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "people_queue_start.png"), full_page=True)

        # Three names, typed and sent with Enter: the queue moves on to the next person each time.
        for name in ("Drew", "Keanu", "Tina <b>Fey</b>"):
            box = main.get_by_label("Who is it?")
            box.fill(name)
            box.press("Enter")
            main.get_by_text(f"Named {name}.", exact=True).wait_for(timeout=60_000)
            wait_for_app(page)
        assert main.locator("b", has_text="Fey").count() == 0  # the name is text, never HTML
        main.get_by_text("Is this Drew? (distance", exact=False).wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "people_queue_suggestion.png"), full_page=True)

        # Drew's other half: accept the suggestion, the two are merged.
        main.get_by_role("button", name="Yes, Drew").click()
        main.get_by_text("Added to Drew.").wait_for(timeout=60_000)
        wait_for_app(page)
        main.get_by_text("Everyone shown is named.").wait_for(timeout=30_000)
        main.get_by_text("3 of 3 people shown (0 hidden)", exact=False).wait_for(timeout=30_000)
        main.get_by_text("8 faces · ", exact=False).first.wait_for(timeout=30_000)
        page.screenshot(path=str(artifacts_dir / "people_named.png"), full_page=True)
        page.close()

    # A restarted server (same cache) shows the same people, names and merge.
    with serve_app(workdir, shared_dir) as (url, _cache):
        page = browser.new_page(viewport={"width": 1400, "height": 2200})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        main = _open_faces(page, url, folder)
        main.get_by_text("Everyone shown is named.").wait_for(timeout=120_000)
        for name in ("Drew", "Keanu", "Tina <b>Fey</b>"):
            main.get_by_text(name, exact=True).first.wait_for(timeout=30_000)
        main.get_by_text("8 faces · ", exact=False).first.wait_for(timeout=30_000)
        page.close()
    assert not errors, errors
