"""Login on: a real OpenID Connect round trip in a real browser, against a local provider.

``oidc-provider-mock`` (a real OIDC provider for tests: discovery, authorize,
token and userinfo endpoints, signed ID tokens) runs on localhost; its login
form asks for the user's ``sub``. The app is started with a secrets file
holding ``[auth]`` for it, exactly as a deployment would configure Google or
Okta. Two users log in in two browser contexts at once.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile

import pytest
from conftest import wait_for_app
from test_browser_hosted import archive_param, catalogue_cells, import_zip, serve_app

pytestmark = pytest.mark.browser


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def provider(tmp_path_factory):
    """``python -m oidc_provider_mock`` on a free localhost port; yields its issuer URL."""
    pytest.importorskip("oidc_provider_mock", reason="pip install oidc-provider-mock (requirements.txt)")
    port = _free_port()
    log = open(tmp_path_factory.mktemp("oidc") / "provider.log", "w+")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "oidc_provider_mock", "--port", str(port)],
                            stdout=log, stderr=subprocess.STDOUT, env=dict(os.environ))
    issuer = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(f"{issuer}/.well-known/openid-configuration", timeout=2):
                break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                log.seek(0)
                pytest.fail(f"the OIDC provider did not start:\n{log.read()[-3000:]}")
            time.sleep(0.3)
    yield issuer
    proc.terminate()
    proc.wait(timeout=10)
    log.close()


@pytest.fixture(scope="module")
def login_server(tmp_path_factory, shared_dir, provider):
    workdir = tmp_path_factory.mktemp("login-app")
    port = _free_port()
    secrets = workdir / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{os.urandom(24).hex()}"\n'
        'client_id = "feedlens-test"\n'
        'client_secret = "feedlens-test-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n'
    )
    with serve_app(workdir, shared_dir, port=port, args=("--secrets.files", str(secrets))) as served:
        yield served


def _log_in(page, url: str, sub: str) -> None:
    page.goto(url)
    wait_for_app(page)
    main = page.locator("[data-testid='stMain']")
    main.get_by_role("heading", name="Feedlens").wait_for(timeout=60_000)
    assert page.locator("[data-testid='stSidebarNav']").count() == 0  # no page before login
    main.get_by_role("button", name="Log in").click()
    # The provider's own login form (another origin), then back to the app.
    page.locator("input[name='sub']").fill(sub)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{url}/**", timeout=60_000)
    wait_for_app(page)
    page.locator("[data-testid='stSidebar']").get_by_text(f"Signed in as {sub}").wait_for(timeout=60_000)


def test_login_keeps_users_apart_and_refuses_another_users_archive_link(login_server, browser, data_dir,
                                                                         tmp_path, artifacts_dir):
    url, _ = login_server
    alice_ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    bob_ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    alice, bob = alice_ctx.new_page(), bob_ctx.new_page()
    dialogs: list[str] = []
    for page in (alice, bob):
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))

    # A shared link opened before logging in shows only the login screen, nothing of the archive.
    alice.goto(f"{url}/explore?archive=demo")
    wait_for_app(alice)
    alice.locator("[data-testid='stMain']").get_by_role("button", name="Log in").wait_for(timeout=60_000)
    assert alice.get_by_text("Demo archive").count() == 0
    alice.screenshot(path=str(artifacts_dir / "login_screen.png"), full_page=True)

    _log_in(alice, url, "alice")
    _log_in(bob, url, "bob")
    alice.locator("[data-testid='stSidebar']").get_by_text("Demo archive: 15 posts, 15 photos").wait_for(
        timeout=120_000)

    source = data_dir / "instaaudit-likes-in-filenames" / "posts"
    upload = tmp_path / "alice.zip"
    with zipfile.ZipFile(upload, "w") as zf:
        for path in sorted(source.glob("*.jpg")):
            zf.write(path, f"posts/{path.name}")
    import_zip(alice, upload)
    alice.locator("[data-testid='stSidebar']").get_by_text("Imported 10 photos from alice.zip").wait_for(
        timeout=180_000)
    wait_for_app(alice)
    assert alice.get_by_text("only your account can open it", exact=False).is_visible()
    sha = archive_param(alice)
    link = f"{url}/?archive={sha}"

    # Bob, logged in, opens Alice's link: refused, shown the demo, told why.
    bob.goto(link)
    wait_for_app(bob)
    main = bob.locator("[data-testid='stMain']")
    main.get_by_text("does not hold that upload for your account", exact=False).wait_for(timeout=60_000)
    bob.locator("[data-testid='stSidebar']").get_by_text("Demo archive: 15 posts, 15 photos").wait_for(
        timeout=60_000)
    assert "alice.zip" not in bob.content()
    assert not any(p.stem in bob.content() for p in source.glob("*.jpg"))
    bob.screenshot(path=str(artifacts_dir / "login_link_refused.png"), full_page=True)

    # Alice opens her own link in a new tab (same browser, so still logged in): it opens.
    again = alice_ctx.new_page()
    again.goto(link)
    wait_for_app(again)
    again.locator("[data-testid='stSidebar']").get_by_text("alice.zip: 10 posts, 10 photos").wait_for(
        timeout=120_000)
    cells = catalogue_cells(again)
    assert sorted(source.glob("*.jpg"))[0].stem in cells

    # Logging out returns to the login screen.
    again.locator("[data-testid='stSidebar']").get_by_role("button", name="Log out").click()
    again.wait_for_timeout(1000)
    again.goto(url)
    wait_for_app(again)
    again.locator("[data-testid='stMain']").get_by_role("button", name="Log in").wait_for(timeout=60_000)
    assert dialogs == []
    alice_ctx.close()
    bob_ctx.close()
