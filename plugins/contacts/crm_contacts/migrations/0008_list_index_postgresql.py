"""PostgreSQL: ``contacts_contact (name_key, id) WHERE deleted_at IS NULL``, the contacts list's own index.

The list (``GET /contacts``, the desk's contacts page) asks for the contacts
not deleted, ordered by name key and id, a page at a time, as a prepared
statement whose limit and offset are parameters. SQLite and MariaDB read
such a page from ``(deleted_at, name_key, id)`` (0006), taking
``deleted_at IS NULL`` as an equality; PostgreSQL does not (an ``IS NULL``
gives no order), and its generic plan for an unknown limit read every
contact not deleted from that index, then sorted them: 0.76 ms of the
server's CPU for a page of 50 among 2,000 contacts, growing with the book
(``EXPLAIN ANALYZE``: 2,000 heap fetches and a top-N sort). This partial
index holds exactly those rows in that order, so a page reads its 51
entries: 0.26 ms. Other databases are left as they are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

from crm_core.storage import dialect

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

NAME = "contacts_contact_listed"


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    if dialect(db) == "postgresql":
        db.execute_sql(
            f'CREATE INDEX IF NOT EXISTS "{NAME}" ON "contacts_contact" ("name_key", "id") WHERE "deleted_at" IS NULL'
        )


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    if dialect(db) == "postgresql":
        db.execute_sql(f'DROP INDEX IF EXISTS "{NAME}"')
