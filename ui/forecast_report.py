"""The Forecast page's report on a trained model: held-out errors against the baselines, the effects, the labels.

Every section is drawn for one target (likes, comments, or saves, shares and reach when the archive has
Instagram insights), the one picked in :func:`target_picker`.
"""

from __future__ import annotations

import numpy as np
import plotly.express as px
import plotly.graph_objects as go
import streamlit as st

from core.forecast.training import BASELINES
from ui.share import sync

__all__ = ["NO_CONTENT_EFFECT", "no_content_effect", "target_picker", "held_out_section", "effects_section",
           "labels_section"]

NO_CONTENT_EFFECT = "On your posts, what the photo shows has not moved likes beyond your usual range."


def no_content_effect(target: str = "likes") -> str:
    """:data:`NO_CONTENT_EFFECT` for ``target``."""
    return NO_CONTENT_EFFECT.replace("likes", target)


def target_picker(model) -> str:
    """What to forecast: only the targets this archive has counts of, each with its number of posts."""
    targets = list(model.targets)
    if len(targets) == 1:
        st.text(f"Forecasting {targets[0]} ({model.target_posts.get(targets[0], 0)} posts have a count).")
        return targets[0]
    return st.segmented_control(
        "Forecast", targets, required=True,
        format_func=lambda t: f"{t} ({model.target_posts.get(t, 0)} posts)",
        key=sync("forecast_target", "forecast", default=targets[0], options=targets),
        help="Only what this archive has counts of. Saves, shares and reach come from Instagram insights "
             "(the Instagram API with insights, or an export with past_instagram_insights).")


def _choice_text(model, target: str) -> str:
    c = model.choice.get(target)
    if c is None:
        return ""
    if c.content_helps:
        return (f"Shown first: {c.model}, whose held-out error (MAE of log {target} {c.mae_log[c.model]:.3f}) is "
                f"{c.gain:.0%} lower than your best baseline's ({c.best_baseline}, {c.mae_log[c.best_baseline]:.3f}).")
    if c.best_content and c.n < 10:
        return (f"Only {c.n} posts could be held out: too few to tell whether what the photo shows moves your "
                f"{target}, so your usual range is shown first ({c.model}, the baseline with the lowest held-out "
                f"error, MAE of log {target} {c.mae_log[c.model]:.3f}).")
    content = (f" The best content model ({c.best_content}, {c.mae_log[c.best_content]:.3f}) did not beat it clearly."
               if c.best_content else "")
    return (f"{no_content_effect(target)} Shown first: {c.model}, the baseline with the lowest held-out error "
            f"(MAE of log {target} {c.mae_log[c.model]:.3f}).{content}")


def _errors_table(model, target: str) -> list[str]:
    """The held-out table (this target's columns first); returns the models in their shown order."""
    ev = model.evaluation
    order = list(model.models)
    if target in model.choice:  # the model shown first, then the others by held-out error
        c = model.choice[target]
        order = [c.model] + sorted((m for m in model.models if m != c.model), key=lambda m: c.mae_log.get(m, np.inf))
    wide = ev.wide_table(order=order)
    first = [c for c in wide.columns if c.startswith(f"{target} ")]
    wide = wide[["held-out posts", *first, *[c for c in wide.columns[1:] if c not in first]]]
    wide.insert(0, "kind", ["baseline" if m in BASELINES else "content" for m in wide.index])
    st.dataframe(wide, column_config={
        **{c: st.column_config.NumberColumn(format="%.3f") for c in wide.columns if c.endswith("mae_log")},
        **{c: st.column_config.NumberColumn(format="%.1f") for c in wide.columns if c.endswith(" mae")},
        **{c: st.column_config.NumberColumn(format="percent") for c in wide.columns if c.endswith("mdape")},
        **{c: st.column_config.NumberColumn(format="%.2f") for c in wide.columns if c.endswith("spearman")},
    }, key="forecast_error_table")
    st.caption("mae_log: mean absolute error of log(1 + count), the error the choice uses (0.10 ≈ 10 % off). "
               "mdape: median absolute percentage error. mae: in counts. spearman: rank correlation of forecast "
               "and truth (1 = perfect order). Baselines are what you already know: your usual count (the mean "
               "of its logs), the median of your last 10 posts, your account's trend. Each target is judged on "
               "the held-out posts that have a count of it.")
    return order


