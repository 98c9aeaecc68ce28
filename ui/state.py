"""The current archive, shared by every page through ``st.session_state``.

Pages call :func:`current_archive`; the sidebar picker in
``streamlit_app.py`` calls :func:`archive_picker` to change it.
"""

from __future__ import annotations

import streamlit as st

from core.archive import Archive, ArchiveError, ImportCancelled, load_folder, load_zip
from core.config import local_paths_allowed
from core.demo import load_demo

__all__ = ["current_archive", "archive_picker"]

_KEY = "archive"
_FLASH = "archive_flash"


@st.cache_resource(show_spinner="Preparing the demo archive…")
def _demo() -> Archive:
    return load_demo()


def current_archive() -> Archive:
    """The archive every page works on (the demo until the user picks another)."""
    archive = st.session_state.get(_KEY)
    return archive if archive is not None else _demo()


def _import(label: str, run) -> None:
    """Run an import with a progress bar; keep the old archive on failure."""
    failure = None
    with st.status(f"Importing {label}…", expanded=True) as status:
        bar = st.progress(0.0, text="Reading the archive…")
        st.caption("Press Cancel (or leave the page) to stop; finished work is cached.")
        st.button("Cancel", key="cancel_import")

        def progress(done: int, total: int, message: str) -> None:
            bar.progress(done / max(total, 1), text=message)

        try:
            archive = run(progress)
        except ArchiveError as exc:
            failure = str(exc)
        except ImportCancelled:
            failure = "Import cancelled."
        except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
            failure = f"{label}: the import failed ({type(exc).__name__}: {exc})."
        if failure:
            status.update(label=f"Could not import {label}", state="error", expanded=False)
    if failure:
        st.error(f"{failure} Your current archive is unchanged.")
        return
    st.session_state[_KEY] = archive
    st.session_state[_FLASH] = f"Imported {archive.n_images} photos from {label}"
    st.rerun()  # redraw every widget (sidebar included) with the new archive


def archive_picker() -> None:
    """Sidebar widgets to choose the archive: demo, uploaded ZIP or local folder."""
    archive = current_archive()
    with st.sidebar:
        st.subheader("Archive")
        if flash := st.session_state.pop(_FLASH, None):
            st.success(flash, icon=":material/check:")
        st.text(f"{archive.name}: {archive.n_posts} posts, {archive.n_images} photos")
        choices = ["Upload a ZIP"] + (["Open a folder"] if local_paths_allowed() else []) + ["Demo"]
        mode = st.segmented_control("Source", choices, default=choices[0], key="archive_source", required=True,
                                    label_visibility="collapsed")
        if mode == "Upload a ZIP":
            upload = st.file_uploader(
                "Instaloader dump, Instagram export, CSV manifest or photos, as one ZIP",
                type=["zip"], key="archive_upload",
            )
            if upload is not None and st.button("Import ZIP", type="primary", key="import_zip"):
                _import(upload.name, lambda progress: load_zip(upload, name=upload.name, progress=progress))
        elif mode == "Open a folder":
            folder = st.text_input("Folder on this computer", key="archive_folder",
                                   placeholder="/home/me/instaloader/myaccount")
            if folder and st.button("Open folder", type="primary", key="import_folder"):
                _import(folder, lambda progress: load_folder(folder, progress=progress))
        elif mode == "Demo" and st.session_state.get(_KEY) is not None:
            if st.button("Back to the demo", key="use_demo"):
                st.session_state[_KEY] = None
                st.rerun()
