"""The plugin's own key moves to the kernel's ``crm_secret`` table, as ``legacy:portal``.

Unsubscribe and confirmation links are now signed by the kernel
(:mod:`crm_core.signing`); the key the plugin made for itself stays, under
its new name, so that the unsubscribe links already in people's mailboxes
keep working. ``portal_secret`` is dropped.
"""

from typing import Any

import peewee


def _table(db: peewee.Database, name: str) -> Any:
    class Secret(peewee.Model):
        name = peewee.CharField(max_length=60, primary_key=True)
        value = peewee.CharField(max_length=200)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = name

    return Secret


def up(migrator: Any, db: peewee.Database) -> None:
    old, new = _table(db, "portal_secret"), _table(db, "crm_secret")
    for row in old.select().where(old.name == "portal"):
        new.insert(name="legacy:portal", value=row.value, created_at=row.created_at).on_conflict_ignore().execute()
    db.drop_tables([old])


def down(migrator: Any, db: peewee.Database) -> None:
    old, new = _table(db, "portal_secret"), _table(db, "crm_secret")
    db.create_tables([old])
    for row in new.select().where(new.name == "legacy:portal"):
        old.insert(name="portal", value=row.value, created_at=row.created_at).execute()
    new.delete().where(new.name == "legacy:portal").execute()
