"""A memory bound per session: what one browser tab holds in ``st.session_state``, under a byte budget.

Streamlit keeps a session's state for as long as its tab is open, and a
hosted server holds a hundred of them; shared caches have byte budgets
(:mod:`ui.memory`), session state had none. After each run,
:func:`enforce_budget` adds up the session's entries (arrays, tables, bytes,
containers and dataclasses of them; :func:`ui.memory.nbytes`) and, when they
pass ``FEEDLENS_SESSION_MB`` (default :data:`DEFAULT_MB`), drops the largest
of the entries pages can rebuild (:data:`DROPPABLE`: a face index read again
from the disk cache, a mosaic build taken again from the shared store...)
until the session fits, and tells the visitor what went. The archive and
widget values are never dropped: they count towards the total, so a session
on a large archive keeps less besides.

The sizes are computed again only when an entry changed (by identity), so an
ordinary rerun costs a dictionary walk.
"""

from __future__ import annotations

import os
from collections.abc import MutableMapping

import streamlit as st

from ui.memory import nbytes

__all__ = ["DEFAULT_MB", "DROPPABLE", "budget_bytes", "over_budget", "enforce_budget"]

DEFAULT_MB = 300
#: Entries a page rebuilds when missing: key -> (what it is, for the notice; keys that go with it).
DROPPABLE: dict[str, tuple[str, tuple[str, ...]]] = {
    "faces_index": ("the face index held for the Faces page (read again from the cache)", ("faces_index_token",)),
    "faces_people": ("the people found on the Faces page", ("faces_people_token",)),
    "faces_query_result": ("the photo searched on the Faces page (its faces are found again)", ()),
    "mosaic_build_result": ("the last mosaic build (Build again takes it from the server's store)", ()),
    "explore_figure_memo": ("the Explore map's figure", ()),
    "explore_placed": ("the photo placed on the Explore map", ("explore_placed_key",)),
}
_SEEN = "_session_budget_seen"  # (key, id(value)) pairs of the last check, and their sizes


def budget_bytes() -> int:
    """``FEEDLENS_SESSION_MB`` (MB) in bytes; default :data:`DEFAULT_MB`."""
    try:
        mb = float(os.environ.get("FEEDLENS_SESSION_MB", DEFAULT_MB))
    except ValueError:
        mb = DEFAULT_MB
    return int(max(mb, 1) * 2**20)


def over_budget(sizes: dict[str, int], budget: int) -> list[str]:
    """Which droppable keys to drop, largest first, until the total fits ``budget``.

    Examples
    --------
    >>> over_budget({"archive": 50, "faces_index": 30, "mosaic_build_result": 40, "x": 5}, 100)
    ['mosaic_build_result']
    >>> over_budget({"archive": 150, "faces_index": 30}, 100)
    ['faces_index']
    """
    total = sum(sizes.values())
    dropped = []
    for key in sorted((k for k in sizes if k in DROPPABLE), key=lambda k: -sizes[k]):
        if total <= budget:
            break
        dropped.append(key)
        total -= sizes[key]
    return dropped


def _sizes(state: MutableMapping) -> dict[str, int]:
    seen = state.get(_SEEN) or {}
    sizes = {}
    for key in list(state.keys()):
        if key == _SEEN:
            continue
        value = state[key]
        held = seen.get(key)
        sizes[key] = held[1] if held is not None and held[0] == id(value) else nbytes(value)
    state[_SEEN] = {key: (id(state[key]), size) for key, size in sizes.items()}
    return sizes


def enforce_budget(state: MutableMapping | None = None, budget: int | None = None) -> list[str]:
    """Drop what this session holds past its budget; returns what was dropped (its descriptions), told in a toast."""
    state = st.session_state if state is None else state
    budget = budget_bytes() if budget is None else budget
    sizes = _sizes(state)
    dropped = over_budget(sizes, budget)
    told = []
    for key in dropped:
        what, companions = DROPPABLE[key]
        for gone in (key, *companions):
            state.pop(gone, None)
        told.append(what)
    if told:
        st.toast(f"This tab held more than its {budget / 2**20:.0f} MB share of the server's memory, so "
                 f"{'; '.join(told)} was let go. It is rebuilt when needed.", icon=":material/memory:")
    return told
