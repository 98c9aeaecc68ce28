"""Per-post views of a catalogue: what the Archive page charts."""

from __future__ import annotations

from collections import Counter

import pandas as pd

__all__ = ["posts_table", "top_hashtags", "engagement_by", "likes_and_date", "shorten"]


def posts_table(catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per post: time, likes, comments, caption, photo count.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive catalogue (one row per image).

    Returns
    -------
    pandas.DataFrame
        Columns ``post_id, timestamp, likes, comments, caption, n_images,
        account``, sorted by time.

    Examples
    --------
    >>> cat = pd.DataFrame({"post_id": ["a", "a", "b"], "timestamp": pd.to_datetime([1, 1, 2], unit="s", utc=True),
    ...                     "likes": pd.array([3, 3, None], dtype="Int64"), "comments": pd.array([1, 1, 0], dtype="Int64"),
    ...                     "caption": ["x", "x", "y"], "account": [None, None, None]})
    >>> table = posts_table(cat)
    >>> table["post_id"].tolist(), table["n_images"].tolist(), table["likes"].isna().tolist()
    (['a', 'b'], [2, 1], [False, True])
    """
    if catalogue.empty:
        return pd.DataFrame(columns=["post_id", "timestamp", "likes", "comments", "caption", "n_images", "account"])
    grouped = catalogue.groupby("post_id", sort=False, dropna=False)
    table = grouped.agg(
        timestamp=("timestamp", "first"),
        likes=("likes", "first"),
        comments=("comments", "first"),
        caption=("caption", "first"),
        n_images=("post_id", "size"),
        account=("account", "first"),
    ).reset_index()
    return table.sort_values("timestamp", na_position="last").reset_index(drop=True)


def top_hashtags(catalogue: pd.DataFrame, n: int = 20) -> pd.DataFrame:
    """The ``n`` most used hashtags, counted once per post.

    Returns
    -------
    pandas.DataFrame
        Columns ``hashtag, posts, mean_likes`` (likes over posts whose count
        is known), most used first.

    Examples
    --------
    >>> cat = pd.DataFrame({"post_id": ["a", "b"], "hashtags": [["sky"], ["sky", "sea"]],
    ...                     "likes": pd.array([10, 20], dtype="Int64")})
    >>> top_hashtags(cat).to_dict("list")
    {'hashtag': ['sky', 'sea'], 'posts': [2, 1], 'mean_likes': [15.0, 20.0]}
    """
    if catalogue.empty:
        return pd.DataFrame(columns=["hashtag", "posts", "mean_likes"])
    per_post = catalogue.drop_duplicates("post_id")[["hashtags", "likes"]].explode("hashtags").dropna(subset=["hashtags"])
    if per_post.empty:
        return pd.DataFrame(columns=["hashtag", "posts", "mean_likes"])
    counts = Counter(per_post["hashtags"])
    likes = per_post.assign(likes=per_post["likes"].astype("Float64")).groupby("hashtags")["likes"].mean()
    rows = [(tag, count, float(likes.get(tag)) if pd.notna(likes.get(tag)) else None)
            for tag, count in counts.most_common(n)]
    return pd.DataFrame(rows, columns=["hashtag", "posts", "mean_likes"])


def engagement_by(frame: pd.DataFrame, by: str, *, typical: str | None = None) -> pd.DataFrame:
    """Photos, median/mean likes and median comments per group, best first.

    Unknown counts (hidden likes, exports without insights) are left out of
    each statistic rather than counted as zero.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per photo, with ``by``, ``likes`` and ``comments`` columns.
    by : str
        Column to group by (a cluster id, an ImageNet group...).
    typical : str, optional
        Another column whose most common value per group is reported as
        ``"typical <typical>"`` (``"value (count/size)"``).

    Returns
    -------
    pandas.DataFrame
        Columns ``by, photos, median_likes, median_comments, mean_likes``
        (plus the typical column), sorted by median likes, unknown last.

    Examples
    --------
    >>> df = pd.DataFrame({"cluster": ["a", "a", "b"], "likes": pd.array([10, None, 30], dtype="Int64"),
    ...                    "comments": pd.array([1, 2, 3], dtype="Int64")})
    >>> engagement_by(df, "cluster")[["cluster", "photos", "median_likes", "median_comments"]].values.tolist()
    [['b', 1, 30.0, 3.0], ['a', 2, 10.0, 1.5]]
    """
    numbers = frame.assign(likes=frame["likes"].astype("Float64"), comments=frame["comments"].astype("Float64"))
    grouped = numbers.groupby(by, sort=False)
    out = pd.DataFrame({
        "photos": grouped.size(),
        "median_likes": grouped["likes"].median(),
        "median_comments": grouped["comments"].median(),
        "mean_likes": grouped["likes"].mean(),
    }).astype({"median_likes": float, "median_comments": float, "mean_likes": float})
    if typical is not None:
        out[f"typical {typical}"] = grouped[typical].agg(
            lambda s: f"{s.value_counts().index[0]} ({s.value_counts().iloc[0]}/{len(s)})"
        )
    return out.sort_values("median_likes", ascending=False, na_position="last").reset_index()


def likes_and_date(likes, timestamp) -> str:
    """``"♥ 1,234 · 2024-05-31"``, saying "unknown" for what is missing.

    Examples
    --------
    >>> likes_and_date(1234, pd.Timestamp("2024-05-31 16:57", tz="UTC"))
    '♥ 1,234 · 2024-05-31'
    >>> likes_and_date(pd.NA, pd.NaT)
    'likes unknown · date unknown'
    """
    likes_text = "likes unknown" if pd.isna(likes) else f"♥ {int(likes):,}"
    date_text = "date unknown" if pd.isna(timestamp) else timestamp.strftime("%Y-%m-%d")
    return f"{likes_text} · {date_text}"


def shorten(text, limit: int) -> str:
    """Cut ``text`` to ``limit`` characters with an ellipsis.

    Examples
    --------
    >>> shorten("a long caption", 6), shorten(None, 6)
    ('a long…', '')
    """
    text = "" if text is None or pd.isna(text) else str(text)
    return text[:limit] + ("…" if len(text) > limit else "")
