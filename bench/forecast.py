"""Benchmark: Forecast training and prediction speed, and quality on a generated archive.

* ``forecast_train_5000_s``: a generated archive of 5,000 posts (48-px
  photos, CSV manifest with captions, likes and dates) whose colour/texture
  features are already cached: label every post (hashtags, visual cluster),
  evaluate the four default models on a rolling origin, fit them on every
  post. Target: <= 5 s. Faces and ImageNet are left out here: they are
  cached per photo and only read back, but computing them cold for 5,000
  photos takes minutes.
* ``forecast_predict_s``: one new photo, warm (model loaded): label it the
  way the model was trained (colour/texture features, cluster, hashtags of a
  caption, MediaPipe face count), forecast with every model, find the six
  most similar past posts. Trained on the real Instaloader dump
  ``instaloader-boston-2accounts`` with faces on. Target: <= 1 s.
* ``forecast_synth_spearman_seed`` / ``forecast_synth_spearman_better``:
  Spearman rank correlation of forecast and true likes on the held-out
  newest half of a generated 300-post archive where likes depend on
  hashtags, posting hour and account growth (:mod:`core.forecast.synth`).

Prints one JSON object per line, ``{"name", "value", "unit"}``.

Usage::

    .venv/bin/python bench/forecast.py [--posts 5000] [--runs 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from core.archive.catalogue import load_folder  # noqa: E402
from core.cache import DiskCache  # noqa: E402
from core.forecast.labels import LabelSources  # noqa: E402
from core.forecast.synth import make_synthetic_archive  # noqa: E402
from core.forecast.training import MODEL_RIDGE, MODEL_SEED, prepare_training_data, train_forecaster  # noqa: E402


def emit(name: str, value: float, unit: str) -> None:
    print(json.dumps({"name": name, "value": round(float(value), 4), "unit": unit}), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    shared = Path(os.environ.get("FEEDLENS_SHARED_DIR", REPO.parent / "shared"))
    os.environ.setdefault("FEEDLENS_MODEL_DIR", str(shared / "models"))

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        cache = DiskCache(tmp / "cache")
        os.environ["FEEDLENS_CACHE_DIR"] = str(tmp / "cache")

        # -- quality on a generated archive -----------------------------------------
        make_synthetic_archive(tmp / "synth300", n_posts=300, random_state=0)
        small = load_folder(tmp / "synth300", cache=cache)
        data = prepare_training_data(small.catalogue, small.key, LabelSources.from_names(["hashtags", "cluster"]),
                                     cache=cache)
        model = train_forecaster(data, small.key)
        rho = model.evaluation.metrics.query("target == 'likes'").set_index("model")["spearman"]
        emit("forecast_synth_spearman_seed", rho[MODEL_SEED], "rho")
        emit("forecast_synth_spearman_better", rho[MODEL_RIDGE], "rho")

        # -- training on 5,000 posts with cached features ----------------------------
        make_synthetic_archive(tmp / "synth", n_posts=args.posts, random_state=1)
        archive = load_folder(tmp / "synth", cache=cache)
        sources = LabelSources.from_names(["hashtags", "cluster"])
        start = time.perf_counter()
        prepare_training_data(archive.catalogue, archive.key, sources, cache=cache)  # computes the features
        emit("forecast_features_cold_5000_s", time.perf_counter() - start, "s")
        prep, fit, total = [], [], []
        for _ in range(args.runs):
            start = time.perf_counter()
            data = prepare_training_data(archive.catalogue, archive.key, sources, cache=cache)
            middle = time.perf_counter()
            model = train_forecaster(data, archive.key)
            end = time.perf_counter()
            prep.append(middle - start)
            fit.append(end - middle)
            total.append(end - start)
        assert data.new_photos == 0 and data.reused_photos == args.posts
        emit(f"forecast_train_{args.posts}_s", statistics.median(total), "s")
        emit(f"forecast_train_{args.posts}_labelling_s", statistics.median(prep), "s")
        emit(f"forecast_train_{args.posts}_evaluate_and_fit_s", statistics.median(fit), "s")
        start = time.perf_counter()
        train_forecaster(data, archive.key, include_boosting=True)
        emit(f"forecast_train_{args.posts}_with_boosting_s", time.perf_counter() - start, "s")

        # -- one prediction, warm, with faces --------------------------------------
        from core.faces.engine import FaceEngine

        engine = FaceEngine()
        dump = load_folder(shared / "data" / "instaloader-boston-2accounts", cache=cache)
        data = prepare_training_data(dump.catalogue, dump.key, LabelSources.from_names(
            ["hashtags", "alt_text", "faces", "cluster"]), cache=cache, face_engine=lambda: engine)
        model = train_forecaster(data, dump.key)
        photo = (shared / "data" / "instaaudit-likes-in-filenames" / "posts").glob("*.jpg")
        photo_bytes = next(iter(sorted(photo))).read_bytes()
        when = pd.Timestamp("2024-06-20 19:00", tz="UTC")
        model.predict(model.describe_photo(photo_bytes, caption="#boston", when=when, face_engine=lambda: engine))
        times = []
        for _ in range(max(5, args.runs)):
            start = time.perf_counter()
            model.predict(model.describe_photo(photo_bytes, caption="#boston #cocktails", when=when,
                                               face_engine=lambda: engine))
            times.append(time.perf_counter() - start)
        emit("forecast_predict_s", statistics.median(times), "s")
        engine.close()


if __name__ == "__main__":
    main()
