"""contacts_identity: this database's own UUID, made once.

Exports write contact ids with it (``crm:<uuid>:<id>``) so that an import
knows whether a file's ids are this database's (see crm_contacts/identity.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class DatabaseIdentity(peewee.Model):
        uuid = peewee.CharField(max_length=36, unique=True)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "contacts_identity"

    db.create_tables([DatabaseIdentity])
    now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
    DatabaseIdentity.insert(uuid=str(uuid.uuid4()), created_at=now).execute()


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    db.execute_sql(f"DROP TABLE IF EXISTS {'contacts_identity'.join(db.quote)}")
