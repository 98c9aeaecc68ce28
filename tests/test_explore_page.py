"""AppTest of the Explore page on the demo archive and on awkward small archives.

ImageNet weights are never downloaded here: the offline case is forced (so the
tests behave the same with or without a network), and the CNN path runs with
random weights.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import streamlit as st
from PIL import Image
from streamlit.testing.v1 import AppTest

from core.archive.catalogue import load_folder
from core.explore.features import CNNFeatures
from core.jobs import WeightsUnavailableError
from ui import resources

REPO = Path(__file__).resolve().parents[1]
PAGE = "app_pages/explore.py"


@pytest.fixture(autouse=True)
def fresh_streamlit_caches(monkeypatch: pytest.MonkeyPatch):
    """Each test starts with empty in-memory caches and no ImageNet weights."""
    st.cache_resource.clear()
    st.cache_data.clear()
    original_fit = CNNFeatures.fit

    def offline_fit(self, X=None, y=None):
        if self.weights == "imagenet":
            raise WeightsUnavailableError(
                "The ImageNet weights of MobileNetV3Small could not be had: the download failed "
                "(no internet connection?). Use colour & texture or raw pixels."
            )
        return original_fit(self, X, y)

    monkeypatch.setattr(CNNFeatures, "fit", offline_fit)
    # The weights are tried in a child process first (ui.resources): skip it, the offline fit above decides.
    monkeypatch.setattr(resources, "probe_weights", lambda name: None)
    # The offline fit above is patched into this process: the features job runs here, not in a worker.
    monkeypatch.setenv("FEEDLENS_JOB_WORKERS", "0")
    yield
    st.cache_resource.clear()
    st.cache_data.clear()


def _explore(archive=None, **state) -> AppTest:
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    if archive is not None:
        at.session_state["archive"] = archive
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, at.exception
    return at


def _charts(at: AppTest) -> list:
    return at.get("plotly_chart")


def test_offline_default_says_so_and_falls_back_to_colour_texture():
    at = _explore()
    assert at.title[0].value == "Explore"
    assert any("could not be had" in w.value for w in at.warning)
    assert at.selectbox(key="explore_features").value == "colour_texture"
    labels = [b.label for b in at.button]
    assert "Try the download again" in labels and "Use random weights instead" in labels
    assert len(_charts(at)) >= 2  # silhouette curve and the map
    assert any("Drag a box on the map" in i.value for i in at.info)  # nothing selected yet
    assert [s.label for s in at.slider][:2] == ["Perplexity", "k (number of clusters)"]
    # 15 photos: perplexity stays below (15 - 1) / 3.
    assert at.slider(key="explore_perplexity").max <= 4
    assert any("Suggested k" in c.value for c in at.caption)
    assert len(at.get("dataframe")) == 4  # engagement, export, and the Over time tab's two tables

    # A second visit reuses the features from memory: no job runs.
    at.run()
    assert not at.exception
    assert not any("computed" in c.value and "read from the cache" in c.value for c in at.caption)


def test_use_random_weights_button_runs_the_cnn_and_shows_imagenet_groups():
    at = _explore()
    next(b for b in at.button if b.label == "Use random weights instead").click().run()
    assert not at.exception, at.exception
    assert at.selectbox(key="explore_features").value == "mobilenet_v3_small"
    assert any("Random weights" in w.value for w in at.warning)
    assert at.toggle(key="explore_random_weights").value is True
    # Labels exist, so the group chips, the per-group engagement table and the sunburst appear.
    # (per cluster, per group, labels, export, the Over time tab's two; without labels no group or labels)
    assert len(at.get("dataframe")) == 6
    at.session_state["explore_colour_by"] = "ImageNet group"
    at.session_state["explore_group"] = "Objects"
    at.run()
    assert not at.exception, at.exception


def test_raw_pixels_hdbscan_and_export():
    at = _explore()
    at.selectbox(key="explore_features").set_value("raw").run()
    assert not at.exception, at.exception
    at.slider(key="explore_raw_size").set_value(32).run()
    assert not at.exception, at.exception
    at.session_state["explore_cluster_method"] = "HDBSCAN"
    at.run()
    assert not at.exception, at.exception
    assert at.slider(key="explore_min_cluster").value >= 2
    downloads = [el for el in at.get("download_button")]
    assert len(downloads) == 3  # CSV, Parquet, the map as HTML


def _folder_of(tmp_path: Path, photos: list[Path]) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    for i, photo in enumerate(photos):
        shutil.copy(photo, folder / f"photo_{i}{photo.suffix}")
    return folder


@pytest.mark.parametrize("n", [1, 2, 3])
def test_tiny_archives_explain_instead_of_a_map(n: int, data_dir: Path, tmp_path: Path):
    photos = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "dog").glob("*.JPEG"))[:n]
    archive = load_folder(_folder_of(tmp_path, photos))
    at = _explore(archive)
    assert any(f"at least 4 photos; this archive has {n}" in i.value for i in at.info)
    assert not _charts(at)


def test_identical_photos_are_explained(data_dir: Path, tmp_path: Path):
    photo = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "cat").glob("*.JPEG"))[0]
    archive = load_folder(_folder_of(tmp_path, [photo] * 6))
    at = _explore(archive)
    # The same picture six times is one picture (the duplicate finder): too few to map, and the page says why.
    assert any("1 distinct picture(s) (6 photos)" in i.value for i in at.info)
    assert any("5 reposted or duplicate photo(s) are mapped once" in c.value for c in at.caption)
    assert not _charts(at)


def test_grayscale_photos_make_a_map(data_dir: Path, tmp_path: Path):
    folder = tmp_path / "grey"
    folder.mkdir()
    sources = sorted((data_dir / "photos-imagenet-coarse6" / "images" / "landscape").glob("*.JPEG"))[:6]
    for i, path in enumerate(sources):
        Image.open(path).convert("L").save(folder / f"grey_{i}.png")
    # And one 16-bit greyscale photo.
    Image.fromarray((np.linspace(0, 65535, 80 * 60).reshape(60, 80)).astype(np.uint16)).save(folder / "deep.png")
    at = _explore(load_folder(folder))
    assert not any("same features" in i.value for i in at.info)
    assert len(_charts(at)) >= 2


def test_colour_by_person_names_the_people_of_the_faces_page(data_dir: Path, tmp_path: Path, shared_dir: Path,
                                                          monkeypatch: pytest.MonkeyPatch):
    """Four portraits each of three people, indexed and one of them named on the Faces page's terms: the map
    coloured by person shows that name, and the two others as unnamed people."""
    from core.cache import default_cache
    from core.faces.engine import FaceEngine
    from core.faces.index import build_face_index
    from core.faces.people import find_people, rename_person

    monkeypatch.setenv("FEEDLENS_MODEL_DIR", str(shared_dir / "models"))
    root = data_dir / "faces-glint-celeb24"
    people = ["Barack_Obama", "Keanu_Reeves", "Tina_Fey"]
    photos = [p for name in people for p in sorted((root / "images" / name).glob("*.png"))[:4]]
    assert len(photos) == 12
    archive = load_folder(_folder_of(tmp_path, photos))
    engine = FaceEngine()
    try:
        build_face_index(archive.catalogue, engine, cache=default_cache())
    finally:
        engine.close()
    found = find_people(archive.catalogue, archive.key, cache=default_cache())
    obama = archive.catalogue.loc[archive.catalogue["file"] == "photo_0.png", "sha256"].iloc[0]
    person = found.faces.loc[found.faces["sha256"] == obama, "person_id"].iloc[0]
    rename_person(found, person, "Barack <b>Obama</b>", cache=default_cache())

    at = _explore(archive, explore_colour_by="Person")
    spec = next(json.loads(chart.proto.spec) for chart in _charts(at) if "t-SNE" in chart.proto.spec)
    # The name as the user typed it, escaped: Plotly would draw <b> as bold.
    assert sorted(trace["name"] for trace in spec["data"]) == [
        "Barack &lt;b&gt;Obama&lt;/b&gt; (4)", "Person 2 (4)", "Person 3 (4)"]


def test_colour_by_person_without_a_face_index_says_where_to_build_it():
    at = _explore(explore_colour_by="Person")
    assert any("build it on the Faces page" in c.value for c in at.caption)


def test_features_are_computed_in_a_worker_process(monkeypatch: pytest.MonkeyPatch):
    from ui.jobs import worker_pool

    monkeypatch.delenv("FEEDLENS_JOB_WORKERS")
    at = _explore(explore_features="colour_texture")
    assert any("Colour & texture" in c.value and "computed" in c.value for c in at.caption), \
        [c.value for c in at.caption]
    assert worker_pool().pids()  # the job went to the server's worker processes
