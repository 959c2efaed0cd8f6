"""What the warehouse's desk pages share: the API, labels in the user's language, names, dates and money."""

from __future__ import annotations

import datetime as dt
import decimal
import functools
from collections.abc import Iterable
from typing import Any

import flask
from flask import g, request

from crm_core import i18n
from crm_core.errors import CRMError, NotFoundError
from crm_core.i18n import N_, ngettext
from crm_core.i18n import gettext as _

__all__ = [
    "KIND_LABELS",
    "STAGE_LABELS",
    "api",
    "back",
    "contact_names",
    "helpers",
    "initials",
    "is_htmx",
    "kind_label",
    "money",
    "owner_names",
    "percent",
    "stage_label",
]

#: the kinds of sales records, as the desk names them
KIND_LABELS = {
    "rfp": N_("Request for proposal"),
    "rfq": N_("Request for quotation"),
    "appointment": N_("Appointment"),
    "quote": N_("Quote"),
    "sale": N_("Sale"),
}
#: the default pipeline's stages; a configured stage not listed here is shown as it is written
STAGE_LABELS = {
    "new": N_("New"),
    "qualified": N_("Qualified"),
    "proposal": N_("Proposal"),
    "negotiation": N_("Negotiation"),
    "won": N_("Won"),
    "lost": N_("Lost"),
}


def api() -> Any:
    return g.crm.plugin("warehouse")


def kind_label(kind: str) -> str:
    label = KIND_LABELS.get(kind)
    return _(label) if label else kind


def stage_label(stage: str) -> str:
    label = STAGE_LABELS.get(stage)
    return _(label) if label else stage.replace("_", " ").capitalize()


def money(amount: decimal.Decimal | None, currency: str) -> str:
    """An amount in the user's language: 1.234,56 € in Spanish, €1,234.56 in English."""
    from babel.numbers import format_currency

    return str(format_currency(amount or 0, currency, locale=_locale(i18n.current_language())))


def percent(value: float) -> str:
    """A probability in the user's language: 75% in English, 75 % in Spanish."""
    from babel.numbers import format_percent

    return str(format_percent(value, locale=_locale(i18n.current_language())))


@functools.cache
def _locale(language: str) -> Any:
    """Babel's locale of ``language``, parsed once (a board formats hundreds of amounts)."""
    from babel import Locale

    return Locale.parse(language)


def initials(name: str | None) -> str:
    """ "María López" -> "ML"; "sergio" -> "S"; nobody -> "?"."""
    words = [w for w in (name or "").replace(".", " ").replace("_", " ").split() if w]
    return "".join(w[0] for w in words[:2]).upper() or "?"


def owner_names(crm: Any, owners: Iterable[str | None]) -> dict[str, str]:
    """User name -> display name, for the owners shown (one look-up per distinct owner, never per record)."""
    out: dict[str, str] = {}
    for name in sorted({o for o in owners if o}):
        try:
            user = crm.authz.users.get(name)
        except NotFoundError:  # an owner who is not a user (an imported name): shown as written
            out[name] = name
            continue
        out[name] = user.display_name or user.name
    return out


def contact_names(crm: Any, ids: Iterable[int | None]) -> dict[int, str]:
    """Contact id -> name for the contacts the user may see, in one call to the contacts plugin."""
    wanted = sorted({i for i in ids if i is not None})
    if not wanted or not crm.has_plugin("contacts"):
        return {}
    try:
        return {card.id: card.display_name for card in crm.plugin("contacts").cards(wanted)}
    except CRMError:  # the user may not read contacts: the records show the contact's number
        return {}


def in_stage_for(since: dt.datetime, now: dt.datetime) -> str:
    """How long a record has been in its stage, in days (or "since today"), in the user's language."""
    days = (now - since).days
    if days < 1:
        return _("in this stage since today")
    return ngettext("%(num)d day in this stage", "%(num)d days in this stage", days)


def is_htmx() -> bool:
    return request.headers.get("HX-Request") == "true"


def back(default: str) -> Any:
    """Redirect to ``next`` when it is a path inside the desk, else to ``default``."""
    target = request.form.get("next", "") or request.args.get("next", "")
    inside = request.script_root + "/"
    if not target.startswith(inside) or target.startswith("//") or "\\" in target:
        target = default
    return flask.redirect(target, 303)


def helpers() -> dict[str, Any]:
    """What the templates call: labels, money, initials."""
    return {
        "kind_label": kind_label,
        "stage_label": stage_label,
        "money": money,
        "percent": percent,
        "initials": initials,
        "here": lambda: request.full_path.rstrip("?"),
    }


def user_timezone(crm: Any) -> dt.tzinfo:
    """The signed-in user's time zone (their preference), else the app's."""
    import zoneinfo

    name = getattr(g.get("user"), "timezone", None)
    if name:
        try:
            return zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            pass
    tz: dt.tzinfo = crm.tz
    return tz


def user_today(crm: Any) -> dt.date:
    """Today in the signed-in user's time zone."""
    today: dt.date = crm.now().astimezone(user_timezone(crm)).date()
    return today
