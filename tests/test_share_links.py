"""Share links and per-user scopes: parsing, held uploads, and pages opened from a link (AppTest).

The sidebar is not read here (AppTest drops it on a second run with
``st.navigation``); the real-browser flows are in tests/test_browser_hosted.py.
"""

from __future__ import annotations

import shutil
import zipfile
from pathlib import Path

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.archive.catalogue import load_zip
from core.archive.uploads import held_upload, is_upload_hash, open_held_upload, record_upload, upload_hash
from core.cache import default_cache
from core.faces.people import PeopleBook
from core.links import parse_choice, parse_choices, parse_flag, parse_number, scoped_key, user_scope

REPO = Path(__file__).resolve().parents[1]
HOSTILE = ["<img src=x onerror=alert(1)>", "javascript:alert(1)", "x" * 10_000, "", " ", "\x00", "💥", "1e309",
           "nan", "-inf", "../../etc/passwd", "%00", "None", "[1,2]"]


@pytest.fixture(autouse=True)
def fresh_streamlit_caches():
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _likes_zip(data_dir: Path, target: Path) -> Path:
    source = data_dir / "instaaudit-likes-in-filenames" / "posts"
    with zipfile.ZipFile(target, "w") as zf:
        for path in sorted(source.iterdir())[:6]:
            zf.write(path, f"posts/{path.name}")
    return target


# -- parsing ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw", HOSTILE)
def test_hostile_values_are_refused_by_every_parser(raw):
    assert parse_choice(raw, ["K-Means", "HDBSCAN", 8, 16]) is None
    assert parse_choices([raw], ["exact", "greedy"]) in (None, [])  # "" alone is the empty selection
    assert parse_number(raw, 2, 50) is None
    assert parse_number(raw, 2, 50, integer=True) is None
    assert parse_flag(raw) is None
    assert not is_upload_hash(raw)


def test_valid_values_round_trip():
    assert parse_choice("HDBSCAN", ["K-Means", "HDBSCAN"]) == "HDBSCAN"
    assert parse_choice("16", [8, 16, 32]) == 16
    assert parse_choice("on", [False, True]) is True
    assert parse_choices(["greedy", "exact"], ["exact", "greedy", "lp"]) == ["exact", "greedy"]
    assert parse_choices(["exact"] * 65, ["exact"]) is None  # too many values
    assert parse_number("12", 2, 50, integer=True) == 12
    assert parse_number("12.5", 2, 50, integer=True) is None
    assert parse_number("51", 2, 50) is None
    assert parse_number("2.5", 0.0, 30.0) == 2.5
    assert parse_flag("OFF") is False and parse_flag("1") is True


# -- uploads by hash --------------------------------------------------------------------


def test_upload_link_opens_only_while_held_and_with_login_only_for_its_owner(data_dir, tmp_path):
    cache = default_cache()
    archive = load_zip(_likes_zip(data_dir, tmp_path / "likes.zip"), name="likes.zip")
    sha = upload_hash(archive)
    assert sha is not None and is_upload_hash(sha)
    alice, bob = user_scope("https://id.test", "alice"), user_scope("https://id.test", "bob")
    record_upload(sha, "likes.zip", alice)

    # Login on: only the uploader's scope opens it; login off: anyone, while the server holds it.
    assert held_upload(sha, alice, owner_only=True) == "likes.zip"
    assert held_upload(sha, bob, owner_only=True) is None
    assert open_held_upload(sha, bob, owner_only=True) is None
    assert held_upload(sha, None) == "likes.zip"
    reopened = open_held_upload(sha, alice, owner_only=True)
    assert reopened is not None and reopened.key == archive.key
    assert list(reopened.catalogue["file"]) == list(archive.catalogue["file"])

    for bad in ["../" * 8 + "etc", sha.upper(), sha[:-1], "demo", ""]:
        assert held_upload(bad, None) is None
    with pytest.raises(ValueError):
        record_upload(sha, "x", "../../evil")

    shutil.rmtree(cache.root / "archives" / sha)  # the server dropped the upload
    assert held_upload(sha, alice, owner_only=True) is None
    assert open_held_upload(sha, None) is None


def test_scoped_keys_keep_face_names_apart(tmp_path):
    alice, bob = user_scope("https://id.test", "alice"), user_scope("https://id.test", "bob")
    assert alice != bob != user_scope("https://other.test", "alice")
    key = "f" * 64
    book = PeopleBook()
    book.names["p1"] = "Anna"
    book.save(scoped_key(key, alice))
    assert PeopleBook.load(scoped_key(key, alice)).names == {"p1": "Anna"}
    assert PeopleBook.load(scoped_key(key, bob)).names == {}
    assert PeopleBook.load(key).names == {}  # login off: the unscoped book is another one again


# -- pages opened from a link (AppTest) ----------------------------------------------------


def _app(**params) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    for name, value in params.items():
        at.query_params[name] = value
    return at


def _warnings(at: AppTest) -> str:
    return "\n".join(w.value for w in at.warning)


def test_entry_writes_the_demo_link():
    at = _app().run()
    assert not at.exception, at.exception
    assert at.query_params["archive"] == "demo"


def test_link_to_an_upload_the_server_no_longer_holds_says_so_and_offers_the_demo():
    gone = "ab" * 32
    at = _app(archive=gone).run()
    assert not at.exception, at.exception
    assert "cannot be opened here" in _warnings(at) and "no longer holds" in _warnings(at)
    assert [m.value for m in at.metric][:2] == ["15", "15"]  # the demo is shown meanwhile
    assert at.query_params["archive"] == gone  # the link is kept until the user decides
    at.button(key="archive_link_demo").click().run()
    assert "cannot be opened here" not in _warnings(at)
    assert at.query_params["archive"] == "demo"


