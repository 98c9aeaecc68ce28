"""Labels of posts for the Forecast page: one list of strings per post.

The seed project labelled each photo with AWS Rekognition. Feedlens builds a
label list from what an archive holds, each source switchable:

``hashtags``
    ``#sunset`` from the caption.
``alt_text``
    Instagram's own accessibility caption ("Image may contain: 2 people,
    food, outdoor"), parsed by :func:`parse_accessibility_caption`.
``imagenet``
    The top-k ImageNet classes of the Keras classifier (real weights only).
``faces``
    How many faces MediaPipe finds on the post's photo: ``faces: 0``,
    ``faces: 1`` or ``faces: 2+``.
``people``
    The people the user named on the Faces page (``person: Anna``).
``cluster``
    The visual cluster (K-Means on a PCA of the photo features, k chosen by
    silhouette, the recipe of the Explore page's default colouring).

Every label carries its source as a prefix, so ``#dog`` (a hashtag),
``alt: dog`` and ``imagenet: dog`` stay apart in the label table.
A post is labelled by its cover photo (the first of a carousel), which is
the one people see in the feed.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

__all__ = [
    "LABEL_SOURCES",
    "TARGETS",
    "LabelSources",
    "parse_accessibility_caption",
    "face_count_label",
    "hashtag_labels",
    "post_frame",
    "target_counts",
    "combine_labels",
]

#: Source name -> what the user reads in the UI.
LABEL_SOURCES: dict[str, str] = {
    "hashtags": "Hashtags in the caption",
    "alt_text": "Instagram's accessibility caption",
    "imagenet": "ImageNet labels (Keras classifier)",
    "faces": "Face count (MediaPipe)",
    "people": "People named on the Faces page",
    "cluster": "Visual cluster (K-Means on the photos' look)",
}


#: What can be forecast -> the catalogue columns that may hold it, first found wins. Likes and comments
#: come from every importer with counts; saves, shares and reach only from Instagram insights (the
#: Graph API connector's ``saved``/``shares``/``reach`` columns, or the export's insights file).
TARGETS: dict[str, tuple[str, ...]] = {
    "likes": ("likes",),
    "comments": ("comments",),
    "saves": ("saved", "saves"),
    "shares": ("shares",),
    "reach": ("reach",),
}


@dataclass(frozen=True)
class LabelSources:
    """Which label sources a model uses (all on by default).

    Examples
    --------
    >>> LabelSources(imagenet=False).enabled()
    ['hashtags', 'alt_text', 'faces', 'people', 'cluster']
    >>> LabelSources.from_names(["hashtags", "faces"]).enabled()
    ['hashtags', 'faces']
    """

    hashtags: bool = True
    alt_text: bool = True
    imagenet: bool = True
    faces: bool = True
    people: bool = True
    cluster: bool = True
    #: ImageNet classes kept per photo.
    imagenet_top_k: int = 3
    #: A class must have at least this probability to become a label.
    imagenet_min_prob: float = 0.1

    def enabled(self) -> list[str]:
        """Names of the sources switched on, in :data:`LABEL_SOURCES` order."""
        return [name for name in LABEL_SOURCES if getattr(self, name)]

    @classmethod
    def from_names(cls, names: Iterable[str], **options) -> "LabelSources":
        """Sources with exactly ``names`` switched on."""
        names = set(names)
        unknown = names - set(LABEL_SOURCES)
        if unknown:
            raise ValueError(f"unknown label source(s) {sorted(unknown)}; choose from {list(LABEL_SOURCES)}")
        return cls(**{name: name in names for name in LABEL_SOURCES}, **options)

    def to_dict(self) -> dict:
        return asdict(self)


# "Image may contain: 2 people, food, outdoor" (until 2021) and
# "Photo by X on June 05, 2024. May be an image of 1 person, crowd and text
# that says '...'." (since). Both end the list at the first full stop.
_LEAD = re.compile(
    r"(?:image may contain|may be (?:an? )?(?:image|photo|illustration|cartoon|graphic|"
    r"screenshot|meme|text|closeup|selfie|twitter screenshot|painting|drawing|art|poster|"
    r"comic|sketch|doodle)s?(?: of)?)\s*:?\s*",
    re.IGNORECASE,
)
_QUOTED = re.compile(r"\s*(?:that says|saying)\s*(['\"‘“]).*?(?:\1|[’”]|$)", re.IGNORECASE | re.DOTALL)
_COUNT = re.compile(r"^(one|two|three|\d+|\d+\+)\s+(person|people)$")
_WORDS = {"one": 1, "two": 2, "three": 3}


def _people_label(count: str) -> str:
    n = _WORDS.get(count) or int(count.rstrip("+"))
    return "1 person" if n == 1 else ("2 people" if n == 2 else "3+ people")


def parse_accessibility_caption(text: str | None) -> list[str]:
    """Labels from Instagram's automatic accessibility caption.

    People counts are bucketed (``1 person``, ``2 people``, ``3+ people``) so
    that "6 people" and "7 people" share a label; quoted text ("text that
    says '…'") becomes ``text``. A caption a person wrote (no "may contain"
    or "may be an image of") gives no labels.

    Examples
    --------
    >>> parse_accessibility_caption("Image may contain: 2 people, people smiling, food, outdoor")
    ['2 people', 'people smiling', 'food', 'outdoor']
    >>> parse_accessibility_caption(
    ...     "Photo by Royale on June 05, 2024. May be an image of 6 people, saxophone, "
    ...     "crowd and text that says 'OPEN. LATE'.")
    ['3+ people', 'saxophone', 'crowd', 'text']
    >>> parse_accessibility_caption("My dog on the beach")
    []
    """
    if not text or not isinstance(text, str):
        return []
    if "\n" in text:  # one caption per image of a carousel
        return list(dict.fromkeys(label for line in text.splitlines() for label in parse_accessibility_caption(line)))
    match = _LEAD.search(text)
    if match is None:
        return []
    body = _QUOTED.sub("", text[match.end():])
    body = body.split(". ")[0].strip().rstrip(".").strip()
    labels: dict[str, None] = {}
    for part in re.split(r",\s*|\s+and\s+", body):
        part = part.strip().lower()
        if not part or len(part) > 60:
            continue
        count = _COUNT.match(part)
        labels.setdefault(_people_label(count.group(1)) if count else part, None)
    return list(labels)


def face_count_label(n_faces: int | float | None) -> str | None:
    """``faces: 0``, ``faces: 1`` or ``faces: 2+`` (None when unknown).

    Examples
    --------
    >>> [face_count_label(n) for n in (0, 1, 5, None)]
    ['faces: 0', 'faces: 1', 'faces: 2+', None]
    """
    if n_faces is None or (isinstance(n_faces, float) and np.isnan(n_faces)):
        return None
    n = int(n_faces)
    return f"faces: {n}" if n < 2 else "faces: 2+"


def hashtag_labels(hashtags: Sequence[str] | None) -> list[str]:
    """``#tag`` labels from a post's hashtags (lower case, no repeats).

    Examples
    --------
    >>> hashtag_labels(["Boston", "boston", "sky"])
    ['#boston', '#sky']
    """
    if hashtags is None:
        return []
    return list(dict.fromkeys(f"#{str(tag).lower()}" for tag in hashtags if str(tag)))


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, (list, tuple, np.ndarray)):
        return list(value)
    if isinstance(value, float) and np.isnan(value):
        return []
    return [value]


def post_frame(catalogue: pd.DataFrame) -> pd.DataFrame:
    """One row per post, oldest first: what the forecast learns from.

    Parameters
    ----------
    catalogue : pandas.DataFrame
        An archive's catalogue (one row per image).

    Returns
    -------
    pandas.DataFrame
        ``post_id``, ``sha256`` and ``path`` of the cover photo, ``picture``
        (the sha256 of the cover's first showing: the catalogue's
        ``duplicate_of``, else its own sha256), one column per
        :data:`TARGETS` (``likes``, ``comments``, ``saves``, ``shares``,
        ``reach``: float, NaN when unknown or hidden), ``timestamp``,
        ``account``, ``caption``, ``hashtags`` (list) and
        ``accessibility_caption`` (of every image of the post, one per line).
        Posts without a readable photo are dropped.

    Examples
    --------
    >>> cat = pd.DataFrame({"post_id": ["b", "a", "a"], "position": [0, 1, 0],
    ...     "sha256": ["s3", "s2", "s1"], "path": ["/3", "/2", "/1"], "likes": [5, 9, 9],
    ...     "comments": [1, 2, 2], "timestamp": pd.to_datetime([2, 1, 1], unit="D", utc=True),
    ...     "account": "me", "caption": ["", "#x", "#x"], "hashtags": [[], ["x"], ["x"]],
    ...     "accessibility_caption": [None, None, None]})
    >>> post_frame(cat)[["post_id", "sha256", "likes"]].values.tolist()
    [['a', 's1', 9.0], ['b', 's3', 5.0]]
    """
    columns = ["post_id", "sha256", "picture", "path", *TARGETS, "timestamp", "account", "caption",
               "hashtags", "accessibility_caption"]
    if catalogue is None or len(catalogue) == 0:
        return pd.DataFrame(columns=columns)
    cat = catalogue.dropna(subset=["sha256"])
    if "position" in cat.columns:
        cat = cat.sort_values(["post_id", "position"], kind="stable")
    covers = cat.groupby("post_id", sort=False).head(1).copy()
    repeats = covers["duplicate_of"] if "duplicate_of" in covers else pd.Series(pd.NA, covers.index, "string")
    covers["picture"] = repeats.fillna(covers["sha256"]).astype(str)
    for target, names in TARGETS.items():
        found = next((n for n in names if n in covers.columns), None)
        covers[target] = covers[found] if found is not None else np.nan
    for name in columns:
        if name not in covers.columns:
            covers[name] = None
    out = covers[columns].copy()
    # Instagram writes alt text per image, often only on a carousel's later
    # images: the post "may contain" what any of its images contains.
    alt = cat.groupby("post_id", sort=False)["accessibility_caption"].agg(
        lambda s: " \n".join(x for x in s if isinstance(x, str) and x)) if "accessibility_caption" in cat else None
    if alt is not None:
        out["accessibility_caption"] = alt.reindex(out["post_id"]).replace("", None).to_numpy()
    for name in TARGETS:
        values = pd.to_numeric(pd.Series(out[name], dtype=object), errors="coerce").astype(float)
        out[name] = values.where(values >= 0).to_numpy()  # Instaloader's -1 means hidden
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True, errors="coerce")
    out["hashtags"] = [_as_list(h) for h in out["hashtags"]]
    out["account"] = out["account"].fillna("").astype(str)
    out = out.sort_values(["timestamp", "post_id"], kind="stable", na_position="first")
    return out.reset_index(drop=True)


def target_counts(posts: pd.DataFrame) -> dict[str, int]:
    """Target -> how many posts have a count of it, for the targets the archive has (likes first).

    ``posts`` is a :func:`post_frame`. A target no post has a count of is left out.

    Examples
    --------
    >>> posts = pd.DataFrame({"likes": [3.0, None], "comments": [1.0, 2.0], "saves": [None, None]})
    >>> target_counts(posts)
    {'likes': 1, 'comments': 2}
    """
    counts = {t: int(pd.to_numeric(posts[t], errors="coerce").notna().sum()) for t in TARGETS if t in posts}
    return {t: n for t, n in counts.items() if n > 0}


def combine_labels(n_posts: int, *parts: Sequence[Sequence[str]] | None) -> list[list[str]]:
    """Join per-post label lists from several sources (order kept, no repeats).

    Examples
    --------
    >>> combine_labels(2, [["#a"], []], None, [["faces: 1"], ["faces: 0"]])
    [['#a', 'faces: 1'], ['faces: 0']]
    """
    merged: list[dict[str, None]] = [{} for _ in range(n_posts)]
    for part in parts:
        if part is None:
            continue
        if len(part) != n_posts:
            raise ValueError(f"a label source has {len(part)} rows for {n_posts} posts")
        for labels, extra in zip(merged, part):
            for label in extra:
                if label:
                    labels.setdefault(str(label), None)
    return [list(labels) for labels in merged]
