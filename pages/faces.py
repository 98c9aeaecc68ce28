"""Faces page (coming soon)."""

import streamlit as st

from ui.state import current_archive

st.title("Faces")
st.info("Coming soon: find, group and search the faces in your photos.")
st.caption(f"It will work on the current archive: {current_archive().n_images} photos.")
