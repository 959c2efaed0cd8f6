"""The desk's e-mails: the forgotten-password link, queued in the kernel's mail queue."""

from __future__ import annotations

from typing import TYPE_CHECKING

import flask

from crm_core.i18n import gettext as _

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["send_reset_link"]


def send_reset_link(crm: CRM, login: str, address: str | None) -> bool:
    """Queue a reset link for the user named ``login`` (or with that e-mail); False when none is sent.

    The link is on ``plugins.desk.base_url`` (never the request's Host
    header, which a client chooses) and works for
    ``plugins.desk.reset_link_minutes``; the mail is in the user's language.
    """
    settings = crm.settings("desk")
    issued = crm.authz.resets.issue(login, minutes=settings.reset_link_minutes, address=address)
    if issued is None:
        return False
    user = issued.user
    catalogs = flask.current_app.extensions["crm_desk_catalogs"]
    with catalogs.use(catalogs.choose(user.language, settings.default_language)):
        subject = _("Choose a new password for %(site)s", site=settings.site_name)
        text = _(
            "Hello %(name)s,\n\n"
            "someone (we hope you) asked to choose a new password for your account %(user)s.\n"
            "Open this link within %(minutes)d minutes to choose it; it works once:\n\n"
            "%(link)s\n\n"
            "If you did not ask for it, ignore this message: your password stays as it is.\n",
            name=user.display_name or user.name,
            user=user.name,
            minutes=settings.reset_link_minutes,
            link=settings.root_url + "/reset/" + issued.token,
        )
    with crm.transaction():
        crm.mail.queue(user.email or "", subject, text)
    return True
