"""Constrained average-linkage clustering: two faces of one photo are never one person.

scikit-learn and SciPy cluster without constraints, so two siblings standing
side by side end up as one person once their faces are closer than the cut.
:func:`average_linkage` is average-linkage agglomerative clustering with
*cannot-links*: a merge that would put two items of one photo (or a pair the
caller keeps apart) into one cluster is refused, and the clustering goes on
with the other merges. It can also start from *seeds* (items the user said
are one person), which stay together and, with ``seeds_apart``, apart from
other seeds.

How: the nearest-neighbour-chain algorithm over a dense matrix of average
distances, where a refused pair holds ``inf``. Average linkage is
*reducible* (the distance of a merged cluster to a third is at least the
smaller of the two it came from), and ``inf`` keeps that true, so the chain
finds the same merges as the textbook "always merge the closest pair" order
in O(n²) time; each merge updates one row by the Lance–Williams formula,
and a refused pair stays ``inf`` because ``inf`` survives the weighted mean.
Without constraints the partition equals scikit-learn's
``AgglomerativeClustering(linkage="average", distance_threshold=t)``
(tested). Memory is one ``n × n`` float64 matrix per block.

Scale: an average below ``t`` needs at least one pair of items closer than
``t``, so every cluster lies inside one connected component of the graph
"closer than ``t``". Above ``max_block`` items the graph is built in chunks
(exact, a matrix product per chunk) and each component is clustered on its
own; the result is still exact. A component larger than ``max_block`` is
cut into blocks by k-means and each block is clustered exactly; no merge
crosses two blocks of one component, which can only leave a person split,
never join two (:attr:`ClusterReport.n_approximate` counts those items).

:func:`attach_nearest` puts new items into existing clusters (the person of
the nearest item within a distance) under the same constraints.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ClusterReport", "average_linkage", "threshold_components", "attach_nearest"]

#: Largest block clustered exactly in one piece (its distance matrix takes 8·n² bytes: 128 MB at 4,000).
MAX_BLOCK = 4000


@dataclass
class ClusterReport:
    """What :func:`average_linkage` did.

    Attributes
    ----------
    n_components : int
        Connected components of the "closer than the threshold" graph (1 when not computed).
    largest_component : int
        Items in the largest one.
    n_approximate : int
        Items of components larger than ``max_block``, clustered block by block.
    n_refused : int
        Pairs of items (or seeds) closer than the threshold that a cannot-link kept apart.
    """

    n_components: int = 1
    largest_component: int = 0
    n_approximate: int = 0
    n_refused: int = 0


def _codes(values, n: int) -> np.ndarray:
    """Integer codes of ``values`` (``-1`` for "none": None, NaN, negative ints), or all ``-1``."""
    if values is None:
        return np.full(n, -1, np.int64)
    values = np.asarray(values)
    if len(values) != n:
        raise ValueError(f"{len(values)} labels for {n} items")
    if values.dtype.kind in "iu":
        return np.where(values >= 0, values, -1).astype(np.int64)
    import pandas as pd

    codes, _ = pd.factorize(pd.Series(values, dtype=object))
    return codes.astype(np.int64)


def _pairwise(X: np.ndarray) -> np.ndarray:
    """Euclidean distances, float64, ``(n, n)``, computed in place (one ``n × n`` array at the peak)."""
    X = np.asarray(X, np.float64)
    sq = np.einsum("ij,ij->i", X, X)
    d = X @ X.T
    d *= -2.0
    d += sq[:, None]
    d += sq[None, :]
    np.maximum(d, 0.0, out=d)
    return np.sqrt(d, out=d)


def _conflicts(labels: np.ndarray, n_clusters: int, codes: np.ndarray) -> np.ndarray:
    """``(k, k)`` bool: clusters holding items of one same code (a photo, a seed)."""
    has = codes >= 0
    if not has.any():
        return np.zeros((n_clusters, n_clusters), bool)
    _, local = np.unique(codes[has], return_inverse=True)  # this block's photos, numbered 0..p-1
    if n_clusters * (int(local.max()) + 1) <= 40_000:  # small: a dense membership product
        member = np.zeros((n_clusters, int(local.max()) + 1), np.float32)
        member[labels[has], local] = 1.0
        return (member @ member.T) > 0
    from scipy import sparse

    m = sparse.csr_matrix((np.ones(int(has.sum())), (labels[has], local)), shape=(n_clusters, int(local.max()) + 1))
    return (m @ m.T).toarray() > 0


def _block(X: np.ndarray, threshold: float, photos: np.ndarray, seeds: np.ndarray,
           apart: np.ndarray, seeds_apart: bool, report: ClusterReport) -> np.ndarray:
    """Exact constrained average linkage of one block; cluster labels (not renumbered)."""
    n = len(X)
    if n == 1:
        return np.zeros(1, np.int64)
    # Initial clusters: each seed's items together, every other item alone.
    start = np.where(seeds >= 0, seeds, seeds.max(initial=-1) + 1 + np.arange(n))
    _, init = np.unique(start, return_inverse=True)
    k = int(init.max()) + 1
    D = _pairwise(X)
    if k < n:  # sum each pair of initial clusters' distances, then divide by the sizes
        order = np.argsort(init, kind="stable")
        starts = np.searchsorted(init[order], np.arange(k))
        D = np.add.reduceat(np.add.reduceat(D[order][:, order], starts, axis=0), starts, axis=1)
        sizes = np.bincount(init, minlength=k).astype(np.float64)
        D /= sizes[:, None] * sizes[None, :]
    else:
        sizes = np.ones(n, np.float64)
    refuse = _conflicts(init, k, photos)
    if seeds_apart and (seeds >= 0).any():
        seeded = np.zeros(k, bool)
        seeded[init[seeds >= 0]] = True
        refuse |= seeded[:, None] & seeded[None, :]
    if len(apart):
        a, b = init[apart[:, 0]], init[apart[:, 1]]
        refuse[a, b] = refuse[b, a] = True
    report.n_refused += int(np.count_nonzero(np.triu(refuse & (D < threshold), 1)))
    D[refuse] = np.inf
    np.fill_diagonal(D, np.inf)

    parent = np.arange(k)
    active = np.ones(k, bool)
    chain: list[int] = []
    while True:
        if not chain:
            alive = np.flatnonzero(active)
            if len(alive) == 0:
                break
            chain.append(int(alive[0]))
        y = chain[-1]
        row = D[y]
        z = int(np.argmin(row))
        if not row[z] < threshold:  # y merges with nobody, now or later (reducibility): finished
            active[y] = False
            D[y, :] = np.inf
            D[:, y] = np.inf
            chain.pop()
            continue
        if len(chain) > 1 and row[chain[-2]] <= row[z]:
            z = chain[-2]  # on a tie, go back down the chain (no cycles)
        if len(chain) > 1 and z == chain[-2]:
            chain.pop()
            chain.pop()
            # Merge z into y; a refused pair (inf) stays refused through the weighted mean.
            merged = (sizes[y] * D[y] + sizes[z] * D[z]) / (sizes[y] + sizes[z])
            D[y, :] = merged
            D[:, y] = merged
            D[y, y] = np.inf
            D[z, :] = np.inf
            D[:, z] = np.inf
            sizes[y] += sizes[z]
            parent[z] = y
            active[z] = False
        else:
            chain.append(z)
    # Follow each initial cluster's parents to its root.
    root = parent.copy()
    while True:
        nxt = root[root]
        if np.array_equal(nxt, root):
            break
        root = nxt
    return root[init]


def threshold_components(X: np.ndarray, threshold: float, *, links: np.ndarray | None = None,
                         chunk: int = 1024) -> np.ndarray:
    """Connected components of the graph "closer than ``threshold``" (plus ``links``, item pairs).

    Built chunk by chunk (``chunk`` rows of distances at a time), so memory
    stays ``O(chunk · n)`` plus the edges.

    Examples
    --------
    >>> X = np.array([[0.0], [0.5], [1.0], [5.0]])
    >>> threshold_components(X, 0.6).tolist()
    [0, 0, 0, 1]
    """

    X = np.ascontiguousarray(X, np.float32)
    n = len(X)
    sq = np.einsum("ij,ij->i", X, X)
    t2 = np.float32(threshold) ** 2
    # Components so far; each chunk's edges are read as edges between components, so an edge inside
    # a component already found is dropped at once (one person's thousand faces give no million edges).
    comp = np.arange(n)
    if links is not None and len(links):
        comp = _merge_components(comp, np.asarray(links)[:, 0], np.asarray(links)[:, 1])
    for s in range(0, n, chunk):
        q = X[s : s + chunk]
        d2 = q @ X[s:].T  # the upper triangle only: each pair once
        d2 *= -2.0
        d2 += sq[s : s + chunk, None]
        d2 += sq[None, s:]
        r, c = np.nonzero(d2 < t2)
        del d2
        comp = _merge_components(comp, r + s, c + s)
    return np.unique(comp, return_inverse=True)[1]


def _merge_components(comp: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``comp`` (a label per item) after joining the components of each pair ``a[i], b[i]``."""
    from scipy import sparse
    from scipy.sparse.csgraph import connected_components

    ca, cb = comp[a], comp[b]
    across = ca != cb
    if not across.any():
        return comp
    pairs = np.unique(np.stack([ca[across], cb[across]], axis=1), axis=0)
    n = len(comp)
    graph = sparse.coo_matrix((np.ones(len(pairs), np.int8), (pairs[:, 0], pairs[:, 1])), shape=(n, n))
    return connected_components(graph, directed=False)[1][comp]


