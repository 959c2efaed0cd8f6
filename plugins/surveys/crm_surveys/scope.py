"""Which contacts the acting user may see answers of: their ``contacts.read`` scope, in SQL.

Survey answers and results are about contacts, so a user reaches the
invitations and responses of the contacts the contacts plugin lets them
read, and nothing else: a seller (scope ``own``) sees the answers of the
contacts they own and results computed over those answers only. The scope
is applied as ``contact_id IN (SELECT id FROM <the contacts reporting
table> WHERE <the user's scope on its owner column>)``, so counts, pages
and figures are right and no other contact's row is read.

The system (no user acting), a user whose ``contacts.read`` scope is
``all``, and an app without the contacts plugin see everything. A user who
may not read contacts at all reaches none. Invitations and responses of
an erased contact name no contact: only an unlimited user counts them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import peewee

from crm_core.storage import batched

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["READ", "ContactScope"]

#: the contacts plugin's permission whose scope decides which contacts a user reaches
READ = "contacts.read"
_NOTHING = peewee.SQL("1 = 0")
_PAGE = 1000


class ContactScope:
    """The acting user's reach over contacts, as SQL conditions on a ``contact_id`` column."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def limited(self) -> bool:
        """Whether the acting user reaches only some contacts (``own``/``team`` scope, or none)."""
        if self.crm.current_user is None or not self.crm.has_plugin("contacts"):
            return False
        return self.crm.authz.scope(READ) != "all"

    def _contacts(self) -> Any:
        from crm_hookspecs.apis import ContactsAPI

        contacts: ContactsAPI = self.crm.plugin("contacts")
        name = contacts.reporting_tables()["contacts"]
        return peewee.Table(name, ("id", "owner"))

    def condition(self, column: Any) -> Any:
        """A condition keeping the rows whose ``column`` (a contact id) is in scope; ``None``: keep all."""
        if not self.limited():
            return None
        if self.crm.authz.scope(READ) is None:
            return _NOTHING
        contacts = self._contacts()
        mine = contacts.select(contacts.id).where(self.crm.authz.where(READ, contacts.owner, owner_is="name"))
        return column.in_(mine)

    def restrict(self, query: Any, column: Any) -> Any:
        """``query`` limited to the rows whose ``column`` names a contact in scope."""
        condition = self.condition(column)
        return query if condition is None else query.where(condition)

    def reachable(self, contact_ids: Iterable[int]) -> set[int]:
        """The ids among ``contact_ids`` that are in scope (all of them when unlimited)."""
        ids = list(dict.fromkeys(contact_ids))
        if not self.limited():
            return set(ids)
        if self.crm.authz.scope(READ) is None:
            return set()
        contacts = self._contacts()
        found: set[int] = set()
        with self.crm.activate():
            for page in batched(ids, _PAGE):
                query = contacts.select(contacts.id).where(
                    contacts.id.in_(page) & self.crm.authz.where(READ, contacts.owner, owner_is="name")
                )
                found.update(row[0] for row in query.tuples().execute(self.crm.database))
        return found

    def require(self, contact_id: int | None) -> None:
        """Raise ``PermissionDenied`` unless the contact is in scope (an erased one, ``None``, is in nobody's)."""
        if not self.limited():
            return
        owner = None
        if contact_id is not None:
            contacts = self._contacts()
            with self.crm.activate():
                row = (
                    contacts.select(contacts.owner).where(contacts.id == contact_id).tuples().execute(self.crm.database)
                )
                owner = next(iter(row), (None,))[0]
        self.crm.authz.require(READ, record_owner=owner)
