"""The "Search by photo" tab of the Faces page: upload a photo, see who of the archive is in it.

The uploaded photo's faces are found once per upload (kept in the session as
a copy of at most ``QUERY_KEEP_SIDE`` pixels; the larger decode is dropped)
and looked up with :func:`core.faces.search.search_photo`. Names, file names
and captions are shown with ``st.text`` only.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from core.cache import DiskCache
from core.faces.draw import draw_faces
from core.faces.engine import SAME_PERSON_THRESHOLD
from core.faces.index import FaceIndex, face_chip
from core.faces.people import People
from core.faces.search import FaceMatches, search_photo
from core.image.geometry import fit_longest_side
from core.image.io import UPLOAD_TYPES, ImageError, decode_image
from ui.faces_common import engine_or_error, likes_text, plural, short
from ui.images import inline
from ui.text import md

__all__ = ["QUERY_KEEP_SIDE", "RESULT_KEY", "search_tab"]

QUERY_KEEP_SIDE = 640  # the searched photo as held in session state (it is shown at 480 px at most)
#: Session key of the analysed upload: ``(sha256, small image, (h, w), faces, problem)``.
RESULT_KEY = "faces_query_result"


def search_tab(index: FaceIndex, people: People, catalogue: pd.DataFrame, cache: DiskCache, suffix: str) -> None:
    """The whole tab; ``suffix`` marks illustrative likes (" (illustrative)")."""
    st.caption("Upload a photo: every face in it is looked up among the faces of this archive. "
               f"A distance below {SAME_PERSON_THRESHOLD} means the same person. The photo stays on this "
               "computer and is not added to the archive.")
    upload = st.file_uploader("A photo with one or more faces", type=UPLOAD_TYPES, key="faces_query")
    k = st.slider("Matches per face", 1, 10, 5, key="faces_k")
    if upload is None:
        return
    _, image, (h, w), query_faces, problem = analysed(upload.getvalue())
    if problem:
        st.error(f"This photo cannot be read: {md(problem)}")
        return
    if not query_faces:
        st.warning("No face found in this photo. Faces must be reasonably large, lit and turned "
                   "towards the camera (profiles and tiny faces are often missed).")
        st.image(inline(image), width=320)
        return
    boxes = [f.box / np.array([w, h, w, h]) for f in query_faces]
    st.image(inline(draw_faces(image, boxes, labels=[str(i + 1) for i in range(len(boxes))])), width=480)
    st.text(f"{plural(len(query_faces), 'face')} found in {upload.name}.")
    found = search_photo(query_faces, index, k=k, people=people, catalogue=catalogue)
    for i, face_matches in enumerate(found, start=1):
        matches_row(i, face_matches, k, cache, suffix)


def analysed(data: bytes) -> tuple:
    """The faces of an uploaded photo, found once per upload and kept in the session."""
    digest = hashlib.sha256(data).hexdigest()
    found = st.session_state.get(RESULT_KEY)
    if found is None or found[0] != digest:
        engine = engine_or_error()
        if engine is None:
            st.stop()
        try:
            image = np.asarray(decode_image(data, max_side=1600).pixels)
        except ImageError as exc:
            found = (digest, None, (0, 0), None, str(exc))
        else:
            with st.spinner("Looking for faces…"):
                # Only a small copy stays in the session; boxes are drawn as fractions of the full size.
                found = (digest, fit_longest_side(image, QUERY_KEEP_SIDE), image.shape[:2], engine.analyze(image), None)
            del image
        st.session_state[RESULT_KEY] = found
    return found


def matches_row(number: int, found: FaceMatches, k: int, cache: DiskCache, suffix: str) -> None:
    """One face of the searched photo and its nearest faces in the archive."""
    face = found.face
    with st.container(border=True):
        cols = st.columns(k + 1)
        with cols[0]:
            st.image(inline(face.chip), width="stretch")
            st.text(f"Face {number}")
        if not face.recognisable:
            cols[1].text(f"Too small to recognise ({int(face.box[2])} px wide).")
            return
        if found.matches is None:
            cols[1].text("The face index has no faces to compare with yet.")
            return
        with cols[0]:
            if found.same_person_posts:
                st.text(f"Seen in {plural(found.same_person_posts, 'post')}" + (" or more" if found.maybe_more else ""))
            else:
                st.text("Nobody in this archive")
        for col, m in zip(cols[1:], found.matches.itertuples()):
            with col:
                chip = face_chip(m.sha256, m.face_no, cache)
                if chip is not None:
                    st.image(inline(chip), width="stretch")
                verdict = "same person" if m.same_person else "another person"
                st.text(f"{m.distance:.2f} · {verdict}")
                if m.person is not None:
                    st.text(m.person)
                st.text(str(m.file))
                st.text(f"{likes_text(m.likes)}{suffix}")
                st.text(short(m.caption, 60))
