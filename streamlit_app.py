"""Feedlens: look at your own Instagram photos with data science.

Entry point: ``streamlit run streamlit_app.py``. Every page works on the
archive chosen in the sidebar (the bundled demo until you pick another).
"""

import streamlit as st

from ui.state import archive_picker

st.set_page_config(page_title="Feedlens", page_icon=":material/photo_library:", layout="wide")

PAGES = [
    st.Page("app_pages/archive.py", title="Archive", icon=":material/photo_library:", default=True),
    st.Page("app_pages/filters.py", title="Filters", icon=":material/tune:", url_path="filters"),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/scatter_plot:", url_path="explore"),
    st.Page("app_pages/forecast.py", title="Forecast", icon=":material/trending_up:", url_path="forecast"),
    st.Page("app_pages/mosaic.py", title="Mosaic", icon=":material/grid_view:", url_path="mosaic"),
    st.Page("app_pages/faces.py", title="Faces", icon=":material/face:", url_path="faces"),
]

page = st.navigation(PAGES)
archive_picker()
page.run()
