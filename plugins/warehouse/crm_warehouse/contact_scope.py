"""Which contacts the acting user may see: the warehouse's per-contact data follows ``contacts.read``.

A contact's notes, documents, timeline, past fields and audit are the
contact's data as much as the address book's, so a user sees them only for
the contacts in their ``contacts.read`` scope. The scope is read from the
contacts plugin's reporting table (its ``id`` and ``owner`` columns, part of
the contract: ``docs/plugins/contacts.md`` "Reporting table"), so listings
filter in SQL. Without the contacts plugin, or for the system, every contact
is in scope.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from crm_core.errors import PermissionDenied

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ContactScope"]

_Q = TypeVar("_Q")

#: the contacts plugin's permission that decides which contacts a user sees
CONTACTS_READ = "contacts.read"


class ContactScope:
    """The acting user's ``contacts.read`` scope, as a check and as SQL."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def _table(self) -> Any:
        """The contacts reporting table, when a user acts, the contacts plugin is there and the scope is limited.

        A ``peewee.Table`` with its columns as attributes (``table.owner``),
        which peewee's type stubs do not know: hence ``Any``.
        """
        if self.crm.current_user is None or not self.crm.has_plugin("contacts"):
            return None
        if self.crm.authz.scope(CONTACTS_READ) == "all":
            return None
        import peewee

        # the contract's ContactsAPI.reporting_tables (since 1.1)
        name = self.crm.plugin("contacts").reporting_tables()["contacts"]
        return peewee.Table(name, ("id", "owner"))

    def where(self, contact_column: Any) -> Any | None:
        """An expression keeping the rows whose ``contact_column`` is a contact in scope; ``None``: every row.

        Raises ``PermissionDenied`` when the user does not hold ``contacts.read``.
        """
        table = self._table()
        if table is None:
            return None
        in_scope = self.crm.authz.where(CONTACTS_READ, table.owner, owner_is="name")
        return contact_column.in_(table.select(table.id).where(in_scope))

    def restrict(self, query: _Q, contact_column: Any) -> _Q:
        """``query`` limited to rows about contacts in scope (unchanged for the system)."""
        expr = self.where(contact_column)
        return query if expr is None else query.where(expr)  # type: ignore[attr-defined]

    def require(self, contact_id: int | None) -> None:
        """Raise ``PermissionDenied`` unless contact ``contact_id`` is in the acting user's ``contacts.read`` scope.

        A contact the address book does not hold (erased for good, or never
        there) is owned by nobody: only a user who sees every contact reaches it.
        """
        table = self._table()
        if table is None:
            return
        owner = None
        if contact_id is not None:
            with self.crm.activate():
                row = table.select(table.owner).where(table.id == contact_id).bind(self.crm.database).first()
            owner = row["owner"] if row else None
        try:
            self.crm.authz.require(CONTACTS_READ, record_owner=owner)
        except PermissionDenied as denied:
            raise PermissionDenied(f"{denied} (contact {contact_id})", CONTACTS_READ, record=denied.record) from None