def _split(X: np.ndarray, max_block: int, seed: int = 0) -> list[np.ndarray]:
    """Positions of ``X`` cut into blocks of at most ``max_block`` items by k-means (recursively)."""
    if len(X) <= max_block:
        return [np.arange(len(X))]
    from sklearn.cluster import KMeans

    k = int(np.ceil(2 * len(X) / max_block))
    labels = KMeans(n_clusters=k, n_init=1, random_state=seed).fit_predict(X)
    if len(np.unique(labels)) < 2:  # k-means could not cut it: cut in order
        return [np.arange(s, min(s + max_block, len(X))) for s in range(0, len(X), max_block)]
    blocks = []
    for label in np.unique(labels):
        at = np.flatnonzero(labels == label)
        blocks += [at[sub] for sub in _split(X[at], max_block, seed + 1)]
    return blocks


def average_linkage(X: np.ndarray, threshold: float, *, photos=None, seeds=None, apart=None,
                    seeds_apart: bool = True, max_block: int = MAX_BLOCK,
                    report: ClusterReport | None = None) -> np.ndarray:
    """Average-linkage clusters cut at ``threshold``, with cannot-links.

    Parameters
    ----------
    X : numpy.ndarray
        ``(n, d)`` descriptors.
    threshold : float
        Two clusters merge while their average distance is below it.
    photos : sequence, optional
        The photo of each item (``None``/``-1`` for none): items of one photo
        never share a cluster (unless a seed puts them together).
    seeds : sequence, optional
        Initial groups (``None``/``-1`` for none): each seed's items start as
        one cluster.
    apart : array-like, optional
        ``(m, 2)`` item pairs that never share a cluster.
    seeds_apart : bool
        Two different seeds never merge.
    max_block : int
        Largest set of items clustered in one piece (see the module docstring).
    report : ClusterReport, optional
        Filled with what was done.

    Returns
    -------
    numpy.ndarray
        ``(n,)`` cluster labels ``0..k-1`` in order of first appearance.

    Examples
    --------
    Two look-alikes in one photo (items 0 and 1) stay apart; their other
    photos join each of them:

    >>> X = np.array([[0.0, 0.0], [0.3, 0.0], [0.05, 0.0], [0.3, 0.05]])
    >>> average_linkage(X, 0.6).tolist()
    [0, 0, 0, 0]
    >>> average_linkage(X, 0.6, photos=["a", "a", "b", "c"]).tolist()
    [0, 1, 0, 1]
    """
    X = np.asarray(X, np.float64)
    n = len(X)
    report = report if report is not None else ClusterReport()
    report.largest_component = n
    if n == 0:
        return np.zeros(0, np.int64)
    photo_codes, seed_codes = _codes(photos, n), _codes(seeds, n)
    pairs = np.asarray(apart, np.int64).reshape(-1, 2) if apart is not None else np.zeros((0, 2), np.int64)
    if n <= max_block:
        groups = [np.arange(n)]
    else:
        # Seeds stay in one component: link each seed's items in a chain.
        order = np.argsort(seed_codes, kind="stable")
        same = (seed_codes[order][1:] == seed_codes[order][:-1]) & (seed_codes[order][1:] >= 0)
        links = np.stack([order[:-1][same], order[1:][same]], axis=1)
        comp = threshold_components(X, threshold, links=links)
        sizes = np.bincount(comp)
        report.n_components, report.largest_component = len(sizes), int(sizes.max())
        order = np.argsort(comp, kind="stable")
        groups = np.split(order, np.cumsum(sizes)[:-1])
    raw = np.empty(n, np.int64)
    next_label = 0
    for members in groups:
        blocks = [members]
        if len(members) > max_block:
            report.n_approximate += len(members)
            blocks = [members[b] for b in _split(X[members], max_block)]
            # A seed is never cut: its items follow its first item's block.
            block_of = np.empty(n, np.int64)
            for i, b in enumerate(blocks):
                block_of[b] = i
            seeded = seed_codes[members] >= 0
            if seeded.any():
                first = {}
                for item in members[seeded]:
                    block_of[item] = first.setdefault(seed_codes[item], block_of[item])
                blocks = [members[block_of[members] == i] for i in range(len(blocks))]
        for items in blocks:
            if len(items) == 0:
                continue
            inside = np.zeros(n, bool)
            inside[items] = True
            local = -np.ones(n, np.int64)
            local[items] = np.arange(len(items))
            keep = inside[pairs[:, 0]] & inside[pairs[:, 1]] if len(pairs) else np.zeros(0, bool)
            labels = _block(X[items], threshold, photo_codes[items], seed_codes[items],
                            local[pairs[keep]], seeds_apart, report)
            _, labels = np.unique(labels, return_inverse=True)
            raw[items] = labels + next_label
            next_label += int(labels.max()) + 1
    _, first = np.unique(raw, return_index=True)
    rank = np.empty(len(first), np.int64)
    rank[np.argsort(first, kind="stable")] = np.arange(len(first))
    return rank[np.unique(raw, return_inverse=True)[1]]