def test_hostile_archive_link_falls_back_to_the_demo():
    at = _app(archive="<img src=x onerror=alert(1)>").run()
    assert not at.exception, at.exception
    assert any("archive" in t.value for t in at.toast)
    assert [m.value for m in at.metric][:2] == ["15", "15"]
    assert at.query_params["archive"] == "demo"


def test_link_reopens_a_held_upload(data_dir, tmp_path):
    archive = load_zip(_likes_zip(data_dir, tmp_path / "likes.zip"), name="likes.zip")
    sha = upload_hash(archive)
    record_upload(sha, "likes.zip", None)
    at = _app(archive=sha).run()
    assert not at.exception, at.exception
    assert [m.value for m in at.metric][:2] == ["6", "6"]
    assert at.text[0].value.startswith("likes.zip")
    assert at.query_params["archive"] == sha


def test_explore_link_restores_its_settings():
    at = _app(features="colour_texture", perplexity="3", clusters="K-Means", k="3", colour="Likes").run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="explore_features").value == "colour_texture"
    assert at.slider(key="explore_perplexity").value == 3
    assert at.segmented_control(key="explore_cluster_method").value == "K-Means"
    k_slider = next(s for s in at.slider if s.key.startswith("explore_k::"))
    assert k_slider.value == 3
    assert at.segmented_control(key="explore_colour_by").value == "Likes"
    assert not at.toast
    # The user's changes go back into the link (and a stored link value is not read again).
    k_slider.set_value(4).run()
    assert at.query_params["k"] == "4"
    at.slider(key="explore_perplexity").set_value(4).run()
    assert at.query_params["perplexity"] == "4" and at.query_params["features"] == "colour_texture"


def test_explore_survives_hostile_link_values():
    at = _app(features="colour_texture", perplexity="1e309", k="<script>alert(1)</script>",
              colour="javascript:alert(1)", clusters="x" * 5000).run()
    at.switch_page("app_pages/explore.py").run()
    assert not at.exception, at.exception
    warned = "\n".join(t.value for t in at.toast)
    for param in ("perplexity", "colour", "clusters", "k"):
        assert f"“{param}”" in warned, warned
    assert at.segmented_control(key="explore_cluster_method").value == "K-Means"
    assert at.segmented_control(key="explore_colour_by").value == "Cluster"
    assert at.query_params["colour"] == "Cluster"
    assert at.slider(key="explore_perplexity").value == 4  # the default for 15 photos: (15 - 1) / 3


def test_mosaic_link_restores_its_settings_and_survives_hostile_ones(shared_dir, monkeypatch):
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    at = _app(target="2", weights="off", score="8", methods=["greedy", "lp"], reuse="3").run()
    at.switch_page("app_pages/mosaic.py").run()
    assert not at.exception, at.exception
    assert at.selectbox(key="mosaic_target_pick").value == 2
    assert at.toggle(key="mosaic_weights").value is False
    assert at.segmented_control(key="mosaic_score").value == 8
    assert at.pills(key="mosaic_methods").value == ["greedy", "lp"]
    assert next(w for w in at.number_input if w.label.startswith("Use each photo")).value == 3
    assert at.query_params["methods"] == ["greedy", "lp"] and at.query_params["score"] == "8"

    bad = _app(target="999", weights="maybe", score="7", methods=["greedy", "rm -rf /"], reuse="-4",
               rows="1e9", alpha_face="nan").run()
    bad.switch_page("app_pages/mosaic.py").run()
    assert not bad.exception, bad.exception
    warned = "\n".join(t.value for t in bad.toast)
    for param in ("target", "weights", "score", "methods", "reuse", "rows"):
        assert f"“{param}”" in warned, warned
    assert bad.selectbox(key="mosaic_target_pick").value == 0
    assert bad.pills(key="mosaic_methods").value == ["exact", "greedy"]
    assert bad.segmented_control(key="mosaic_score").value == 16


# -- the login gate (AppTest: the OIDC round trip itself is in tests/test_auth_login.py) ------------

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback", "cookie_secret": "x" * 40, "client_id": "feedlens",
        "client_secret": "s", "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration"}


def test_login_gate_shows_only_a_login_screen():
    at = _app(archive="demo")
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": False}
    at.run()
    assert not at.exception, at.exception
    assert [t.value for t in at.title] == ["Feedlens"]
    assert [b.label for b in at.button] == ["Log in"]
    assert not at.metric  # no page ran: nothing of any archive is shown


def _filters_key(user: dict | None) -> str:
    at = _app()
    if user is not None:
        at.secrets["auth"] = AUTH
        at.user = user
    at.run()
    at.switch_page("app_pages/filters.py").run()
    assert not at.exception, at.exception
    return at.session_state["fl_photo_archive"]


def test_logged_in_users_get_their_own_archive_keys():
    open_key = _filters_key(None)
    alice = _filters_key({"is_logged_in": True, "iss": "https://id.test", "sub": "alice", "email": "a@x.test"})
    bob = _filters_key({"is_logged_in": True, "iss": "https://id.test", "sub": "bob"})
    assert alice == scoped_key(open_key, user_scope("https://id.test", "alice"))
    assert bob == scoped_key(open_key, user_scope("https://id.test", "bob"))
    assert len({open_key, alice, bob}) == 3


def test_login_without_a_subject_is_refused():
    at = _app()
    at.secrets["auth"] = AUTH
    at.user = {"is_logged_in": True, "email": "nobody@x.test"}
    at.run()
    assert not at.exception, at.exception
    assert any("sub" in e.value for e in at.error)
    assert not at.metric
