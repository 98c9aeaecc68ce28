"""The People tab of the Faces page: the naming queue, a paged gallery, one person's faces and photos.

The grouping comes from :func:`core.faces.people.find_people`; edits go
through the edit verbs of :mod:`core.faces.people` (each saves the book),
then the page reruns. The gallery is paged and searched by name (no widget
lists every person), so an archive of thousands of faces opens fast. Names
and file names are shown with ``st.text`` only.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.cache import DiskCache
from core.faces.draw import draw_faces
from core.faces.engine import SAME_PERSON_THRESHOLD
from core.faces.index import face_chip
from core.faces.people import (
    People,
    hide_person,
    reject_person,
    remove_faces,
    set_cover,
    set_min_faces,
    split_person,
)
from core.faces.suggest import age_suggestions, merge_suggestions
from ui.faces_common import likes_text, plural, preview, short
from ui.faces_queue import guarded, pending_confirmation, queue_section
from ui.flash import flash
from ui.images import inline
from ui.text import md

__all__ = ["people_tab"]

GALLERY_COLUMNS = 6
GALLERY_PAGE = 24
PHOTOS_PAGE = 12
FACES_SHOWN = 12
MERGE_CHOICES = 10
SUGGESTIONS = 8


def people_tab(people: People, catalogue: pd.DataFrame, cache: DiskCache, suffix: str) -> None:
    """The whole tab; ``suffix`` marks illustrative likes (" (illustrative)")."""
    if len(people) == 0:
        st.info("No recognisable faces in the indexed photos yet.")
        return
    pending_confirmation(people, cache)
    queue_section(people, cache)
    suggestions_section(people, catalogue, cache)
    st.divider()
    gallery(people, cache, suffix)
    pid = st.session_state.get("faces_person")
    if pid not in set(people.table["person_id"]):
        pid = people.table["person_id"].iloc[0]
        st.session_state["faces_person"] = pid
    st.divider()
    person = people.table.set_index("person_id").loc[pid]
    st.subheader("Person")
    head = st.columns([1, 5])
    with head[0]:
        chip = face_chip(person["sha256"], person["face_no"], cache)
        if chip is not None:
            st.image(inline(chip), width="stretch")
    with head[1]:
        st.text(person["name"] + (" (hidden)" if person["hidden"] else ""))
        st.text(f"{plural(person['n_faces'], 'face')} in {plural(person['n_photos'], 'photo')}, "
                f"{plural(person['n_posts'], 'post')} · {likes_text(person['mean_likes'])} mean{suffix}")
    edit_person(people, pid, bool(person["hidden"]), cache)
    person_faces(people, pid, cache)
    person_photos(people, pid, catalogue, suffix)


def suggestions_section(people: People, catalogue: pd.DataFrame, cache: DiskCache) -> None:
    """Pairs of people who may be one, nearest first, and people who may be one person years apart."""
    near = merge_suggestions(people, k=SUGGESTIONS)
    aged = age_suggestions(people, catalogue, k=SUGGESTIONS)
    if near.empty and aged.empty:
        return
    with st.expander(f"Merge suggestions ({len(near) + len(aged)})", expanded=False):
        st.caption("Pairs of people who look alike, nearest first (people in one photo are never offered). "
                   "Nothing is merged until you say so.")
        for kind, pairs in (("near", near), ("aged", aged)):
            if kind == "aged" and len(pairs):
                st.caption("The same person years apart? Faces change with age: these two are far apart as a whole, "
                           "but the earlier one's last year looks like the later one's first.")
            for row in pairs.itertuples():
                _suggested_pair(people, cache, kind, row)


def _suggested_pair(people: People, cache: DiskCache, kind: str, row) -> None:
    by_id = people.table.set_index("person_id")
    cols = st.columns([1, 1, 4, 2, 2], vertical_alignment="center")
    for col, pid in zip(cols[:2], (row.person_a, row.person_b)):
        chip = face_chip(by_id.at[pid, "sha256"], by_id.at[pid, "face_no"], cache)
        if chip is not None:
            col.image(inline(chip), width="stretch")
    extra = f" · {row.years} (last year to first year {row.link_distance:.2f})" if kind == "aged" else ""
    cols[2].text(f"{row.name_a} and {row.name_b}: distance {row.distance:.2f}{extra}")
    key = f"faces_suggest_{kind}_{row.person_a}_{row.person_b}"
    if cols[3].button("Merge", key=f"{key}_yes", width="stretch"):
        guarded(people, cache, "merge", (row.person_a, row.person_b), "People merged.")
        st.rerun()
    if cols[4].button("Not the same", key=f"{key}_no", width="stretch"):
        reject_person(people, row.person_b, row.person_a, cache=cache)
        st.rerun()


def _signature(labels: dict[str, str]) -> str:
    """A short digest of a selector's options: a selectbox whose labels change under one key shows the old ones."""
    return hashlib.sha256("\n".join(f"{k}={v}" for k, v in labels.items()).encode()).hexdigest()[:10]


