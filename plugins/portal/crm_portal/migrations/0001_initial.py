"""Create the portal's tables: sign-ups, consents, rate-limit counters and the signing key.

The models are frozen copies of crm_portal/models.py as of this migration.
"""

from typing import Any

import peewee


def up(migrator: Any, db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db

    class Signup(Base):
        form = peewee.CharField(max_length=40)
        email = peewee.CharField(max_length=254)
        first_name = peewee.CharField(max_length=150, default="")
        last_name = peewee.CharField(max_length=150, default="")
        language = peewee.CharField(max_length=35)
        consent_text = peewee.TextField()
        ip = peewee.CharField(max_length=45, null=True)
        nonce = peewee.CharField(max_length=24, unique=True)
        requested_at = peewee.DateTimeField()
        expires_at = peewee.DateTimeField(index=True)
        confirmed_at = peewee.DateTimeField(null=True)
        contact_id = peewee.IntegerField(null=True, index=True)

        class Meta:
            table_name = "portal_signup"

    class Consent(Base):
        contact_id = peewee.IntegerField(null=True, index=True)
        signup = peewee.ForeignKeyField(Signup, null=True, on_delete="SET NULL")
        form = peewee.CharField(max_length=40)
        text = peewee.TextField()
        language = peewee.CharField(max_length=35)
        lists = peewee.TextField(default="[]")
        ip = peewee.CharField(max_length=45, null=True)
        given_at = peewee.DateTimeField()
        confirmed_at = peewee.DateTimeField()

        class Meta:
            table_name = "portal_consent"

    class RateHit(Base):
        key = peewee.CharField(max_length=190)
        window = peewee.BigIntegerField()
        hits = peewee.IntegerField(default=0)
        ends_at = peewee.DateTimeField(index=True)

        class Meta:
            table_name = "portal_rate"
            indexes = ((("key", "window"), True),)

    class Secret(Base):
        name = peewee.CharField(max_length=40, primary_key=True)
        value = peewee.CharField(max_length=100)
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "portal_secret"

    db.create_tables([Signup, Consent, RateHit, Secret])


def down(migrator: Any, db: peewee.Database) -> None:
    for name in ("portal_consent", "portal_signup", "portal_rate", "portal_secret"):
        db.execute_sql(f"DROP TABLE IF EXISTS {name.join(db.quote)}")
