"""Streamlit AppTest: the Faces page on the demo archive (astronaut, camera man, Grace Hopper)."""

from __future__ import annotations

from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.archive.demo import load_demo
from core.cache import default_cache
from core.faces.people import PeopleBook, post_person_labels

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    st.cache_resource.clear()  # no engine from another test (or model folder)
    yield
    st.cache_resource.clear()


def _faces_page() -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180).run()
    at.switch_page("app_pages/faces.py").run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def test_page_offers_to_build_the_index():
    at = _faces_page()
    assert [t.value for t in at.title] == ["Faces"]
    assert any("Private by design" in i.value for i in at.info)
    assert [b.label for b in at.button] == ["Build the face index"]


def test_build_name_merge_and_delete():
    at = _faces_page()
    at.button(key="faces_build").click().run()
    assert not at.exception, at.exception
    assert any(s.value == "Face index ready." for s in at.success)
    texts = _texts(at)
    assert {"Person 1", "Person 2", "Person 3"} <= set(texts)
    assert any(c.value.startswith("Face index: 3 faces in 15 photos") for c in at.caption)
    assert any(c.value.startswith("3 of 3 people shown (0 hidden)") for c in at.caption)
    assert not [s for s in at.selectbox if s.label == "Open a person"]  # no widget lists everyone

    # Name the person seen in grace_hopper.jpg: open each from the gallery until her photo shows.
    archive = load_demo()
    pid = next(p for p in ("p1", "p2", "p3") if _opens_photo(at, p, "grace_hopper.jpg"))
    at.text_input(key=f"faces_name_{pid}").input("Grace <i>Hopper</i>")
    at.button(key=f"FormSubmitter:faces_name_form_{pid}-Save name").click().run()
    assert not at.exception, at.exception
    assert "Grace <i>Hopper</i>" in _texts(at)
    assert any(c.value.startswith("2 unnamed people to go") for c in at.caption)
    labels = post_person_labels(archive.catalogue, archive.key, cache=default_cache(), named_only=True)
    assert list(labels.columns) == ["Grace <i>Hopper</i>"]
    assert labels.loc["grace_hopper"].iloc[0] == True  # noqa: E712
    assert labels.loc["astronaut"].iloc[0] == False  # noqa: E712
    # The gallery finds her by name.
    at.text_input(key="faces_find").input("grace").run()
    assert any(c.value.startswith("1 of 3 people shown") for c in at.caption)
    at.text_input(key="faces_find").input("").run()

    # Merge another person into her (the nearest first), then the gallery has two people.
    merge = next(s for s in at.selectbox if s.key.startswith(f"faces_merge_{pid}_"))
    assert len(merge.options) == 2
    merge.set_value(next(p for p in ("p1", "p2", "p3") if p != pid))
    at.button(key=f"faces_merge_btn_{pid}").click().run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("2 of 2 people shown") for c in at.caption)
    assert len(set(PeopleBook.load(archive.key, default_cache()).assign.values())) == 2

    # Delete the face index (names included): back to the start.
    at.checkbox(key="faces_delete_sure").check().run()
    at.button(key="faces_delete").click().run()
    assert not at.exception, at.exception
    assert any("Face index deleted" in s.value for s in at.success)
    assert [b.label for b in at.button] == ["Build the face index"]
    assert PeopleBook.load(archive.key, default_cache()).names == {}


def _opens_photo(at: AppTest, pid: str, file: str) -> bool:
    at.button(key=f"faces_open_{pid}").click().run()
    return any(t.startswith(f"{file} ·") for t in _texts(at))


def test_damaged_model_is_shown_not_raised(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    (tmp_path / "blaze_face_short_range.tflite").write_bytes(b"damaged")
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(tmp_path))
    at = _faces_page()
    at.button(key="faces_build").click().run()
    assert not at.exception, at.exception
    errors = [e.value for e in at.error]
    assert errors and "blaze_face_short_range.tflite" in errors[0] and "damaged" in errors[0]
