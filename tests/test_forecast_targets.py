"""Issue 14, item 6 and the repost defect: every target the archive has, and each picture counted once.

Real data: the Instaloader dumps (likes and comments), the real export's posts_1.json with an insights
file in Instagram's shape (saves, shares, reach), and the Graph API connector against the local server of
:mod:`tests.instagram_server` (its ``/{id}/insights``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.archive.catalogue import load_folder
from core.archive.instagram_api import FetchRequest, import_instagram
from core.cache import DiskCache
from core.forecast.effects import time_labels
from core.forecast.labels import LabelSources, post_frame, target_counts
from core.forecast.training import BASELINES, prepare_training_data, train_forecaster
from tests.instagram_server import FakeInstagram
from tests.test_importers import _build_export

TOKEN = "IGAAtesttoken-Zq81x"


def _train(catalogue: pd.DataFrame, key: str, sources=("hashtags", "cluster")):
    return train_forecaster(prepare_training_data(catalogue, key, LabelSources.from_names(sources)), key)


def test_a_target_the_archive_lacks_is_not_offered(data_dir: Path):
    archive = load_folder(data_dir / "instaloader-boston-2accounts")
    posts = post_frame(archive.catalogue)
    assert target_counts(posts) == {"likes": 9, "comments": 10}  # one post hides its likes, not its comments
    assert posts[["saves", "shares", "reach"]].isna().all().all()
    model = _train(archive.catalogue, archive.key)
    assert model.targets == ("likes", "comments")
    assert set(model.evaluation.metrics["target"]) == {"likes", "comments"} and set(model.choice) == set(model.targets)
    table = model.predict(model.describe_photo(Path(model.posts["path"].iloc[0]).read_bytes())).table
    assert not {"saves", "shares", "reach"} & set(table.columns)
    assert model.effects_of("saves").empty


def test_comments_are_forecast_on_a_real_instaloader_dump(data_dir: Path):
    archive = load_folder(data_dir / "instaloader-top20-celebs")
    model = _train(archive.catalogue, archive.key, ("hashtags",))
    # Every post of the dump has its comment count (Instaloader's edge_media_to_comment).
    assert model.target_posts["comments"] == archive.n_posts == 200
    metrics = model.evaluation.metrics.set_index(["target", "model"])
    for name in model.models:
        assert metrics.at[("comments", name), "n"] > 50
    c = model.choice["comments"]
    assert c.best_baseline in BASELINES and c.mae_log[c.model] <= c.mae_log[c.best_baseline]  # never worse
    assert any(target == "comments" for _, target in model.intervals)
    check = model.interval_check.set_index(["target", "model"])
    assert 0.6 <= check.at[("comments", c.model), "coverage"] <= 0.95
    effects = model.effects_of("comments")
    assert len(effects) and {"label", "factor", "low", "high", "evidence"} <= set(effects.columns)
    assert (effects["low"] <= effects["factor"]).all() and (effects["factor"] <= effects["high"]).all()
    account = "cristiano"
    tag = model.labels["label"].iloc[0]  # the hashtag on most posts
    photo = model.describe_photo(Path(model.posts["path"].iloc[0]).read_bytes(), account=account, caption=tag)
    result = model.predict(photo)
    row = result.table.set_index("model").loc[result.chosen("comments")]
    mine = model.posts.loc[model.posts["account"] == account, "comments"]
    assert mine.min() / 1.5 - 1 <= row["comments"] <= mine.max() * 1.5 + 1
    assert row["comments_low"] <= row["comments"] <= row["comments_high"]
    assert set(result.contributions) == {"likes", "comments"}
    seed_likes, seed_comments = result.contributions["likes"][0], result.contributions["comments"][0]
    assert list(seed_comments["label"]) == [tag]  # the seed model's α (mean comments) of the label, not its γ
    assert seed_comments["coefficient"].iloc[0] < seed_likes["coefficient"].iloc[0]


def test_insights_of_the_api_reach_the_catalogue_and_the_forecast(tmp_path: Path):
    cache = DiskCache(tmp_path / "cache")
    with FakeInstagram(24, token=TOKEN) as server:
        request = FetchRequest(token=TOKEN, base_url=server.url, page_size=10, first_wait=0.01, insights=True)
        _, archive = import_instagram(request, cache=cache)
    posts = post_frame(archive.catalogue)
    # The server's reach is the media id's last 4 digits, saved twice that, shares three times.
    seed = posts["post_id"].str[-4:].astype(int)
    assert (posts["reach"] == seed).all() and (posts["saves"] == 2 * seed).all()
    assert (posts["shares"] == 3 * seed).all()
    counts = target_counts(posts)
    assert list(counts) == ["likes", "comments", "saves", "shares", "reach"] and set(counts.values()) == {len(posts)}
    model = train_forecaster(prepare_training_data(archive.catalogue, archive.key,
                                                   LabelSources.from_names(["hashtags"]), cache=cache),
                             archive.key)
    assert model.targets == ("likes", "comments", "saves", "shares", "reach")
    assert set(model.choice) == set(model.targets)
    assert {"mean_saves", "shares_se", "mean_reach"} <= set(model.labels.columns)
    result = model.predict(model.describe_photo(Path(model.posts["path"].iloc[-1]).read_bytes(), caption="#tag1"))
    for target in ("saves", "shares", "reach"):
        value = result.table.set_index("model").at[result.chosen(target), target]
        assert posts[target].min() / 1.5 - 1 <= value <= posts[target].max() * 1.5 + 1


def test_export_insights_carry_saves_shares_and_reach(data_dir: Path, tmp_path: Path):
    # Instagram's English insights entry, with the fields the export writes (the numbers are ours).
    insights = {"organic_insights_posts": [
        {"media_map_data": {"Media Thumbnail": {"uri": "media/posts/202405/x.jpg", "creation_timestamp": 1715566876}},
         "string_map_data": {"Creation Timestamp": {"timestamp": 1715566876}, "Accounts reached": {"value": "2,310"},
                             "Saves": {"value": "14"}, "Likes": {"value": "1,204"}, "Comments": {"value": "17"},
                             "Shares": {"value": "5"}}},
        {"media_map_data": {"Media Thumbnail": {"uri": "media/posts/202403/y.jpg", "creation_timestamp": 1710165471}},
         "string_map_data": {"Likes": {"value": "88"}, "Comments": {"value": "--"}}},
    ]}
    _build_export(data_dir, tmp_path, insights=insights)
    posts = post_frame(load_folder(tmp_path).catalogue).set_index("timestamp")
    first = posts.loc[pd.Timestamp(1715566876, unit="s", tz="UTC")]
    assert (first["likes"], first["saves"], first["shares"], first["reach"]) == (1204, 14, 5, 2310)
    taxi = posts.loc[pd.Timestamp(1710165471, unit="s", tz="UTC")]
    assert taxi["likes"] == 88 and np.isnan(taxi["saves"]) and np.isnan(taxi["reach"])
    assert target_counts(posts.reset_index()) == {"likes": 2, "comments": 1, "saves": 1, "shares": 1, "reach": 1}


@pytest.mark.parametrize("table", ["labels", "effects"])
def test_a_reposted_picture_counts_once_in_the_label_table_and_the_effects(data_dir: Path, table: str):
    # kevinhart4real posted one picture twice (same sha256, same hashtags): the training learns from it
    # once, and so must the tables of what lifts likes.
    archive = load_folder(data_dir / "instaloader-top20-celebs")
    catalogue = archive.catalogue[archive.catalogue["account"] == "kevinhart4real"].reset_index(drop=True)
    data = prepare_training_data(catalogue, archive.key + "-kevin", LabelSources.from_names(["hashtags", "cluster"]))
    posts = data.posts
    assert posts["picture"].duplicated().sum() == 1
    once = posts[~posts["picture"].duplicated()]
    labels = once["labels"] if table == "labels" else [a + b for a, b in zip(once["labels"],
                                                                              time_labels(once["timestamp"]))]
    expected = pd.Series([label for row in labels for label in dict.fromkeys(row)]).value_counts()
    model = train_forecaster(data, archive.key + "-kevin")
    shown = (model.labels if table == "labels" else model.effects).set_index("label")["posts"]
    assert len(shown) and "#comedicrockstarshit" in shown.index
    assert shown.to_dict() == expected.reindex(shown.index).to_dict()
    assert shown["#comedicrockstarshit"] == 3  # four posts, one of them the repost


def test_feedlens_forecast_target_comments_and_an_absent_target(data_dir: Path, tmp_path: Path):
    from tests.test_cli import as_json, feedlens, one_line_error

    boston = data_dir / "instaloader-boston-2accounts"
    cache = tmp_path / "cache"
    feedlens("train", boston, "--no-imagenet", "--no-faces", "--no-people", "--json", cache=cache)
    photo = boston / "royaleboston" / "2024-06-05_19-06-02_UTC_1.jpg"
    result = as_json(feedlens("forecast", photo, "--archive", boston, "--target", "comments", "--json", cache=cache))
    assert result["target"] == "comments" and result["targets"] == {"likes": 9, "comments": 10}
    assert result["forecasts"][0]["model"] == result["best_model"]  # the model chosen for comments first
    assert all(r["comments"] >= 0 for r in result["forecasts"])
    text = feedlens("forecast", photo, "--archive", boston, "--target", "comments", cache=cache).stdout
    assert f"comments ({result['best_model']})" in text.splitlines()[0]
    proc = feedlens("forecast", photo, "--archive", boston, "--target", "saves", "--json", cache=cache, check=1)
    assert as_json(proc)["error"]["type"] == "InputError"
    assert "no saves counts" in one_line_error(proc) and "comments (10 posts)" in one_line_error(proc)
    proc = feedlens("forecast", photo, "--archive", boston, "--target", "followers", cache=cache, check=2)
    assert "likes, comments, saves, shares, reach" in proc.stderr


def test_an_archive_with_comments_but_no_likes_forecasts_the_comments(data_dir: Path):
    archive = load_folder(data_dir / "instaloader-boston-2accounts")
    catalogue = archive.catalogue.assign(likes=pd.array([pd.NA] * len(archive.catalogue), dtype="Int64"))
    model = _train(catalogue, archive.key + "-no-likes")
    assert model.targets == ("comments",) and model.n_hidden == len(model.posts) == 10
    result = model.predict(model.describe_photo(Path(model.posts["path"].iloc[0]).read_bytes()))
    assert "likes" not in result.table.columns and result.chosen("comments") == result.table["model"].iloc[0]
    assert model.effects_of("likes").empty
