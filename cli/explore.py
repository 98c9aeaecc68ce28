"""``feedlens features``: compute the Explore page's photo features into the shared cache."""

from __future__ import annotations

from enum import Enum
from typing import Annotated, Optional

import typer

from core.explore.features import DEFAULT_FEATURE_SET, FEATURE_SETS
from core.jobs import WeightsUnavailableError

from .options import ArchiveArg, JsonOpt
from .runner import archive_summary, command
from .text import count

__all__ = ["FeatureSet", "OFFLINE_FALLBACK", "features"]

#: The feature-set names of :data:`core.explore.features.FEATURE_SETS`, as choices.
FeatureSet = Enum("FeatureSet", {name: name for name in FEATURE_SETS}, type=str)

#: What the Explore page shows when the default CNN's ImageNet weights cannot be had.
OFFLINE_FALLBACK = "colour_texture"


def features(
    archive: ArchiveArg,
    feature_set: Annotated[Optional[FeatureSet], typer.Option(
        "--features", show_default=False,
        help=f"Feature set. Default: the Explore page's ({DEFAULT_FEATURE_SET}, or {OFFLINE_FALLBACK} when its "
             "ImageNet weights cannot be had, as the page falls back). Asked for by name, a CNN whose weights "
             "cannot be had is an error.")] = None,
    random_weights: Annotated[bool, typer.Option(
        "--random-weights", help="Run a CNN with random weights (no download): checks the pipeline offline; "
                                 "the features mean nothing.")] = False,
    raw_size: Annotated[int, typer.Option(
        "--raw-size", min=16, max=224, help="Side of the square for --features raw (the Explore page's slider).")] = 150,
    batch_size: Annotated[Optional[int], typer.Option(
        "--batch-size", min=1, show_default=False,
        help="Photos per batch (default: 32 for a CNN, 64 otherwise). Smaller batches stop sooner on Ctrl-C.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Compute photo features for the Explore map, cached per photo: the page then computes nothing.

    Photos already in the cache are read, not computed again, so a rerun
    after Ctrl-C resumes where it stopped.
    """
    from core.explore.features import CNNFeatures, compute_features, make_extractor

    name = feature_set.value if feature_set is not None else DEFAULT_FEATURE_SET
    spec = FEATURE_SETS[name]
    if random_weights and spec.family != "cnn":
        raise typer.BadParameter(f"only the CNN feature sets have weights, not {name}", param_hint="--random-weights")
    with command(json_output) as run:
        arch = run.open_archive(archive)
        kwargs = {"raw_size": raw_size, "weights": None if random_weights else "imagenet"}
        if batch_size:
            kwargs["batch_size"] = batch_size
        extractor = make_extractor(name, **kwargs)
        fallback = None
        if isinstance(extractor, CNNFeatures) and not random_weights:
            try:
                run.step(f"Loading {extractor.spec.constructor} and its ImageNet weights", extractor.ensure_fitted)
            except WeightsUnavailableError as exc:
                if feature_set is not None:
                    raise
                fallback = {"from": name, "reason": str(exc)}
                run.warn(f"{exc} Computing {FEATURE_SETS[OFFLINE_FALLBACK].label} instead, "
                         "as the Explore page does offline.")
                name, spec = OFFLINE_FALLBACK, FEATURE_SETS[OFFLINE_FALLBACK]
                extractor = make_extractor(name)
        items = list(zip(arch.catalogue["sha256"], arch.catalogue["path"]))
        result = run.job(f"{spec.label} features", compute_features, items, extractor, chunk=batch_size)
        for note in result.notes:
            run.warn(note)
        if random_weights:
            run.warn("Random weights: these features check the pipeline only; they say nothing about your photos.")
        unreadable = int((~result.valid).sum())
        text = (f"{spec.label}: {count(len(items), 'photo')}, {result.computed} computed, "
                f"{result.reused} read from the cache"
                + (f", {unreadable} unreadable" if unreadable else "") + f" (cache tag {result.tag}).")
        run.done({
            "archive": archive_summary(arch),
            "feature_set": name,
            "tag": result.tag,
            "dim": int(result.features.shape[1]),
            "photos": len(items),
            "computed": result.computed,
            "reused": result.reused,
            "unreadable": unreadable,
            "imagenet_labels": result.has_labels,
            "random_weights": random_weights,
            "fallback": fallback,
            "notes": result.notes,
        }, text)
