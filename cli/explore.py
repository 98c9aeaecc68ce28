"""``feedlens features`` and ``feedlens map``: the Explore page's features and map, from a terminal."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from core.explore.features import DEFAULT_FEATURE_SET, FEATURE_SETS
from core.jobs import WeightsUnavailableError

from .options import ArchiveArg, JsonOpt
from .runner import archive_summary, command
from .text import count

__all__ = ["FeatureSet", "ClusterMethod", "OFFLINE_FALLBACK", "features", "map_archive"]

#: The feature-set names of :data:`core.explore.features.FEATURE_SETS`, as choices.
FeatureSet = Enum("FeatureSet", {name: name for name in FEATURE_SETS}, type=str)

#: What the Explore page shows when the default CNN's ImageNet weights cannot be had.
OFFLINE_FALLBACK = "colour_texture"


#: ``--features``: one of :data:`FEATURE_SETS`, default the Explore page's.
FeatureSetOpt = Annotated[Optional[FeatureSet], typer.Option(
    "--features", show_default=False,
    help=f"Feature set. Default: the Explore page's ({DEFAULT_FEATURE_SET}, or {OFFLINE_FALLBACK} when its "
         "ImageNet weights cannot be had, as the page falls back). Asked for by name, a CNN whose weights "
         "cannot be had is an error.")]
#: ``--random-weights``: a CNN without its ImageNet download.
RandomWeightsOpt = Annotated[bool, typer.Option(
    "--random-weights", help="Run a CNN with random weights (no download): checks the pipeline offline; "
                             "the features mean nothing.")]


def features(
    archive: ArchiveArg,
    feature_set: FeatureSetOpt = None,
    random_weights: RandomWeightsOpt = False,
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


class ClusterMethod(str, Enum):
    """How photos are grouped on the map (:data:`core.explore.mapping.CLUSTER_METHODS`)."""

    kmeans = "kmeans"
    hdbscan = "hdbscan"


def map_archive(
    archive: ArchiveArg,
    feature_set: FeatureSetOpt = None,
    perplexity: Annotated[float, typer.Option("--perplexity", min=2, max=100, help="t-SNE perplexity.")] = 30.0,
    method: Annotated[ClusterMethod, typer.Option("--clusters", help="Clustering method.")] = ClusterMethod.kmeans,
    k: Annotated[Optional[int], typer.Option(
        "-k", min=2, max=30, show_default=False,
        help="Number of K-Means clusters (default: the k with the best silhouette score, as the page suggests).")] = None,
    min_cluster: Annotated[int, typer.Option("--min-cluster", min=2, help="HDBSCAN's smallest cluster.")] = 5,
    random_weights: RandomWeightsOpt = False,
    out: Annotated[Optional[Path], typer.Option(
        "--out", "-o", show_default=False,
        help="Write the map (one row per photo: file, post, x, y, cluster, likes, labels) as CSV, or Parquet "
             "when the name ends in .parquet.")] = None,
    json_output: JsonOpt = False,
) -> None:
    """Lay the photos out on the Explore page's map (PCA, then t-SNE) and group them into clusters.

    Features come from the cache (``feedlens features``) and are computed
    for the photos that are not in it yet.
    """
    from core.explore.mapping import MapRequest, compute_map

    name = feature_set.value if feature_set is not None else DEFAULT_FEATURE_SET
    with command(json_output) as run:
        arch = run.open_archive(archive)
        settings = dict(perplexity=perplexity, method=method.value, k=k, min_cluster_size=min_cluster,
                        random_weights=random_weights)
        try:
            result = run.job("Photo map", compute_map, MapRequest.for_catalogue(arch.catalogue, feature_set=name,
                                                                                 **settings))
        except WeightsUnavailableError as exc:
            if feature_set is not None:
                raise
            run.warn(f"{exc} Mapping {FEATURE_SETS[OFFLINE_FALLBACK].label} instead, as the Explore page does offline.")
            name = OFFLINE_FALLBACK
            result = run.job("Photo map", compute_map, MapRequest.for_catalogue(arch.catalogue, feature_set=name,
                                                                                 **settings))
        for note in result.notes:
            run.warn(note)
        table = result.table(arch.catalogue)
        sizes = table["cluster"].value_counts().sort_index()
        if out is not None:
            written = table.drop(columns=["path"], errors="ignore")
            if out.suffix.lower() == ".parquet":
                written.to_parquet(out, index=False)
            else:
                written.to_csv(out, index=False)
        text = (f"{FEATURE_SETS[name].label} map of {count(len(result.rows), 'photo')} "
                f"({result.computed} features computed, {result.reused} read from the cache); "
                f"{count(len(sizes), 'cluster')} by {result.method}"
                + (f" (k = {result.k}, suggested {result.k_suggested})" if result.k else "") + ":\n"
                + "\n".join(f"  {cluster}: {count(int(n), 'photo')}" for cluster, n in sizes.items())
                + (f"\nWritten: {out}" if out is not None else ""))
        run.done({
            "archive": archive_summary(arch),
            "feature_set": name,
            "tag": result.tag,
            "photos": int(len(result.rows)),
            "computed": result.computed,
            "reused": result.reused,
            "method": result.method,
            "k": result.k,
            "k_suggested": result.k_suggested,
            "clusters": {str(cluster): int(n) for cluster, n in sizes.items()},
            "out": out,
        }, text)
