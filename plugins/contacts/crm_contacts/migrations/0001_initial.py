"""Create the contacts tables.

The models are frozen copies of crm_contacts/models.py as of this migration,
so later changes to the models never change what this migration does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class Base(peewee.Model):
        class Meta:
            database = db
            legacy_table_names = False

    class Contact(Base):
        kind = peewee.CharField(max_length=12, default="person")
        display_name = peewee.CharField(max_length=300)
        first_name = peewee.CharField(max_length=150, default="")
        last_name = peewee.CharField(max_length=150, default="")
        name_key = peewee.CharField(max_length=300, index=True)
        organization = peewee.ForeignKeyField("self", null=True, on_delete="SET NULL")
        status = peewee.CharField(max_length=20, default="prospect", index=True)
        status_changed_at = peewee.DateTimeField(null=True)
        region = peewee.CharField(max_length=100, null=True, index=True)
        country = peewee.CharField(max_length=2, null=True)
        owner = peewee.CharField(max_length=100, null=True, index=True)
        language = peewee.CharField(max_length=35, null=True)
        do_not_contact = peewee.BooleanField(default=False)
        external_id = peewee.CharField(max_length=200, null=True, index=True)
        notes = peewee.TextField(null=True)
        created_at = peewee.DateTimeField()
        updated_at = peewee.DateTimeField()
        deleted_at = peewee.DateTimeField(null=True, index=True)
        merged_into = peewee.IntegerField(null=True)
        erased_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "contacts_contact"

    class ContactEmail(Base):
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        address = peewee.CharField(max_length=254, index=True)
        kind = peewee.CharField(max_length=20, default="other")
        is_primary = peewee.BooleanField(default=False)

        class Meta:
            table_name = "contacts_email"

    class ContactPhone(Base):
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        number = peewee.CharField(max_length=20, index=True)
        extension = peewee.CharField(max_length=20, null=True)
        kind = peewee.CharField(max_length=20, default="other")
        is_primary = peewee.BooleanField(default=False)

        class Meta:
            table_name = "contacts_phone"

    class ContactAddress(Base):
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        kind = peewee.CharField(max_length=20, default="other")
        street = peewee.CharField(max_length=300, default="")
        extra = peewee.CharField(max_length=300, default="")
        city = peewee.CharField(max_length=150, default="", index=True)
        postal_code = peewee.CharField(max_length=20, default="")
        region = peewee.CharField(max_length=150, default="")
        country = peewee.CharField(max_length=2, default="")
        is_primary = peewee.BooleanField(default=False)

        class Meta:
            table_name = "contacts_address"

    class ContactTag(Base):
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        tag = peewee.CharField(max_length=100, index=True)

        class Meta:
            table_name = "contacts_tag"
            indexes = ((("contact", "tag"), True),)

    class ContactCustomField(Base):
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        key = peewee.CharField(max_length=100)
        value = peewee.CharField(max_length=255)

        class Meta:
            table_name = "contacts_custom"
            indexes = ((("contact", "key"), True), (("key", "value"), False))

    class MailingList(Base):
        name = peewee.CharField(max_length=100, unique=True)
        description = peewee.CharField(max_length=500, default="")
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "contacts_list"

    class ListMember(Base):
        mailing_list = peewee.ForeignKeyField(MailingList, on_delete="CASCADE")
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        added_at = peewee.DateTimeField()
        unsubscribed_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "contacts_list_member"
            indexes = ((("mailing_list", "contact"), True),)

    class Segment(Base):
        name = peewee.CharField(max_length=100, unique=True)
        description = peewee.CharField(max_length=500, default="")
        filters = peewee.TextField()
        created_at = peewee.DateTimeField()

        class Meta:
            table_name = "contacts_segment"

    class Merge(Base):
        survivor_id = peewee.IntegerField(index=True)
        merged_id = peewee.IntegerField(index=True)
        actor = peewee.CharField(max_length=100, null=True)
        created_at = peewee.DateTimeField()
        survivor_before = peewee.TextField()
        moved_rows = peewee.TextField()
        moved_by_plugins = peewee.TextField()
        undone_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "contacts_merge"

    class UpdateToken(Base):
        nonce = peewee.CharField(max_length=64, unique=True)
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        fields = peewee.TextField()
        created_at = peewee.DateTimeField()
        created_by = peewee.CharField(max_length=100, null=True)
        expires_at = peewee.DateTimeField()
        used_at = peewee.DateTimeField(null=True)

        class Meta:
            table_name = "contacts_update_token"

    class PendingUpdate(Base):
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        token = peewee.ForeignKeyField(UpdateToken, null=True, on_delete="SET NULL")
        changes = peewee.TextField()
        submitted_at = peewee.DateTimeField()
        status = peewee.CharField(max_length=10, default="pending", index=True)
        reviewed_by = peewee.CharField(max_length=100, null=True)
        reviewed_at = peewee.DateTimeField(null=True)
        note = peewee.CharField(max_length=500, default="")

        class Meta:
            table_name = "contacts_pending_update"

    db.create_tables(
        [
            Contact,
            ContactEmail,
            ContactPhone,
            ContactAddress,
            ContactTag,
            ContactCustomField,
            MailingList,
            ListMember,
            Segment,
            Merge,
            UpdateToken,
            PendingUpdate,
        ]
    )


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for table in (
        "contacts_pending_update",
        "contacts_update_token",
        "contacts_merge",
        "contacts_segment",
        "contacts_list_member",
        "contacts_list",
        "contacts_custom",
        "contacts_tag",
        "contacts_address",
        "contacts_phone",
        "contacts_email",
        "contacts_contact",
    ):
        db.execute_sql(f"DROP TABLE IF EXISTS {table}")
