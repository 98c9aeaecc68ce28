"""Faces page: find the people in the archive's photos, name them, search by photo.

Everything runs locally (core.faces.engine, core.faces.people): MediaPipe finds the
faces, dlib's ResNet describes them, and the results are cached per photo, so
a second visit is instant. Names, captions and file names are shown with
``st.text`` (never as Markdown or HTML). A searched photo is kept in the
session only as a copy of at most ``QUERY_KEEP_SIDE`` pixels (its faces are
found on the larger decode, then that is dropped).
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import streamlit as st

from core.archive.ingest import thumbnail_bytes
from core.cache import default_cache
from core.faces.dlib_net import DlibModelError
from core.faces.engine import (
    SAME_PERSON_THRESHOLD,
    FaceEngine,
    build_face_index,
    delete_face_index,
    draw_faces,
    face_chip,
    index_status,
    load_face_index,
)
from core.faces.people import PeopleBook, assign_people, delete_people, people_table
from core.image.io import UPLOAD_TYPES, ImageError, decode_image, load_image
from core.jobs import ModelUnavailableError
from ui.flash import flash, show_flashes
from ui.images import inline
from ui.state import current_archive

GALLERY_COLUMNS = 6
GALLERY_PAGE = 24
PHOTOS_PAGE = 12
QUERY_KEEP_SIDE = 640  # the searched photo as held in session state (it is shown at 480 px at most)


def _shrink(image: np.ndarray, side: int = QUERY_KEEP_SIDE) -> np.ndarray:
    """A copy whose longest side is at most ``side`` (the image itself if already small)."""
    from PIL import Image

    h, w = image.shape[:2]
    if max(h, w) <= side:
        return image
    scale = side / max(h, w)
    small = Image.fromarray(image).resize((max(1, round(w * scale)), max(1, round(h * scale))),
                                          Image.Resampling.LANCZOS)
    return np.asarray(small)


@st.cache_resource(show_spinner="Loading the face models…")
def _engine() -> FaceEngine:
    return FaceEngine()


def engine_or_error() -> FaceEngine | None:
    """The shared engine, or ``None`` after showing why it cannot load."""
    try:
        return _engine()
    except (ModelUnavailableError, DlibModelError) as exc:
        st.error(f"The face models are not available, so faces cannot be found.\n\n{exc}",
                 icon=":material/error:")
    return None


def short(text: object, n: int = 80) -> str:
    text = "" if text is None or (isinstance(text, float) and np.isnan(text)) else str(text)
    text = " ".join(text.split())
    return text[:n] + ("…" if len(text) > n else "")


def plural(n: int, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def likes_text(value: float, *, compact: bool = False) -> str:
    if value is None or pd.isna(value):
        return "likes unknown"
    if compact and value >= 1e6:
        return f"♥ {value / 1e6:.1f}M"
    if compact and value >= 1e4:
        return f"♥ {value / 1e3:.0f}k"
    return f"♥ {value:,.0f}"


@st.cache_data(max_entries=64, show_spinner=False)
def preview(sha256: str, path: str) -> np.ndarray | None:
    """A photo at most 640 px wide (the cached thumbnail if the file is gone)."""
    try:
        return load_image(path, max_side=640)
    except (ImageError, OSError):
        thumb = thumbnail_bytes(sha256, path, default_cache())
        return load_image(thumb) if thumb is not None else None


archive = current_archive()
catalogue = archive.catalogue
cache = default_cache()
suffix = " (illustrative)" if archive.illustrative_engagement else ""

st.title("Faces")
st.text(f"Current archive: {archive.n_images} photos · {archive.name}")
st.info(
    "Private by design: faces are found and compared on this computer, in your own archive only. "
    "No photo, face or name is uploaded or sent anywhere. The face index lives in Feedlens' local "
    "cache, and you can delete it in the “Index and privacy” tab.",
    icon=":material/lock:",
)
show_flashes("faces")

if archive.n_images == 0:
    st.info("No photos in this archive. Pick another one in the sidebar.")
    st.stop()

# Index -------------------------------------------------------------------------------
done, total = index_status(catalogue, cache)
photos_word = "photos" if total == archive.n_images else "distinct photos"
if st.session_state.get("faces_cancel") and done < total:  # this run was started by Cancel
    st.warning(f"Indexing cancelled: {done} of {total} {photos_word} indexed, kept for next time.",
               icon=":material/pause_circle:")
if done < total:
    if done == 0:
        st.write(f"Build the face index to find the people in these {total} {photos_word}. "
                 "It runs on this computer at about ten photos a second, and is kept for next time.")
        label = "Build the face index"
    else:
        st.write(f"Face index: {done} of {total} {photos_word} indexed.")
        label = f"Continue indexing ({total - done} photos left)"
    if st.button(label, type="primary", key="faces_build", icon=":material/face:"):
        engine = engine_or_error()
        if engine is None:
            st.stop()
        failure = None
        with st.status("Indexing faces…", expanded=True) as status:
            bar = st.progress(done / total, text=f"{done} of {total} photos indexed")
            st.caption("Press Cancel (or leave the page) to stop; indexed photos are kept.")
            st.button("Cancel", key="faces_cancel")

            def progress(n_done: int, n_total: int, message: str) -> None:
                bar.progress(n_done / max(n_total, 1), text=message)

            try:
                build_face_index(catalogue, engine, cache=cache, progress=progress)
            except Exception as exc:  # noqa: BLE001 - never show a traceback to the user
                failure = f"Face indexing failed ({type(exc).__name__}: {exc}). Indexed photos are kept."
            if failure:
                status.update(label="Face indexing failed", state="error", expanded=False)
        if failure:
            st.error(failure)
        else:
            flash("faces", "Face index ready.")
            st.rerun()
    if done == 0:
        st.stop()
    st.caption("Showing the photos indexed so far.")

token = (archive.key, done, st.session_state.get("faces_epoch", 0))
if st.session_state.get("faces_index_token") != token:
    st.session_state["faces_index"] = load_face_index(catalogue, cache)
    st.session_state["faces_index_token"] = token
index = st.session_state["faces_index"]

book = PeopleBook.load(archive.key, cache)
book_token = (token, repr(sorted(book.assign.items())), repr(sorted(book.names.items())))
if st.session_state.get("faces_people_token") != book_token:
    ids = assign_people(index, book)
    st.session_state["faces_people"] = (ids, people_table(index, ids, book, catalogue))
    st.session_state["faces_people_token"] = book_token
person_ids, people = st.session_state["faces_people"]
faces = index.recognisable.assign(person_id=person_ids.reindex(index.recognisable["face_key"]).to_numpy())

if index.complete:
    st.caption(f"Face index: {len(index.faces)} faces in {index.n_photos} photos "
               f"({index.photos_without_faces} without faces), {len(people)} people.")


def edit_book(action):
    """Apply an edit to the saved book (after freezing the current grouping); return its result."""
    fresh = PeopleBook.load(archive.key, cache)
    fresh.freeze(list(person_ids.index), list(person_ids.values))
    result = action(fresh)
    fresh.save(archive.key, cache)
    return result


tab_people, tab_search, tab_index = st.tabs(["People", "Search by photo", "Index and privacy"], key="faces_tab")

# People ------------------------------------------------------------------------------
with tab_people:
    if people.empty:
        st.info("No recognisable faces in the indexed photos yet.")
    else:
        st.caption(f"{plural(len(people), 'person') if len(people) == 1 else f'{len(people)} people'}, "
                   f"most often seen first, with their mean likes per post{suffix}. A person is a group of faces "
                   f"closer than {SAME_PERSON_THRESHOLD} to each other; open one to name, merge or split it.")
        n_pages = max(1, -(-len(people) // GALLERY_PAGE))
        page = 1
        if n_pages > 1:
            page = st.columns([1, 5])[0].number_input(f"Page (of {n_pages})", 1, n_pages, 1, key="faces_gallery_page")
        shown = people.iloc[(page - 1) * GALLERY_PAGE : page * GALLERY_PAGE]

        def open_person(pid: str) -> None:
            st.session_state["faces_person"] = pid

        for start in range(0, len(shown), GALLERY_COLUMNS):
            cols = st.columns(GALLERY_COLUMNS)
            for col, row in zip(cols, shown.iloc[start : start + GALLERY_COLUMNS].itertuples()):
                with col, st.container(border=True):
                    chip = face_chip(row.sha256, row.face_no, cache)
                    if chip is not None:
                        st.image(inline(chip), width="stretch")
                    st.text(row.name)
                    st.text(f"{plural(row.n_posts, 'post')} · {likes_text(row.mean_likes, compact=True)}")
                    st.button("Open", key=f"faces_open_{row.person_id}", on_click=open_person,
                              args=(row.person_id,), width="stretch")

        st.divider()
        st.subheader("Person")
        options = list(people["person_id"])
        if st.session_state.get("faces_person") not in options:
            st.session_state["faces_person"] = options[0]
        by_id = people.set_index("person_id")
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
        pid = st.session_state["faces_person"]
        person = by_id.loc[pid]
        mine = faces[faces["person_id"] == pid]

        head = st.columns([1, 5])
        with head[0]:
            chip = face_chip(person["sha256"], person["face_no"], cache)
            if chip is not None:
                st.image(inline(chip), width="stretch")
        with head[1]:
            st.text(person["name"])
            st.text(f"{plural(person['n_faces'], 'face')} in {plural(person['n_photos'], 'photo')}, "
                    f"{plural(person['n_posts'], 'post')} · {likes_text(person['mean_likes'])} mean{suffix}")

        edit_name, edit_merge, edit_split = st.columns(3)
        with edit_name, st.form(f"faces_name_form_{pid}", border=True):
            new_name = st.text_input("Name", value=book.names.get(pid, ""), max_chars=60,
                                     placeholder="e.g. Anna", key=f"faces_name_{pid}")
            if st.form_submit_button("Save name"):
                kept = edit_book(lambda b: b.rename(pid, new_name))
                st.session_state["faces_person"] = kept
                flash("faces", "Name saved.")
                st.rerun()
        with edit_merge, st.container(border=True):
            others = [p for p in options if p != pid]
            if others:
                other = st.selectbox("Same person as", others, key=f"faces_merge_{pid}_{signature}",
                                     format_func=labels.get)
                if st.button("Merge", key=f"faces_merge_btn_{pid}"):
                    edit_book(lambda b: b.merge(pid, other))
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
                    new_pid = edit_book(lambda b: b.split(chosen))
                    st.session_state["faces_person"] = new_pid
                    flash("faces", "Faces moved to a new person.")
                    st.rerun()
            else:
                st.text("A single face: nothing to split.")

        st.subheader("Photos of this person")
        photo_rows = catalogue[catalogue["sha256"].isin(set(mine["sha256"]))]
        n_photo_pages = max(1, -(-len(photo_rows) // PHOTOS_PAGE))
        ppage = 1
        if n_photo_pages > 1:
            ppage = st.columns([1, 5])[0].number_input(f"Photos page (of {n_photo_pages})", 1, n_photo_pages, 1,
                                                       key=f"faces_photos_page_{pid}")
        all_faces = index.faces
        rows = photo_rows.iloc[(ppage - 1) * PHOTOS_PAGE : ppage * PHOTOS_PAGE]
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

# Search ------------------------------------------------------------------------------
with tab_search:
    st.caption("Upload a photo: every face in it is looked up among the faces of this archive. "
               f"A distance below {SAME_PERSON_THRESHOLD} means the same person. The photo stays on this "
               "computer and is not added to the archive.")
    upload = st.file_uploader("A photo with one or more faces", type=UPLOAD_TYPES, key="faces_query")
    k = st.slider("Matches per face", 1, 10, 5, key="faces_k")
    if upload is not None:
        data = upload.getvalue()
        digest = hashlib.sha256(data).hexdigest()
        found = st.session_state.get("faces_query_result")
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
                    found = (digest, _shrink(image), image.shape[:2], engine.analyze(image), None)
                del image
            st.session_state["faces_query_result"] = found
        _, image, (h, w), query_faces, problem = found
        if problem:
            st.error(f"This photo cannot be read: {problem}")
        elif not query_faces:
            st.warning("No face found in this photo. Faces must be reasonably large, lit and turned "
                       "towards the camera (profiles and tiny faces are often missed).")
            st.image(inline(image), width=320)
        else:
            boxes = [f.box / np.array([w, h, w, h]) for f in query_faces]
            st.image(inline(draw_faces(image, boxes, labels=[str(i + 1) for i in range(len(boxes))])), width=480)
            st.text(f"{plural(len(query_faces), 'face')} found in {upload.name}.")
            names = people.set_index("person_id")["name"] if not people.empty else pd.Series(dtype=str)
            for i, face in enumerate(query_faces, start=1):
                with st.container(border=True):
                    cols = st.columns(k + 1)
                    with cols[0]:
                        st.image(inline(face.chip), width="stretch")
                        st.text(f"Face {i}")
                    if not face.recognisable:
                        cols[1].text(f"Too small to recognise ({int(face.box[2])} px wide).")
                        continue
                    if len(index.recognisable) == 0:
                        cols[1].text("The face index has no faces to compare with yet.")
                        continue
                    matches = index.search(face.embedding, k=k)
                    with cols[0]:
                        if matches["same_person"].any():
                            st.text(f"Seen in {plural(matches.loc[matches['same_person'], 'post_id'].nunique(), 'post')}"
                                    + (" or more" if matches["same_person"].all() else ""))
                        else:
                            st.text("Nobody in this archive")
                    for col, m in zip(cols[1:], matches.itertuples()):
                        with col:
                            chip = face_chip(m.sha256, m.face_no, cache)
                            if chip is not None:
                                st.image(inline(chip), width="stretch")
                            verdict = "same person" if m.same_person else "another person"
                            st.text(f"{m.distance:.2f} · {verdict}")
                            pid = person_ids.get(m.face_key)
                            if pid is not None and pid in names.index:
                                st.text(names[pid])
                            st.text(str(m.file))
                            post = catalogue[catalogue["sha256"] == m.sha256].head(1)
                            if len(post):
                                st.text(f"{likes_text(post['likes'].iloc[0])}{suffix}")
                                st.text(short(post["caption"].iloc[0], 60))

# Index and privacy ---------------------------------------------------------------------
with tab_index:
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
        for key in ("faces_index", "faces_index_token", "faces_people", "faces_people_token",
                    "faces_query_result", "faces_person", "faces_delete_sure"):
            st.session_state.pop(key, None)
        st.session_state["faces_epoch"] = st.session_state.get("faces_epoch", 0) + 1
        flash("faces", f"Face index deleted ({removed} cached files removed).")
        st.rerun()
