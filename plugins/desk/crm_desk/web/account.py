"""The signed-in user's own account: language and time zone, password, two-factor sign-in."""

from __future__ import annotations

import zoneinfo
from typing import Any

import flask
from flask import g, request
from flask import session as cookie

from crm_core.errors import AuthenticationError, ValidationError
from crm_core.i18n import gettext as _
from crm_desk.web import session
from crm_desk.web.render import page

__all__ = ["register"]

#: the set-up secret, kept in the cookie between showing it and confirming a code
_SETUP = "totp_setup"


def register(blueprint: flask.Blueprint) -> None:
    """Add the account pages to the desk's blueprint."""
    blueprint.add_url_rule("/account", "account", account, methods=["GET", "POST"])
    blueprint.add_url_rule("/account/password", "password", password, methods=["GET", "POST"])
    blueprint.add_url_rule("/account/two-factor", "two_factor", two_factor, methods=["GET"])
    blueprint.add_url_rule("/account/two-factor/begin", "two_factor_begin", two_factor_begin, methods=["POST"])
    blueprint.add_url_rule("/account/two-factor/confirm", "two_factor_confirm", two_factor_confirm, methods=["POST"])
    blueprint.add_url_rule("/account/two-factor/disable", "two_factor_disable", two_factor_disable, methods=["POST"])


def _timezones() -> list[str]:
    return sorted(zoneinfo.available_timezones())


def account() -> Any:
    """The user's language and time zone."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        language = request.form.get("language", "")
        timezone = request.form.get("timezone", "").strip()
        if language not in flask.current_app.extensions["crm_desk_catalogs"].languages:
            errors["language"] = _("Choose one of the languages offered.")
        if timezone and timezone not in zoneinfo.available_timezones():
            errors["timezone"] = _("Choose a time zone from the list, such as Europe/Madrid.")
        if not errors:
            g.crm.authz.users.set_preferences(g.user.id, language=language, timezone=timezone or None)
            cookie["lang"] = language
            flask.flash(_("Your preferences are saved."), "success")
            return flask.redirect(flask.url_for("desk.account"))
    return page("desk/account.html", 400 if errors else 200, errors=errors, timezones=_timezones())


def password() -> Any:
    """Change the password (the current one first); the session is renewed, every other one ends."""
    errors: dict[str, str] = {}
    if request.method == "POST":
        new = request.form.get("new", "")
        if new != request.form.get("confirm", ""):
            errors["confirm"] = _("The two passwords differ.")
        else:
            try:
                g.crm.authz.users.change_password(g.user.id, request.form.get("current", ""), new)
            except AuthenticationError:
                errors["current"] = _("The current password is wrong.")
            except ValidationError as exc:
                errors["new"] = str(exc)
        if not errors:
            session.begin(g.crm.authz.sessions.create(g.user.id, address=request.remote_addr))
            flask.flash(_("Your password is changed; you were signed out everywhere else."), "success")
            return flask.redirect(flask.url_for("desk.account"))
    return page("desk/password.html", 400 if errors else 200, errors=errors)


def _two_factor_enabled() -> bool:
    return bool(g.crm.authz.users.get(g.user.id).two_factor)


def two_factor() -> Any:
    """Two-factor sign-in: on or off, and the way to turn it on (or off)."""
    return page("desk/two_factor.html", enabled=_two_factor_enabled(), setup=None, error=None, codes=None)


def two_factor_begin() -> Any:
    """Make a new secret and show it (and its ``otpauth://`` address) until the user confirms a code."""
    setup = g.crm.authz.sessions.begin_two_factor(g.user.id)
    cookie[_SETUP] = {"secret": setup.secret, "uri": setup.uri}
    return page("desk/two_factor.html", enabled=False, setup=cookie[_SETUP], error=None, codes=None)


def two_factor_confirm() -> Any:
    """Turn two-factor sign-in on with a code from the app; show the recovery codes once."""
    setup = cookie.get(_SETUP)
    if not isinstance(setup, dict):
        flask.flash(_("Start the set-up again."), "error")
        return flask.redirect(flask.url_for("desk.two_factor"))
    try:
        codes = g.crm.authz.sessions.confirm_two_factor(g.user.id, request.form.get("code", ""))
    except ValidationError:
        error = _("That code does not match. Check the app's clock and type the current code.")
        return page("desk/two_factor.html", 400, enabled=False, setup=setup, error=error, codes=None)
    cookie.pop(_SETUP, None)
    return page("desk/two_factor.html", enabled=True, setup=None, error=None, codes=codes)


def two_factor_disable() -> Any:
    """Turn two-factor sign-in off (after the user confirms the current password)."""
    try:
        g.crm.authz.users.verify_password(g.user.id, request.form.get("current", ""))
    except AuthenticationError:
        error = _("The current password is wrong.")
        return page("desk/two_factor.html", 400, enabled=True, setup=None, error=error, codes=None)
    g.crm.authz.sessions.disable_two_factor(g.user.id)
    flask.flash(_("Two-factor sign-in is off."), "success")
    return flask.redirect(flask.url_for("desk.two_factor"))
