"""Explore page (coming soon)."""

import streamlit as st

from ui.state import current_archive

st.title("Explore")
st.info("Coming soon: a t-SNE map of your photos from pixels and CNN features, with clusters.")
st.caption(f"It will work on the current archive: {current_archive().n_images} photos.")
