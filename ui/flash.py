"""Messages that survive one rerun: "Name saved.", "Imported 120 photos".

A page that changes state and calls ``st.rerun()`` loses anything it drew
before; :func:`flash` keeps the message in ``st.session_state`` and
:func:`show_flashes` draws it on the next run, once.
"""

from __future__ import annotations

import streamlit as st

__all__ = ["flash", "show_flashes"]

_KEY = "flash::"
_ICONS = {"success": ":material/check:", "info": ":material/info:", "warning": ":material/warning:"}


def flash(place: str, message: str, kind: str = "success") -> None:
    """Show ``message`` at ``place`` (a page or "sidebar") on the next run.

    ``message`` is Markdown: put user text in it through :func:`ui.text.md`.
    """
    st.session_state.setdefault(_KEY + place, []).append((kind, message))


def show_flashes(place: str) -> None:
    """Draw (and forget) the messages kept for ``place``."""
    for kind, message in st.session_state.pop(_KEY + place, []):
        getattr(st, kind)(message, icon=_ICONS.get(kind))
