"""Archive page: the catalogue of the current archive.

Captions, hashtags and file names are user text: they are shown with
``st.text``, escaped in chart hovers, and never as Markdown or HTML. The grid
page and the timeline's metric are kept in the URL (``ui.share``).
"""

import html

import pandas as pd
import plotly.express as px
import streamlit as st

from core.archive.summary import likes_and_date, posts_table, shorten, top_hashtags
from ui.archive_duplicates import duplicate_count, duplicates_section
from ui.archive_places import archived_switch, for_export, places_section
from ui.batch_status import show_batch_status
from ui.gallery import photo_grid
from ui.run_cache import frame_key, reuse
from ui.share import sync
from ui.state import current_archive

GRID_COLUMNS = 6
PAGE_SIZE = 24


def overview(archive) -> None:
    """Name, formats, counts; stops the page when there is nothing to show."""
    problems = archive.problems
    st.title("Archive")
    st.text(f"{archive.name} · formats: {', '.join(archive.formats) or 'none'}")
    show_batch_status(archive)
    if archive.illustrative_engagement:
        st.warning(
            "Demo archive: the photos are real sample images shipped with scikit-image, scikit-learn and "
            "matplotlib, but their likes, comments, captions and dates are **illustrative**, made up for the demo.",
            icon=":material/info:",
        )
    errors = problems[problems["level"] == "error"] if len(problems) else problems
    cols = st.columns(4)
    cols[0].metric("Posts", archive.n_posts)
    cols[1].metric("Photos", archive.n_images)
    cols[2].metric("Videos skipped", archive.videos_skipped)
    cols[3].metric("Files with problems", len(errors))
    if archive.n_images == 0:
        st.info("No photos in this archive yet. Pick another one in the sidebar.")
        if len(problems):
            st.subheader("Problems found in the import")
            st.dataframe(problems, hide_index=True)
        st.stop()
    if not archive.likes_known:
        st.info(
            "This archive has no like counts (Instagram's export leaves them out unless "
            "`past_instagram_insights/posts.json` is included), so likes show as unknown.",
            icon=":material/help:",
        )


def photos_section(catalogue: pd.DataFrame) -> None:
    """The square grid, a page at a time, with carousel and video badges."""
    n_pages = max(1, -(-len(catalogue) // PAGE_SIZE))
    page = 1
    if n_pages > 1:
        page = st.columns([1, 5])[0].number_input(
            f"Page (of {n_pages})", 1, n_pages,
            key=sync("archive_grid_page", "page", default=1, bounds=(1, n_pages)))
    shown = catalogue.iloc[(page - 1) * PAGE_SIZE : page * PAGE_SIZE]
    post_sizes = catalogue["post_id"].value_counts()

    def grid_text(_, row) -> str:
        badges = []
        if post_sizes[row["post_id"]] > 1:
            badges.append(f"{row['position']}/{post_sizes[row['post_id']]}")
        if row["media_type"] == "video thumbnail":
            badges.append("video")
        if pd.notna(row.get("duplicate_of")):
            badges.append("repost")
        return " · ".join([likes_and_date(row["likes"], row["timestamp"]), *badges]) + "\n" + shorten(row["caption"], 90)

    photo_grid(shown, GRID_COLUMNS, grid_text)


def _timeline_figure(posts: pd.DataFrame, metric: str, suffix: str):
    posts = posts.assign(
        hover=posts["caption"].fillna("").map(lambda c: html.escape(c[:80])),
        value=posts[metric].astype(float),
    )
    fig = px.scatter(posts, x="timestamp", y="value", size="n_images", hover_name="hover",
                     labels={"timestamp": "Posted (UTC)", "value": f"{metric}{suffix}", "n_images": "photos"},
                     size_max=14)
    fig.update_traces(mode="lines+markers", line={"width": 1})
    return fig


def timeline_section(catalogue: pd.DataFrame, suffix: str) -> None:
    """Likes or comments of every post over time."""
    posts = posts_table(catalogue).dropna(subset=["timestamp"])
    metric = st.segmented_control("Show", ["likes", "comments"],
                                  key=sync("archive_metric", "show", default="likes", options=["likes", "comments"]))
    posts = posts.dropna(subset=[metric or "likes"])
    if posts.empty:
        st.info(f"No post has both a date and a known {metric} count.")
        return
    # Built once per data and choice, for every session (ui.run_cache): Plotly costs more than the rest of a run.
    fig = reuse("archive_timeline", (frame_key(posts), metric, suffix),
                lambda: _timeline_figure(posts, metric or "likes", suffix))
    st.plotly_chart(fig, key="archive_timeline")


def _hashtags_figure(tags: pd.DataFrame, suffix: str):
    fig = px.bar(tags.iloc[::-1], x="posts", y="hashtag", orientation="h", hover_data=["mean_likes"],
                 labels={"posts": "posts using it", "hashtag": "", "mean_likes": f"mean likes{suffix}"},
                 height=90 + 24 * len(tags))
    fig.update_xaxes(dtick=1 if tags["posts"].max() <= 10 else None)
    return fig


def hashtags_section(catalogue: pd.DataFrame, suffix: str) -> None:
    """The 25 most used hashtags and their mean likes."""
    tags = top_hashtags(catalogue, 25)
    if tags.empty:
        st.info("No hashtags in the captions.")
        return
    fig = reuse("archive_hashtags", (frame_key(tags), suffix), lambda: _hashtags_figure(tags, suffix))
    st.plotly_chart(fig, key="archive_hashtags")


def problems_section(problems: pd.DataFrame) -> None:
    if len(problems):
        st.dataframe(problems, hide_index=True, key="archive_problems")
    else:
        st.success("Every file imported cleanly.")


def catalogue_section(catalogue: pd.DataFrame) -> None:
    """The whole catalogue as a table, and as a CSV download."""
    visible = for_export(catalogue.drop(columns=["path"]))  # no latitude/longitude while location is private
    st.dataframe(visible, hide_index=True, key="archive_catalogue")
    # The CSV is written when the button is clicked, not on every run.
    st.download_button("Download catalogue (CSV)", lambda: visible.to_csv(index=False).encode("utf-8"),
                       file_name="feedlens_catalogue.csv", mime="text/csv", on_click="ignore")


def main() -> None:
    archive = current_archive()
    overview(archive)
    suffix = " (illustrative)" if archive.illustrative_engagement else ""
    catalogue = archived_switch(archive.catalogue)
    tab_grid, tab_time, tab_tags, tab_places, tab_dups, tab_problems, tab_table = st.tabs(
        ["Photos", "Likes over time", "Hashtags", "Places", f"Duplicates ({duplicate_count(catalogue)})",
         f"Problems ({len(archive.problems)})", "Catalogue"]
    )
    with tab_grid:
        photos_section(catalogue)
    with tab_time:
        timeline_section(catalogue, suffix)
    with tab_tags:
        hashtags_section(catalogue, suffix)
    with tab_places:
        places_section(catalogue, suffix)
    with tab_dups:
        duplicates_section(catalogue)
    with tab_problems:
        problems_section(archive.problems)
    with tab_table:
        catalogue_section(catalogue)


main()
