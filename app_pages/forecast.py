"""Forecast page: likes, comments (and saves, shares, reach from insights) of a new photo, learnt from your posts.

Training and forecasting live in :mod:`core.forecast` (run through ``ui.forecast_runs``); this page draws.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.forecast.labels import LABEL_SOURCES, LabelSources, post_frame, target_counts
from core.forecast.training import BASELINES, NO_LIKES_HELP, delete_forecaster
from core.image.io import UPLOAD_TYPES, ImageError, load_image
from ui.batch_status import show_batch_status
from ui.flash import flash, show_flashes
from ui.forecast_report import effects_section, held_out_section, labels_section, no_content_effect, target_picker
from ui.forecast_runs import run_training, saved_model
from ui.gallery import photo_grid
from ui.images import inline
from ui.resources import face_engine, imagenet_classifier
from ui.share import sync
from ui.state import current_archive
from ui.text import md


def intro(archive) -> pd.DataFrame:
    """Title, what the page does, and the posts it can learn from."""
    st.title("Forecast")
    st.caption(
        "How many likes and comments (and saves, shares and reach, when your archive has Instagram insights) "
        "might a new photo get, and what lifts them? Learnt from your own posts: "
        "your usual likes, the seed project's per-label averages and a regression that also knows what the "
        "photo looks like, when you post and how your account grows. Every model is judged on your newest "
        "posts, held out from training, and the one shown first is the one with the lowest error there."
    )
    if archive.illustrative_engagement:
        st.warning("Demo archive: its likes and comments are illustrative, so this forecast is a demonstration only.",
                   icon=":material/info:")
    show_batch_status(archive)
    posts = post_frame(archive.catalogue)
    n_known = int(posts["likes"].notna().sum())
    cols = st.columns(3)
    cols[0].metric("Posts", len(posts))
    cols[1].metric("With a like count", n_known)
    cols[2].metric("Hidden or unknown likes (left out)", len(posts) - n_known)
    counts = target_counts(posts)
    if not counts:
        st.info(NO_LIKES_HELP, icon=":material/help:")
        st.stop()
    if set(counts) - {"likes", "comments"}:
        st.caption("Counts in this archive: " + ", ".join(f"{t} on {n} posts" for t, n in counts.items()) + ".")
    return posts


def train_section(archive, posts: pd.DataFrame, model) -> None:
    """Label sources, boosting, Train / Retrain / Delete."""
    with st.expander("Train", expanded=model is None):
        chosen = st.multiselect(
            "Label sources", list(LABEL_SOURCES), format_func=LABEL_SOURCES.get,
            key=sync("forecast_sources", "labels", default=model.sources.enabled() if model else list(LABEL_SOURCES),
                     options=list(LABEL_SOURCES), multi=True),
            help="Every label becomes a coefficient of the seed model and an input of the regression.",
        )
        boosting = st.toggle("Also try gradient boosting (slower)",
                             key=sync("forecast_boosting", "boosting", default=bool(model and len(model.models) > 4)))
        if model is not None:
            new = model.new_photos_since(posts)
            st.text(f"Trained {model.trained_at:%Y-%m-%d %H:%M} UTC on {len(model.posts)} posts "
                    f"({model.n_hidden} without a like count, left out of the likes). {new} photo(s) are new since "
                    "then; retraining labels only those.")
        train_cols = st.columns([1, 1, 3])
        if train_cols[0].button("Retrain" if model else "Train", type="primary", key="forecast_train",
                                disabled=not chosen):
            failure = run_training(archive, LabelSources.from_names(chosen), boosting)
            if failure:
                st.error(failure)
            else:
                flash("forecast", "Model trained and saved for this archive.")
                st.rerun()
        if model is not None and train_cols[1].button("Delete model", key="forecast_delete"):
            delete_forecaster(archive.key)
            st.rerun()
        if not chosen:
            st.caption("Pick at least one label source.")


@st.cache_data(show_spinner="Labelling the photo and forecasting…", max_entries=32)
def _forecast(archive_key: str, trained_at: str, data: bytes, caption: str, when: str, account: str | None):
    # The arguments key the cache; the model itself comes from the resource cache.
    current = saved_model(archive_key)
    photo = current.describe_photo(data, caption=caption, when=pd.Timestamp(when), account=account,
                                   cnn=imagenet_classifier() if current.imagenet_ok else None, face_engine=face_engine)
    return current.predict(photo)


def _fmt(value: float) -> str:
    return "–" if value != value else f"{value:,.0f}"


def photo_to_forecast(model) -> tuple[bytes | None, str, str, pd.Timestamp, str | None]:
    """The photo (uploaded or one of the user's posts), its account, planned caption and posting time."""
    source = st.segmented_control("Photo", ["Upload a photo", "One of your posts"], default="Upload a photo",
                                  key="forecast_photo_source", required=True)
    data, name, caption_default = None, "", ""
    accounts = model.accounts
    account = accounts[0] if accounts else None
    if source == "Upload a photo":
        upload = st.file_uploader("A photo you might post", type=UPLOAD_TYPES, key="forecast_upload")
        if upload is not None:
            data, name = upload.getvalue(), upload.name
        if len(accounts) > 1:
            account = st.selectbox("Account to post it on", accounts, key="forecast_account",
                                   help="Each account has its own usual likes; the forecast is for this one.")
    else:
        past = model.posts.sort_values("timestamp", ascending=False, na_position="last")
        pick = st.selectbox(
            "Post", past.index, key="forecast_past_post",
            format_func=lambda i: f"{past.at[i, 'timestamp']:%Y-%m-%d}" if pd.notna(past.at[i, "timestamp"])
            else str(past.at[i, "post_id"]),
        )
        account = past.at[pick, "account"] or account
        st.caption("The model has seen this post: its forecast is in-sample, a sanity check rather than a test."
                   + (f" Posted on {account}." if len(accounts) > 1 else ""))
        try:
            data, name = Path(past.at[pick, "path"]).read_bytes(), Path(past.at[pick, "path"]).name
            caption_default = past.at[pick, "caption"] if isinstance(past.at[pick, "caption"], str) else ""
        except OSError as exc:
            st.error(f"{md(past.at[pick, 'path'])}: cannot be read ({md(exc.strerror or exc)}).")
    caption = st.text_area("Caption you plan to write (its hashtags become labels)", value=caption_default,
                           key=f"forecast_caption_{source}", max_chars=2200)
    now = pd.Timestamp.now(tz="UTC").floor("h")
    when_cols = st.columns(2)
    day = when_cols[0].date_input("Posting date (UTC)", value=now.date(), key="forecast_day")
    hour = when_cols[1].time_input("Posting time (UTC)", value=now.time(), key="forecast_time", step=3600)
    when = pd.Timestamp.combine(day, hour).tz_localize("UTC")
    last = model.posts["timestamp"].max()
    if pd.notna(last) and when > last + pd.Timedelta(days=183):
        st.caption(f"Your newest post is from {last:%Y-%m-%d}; the growth trend is held at six months after it.")
    return data, name, caption, when, account


def _headline(column, table: pd.DataFrame, result, target: str) -> None:
    """The chosen model's forecast of ``target``, or the usual range when content does not help."""
    name = result.chosen(target)
    low, mid, high = (table.at[name, f"{target}_low"], table.at[name, target], table.at[name, f"{target}_high"])
    name = name.replace("likes", target) if name in BASELINES else name  # "your usual comments"
    if result.content_helps(target) or low != low:
        column.metric(f"{target.capitalize()} ({name})", _fmt(mid))
        column.caption(f"80 % interval {_fmt(low)} – {_fmt(high)}")
    else:
        column.metric(f"Your usual {target}", f"{_fmt(low)} – {_fmt(high)}",
                      help=f"80 % interval around {name} ({_fmt(mid)}): on held-out posts, 8 in 10 fell inside "
                           "such a range.")
        column.caption(f"Typical: {_fmt(mid)} ({name})")


def draw_forecast(data: bytes, result, target: str = "likes") -> None:
    """The forecast's numbers (``target`` first), the models beside each other, what drove it, similar posts."""
    left, right = st.columns([1, 2])
    left.image(inline(load_image(data, max_side=640)), width="stretch")
    table = result.table.set_index("model")
    with right:
        if result.account:
            st.text(f"Account: {result.account}")
        if not result.content_helps(target):
            c = result.choice.get(target)
            why = (f"Only {c.n} of your posts could be held out: too few to tell whether what the photo shows "
                   f"moves your {target}." if c is not None and c.best_content and c.n < 10
                   else no_content_effect(target))
            st.info(why + " So this shows your usual range for any photo, not a number for this one.",
                    icon=":material/balance:")
        shown = [target, *(t for t in result.targets if t != target)]
        for row in range(0, len(shown), 2):  # two a row: five ranges side by side do not fit
            for column, each in zip(st.columns(2), shown[row:row + 2]):
                _headline(column, table, result, each)
        st.text("Labels: " + (", ".join(result.labels) or "none"))
        for note in result.notes:
            st.caption(note)
        columns = ["model", *(f"{t}{end}" for t in shown for end in ("", "_low", "_high"))]
        first = result.chosen(target)  # the model shown first for this target, then the others
        rows = [first, *(m for m in table.index if m != first)]
        st.dataframe(table.loc[rows].reset_index()[columns], hide_index=True, column_config={
            c: st.column_config.NumberColumn(format="%.0f") for c in columns if c != "model"})
        st.caption("Every model, the one shown first on top. Forecasts are kept within your account's range "
                   "(its lowest and highest counts, widened by half). Intervals: split-conformal 80 %, from each "
                   "model's errors on held-out posts (per account when it has 20 or more of them).")
    chart_cols = st.columns(2)
    seed_c, ridge_c = result.contributions.get(target, (result.seed_contributions, result.ridge_contributions))
    if len(seed_c):
        fig = px.bar(seed_c, x="contribution", y="label", orientation="h", hover_data=["count", "coefficient"],
                     labels={"contribution": f"share of the forecast ({target})", "label": ""},
                     title="Seed model: each known label's share")
        fig.update_yaxes(autorange="reversed")
        chart_cols[0].plotly_chart(fig, key="forecast_seed_bars")
    else:
        chart_cols[0].info("No label of this photo appears in your posts: the seed model gives your mean.")
    if len(ridge_c):
        shown = ridge_c.assign(change=(ridge_c["factor"] - 1) * 100)
        fig = go.Figure(go.Bar(x=shown["change"], y=shown["input"], orientation="h",
                               marker_color=np.where(shown["change"] >= 0, "#2ca02c", "#d62728")))
        fig.update_layout(title="Ridge regression: effect of each input", xaxis_title=f"% change in {target}",
                          yaxis=dict(autorange="reversed"))
        chart_cols[1].plotly_chart(fig, key="forecast_ridge_bars")
    if len(result.similar):
        st.subheader("Most similar past posts")
        photo_grid(result.similar, 6, lambda _, row: (
            (f"{row[target]:,.0f} {target}" if pd.notna(row.get(target)) else f"{target} unknown")
            + (f" · {row['timestamp']:%Y-%m-%d}" if pd.notna(row["timestamp"]) else "")))


def predict_section(archive, model, target: str) -> None:
    data, name, caption, when, account = photo_to_forecast(model)
    if data is None:
        return
    try:
        result = _forecast(archive.key, str(model.trained_at), data, caption, when.isoformat(), account)
    except ImageError as exc:
        st.error(f"{md(name)}: {md(exc)}")
        return
    draw_forecast(data, result, target)


def main() -> None:
    archive = current_archive()
    posts = intro(archive)
    model = saved_model(archive.key)
    show_flashes("forecast")
    train_section(archive, posts, model)
    if model is None:
        st.info("Train a model on this archive's posts to forecast a new photo.", icon=":material/model_training:")
        return
    for source, why in model.unavailable.items():
        st.warning(f"{LABEL_SOURCES.get(source, source)} not used: {why}", icon=":material/warning:")
    target = target_picker(model)
    predict_tab, error_tab, effects_tab, labels_tab = st.tabs(["Predict", "Held-out error",
                                                               f"What lifts your {target}", "Labels"])
    with predict_tab:
        predict_section(archive, model, target)
    with error_tab:
        held_out_section(model, target)
    with effects_tab:
        effects_section(model, target)
    with labels_tab:
        labels_section(model)


main()
