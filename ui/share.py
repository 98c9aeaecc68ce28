"""Share links: a page's main settings live in the URL and come back from it.

One call per widget, made where the widget is drawn, keeps the widget and a
query parameter in step. :func:`sync` returns the widget key, so it fits in
the widget call itself (one line)::

    from ui.share import sync

    st.selectbox("Predict", TARGETS, key=sync("fc_target", "target", default="likes", options=TARGETS))
    st.multiselect("Tags", TAGS, key=sync("fc_tags", "tags", default=[], options=TAGS, multi=True))
    st.toggle("Log scale", key=sync("fc_log", "log", default=False))
    st.slider("Trees", 10, 500, key=sync("fc_trees", "trees", default=100, bounds=(10, 500)))

The same works for ``st.radio``, ``st.segmented_control``, ``st.pills``
(``multi=True`` with ``selection_mode="multi"``), ``st.checkbox`` and
``st.number_input``. Rules:

- Give the default to :func:`sync`, **not** to the widget (no ``index=``,
  ``value=`` or ``default=``): the widget reads its value from
  ``st.session_state[key]``, which :func:`sync` fills.
- Options are written as :func:`core.links.token` (``str(option)``;
  booleans ``on``/``off``), numbers as digits, multi-choices as repeated
  parameters (``?tags=a&tags=b``).
- Parameter names are shared by every page of a session: pick names no other
  page uses (``archive`` and ``pipeline`` are taken).

What happens: the first time a session sees ``param`` in the URL, its value
is checked against ``options`` / ``bounds`` (:mod:`core.links`); a valid one
becomes the widget's value, anything else shows a short toast and the
default is used. Later runs never read the URL again (the user's changes
win); they only write the widget's current value back, so the address bar
is always a link to the current view. A stored value that no longer fits
(the options changed with the archive) is reset to the default rather than
crashing the widget, and a widget hidden for a run comes back with its
value, not with the widget's own default (this needs :func:`begin_run`, which
``streamlit_app.py`` calls at the top of every run). Streamlit clears the query string when the user moves
to another page; each page writes its own settings again when it runs.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

import streamlit as st

from core.links import parse_choice, parse_choices, parse_flag, parse_number, token

__all__ = ["sync", "begin_run", "consume", "write", "drop"]

_CONSUMED = "_share_links_read"
_RUN = "_share_links_run"  # counts script runs (begin_run, from the entry script)
_DRAWN = "_share_links_drawn"  # widget key -> the run that last drew it


def begin_run() -> None:
    """Count a script run; call once at the top of the entry script, before any page."""
    st.session_state[_RUN] = st.session_state.get(_RUN, 0) + 1


def consume(param: str) -> list[str] | None:
    """The URL's values of ``param`` the first time this session asks, else ``None``.

    Returns ``None`` too when the URL does not hold ``param``; either way the
    parameter counts as read from then on.
    """
    read: set = st.session_state.setdefault(_CONSUMED, set())
    if param in read:
        return None
    read.add(param)
    if param not in st.query_params:
        return None
    return st.query_params.get_all(param)


def write(param: str, value: Any, *, multi: bool = False) -> None:
    """Put ``value`` in the URL as ``param`` (only if it changed)."""
    tokens = [token(v) for v in value] if multi else [token(value)]
    if multi and not tokens:
        tokens = [""]
    if st.query_params.get_all(param) != tokens:
        st.query_params[param] = tokens if len(tokens) > 1 else tokens[0]


def drop(param: str) -> None:
    """Remove ``param`` from the URL (a setting that does not apply right now)."""
    if param in st.query_params:
        del st.query_params[param]


def _parse(raws: list[str], default: Any, options, bounds, multi: bool):
    if multi:
        return parse_choices(raws, options)
    raw = raws[-1] if raws else None
    if options is not None:
        return parse_choice(raw, options)
    if bounds is not None:
        return parse_number(raw, bounds[0], bounds[1], integer=isinstance(default, int))
    return parse_flag(raw)


def _fits(value: Any, default: Any, options, bounds, multi: bool) -> bool:
    if multi:
        return isinstance(value, list) and all(v in options for v in value)
    if options is not None:
        return value in options
    if bounds is not None:
        kind = int if isinstance(default, int) else (int, float)
        return isinstance(value, kind) and not isinstance(value, bool) and bounds[0] <= value <= bounds[1]
    return isinstance(value, bool)


def sync(key: str, param: str, *, default: Any, options: Sequence[Hashable] | None = None,
         bounds: tuple[float, float] | None = None, multi: bool = False) -> str:
    """Tie the widget ``key`` to the query parameter ``param``; return ``key``.

    Parameters
    ----------
    key : str
        The widget's key (pass the return value as ``key=``).
    param : str
        The query parameter's name.
    default : object
        The widget's value when the link has none (or a bad one). A ``bool``
        makes a flag (toggle, checkbox); an ``int`` with ``bounds`` an integer.
    options : sequence, optional
        Allowed values (selectbox, radio, segmented control, pills,
        multiselect).
    bounds : (low, high), optional
        Allowed range (slider, number input).
    multi : bool
        A list of options (multiselect, multi pills).

    Returns
    -------
    str
        ``key``, so the call can sit inside the widget call.
    """
    if options is None and bounds is None and not isinstance(default, bool):
        raise TypeError("sync needs options, bounds or a bool default")
    if options is not None:
        options = list(options)
    state = st.session_state
    raws = consume(param)
    if raws is not None:
        value = _parse(raws, default, options, bounds, multi)
        if value is None:
            st.toast(f"This link's “{param}” setting cannot be used here, so the default is shown.",
                     icon=":material/link_off:")
        else:
            state[key] = value
    run = state.get(_RUN, 0)
    drawn: dict = state.setdefault(_DRAWN, {})
    if key not in state or not _fits(state[key], default, options, bounds, multi):
        state[key] = default
    elif drawn.get(key, run) < run - 1:
        # The widget was hidden in the last run (its page stopped early): Streamlit keeps the value in
        # the session, but the browser redraws the widget at its own default unless the value is handed
        # over again. Only then: re-sending values on every run would undo the user's fast clicks.
        state[key] = state[key]
    drawn[key] = run
    value = state[key]
    write(param, value, multi=multi)
    return key
