"""AppTest: the Filters page builds, edits, shares and applies a pipeline on the demo archive.

Step widgets are keyed ``fl_<id>_<param>`` where ``<id>`` is given to a step
when it is added (0 for the first step of a fresh session), so the tests
address a step's widgets by that id whatever its position.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.filters import KERNEL_PRESETS
from core.filters.pipeline import QUERY_PARAM, Pipeline, Step

REPO = Path(__file__).resolve().parents[1]


def _page(query: str | None = None) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    if query is not None:
        at.query_params[QUERY_PARAM] = query
    at.run()
    at.switch_page("app_pages/filters.py").run()
    assert not at.exception, at.exception
    return at


def _pipeline(at: AppTest) -> Pipeline:
    return at.session_state["fl_pipeline"]


def _names(at: AppTest) -> list[str]:
    return [s.name for s in _pipeline(at)]


def _images(at: AppTest) -> dict[str, str]:
    """Caption word ("Before", "After", "|after") -> media URL of that image."""
    return {img.captions[0].split()[0]: img.value[0] for img in at.image}


def _plain(markdown: str) -> str:
    """Alert text without the backslashes that keep user text from being read as Markdown."""
    return markdown.replace("\\", "").replace("**", "")


def _run(target) -> AppTest:
    """Run the app after an interaction (``target`` is the AppTest or a widget)."""
    at = target.run()
    assert not at.exception, at.exception
    return at


def test_opens_with_a_default_gaussian_and_shows_before_and_after():
    at = _page()
    assert at.title[0].value == "Filters"
    assert _names(at) == ["gaussian_blur"]
    images = _images(at)
    assert set(images) == {"Before", "After"} and images["Before"] != images["After"]
    assert [e.label for e in at.expander][0] == "1. Gaussian blur"
    assert any("Per channel" in c.value for c in at.caption)  # how colour is handled
    assert any("Preview at full size (512×512)" in c.value for c in at.caption)
    assert at.query_params[QUERY_PARAM] == _pipeline(at).to_query()
    assert at.download_button(key="fl_png").label.startswith("Download the result (PNG")
    assert len(at.get("plotly_chart")) == 1


def test_moving_a_slider_changes_the_after_image_and_the_link():
    at = _page()
    before = _images(at)
    _run(at.slider(key="fl_0_sigma").set_value(8.0))
    after = _images(at)
    assert after["Before"] == before["Before"]
    assert after["After"] != before["After"]
    assert _pipeline(at)[0].params["sigma"] == 8.0
    assert Pipeline.from_query(at.query_params[QUERY_PARAM]) == _pipeline(at)


def test_add_move_toggle_and_delete_steps_keep_each_steps_settings():
    at = _page()
    _run(at.slider(key="fl_0_sigma").set_value(6.0))
    _run(at.selectbox(key="fl_add_choice").set_value("adjust_saturation"))
    _run(at.button(key="fl_add").click())
    assert _names(at) == ["gaussian_blur", "adjust_saturation"]
    _run(at.slider(key="fl_1_factor").set_value(0.0))
    assert [e.label for e in at.expander][:2] == ["1. Gaussian blur", "2. Saturation"]

    _run(at.button(key="fl_1_up").click())
    assert _names(at) == ["adjust_saturation", "gaussian_blur"]
    assert [e.label for e in at.expander][:2] == ["1. Saturation", "2. Gaussian blur"]
    # each step's widgets moved with it
    assert at.slider(key="fl_0_sigma").value == 6.0 and at.slider(key="fl_1_factor").value == 0.0
    assert [dict(s.params) for s in _pipeline(at)] == [{"factor": 0.0}, {"sigma": 6.0}]

    _run(at.button(key="fl_1_down").click())
    assert _names(at) == ["gaussian_blur", "adjust_saturation"]

    _run(at.toggle(key="fl_0_on").set_value(False))
    assert [s.enabled for s in _pipeline(at)] == [False, True]
    assert at.expander[0].label == "1. Gaussian blur (off)"

    _run(at.button(key="fl_0_delete").click())
    assert _names(at) == ["adjust_saturation"]
    assert at.slider(key="fl_1_factor").value == 0.0
    _run(at.button(key="fl_1_delete").click())
    assert _names(at) == []
    assert any("No steps yet" in i.value for i in at.info)
    assert _pipeline(at).to_query() == at.query_params[QUERY_PARAM]


def test_a_valid_link_reopens_its_pipeline():
    shared = Pipeline([Step("median_blur", {"size": 5}), Step("equalize_hist", {"channel_mode": "per_channel"}),
                       Step("flip_lr", enabled=False)])
    at = _page(shared.to_query())
    assert _pipeline(at) == shared
    assert [e.label for e in at.expander][:3] == ["1. Median (denoise)", "2. Equalise histogram",
                                                  "3. Flip left-right (off)"]
    assert at.slider(key="fl_0_size").value == 5
    assert at.selectbox(key="fl_1_channel_mode").value == 1  # index of "per_channel"
    assert not at.warning


@pytest.mark.parametrize("query", ["garbage", "1.bm90IGpzb24", "1." + "A" * 3000,
                                   Pipeline([Step("flip_ud")]).to_query().replace("1.", "9.")])
def test_an_invalid_link_warns_and_falls_back_to_the_default(query: str):
    at = _page(query)
    assert len(at.warning) == 1
    assert "could not be opened" in at.warning[0].value and "default pipeline" in at.warning[0].value
    assert _names(at) == ["gaussian_blur"]
    assert at.query_params[QUERY_PARAM] == _pipeline(at).to_query()  # the bad link is replaced
    # The warning is said once, not on every rerun.
    _run(at.slider(key="fl_0_sigma").set_value(4.0))
    assert not at.warning


def test_json_save_and_load():
    at = _page()
    assert at.download_button(key="fl_json_out").label == "Download pipeline (JSON)"
    assert json.loads(_pipeline(at).to_json())["steps"][0]["name"] == "gaussian_blur"

    recipe = Pipeline([Step("grayscale"), Step("edges", {"operator": "prewitt"})])
    _run(at.file_uploader(key="fl_json").set_value(("my recipe.json", recipe.to_json().encode(), "application/json")))
    assert _pipeline(at) == recipe
    assert any("my recipe" in s.value for s in at.success)
    assert [e.label for e in at.expander][:2] == ["1. Grayscale", "2. Edges (Sobel / Prewitt)"]

    _run(at.file_uploader(key="fl_json").set_value(("[bad]*.json", b'{"steps": [{"name": "nope"}]}',
                                                    "application/json")))
    assert _pipeline(at) == recipe  # unchanged
    assert len(at.error) == 1
    assert "unknown step 'nope'" in _plain(at.error[0].value)
    assert r"**\[bad\]\*\.json**" in at.error[0].value  # the file name is escaped, not Markdown


def test_a_broken_upload_is_an_error_naming_the_file(data_dir: Path):
    photo = data_dir / "photos-imagenet-coarse6" / "images" / "landscape" / "n09193705_alp.JPEG"
    at = _page()
    _run(at.segmented_control(key="fl_source").set_value("Upload a photo"))
    half = photo.read_bytes()[: photo.stat().st_size // 2]
    _run(at.file_uploader(key="fl_upload").set_value(("holiday_half.jpg", half, "image/jpeg")))
    assert len(at.error) == 1
    assert "holiday_half.jpg cannot be opened: truncated image" in _plain(at.error[0].value)
    assert not at.image

    _run(at.file_uploader(key="fl_upload").set_value(("alp.jpg", photo.read_bytes(), "image/jpeg")))
    assert not at.error
    assert _images(at).keys() == {"Before", "After"}
    assert any("(400×300)" in c.value for c in at.caption)


def test_custom_kernel_presets_size_and_cell_edits():
    at = _page()
    _run(at.selectbox(key="fl_add_choice").set_value("convolve_kernel"))
    _run(at.button(key="fl_add").click())
    assert _pipeline(at)[1].params["kernel"] == KERNEL_PRESETS["seed"]
    assert at.checkbox(key="fl_1_normalise").value is False
    assert at.selectbox(key="fl_1_mode").value == 4  # "constant"
    assert at.slider(key="fl_1_cval").value == 0.0

    _run(at.selectbox(key="fl_1_kernel_preset").set_value("sharpen"))
    assert _pipeline(at)[1].params["kernel"] == KERNEL_PRESETS["sharpen"]
    assert at.selectbox(key="fl_1_kernel_preset").value is None  # ready for the next pick
    grid = at.data_editor[0].value
    assert grid.shape == (3, 3) and list(grid.columns) == ["-1", "0", "+1"]

    _run(at.segmented_control(key="fl_1_ksize").set_value("5×5"))
    kernel = _pipeline(at)[1].params["kernel"]
    assert len(kernel) == 5 and kernel[2][2] == 5.0 and kernel[0] == (0.0,) * 5

    # A cell edit in the grid (the editor's key carries a revision number).
    editor_key = at.data_editor[0].key
    at.session_state[editor_key] = {"edited_rows": {2: {"0": 9.0}}, "added_rows": [], "deleted_rows": []}
    _run(at)
    assert _pipeline(at)[1].params["kernel"][2][2] == 9.0

    # A kernel that cannot be normalised is refused with a message; the last good one stays.
    _run(at.selectbox(key="fl_1_kernel_preset").set_value("identity"))
    at.session_state[at.data_editor[0].key] = {"edited_rows": {1: {"0": 0.0}}, "added_rows": [],
                                               "deleted_rows": []}
    _run(at.checkbox(key="fl_1_normalise").check())
    assert any("Not applied" in e.value and "sums to zero" in e.value for e in at.error)
    assert _pipeline(at)[1].params["normalise"] is False


def test_difference_view_and_geometry_steps():
    at = _page()
    _run(at.toggle(key="fl_diff").set_value(True))
    assert "|after" in _images(at)
    _run(at.selectbox(key="fl_add_choice").set_value("crop"))
    _run(at.button(key="fl_add").click())
    assert any("changed the size" in i.value for i in at.info)
    assert _images(at).keys() == {"Before", "After"}
    assert at.image[1].captions[0] == "After · 256×256"


def test_whole_archive_batch_writes_a_zip(isolated_cache: Path):
    at = _page()
    _run(at.segmented_control(key="fl_batch_fmt").set_value("jpeg"))
    _run(at.button(key="fl_batch_run").click())
    batch = at.session_state["fl_batch"]
    assert batch["written"] == 15 and batch["failures"] == []
    assert any("15 photos processed" in s.value for s in at.success)
    path: Path = batch["path"]
    assert path.is_relative_to(isolated_cache)
    with zipfile.ZipFile(path) as zf:
        names = zf.namelist()
    assert "pipeline.json" in names and sum(n.endswith(".jpg") for n in names) == 15
    assert at.download_button(key="fl_batch_zip").label.startswith("Download the ZIP")


def test_cancel_says_once_that_no_zip_was_made():
    at = _page()
    _run(at.button(key="fl_batch_run").click())
    # The Cancel button of the run's status box (pressed while a batch runs, Streamlit stops it at its
    # next progress update and core.filters.run_batch leaves no ZIP behind).
    _run(at.button(key="fl_batch_cancel").click())
    assert [i.value for i in at.info if "cancelled" in i.value] == ["Batch cancelled: no ZIP was made."]
    _run(at)
    assert not [i.value for i in at.info if "cancelled" in i.value]
