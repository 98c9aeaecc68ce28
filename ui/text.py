"""User text (captions, names, file names) on a page: escaped, never Markdown or HTML.

Streamlit renders the text of ``st.markdown``, ``st.success``, ``st.info`` and
the like as Markdown. A file name such as ``*secret*.jpg`` or
``<img src=x onerror=alert(1)>.jpg`` must appear exactly as typed, so every
piece of user text that goes into such a call goes through :func:`md`.
``st.text`` and dataframes need no escaping.
"""

from __future__ import annotations

import re

__all__ = ["md"]

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:])")


def md(value: object) -> str:
    r"""``value`` as text, escaped for Markdown.

    Examples
    --------
    >>> md("*bold* <b>")
    '\\*bold\\* \\<b\\>'
    """
    return _MD_SPECIAL.sub(r"\\\1", str(value))
