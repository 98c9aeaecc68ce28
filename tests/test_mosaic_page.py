"""Streamlit AppTest: the Mosaic page on the demo archive.

The page's widgets are in the main area (AppTest in Streamlit 1.67 loses the
entry script's sidebar on a second run with ``st.navigation``).
"""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.jobs import ModelUnavailableError

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def models(shared_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    return shared_dir / "models"


def _page() -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180).run()
    at.switch_page("app_pages/mosaic.py").run()
    assert not at.exception, at.exception
    return at


def _number(at: AppTest, label: str):
    return next(w for w in at.number_input if w.label == label)


def _texts(elements) -> str:
    return "\n".join(str(e.value) for e in elements)


def test_demo_builds_and_compares_methods(models):
    at = _page()
    assert at.title[0].value == "Mosaic"
    captions = _texts(at.caption)
    # 15 demo photos minus the target (the astronaut), each reused: a 20 x 20 grid.
    assert "Planned from 14 photos × 29" in captions and "Grid 20 × 20 = 400 tiles" in captions
    assert "MediaPipe found 1 face(s) and a person." in captions
    assert at.button(key="mosaic_build").disabled is False
    assert "Press **Build mosaic**" in _texts(at.info)

    at.button(key="mosaic_build").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)
    table = at.dataframe[0].value
    assert len(table) == 4  # exact and greedy, each uniform and weighted
    by_run = {(m, w): row for m, w, row in zip(table["Method"], table["Weighting"], table.to_dict("records"))}
    exact = by_run[("Exact (Jonker–Volgenant)", "Uniform")]
    greedy = by_run[("Greedy best match", "Uniform")]
    weighted = by_run[("Exact (Jonker–Volgenant)", "Face & person weighted")]
    assert exact["Mean MSE"] <= greedy["Mean MSE"]
    assert exact["Weighted total"] <= greedy["Weighted total"]
    assert weighted["Face"] < exact["Face"]  # weighting helps the face
    assert "changes the mean error by" in _texts(at.markdown)
    assert at.download_button(key="mosaic_download").label == "Download PNG (print resolution)"
    assert at.selectbox(key="mosaic_show").value == "Exact (Jonker–Volgenant) · face & person weighted"
    # A rerun (a slider moved) keeps the result; the blend defaults to 0 (no overlay).
    assert at.slider(key="mosaic_blend").value == 0.0
    at.slider(key="mosaic_blend").set_value(0.3).run()
    assert not at.exception and len(at.dataframe[0].value) == 4


def test_too_few_photos_offers_reuse_or_a_smaller_grid(models):
    at = _page()
    reuse_box = next(w for w in at.number_input if w.label == "Use each photo up to k times")
    reuse_box.set_value(1).run()
    assert "Planned from 14 photos and the output's shape: 3 × 4" in _texts(at.caption) or \
        "Planned from 14 photos" in _texts(at.caption)
    _number(at, "Rows").set_value(10).run()
    _number(at, "Columns").set_value(10).run()
    errors = _texts(at.error)
    assert "The grid has 100 tiles but there are only 14 photos, each used at most once." in errors
    assert "Allow each photo to be used up to 8 times" in errors
    assert at.button(key="mosaic_build").disabled
    fix = at.button(key="mosaic_fix_reuse")
    assert fix.label == "Allow each photo up to 8 times"
    fix.click().run()
    assert not at.error, _texts(at.error)
    assert _number(at, "Use each photo up to k times").value == 8
    assert (_number(at, "Rows").value, _number(at, "Columns").value) == (10, 10)
    assert at.button(key="mosaic_build").disabled is False

    # The other way out: a smaller grid.
    _number(at, "Use each photo up to k times").set_value(1).run()
    _number(at, "Rows").set_value(9).run()
    assert at.error
    smaller = at.button(key="mosaic_fix_grid")
    smaller.click().run()
    assert not at.error, _texts(at.error)
    rows, cols = _number(at, "Rows").value, _number(at, "Columns").value
    assert rows * cols <= 14


def test_target_without_face_or_person_uses_uniform_weights(models):
    at = _page()
    options = at.selectbox(key="mosaic_target_pick").options
    rocket = next(i for i, label in enumerate(options) if label.startswith("rocket"))
    at.selectbox(key="mosaic_target_pick").select_index(rocket).run()
    assert not at.exception
    assert "No face or person found in this target: uniform weights are used." in _texts(at.info)
    assert "Tile weights: uniform" in _texts(at.caption)


def test_missing_model_warns_and_falls_back(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    import core.modelfiles

    def unavailable(name, *args, **kwargs):
        raise ModelUnavailableError(f"The model file {name!r} is not available. How to fix: …")

    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(tmp_path))  # a fresh cache key for the detection
    monkeypatch.setattr(core.modelfiles, "model_path", unavailable)
    at = _page()
    warnings = _texts(at.warning)
    assert "Weighting is off" in warnings and "is not available" in warnings
    at.button(key="mosaic_build").click().run()
    assert not at.exception, at.exception
    table = at.dataframe[0].value
    assert set(table["Weighting"]) == {"Uniform"}


def test_pulp_and_exact_agree_on_a_small_grid(models):
    at = _page()
    _number(at, "Use each photo up to k times").set_value(3).run()
    _number(at, "Rows").set_value(6).run()
    _number(at, "Columns").set_value(6).run()
    at.pills(key="mosaic_methods").set_value(["exact", "lp"]).run()
    at.pills(key="mosaic_weight_modes_True").set_value([False]).run()
    at.button(key="mosaic_build").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)
    table = at.dataframe[0].value
    assert list(table["Method"]) == ["Exact (Jonker–Volgenant)", "PuLP LP"]
    totals = list(table["Weighted total"])
    assert abs(totals[0] - totals[1]) <= 1e-6 * totals[0]
    assert "PuLP and exact reach the same total error" in _texts(at.markdown)


def test_adaptive_mosaic_with_colour_transfer_and_its_cheating_limit(models):
    at = _page()
    at.toggle(key="mosaic_adaptive").set_value(True).run()
    at.button(key="mosaic_build").click().run()
    assert not at.exception, at.exception
    assert not at.error, _texts(at.error)
    table = at.dataframe[0].value
    assert "Exact (Jonker–Volgenant)" in set(table["Method"])
    assert at.slider(key="mosaic_colour").value == 0  # off by default: an honest mosaic
    assert "The target shows through from" in _texts(at.markdown)
    at.slider(key="mosaic_colour").set_value(100).run()
    assert not at.exception, at.exception
    assert "draws the picture" in _texts(at.warning)  # at 100 % the shift, not the placement, makes the picture
    assert "adaptive tiles" in _texts(at.caption)
