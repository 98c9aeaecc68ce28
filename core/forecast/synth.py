"""A generated archive whose likes truly depend on hashtags and on time.

For tests and benchmarks of the Forecast models (like
``sklearn.datasets.make_regression``): the ground truth is known, so a model
that learns it can be told from one that does not.

Likes follow ``log(likes) = log(base) + Σ tag effects + growth · years +
hour effect + noise``; comments are about 3 % of likes. The account grows,
so the newest posts (the held-out ones) have more likes than any training
post: the seed project's own failure case.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

__all__ = ["SyntheticTruth", "make_synthetic_archive"]


@dataclass
class SyntheticTruth:
    """The parameters an archive was generated with."""

    tag_effects: dict[str, float]
    growth_per_year: float
    base_likes: float
    noise: float
    frame: pd.DataFrame


def make_synthetic_archive(
    folder: str | Path,
    n_posts: int = 300,
    *,
    n_tags: int = 12,
    years: float = 2.0,
    growth_per_year: float = 0.8,
    noise: float = 0.25,
    image_side: int = 48,
    prefix: str = "post",
    random_state: int = 0,
) -> SyntheticTruth:
    """Write ``n_posts`` small JPEGs and a ``manifest.csv`` into ``folder``.

    Each post gets one to four hashtags; the photo's colour follows its first
    hashtag (so visual clusters carry some signal too). Files are named
    ``<prefix>_<n>.jpg``.

    Examples
    --------
    >>> import tempfile
    >>> truth = make_synthetic_archive(tempfile.mkdtemp(), n_posts=5)
    >>> sorted(truth.frame.columns)
    ['caption', 'comments', 'file', 'likes', 'timestamp']
    """
    rng = np.random.default_rng(random_state)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tags = [f"tag{i:02d}" for i in range(n_tags)]
    effects = dict(zip(tags, rng.normal(0.0, 0.6, n_tags).round(3)))
    colours = rng.integers(30, 226, size=(n_tags, 3))
    start = pd.Timestamp("2022-01-01", tz="UTC")
    offsets = np.sort(rng.uniform(0, years * 365.25 * 86400, n_posts))
    rows = []
    base = 200.0
    for i in range(n_posts):
        k = int(rng.integers(1, 5))
        chosen = list(rng.choice(tags, size=k, replace=False))
        when = start + pd.Timedelta(seconds=float(offsets[i]))
        hour_effect = 0.2 * np.cos(2 * np.pi * (when.hour - 19) / 24)  # evening posts do better
        log_likes = (np.log(base) + sum(effects[t] for t in chosen) + growth_per_year * offsets[i] / (365.25 * 86400)
                     + hour_effect + rng.normal(0, noise))
        likes = int(round(np.exp(log_likes)))
        comments = int(rng.poisson(max(likes * 0.03, 0.1)))
        first = tags.index(chosen[0])
        pixels = np.clip(colours[first] + rng.normal(0, 20, (image_side, image_side, 3)), 0, 255).astype(np.uint8)
        name = f"{prefix}_{i:05d}.jpg"
        Image.fromarray(pixels).save(folder / name, quality=85)
        rows.append({"file": name, "likes": likes, "comments": comments,
                     "caption": "New post " + " ".join(f"#{t}" for t in chosen),
                     "timestamp": when.isoformat()})
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return SyntheticTruth(effects, growth_per_year, base, noise, pd.DataFrame(rows))
