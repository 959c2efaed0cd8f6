"""``warehouse_contact_status (contact_id, valid_from, status, valid_to)`` in place of ``(contact_id, valid_from)``.

``customers_quiet_since`` works out, for each customer who has not bought
since the day, when its current spell as a customer began: the end of its
last interval as something else, or its first row. With the old index each
of those look-ups read the contact's rows from the table for their status
and end; this index holds them, so the look-up reads the index alone
(1,000,000 customers on SQLite: the query 1.46 -> 1.14 s). It begins with
the old one's columns, so whatever read by contact and time reads it the same.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

_TABLE = "warehouse_contact_status"
_OLD = ("contact_id", "valid_from")
_NEW = ("contact_id", "valid_from", "status", "valid_to")


def _swap(migrator: SchemaMigrator, db: peewee.Database, old: tuple[str, ...], new: tuple[str, ...]) -> None:
    migrator.migrate(migrator.add_index(_TABLE, new))
    for index in db.get_indexes(_TABLE):
        if list(index.columns) == list(old):
            migrator.migrate(migrator.drop_index(_TABLE, index.name))


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    _swap(migrator, db, _OLD, _NEW)


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    _swap(migrator, db, _NEW, _OLD)
