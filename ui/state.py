"""The current archive, shared by every page through ``st.session_state``.

Pages call :func:`current_archive`; the sidebar picker in
``streamlit_app.py`` calls :func:`archive_picker` to change it. The picker
also keeps the archive in the URL (``?archive=demo`` or ``?archive=<sha256
of the uploaded ZIP>``) and, the first time a session sees that parameter,
opens the archive it names (see :mod:`core.links`). With login on, the
archive every page sees has a per-user ``key`` (:func:`core.links.scoped_key`),
so whatever is saved per archive key is saved per user.

Only the catalogue (a table of file paths and metadata) is held per session;
pixels stay on disk (thumbnails in the content-addressed cache), and the
uploaded ZIP is dropped from the upload widget once it is imported.
"""

from __future__ import annotations

import dataclasses

import streamlit as st
from streamlit.runtime.scriptrunner import get_script_run_ctx

from core.archive.catalogue import Archive, load_folder, load_zip
from core.archive.demo import load_demo
from core.archive.uploads import is_upload_hash, open_held_upload, record_upload, upload_hash
from core.config import local_paths_allowed
from core.links import ARCHIVE_PARAM, DEMO, scoped_key
from ui.archive_instagram import instagram_source
from ui.auth import current_scope
from ui.flash import flash, show_flashes
from ui.jobs import run_job
from ui.share import consume, drop, write
from ui.text import md

__all__ = ["current_archive", "archive_picker"]

_KEY = "archive"
_MISSING = "archive_link_missing"  # an upload hash this server could not open for this user
_UPLOADER = "archive_uploader_n"  # bumped after an import so the widget lets go of the ZIP's bytes


@st.cache_resource(show_spinner="Preparing the demo archive…")
def _demo() -> Archive:
    return load_demo()


def current_archive() -> Archive:
    """The archive every page works on (the demo until the user picks another).

    With login on, its ``key`` is scoped to the logged-in user.
    """
    archive = st.session_state.get(_KEY)
    archive = archive if archive is not None else _demo()
    scope = current_scope()
    return dataclasses.replace(archive, key=scoped_key(archive.key, scope)) if scope else archive


def _import(label: str, run) -> None:
    """Run an import with a progress bar; keep the old archive on failure."""
    outcome = run_job(f"Importing {label}…", run, key="cancel_import",
                      note="Press Cancel (or leave the page) to stop; finished work is cached.",
                      failed=f"Could not import {label}")
    if outcome.cancelled:
        st.error("Import cancelled. Your current archive is unchanged.")
        return
    if not outcome.ok:
        st.error(f"{md(label)}: {md(outcome.error)} Your current archive is unchanged.")
        return
    archive = outcome.value
    if (sha := upload_hash(archive)) is not None:
        record_upload(sha, label, current_scope())
    st.session_state[_KEY] = archive
    st.session_state.pop(_MISSING, None)
    st.session_state[_UPLOADER] = st.session_state.get(_UPLOADER, 0) + 1
    flash("sidebar", f"Imported {archive.n_images} photos from {md(label)}")
    st.rerun()  # redraw every widget (sidebar included) with the new archive


def _release_upload(upload) -> None:
    """Free the uploaded ZIP's bytes held in server memory (it is extracted to disk by now).

    Streamlit keeps an upload in memory until the session ends or the user
    removes it in the widget; a 1 GB archive would stay there for the whole
    visit. The widget gets a new key (:data:`_UPLOADER`) as well, so it does
    not point at the freed file.
    """
    ctx = get_script_run_ctx()
    try:
        ctx.uploaded_file_mgr.remove_file(ctx.session_id, upload.file_id)
    except Exception:  # noqa: BLE001 - an older/newer Streamlit: the bytes go with the session instead
        pass


