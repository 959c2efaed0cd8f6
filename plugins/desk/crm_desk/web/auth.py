"""Signing in (with the two-factor prompt), signing out, a forgotten password, and the language before sign-in."""

from __future__ import annotations

from typing import Any

import flask
from flask import g, request
from flask import session as cookie

from crm_core.errors import AuthenticationError, TwoFactorRequired, ValidationError
from crm_core.i18n import gettext as _
from crm_core.signing import LinkError
from crm_desk.web import session
from crm_desk.web.render import page

__all__ = ["register"]

_PENDING = "signin_pending"


def register(blueprint: flask.Blueprint) -> None:
    """Add the sign-in pages to the desk's blueprint."""
    blueprint.add_url_rule("/signin", "signin", signin, methods=["GET", "POST"])
    blueprint.add_url_rule("/signin/code", "signin_code", signin_code, methods=["GET", "POST"])
    blueprint.add_url_rule("/signout", "signout", signout, methods=["POST"])
    blueprint.add_url_rule("/forgot", "forgot", forgot, methods=["GET", "POST"])
    blueprint.add_url_rule("/reset/<token>", "reset", reset, methods=["GET", "POST"])
    blueprint.add_url_rule("/language", "language", language, methods=["POST"])


def _refusal(exc: AuthenticationError) -> tuple[str, int]:
    """What a refused sign-in tells the person (the same for an unknown name and a wrong password)."""
    if exc.code == "signin_throttled":
        return _("Too many failed sign-ins. Wait a few minutes and try again."), 429
    if exc.code == "user_disabled":
        return _("This user is disabled; ask an administrator."), 403
    if exc.code == "invalid_otp":
        return _("That code is wrong or was already used. Type the current code from your app."), 401
    return _("Wrong user name or password."), 401


def signin() -> Any:
    """The sign-in form; a right password starts a new session (or asks for the two-factor code)."""
    if g.user is not None:
        return flask.redirect(flask.url_for("desk.home"))
    next_path = request.values.get("next", "")
    if request.method == "GET":
        return page("desk/signin.html", name="", next=next_path, error=None)
    name = request.form.get("name", "").strip()
    try:
        result = g.crm.authz.sessions.sign_in(name, request.form.get("password", ""), address=request.remote_addr)
    except TwoFactorRequired as exc:
        cookie[_PENDING] = {"ticket": exc.ticket, "next": next_path}
        return flask.redirect(flask.url_for("desk.signin_code"))
    except AuthenticationError as exc:
        message, status = _refusal(exc)
        return page("desk/signin.html", status, name=name, next=next_path, error=message)
    session.begin(result.session_key)
    return flask.redirect(session.safe_next(next_path))


def signin_code() -> Any:
    """The two-factor prompt: a code from the authenticator app (or a recovery code) finishes the sign-in."""
    pending = cookie.get(_PENDING)
    if not isinstance(pending, dict) or not isinstance(pending.get("ticket"), str):
        flask.flash(_("Sign in with your user name and password first."), "info")
        return flask.redirect(flask.url_for("desk.signin"))
    if request.method == "GET":
        return page("desk/signin_code.html", error=None)
    try:
        result = g.crm.authz.sessions.sign_in_with_ticket(
            pending["ticket"], request.form.get("code", ""), address=request.remote_addr
        )
    except AuthenticationError as exc:
        if exc.code == "invalid_credentials":  # the ticket expired or the password changed
            cookie.pop(_PENDING, None)
            flask.flash(_("The sign-in took too long; sign in again."), "error")
            return flask.redirect(flask.url_for("desk.signin"))
        message, status = _refusal(exc)
        return page("desk/signin_code.html", status, error=message)
    session.begin(result.session_key)
    return flask.redirect(session.safe_next(pending.get("next")))


def signout() -> Any:
    """End the session and go back to the sign-in page."""
    session.end()
    flask.flash(_("You have signed out."), "success")
    return flask.redirect(flask.url_for("desk.signin"))


def forgot() -> Any:
    """Ask for a reset link by user name or e-mail; the answer is the same whether or not the account exists."""
    if request.method == "GET":
        return page("desk/forgot.html")
    login = request.form.get("login", "").strip()
    if login:
        from crm_desk.mails import send_reset_link

        send_reset_link(g.crm, login, request.remote_addr)
    flask.flash(
        _("If that account exists and has an e-mail address, a link to choose a new password is on its way."),
        "success",
    )
    return flask.redirect(flask.url_for("desk.signin"))


def reset(token: str) -> Any:
    """Choose a new password through a reset link (which then stops working)."""
    resets = g.crm.authz.resets
    try:
        user = resets.check(token)
    except LinkError as exc:
        return page("desk/error.html", exc.http_status, code=exc.http_status, message=_link_message(exc), detail=None)
    if request.method == "GET":
        return page("desk/reset.html", token=token, reset_user=user, error=None)
    password = request.form.get("password", "")
    if password != request.form.get("confirm", ""):
        return page("desk/reset.html", 400, token=token, reset_user=user, error=_("The two passwords differ."))
    try:
        resets.redeem(token, password, address=request.remote_addr)
    except ValidationError as exc:
        return page("desk/reset.html", 400, token=token, reset_user=user, error=str(exc))
    flask.flash(_("Your password is changed. Sign in with it."), "success")
    return flask.redirect(flask.url_for("desk.signin"))


def _link_message(exc: LinkError) -> str:
    if exc.code == "expired":
        return _("This link has expired. Ask for a new one on the sign-in page.")
    if exc.code == "used":
        return _("This link was already used. Ask for a new one on the sign-in page.")
    return _("This link is not valid. Open the whole link from the e-mail, or ask for a new one.")


def language() -> Any:
    """Switch the language: remembered in the cookie, and in the user's preferences when signed in."""
    chosen = request.form.get("language", "")
    catalogs = flask.current_app.extensions["crm_desk_catalogs"]
    if chosen in catalogs.languages:
        cookie["lang"] = chosen
        if g.user is not None:
            g.crm.authz.users.set_preferences(g.user.id, language=chosen)
    return flask.redirect(session.safe_next(request.form.get("next")))
