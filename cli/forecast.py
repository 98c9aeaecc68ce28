"""``feedlens train`` and ``feedlens forecast``: the Forecast page's model, from a terminal."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from .options import ArchiveArg, JsonOpt
from .runner import InputError, archive_summary, command
from .text import count, number, table

__all__ = ["train", "forecast"]


def _source(name: str, help: str):
    flag = name.replace("_", "-")
    return Annotated[bool, typer.Option(f"--{flag}/--no-{flag}", help=help)]


def train(
    archive: ArchiveArg,
    hashtags: _source("hashtags", "Hashtags in the caption as labels.") = True,
    alt_text: _source("alt_text", "Instagram's accessibility caption as labels.") = True,
    imagenet: _source("imagenet", "ImageNet labels (Keras MobileNetV3 Small; skipped, with a warning, when its "
                                  "weights cannot be had).") = True,
    faces: _source("faces", "Face count (MediaPipe) as a label.") = True,
    people: _source("people", "People named on the Faces page (or with `feedlens people --name`).") = True,
    cluster: _source("cluster", "Visual cluster (K-Means on the photos' look) as a label.") = True,
    boosting: Annotated[bool, typer.Option("--boosting", help="Also try gradient boosting (slower).")] = False,
    json_output: JsonOpt = False,
) -> None:
    """Train the forecast of likes, comments (and saves, shares, reach from insights) and save it, as the page does.

    Only photos new since the last training are labelled; errors are measured
    on the newest posts, held out.
    """
    from core.forecast.labels import LABEL_SOURCES, LabelSources

    sources = LabelSources(hashtags=hashtags, alt_text=alt_text, imagenet=imagenet, faces=faces, people=people,
                           cluster=cluster)
    if not sources.enabled():
        raise typer.BadParameter("pick at least one label source (every one was switched off)")
    with command(json_output) as run:
        from core.explore.features import make_extractor
        from core.forecast.training import TrainingRequest, forecaster_path, train_and_save

        arch = run.open_archive(archive)

        def classifier():
            return run.step("Loading the ImageNet classifier (MobileNetV3 Small)",
                            make_extractor("mobilenet_v3_small").ensure_fitted)

        request = TrainingRequest(arch.catalogue, arch.key, sources, include_boosting=boosting)
        model = run.job("Labelling the posts, evaluating, fitting", train_and_save, request,
                        imagenet_classifier=classifier)
        for source, why in model.unavailable.items():
            run.warn(f"{LABEL_SOURCES.get(source, source)} not used: {why}")
        ev = model.evaluation
        metrics = ev.wide_table(order=list(model.models)).reset_index() if ev.ok else None
        lines = [f"Trained on {count(len(model.posts), 'post')} ({model.n_hidden} without a like count: left out of "
                 "the likes); "
                 f"{model.new_photos} photo(s) labelled now, {model.reused_photos} read from the cache.",
                 f"Labels from: {', '.join(model.sources.enabled()) or 'none'}.",
                 "Targets (`feedlens forecast --target`): "
                 + ", ".join(f"{t} ({model.target_posts.get(t, 0)} posts)" for t in model.targets) + "."]
        if metrics is not None:
            lines.append(f"Held-out error ({ev.scheme}):")
            lines.append(table(["model", "posts", "likes MAE", "likes mdape", "comments MAE"],
                               [[r["model"], r["held-out posts"], number(r["likes mae"], 1),
                                 number(r["likes mdape"] * 100) + " %", number(r.get("comments mae"), 1)]
                                for r in metrics.to_dict("records")]))
        lines += ev.notes
        lines.append(f"Saved: {forecaster_path(arch.key)}")
        run.done({
            "archive": archive_summary(arch),
            "posts": len(model.posts),
            "hidden_likes": model.n_hidden,
            "targets": {t: model.target_posts.get(t, 0) for t in model.targets},
            "sources": model.sources.enabled(),
            "unavailable": model.unavailable,
            "models": list(model.models),
            "new_photos": model.new_photos,
            "reused_photos": model.reused_photos,
            "evaluation": {"scheme": ev.scheme, "notes": ev.notes,
                           "metrics": metrics.to_dict("records") if metrics is not None else []},
            "model_path": forecaster_path(arch.key),
        }, "\n".join(lines))


def _interval(low: float, high: float) -> str:
    """``12–40``, or ``–`` when too few posts were held out to know."""
    return "–" if "–" in (number(low), number(high)) else f"{number(low)}–{number(high)}"


def _when(text: Optional[str]):
    import pandas as pd

    if not text:
        return pd.Timestamp.now(tz="UTC").floor("h")
    try:
        when = pd.Timestamp(text)
    except (ValueError, TypeError) as exc:
        raise typer.BadParameter(f"not a date and time: {text!r} (e.g. 2024-06-01T18:00)",
                                 param_hint="--time") from exc
    if when is pd.NaT:
        raise typer.BadParameter(f"not a date and time: {text!r}", param_hint="--time")
    return when.tz_localize("UTC") if when.tzinfo is None else when.tz_convert("UTC")


def forecast(
    photo: Annotated[Path, typer.Argument(metavar="PHOTO", show_default=False,
                                          help="The photo you might post (any image Pillow reads).")],
    archive: Annotated[Path, typer.Option(
        "--archive", "-a", show_default=False,
        help="The archive the model was trained on with `feedlens train` (folder or ZIP).")],
    caption: Annotated[str, typer.Option("--caption", help="The caption you plan to write (its hashtags become "
                                                           "labels).")] = "",
    posting_time: Annotated[Optional[str], typer.Option(
        "--time", show_default=False, help="When you would post it, e.g. 2024-06-01T18:00 (UTC unless a zone "
                                           "is given). Default: this hour.")] = None,
    similar: Annotated[int, typer.Option("--similar", min=0, max=50,
                                         help="How many of the most similar past posts to list.")] = 6,
    target: Annotated[Optional[str], typer.Option(
        "--target", show_default=False,
        help="What to forecast: likes, comments, or saves, shares or reach when the archive has Instagram "
             "insights (`feedlens train` lists what it has). Default: likes (or the first the archive has).")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Forecast likes (or comments, saves, shares, reach) of a new photo with the archive's saved model."""
    from core.forecast.labels import TARGETS

    if target is not None and target not in TARGETS:
        raise typer.BadParameter(f"{target!r} is not one of {', '.join(TARGETS)}", param_hint="--target")
    when = _when(posting_time)
    with command(json_output) as run:
        from core.forecast.labels import post_frame
        from core.forecast.training import load_forecaster
        from core.image.io import ImageError
        from core.jobs import ModelUnavailableError

        try:
            data = Path(photo).expanduser().read_bytes()
        except FileNotFoundError:
            raise ImageError(f"{photo}: no such file") from None
        except IsADirectoryError:
            raise ImageError(f"{photo}: a folder, not a photo") from None
        arch = run.open_archive(archive)
        model = load_forecaster(arch.key)
        if model is None:
            raise ModelUnavailableError(f"no forecast model is saved for {arch.root}; train one first: "
                                        f"feedlens train {archive}")
        target = target or model.targets[0]
        if target not in model.targets:
            raise InputError(f"--target: this archive has no {target} counts to learn from; it has "
                             + ", ".join(f"{t} ({model.target_posts.get(t, 0)} posts)" for t in model.targets))
        new = model.new_photos_since(post_frame(arch.catalogue))
        if new:
            run.warn(f"{count(new, 'photo')} of the archive are new since the model was trained; "
                     "`feedlens train` includes them.")
        try:
            labelled = run.step("Labelling the photo", model.describe_photo, data, caption=caption, when=when)
        except ImageError as exc:
            raise ImageError(f"{photo}: {exc}") from exc
        result = model.predict(labelled, n_similar=similar)
        best = result.chosen(target)  # the lowest held-out error, baselines included
        by_model = result.table.set_index("model")
        order = [best, *(m for m in by_model.index if m != best)]
        rows = result.table.set_index("model").loc[order].reset_index().to_dict("records")
        interval = _interval(by_model.at[best, f"{target}_low"], by_model.at[best, f"{target}_high"])
        usual = "" if result.content_helps(target) else (
            f" On held-out posts, what the photo shows did not beat your usual {target}"
            + (f": 8 in 10 posts fall in {interval}." if interval != "–" else
               " (too few held-out posts for an 80 % interval)."))
        lines = [
            f"{Path(photo).name} posted {when:%Y-%m-%d %H:%M} UTC: about {number(by_model.at[best, target])} "
            f"{target} ({best}).{usual}",
            table(["model", target, "80 % interval"],
                  [[r["model"], number(r[target]), _interval(r[f"{target}_low"], r[f"{target}_high"])]
                   for r in rows]),
            "Labels: " + (", ".join(result.labels) or "none"),
            *result.notes,
        ]
        shown = result.similar
        if len(shown):
            lines.append("Most similar past posts:")
            lines.append(table(["post", target, "posted", "distance"],
                               [[r["post_id"], number(r[target]),
                                 f"{r['timestamp']:%Y-%m-%d}" if r["timestamp"] == r["timestamp"] else "–",
                                 number(r["distance"], 2)] for r in shown.to_dict("records")]))
        keep = [c for c in ("post_id", "path", *model.targets, "timestamp", "caption", "distance")
                if c in shown.columns]
        run.done({
            "archive": archive_summary(arch),
            "photo": str(photo),
            "when": when,
            "caption": caption,
            "target": target,
            "targets": {t: model.target_posts.get(t, 0) for t in model.targets},
            "best_model": best,
            "content_helps": result.content_helps(target),
            "forecasts": rows,
            "labels": result.labels,
            "known_labels": result.known_labels,
            "fallback_to_mean": result.fallback,
            "similar": shown[keep].to_dict("records"),
            "notes": result.notes,
            "model": {"trained_at": model.trained_at, "posts": len(model.posts), "new_photos_since": new},
        }, "\n".join(lines))