def _open_person(pid: str) -> None:
    st.session_state["faces_person"] = pid


def gallery(people: People, cache: DiskCache, suffix: str) -> None:
    """The people as face chips with a name and an Open button, most often seen first; paged, searchable."""
    st.subheader("Everyone")
    table = people.table
    controls = st.columns([2, 1, 1])
    query = controls[0].text_input("Find a person", key="faces_find", placeholder="a name, e.g. Anna")
    show_hidden = controls[1].toggle("Show hidden", key="faces_show_hidden")
    with controls[2].form("faces_min_form", border=False):
        least = st.number_input("Hide people with fewer faces than", 1, 1000, int(people.book.min_faces),
                                key="faces_min_faces")
        if st.form_submit_button("Apply"):
            set_min_faces(people.archive_key, int(least), cache=cache)
            st.rerun()
    shown = table if show_hidden else table[~table["hidden"]]
    if query.strip():
        shown = shown[shown["name"].str.casefold().str.contains(query.strip().casefold(), regex=False)]
    n, hidden = len(shown), int(table["hidden"].sum())
    st.caption(f"{n} of {len(table)} people shown ({hidden} hidden), most often seen first, with their mean likes "
               f"per post{suffix}. A person is a group of faces closer than {SAME_PERSON_THRESHOLD} to each other, "
               "never two faces of one photo; open one to name, merge or split it.")
    n_pages = max(1, -(-n // GALLERY_PAGE))
    page = 1
    if n_pages > 1:
        page = st.columns([1, 5])[0].number_input(f"Page (of {n_pages})", 1, n_pages, 1,
                                                  key=f"faces_gallery_page_{n_pages}")
    rows = shown.iloc[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]
    for start in range(0, len(rows), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for col, row in zip(cols, rows.iloc[start : start + GALLERY_COLUMNS].itertuples()):
            with col, st.container(border=True):
                chip = face_chip(row.sha256, row.face_no, cache)
                if chip is not None:
                    st.image(inline(chip), width="stretch")
                st.text(row.name)
                st.text(f"{plural(row.n_faces, 'face')} · {likes_text(row.mean_likes, compact=True)}")
                st.button("Open", key=f"faces_open_{row.person_id}", on_click=_open_person,
                          args=(row.person_id,), width="stretch")


def edit_person(people: People, pid: str, hidden: bool, cache: DiskCache) -> None:
    """Name, merge (nearest people first) and hide forms for one person; each saves, flashes and reruns."""
    edit_name, edit_merge, edit_hide = st.columns([2, 2, 1])
    with edit_name, st.form(f"faces_name_form_{pid}", border=True):
        new_name = st.text_input("Name", value=people.book.names.get(pid, ""), max_chars=60,
                                 placeholder="e.g. Anna", key=f"faces_name_{pid}")
        if st.form_submit_button("Save name"):
            guarded(people, cache, "rename", (pid, new_name), "Name saved.")
            st.rerun()
    with edit_merge, st.container(border=True):
        near = merge_suggestions(people, pid, k=MERGE_CHOICES, max_distance=float("inf"))
        if len(near):
            labels = {b: f"{name} ({d:.2f})" for b, name, d in zip(near["person_b"], near["name_b"], near["distance"])}
            other = st.selectbox("Same person as (nearest first)", list(labels), format_func=labels.get,
                                 key=f"faces_merge_{pid}_{_signature(labels)}")
            if st.button("Merge", key=f"faces_merge_btn_{pid}"):
                guarded(people, cache, "merge", (pid, other), "People merged.")
                st.rerun()
        else:
            st.text("Nobody else to merge with (people in one photo are never offered).")
    with edit_hide, st.container(border=True):
        if st.button("Show again" if hidden else "Hide", key=f"faces_hide_{pid}", width="stretch"):
            hide_person(people, pid, not hidden, cache=cache)
            flash("faces", "Shown again." if hidden else "Hidden.")
            st.rerun()


def person_faces(people: People, pid: str, cache: DiskCache) -> None:
    """The person's faces: take some out ("not this person", or a new person), choose the cover."""
    mine = people.faces_of(pid)
    st.text(f"Faces of this person ({len(mine)}; the first {min(len(mine), FACES_SHOWN)} shown)")
    cols = st.columns(FACES_SHOWN // 2)
    cover = people.table.set_index("person_id").at[pid, "face_key"]
    for i, face in enumerate(mine.head(FACES_SHOWN).itertuples()):
        with cols[i % len(cols)]:
            chip = face_chip(face.sha256, face.face_no, cache)
            if chip is not None:
                st.image(inline(chip), width="stretch")
            if face.face_key == cover:
                st.text("cover")
            elif st.button("Cover", key=f"faces_cover_{face.face_key}", width="stretch"):
                set_cover(people, pid, face.face_key, cache=cache)
                st.rerun()
    if len(mine) < 2:
        st.text("A single face: nothing to take out.")
        return
    face_labels = {r.face_key: f"{r.file} · face {r.face_no + 1}" for r in mine.itertuples()}
    with st.container(border=True):
        chosen = st.multiselect("Faces that are not this person", list(face_labels), key=f"faces_split_{pid}",
                                format_func=face_labels.get, placeholder="Pick faces")
        out, split = st.columns(2)
        if out.button("Not this person", key=f"faces_remove_btn_{pid}", disabled=not chosen,
                      help="They leave this person for good and go to whoever else they look like"):
            remove_faces(people, chosen, pid, cache=cache)
            flash("faces", f"{plural(len(chosen), 'face')} taken out; they will not come back to {md(people.book.display_name(pid))}.")
            st.rerun()
        if split.button("Split off as a new person", key=f"faces_split_btn_{pid}", disabled=not chosen):
            st.session_state["faces_person"] = split_person(people, chosen, cache=cache)
            flash("faces", "Faces moved to a new person.")
            st.rerun()


def person_photos(people: People, pid: str, catalogue: pd.DataFrame, suffix: str) -> None:
    """The photos a person appears in, their face boxed in orange, with likes, date and caption."""
    st.subheader("Photos of this person")
    mine = people.faces_of(pid)
    photo_rows = catalogue[catalogue["sha256"].isin(set(mine["sha256"]))]
    n_pages = max(1, -(-len(photo_rows) // PHOTOS_PAGE))
    page = 1
    if n_pages > 1:
        page = st.columns([1, 5])[0].number_input(f"Photos page (of {n_pages})", 1, n_pages, 1,
                                                  key=f"faces_photos_page_{pid}")
    all_faces = people.index.faces
    rows = photo_rows.iloc[(page - 1) * PHOTOS_PAGE : page * PHOTOS_PAGE]
    for start in range(0, len(rows), 3):
        cols = st.columns(3)
        for col, row in zip(cols, rows.iloc[start : start + 3].itertuples()):
            with col:
                image = preview(row.sha256, row.path)
                if image is not None:
                    boxes = all_faces[all_faces["sha256"] == row.sha256]
                    ours = boxes["face_key"].isin(set(mine["face_key"]))
                    st.image(inline(draw_faces(image, boxes[["x", "y", "w", "h"]].to_numpy(), highlight=ours)),
                             width="stretch")
                when = "date unknown" if pd.isna(row.timestamp) else row.timestamp.strftime("%Y-%m-%d")
                st.text(f"{row.file} · {likes_text(row.likes)}{suffix} · {when}")
                st.text(short(row.caption))
