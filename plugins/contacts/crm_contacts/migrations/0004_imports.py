"""contacts_import: imports posted over HTTP, queued for the worker, with their progress, report and problem rows."""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class ImportRun(peewee.Model):
        id = peewee.AutoField()
        created_by = peewee.CharField(max_length=150, null=True, index=True)
        scopes = peewee.TextField(null=True)
        file_name = peewee.CharField(max_length=255)
        format = peewee.CharField(max_length=8)
        options = peewee.TextField()
        data = peewee.BlobField(null=True)
        status = peewee.CharField(max_length=8, default="queued", index=True)
        rows_done = peewee.IntegerField(default=0)
        rows_total = peewee.IntegerField(default=0)
        report = peewee.TextField(null=True)
        problems = peewee.BlobField(null=True)
        error = peewee.TextField(null=True)
        lease_owner = peewee.CharField(max_length=64, null=True)
        lease_until = peewee.DateTimeField(null=True)
        created_at = peewee.DateTimeField()
        started_at = peewee.DateTimeField(null=True)
        finished_at = peewee.DateTimeField(null=True)

        class Meta:
            database = db
            table_name = "contacts_import"

    db.create_tables([ImportRun])
    if isinstance(db, peewee.MySQLDatabase):
        # a BLOB holds 64 KB there; a file and its problem rows can be as large as the API's body limit
        for column in ("data", "problems"):
            db.execute_sql(f"ALTER TABLE contacts_import MODIFY {column} LONGBLOB NULL")
        for column in ("report",):
            db.execute_sql(f"ALTER TABLE contacts_import MODIFY {column} LONGTEXT NULL")


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    db.execute_sql(f"DROP TABLE IF EXISTS {'contacts_import'.join(db.quote)}")
