"""Real browser, hosted settings: two sessions at once, share links, memory held per session.

The server is started here (not the shared ``app_server``) so that the test
knows its cache folder and can run it as a hosted server would
(``FEEDLENS_ALLOW_LOCAL_PATHS=0``).
"""

from __future__ import annotations

import re
import shutil
import time
import urllib.request
import zipfile
from pathlib import Path

import pytest
from conftest import serve_app as _serve_app
from conftest import wait_for_app

pytestmark = pytest.mark.browser
REPO = Path(__file__).resolve().parents[1]


def serve_app(workdir: Path, shared_dir: Path, *, env: dict | None = None, **kwargs):
    """:func:`conftest.serve_app` run as a hosted server would be (visitors cannot open server folders)."""
    return _serve_app(workdir, shared_dir, env={"FEEDLENS_ALLOW_LOCAL_PATHS": "0", **(env or {})}, **kwargs)


def zip_folder(files: list[Path], target: Path, prefix: str) -> Path:
    with zipfile.ZipFile(target, "w") as zf:
        for path in files:
            zf.write(path, f"{prefix}/{path.name}")
    return target


def import_zip(page, upload: Path) -> None:
    """Upload a ZIP through the sidebar and wait for the import's message."""
    page.locator("[data-testid='stFileUploaderDropzoneInput']").set_input_files(str(upload))
    page.get_by_role("button", name="Import ZIP").click()


def archive_param(page) -> str:
    match = re.search(r"[?&]archive=([^&]+)", page.url)
    assert match, page.url
    return match.group(1)


def catalogue_cells(page) -> str:
    """Every cell of the Catalogue tab's table (its accessible copy: the grid draws on a canvas)."""
    page.get_by_role("tab", name="Catalogue").click()
    cells = page.locator("[data-testid='stMain'] td[role='gridcell']")
    cells.first.wait_for(state="attached", timeout=30_000)
    return "\n".join(cells.all_inner_texts())


def image_sources(page) -> set[str]:
    page.get_by_role("tab", name="Photos").click()
    images = page.locator("[data-testid='stMain'] [data-testid='stImage'] img")
    images.first.wait_for(timeout=30_000)
    return set(images.evaluate_all("els => els.map(e => e.src)"))


def uploads_in_memory(url: str) -> int:
    """Bytes of uploaded files the server holds in memory (its metrics endpoint)."""
    text = urllib.request.urlopen(f"{url}/_stcore/metrics", timeout=10).read().decode()
    found = re.findall(r'cache_memory_bytes\{cache_type="UploadedFileManager",cache=""\} (\d+)', text)
    return int(found[0]) if found else 0


@pytest.fixture(scope="module")
def hosted(tmp_path_factory, shared_dir):
    with serve_app(tmp_path_factory.mktemp("hosted"), shared_dir) as served:
        yield served


