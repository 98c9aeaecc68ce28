"""Per-post and per-group views of a real catalogue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from core.archive.catalogue import load_folder
from core.archive.summary import engagement_by, posts_table, top_hashtags


def test_summaries_of_a_real_instaloader_dump(data_dir: Path):
    cat = load_folder(data_dir / "instaloader-boston-2accounts").catalogue
    posts = posts_table(cat)
    assert len(posts) == 10 and posts["n_images"].sum() == 25
    assert posts["timestamp"].is_monotonic_increasing
    tags = top_hashtags(cat, 5)
    assert tags["posts"].is_monotonic_decreasing and "boston" in set(tags["hashtag"])

    by_account = engagement_by(cat, "account").set_index("account")
    assert by_account["photos"].to_dict() == {"beehiveboston": 10, "royaleboston": 15}
    # The post with hidden likes (-1 in Instaloader) is left out, not counted as zero.
    bee = cat[(cat["account"] == "beehiveboston") & cat["likes"].notna()]
    assert by_account.loc["beehiveboston", "median_likes"] == float(bee["likes"].median())
    assert by_account.loc["beehiveboston", "mean_likes"] == float(bee["likes"].mean())


def test_engagement_by_with_no_known_likes_sorts_last():
    frame = pd.DataFrame({"group": ["x", "y", "y"], "likes": pd.array([None, 5, 7], dtype="Int64"),
                          "comments": pd.array([None, None, 1], dtype="Int64"), "label": ["a", "b", "b"]})
    out = engagement_by(frame, "group", typical="label")
    assert out["group"].tolist() == ["y", "x"]
    assert pd.isna(out.loc[1, "median_likes"]) and out.loc[0, "median_comments"] == 1.0
    assert out["typical label"].tolist() == ["b (2/2)", "a (1/1)"]
