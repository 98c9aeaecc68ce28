"""Forecast page (coming soon)."""

import streamlit as st

from ui.state import current_archive

st.title("Forecast")
st.info("Coming soon: like and comment forecasts for a new photo, trained on your own posts.")
st.caption(f"It will work on the current archive: {current_archive().n_images} photos.")
