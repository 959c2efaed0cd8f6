"""The plugin's own key moves to the kernel's ``crm_secret`` table, as ``legacy:surveys``.

Answer links are now signed by the kernel (:mod:`crm_core.signing`); the key
the plugin made for itself stays, under its new name, so that the links and
paper codes it signed keep working. ``surveys_secret`` is dropped.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def _table(db: peewee.Database, name: str) -> type[Any]:  # a model made per call: its fields are not static
    class Secret(peewee.Model):
        name = peewee.CharField(max_length=60, primary_key=True)
        value = peewee.CharField(max_length=200)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = name

    return Secret


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    old, new = _table(db, "surveys_secret"), _table(db, "crm_secret")
    for row in old.select().where(old.name == "token"):
        new.insert(name="legacy:surveys", value=row.value, created_at=row.created_at).on_conflict_ignore().execute()
    db.drop_tables([old])


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    old, new = _table(db, "surveys_secret"), _table(db, "crm_secret")
    db.create_tables([old])
    for row in new.select().where(new.name == "legacy:surveys"):
        old.insert(name="token", value=row.value, created_at=row.created_at).execute()
    new.delete().where(new.name == "legacy:surveys").execute()