def held_out_section(model, target: str = "likes") -> None:
    """Errors on posts the models never saw (overall and per account), interval coverage, forecast vs actual."""
    ev = model.evaluation
    if not ev.ok:
        for note in ev.notes:
            st.info(note)
        return
    st.text(f"Split: {ev.scheme}. Held-out posts get only what a new photo would have (no Instagram alt text).")
    choice_text = _choice_text(model, target)
    if choice_text:
        (st.success if model.choice[target].content_helps else st.info)(choice_text)
    order = _errors_table(model, target)
    per_account = ev.per_account(target)
    if per_account["account"].nunique() > 2:
        with st.expander(f"Per account ({target})"):
            grid = per_account.pivot(index="account", columns="model", values="mae_log")
            grid = grid[[m for m in order if m in grid.columns]]
            st.dataframe(grid, column_config={c: st.column_config.NumberColumn(format="%.3f") for c in grid.columns},
                         key="forecast_per_account")
            st.caption(f"MAE of log {target} on each account's held-out posts.")
    check = model.interval_check
    if len(check) and not (check["n"] > 0).any():
        st.caption("80 % intervals: too few held-out posts to check their coverage on later posts.")
    elif len(check):
        st.subheader("80 % intervals")
        shown = check[check["target"] == target].set_index("model").reindex(order).dropna(how="all")
        st.dataframe(shown[["coverage", "width_ratio", "n"]], column_config={
            "coverage": st.column_config.NumberColumn("coverage", format="percent"),
            "width_ratio": st.column_config.NumberColumn("high ÷ low", format="%.1f"),
            "n": st.column_config.NumberColumn("posts checked")}, key="forecast_coverage")
        st.caption("Each evaluation block checked against intervals calibrated on the earlier blocks only. "
                   "A calibrated 80 % interval covers 75–85 % of posts; the narrower (smaller high ÷ low), the "
                   "more useful.")
    shown = ev.predictions[ev.predictions["target"] == target]
    fig = px.scatter(shown, x="actual", y="predicted", color="model", opacity=0.7, log_x=True, log_y=True,
                     hover_data=["account"],
                     labels={"actual": f"actual {target}", "predicted": f"forecast {target}"},
                     title=f"Held-out posts: forecast vs actual {target}")
    values = shown[["actual", "predicted"]].to_numpy(float)
    values = values[values > 0]
    low, top = (float(values.min()), float(values.max())) if len(values) else (1.0, 10.0)
    fig.add_trace(go.Scatter(x=[low, top], y=[low, top], mode="lines", name="perfect",
                             line=dict(color="grey", dash="dot")))
    st.plotly_chart(fig, key="forecast_scatter")


def effects_section(model, target: str = "likes") -> None:
    """Who and what lifts ``target``: each label's factor against the account's usual level, with its interval."""
    table = model.effects_of(target)
    if table is None or table.empty:
        st.info("Too few posts to measure any label's effect (each needs at least 3 posts with it and 3 without).")
        return
    sources = st.multiselect("Sources", sorted(table["source"].unique()), key="forecast_effect_sources")
    if sources:
        table = table[table["source"].isin(sources)]
    n_evidence = int(table["evidence"].sum())
    st.text(f"{n_evidence} of {len(table)} effects have evidence (their 95 % interval excludes “no change”); "
            "the others are greyed as “no evidence”.")
    shown = table.head(40).iloc[::-1]
    colour = np.where(~shown["evidence"], "#b0b0b0", np.where(shown["factor"] >= 1, "#2ca02c", "#d62728"))
    fig = go.Figure(go.Scatter(
        x=shown["factor"], y=shown["label"], mode="markers", marker=dict(color=colour, size=9),
        error_x=dict(type="data", symmetric=False, array=shown["high"] - shown["factor"],
                     arrayminus=shown["factor"] - shown["low"], color="#888888"),
        customdata=np.column_stack([shown["posts"], shown["low"], shown["high"]]),
        hovertemplate="%{y}: ×%{x:.2f} (%{customdata[1]:.2f}–%{customdata[2]:.2f}), %{customdata[0]} posts"
                      "<extra></extra>"))
    fig.add_vline(x=1.0, line=dict(color="grey", dash="dot"))
    ticks = [0.1, 0.25, 0.5, 1, 2, 4, 10]
    fig.update_layout(title=f"{target.capitalize()} with it ÷ {target} without it, against your usual level "
                            "(95 % interval)",
                      xaxis=dict(type="log", title=f"× {target}", tickvals=ticks, ticktext=[f"×{t:g}" for t in ticks]),
                      height=max(320, 22 * len(shown) + 120))
    st.plotly_chart(fig, key="forecast_effects_chart")
    view = table.assign(effect=np.where(table["evidence"], "evidence", "no evidence"))
    styled = view.style.apply(lambda row: ["color: #9a9a9a" if row["effect"] == "no evidence" else ""] * len(row),
                              axis=1)
    st.dataframe(styled, hide_index=True, column_config={
        "factor": st.column_config.NumberColumn(f"× {target}", format="%.2f"),
        "low": st.column_config.NumberColumn("95 % low", format="%.2f"),
        "high": st.column_config.NumberColumn("95 % high", format="%.2f"),
        "evidence": None}, key="forecast_effects_table")
    st.caption("Each factor compares the posts with a label to those without it, each post taken against its own "
               "account's usual level (its trend when it has 10 or more dated posts), so a big account's labels "
               "do not look like lifts. Intervals: bootstrap over posts. With many labels, about 1 in 20 without "
               "any real effect still misses 1 by chance; an effect is a correlation in your posts, not a proof "
               "that the label causes it. A reposted picture counts once (its first showing). Times are in UTC.")


def labels_section(model) -> None:
    """Every label with its mean count of each target (each picture once)."""
    table = model.labels
    sources = st.multiselect("Sources", sorted(table["source"].unique()), key="forecast_label_sources")
    if sources:
        table = table[table["source"].isin(sources)]
    st.dataframe(table, hide_index=True, column_config={
        "mean_likes": st.column_config.NumberColumn("mean likes", format="%.1f"),
        "likes_se": st.column_config.NumberColumn("± s.e.", format="%.1f"),
        "mean_comments": st.column_config.NumberColumn("mean comments", format="%.1f"),
        "comments_se": st.column_config.NumberColumn("± s.e. ", format="%.1f"),
        **{f"mean_{t}": st.column_config.NumberColumn(f"mean {t}", format="%.1f")
           for t in model.targets if t not in ("likes", "comments")},
        **{f"{t}_se": st.column_config.NumberColumn(f"± s.e. ({t})", format="%.1f")
           for t in model.targets if t not in ("likes", "comments")},
        "seen_once": st.column_config.CheckboxColumn("seen once"),
    })
    st.caption(f"{int(table['seen_once'].sum())} label(s) were seen on a single post: their mean is one post's "
               "count, with no standard error. A reposted picture counts once (its first showing).")
