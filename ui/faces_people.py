"""The People tab of the Faces page: a gallery of people, one person's faces and photos, name/merge/split.

The grouping comes from :func:`core.faces.people.find_people`; edits go
through :func:`core.faces.people.rename_person`, ``merge_people`` and
``split_person``, then the page reruns. Names and file names are shown with
``st.text`` only.
"""

from __future__ import annotations

import hashlib

import pandas as pd
import streamlit as st

from core.cache import DiskCache
from core.faces.draw import draw_faces
from core.faces.engine import SAME_PERSON_THRESHOLD
from core.faces.index import face_chip
from core.faces.people import People, merge_people, rename_person, split_person
from ui.faces_common import likes_text, plural, preview, short
from ui.flash import flash
from ui.images import inline

__all__ = ["people_tab"]

GALLERY_COLUMNS = 6
GALLERY_PAGE = 24
PHOTOS_PAGE = 12


def people_tab(people: People, catalogue: pd.DataFrame, cache: DiskCache, suffix: str) -> None:
    """The whole tab; ``suffix`` marks illustrative likes (" (illustrative)")."""
    if len(people) == 0:
        st.info("No recognisable faces in the indexed photos yet.")
        return
    gallery(people, cache, suffix)
    st.divider()
    st.subheader("Person")
    pid, labels, signature = person_picker(people)
    person = people.table.set_index("person_id").loc[pid]
    head = st.columns([1, 5])
    with head[0]:
        chip = face_chip(person["sha256"], person["face_no"], cache)
        if chip is not None:
            st.image(inline(chip), width="stretch")
    with head[1]:
        st.text(person["name"])
        st.text(f"{plural(person['n_faces'], 'face')} in {plural(person['n_photos'], 'photo')}, "
                f"{plural(person['n_posts'], 'post')} · {likes_text(person['mean_likes'])} mean{suffix}")
    edit_person(people, pid, labels, signature, cache)
    person_photos(people, pid, catalogue, suffix)


def _open_person(pid: str) -> None:
    st.session_state["faces_person"] = pid


def gallery(people: People, cache: DiskCache, suffix: str) -> None:
    """Every person as a face chip, a name and an Open button, most often seen first."""
    table = people.table
    n = len(table)
    st.caption(f"{plural(n, 'person') if n == 1 else f'{n} people'}, "
               f"most often seen first, with their mean likes per post{suffix}. A person is a group of faces "
               f"closer than {SAME_PERSON_THRESHOLD} to each other; open one to name, merge or split it.")
    n_pages = max(1, -(-n // GALLERY_PAGE))
    page = 1
    if n_pages > 1:
        page = st.columns([1, 5])[0].number_input(f"Page (of {n_pages})", 1, n_pages, 1, key="faces_gallery_page")
    shown = table.iloc[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]
    for start in range(0, len(shown), GALLERY_COLUMNS):
        cols = st.columns(GALLERY_COLUMNS)
        for col, row in zip(cols, shown.iloc[start : start + GALLERY_COLUMNS].itertuples()):
            with col, st.container(border=True):
                chip = face_chip(row.sha256, row.face_no, cache)
                if chip is not None:
                    st.image(inline(chip), width="stretch")
                st.text(row.name)
                st.text(f"{plural(row.n_posts, 'post')} · {likes_text(row.mean_likes, compact=True)}")
                st.button("Open", key=f"faces_open_{row.person_id}", on_click=_open_person,
                          args=(row.person_id,), width="stretch")


def person_picker(people: People) -> tuple[str, dict[str, str], str]:
    """The "Open a person" selector; returns the open person's id, the option labels and their signature."""
    by_id = people.table.set_index("person_id")
    options = list(people.table["person_id"])
    if st.session_state.get("faces_person") not in options:
        st.session_state["faces_person"] = options[0]
    labels = {p: f"{by_id.at[p, 'name']} ({plural(by_id.at[p, 'n_posts'], 'post')}, "
                 f"{plural(by_id.at[p, 'n_faces'], 'face')})" for p in options}
    # The widget is keyed by its labels: a selectbox whose option labels change
    # under the same key keeps showing the old label.
    signature = hashlib.sha256("\n".join(f"{p}={labels[p]}" for p in options).encode()).hexdigest()[:10]
    pick_key = f"faces_pick_{signature}"

    def picked() -> None:
        st.session_state["faces_person"] = st.session_state[pick_key]

    st.selectbox("Open a person", options, index=options.index(st.session_state["faces_person"]),
                 key=pick_key, format_func=labels.get, on_change=picked)
    return st.session_state["faces_person"], labels, signature


def edit_person(people: People, pid: str, labels: dict[str, str], signature: str, cache: DiskCache) -> None:
    """Name, merge and split forms for one person; each saves, flashes and reruns."""
    mine = people.faces_of(pid)
    edit_name, edit_merge, edit_split = st.columns(3)
    with edit_name, st.form(f"faces_name_form_{pid}", border=True):
        new_name = st.text_input("Name", value=people.book.names.get(pid, ""), max_chars=60,
                                 placeholder="e.g. Anna", key=f"faces_name_{pid}")
        if st.form_submit_button("Save name"):
            st.session_state["faces_person"] = rename_person(people, pid, new_name, cache=cache)
            flash("faces", "Name saved.")
            st.rerun()
    with edit_merge, st.container(border=True):
        others = [p for p in labels if p != pid]
        if others:
            other = st.selectbox("Same person as", others, key=f"faces_merge_{pid}_{signature}",
                                 format_func=labels.get)
            if st.button("Merge", key=f"faces_merge_btn_{pid}"):
                merge_people(people, pid, other, cache=cache)
                flash("faces", "People merged.")
                st.rerun()
        else:
            st.text("Nobody else to merge with.")
    with edit_split, st.container(border=True):
        if len(mine) > 1:
            face_labels = {r.face_key: f"{r.file} · face {r.face_no + 1}" for r in mine.itertuples()}
            chosen = st.multiselect("Not this person", list(face_labels), key=f"faces_split_{pid}",
                                    format_func=face_labels.get, placeholder="Pick faces")
            if st.button("Split off", key=f"faces_split_btn_{pid}", disabled=not chosen):
                st.session_state["faces_person"] = split_person(people, chosen, cache=cache)
                flash("faces", "Faces moved to a new person.")
                st.rerun()
        else:
            st.text("A single face: nothing to split.")


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
