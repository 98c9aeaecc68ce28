"""The batch job on the current archive, as its manifest in the cache tells it (the engine is never asked).

``feedlens batch`` writes a manifest per archive into the cache the app reads
(:mod:`core.batch.manifest`); :func:`show_batch_status` draws what
:func:`core.batch.manifest.batch_status` decided. While the batch runs, a
fragment rereads the manifest every :data:`REFRESH_S` seconds and redraws
only itself; when the batch ends it reruns the whole page, which then reads
the batch's results and stops polling.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from core.batch.manifest import BatchStatus, batch_status, core_version, read_manifest
from core.cache import default_cache
from core.config import local_paths_allowed
from core.links import scoped_key
from ui.auth import current_scope
from ui.text import md

__all__ = ["REFRESH_S", "show_batch_status"]

#: Seconds between two reads of a running batch's manifest (one small cache entry).
REFRESH_S = 2.0

_ICONS = {"warning": ":material/warning:", "error": ":material/error:"}


def _manifest_key(archive) -> str:
    # With login on, pages see a per-user key (core.links.scoped_key); the batch wrote the catalogue's own key.
    scope = current_scope()
    return archive.key.removesuffix(scoped_key("", scope)) if scope else archive.key


def _status(key: str) -> BatchStatus | None:
    manifest = read_manifest(default_cache(), key)
    return None if manifest is None else batch_status(manifest, core_version())


def _draw(status: BatchStatus) -> None:
    with st.container(key="batch_status"):
        if status.level == "progress":
            st.progress(status.fraction, text=md(status.message))
        elif status.level in _ICONS:
            getattr(st, status.level)(md(status.message), icon=_ICONS[status.level])
        else:
            st.caption(md(status.message))
        if status.version_note:
            st.warning(md(status.version_note), icon=":material/difference:")
        if status.note:
            st.caption(md(status.note))
        if status.resume and local_paths_allowed():  # a hosted server's visitors cannot run it: no server paths
            st.code(status.resume, language="bash", wrap_lines=True)
        if status.failures:
            with st.expander("Photos the batch could not process"):
                st.dataframe(pd.DataFrame(status.failures, columns=["file", "reason"]), hide_index=True)


@st.fragment(run_every=REFRESH_S)
def _live(key: str) -> None:
    status = _status(key)
    if status is None or not status.live:
        st.rerun()  # the batch ended: the whole page reads its results, and this fragment is not drawn again
    _draw(status)


def show_batch_status(archive) -> None:
    """Say how far the batch on ``archive`` is, or that it stopped, or that another version computed it.

    Draws nothing when no batch ran on the archive.
    """
    key = _manifest_key(archive)
    status = _status(key) if key else None
    if status is None:
        return
    if status.live:
        _live(key)
    else:
        _draw(status)
