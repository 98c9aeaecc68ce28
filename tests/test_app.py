"""Streamlit AppTest: every page runs on the demo archive.

AppTest (Streamlit 1.67) drops the entry script's sidebar elements on a second
run when ``st.navigation`` is used, so the sidebar picker's flows are tested in
a real browser instead (tests/test_browser_archive.py).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

PAGES = ["app_pages/archive.py", "app_pages/filters.py", "app_pages/explore.py", "app_pages/forecast.py",
         "app_pages/mosaic.py", "app_pages/faces.py"]


def _app() -> AppTest:
    return AppTest.from_file(str(Path(__file__).resolve().parents[1] / "streamlit_app.py"), default_timeout=120)


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_on_the_demo(page: str):
    at = _app().run()
    at.switch_page(page).run()
    assert not at.exception, at.exception
    assert at.title, "page drew no title"


def test_archive_page_shows_demo_catalogue():
    at = _app().run()
    assert not at.exception
    assert [m.value for m in at.metric][:3] == ["15", "15", "0"]
    assert any("illustrative" in w.value for w in at.warning)
    assert any(t.value == "Demo archive: 15 posts, 15 photos" for t in at.sidebar.text)


def test_folder_picker_can_be_switched_off(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("FEEDLENS_ALLOW_LOCAL_PATHS", "0")
    at = _app().run()
    options = at.sidebar.get("button_group")[0].proto.options
    assert [o.content for o in options] == ["Upload a ZIP", "Instagram API", "Demo"]