def test_two_sessions_at_once_never_see_each_other(hosted, browser, data_dir, tmp_path, artifacts_dir):
    url, cache = hosted
    likes_files = sorted((data_dir / "instaaudit-likes-in-filenames" / "posts").glob("*.jpg"))
    boston_files = sorted((data_dir / "instaloader-boston-2accounts" / "beehiveboston").iterdir())
    zip_a = zip_folder(likes_files, tmp_path / "likes.zip", "posts")
    zip_b = zip_folder(boston_files, tmp_path / "beehive.zip", "beehiveboston")
    names_a = [p.stem for p in likes_files]
    names_b = [p.stem for p in boston_files if p.suffix == ".jpg"]

    ctx_a = browser.new_context(viewport={"width": 1400, "height": 1100})
    ctx_b = browser.new_context(viewport={"width": 1400, "height": 1100})
    dialogs: list[str] = []
    pages = []
    for ctx in (ctx_a, ctx_b):
        page = ctx.new_page()
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(url)
        pages.append(page)
    page_a, page_b = pages
    for page in pages:
        wait_for_app(page)
        page.locator("[data-testid='stSidebar']").get_by_text("Demo archive: 15 posts, 15 photos").wait_for(
            timeout=120_000)
    # Hosted: no "Open a folder" choice.
    assert page_a.locator("[data-testid='stSidebar']").get_by_text("Open a folder").count() == 0
    # Both imports run at the same time, one per session.
    import_zip(page_a, zip_a)
    import_zip(page_b, zip_b)
    page_a.locator("[data-testid='stSidebar']").get_by_text("Imported 10 photos from likes.zip").wait_for(
        timeout=180_000)
    page_b.locator("[data-testid='stSidebar']").get_by_text("from beehive.zip").wait_for(timeout=180_000)
    for page in pages:
        wait_for_app(page)

    cells_a, cells_b = catalogue_cells(page_a), catalogue_cells(page_b)
    assert all(name in cells_a for name in names_a[:3]), cells_a[:500]
    assert all(name in cells_b for name in names_b[:3]), cells_b[:500]
    html_a, html_b = page_a.content(), page_b.content()
    assert not any(name in html_a for name in names_b), "session A shows a file of session B"
    assert not any(name in html_b for name in names_a), "session B shows a file of session A"
    assert "beehive.zip" not in html_a and "likes.zip" not in html_b
    photos_a, photos_b = image_sources(page_a), image_sources(page_b)
    assert photos_a and photos_b and not photos_a & photos_b
    page_a.screenshot(path=str(artifacts_dir / "hosted_session_a.png"), full_page=True)
    page_b.screenshot(path=str(artifacts_dir / "hosted_session_b.png"), full_page=True)

    # Per-session memory: the uploaded ZIPs are not kept in server memory once imported
    # (the metrics endpoint caches its figures for 5 s).
    deadline = time.monotonic() + 30
    while uploads_in_memory(url) and time.monotonic() < deadline:
        time.sleep(1)
    assert uploads_in_memory(url) == 0

    # Login off: A's address opens A's archive for anyone, while the server holds the upload.
    sha_a = archive_param(page_a)
    assert re.fullmatch(r"[0-9a-f]{64}", sha_a)
    assert page_a.get_by_text("anyone with the link can open it", exact=False).is_visible()
    link = f"{url}/explore?archive={sha_a}&features=colour_texture"
    other = ctx_b.new_page()
    other.goto(link)
    wait_for_app(other)
    other.locator("[data-testid='stSidebar']").get_by_text("likes.zip: 10 posts, 10 photos").wait_for(
        timeout=120_000)
    other.locator("[data-testid='stMain']").get_by_role("heading", name="Explore").wait_for(timeout=60_000)
    other.close()

    # Once the server no longer holds the upload, the same link says so and shows the demo.
    shutil.rmtree(cache / "archives" / sha_a)
    ctx_c = browser.new_context(viewport={"width": 1400, "height": 1100})
    late = ctx_c.new_page()
    late.goto(link)
    wait_for_app(late)
    main = late.locator("[data-testid='stMain']")
    main.get_by_text("The server no longer holds it", exact=False).wait_for(timeout=60_000)
    late.locator("[data-testid='stSidebar']").get_by_text("Demo archive: 15 posts, 15 photos").wait_for(
        timeout=60_000)
    late.screenshot(path=str(artifacts_dir / "hosted_link_gone.png"), full_page=True)
    main.get_by_role("button", name="Continue with the demo").click()
    main.get_by_text("The server no longer holds it", exact=False).wait_for(state="detached", timeout=30_000)
    assert archive_param(late) == "demo"
    assert dialogs == []
    for ctx in (ctx_a, ctx_b, ctx_c):
        ctx.close()


def test_explore_link_reopens_the_same_map(hosted, browser, artifacts_dir):
    url, _ = hosted
    page = browser.new_page(viewport={"width": 1400, "height": 1400})
    page.goto(f"{url}/explore?archive=demo&features=colour_texture&perplexity=3&clusters=K-Means&k=3&colour=Likes")
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_text("perplexity 3", exact=False).first.wait_for(timeout=180_000)
    wait_for_app(page)
    k_slider = main.locator("[data-testid='stSlider']", has_text="k (number of clusters)")
    assert k_slider.locator("[data-testid='stSliderThumbValue']").inner_text().strip() == "3"
    colour = main.locator(".st-key-explore_colour_by")
    assert colour.locator("button[aria-checked='true']").inner_text().strip() == "Likes"
    # The address bar still holds the view (and the archive) after the page has run.
    for part in ("archive=demo", "features=colour_texture", "perplexity=3", "k=3", "colour=Likes"):
        assert part in page.url, page.url
    page.screenshot(path=str(artifacts_dir / "hosted_explore_link.png"), full_page=True)

    # A hostile link: the page runs with defaults and says so briefly.
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    page.goto(f"{url}/explore?features=colour_texture&perplexity=1e400&colour=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E")
    wait_for_app(page)
    page.locator("[data-testid='stToast']").filter(has_text="perplexity").first.wait_for(timeout=180_000)
    main.get_by_text("perplexity 4", exact=False).first.wait_for(timeout=180_000)
    assert "colour=Cluster" in page.url and main.locator("img[src='x']").count() == 0
    assert dialogs == []
