"""Create the API's table of idempotent requests.

The model is a frozen copy of crm_api/models.py as of this migration.
"""

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    class IdempotentRequest(peewee.Model):
        token_id = peewee.IntegerField()
        key = peewee.CharField(max_length=255)
        method = peewee.CharField(max_length=10)
        path = peewee.CharField(max_length=500)
        body_hash = peewee.CharField(max_length=64)
        status = peewee.IntegerField(null=True)
        headers = peewee.TextField(default="{}")
        response = peewee.TextField(default="")
        created_at = peewee.DateTimeField(index=True)

        class Meta:
            database = db
            table_name = "api_idempotent_request"
            indexes = ((("token_id", "key"), True),)

    db.create_tables([IdempotentRequest])


def down(migrator: Any, db: peewee.Database) -> None:
    db.execute_sql(f"DROP TABLE IF EXISTS {'api_idempotent_request'.join(db.quote)}")
