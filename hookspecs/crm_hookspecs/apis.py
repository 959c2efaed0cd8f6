"""The API objects plugins offer each other through ``crm.plugin(name)``.

A plugin never imports another plugin: it asks the app for the other
plugin's API object and relies only on the protocol written here. These are
``typing.Protocol`` classes, for type checkers and for the documentation;
the providing plugin's object implements them (and may offer more).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any, Iterator, Protocol, Sequence, runtime_checkable

from crm_hookspecs.records import ContactCard, TimelineEntry

__all__ = ["ContactsAPI", "WarehouseAPI"]


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


@runtime_checkable
class WarehouseAPI(Protocol):
    """``crm.plugin("warehouse")``, as other plugins may use it.

    The warehouse keeps every delivered event; these calls read that history
    and the reporting tables it keeps current.
    """

    def contact_as_of(self, contact_id: int, when: _dt.date | _dt.datetime) -> dict[str, Any]:
        """The contact's fields as they were on a past date, rebuilt from its events.

        ``when`` is a date (meaning the end of that day in the app's time
        zone) or an aware datetime (that instant). The result maps field
        names to values, as ``ContactCreated.data`` and ``ContactChanged``
        set them, plus ``"id"`` and ``"kind"``. Raises
        ``crm_core.errors.NotFoundError`` when the contact did not exist yet
        at that time (or the warehouse holds no event creating it).
        """
        ...

    def timeline(
        self,
        contact_id: int,
        kinds: Sequence[str] | None = None,
        limit: int = 50,
        before: _dt.datetime | None = None,
    ) -> list[TimelineEntry]:
        """What happened to or around a contact, newest first.

        ``kinds`` keeps only entries of those kinds (see
        :class:`~crm_hookspecs.records.TimelineEntry`); ``before`` pages back
        from an instant (pass the last entry's ``occurred_at``).
        """
        ...

    def customers_without_won_sale_since(self, since: _dt.date) -> dict[int, _dt.date | None]:
        """Current customers with no sale won on or after ``since``.

        One set-based query over the reporting tables: contacts whose
        current status is ``customer`` (not deleted), mapped to the date of
        their last won sale (``None`` if they never won one), by contact id.
        Made for inactivity scans.
        """
        ...

    def reporting_tables(self) -> dict[str, str]:
        """The reporting tables' names: ``sales``, ``survey_answers``, ``survey_responses``,
        ``contact_status``, ``contact_changes``, ``events`` and ``event_contacts``.

        Their columns are documented on the warehouse's documentation page;
        reports query them with plain SQL.
        """
        ...
