"""Generated archives whose likes depend on known things, for tests and benchmarks.

Like ``sklearn.datasets.make_regression``: the ground truth is known, so a
model that learns it can be told from one that does not, and a page that
claims an effect can be checked against the truth.

Likes follow ``log(likes) = log(account base) + Σ tag effects + person
effect + growth · years + hour effect + noise``; comments are about 3 % of
likes. The account grows, so the newest posts (the held-out ones) have more
likes than most training posts: the seed project's own failure case.

:func:`make_synthetic_case` writes the three cases the Forecast is judged on:

``"null"``
    What the photo shows has no effect at all (only the account's level and
    its growth): the page must say so and choose a baseline.
``"effects"``
    Two hashtags and one person lift likes by known factors
    (:data:`CASE_LIFTS`), nothing else does: the effects table must recover
    each within its interval, and a content model must beat the baseline.
``"reposts"``
    A fifth of the posts repost an earlier photo (the same file, or the same
    picture re-encoded): no forecast may leave the account's range.

Who is on a photo comes from the Faces page (faces the user named); a
generated photo carries no real face, so the truth's ``person`` column says
which posts show the person and a test labels them ``person: <name>`` as the
Faces page would.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

__all__ = ["SyntheticTruth", "make_synthetic_archive", "make_synthetic_case", "SYNTHETIC_CASES", "CASE_LIFTS"]

#: The cases of :func:`make_synthetic_case`.
SYNTHETIC_CASES = ("null", "effects", "reposts")
#: Label -> its true multiplicative lift in the ``"effects"`` case.
CASE_LIFTS = {"#tag00": 1.8, "#tag01": 0.6, "person: Alex": 1.6}


@dataclass
class SyntheticTruth:
    """The parameters an archive was generated with.

    ``frame`` has one row per post: ``file``, ``likes``, ``comments``,
    ``caption``, ``timestamp`` (and ``account`` when there are several),
    plus ``person`` (whether the post shows the person) and ``repost_of``
    (the file it reposts, or "").
    """

    tag_effects: dict[str, float]
    growth_per_year: float
    base_likes: float
    noise: float
    frame: pd.DataFrame
    person_effect: float = 0.0
    accounts: dict[str, float] = field(default_factory=dict)

    def lifts(self) -> dict[str, float]:
        """Label -> true multiplicative lift, for every label with an effect."""
        out = {f"#{tag}": float(np.exp(e)) for tag, e in self.tag_effects.items() if e}
        if self.person_effect:
            out["person: Alex"] = float(np.exp(self.person_effect))
        return out


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
    tag_effects: dict[str, float] | None = None,
    hour_effect: float = 0.2,
    accounts: dict[str, float] | None = None,
    person_effect: float = 0.0,
    person_share: float = 0.3,
    reposts: float = 0.0,
) -> SyntheticTruth:
    """Write ``n_posts`` small JPEGs and a ``manifest.csv`` into ``folder``.

    Each post gets one to four hashtags; the photo's colour follows its first
    hashtag (so visual clusters carry some signal too). Files are named
    ``<prefix>_<n>.jpg``.

    Parameters
    ----------
    tag_effects : dict, optional
        Tag (``tag00`` …) -> effect on ``log(likes)``; tags not named have
        none. Default: a random effect per tag.
    hour_effect : float
        Amplitude of the posting-hour effect (evening posts do better).
    accounts : dict, optional
        Account name -> its base likes; posts are spread evenly over them.
        Default: one unnamed account with 200 base likes.
    person_effect : float
        Effect on ``log(likes)`` of the posts that show the person
        (``person_share`` of them).
    reposts : float
        Share of posts that repost an earlier post's photo: half of them the
        very file, half the picture re-encoded (near-identical).

    Examples
    --------
    >>> import tempfile
    >>> truth = make_synthetic_archive(tempfile.mkdtemp(), n_posts=5)
    >>> sorted(truth.frame.columns)
    ['caption', 'comments', 'file', 'likes', 'person', 'repost_of', 'timestamp']
    """
    rng = np.random.default_rng(random_state)
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tags = [f"tag{i:02d}" for i in range(n_tags)]
    if tag_effects is None:
        effects = dict(zip(tags, rng.normal(0.0, 0.6, n_tags).round(3)))
    else:
        effects = {tag: float(tag_effects.get(tag, 0.0)) for tag in tags}
    colours = rng.integers(30, 226, size=(n_tags, 3))
    start = pd.Timestamp("2022-01-01", tz="UTC")
    offsets = np.sort(rng.uniform(0, years * 365.25 * 86400, n_posts))
    bases = accounts or {"": 200.0}
    names = list(bases)
    rows = []
    for i in range(n_posts):
        k = int(rng.integers(1, 5))
        chosen = list(rng.choice(tags, size=k, replace=False))
        account = names[i % len(names)]
        shows_person = bool(rng.random() < person_share) if person_effect else False
        when = start + pd.Timedelta(seconds=float(offsets[i]))
        hour = hour_effect * np.cos(2 * np.pi * (when.hour - 19) / 24)  # evening posts do better
        log_likes = (np.log(bases[account]) + sum(effects[t] for t in chosen) + growth_per_year * offsets[i]
                     / (365.25 * 86400) + hour + (person_effect if shows_person else 0.0) + rng.normal(0, noise))
        likes = int(round(np.exp(log_likes)))
        comments = int(rng.poisson(max(likes * 0.03, 0.1)))
        name = f"{prefix}_{i:05d}.jpg"
        earlier = [r for r in rows if r.get("account", "") == account and not r["repost_of"]]
        repost_of = ""
        if reposts and earlier and rng.random() < reposts:
            source = earlier[int(rng.integers(len(earlier)))]
            repost_of = source["file"]
            if rng.random() < 0.5:
                (folder / name).write_bytes((folder / repost_of).read_bytes())
            else:
                Image.open(folder / repost_of).save(folder / name, quality=70)
        else:
            first = tags.index(chosen[0])
            pixels = np.clip(colours[first] + rng.normal(0, 20, (image_side, image_side, 3)), 0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(folder / name, quality=85)
        row = {"file": name, "likes": likes, "comments": comments,
               "caption": "New post " + " ".join(f"#{t}" for t in chosen), "timestamp": when.isoformat()}
        if accounts:
            row["account"] = account
        rows.append({**row, "person": shows_person, "repost_of": repost_of})
    with open(folder / "manifest.csv", "w", newline="", encoding="utf-8") as handle:
        fields = [f for f in rows[0] if f not in ("person", "repost_of")]
        writer = csv.DictWriter(handle, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)
    return SyntheticTruth(effects, growth_per_year, float(np.mean(list(bases.values()))), noise, pd.DataFrame(rows),
                          person_effect, dict(accounts or {}))


def make_synthetic_case(folder: str | Path, case: str, n_posts: int = 300, *,
                        random_state: int = 0) -> SyntheticTruth:
    """One of :data:`SYNTHETIC_CASES`, with two accounts of very different size.

    Examples
    --------
    >>> import tempfile
    >>> truth = make_synthetic_case(tempfile.mkdtemp(), "effects", n_posts=12)
    >>> {label: round(lift, 2) for label, lift in truth.lifts().items()}
    {'#tag00': 1.8, '#tag01': 0.6, 'person: Alex': 1.6}
    """
    accounts = {"small.account": 300.0, "big.account": 20000.0}
    common = dict(n_tags=8, years=1.5, growth_per_year=0.3, noise=0.25, accounts=accounts, random_state=random_state)
    if case == "null":
        return make_synthetic_archive(folder, n_posts, tag_effects={}, hour_effect=0.0, **common)
    if case == "effects":
        lifts = {tag[1:]: float(np.log(v)) for tag, v in CASE_LIFTS.items() if tag.startswith("#")}
        return make_synthetic_archive(folder, n_posts, tag_effects=lifts, hour_effect=0.0,
                                      person_effect=float(np.log(CASE_LIFTS["person: Alex"])), **common)
    if case == "reposts":
        return make_synthetic_archive(folder, n_posts, hour_effect=0.1, reposts=0.2, **common)
    raise ValueError(f"case must be one of {SYNTHETIC_CASES}, not {case!r}")
