"""The per-session memory bound (ui.session_budget): past the budget, rebuildable entries go, with a notice."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ui.memory import nbytes
from ui.session_budget import DROPPABLE, enforce_budget, over_budget

REPO = Path(__file__).resolve().parents[1]
MB = 2**20


def test_largest_rebuildable_entries_go_first_until_the_session_fits():
    state = {
        "archive": pd.DataFrame({"x": np.zeros(MB // 8)}),  # 1 MB, never dropped
        "faces_index": np.zeros(3 * MB, np.uint8), "faces_index_token": ("k", 1),
        "mosaic_build_result": np.zeros(2 * MB, np.uint8),
        "explore_figure_memo": np.zeros(MB // 2, np.uint8),
        "some_widget": 3,
    }
    dropped = enforce_budget(state, budget=4 * MB)
    assert dropped == [DROPPABLE["faces_index"][0]]
    assert "faces_index" not in state and "faces_index_token" not in state  # its token goes with it
    assert {"archive", "mosaic_build_result", "explore_figure_memo", "some_widget"} <= set(state)
    assert enforce_budget(state, budget=4 * MB) == []  # it fits now


def test_a_session_under_its_budget_keeps_everything_and_the_archive_is_never_dropped():
    assert over_budget({"archive": 10 * MB, "faces_people": MB}, 20 * MB) == []
    assert over_budget({"archive": 10 * MB, "faces_people": MB}, 5 * MB) == ["faces_people"]


def test_entry_sizes_count_tables_and_arrays_inside_containers():
    table = pd.DataFrame({"file": [f"photo_{i}.jpg" for i in range(1000)]})
    assert nbytes(table) > 1000 * 10
    assert MB <= nbytes(("key", np.zeros(MB, np.uint8))) < MB + 1000


@pytest.mark.parametrize("budget_mb, kept", [("1", False), ("300", True)])
def test_the_app_drops_what_a_tab_holds_past_its_budget_and_says_so(monkeypatch, budget_mb, kept):
    from streamlit.testing.v1 import AppTest

    monkeypatch.setenv("FEEDLENS_SESSION_MB", budget_mb)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.session_state["mosaic_build_result"] = np.zeros(4 * MB, np.uint8)
    at.run()
    assert not at.exception, at.exception
    assert ("mosaic_build_result" in at.session_state) == kept
    toasts = [t.value for t in at.toast]
    assert any("the last mosaic build" in t for t in toasts) != kept, toasts
