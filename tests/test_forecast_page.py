"""Streamlit AppTest: the Forecast page trains, reloads and predicts on real archives."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from core.archive.catalogue import load_folder
from core.archive.demo import load_demo
from core.forecast.synth import make_synthetic_case
from core.forecast.training import BASELINES, MODEL_RIDGE, MODEL_SEED, MODEL_SEED_COUNT, load_forecaster

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    st.cache_resource.clear()
    st.cache_data.clear()
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _forecast_page(archive=None) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    if archive is not None:
        at.session_state["archive"] = archive
    at.run()
    at.switch_page("app_pages/forecast.py").run()
    assert not at.exception, at.exception
    return at


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def test_train_then_forecast_one_of_your_posts():
    at = _forecast_page()
    assert [t.value for t in at.title] == ["Forecast"]
    assert any("Train a model" in i.value for i in at.info)
    assert _metrics(at)["Posts"] == "15"
    at.button(key="forecast_train").click().run()
    assert not at.exception, at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("Model trained and saved" in s.value for s in at.success)
    # No ImageNet weights here: the page says so and trains on the other sources.
    assert any("ImageNet labels (Keras classifier) not used" in w.value and "could not be had" in w.value
               for w in at.warning)

    at.segmented_control(key="forecast_photo_source").set_value("One of your posts").run()
    assert not at.exception, at.exception
    metrics = _metrics(at)
    # The numbers on the page are the saved model's forecast for that post.
    archive = load_demo()
    model = load_forecaster(archive.key)
    post = model.posts.sort_values("timestamp", ascending=False, na_position="last").iloc[0]
    photo = model.describe_photo(Path(post["path"]).read_bytes(), caption=post["caption"] or "",
                                 when=pd.Timestamp(at.date_input(key="forecast_day").value).tz_localize("UTC")
                                 + pd.Timedelta(hours=at.time_input(key="forecast_time").value.hour))
    result = model.predict(photo)
    table, name = result.table.set_index("model"), result.chosen()
    if result.content_helps():
        assert metrics[f"Likes ({name})"] == f"{table.at[name, 'likes']:,.0f}"
    else:  # the usual range, not a confident number
        assert metrics["Your usual likes"] == f"{table.at[name, 'likes_low']:,.0f} – {table.at[name, 'likes_high']:,.0f}"
    assert result.table["model"].iloc[0] == name
    assert any(t.value.startswith("Labels: ") and "faces: " in t.value for t in at.text)

    # Held-out error table: every model, likes and comments, never training error.
    frames = [df.value for df in at.dataframe]
    held_out = next(f for f in frames if "likes mae" in f.columns)
    assert set(held_out.index) == {*BASELINES, MODEL_SEED, MODEL_SEED_COUNT, MODEL_RIDGE}
    assert held_out.index[0] == model.choice["likes"].model  # the model shown first heads the table
    assert (held_out["held-out posts"] == 7).all()  # the newest 7 of 15 posts
    labels = next(f for f in frames if "seen_once" in f.columns)
    assert labels["posts"].sum() >= 15 and labels["seen_once"].any()


def test_a_saved_model_is_reloaded_by_a_new_session():
    first = _forecast_page()
    first.multiselect(key="forecast_sources").set_value(["hashtags", "cluster"]).run()
    first.button(key="forecast_train").click().run()
    assert any("Model trained and saved" in s.value for s in first.success)
    st.cache_resource.clear()  # as after a server restart: only the disk has it
    second = _forecast_page()
    assert not any("Train a model" in i.value for i in second.info)
    assert any(t.value.startswith("Trained ") and "on 15 posts" in t.value for t in second.text)
    assert second.multiselect(key="forecast_sources").value == ["hashtags", "cluster"]


def test_hidden_likes_are_counted_and_left_out(data_dir: Path):
    at = _forecast_page(load_folder(data_dir / "instaloader-boston-2accounts"))
    metrics = _metrics(at)
    assert (metrics["Posts"], metrics["With a like count"], metrics["Hidden or unknown likes (left out)"]) == (
        "10", "9", "1")


def test_an_archive_without_likes_explains_how_to_get_them(data_dir: Path, tmp_path: Path):
    for path in sorted((data_dir / "photos-imagenet-coarse6").rglob("*.jpg"))[:3]:
        shutil.copy(path, tmp_path / path.name)
    at = _forecast_page(load_folder(tmp_path))
    assert any("Instaloader" in i.value and "Insights" in i.value for i in at.info)
    assert not at.button  # nothing to train, no fake forecast


def test_settings_come_back_from_a_share_link():
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    at.query_params["labels"] = ["hashtags", "cluster"]
    at.query_params["boosting"] = "on"
    at.run()
    at.switch_page("app_pages/forecast.py").run()
    assert at.multiselect(key="forecast_sources").value == ["hashtags", "cluster"]
    assert at.toggle(key="forecast_boosting").value is True
    # A hostile value falls back to the default, without an exception.
    bad = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    bad.query_params["labels"] = ["<script>", "hashtags"]
    bad.run()
    bad.switch_page("app_pages/forecast.py").run()
    assert not bad.exception
    assert bad.multiselect(key="forecast_sources").value == list(
        ["hashtags", "alt_text", "imagenet", "faces", "people", "cluster"])


def _synthetic_page(tmp_path: Path, case: str) -> AppTest:
    make_synthetic_case(tmp_path / case, case, 120, random_state=1)
    at = _forecast_page(load_folder(tmp_path / case))
    at.multiselect(key="forecast_sources").set_value(["hashtags", "cluster"]).run()
    at.button(key="forecast_train").click().run()
    assert not at.exception, at.exception
    assert any("Model trained and saved" in s.value for s in at.success)
    return at


def _range(value: str) -> tuple[float, float]:
    low, high = value.split(" – ")
    return float(low.replace(",", "")), float(high.replace(",", ""))


def test_two_accounts_are_each_forecast_at_their_own_level_and_no_evidence_is_said(tmp_path: Path):
    at = _synthetic_page(tmp_path, "null")
    model = load_forecaster(at.session_state["archive"].key)
    assert sorted(model.accounts) == ["big.account", "small.account"]
    at.segmented_control(key="forecast_photo_source").set_value("One of your posts").run()
    past = model.posts.sort_values("timestamp", ascending=False, na_position="last")
    seen = {}
    for account in ("small.account", "big.account"):
        pick = past.index[past["account"] == account][0]
        at.selectbox(key="forecast_past_post").set_value(pick).run()
        assert not at.exception, at.exception
        assert any(t.value == f"Account: {account}" for t in at.text)
        # Content has no effect here: the page says so and shows the account's usual range.
        assert any("what the photo shows has not moved likes beyond your usual range" in i.value for i in at.info)
        low, high = _range(_metrics(at)["Your usual likes"])
        mine = model.posts.loc[model.posts["account"] == account].sort_values("timestamp")["likes"]
        assert mine.min() / 1.5 <= low < mine.tail(10).median() < high <= mine.max() * 1.5  # it grows a little
        seen[account] = (low, high)
    assert seen["small.account"][1] < seen["big.account"][0]  # 300 vs 20,000 usual likes: never mixed up


def test_upload_asks_for_the_account_and_the_effects_tab_shows_known_lifts(tmp_path: Path):
    at = _synthetic_page(tmp_path, "effects")
    assert sorted(at.selectbox(key="forecast_account").options) == ["big.account", "small.account"]
    effects = next(df.value for df in at.dataframe if "effect" in df.value.columns)
    assert {"#tag00", "#tag01"} <= set(effects.loc[effects["effect"] == "evidence", "label"])


def test_the_target_picker_lists_only_what_the_archive_has(data_dir: Path):
    at = _forecast_page(load_folder(data_dir / "instaloader-boston-2accounts"))
    at.multiselect(key="forecast_sources").set_value(["hashtags", "cluster"]).run()
    at.button(key="forecast_train").click().run()
    assert not at.exception, at.exception
    picker = at.segmented_control(key="forecast_target")
    assert picker.value == "likes"
    assert list(picker.options) == ["likes (9 posts)", "comments (10 posts)"]  # no saves, shares or reach here
    picker.set_value("comments").run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs][2] == "What lifts your comments"
    at.segmented_control(key="forecast_photo_source").set_value("One of your posts").run()
    assert not at.exception, at.exception
    labels = [m.label for m in at.metric][3:]  # after the three counts of the archive
    assert labels[0].startswith(("Comments (", "Your usual comments")) and "likes" in labels[1].lower()
    assert any(t.value.startswith("Split: ") for t in at.text)


def test_the_target_picker_offers_the_insights_of_an_api_archive(tmp_path: Path):
    from core.archive.instagram_api import FetchRequest, import_instagram
    from core.cache import DiskCache
    from tests.instagram_server import FakeInstagram

    with FakeInstagram(20, token="IGAAtesttoken") as server:
        _, archive = import_instagram(FetchRequest(token="IGAAtesttoken", base_url=server.url, insights=True,
                                                   first_wait=0.01), cache=DiskCache(tmp_path / "cache"))
    at = _forecast_page(archive)
    assert any("saves on 20 posts" in c.value for c in at.caption)
    at.multiselect(key="forecast_sources").set_value(["hashtags"]).run()
    at.button(key="forecast_train").click().run()
    assert not at.exception, at.exception
    options = list(at.segmented_control(key="forecast_target").options)
    assert options == [f"{t} (20 posts)" for t in ("likes", "comments", "saves", "shares", "reach")]
    at.segmented_control(key="forecast_target").set_value("saves").run()
    assert not at.exception, at.exception
    assert [t.label for t in at.tabs][2] == "What lifts your saves"
