"""The API objects plugins offer each other through ``crm.plugin(name)``.

A plugin never imports another plugin: it asks the app for the other
plugin's API object and relies only on the protocol written here. These are
``typing.Protocol`` classes, for type checkers and for the documentation;
the providing plugin's object implements them (and may offer more).
"""

from __future__ import annotations

from typing import Iterator, Protocol, Sequence, runtime_checkable

from crm_hookspecs.records import ContactCard

__all__ = ["ContactsAPI"]


@runtime_checkable
class ContactsAPI(Protocol):
    """``crm.plugin("contacts")``, as other plugins may use it."""

    def card(self, contact_id: int) -> ContactCard:
        """One contact; raises ``crm_core.errors.NotFoundError`` if there is none."""
        ...

    def cards(self, contact_ids: Sequence[int]) -> list[ContactCard]:
        """Many contacts at once (one query), in the order asked; unknown ids are left out."""
        ...

    def audience(self, source: str, medium: str = "email") -> Iterator[ContactCard]:
        """The contacts a mailing goes to.

        ``source`` names a static mailing list or a saved segment.
        ``medium`` is ``"email"`` (contacts with an e-mail address) or
        ``"post"`` (contacts with a postal address). Deleted contacts,
        do-not-contact contacts and those unsubscribed from the list are
        left out; :meth:`audience_report` counts them.
        """
        ...

    def audience_report(self, source: str, medium: str = "email") -> dict[str, int]:
        """Counts for :meth:`audience`: ``included``, ``do_not_contact``, ``unsubscribed``, ``no_address``."""
        ...
