"""Plain-text tables and numbers for the commands' human-readable output."""

from __future__ import annotations

import math
from collections.abc import Sequence

__all__ = ["table", "count", "number"]


def number(value: object, digits: int = 0) -> str:
    """A count or an estimate for people to read; ``–`` when unknown.

    Examples
    --------
    >>> number(1234.4), number(float("nan")), number(None), number(0.256, 2)
    ('1,234', '–', '–', '0.26')
    """
    try:
        value = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return "–"
    return "–" if not math.isfinite(value) else f"{value:,.{digits}f}"


def count(n: int, word: str, plural: str | None = None) -> str:
    """``1 photo``, ``2 photos``.

    Examples
    --------
    >>> count(1, "photo"), count(3, "person", "people")
    ('1 photo', '3 people')
    """
    return f"{n} {word if n == 1 else (plural or word + 's')}"


def table(headers: Sequence[str], rows: Sequence[Sequence[object]], indent: str = "  ") -> str:
    """Rows as left-aligned columns under a header line.

    Examples
    --------
    >>> print(table(["id", "name"], [["p1", "Anna"], ["p12", "Bo"]]))
      id   name
      p1   Anna
      p12  Bo
    """
    cells = [[str(h) for h in headers]] + [[" ".join(str(c).split()) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    return "\n".join(indent + "  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in cells)
