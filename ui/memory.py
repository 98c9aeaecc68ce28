"""One in-memory store shared by every session: least recently used entries go first.

Pages keep results that are costly to rebuild but cheap to hold (feature
matrices, photo tiles, finished mosaics) here, under a byte budget, so a
hosted server's memory stays bounded however many archives its visitors
open. The store is ``cachetools.LRUCache`` sized in bytes, behind a lock
(Streamlit runs sessions in threads).
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Hashable
from typing import Any

import numpy as np
import pandas as pd
import streamlit as st
from cachetools import LRUCache

__all__ = ["SharedStore", "shared_store", "nbytes"]


def nbytes(value: Any) -> int:
    """Rough size of ``value`` in bytes: arrays, tables (their strings included), and containers or
    dataclasses of them; another object counts 64 bytes plus the tables it holds.

    Examples
    --------
    >>> nbytes((np.zeros(10, np.uint8), [np.zeros(2, np.float64)]))
    26
    >>> nbytes({"a": np.zeros(1000, np.uint8)})
    1000
    >>> nbytes(pd.DataFrame({"x": np.zeros(100)})) >= 800
    True
    """
    if isinstance(value, np.ndarray):
        return int(value.nbytes)
    if isinstance(value, pd.DataFrame):
        return int(value.memory_usage(deep=True).sum())
    if isinstance(value, pd.Series):
        return int(value.memory_usage(deep=True))
    if isinstance(value, (bytes, bytearray)):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(nbytes(v) for v in value)
    if isinstance(value, dict):
        return sum(nbytes(v) for v in value.values())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return 64 + sum(nbytes(v) for v in getattr(value, "__dict__", {}).values() if isinstance(v, pd.DataFrame))


class SharedStore:
    """A thread-safe LRU of at most ``budget`` bytes (one entry may exceed it alone)."""

    def __init__(self, budget: int) -> None:
        self._lru: LRUCache = LRUCache(maxsize=budget, getsizeof=lambda v: min(nbytes(v), budget))
        self._lock = threading.Lock()

    def get(self, key: Hashable, default: Any = None) -> Any:
        with self._lock:
            return self._lru.get(key, default)

    def put(self, key: Hashable, value: Any) -> None:
        with self._lock:
            self._lru[key] = value

    def __contains__(self, key: Hashable) -> bool:
        with self._lock:
            return key in self._lru

    def __len__(self) -> int:
        with self._lock:
            return len(self._lru)

    def clear(self) -> None:
        with self._lock:
            self._lru.clear()


@st.cache_resource
def shared_store(name: str, budget_mb: int) -> SharedStore:
    """The store called ``name`` (one per server process)."""
    return SharedStore(budget_mb * 1024**2)
