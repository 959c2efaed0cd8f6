"""Choosing a contact by name in a form ("New deal"): type, then pick from the matches.

The field ``contact_query`` takes a name (or part of one), an e-mail
address or a phone number; the matches are the contacts plugin's
``search`` (the contract's ``ContactsAPI``) as the signed-in user, so only
contacts in their ``contacts.read`` scope are offered, each a radio button
``contact_id``. With JavaScript, htmx asks :func:`matches` as the user types
and swaps the list in; without it, saving the form does the same: a name
that matches one contact chooses it, several bring the form back with
them to choose from, none says so beside the field. A contact's number
(``42`` or ``#42``) is taken as it is, as before.
"""

from __future__ import annotations

from typing import Any

import attrs
import flask
from flask import g, request

from crm_core.errors import CRMError, NotFoundError
from crm_core.i18n import gettext as _

__all__ = ["MATCHES", "Pick", "matches", "pick", "picked"]

#: the most matches offered at once (more: the user types more of the name)
MATCHES = 8
#: the longest text searched for
LONGEST = 100


@attrs.frozen
class Pick:
    """What the picker shows and what it chose: the text typed, the matches offered, the contact chosen, a problem."""

    query: str = ""
    matches: tuple[Any, ...] = ()
    more: bool = False
    chosen: int | None = None
    error: str | None = None


def _search(query: str) -> tuple[list[Any], bool]:
    """The contacts in the user's scope matching ``query``, and whether more match than are shown."""
    found = g.crm.plugin("contacts").search(query, limit=MATCHES, count=False)
    return list(found.cards), bool(found.has_more)


def _number(text: str) -> int | None:
    digits = text.strip().removeprefix("#")
    return int(digits) if digits.isdigit() and 0 < int(digits) < 2**63 else None


def picked(contact_id: int) -> Pick:
    """The picker with one contact chosen (a deal made from the contact's card, a form sent back)."""
    try:
        card = g.crm.plugin("contacts").card(contact_id)
    except (NotFoundError, CRMError):
        return Pick(query=str(contact_id))
    return Pick(query=card.display_name, matches=(card,), chosen=card.id)


def pick(source: Any) -> Pick:
    """Read the picker's fields from ``source`` (the form, or the query string) and resolve the contact."""
    query = source.get("contact_query", "").strip()[:LONGEST]
    chosen = source.get("contact_id", "").strip()
    if chosen.isdigit():
        found = picked(int(chosen))
        if found.chosen is not None:
            return attrs.evolve(found, query=query or found.query)
        return Pick(query=query or chosen, chosen=int(chosen))  # the deal's API says it does not exist
    if not query:
        return Pick(error=_("Type the contact's name and choose them from the matches: a deal is always someone's."))
    number = _number(query)
    if number is not None:
        found = picked(number)
        return found if found.chosen is not None else Pick(query=query, chosen=number)
    cards, more = _search(query)
    if len(cards) == 1 and not more:
        return Pick(query=query, matches=tuple(cards), chosen=cards[0].id)
    if not cards:
        return Pick(query=query, error=_("No contact you may see matches “%(query)s”: check the spelling, or add "
                                         "the contact first.", query=query))  # fmt: skip
    return Pick(
        query=query,
        matches=tuple(cards),
        more=more,
        error=_("Several contacts match “%(query)s”: choose one.", query=query),
    )


def matches() -> Any:
    """The matches of what was typed so far (htmx swaps them under the field), the chosen one kept ticked."""
    g.crm.authz.require("warehouse.sales.create")
    query = request.args.get("contact_query", "").strip()[:LONGEST]
    chosen = request.args.get("contact_id", "").strip()
    found = Pick(query=query)
    if query:
        number = _number(query)
        if number is not None:
            found = picked(number)
        else:
            cards, more = _search(query)
            only = cards[0].id if len(cards) == 1 and not more else None
            found = Pick(query=query, matches=tuple(cards), more=more, chosen=only)
    if chosen.isdigit() and any(card.id == int(chosen) for card in found.matches):
        found = attrs.evolve(found, chosen=int(chosen))
    return flask.render_template("warehouse/_contact_matches.html", picker=found)
