"""Filters page (coming soon)."""

import streamlit as st

from ui.state import current_archive

st.title("Filters")
st.info("Coming soon: classic image processing with live sliders.")
st.caption(f"It will work on the current archive: {current_archive().n_images} photos.")
