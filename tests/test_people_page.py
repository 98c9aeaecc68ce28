"""Streamlit AppTest: the Faces page's "Who is this?" queue on a real folder of faces.

The folder (:func:`friends_folder`): Drew Barrymore in 8 Glint crops, which
the clustering splits in two (5 and 3), Keanu Reeves and Tina Fey in 4 each,
and one group photo of Keanu beside Tina.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.archive import open_archive
from core.cache import default_cache
from core.faces.people import PeopleBook

REPO = Path(__file__).resolve().parents[1]
CROPS = {"Drew_Barrymore": [361, 362, 363, 365, 366, 367, 368, 370], "Keanu_Reeves": [5458, 5459, 5460, 5461],
         "Tina_Fey": [8983, 8984, 8985, 8986]}


def friends_folder(data_dir: Path, target: Path) -> Path:
    """17 photos: the crops above, and Keanu (5462) beside Tina (8987) in ``Keanu_and_Tina.jpg``."""
    images = data_dir / "faces-glint-celeb24" / "images"
    target.mkdir(parents=True, exist_ok=True)
    for name, numbers in CROPS.items():
        for n in numbers:
            shutil.copy(images / name / f"{n}.png", target / f"{name}_{n}.png")
    size, gap = 160, 80
    canvas = Image.new("RGB", (2 * (size + gap) + gap, size + 2 * gap), (120, 120, 120))
    for i, crop in enumerate([images / "Keanu_Reeves" / "5462.png", images / "Tina_Fey" / "8987.png"]):
        canvas.paste(Image.open(crop).convert("RGB").resize((size, size)), (gap + i * (size + gap), gap))
    canvas.save(target / "Keanu_and_Tina.jpg", quality=92)
    return target


@pytest.fixture(autouse=True)
def models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    st.cache_resource.clear()
    yield
    st.cache_resource.clear()


def _page(archive) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.session_state["archive"] = archive
    at.run()
    at.switch_page("app_pages/faces.py").run()
    assert not at.exception, at.exception
    return at


def _texts(at: AppTest) -> list[str]:
    return [t.value for t in at.text]


def _name_in_queue(at: AppTest, name: str) -> None:
    at.text_input(key="faces_queue_name").input(name)
    at.button(key="FormSubmitter:faces_queue_form-Name them").click().run()
    assert not at.exception, at.exception
    assert any(s.value == f"Named {name}." for s in at.success), [s.value for s in at.success]


def test_the_queue_names_people_and_merges_the_look_alike_half(data_dir, tmp_path):
    archive = open_archive(friends_folder(data_dir, tmp_path / "friends"), cache=default_cache())
    at = _page(archive)
    at.button(key="faces_build").click().run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("4 unnamed people to go") for c in at.caption)
    assert at.text[1].value.endswith("5 faces in 5 photos")  # the largest first

    for name in ("Drew", "Keanu", "Tina"):
        _name_in_queue(at, name)
    # Drew's other half is left, and the queue says who it looks like.
    assert any(c.value.startswith("1 unnamed person to go") for c in at.caption)
    question = next(t for t in _texts(at) if t.startswith("Is this "))
    assert question.startswith("Is this Drew? (distance 0.")

    # Skip it, bring it back, then accept: Drew has all 8 faces.
    at.button(key="faces_queue_skip").click().run()
    assert "Nobody left to name (1 person skipped)." in _texts(at)
    at.button(key="faces_queue_unskip").click().run()
    at.button(key="faces_queue_yes").click().run()
    assert not at.exception, at.exception
    assert any(s.value == "Added to Drew." for s in at.success)
    assert "Everyone shown is named." in _texts(at)
    book = PeopleBook.load(archive.key, default_cache())
    drew = book.named("Drew")
    assert sum(pid == drew for pid in book.assign.values()) == 8

    # Naming Keanu "Tina" would make the two faces of Keanu_and_Tina.jpg one person: the page asks.
    keanu = book.named("Keanu")
    at.button(key=f"faces_open_{keanu}").click().run()
    at.text_input(key=f"faces_name_{keanu}").input("tina")
    at.button(key=f"FormSubmitter:faces_name_form_{keanu}-Save name").click().run()
    assert not at.exception, at.exception
    warning = next(w.value for w in at.warning).replace("\\", "")  # Markdown source: user text is escaped
    assert "Tina and Keanu are both in the photo Keanu_and_Tina.jpg" in warning and "Do it anyway?" in warning
    at.button(key="faces_confirm_no").click().run()
    assert not at.warning and PeopleBook.load(archive.key, default_cache()).named("Keanu") == keanu
    # Tina is never offered as "the same person as" Keanu.
    merge = next(s for s in at.selectbox if s.key.startswith(f"faces_merge_{keanu}_"))
    assert book.named("Tina") not in merge.options

    # A new session (the book is read from the cache): the same names, nobody left to name.
    again = _page(archive)
    assert "Everyone shown is named." in _texts(again)
    assert {"Drew", "Keanu", "Tina"} <= set(_texts(again))


def test_hiding_small_people_and_strangers(data_dir, tmp_path):
    archive = open_archive(friends_folder(data_dir, tmp_path / "friends"), cache=default_cache())
    at = _page(archive)
    at.button(key="faces_build").click().run()
    at.number_input(key="faces_min_faces").set_value(4)
    at.button(key="FormSubmitter:faces_min_form-Apply").click().run()
    assert not at.exception, at.exception
    assert any(c.value.startswith("3 of 4 people shown (1 hidden)") for c in at.caption)
    assert any(c.value.startswith("3 unnamed people to go") for c in at.caption)
    at.button(key="faces_queue_hide").click().run()  # the first in the queue is a stranger
    assert any(c.value.startswith("2 of 4 people shown (2 hidden)") for c in at.caption)
    at.toggle(key="faces_show_hidden").set_value(True).run()
    assert any(c.value.startswith("4 of 4 people shown (2 hidden)") for c in at.caption)
    assert PeopleBook.load(archive.key, default_cache()).min_faces == 4
    assert np.isfinite(len(PeopleBook.load(archive.key, default_cache()).hidden))
