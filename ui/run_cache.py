"""What a rerun would rebuild unchanged (figures, histograms), built once per input and shared by every session.

Streamlit reruns a page's whole script on every click; a Plotly figure of the
same data costs 10–100 ms of CPU to build again (Plotly validates every
property), more than the rest of the run. :func:`reuse` keeps the last
``max_entries`` results of each kind, keyed by what they depend on: the
caller passes a key (a :func:`frame_key` of the data, the widget values) and
a ``build`` function for a miss. The values are shared, not copied: callers
must not change them (``st.plotly_chart`` does not; it serialises a copy).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Callable, Hashable
from typing import TypeVar

import pandas as pd
import streamlit as st
from cachetools import LRUCache

__all__ = ["reuse", "frame_key"]

T = TypeVar("T")


@st.cache_resource
def _stores() -> tuple[threading.Lock, dict[str, LRUCache]]:
    return threading.Lock(), {}


def reuse(kind: str, key: Hashable, build: Callable[[], T], max_entries: int = 64) -> T:
    """``build()``'s value for ``(kind, key)``: from the last runs of any session, else built now and kept."""
    key = _hashable(key)
    lock, stores = _stores()
    with lock:
        store = stores.setdefault(kind, LRUCache(maxsize=max_entries))
        if key in store:
            return store[key]
    value = build()  # outside the lock: two sessions may build the same value once each, never wait
    with lock:
        store[key] = value
    return value


def _hashable(value):
    """``value`` with its lists, sets and dicts made tuples (widget values are often lists).

    Examples
    --------
    >>> _hashable(("a", ["b", {"c": [1]}], {2, 1}))
    ('a', ('b', (('c', (1,)),)), (1, 2))
    """
    if isinstance(value, (list, tuple)):
        return tuple(_hashable(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((str(k), _hashable(v)) for k, v in value.items()))
    if isinstance(value, (set, frozenset)):
        return tuple(sorted(_hashable(v) for v in value))
    return value


def frame_key(frame: pd.DataFrame) -> tuple:
    """A key for a DataFrame's contents: its shape, columns and a hash of every row (about 1 ms per 1,000 rows).

    Examples
    --------
    >>> a = pd.DataFrame({"x": [1, 2], "s": ["a", "b"]})
    >>> frame_key(a) == frame_key(a.copy()), frame_key(a) == frame_key(a.assign(x=[1, 3]))
    (True, False)
    """
    try:
        rows = pd.util.hash_pandas_object(frame, index=True, categorize=False)
    except TypeError:  # a column of lists or dicts: hash their text
        rows = pd.util.hash_pandas_object(frame.astype(str), index=True, categorize=False)
    digest = hashlib.blake2b(rows.to_numpy().tobytes(), digest_size=16).hexdigest()
    return frame.shape, tuple(map(str, frame.columns)), digest
