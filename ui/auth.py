"""Optional login (OpenID Connect through ``st.login``) and the per-user scope.

With an ``[auth]`` section in ``.streamlit/secrets.toml`` (see
``.streamlit/secrets.toml.example``), :func:`require_login` shows a login
screen and stops the run until the visitor has logged in. Every user then
gets a scope (:func:`core.links.user_scope`, a hash of the OIDC issuer and
subject) that :mod:`ui.state` folds into ``Archive.key``: face names,
trained models and anything else saved per archive key are saved per user,
and an uploaded archive can be opened by link only by the user who
uploaded it. Without ``[auth]`` the app runs open, as before, and
:func:`current_scope` is ``None``.
"""

from __future__ import annotations

import streamlit as st

from core.links import user_scope

__all__ = ["login_configured", "require_login", "current_scope", "account_box"]


def login_configured() -> bool:
    """Whether ``[auth]`` is set in the app's secrets."""
    try:
        return bool(st.secrets.load_if_toml_exists() and "auth" in st.secrets)
    except Exception:  # noqa: BLE001 - unreadable secrets mean no login, never a crash
        return False


def current_scope() -> str | None:
    """The logged-in user's scope, or ``None`` when login is off.

    With login on and no usable identity (logged out during this run, or no
    ``sub`` claim) the run stops here: nothing may be read or saved without
    a scope.
    """
    if not login_configured():
        return None
    scope = user_scope(st.user.get("iss"), st.user.get("sub")) if st.user.is_logged_in else None
    if scope is None:
        st.stop()
    return scope


def require_login() -> None:
    """With login configured, show a login screen and stop until the user is logged in."""
    if not login_configured():
        return
    if st.user.is_logged_in:
        if user_scope(st.user.get("iss"), st.user.get("sub")) is not None:
            return
        st.error("Your identity provider sent no user id (the OIDC `sub` claim), so your data cannot be kept "
                 "apart from other users'. Ask the server's administrator.")
        if st.button("Log out", key="auth_logout_nosub"):
            st.logout()
        st.stop()
    st.title("Feedlens")
    st.write("This Feedlens server keeps each user's archives, face names and trained models apart, "
             "so it asks who you are first.")
    if st.button("Log in", type="primary", icon=":material/login:", key="auth_login"):
        st.login()
    st.caption("After logging in you land on the Archive page; open a shared link again to go to its view.")
    st.stop()


def account_box() -> None:
    """Sidebar lines naming the logged-in user, with a log-out button (nothing when login is off)."""
    if not login_configured() or not st.user.is_logged_in:
        return
    who = st.user.get("email") or st.user.get("name") or st.user.get("sub") or "signed in"
    with st.sidebar:
        st.text(f"Signed in as {who}")
        if st.button("Log out", key="auth_logout", icon=":material/logout:"):
            st.logout()
            st.stop()
