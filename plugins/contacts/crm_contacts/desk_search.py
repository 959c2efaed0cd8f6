"""The contacts plugin's answer to the desk's search box (``crm_desk_search``): contacts by name, e-mail or phone.

Searches through :class:`~crm_contacts.api.ContactsAPI` as the signed-in
user, so the user's scope applies (a salesperson finds their own
customers only); a user who may not read contacts finds none. Imports
neither Flask nor the desk: each result names the card's endpoint.
"""

from __future__ import annotations

from typing import Any

from crm_core.i18n import N_
from crm_hookspecs.records import DeskSearchResult

__all__ = ["KIND", "search"]

#: the heading the desk groups these results under (translated by the plugin's desk catalog)
KIND = N_("Contacts")


def search(crm: Any, query: str, limit: int) -> list[DeskSearchResult]:
    """Up to ``limit`` contacts matching ``query`` (part of a name, an e-mail address, a phone number), best first."""
    if not crm.authz.can("contacts.read"):
        return []
    page = crm.plugin("contacts").search(query, limit=limit, sort="name")
    return [
        DeskSearchResult(
            kind=KIND,
            title=card.display_name or f"#{card.id}",
            subtitle=" · ".join(part for part in (card.organization_name, card.email, card.phone) if part),
            endpoint="contacts.card",
            args={"contact_id": card.id},
        )
        for card in page.cards
    ]
