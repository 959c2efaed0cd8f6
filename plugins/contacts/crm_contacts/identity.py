"""This database's identity, and contact ids that carry it.

Each database gets a random UUID once (migration ``0003_database_identity``).
Exports write a contact's id as ``crm:<database uuid>:<contact id>``: the CSV
``id`` column and the vCard ``UID``. An import matches on such an id only
when its UUID is this database's own, so a file exported by another CRM (or
by another database of this one) can never be matched to unrelated contacts
that happen to have the same number: its rows are matched on their other
keys (see :mod:`crm_contacts.matching`).
"""

from __future__ import annotations

import re
import uuid
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ContactRef", "database_id", "format_id", "parse_id"]

_PREFIX = "crm:"
_ID = re.compile(r"^crm:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}):([1-9][0-9]{0,18})$")


@attrs.frozen
class ContactRef:
    """A contact id read from a file: the database it names and the contact's number there."""

    database: str
    contact_id: int


def format_id(database: str, contact_id: int) -> str:
    """``crm:<database uuid>:<contact id>``, the id an export writes."""
    return f"{_PREFIX}{database}:{contact_id}"


def parse_id(text: str) -> ContactRef | None:
    """The :class:`ContactRef` in ``text``, or ``None`` when it is not an id an export of this CRM wrote.

    A bare number (an export made before databases had an identity, or
    another system's id) gives ``None``: nothing says which database it
    belongs to.
    """
    match = _ID.match(text.strip().lower())
    if match is None:
        return None
    return ContactRef(match[1], int(match[2]))


def database_id(crm: CRM) -> str:
    """This database's UUID (made by the contacts plugin's migration 0003)."""
    from crm_contacts.models import DatabaseIdentity

    with crm.activate():
        row = DatabaseIdentity.select(DatabaseIdentity.uuid).order_by(DatabaseIdentity.id).first()
    if row is None:  # the migration makes it; a table emptied by hand gets a new one
        value = str(uuid.uuid4())
        with crm.activate():
            DatabaseIdentity.insert(uuid=value, created_at=crm.clock.now()).execute()
        return value
    return str(row.uuid)
