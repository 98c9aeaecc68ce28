"""Benchmark: is the Forecast worth more than "your usual likes"? Held-out error, choice, intervals, effects.

On two real Instaloader dumps (``instaloader-top20-celebs``: 20 accounts x 10
posts; ``instaloader-boston-2accounts``) and on the generated archives of
:func:`core.forecast.synth.make_synthetic_case` (two accounts each, 300 posts):

* ``forecast_<archive>_mae_log_<model>`` / ``forecast_<archive>_mdape_<model>``:
  MAE of ``log1p(likes)`` and median absolute % error of every model and
  baseline on the newest half of each account's posts, held out (inputs of a
  new photo only: no alt text). ``..._chosen``: the model the page shows
  first. ``forecast_<archive>_chosen_over_best_baseline``: its MAE ÷ the best
  baseline's (must never exceed 1).
* ``forecast_<archive>_interval80_coverage_<model>`` / ``..._width_<model>``:
  coverage of the split-conformal 80 % interval on later blocks calibrated on
  earlier ones (target 75–85 %) and its median high ÷ low ratio.
* ``forecast_celebs_mae_log_chosen``, ``forecast_celebs_mae_log_account_mean``,
  ``forecast_synth_null_chose_baseline`` (1/0), ``forecast_synth_effects_recovered``
  (share of the known lifts inside their interval, with evidence),
  ``forecast_synth_gain_vs_baseline`` (1 − MAE chosen ÷ MAE best baseline, effects
  case), ``forecast_interval80_coverage`` (chosen models, pooled over every
  archive), ``forecast_reposts_max_ratio`` (largest forecast of any model for
  any photo ÷ that account's largest likes, reposts case; every forecast is clipped
  at 1.5 times it; ``..._chosen``: the model shown first): the issue's names.
* The same figures for comments on the two real dumps, named
  ``forecast_<archive>_comments_...`` (e.g. ``forecast_celebs_comments_mae_log_chosen``
  vs ``forecast_celebs_comments_mae_log_account_mean``), and
  ``forecast_interval80_coverage_comments`` (chosen models, pooled). Each target has
  the same baselines, choice, intervals and effects as likes.

Label sources: hashtags, Instagram alt text (kept out of every forecast;
only in the effects), face count and visual clusters (no ImageNet weights
here). In the generated archives, ``person: Alex`` labels are set from the
generator's truth, as the Faces page would set them for a named face.

Prints one JSON object per line, ``{"name", "value", "unit"}``.

Usage::

    .venv/bin/python bench/forecast_quality.py [--posts 300] [--seeds 1]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.archive.catalogue import load_folder  # noqa: E402
from core.cache import DiskCache  # noqa: E402
from core.forecast.labels import LabelSources  # noqa: E402
from core.forecast.synth import make_synthetic_case  # noqa: E402
from core.forecast.training import (  # noqa: E402
    BASELINES,
    MODEL_BOOSTING,
    MODEL_RECENT,
    MODEL_RIDGE,
    MODEL_SEED,
    MODEL_SEED_COUNT,
    MODEL_TREND,
    MODEL_USUAL,
    prepare_training_data,
    train_forecaster,
)

SLUG = {MODEL_USUAL: "account_mean", MODEL_RECENT: "last10_median", MODEL_TREND: "account_trend",
        MODEL_SEED: "seed", MODEL_SEED_COUNT: "seed_count", MODEL_RIDGE: "ridge", MODEL_BOOSTING: "boosting"}
REAL_SOURCES = LabelSources.from_names(["hashtags", "alt_text", "faces", "cluster"])
SYNTH_SOURCES = LabelSources.from_names(["hashtags", "cluster"])


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def report(tag: str, model, coverage_pool: list, target: str = "likes") -> None:
    """Every model's held-out error and interval, the choice, for one archive and target."""
    ev = model.evaluation
    if not ev.ok:
        print(json.dumps({"name": f"forecast_{tag}_note", "value": " ".join(ev.notes), "unit": ""}), flush=True)
        return
    if target != "likes":
        tag = f"{tag}_{target}"
    metrics = ev.metrics[ev.metrics["target"] == target].set_index("model")
    for name, row in metrics.iterrows():
        emit(f"forecast_{tag}_mae_log_{SLUG[name]}", row["mae_log"], "log1p")
        emit(f"forecast_{tag}_mdape_{SLUG[name]}", row["mdape"], "fraction")
    choice = model.choice[target]
    emit(f"forecast_{tag}_mae_log_chosen", metrics.at[choice.model, "mae_log"], "log1p")
    emit(f"forecast_{tag}_mdape_chosen", metrics.at[choice.model, "mdape"], "fraction")
    emit(f"forecast_{tag}_chosen_is_baseline", choice.model in BASELINES, "bool")
    emit(f"forecast_{tag}_held_out_posts", choice.n, "posts")
    emit(f"forecast_{tag}_chosen_over_best_baseline",
         metrics.at[choice.model, "mae_log"] / metrics.at[choice.best_baseline, "mae_log"], "ratio")
    print(json.dumps({"name": f"forecast_{tag}_chosen_model", "value": choice.model, "unit": ""}), flush=True)
    check = model.interval_check[model.interval_check["target"] == target].set_index("model")
    for name, row in check.iterrows():
        emit(f"forecast_{tag}_interval80_coverage_{SLUG[name]}", row["coverage"], "fraction")
        emit(f"forecast_{tag}_interval80_width_{SLUG[name]}", row["width_ratio"], "high/low")
    if choice.model in check.index and check.at[choice.model, "n"] > 0:
        coverage_pool.append((check.at[choice.model, "coverage"], check.at[choice.model, "n"]))


