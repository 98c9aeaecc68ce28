"""The Explore map at scale, for bench/explore_scale.py: the page's figure, selection and first gallery page.

A Streamlit script (``streamlit run bench/explore_scale_page.py``) reading
the map bench/explore_scale.py computed (``coords_<n>.npy``, ``clusters_<n>.npy``
in ``FEEDLENS_BENCH_DIR``); photo ``i`` shows generated photo ``i % photos``
(thumbnails from the cache, read only for the gallery page shown). The
figure is the Explore page's own (:func:`core.explore.figure.explore_figure`,
lean above 20,000 points), the selection is read the way the page reads it.
It calls core only (benches do not import ``ui/``).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.archive.catalogue import load_folder  # noqa: E402
from core.archive.ingest import thumbnail_bytes  # noqa: E402
from core.cache import default_cache  # noqa: E402
from core.explore.figure import LEAN_ABOVE, explore_figure, map_config, selection_rows  # noqa: E402
from core.explore.mapping import cluster_names  # noqa: E402

N = int(os.environ.get("FEEDLENS_BENCH_N", "100000"))
PHOTOS = int(os.environ.get("FEEDLENS_BENCH_PHOTOS", "10000"))
OUT = Path(os.environ.get("FEEDLENS_BENCH_DIR", "bench/out/explore_scale"))
PAGE = 60


@st.cache_resource
def data() -> tuple[pd.DataFrame, pd.DataFrame]:
    coords = np.load(OUT / f"coords_{N}.npy")
    clusters = np.load(OUT / f"clusters_{N}.npy")
    catalogue = load_folder(OUT / f"photos_{PHOTOS}").catalogue.reset_index(drop=True)
    photo = np.arange(N) % len(catalogue)
    table = pd.DataFrame({"x": coords[:, 0], "y": coords[:, 1], "file": catalogue["file"].to_numpy()[photo],
                          "cluster": cluster_names(clusters), "likes": catalogue["likes"].to_numpy()[photo]})
    return table, catalogue


@st.cache_resource
def figure():
    """Built once, as the page keeps its figure while only the selection changes."""
    return explore_figure(data()[0], title=f"{N:,} photos")


table, catalogue = data()
st.title(f"Explore map · {N:,} points")
event = st.plotly_chart(figure(), key="explore_map", on_select="rerun",
                        selection_mode=("points", "box", "lasso"), config=map_config(N > LEAN_ABOVE))
rows = selection_rows(event.get("selection") if event else None, table[["x", "y"]].to_numpy())
with st.container(key="explore_gallery"):
    st.caption(f"{len(rows)} selected photo(s)")
    store = default_cache()
    for start in range(0, min(PAGE, len(rows)), 6):
        for col, row in zip(st.columns(6), rows[start : start + 6]):
            item = catalogue.iloc[row % len(catalogue)]
            thumb = thumbnail_bytes(str(item["sha256"]), str(item["path"]), store)
            if thumb is not None:
                col.image(thumb, caption=f"#{row} · {table['cluster'].iloc[row]}")
