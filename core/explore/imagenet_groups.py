"""ImageNet's 1,000 classes and the coarse groups Feedlens shows them in.

A classifier's top-1 class ("espresso", "lakeside", "minivan") is too fine to
colour a map by, and 1,000 classes have no hierarchy of their own. Feedlens
ships two data files, so nothing is downloaded:

``core/explore/data/imagenet_classes.txt``
    The ILSVRC-2012 class list, one ``<wnid> <name>`` per line; line *i* is
    class index *i* (the order every Keras ImageNet classifier uses: sorted
    WordNet ids). Names are Keras' own (``decode_predictions``), with
    underscores; :func:`class_name` gives the readable form.
``core/explore/data/imagenet_groups.json``
    About ten human groups (Coffee, Food, Drinks, Nature, Water,
    Architecture, Animals, Vehicles, People & clothing, Books & screens,
    Objects). Each group lists index ranges, class names or indices; a class
    listed nowhere belongs to the default group (Objects). The file is
    checked on load: every class belongs to exactly one group.

This gives a two-level hierarchy (group → class) that the Explore page draws
as a sunburst, and that the seed analysis built by hand.

This module is light: it imports only the standard library and NumPy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "N_CLASSES",
    "GroupInfo",
    "class_names",
    "class_wnids",
    "class_name",
    "groups",
    "group_names",
    "group_of",
    "group_colours",
    "class_to_group",
    "top_k",
]

N_CLASSES = 1000
_DATA = Path(__file__).resolve().parent / "data"

#: One colour per group, in the JSON's order (colour-blind-friendly hues first).
_PALETTE = [
    "#8c564b",  # Coffee: brown
    "#ff7f0e",  # Food: orange
    "#9467bd",  # Drinks: purple
    "#2ca02c",  # Nature: green
    "#1f77b4",  # Water: blue
    "#7f7f7f",  # Architecture: grey
    "#d62728",  # Animals: red
    "#17becf",  # Vehicles: cyan
    "#e377c2",  # People & clothing: pink
    "#bcbd22",  # Books & screens: olive
    "#c7c7c7",  # Objects: light grey
]


@dataclass(frozen=True)
class GroupInfo:
    """One coarse group of ImageNet classes.

    Attributes
    ----------
    name : str
        What the page shows ("Coffee").
    description : str
        One line on what is in it.
    indices : tuple of int
        Class indices (0–999) in the group, sorted.
    colour : str
        A hex colour for maps and chips.
    """

    name: str
    description: str
    indices: tuple[int, ...]
    colour: str


@lru_cache(maxsize=1)
def _classes() -> tuple[tuple[str, ...], tuple[str, ...]]:
    wnids, names = [], []
    for line in (_DATA / "imagenet_classes.txt").read_text(encoding="utf-8").splitlines():
        if line.strip():
            wnid, name = line.split(" ", 1)
            wnids.append(wnid)
            names.append(name.strip())
    if len(names) != N_CLASSES or wnids != sorted(wnids):
        raise RuntimeError("core/explore/data/imagenet_classes.txt is damaged: expected 1000 classes in wnid order")
    return tuple(wnids), tuple(names)


def class_wnids() -> tuple[str, ...]:
    """The 1,000 WordNet ids, by class index.

    Examples
    --------
    >>> class_wnids()[0]
    'n01440764'
    """
    return _classes()[0]


def class_names() -> tuple[str, ...]:
    """The 1,000 Keras class names (with underscores), by class index.

    Examples
    --------
    >>> class_names()[967], len(class_names())
    ('espresso', 1000)
    """
    return _classes()[1]


def class_name(index: int) -> str:
    """A readable class name; the two ambiguous names are disambiguated.

    Examples
    --------
    >>> class_name(159)
    'Rhodesian ridgeback'
    >>> class_name(134), class_name(517)
    ('crane (bird)', 'crane (machine)')
    """
    special = {134: "crane (bird)", 517: "crane (machine)", 638: "maillot", 639: "maillot (tank suit)"}
    if index in special:
        return special[index]
    return class_names()[int(index)].replace("_", " ")


@lru_cache(maxsize=1)
def groups() -> tuple[GroupInfo, ...]:
    """The coarse groups, validated: each class is in exactly one.

    Examples
    --------
    >>> [g.name for g in groups()][:3]
    ['Coffee', 'Food', 'Drinks']
    >>> sum(len(g.indices) for g in groups())
    1000
    """
    spec = json.loads((_DATA / "imagenet_groups.json").read_text(encoding="utf-8"))
    names = class_names()
    by_name: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        by_name.setdefault(name, []).append(i)
    owner: dict[int, str] = {}
    members: dict[str, set[int]] = {}
    for group in spec["groups"]:
        chosen: set[int] = set()
        for lo, hi in group.get("ranges", []):
            chosen.update(range(int(lo), int(hi) + 1))
        chosen.update(int(i) for i in group.get("indices", []))
        for name in group.get("classes", []):
            if name not in by_name:
                raise RuntimeError(f"imagenet_groups.json: unknown class {name!r} in {group['name']!r}")
            chosen.update(by_name[name])
        for i in chosen:
            if not 0 <= i < N_CLASSES:
                raise RuntimeError(f"imagenet_groups.json: class index {i} out of range")
            if i in owner:
                raise RuntimeError(
                    f"imagenet_groups.json: {names[i]!r} ({i}) is in both {owner[i]!r} and {group['name']!r}"
                )
            owner[i] = group["name"]
        members[group["name"]] = chosen
    default = spec["default"]
    members[default] |= set(range(N_CLASSES)) - set(owner)
    return tuple(
        GroupInfo(g["name"], g.get("description", ""), tuple(sorted(members[g["name"]])), _PALETTE[k % len(_PALETTE)])
        for k, g in enumerate(spec["groups"])
    )


def group_names() -> list[str]:
    """Group names in display order.

    Examples
    --------
    >>> group_names()[-1]
    'Objects'
    """
    return [g.name for g in groups()]


def group_colours() -> dict[str, str]:
    """``{group name: hex colour}``.

    Examples
    --------
    >>> group_colours()["Water"]
    '#1f77b4'
    """
    return {g.name: g.colour for g in groups()}


@lru_cache(maxsize=1)
def class_to_group() -> np.ndarray:
    """Array of 1,000 group names, by class index.

    Examples
    --------
    >>> class_to_group()[[967, 975, 207]].tolist()
    ['Coffee', 'Water', 'Animals']
    """
    out = np.empty(N_CLASSES, dtype=object)
    for g in groups():
        out[list(g.indices)] = g.name
    return out


def group_of(index: int) -> str:
    """The group of one class index.

    Examples
    --------
    >>> group_of(966), group_of(656), group_of(916)
    ('Drinks', 'Vehicles', 'Books & screens')
    """
    return str(class_to_group()[int(index)])


def top_k(probs: np.ndarray, k: int = 5) -> tuple[np.ndarray, np.ndarray]:
    """Indices and probabilities of the ``k`` most likely classes per row.

    Parameters
    ----------
    probs : array of shape (n, 1000)
        Class probabilities (softmax output).
    k : int
        How many classes to keep.

    Returns
    -------
    indices, values : arrays of shape (n, k)
        Most likely first.

    Examples
    --------
    >>> import numpy as np
    >>> p = np.zeros((1, 1000)); p[0, [3, 967, 10]] = [0.2, 0.7, 0.1]
    >>> idx, val = top_k(p, 2)
    >>> idx.tolist(), val.round(2).tolist()
    ([[967, 3]], [[0.7, 0.2]])
    """
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 2 or probs.shape[1] != N_CLASSES:
        raise ValueError(f"expected probabilities of shape (n, {N_CLASSES}), got {probs.shape}")
    k = max(1, min(int(k), N_CLASSES))
    idx = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return idx, np.take_along_axis(probs, idx, axis=1)
