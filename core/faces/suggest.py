"""Suggestions for naming people fast: the "who is this?" queue and merges, nearest first.

Distances between people are the root mean square of the distances between
their faces, which needs only each person's mean descriptor ``c`` and spread
``v`` (mean squared distance of their faces to ``c``):
``sqrt(|c_a - c_b|² + v_a + v_b)``. It is on the same scale as the
same-person threshold (a little above the average linkage, never below),
and costs one product of the people's means, so thousands of people are
compared in a blink.

A suggestion never proposes what the user or the photos rule out: two
people with faces in one photo, or a person a face was said not to be.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .people import People

__all__ = ["SUGGEST_DISTANCE", "person_means", "naming_queue", "merge_suggestions", "photo_years", "age_suggestions"]

#: People further apart than this are not suggested (the same-person threshold is 0.6).
SUGGEST_DISTANCE = 0.8


def person_means(people: People) -> tuple[pd.Index, np.ndarray, np.ndarray]:
    """Each person's mean descriptor and spread.

    Returns
    -------
    ids : pandas.Index
        Person ids, in the order of ``people.table``.
    means : numpy.ndarray
        ``(n_people, 128)`` mean descriptor.
    spread : numpy.ndarray
        ``(n_people,)`` mean squared distance of the person's faces to their mean.
    """
    ids = pd.Index(people.table["person_id"])
    faces = people.faces
    X = people.index.embeddings[faces.index.to_numpy()].astype(np.float64) if len(faces) else np.zeros((0, 128))
    codes = ids.get_indexer(faces["person_id"])
    ok = codes >= 0
    counts = np.bincount(codes[ok], minlength=len(ids)).astype(np.float64)
    sums = np.zeros((len(ids), X.shape[1]))
    np.add.at(sums, codes[ok], X[ok])
    sq = np.bincount(codes[ok], weights=np.einsum("ij,ij->i", X[ok], X[ok]), minlength=len(ids))
    means = sums / np.maximum(counts, 1)[:, None]
    spread = np.maximum(sq / np.maximum(counts, 1) - np.einsum("ij,ij->i", means, means), 0.0)
    return ids, means, spread


def _distances(means_a, spread_a, means_b, spread_b) -> np.ndarray:
    d2 = (np.einsum("ij,ij->i", means_a, means_a)[:, None] + np.einsum("ij,ij->i", means_b, means_b)[None, :]
          - 2.0 * means_a @ means_b.T + spread_a[:, None] + spread_b[None, :])
    return np.sqrt(np.maximum(d2, 0.0))


def _photo_matrix(people: People, ids: pd.Index):
    """Sparse ``(n_people, n_photos)``: how many faces each person has in each photo."""
    from scipy import sparse

    faces = people.faces
    codes = ids.get_indexer(faces["person_id"])
    photo, _ = pd.factorize(faces["sha256"])
    ok = codes >= 0
    return sparse.csr_matrix((np.ones(int(ok.sum())), (codes[ok], photo[ok])),
                             shape=(len(ids), int(photo.max(initial=-1)) + 1))


def _ruled_out(people: People) -> set[tuple[str, str]]:
    """Pairs of people the user kept apart (a face of one "is not" the other), both ways."""
    pairs = set()
    for key, banned in people.book.cannot.items():
        mine = people.person_ids.get(key)
        if mine is None:
            continue
        for other in banned:
            pairs.add((mine, other))
            pairs.add((other, mine))
    return pairs


def naming_queue(people: People, *, skip=(), max_distance: float = SUGGEST_DISTANCE) -> pd.DataFrame:
    """The unnamed, visible people, largest first, each with the nearest named person it may be.

    Parameters
    ----------
    people : People
    skip : collection of str
        Person ids to leave out (skipped for now).
    max_distance : float
        A named person further than this is not suggested.

    Returns
    -------
    pandas.DataFrame
        Rows of ``people.table`` (``person_id``, ``n_faces``, ...) plus
        ``suggestion`` (a named person's id, or None), ``suggestion_name`` and
        ``distance`` (NaN without a suggestion). The suggestion is never in a
        photo with the person, nor someone the user said one of its faces is
        not.

    Examples
    --------
    >>> import tempfile
    >>> from core.cache import DiskCache
    >>> from core.faces.people import find_people
    >>> cat = pd.DataFrame({"post_id": ["a"], "sha256": ["ab12"], "file": ["x.jpg"], "path": ["/x.jpg"]})
    >>> naming_queue(find_people(cat, "k", cache=DiskCache(tempfile.mkdtemp()))).empty
    True
    """
    table = people.table
    queue = table[~table["named"] & ~table["hidden"] & ~table["person_id"].isin(set(skip))].copy()
    queue["suggestion"] = None
    queue["suggestion_name"] = None
    queue["distance"] = np.nan
    named = table[table["named"]]
    if queue.empty or named.empty:
        return queue.reset_index(drop=True)
    ids, means, spread = person_means(people)
    qa, na = ids.get_indexer(queue["person_id"]), ids.get_indexer(named["person_id"])
    dist = _distances(means[qa], spread[qa], means[na], spread[na])
    photos = _photo_matrix(people, ids)
    together = (photos[qa] @ photos[na].T).toarray() > 0
    dist[together] = np.inf
    ruled_out = _ruled_out(people)
    if ruled_out:
        named_ids = named["person_id"].tolist()
        for i, pid in enumerate(queue["person_id"]):
            for j, other in enumerate(named_ids):
                if (pid, other) in ruled_out:
                    dist[i, j] = np.inf
    best = dist.argmin(axis=1)
    best_dist = dist[np.arange(len(queue)), best]
    near = best_dist < max_distance
    queue.loc[queue.index[near], "suggestion"] = named["person_id"].to_numpy()[best[near]]
    queue.loc[queue.index[near], "suggestion_name"] = named["name"].to_numpy()[best[near]]
    queue.loc[queue.index[near], "distance"] = best_dist[near]
    return queue.reset_index(drop=True)


def merge_suggestions(people: People, person_id: str | None = None, *, k: int = 10,
                      max_distance: float = SUGGEST_DISTANCE, chunk: int = 1024) -> pd.DataFrame:
    """Pairs of people who may be one, nearest first.

    Parameters
    ----------
    people : People
    person_id : str, optional
        Only the people nearest to this one (else the nearest pairs of all).
    k : int
        How many pairs.
    max_distance : float
        Pairs further apart are left out.
    chunk : int
        People compared at once (memory ``chunk × n_people``).

    Returns
    -------
    pandas.DataFrame
        ``person_a``, ``person_b``, ``name_a``, ``name_b``, ``distance``;
        never two people in one photo, nor two the user kept apart.
    """
    columns = ["person_a", "person_b", "name_a", "name_b", "distance"]
    table = people.table
    if len(table) < 2:
        return pd.DataFrame(columns=columns)
    ids, means, spread = person_means(people)
    photos = _photo_matrix(people, ids)
    ruled_out = _ruled_out(people)
    rows = [ids.get_loc(person_id)] if person_id is not None else range(len(ids))
    found = []
    rows = np.asarray(list(rows))
    for s in range(0, len(rows), chunk):
        at = rows[s : s + chunk]
        dist = _distances(means[at], spread[at], means, spread)
        dist[np.arange(len(at)), at] = np.inf
        if person_id is None:  # each pair once
            dist[np.arange(len(ids))[None, :] <= at[:, None]] = np.inf
        together = (photos[at] @ photos.T).tocoo()
        dist[together.row, together.col] = np.inf
        n_best = min(k + 8, len(ids))
        best = np.argpartition(dist, n_best - 1, axis=1)[:, :n_best]
        for i, a in enumerate(at):
            for b in best[i]:
                d = dist[i, b]
                if d < max_distance and (ids[a], ids[b]) not in ruled_out:
                    found.append((ids[a], ids[b], float(d)))
    found.sort(key=lambda r: r[2])
    found = found[:k]
    names = dict(zip(table["person_id"], table["name"]))
    return pd.DataFrame([(a, b, names[a], names[b], d) for a, b, d in found], columns=columns)


def photo_years(people: People, catalogue: pd.DataFrame) -> pd.Series:
    """The year each face's photo was first posted (NaN when unknown), indexed like ``people.faces``."""
    if catalogue is None or "timestamp" not in catalogue or len(catalogue) == 0:
        return pd.Series(np.nan, index=people.faces.index)
    when = pd.to_datetime(catalogue["timestamp"], errors="coerce", utc=True)
    first = when.groupby(catalogue["sha256"].to_numpy()).min()
    return pd.Series(first.reindex(people.faces["sha256"]).dt.year.to_numpy(float), index=people.faces.index)


def age_suggestions(people: People, catalogue: pd.DataFrame, *, threshold: float = 0.6, gap_years: int = 2,
                    k: int = 10) -> pd.DataFrame:
    """People who may be one person years apart: the faces drift with age, so their means are far apart.

    Two people are offered when one's faces come before the other's (their
    median years differ) and the mean of the earlier one's last year is
    closer than ``threshold`` to the mean of the later one's first year, at
    most ``gap_years`` later; never two people of one photo nor two the user
    kept apart, and never merged without the user.

    Returns
    -------
    pandas.DataFrame
        ``person_a`` (the earlier), ``person_b``, ``name_a``, ``name_b``,
        ``distance`` (of the people as a whole), ``link_distance`` (last year
        against first year), ``years`` (e.g. ``"2012–2015 → 2016–2020"``);
        closest links first.
    """
    columns = ["person_a", "person_b", "name_a", "name_b", "distance", "link_distance", "years"]
    faces = people.faces
    years = photo_years(people, catalogue)
    if len(people) < 2 or years.isna().all():
        return pd.DataFrame(columns=columns)
    X = people.index.embeddings[faces.index.to_numpy()].astype(np.float64)
    frame = pd.DataFrame({"pid": faces["person_id"].to_numpy(), "year": years.to_numpy()}).reset_index(drop=True)
    dated = frame["year"].notna().to_numpy()
    span = frame[dated].groupby("pid")["year"].agg(["min", "max", "median"])
    span = span[span.index.isin(set(people.table["person_id"]))]
    if len(span) < 2:
        return pd.DataFrame(columns=columns)
    ends = {}
    for pid, rows in frame[dated].groupby("pid").groups.items():
        rows = np.asarray(rows)
        y = frame.loc[rows, "year"].to_numpy()
        ends[pid] = (X[rows[y == y.min()]].mean(axis=0), X[rows[y == y.max()]].mean(axis=0))
    ids, means, spread = person_means(people)
    photos = _photo_matrix(people, ids)
    ruled_out = _ruled_out(people)
    names = dict(zip(people.table["person_id"], people.table["name"]))
    found = []
    order = span.sort_values("median")
    pids = order.index.to_numpy()
    first_means = np.stack([ends[p][0] for p in pids])
    median, start, end = (order[c].to_numpy() for c in ("median", "min", "max"))
    for i, a in enumerate(pids):
        # b starts after a ends, soon after, and a's last year looks like b's first.
        cand = np.flatnonzero((median > median[i]) & (start - end[i] >= 0) & (start - end[i] <= gap_years))
        if len(cand) == 0:
            continue
        links = np.linalg.norm(first_means[cand] - ends[a][1], axis=1)
        for j, link in zip(cand[links < threshold], links[links < threshold]):
            b = pids[j]
            ia, ib = ids.get_loc(a), ids.get_loc(b)
            if (a, b) in ruled_out or photos[ia].multiply(photos[ib]).nnz:
                continue
            whole = float(np.sqrt(max(np.sum((means[ia] - means[ib]) ** 2) + spread[ia] + spread[ib], 0.0)))
            years_text = f"{int(start[i])}–{int(end[i])} → {int(start[j])}–{int(end[j])}"
            found.append((a, b, names[a], names[b], whole, float(link), years_text))
    found.sort(key=lambda r: r[5])
    return pd.DataFrame(found[:k], columns=columns)
