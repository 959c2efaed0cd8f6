"""crm_secret: keys the CRM made itself (the link-signing key when ``[crm] secret`` is empty).

The surveys and portal plugins kept such keys in tables of their own; their
own migrations move those rows here as ``legacy:<plugin>``.
"""

import peewee


def up(migrator, db):
    class Secret(peewee.Model):
        name = peewee.CharField(max_length=60, primary_key=True)
        value = peewee.CharField(max_length=200)
        created_at = peewee.DateTimeField()

        class Meta:
            database = db
            table_name = "crm_secret"

    db.create_tables([Secret])


def down(migrator, db):
    db.execute_sql(f"DROP TABLE IF EXISTS {'crm_secret'.join(db.quote)}")
