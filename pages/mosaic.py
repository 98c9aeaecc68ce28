"""Mosaic page (coming soon)."""

import streamlit as st

from ui.state import current_archive

st.title("Mosaic")
st.info("Coming soon: a picture rebuilt from your photos.")
st.caption(f"It will work on the current archive: {current_archive().n_images} photos.")
