"""Sidebar source "Instagram API": a professional account's own posts, fetched with its access token.

The token is typed into a password field (or read from ``instagram_token``
in ``.streamlit/secrets.toml``); it is passed to the core connector and is
never drawn, put in the URL, written to the cache or included in a message.
After an import the field gets a new key, so the token does not linger in
the session either. When the token expires mid-run (or a rate limit lasts),
what was fetched is opened anyway and the sidebar says what to do.
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from core.archive.catalogue import Archive, load_folder
from core.archive.instagram_api import MANIFEST, FetchRequest, InstagramApiError, fetch_instagram
from core.jobs import Progress, stage_progress
from ui.flash import flash
from ui.text import md

__all__ = ["instagram_source"]

_SECRET = "instagram_token"
_HELP = ("A long-lived token of the Instagram API with Instagram Login (permission instagram_business_basic; "
         "instagram_business_manage_insights for insights), from your Meta app's dashboard. Professional "
         "(business or creator) accounts only. It is used for this import and not kept.")


def _secret_token() -> str | None:
    try:
        token = st.secrets.get(_SECRET)
    except Exception:  # noqa: BLE001 - no secrets.toml at all (Streamlit raises its own error type)
        return None
    return str(token).strip() or None if token else None


def _fetch_and_open(request: FetchRequest, progress: Progress) -> Archive:
    """Fetch, then open the folder; after an API error, open what was fetched and flash why it stopped."""
    try:
        fetched = fetch_instagram(request, progress=stage_progress(progress, 0, 2, "fetch", unit="posts"))
        kept, stopped = fetched, None
    except InstagramApiError as exc:
        if exc.result is None or not (exc.result.folder / MANIFEST).is_file():
            raise
        kept, stopped = exc.result, exc
    archive = load_folder(kept.folder, name=f"Instagram API @{kept.account}",
                          progress=stage_progress(progress, 1, 2, "import"))
    if stopped is not None:
        flash("sidebar", f"The fetch stopped early; the {archive.n_posts} posts fetched so far are open. "
                         f"{md(str(stopped))}", "warning")
    return archive


def instagram_source(key_suffix: int) -> tuple[str, Callable[[Progress], Archive]] | None:
    """Draw the token field and options; when the user presses Fetch, ``(label, job)`` for the import.

    ``key_suffix`` changes after each import, giving the token field a new
    (empty) widget.
    """
    secret = _secret_token()
    if secret:
        st.caption(":material/key: Using the token from the server's secrets (`instagram_token`).")
        token = secret
    else:
        token = st.text_input("Access token (professional account)", type="password", help=_HELP,
                              key=f"instagram_token_{key_suffix}", autocomplete="off")
    insights = st.checkbox("Also fetch insights (reach, saves, shares, views)", key="instagram_insights")
    st.caption("Official API only. Images are kept in this server's cache; a new fetch downloads only new posts.")
    if not token or not st.button("Fetch posts", type="primary", key="import_instagram"):
        return None
    request = FetchRequest(token=token.strip(), insights=insights)
    return "the Instagram API", lambda progress: _fetch_and_open(request, progress)
