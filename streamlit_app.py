"""Feedlens: look at your own Instagram photos with data science.

Entry point: ``streamlit run streamlit_app.py``. Every page works on the
archive chosen in the sidebar (the bundled demo until you pick another).
With ``[auth]`` in ``.streamlit/secrets.toml`` every visitor logs in first
(``ui.auth``); the archive and each page's settings live in the URL, so the
address bar is a share link (``ui.share``).
"""

import os
from pathlib import Path

import streamlit as st

from ui.auth import account_box, require_login
from ui.resources import BUSY_RUNS_PER_CORE, freeze_after_imports, runs_in_flight
from ui.session_budget import enforce_budget
from ui.share import begin_run
from ui.state import archive_picker

# A local image: a ":material/...:" icon makes every browser fetch the favicon from Google Fonts.
ICON = str(Path(__file__).resolve().parent / "assets" / "feedlens-icon.png")
st.set_page_config(page_title="Feedlens", page_icon=ICON, layout="wide")
begin_run()

PAGES = [
    st.Page("app_pages/archive.py", title="Archive", icon=":material/photo_library:", default=True),
    st.Page("app_pages/filters.py", title="Filters", icon=":material/tune:", url_path="filters"),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/scatter_plot:", url_path="explore"),
    st.Page("app_pages/forecast.py", title="Forecast", icon=":material/trending_up:", url_path="forecast"),
    st.Page("app_pages/mosaic.py", title="Mosaic", icon=":material/grid_view:", url_path="mosaic"),
    st.Page("app_pages/faces.py", title="Faces", icon=":material/face:", url_path="faces"),
]

require_login()  # stops here, on a login screen, until the visitor has logged in (login on only)
page = st.navigation(PAGES)
account_box()
archive_picker()
with runs_in_flight().running() as others:
    if others >= BUSY_RUNS_PER_CORE * (os.cpu_count() or 1):
        # Said first, so a saturated server shows why the page is slow instead of only a spinner.
        st.info(f"The server is busy: it is drawing {others} other pages right now, so this one may take "
                "a few seconds.", icon=":material/hourglass_top:")
    try:
        page.run()
    finally:
        # A page's first run imports its libraries (Plotly, pandas, TensorFlow...): exempt them from the full
        # garbage collections that follow every run (ui.resources.freeze_heap); a no-op once nothing new loads.
        freeze_after_imports()
        # What this tab holds in session state stays under its share (FEEDLENS_SESSION_MB).
        enforce_budget()
