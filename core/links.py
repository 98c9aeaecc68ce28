"""Share links and per-user scopes: the pure logic behind ``?archive=…&k=…`` URLs.

A share link holds a page's main settings as query parameters. Everything in
a query string is typed by whoever sent the link, so each value is parsed
here against what the page accepts (an option list, a number range, a flag)
and anything else is refused with ``None``; the UI then falls back to the
default. Nothing here imports Streamlit.

Archives are linked by name: ``archive=demo``, or an uploaded ZIP by the
sha256 of its bytes; which uploads a link may reopen is decided by
:mod:`core.archive.uploads`.

A *scope* is a short hash of a logged-in user's OIDC issuer and subject
(:func:`user_scope`); :func:`scoped_key` folds it into ``Archive.key`` so
that everything saved per archive key (face names, trained models) is saved
per user.
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, Hashable, Sequence

__all__ = [
    "ARCHIVE_PARAM",
    "DEMO",
    "MAX_VALUE_CHARS",
    "MAX_VALUES",
    "token",
    "parse_choice",
    "parse_choices",
    "parse_flag",
    "parse_number",
    "user_scope",
    "scoped_key",
]

#: Query parameter naming the archive, and its value for the demo.
ARCHIVE_PARAM = "archive"
DEMO = "demo"
#: Longest single query value considered at all; longer ones are refused unread.
MAX_VALUE_CHARS = 200
#: Most repeated values read for one multi-choice parameter.
MAX_VALUES = 64

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def token(value: Any) -> str:
    """The text a value is written as in a link.

    Booleans are ``on``/``off``, whole floats lose their ``.0``, everything
    else is ``str(value)``.

    Examples
    --------
    >>> token(True), token(16), token(2.0), token(0.5), token("K-Means")
    ('on', '16', '2', '0.5', 'K-Means')
    """
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return f"{value:g}" if math.isfinite(value) else str(value)
    return str(value)


def _clean(raw: object) -> str | None:
    if not isinstance(raw, str) or len(raw) > MAX_VALUE_CHARS:
        return None
    return raw.strip()


def parse_choice(raw: object, options: Sequence[Hashable]) -> Any | None:
    """The option whose :func:`token` is ``raw``, else ``None``.

    Examples
    --------
    >>> parse_choice("16", [8, 16, 32]), parse_choice("<script>", [8, 16, 32])
    (16, None)
    """
    text = _clean(raw)
    if text is None:
        return None
    for option in options:
        if token(option) == text:
            return option
    return None


def parse_choices(raws: Sequence[object], options: Sequence[Hashable]) -> list | None:
    """Options named by repeated parameters (``?m=a&m=b``), in the options' order.

    A single empty value means the empty selection. Any unknown value, or
    more than :data:`MAX_VALUES` values, refuses the whole list (``None``).

    Examples
    --------
    >>> parse_choices(["greedy", "exact"], ["exact", "greedy", "lp"])
    ['exact', 'greedy']
    >>> parse_choices([""], ["exact"]), parse_choices(["exact", "rm -rf"], ["exact"])
    ([], None)
    """
    if len(raws) > MAX_VALUES:
        return None
    texts = [_clean(r) for r in raws]
    if any(t is None for t in texts):
        return None
    if texts in ([], [""]):
        return []
    by_token = {token(o): o for o in options}
    if any(t not in by_token for t in texts):
        return None
    wanted = set(texts)
    return [o for o in options if token(o) in wanted]


def parse_flag(raw: object) -> bool | None:
    """``on/off``, ``1/0``, ``true/false`` or ``yes/no`` (any case), else ``None``."""
    text = _clean(raw)
    if text is None:
        return None
    text = text.lower()
    return True if text in _TRUE else False if text in _FALSE else None


def parse_number(raw: object, low: float, high: float, *, integer: bool = False) -> int | float | None:
    """A finite number in ``[low, high]`` (a whole one if ``integer``), else ``None``.

    Examples
    --------
    >>> parse_number("30", 2, 50, integer=True), parse_number("1e9", 2, 50), parse_number("nan", 0, 1)
    (30, None, None)
    >>> parse_number("7.5", 2, 50, integer=True), parse_number("2.5", 0.0, 30.0)
    (None, 2.5)
    """
    text = _clean(raw)
    if not text or len(text) > 32:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value) or not low <= value <= high:
        return None
    if integer:
        return int(value) if value.is_integer() else None
    return value


# -- per-user scope ---------------------------------------------------------------------


def user_scope(issuer: object, subject: object) -> str | None:
    """A stable 24-hex-digit scope for an OIDC user, or ``None`` without a subject.

    The subject (``sub``) is unique only per issuer, so both are hashed.

    Examples
    --------
    >>> user_scope("https://id.example", "alice") == user_scope("https://id.example", "alice")
    True
    >>> user_scope("https://id.example", "alice") != user_scope("https://other.example", "alice")
    True
    >>> user_scope("https://id.example", None) is None
    True
    """
    if subject is None or str(subject) == "":
        return None
    return hashlib.sha256(f"{issuer or ''}\0{subject}".encode()).hexdigest()[:24]


def scoped_key(key: str, scope: str | None) -> str:
    """``Archive.key`` for one user: unchanged with login off.

    The result keeps to ``[A-Za-z0-9_-]`` so it stays a valid cache key.

    Examples
    --------
    >>> scoped_key("ab12", None), scoped_key("ab12", "ff00")
    ('ab12', 'ab12-uff00')
    """
    return f"{key}-u{scope}" if scope else key
