"""One-click unsubscribe from the link in an e-mail: per list, or from everything, with no login.

``GET /unsubscribe/<token>`` shows whom the link is for (the address
masked) and a button for the list and one for everything; a POST does it.
A mail client's RFC 8058 one-click POST (``List-Unsubscribe=One-Click``)
unsubscribes at once, with no session: the signed link is the authority.
The link is not a GET that unsubscribes because mail scanners open every
link in a message. It never expires, and using it twice is harmless.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import g, request

from crm_portal.i18n import gettext as _
from crm_portal.links import LinkError
from crm_portal.web.app import set_language
from crm_portal.web.render import link_refused, page
from crm_portal.web.security import is_one_click_unsubscribe, rate_limit

__all__ = ["mask", "register"]


def register(blueprint: flask.Blueprint) -> None:
    blueprint.add_url_rule("/unsubscribe/<token>", "unsubscribe", unsubscribe_view, methods=["GET", "POST"])


def mask(address: str | None) -> str:
    """``ana.garcia@example.com`` → ``a…a@example.com``: enough for the owner to recognise it."""
    if not address or "@" not in address:
        return ""
    local, _sep, domain = address.partition("@")
    shown = local[0] + "…" + local[-1] if len(local) > 2 else local[0] + "…"
    return f"{shown}@{domain}"


def unsubscribe_view(token: str) -> Any:
    portal = g.portal
    try:
        target = portal.unsubscribe_target(token)
    except LinkError as exc:
        return link_refused(exc, "unsubscribe")
    set_language(target.language)
    if request.method == "GET":
        return page("portal/unsubscribe/confirm.html", target=target, email=mask(target.email), token=token)
    if is_one_click_unsubscribe():
        portal.unsubscribe(token)
        return flask.Response(_("You are unsubscribed.") + "\n", mimetype="text/plain")
    rate_limit("unsubscribe")
    action = request.form.get("action", "")
    if action == "resubscribe":
        portal.resubscribe(token)
        return page(
            "portal/unsubscribe/done.html",
            target=portal.unsubscribe_target(token),
            resubscribed=True,
            everything=False,
            changed=True,
            token=token,
        )
    if action not in ("list", "all"):
        flask.abort(400)
    everything = action == "all" or target.list_id is None
    changed = portal.unsubscribe(token, everything=everything)
    return page(
        "portal/unsubscribe/done.html",
        target=target,
        everything=everything,
        changed=changed,
        resubscribed=False,
        token=token,
    )