def synthetic(folder: Path, case: str, n_posts: int, seed: int, cache: DiskCache):
    truth = make_synthetic_case(folder, case, n_posts, random_state=seed)
    archive = load_folder(folder, cache=cache)
    data = prepare_training_data(archive.catalogue, archive.key, SYNTH_SOURCES, cache=cache)
    shows = dict(zip(truth.frame["file"], truth.frame["person"]))
    data.posts["labels"] = [labels + (["person: Alex"] if shows[Path(path).name] else [])
                            for labels, path in zip(data.posts["labels"], data.posts["path"])]
    return truth, train_forecaster(data, archive.key, include_boosting=True, random_state=seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=300, help="posts of each generated archive")
    parser.add_argument("--seeds", type=int, default=1, help="generated archives per case")
    args = parser.parse_args()
    shared = Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared / "models"))
    coverage_pool: list = []
    comments_pool: list = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = DiskCache(tmp / "cache")
        os.environ["FEEDLENS_CACHE_DIR"] = str(tmp / "cache")

        for tag, folder in (("celebs", "instaloader-top20-celebs"), ("boston", "instaloader-boston-2accounts")):
            archive = load_folder(shared / "data" / folder, cache=cache)
            data = prepare_training_data(archive.catalogue, archive.key, REAL_SOURCES, cache=cache)
            model = train_forecaster(data, archive.key, include_boosting=True)
            report(tag, model, coverage_pool)
            report(tag, model, comments_pool, "comments")

        null_baseline, recovered, gains, ratios, chosen_ratios = [], [], [], [], []
        for seed in range(args.seeds):
            _, null = synthetic(tmp / f"null{seed}", "null", args.posts, seed, cache)
            report("synth_null" if seed == 0 else f"synth_null_{seed}", null, coverage_pool)
            null_baseline.append(null.choice["likes"].model in BASELINES)

            truth, effects = synthetic(tmp / f"effects{seed}", "effects", args.posts, seed, cache)
            report("synth_effects" if seed == 0 else f"synth_effects_{seed}", effects, coverage_pool)
            table = effects.effects.set_index("label")
            for label, lift in truth.lifts().items():
                recovered.append(label in table.index and bool(table.at[label, "evidence"])
                                 and table.at[label, "low"] <= lift <= table.at[label, "high"])
            c = effects.choice["likes"]
            gains.append(1 - c.mae_log[c.model] / c.mae_log[c.best_baseline])

            _, reposts = synthetic(tmp / f"reposts{seed}", "reposts", args.posts, seed, cache)
            report("synth_reposts" if seed == 0 else f"synth_reposts_{seed}", reposts, coverage_pool)
            others = sorted((shared / "data" / "photos-imagenet-coarse6").rglob("*.jpg"))[:6]
            for account in reposts.accounts:
                mine = reposts.posts[reposts.posts["account"] == account]
                for path in [*map(Path, mine["path"]), *others]:
                    table = reposts.predict(reposts.describe_photo(path.read_bytes(), account=account)).table
                    ratios.append(float(table["likes"].max() / mine["likes"].max()))
                    chosen_ratios.append(float(table["likes"].iloc[0] / mine["likes"].max()))

        emit("forecast_synth_null_chose_baseline", float(np.mean(null_baseline)), "fraction")
        emit("forecast_synth_effects_recovered", float(np.mean(recovered)), "fraction")
        emit("forecast_synth_gain_vs_baseline", float(np.mean(gains)), "fraction")
        emit("forecast_reposts_max_ratio", max(ratios), "ratio")  # any model; the clip allows 1.5
        emit("forecast_reposts_max_ratio_chosen", max(chosen_ratios), "ratio")
        covered = sum(c * n for c, n in coverage_pool) / sum(n for _, n in coverage_pool)
        emit("forecast_interval80_coverage", covered, "fraction")
        covered = sum(c * n for c, n in comments_pool) / max(sum(n for _, n in comments_pool), 1)
        emit("forecast_interval80_coverage_comments", covered, "fraction")


if __name__ == "__main__":
    main()
