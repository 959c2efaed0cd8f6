"""Drop four indexes that another index of the same table already begins with.

* ``contacts_contact (deleted_at)``: ``(deleted_at, name_key, id)`` (0006) starts with it;
* ``contacts_tag (contact_id)``: the unique ``(contact_id, tag)`` does;
* ``contacts_word (contact_id)``: the unique ``(contact_id, word)`` does;
* ``contacts_custom (contact_id)``: the unique ``(contact_id, key)`` does.

Every query that used one of them is served by the longer index, in the
same order; a foreign key on ``contact_id`` (MySQL/MariaDB needs an index
for it) uses the longer one too. Each dropped index was one more place
every new contact was written to (a contact has about two words and a
tag): on SQLite, inserting a batch of word rows cost 2.6 µs a row with it
and 1.9 without, tag rows 1.9 and 1.6; on PostgreSQL the difference was
within the noise of a shared machine. ``down`` makes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

#: (table, the dropped index's columns)
REDUNDANT = (
    ("contacts_contact", ("deleted_at",)),
    ("contacts_tag", ("contact_id",)),
    ("contacts_word", ("contact_id",)),
    ("contacts_custom", ("contact_id",)),
)


def _named(db: peewee.Database, table: str, columns: tuple[str, ...]) -> list[str]:
    """The names of the plain (not unique, not primary) indexes of ``table`` on exactly ``columns``."""
    return [
        index.name
        for index in db.get_indexes(table)
        if tuple(index.columns) == columns and not index.unique and index.name.lower() != "primary"
    ]


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for table, columns in REDUNDANT:
        for name in _named(db, table, columns):
            migrator.migrate(migrator.drop_index(table, name))


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for table, columns in REDUNDANT:
        if not _named(db, table, columns):
            migrator.migrate(migrator.add_index(table, columns))
