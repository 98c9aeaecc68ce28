"""Caption text helpers: hashtags and Instagram's mojibake."""

from __future__ import annotations

import re

__all__ = ["extract_hashtags", "fix_mojibake"]

# A hashtag is '#' followed by letters, digits, underscores or marks, in any
# script; Instagram ends it at punctuation and whitespace.
_HASHTAG = re.compile(r"(?<![\w&])#([^\W_][\w]*|_[\w]+)", re.UNICODE)


def extract_hashtags(caption: str | None) -> list[str]:
    """Return the hashtags of a caption, lower-cased, in order, without repeats.

    Examples
    --------
    >>> extract_hashtags("Sunset #Boston #boston #sky! &#39;x")
    ['boston', 'sky']
    """
    if not caption:
        return []
    seen: dict[str, None] = {}
    for tag in _HASHTAG.findall(caption):
        seen.setdefault(tag.lower(), None)
    return list(seen)


def fix_mojibake(text: str) -> str:
    """Repair UTF-8 text that was decoded as Latin-1 (Instagram's JSON exports).

    Text that is not mojibake is returned unchanged.

    Examples
    --------
    >>> fix_mojibake("caf\\u00c3\\u00a9 \\u00f0\\u009f\\u0099\\u0084")
    'café 🙄'
    >>> fix_mojibake("café")
    'café'
    """
    if not text or text.isascii():
        return text
    try:
        return text.encode("latin-1").decode("utf-8")
    except (UnicodeEncodeError, UnicodeDecodeError):
        return text
