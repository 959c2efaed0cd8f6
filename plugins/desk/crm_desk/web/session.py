"""Who is signed in: the kernel session named by the desk's cookie, the acting user, and the request's language.

The cookie (``crm_desk``, signed, HttpOnly, SameSite=Lax, Secure over
HTTPS) holds the kernel session key, the CSRF token and, before sign-in,
the chosen language. Signing in starts from an empty cookie and a new
kernel session (:func:`begin`), so a session set up by someone else before
sign-in (session fixation) is never the one that gets signed in.
"""

from __future__ import annotations

import contextlib
from typing import Any
from urllib.parse import urlsplit

import flask
from flask import g, request, session

from crm_core import i18n
from crm_core.errors import AuthenticationError

__all__ = ["PUBLIC_ENDPOINTS", "begin", "end", "load_user", "release", "safe_next", "set_language"]

#: pages a visitor who is not signed in may open
PUBLIC_ENDPOINTS = frozenset(
    {"desk.signin", "desk.signin_code", "desk.forgot", "desk.reset", "desk.language", "desk_assets.asset"}
)
_KEY = "sid"


def load_user() -> Any:
    """Find the signed-in user and act as them for the request; redirect to sign-in from a page that needs one."""
    crm = g.crm
    g.user = None
    g._acting = contextlib.ExitStack()
    key = session.get(_KEY)
    if isinstance(key, str):
        try:
            g.user = g._acting.enter_context(crm.authz.as_session(key))
        except AuthenticationError:
            session.pop(_KEY, None)  # ended, expired, idle or disabled: sign in again
    set_language()
    if g.user is None and request.endpoint not in PUBLIC_ENDPOINTS and request.endpoint is not None:
        return flask.redirect(flask.url_for("desk.signin", next=request.full_path.rstrip("?")))
    return None


def release() -> None:
    """Stop acting as the user and restore the language (the request's teardown)."""
    acting = g.pop("_acting", None)
    if acting is not None:
        acting.close()
    token = g.pop("_language_token", None)
    if token is not None:
        i18n.reset_current(token)


def begin(session_key: str) -> None:
    """Signed in: a fresh cookie (new CSRF token, nothing from before) holding the new kernel session."""
    language = session.get("lang")
    session.clear()
    session[_KEY] = session_key
    if isinstance(language, str):
        session["lang"] = language


def end() -> None:
    """Sign out: end the kernel session and empty the cookie."""
    key = session.get(_KEY)
    if isinstance(key, str):
        g.crm.authz.sessions.end(key)
    session.clear()


def set_language() -> str:
    """The request's language: the user's, else the one chosen here, else the browser's, else the default."""
    catalogs = flask.current_app.extensions["crm_desk_catalogs"]
    user = g.get("user")
    chosen = session.get("lang") if isinstance(session.get("lang"), str) else None
    browser = [value for value, _quality in request.accept_languages]
    language: str = catalogs.choose(user.language if user else None, chosen, browser)
    # on a plugin's page its own catalog comes first (a text two catalogs say differently is said its way)
    first = flask.current_app.extensions.get("crm_desk_blueprint_catalogs", {}).get(request.blueprint)
    token = i18n.set_current(language, catalogs.translations(language, first))
    if "_language_token" not in g:
        g._language_token = token  # the first one restores the language after the request
    g.language = language
    return language


def safe_next(target: str | None) -> str:
    """Where to go after sign-in: a path inside the desk, never another site."""
    home = flask.url_for("desk.home")
    if not target:
        return home
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return home
    return (request.script_root or "") + target  # ``next`` is a path below the mount point
