"""The "Who is this?" queue of the Faces page, and the confirmation an edit across one photo needs.

The queue (:func:`core.faces.suggest.naming_queue`) shows the largest
unnamed person first with the nearest named person as a suggestion:
accept, reject, skip, type a name (Enter saves) or hide. An edit that would
make two faces of one photo one person raises
:class:`core.faces.people.SamePhotoError`; :func:`guarded` keeps it as a
pending question that :func:`pending_confirmation` asks on the next run.
Names are shown with ``st.text`` only.
"""

from __future__ import annotations

from typing import Callable

import streamlit as st

from core.cache import DiskCache
from core.faces.index import face_chip
from core.faces.people import (
    People,
    SamePhotoError,
    hide_person,
    merge_people,
    reject_person,
    rename_person,
)
from core.faces.suggest import naming_queue
from ui.faces_common import plural
from ui.flash import flash
from ui.images import inline
from ui.text import md

__all__ = ["CONFIRM_KEY", "SKIP_KEY", "guarded", "pending_confirmation", "queue_section"]

#: Session key of an edit waiting for "do it anyway": ``(message, description, kind, args)``.
CONFIRM_KEY = "faces_confirm"
#: Session key of the person ids skipped in the queue (this session only).
SKIP_KEY = "faces_skip"
QUEUE_FACES = 8

_EDITS: dict[str, Callable] = {"merge": merge_people, "rename": rename_person}


def guarded(people: People, cache: DiskCache, kind: str, args: tuple, done: str) -> bool:
    """Run the edit ``kind`` (``"merge"`` or ``"rename"``) with ``args``; on a same-photo clash, ask first.

    Returns ``True`` when the edit was saved (the caller reruns).
    """
    try:
        result = _EDITS[kind](people, *args, cache=cache)
    except SamePhotoError as exc:
        st.session_state[CONFIRM_KEY] = (str(exc), done, kind, args)
        return False
    if kind == "rename":
        st.session_state["faces_person"] = result
    flash("faces", done)
    return True


def pending_confirmation(people: People, cache: DiskCache) -> None:
    """Ask about an edit that would join two faces of one photo: do it anyway, or not."""
    pending = st.session_state.get(CONFIRM_KEY)
    if not pending:
        return
    message, done, kind, args = pending
    with st.container(border=True):
        st.warning(f"{md(message)} Do it anyway?", icon=":material/group:")
        yes, no = st.columns(2)
        if yes.button("Yes, they are one person", key="faces_confirm_yes", type="primary"):
            st.session_state.pop(CONFIRM_KEY, None)
            result = _EDITS[kind](people, *args, cache=cache, force=True)
            if kind == "rename":
                st.session_state["faces_person"] = result
            flash("faces", done)
            st.rerun()
        if no.button("No, keep them apart", key="faces_confirm_no"):
            st.session_state.pop(CONFIRM_KEY, None)
            st.rerun()


def queue_section(people: People, cache: DiskCache) -> None:
    """The largest unnamed person, the nearest named one as a suggestion, and the answers."""
    st.subheader("Who is this?")
    skipped = st.session_state.setdefault(SKIP_KEY, [])
    queue = naming_queue(people, skip=skipped)
    if queue.empty:
        if skipped:
            st.text(f"Nobody left to name ({plural(len(skipped), 'person')} skipped).")
            if st.button("Show the skipped again", key="faces_queue_unskip"):
                st.session_state[SKIP_KEY] = []
                st.rerun()
        else:
            st.text("Everyone shown is named.")
        return
    row = queue.iloc[0]
    pid = row["person_id"]
    st.caption(f"{len(queue)} unnamed {'person' if len(queue) == 1 else 'people'} to go, most faces first. "
               "Type a name and press Enter, or answer the suggestion.")
    with st.container(border=True, key="faces_queue_card"):
        mine = people.faces_of(pid).head(QUEUE_FACES)
        cols = st.columns(QUEUE_FACES)
        for col, face in zip(cols, mine.itertuples()):
            chip = face_chip(face.sha256, face.face_no, cache)
            if chip is not None:
                col.image(inline(chip), width="stretch")
        st.text(f"{row['name']}: {plural(int(row['n_faces']), 'face')} in {plural(int(row['n_photos']), 'photo')}")
        if row["suggestion"] is not None:
            name = str(row["suggestion_name"])
            theirs = people.table.set_index("person_id").loc[row["suggestion"]]
            face, question = st.columns([1, 7], vertical_alignment="center")
            chip = face_chip(theirs["sha256"], theirs["face_no"], cache)
            if chip is not None:
                face.image(inline(chip), width="stretch")
            question.text(f"Is this {name}? (distance {row['distance']:.2f})")
            yes, no, skip, hide = st.columns(4)
            if yes.button(f"Yes, {name}", key="faces_queue_yes", type="primary", width="stretch"):
                guarded(people, cache, "merge", (row["suggestion"], pid), f"Added to {md(name)}.")
                st.rerun()
            if no.button(f"No, not {name}", key="faces_queue_no", width="stretch"):
                reject_person(people, pid, row["suggestion"], cache=cache)
                st.rerun()
        else:
            st.text("Nobody named looks like this person yet.")
            skip, hide = st.columns(2)
        if skip.button("Skip", key="faces_queue_skip", width="stretch"):
            skipped.append(pid)
            st.rerun()
        if hide.button("Hide", key="faces_queue_hide", width="stretch", help="A stranger: hide this person"):
            hide_person(people, pid, cache=cache)
            flash("faces", "Hidden.")
            st.rerun()
        with st.form("faces_queue_form", border=False, clear_on_submit=True):
            name = st.text_input("Who is it?", max_chars=60, placeholder="e.g. Anna", key="faces_queue_name")
            if st.form_submit_button("Name them") and name.strip():
                guarded(people, cache, "rename", (pid, name), f"Named {md(name.strip())}.")
                st.rerun()
