"""Faces page: find the people in the archive's photos, name them, search by photo.

Everything runs locally (core.faces): MediaPipe finds the faces, dlib's
ResNet describes them, and the results are cached per photo, so a second
visit is instant. Indexing runs in a worker process (``core.worker_jobs``); the
server holds one face engine for the search (``ui.resources.face_engine``). Names, captions and file names are shown with
``st.text`` (never as Markdown or HTML). The People tab lives in
``ui.faces_people``, the search tab in ``ui.faces_search``.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core import worker_jobs
from core.archive.catalogue import Archive
from core.cache import DiskCache, default_cache
from core.faces.index import FaceIndex, delete_face_index, index_status, load_face_index
from core.faces.people import People, PeopleBook, delete_people, find_people
from core.jobs import ModelUnavailableError
from ui.batch_status import show_batch_status
from ui.faces_people import people_tab
from ui.faces_queue import CONFIRM_KEY, SKIP_KEY
from ui.faces_search import RESULT_KEY, search_tab
from ui.flash import flash, show_flashes
from ui.jobs import JobCall, cancelled, clear_cancelled, run_job
from ui.state import current_archive
from ui.text import md

CANCEL_KEY = "faces_cancel"
#: Session keys of what the page keeps between runs (dropped when the index is deleted).
SESSION_KEYS = ("faces_index", "faces_index_token", "faces_people", "faces_people_token",
                RESULT_KEY, "faces_person", "faces_delete_sure", CONFIRM_KEY, SKIP_KEY)


def header(archive: Archive) -> None:
    st.title("Faces")
    st.text(f"Current archive: {archive.n_images} photos · {archive.name}")
    show_batch_status(archive)
    st.info(
        "Private by design: faces are found and compared on this computer, in your own archive only. "
        "No photo, face or name is uploaded or sent anywhere. The face index lives in Feedlens' local "
        "cache, and you can delete it in the “Index and privacy” tab.",
        icon=":material/lock:",
    )
    show_flashes("faces")


def index_section(archive: Archive, cache: DiskCache) -> int:
    """Offer to build (or continue) the face index; return how many photos are indexed.

    Stops the page while nothing is indexed yet.
    """
    done, total = index_status(archive.catalogue, cache)
    photos_word = "photos" if total == archive.n_images else "distinct photos"
    if cancelled(CANCEL_KEY):  # this run was started by Cancel
        clear_cancelled(CANCEL_KEY)
        if done < total:
            st.warning(f"Indexing cancelled: {done} of {total} {photos_word} indexed, kept for next time.",
                       icon=":material/pause_circle:")
    if done >= total:
        return done
    if done == 0:
        st.write(f"Build the face index to find the people in these {total} {photos_word}. "
                 "It runs on this computer at about ten photos a second, and is kept for next time.")
        label = "Build the face index"
    else:
        st.write(f"Face index: {done} of {total} {photos_word} indexed.")
        label = f"Continue indexing ({total - done} photos left)"
    if st.button(label, type="primary", key="faces_build", icon=":material/face:"):
        build_index(archive, cache)
    if done == 0:
        st.stop()
    st.caption("Showing the photos indexed so far.")
    return done


def build_index(archive: Archive, cache: DiskCache) -> None:
    """Index the photos not indexed yet, with a progress bar and Cancel; rerun when done.

    The finished index is packed (one cache entry), so later visits read one entry, not one per photo.
    """
    # In a worker process, which keeps its own face engine loaded (core.worker_jobs.face_index).
    outcome = run_job("Indexing faces…", JobCall(worker_jobs.face_index, (archive.catalogue,), cancel=True),
                      key=CANCEL_KEY, note="Press Cancel (or leave the page) to stop; indexed photos are kept.",
                      failed="Face indexing failed")
    if isinstance(outcome.exception, ModelUnavailableError):  # DlibModelError included
        st.error(f"The face models are not available, so faces cannot be found.\n\n{outcome.exception}",
                 icon=":material/error:")
    elif outcome.exception is not None:
        exc = outcome.exception
        # The message may name a photo file: user text, escaped (it reads the same).
        st.error(f"Face indexing failed ({type(exc).__name__}: {md(exc)}). Indexed photos are kept.")
    elif outcome.ok:
        flash("faces", "Face index ready.")
        st.rerun()


def load_people(archive: Archive, cache: DiskCache, done: int) -> tuple[FaceIndex, People]:
    """The face index and its people, kept in the session until the index or the saved names change."""
    token = (archive.key, done, st.session_state.get("faces_epoch", 0))
    if st.session_state.get("faces_index_token") != token:
        st.session_state["faces_index"] = load_face_index(archive.catalogue, cache)
        st.session_state["faces_index_token"] = token
    index = st.session_state["faces_index"]
    book = PeopleBook.load(archive.key, cache)
    book_token = (token, repr((sorted(book.assign.items()), sorted(book.names.items()), sorted(book.must.items()),
                               sorted((k, sorted(v)) for k, v in book.cannot.items()), sorted(book.hidden),
                               book.min_faces, sorted(book.covers.items()))))
    if st.session_state.get("faces_people_token") != book_token:
        st.session_state["faces_people"] = find_people(archive.catalogue, archive.key, cache=cache,
                                                       index=index, book=book)
        st.session_state["faces_people_token"] = book_token
    return index, st.session_state["faces_people"]


def index_tab(archive: Archive, index: FaceIndex, cache: DiskCache) -> None:
    """What the index holds, how it works, and deleting it."""
    catalogue = archive.catalogue
    too_small = int((~index.faces["recognisable"].astype(bool)).sum()) if len(index.faces) else 0
    cols = st.columns(5)
    cols[0].metric("Photos indexed", f"{index.n_done} / {index.n_photos}")
    cols[1].metric("Faces found", len(index.faces))
    cols[2].metric("Too small to recognise", too_small)
    cols[3].metric("Photos without faces", index.photos_without_faces)
    cols[4].metric("Unreadable photos", len(index.failed))
    if index.failed:
        files = catalogue.drop_duplicates("sha256").set_index("sha256")["file"]
        st.dataframe(pd.DataFrame({"file": [files.get(s, s) for s in index.failed],
                                   "problem": list(index.failed.values())}), hide_index=True)
    st.write(
        "How it works: MediaPipe's BlazeFace finds the faces; each face is aligned and turned into 128 "
        "numbers by dlib's face recognition network; faces whose numbers are close belong to the same "
        "person. All of it runs on this computer."
    )
    st.subheader("Delete the face index")
    st.write("This deletes every face found in this archive's photos and the names you gave to people. "
             "Your photos are not touched. You can build the index again at any time.")
    sure = st.checkbox("Yes, delete the face data of this archive", key="faces_delete_sure")
    if st.button("Delete the face index", key="faces_delete", disabled=not sure, icon=":material/delete:"):
        removed = delete_face_index(catalogue, cache)
        delete_people(archive.key, cache)
        for key in SESSION_KEYS:
            st.session_state.pop(key, None)
        st.session_state["faces_epoch"] = st.session_state.get("faces_epoch", 0) + 1
        flash("faces", f"Face index deleted ({removed} cached files removed).")
        st.rerun()


def main() -> None:
    archive = current_archive()
    cache = default_cache()
    suffix = " (illustrative)" if archive.illustrative_engagement else ""
    header(archive)
    if archive.n_images == 0:
        st.info("No photos in this archive. Pick another one in the sidebar.")
        st.stop()
    done = index_section(archive, cache)
    index, people = load_people(archive, cache, done)
    if index.complete:
        st.caption(f"Face index: {len(index.faces)} faces in {index.n_photos} photos "
                   f"({index.photos_without_faces} without faces), {len(people)} people.")
    tab_people, tab_search, tab_index = st.tabs(["People", "Search by photo", "Index and privacy"], key="faces_tab")
    with tab_people:
        people_tab(people, archive.catalogue, cache, suffix)
    with tab_search:
        search_tab(index, people, archive.catalogue, cache, suffix)
    with tab_index:
        index_tab(archive, index, cache)


main()