def attach_nearest(X_ref: np.ndarray, ref_labels: np.ndarray, X_new: np.ndarray, limit, *,
                   ref_photos=None, new_photos=None, forbidden=None, k: int = 10,
                   searcher=None) -> np.ndarray:
    """The cluster each new item joins: that of its nearest reference item within ``limit``, if allowed.

    A new item skips a cluster that already holds an item of its photo
    (reference items, or new items attached before it) and the clusters in
    its ``forbidden`` set; it tries its ``k`` nearest reference items in
    order and joins none when none is close and allowed.

    Parameters
    ----------
    X_ref, ref_labels : numpy.ndarray
        Reference descriptors and their (non-negative int) clusters.
    X_new : numpy.ndarray
        Items to attach.
    limit : float or numpy.ndarray
        Distance below which an item may join (one per new item, or one for all).
    ref_photos, new_photos : sequence, optional
        Photo of each item (hashable; ``None`` for none).
    forbidden : sequence of sets, optional
        Per new item, clusters it must not join.
    k : int
    searcher : FaceSearcher or AnnFaceSearcher, optional
        Already fitted on ``X_ref``.

    Returns
    -------
    numpy.ndarray
        ``(len(X_new),)`` cluster of each new item, ``-1`` for none.

    Examples
    --------
    >>> ref = np.array([[0.0], [1.0]])
    >>> attach_nearest(ref, np.array([0, 1]), np.array([[0.1], [0.2], [5.0]]), 0.5,
    ...                ref_photos=["a", "b"], new_photos=["c", "a", "d"]).tolist()
    [0, -1, -1]
    """
    from .search import FaceSearcher

    n_new = len(X_new)
    out = np.full(n_new, -1, np.int64)
    if n_new == 0 or len(X_ref) == 0:
        return out
    ref_labels = np.asarray(ref_labels, np.int64)
    searcher = searcher if searcher is not None else FaceSearcher().fit(X_ref)
    dist, idx = searcher.kneighbors(X_new, min(k, len(X_ref)))
    limits = np.broadcast_to(np.asarray(limit, np.float64), (n_new,))
    photos_of: dict[int, set] = {}
    if ref_photos is not None:
        for label, photo in zip(ref_labels.tolist(), list(ref_photos)):
            if photo is not None:
                photos_of.setdefault(label, set()).add(photo)
    new_photos = list(new_photos) if new_photos is not None else [None] * n_new
    for i in range(n_new):
        photo, banned = new_photos[i], (forbidden[i] if forbidden is not None else ())
        for d, j in zip(dist[i], idx[i]):
            if not d < limits[i]:
                break
            label = int(ref_labels[j])
            if label in banned or (photo is not None and photo in photos_of.get(label, ())):
                continue
            out[i] = label
            if photo is not None:
                photos_of.setdefault(label, set()).add(photo)
            break
    return out
