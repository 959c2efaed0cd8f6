"""Unsubscribe links and what they do: made for a contact or a batch of bulk mail, read, used.

The service checks no permission: :class:`crm_portal.api.PortalAPI` does,
before it delegates. It calls the contacts plugin only through the
contract (``MailingListsAPI``, ``ContactsAPI``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_hookspecs.apis import ContactsAPI, MailingListsAPI
from crm_portal import links

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_portal.site import Site

__all__ = ["UnsubscribeTarget", "Unsubscriptions"]


@attrs.frozen
class UnsubscribeTarget:
    """What an unsubscribe link names: a contact, and a list (``None``: everything)."""

    contact_id: int
    display_name: str
    email: str | None
    language: str | None
    do_not_contact: bool
    list_id: int | None
    #: the list's name; ``None`` for a link for everything, or a list deleted since
    list_name: str | None
    list_description: str = ""

    @property
    def list_gone(self) -> bool:
        return self.list_id is not None and self.list_name is None


class Unsubscriptions:
    """Signed one-click unsubscribe links, and unsubscribing (or subscribing again) with one."""

    def __init__(self, crm: CRM, site: Site) -> None:
        self.crm = crm
        self.site = site

    def list_id(self, list_name: str | None) -> int | None:
        """The id of mailing list ``list_name`` (``None`` for everything); ``NotFoundError`` naming the fix."""
        if list_name is None:
            return None
        for info in self.crm.plugin("contacts", MailingListsAPI).lists():  # type: ignore[type-abstract]
            if info.name == list_name:
                return info.id
        raise NotFoundError(f"no mailing list named {list_name!r}; see 'crm contacts lists list'")

    def url(self, contact_id: int, list_name: str | None = None) -> str:
        """A contact's unsubscribe link (the contact is not looked up: the caller did)."""
        return self.urls([contact_id], list_name)[0]

    def urls(self, contact_ids: Sequence[int], list_name: str | None = None) -> list[str]:
        """One unsubscribe link per contact; a list that does not exist is a ``NotFoundError``."""
        list_id = self.list_id(list_name)
        key, site = self.site.key, self.site
        return [site.url("unsubscribe/" + links.make_unsubscribe_token(key, int(c), list_id)) for c in contact_ids]

    def target(self, token: str) -> UnsubscribeTarget:
        """Check an unsubscribe token and say whom and what it names.

        Raises :class:`~crm_portal.links.ForgedLinkError` (403) or
        :class:`~crm_portal.links.UnknownLinkError` (404: the contact is gone).
        """
        contact_id, list_id = links.read_unsubscribe_token(self.site.key, token, self.site.legacy_key)
        cards = self.crm.plugin("contacts", ContactsAPI).cards([contact_id])  # type: ignore[type-abstract]
        if not cards or cards[0].deleted:
            raise links.UnknownLinkError("this link's contact no longer exists here")
        card = cards[0]
        name, description = None, ""
        if list_id is not None:
            lists = self.crm.plugin("contacts", MailingListsAPI).lists()  # type: ignore[type-abstract]
            found = next((info for info in lists if info.id == list_id), None)
            if found is not None:
                name, description = found.name, found.description
        return UnsubscribeTarget(
            contact_id=card.id,
            display_name=card.display_name,
            email=card.email,
            language=card.language,
            do_not_contact=card.do_not_contact,
            list_id=list_id,
            list_name=name,
            list_description=description,
        )

    def unsubscribe(self, token: str, everything: bool = False) -> bool:
        """Unsubscribe the link's contact from its list, or from all mail; ``False`` when it was already so."""
        target = self.target(token)
        contacts = self.crm.plugin("contacts", MailingListsAPI)  # type: ignore[type-abstract]
        if everything or target.list_id is None:
            return contacts.unsubscribe(target.contact_id, None, channel="self-service")
        if target.list_name is None:
            return False  # the list was deleted: nothing is sent from it any more
        try:
            return contacts.unsubscribe(target.contact_id, target.list_name, channel="self-service")
        except ValidationError:
            return False  # not (or no longer) on the list: he gets nothing from it

    def resubscribe(self, token: str) -> bool:
        """Undo a per-list unsubscribe made with this link (the person changed his mind)."""
        target = self.target(token)
        if target.list_name is None:
            return False
        return self.crm.plugin("contacts", MailingListsAPI).resubscribe(target.contact_id, target.list_name)  # type: ignore[type-abstract]