def _follow_link() -> None:
    """Open the archive named by the URL, the first time this session sees it."""
    raws = consume(ARCHIVE_PARAM)
    if not raws:
        return
    raw = raws[-1]
    if raw == DEMO:
        st.session_state[_KEY] = None
        return
    if not is_upload_hash(raw):
        st.toast("This link's “archive” setting cannot be used here, so the demo is shown.",
                 icon=":material/link_off:")
        return
    held = st.session_state.get(_KEY)
    if held is not None and upload_hash(held) == raw:
        return
    scope = current_scope()
    try:
        with st.spinner("Opening the archive in this link…"):
            archive = open_held_upload(raw, scope, owner_only=scope is not None)
    except Exception:  # noqa: BLE001 - a broken extraction reads as "not held"
        archive = None
    if archive is None:
        st.session_state[_MISSING] = raw
    else:
        st.session_state[_KEY] = archive


def _missing_notice(scope: str | None) -> None:
    """Say that the linked upload cannot be opened, and offer the demo."""
    where = ("This server does not hold that upload for your account: it was uploaded from another "
             "account, or the server has since dropped it.") if scope else (
             "The server no longer holds it: uploads are kept only as long as the server's cache keeps them.")
    with st.container(border=True, key="archive_link_missing_box"):
        st.warning(f"This link points to an uploaded archive that cannot be opened here. {where} "
                   "You are looking at the demo archive; upload the ZIP again in the sidebar to continue.",
                   icon=":material/link_off:")
        if st.button("Continue with the demo", key="archive_link_demo"):
            st.session_state.pop(_MISSING, None)
            st.rerun()


def _write_link(archive: Archive) -> str | None:
    """Keep the archive in the URL; return the upload hash, if it is an upload."""
    sha = upload_hash(archive) if st.session_state.get(_KEY) is not None else None
    missing = st.session_state.get(_MISSING)
    if missing:
        write(ARCHIVE_PARAM, missing)
    elif st.session_state.get(_KEY) is None:
        write(ARCHIVE_PARAM, DEMO)
    elif sha is not None:
        write(ARCHIVE_PARAM, sha)
    else:
        drop(ARCHIVE_PARAM)  # a folder on the server: not shareable
    return sha


def archive_picker() -> None:
    """Sidebar widgets to choose the archive: demo, uploaded ZIP, local folder or the Instagram API.

    Also follows and writes the ``?archive=`` link.
    """
    _follow_link()
    scope = current_scope()
    archive = current_archive()
    sha = _write_link(archive)
    if st.session_state.get(_MISSING):
        _missing_notice(scope)
    with st.sidebar:
        st.subheader("Archive")
        show_flashes("sidebar")
        st.text(f"{archive.name}: {archive.n_posts} posts, {archive.n_images} photos")
        if sha is not None:
            st.caption(":material/link: The address bar links to this archive: "
                       + ("only your account can open it." if scope else
                          "anyone with the link can open it while this server keeps the upload."))
        elif st.session_state.get(_KEY) is not None:
            st.caption(":material/link_off: A folder on this computer is not part of share links.")
        choices = ["Upload a ZIP"] + (["Open a folder"] if local_paths_allowed() else []) + ["Instagram API", "Demo"]
        mode = st.segmented_control("Source", choices, default=choices[0], key="archive_source", required=True,
                                    label_visibility="collapsed")
        if mode == "Upload a ZIP":
            upload = st.file_uploader(
                "Instaloader dump, Instagram export, CSV manifest or photos, as one ZIP",
                type=["zip"], key=f"archive_upload_{st.session_state.get(_UPLOADER, 0)}",
            )
            if upload is not None and st.button("Import ZIP", type="primary", key="import_zip"):

                def run(progress, upload=upload):
                    archive = load_zip(upload, name=upload.name, progress=progress)
                    _release_upload(upload)
                    return archive

                _import(upload.name, run)
        elif mode == "Open a folder":
            folder = st.text_input("Folder on this computer", key="archive_folder",
                                   placeholder="/home/me/instaloader/myaccount")
            if folder and st.button("Open folder", type="primary", key="import_folder"):
                _import(folder, lambda progress: load_folder(folder, progress=progress))
        elif mode == "Instagram API" and (chosen := instagram_source(st.session_state.get(_UPLOADER, 0))):
            _import(*chosen)
        elif mode == "Demo" and st.session_state.get(_KEY) is not None:
            if st.button("Back to the demo", key="use_demo"):
                st.session_state[_KEY] = None
                st.session_state.pop(_MISSING, None)
                st.rerun()
