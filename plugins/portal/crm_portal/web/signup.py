"""The public sign-up forms and their confirmation (double opt-in).

``/signup/<form>`` takes an address, optional names and the consent
checkbox; a filled honeypot field (invisible to people) is answered like a
success and nothing is kept. The sign-up is kept and its confirmation
e-mail queued; ``/signup/confirm/<token>`` shows what will be confirmed and
confirms it with one button (a button, not the link itself: mail scanners
open links, and a person must be the one who confirms).
"""

from __future__ import annotations

import logging
from typing import Any

import flask
from flask import g, request

from crm_core.errors import ValidationError
from crm_portal import fields as checks
from crm_portal.i18n import N_
from crm_portal.i18n import gettext as _
from crm_portal.links import LinkError
from crm_portal.signup import check_lists, language_of, text_for
from crm_portal.web.app import set_language
from crm_portal.web.render import error_page, link_refused, page
from crm_portal.web.security import client_ip, rate_limit, rate_limit_email

__all__ = ["HONEYPOT", "register"]

#: the trap field: hidden from people (and from screen readers), filled by bots
HONEYPOT = "website"
log = logging.getLogger("crm.portal")


def register(blueprint: flask.Blueprint) -> None:
    blueprint.add_url_rule("/signup", "signup_default", default_view)
    blueprint.add_url_rule("/signup/<name>", "signup", signup_view, methods=["GET", "POST"])
    blueprint.add_url_rule("/signup/<name>/sent", "signup_sent", sent_view)
    blueprint.add_url_rule("/signup/confirm/<token>", "signup_confirm", confirm_view, methods=["GET", "POST"])


def _form(name: str) -> Any:
    form = g.site.settings.form(name)
    if form is None:
        flask.abort(404)
    return form


def _texts(form: Any) -> dict[str, str]:
    default = g.site.settings.default_language
    return {
        "title": text_for(form.title, g.language, default),
        "consent": text_for(form.consent, g.language, default),
        "introduction": text_for(form.introduction, g.language, default) if form.introduction else "",
    }


def _unavailable(form: Any) -> Any | None:
    missing = check_lists(g.crm, form)
    if not missing:
        return None
    log.error(
        "portal: sign-up form %r names the mailing list %r, which does not exist; create it (crm contacts lists create) "
        "or fix [[plugins.portal.signup_forms]]",
        form.name,
        missing[0],
    )
    return error_page(
        503, _("Not available right now"), _("This form is not available at the moment. Please try again later.")
    )


def default_view() -> Any:
    forms = g.site.settings.signup_forms
    if not forms:
        flask.abort(404)
    return flask.redirect(flask.url_for("portal.signup", name=forms[0].name), code=302)


def signup_view(name: str) -> Any:
    form = _form(name)
    refused = _unavailable(form)
    if refused is not None:
        return refused
    if request.method == "GET":
        return _page(form, {})
    rate_limit("signup")
    shown_in = request.form.get("language", "")
    if shown_in in g.site.settings.languages and shown_in != g.language:
        # record the consent in the words the person read, whatever the browser says now
        g.explicit_language = shown_in
        set_language(None)
    values: dict[str, Any] = {key: request.form.get(key, "") for key in ("email", "first_name", "last_name")}
    values["consent"] = request.form.get("consent") == "yes"
    if request.form.get(HONEYPOT, ""):
        log.warning("portal: sign-up on %r from %s filled the honeypot; nothing kept", form.name, client_ip())
        return flask.redirect(flask.url_for("portal.signup_sent", name=form.name), code=303)
    problems: dict[str, tuple[str, dict[str, Any]]] = {}
    for key, problem in (
        ("email", checks.check_email(values["email"])),
        ("first_name", checks.check_line(values["first_name"], checks.MAX_NAME)),
        ("last_name", checks.check_line(values["last_name"], checks.MAX_NAME)),
    ):
        if problem is not None:
            problems[key] = problem
    if not values["consent"]:
        problems["consent"] = (N_("Tick the box to agree; without your consent we cannot sign you up."), {})
    if problems:
        return _page(form, values, problems, status=400)
    rate_limit_email("signup", values["email"])
    try:
        g.portal.request_signup(
            form.name,
            email=values["email"],
            first_name=values["first_name"] if form.ask_name else "",
            last_name=values["last_name"] if form.ask_name else "",
            language=g.language,
            ip=client_ip(),
        )
    except ValidationError as exc:
        log.info("portal: sign-up refused: %s", exc)
        return _page(form, values, {"email": (N_("Enter an e-mail address such as name@example.com."), {})}, status=400)
    return flask.redirect(flask.url_for("portal.signup_sent", name=form.name), code=303)


def _page(form: Any, values: dict[str, Any], problems: dict[str, Any] | None = None, status: int = 200) -> Any:
    messages = {key: _(text, **params) for key, (text, params) in (problems or {}).items()}
    return page(
        "portal/signup/form.html",
        status=status,
        form=form,
        texts=_texts(form),
        values=values,
        problems=messages,
        honeypot=HONEYPOT,
        max_name=checks.MAX_NAME,
        max_email=checks.MAX_EMAIL,
    )


def sent_view(name: str) -> Any:
    form = _form(name)
    return page("portal/signup/sent.html", form=form, texts=_texts(form))


def confirm_view(token: str) -> Any:
    portal = g.portal
    try:
        pending = portal.pending_signup(token)
    except LinkError as exc:
        # refused (expired, used…), still in the language of the sign-up it was made for
        set_language(language_of(g.crm, g.site, token))
        return link_refused(exc, "signup")
    set_language(pending.language)
    form = g.site.settings.form(pending.form)
    if form is None:
        return link_refused(_gone(), "signup")
    if request.method == "GET":
        return page("portal/signup/confirm.html", pending=pending, texts=_texts(form), token=token)
    try:
        confirmed = portal.confirm_signup(token)
    except LinkError as exc:
        return link_refused(exc, "signup")
    except ValidationError:
        refused = _unavailable(form)
        if refused is not None:
            return refused
        raise
    return page("portal/signup/confirmed.html", confirmed=confirmed, texts=_texts(form), email=pending.email)


def _gone() -> LinkError:
    from crm_portal.links import UnknownLinkError

    return UnknownLinkError("the sign-up form is no longer offered")
