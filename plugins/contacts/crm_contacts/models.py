"""The contacts plugin's tables (all named ``contacts_*``).

A :class:`Contact` is a person or an organization. Its e-mail addresses,
phones, postal addresses, tags and custom fields live in child tables, so a
contact can have any number of each; one e-mail, phone and address per
contact is marked primary. Deleting is soft (``deleted_at``); a merged
contact is soft-deleted too and points at its survivor (``merged_into``).
"""

from __future__ import annotations

from typing import Any

import peewee

from crm_core.storage import Model, UTCDateTimeField

__all__ = [
    "Contact",
    "ContactAddress",
    "ContactCustomField",
    "ContactEmail",
    "ContactPhone",
    "ContactTag",
    "ContactWord",
    "DatabaseIdentity",
    "ImportRun",
    "ListMember",
    "MailingList",
    "Merge",
    "PendingUpdate",
    "Segment",
    "UpdateToken",
]


class Contact(Model):
    id = peewee.AutoField()
    #: ``person`` or ``organization``
    kind = peewee.CharField(max_length=12, default="person")
    display_name = peewee.CharField(max_length=300)
    first_name = peewee.CharField(max_length=150, default="")
    last_name = peewee.CharField(max_length=150, default="")
    #: the rest of a person's name (vCard N): "Dr.", "Luis", "Jr."; and what friends call them
    name_prefix = peewee.CharField(max_length=50, null=True)
    middle_name = peewee.CharField(max_length=150, null=True)
    name_suffix = peewee.CharField(max_length=50, null=True)
    nickname = peewee.CharField(max_length=150, null=True)
    #: job title and department at their organization (vCard TITLE, ORG's unit)
    title = peewee.CharField(max_length=150, null=True)
    department = peewee.CharField(max_length=150, null=True)
    #: ISO 8601 date, or ``--MM-DD`` when the year is not known (vCard BDAY)
    birthday = peewee.CharField(max_length=10, null=True)
    #: a web page (vCard URL)
    website = peewee.CharField(max_length=500, null=True)
    #: lower-case, accent-free names, for searching by name on every backend
    name_key = peewee.CharField(max_length=300, index=True)
    organization = peewee.ForeignKeyField("self", null=True, backref="members", on_delete="SET NULL")
    #: peewee adds a raw-key accessor `<field>_id` for every ForeignKeyField; declared for the type checker
    organization_id: int | None
    #: ``prospect``, ``customer`` or ``former``
    status = peewee.CharField(max_length=20, default="prospect", index=True)
    status_changed_at = UTCDateTimeField(null=True)
    region = peewee.CharField(max_length=100, null=True, index=True)
    #: ISO 3166-1 alpha-2
    country = peewee.CharField(max_length=2, null=True)
    owner = peewee.CharField(max_length=100, null=True, index=True)
    #: BCP 47 tag
    language = peewee.CharField(max_length=35, null=True)
    do_not_contact = peewee.BooleanField(default=False)
    external_id = peewee.CharField(max_length=200, null=True, index=True)
    notes = peewee.TextField(null=True)
    created_at = UTCDateTimeField()
    updated_at = UTCDateTimeField()
    #: indexed as the first column of (deleted_at, name_key, id) (migrations 0006, 0007)
    deleted_at = UTCDateTimeField(null=True)
    merged_into = peewee.IntegerField(null=True)
    erased_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "contacts_contact"
        #: the list in name order, read from one index (migration 0006)
        indexes = ((("deleted_at", "name_key", "id"), False),)


class ContactEmail(Model):
    id = peewee.AutoField()
    contact = peewee.ForeignKeyField(Contact, backref="emails", on_delete="CASCADE")
    contact_id: int
    #: normalised: checked by email-validator, then lower-cased
    address = peewee.CharField(max_length=254, index=True)
    kind = peewee.CharField(max_length=20, default="other")
    is_primary = peewee.BooleanField(default=False)
    #: false for an address kept as written although it is not an e-mail
    #: address (an Exchange ``EX`` address in an Outlook export)
    verified = peewee.BooleanField(default=True)

    class Meta:
        table_name = "contacts_email"


class ContactPhone(Model):
    id = peewee.AutoField()
    contact = peewee.ForeignKeyField(Contact, backref="phones", on_delete="CASCADE")
    contact_id: int
    #: E.164, e.g. +34612345678; as typed when ``verified`` is false
    number = peewee.CharField(max_length=64, index=True)
    extension = peewee.CharField(max_length=20, null=True)
    kind = peewee.CharField(max_length=20, default="other")
    is_primary = peewee.BooleanField(default=False)
    #: false for a number that could not be read in any country the row
    #: gave nor the default region, kept as typed
    verified = peewee.BooleanField(default=True)

    class Meta:
        table_name = "contacts_phone"


class ContactAddress(Model):
    id = peewee.AutoField()
    contact = peewee.ForeignKeyField(Contact, backref="addresses", on_delete="CASCADE")
    contact_id: int
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


class ContactTag(Model):
    id = peewee.AutoField()
    #: indexed as the first column of (contact, tag) (migration 0007)
    contact = peewee.ForeignKeyField(Contact, backref="tag_rows", on_delete="CASCADE", index=False)
    contact_id: int
    tag = peewee.CharField(max_length=100, index=True)

    class Meta:
        table_name = "contacts_tag"
        indexes = ((("contact", "tag"), True),)


class ContactWord(Model):
    """A word of a contact's ``name_key``, for name search by word prefix (migration 0005).

    Derived from ``name_key`` and rewritten wherever it changes (see :mod:`crm_contacts.words`):
    each word, and for a word with punctuation also its parts from and after each mark
    ("garcia-lopez": ``garcia-lopez``, ``-lopez``, ``lopez``). On PostgreSQL ``word`` sorts
    byte-wise (``COLLATE "C"``) and on MySQL/MariaDB by code point (``utf8mb4_bin``), as on
    SQLite, so that a prefix is a range of the index.
    """

    id = peewee.AutoField()
    #: indexed as the first column of (contact, word) (migration 0007)
    contact = peewee.ForeignKeyField(Contact, backref="word_rows", on_delete="CASCADE", index=False)
    contact_id: int
    word = peewee.CharField(max_length=300)

    class Meta:
        table_name = "contacts_word"
        indexes = ((("contact", "word"), True), (("word", "contact"), False))


class ContactCustomField(Model):
    id = peewee.AutoField()
    #: indexed as the first column of (contact, key) (migration 0007)
    contact = peewee.ForeignKeyField(Contact, backref="custom_rows", on_delete="CASCADE", index=False)
    contact_id: int
    key = peewee.CharField(max_length=100)
    value = peewee.CharField(max_length=255)

    class Meta:
        table_name = "contacts_custom"
        indexes = ((("contact", "key"), True), (("key", "value"), False))


class MailingList(Model):
    id = peewee.AutoField()
    name = peewee.CharField(max_length=100, unique=True)
    description = peewee.CharField(max_length=500, default="")
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "contacts_list"


class ListMember(Model):
    id = peewee.AutoField()
    mailing_list = peewee.ForeignKeyField(MailingList, backref="members", on_delete="CASCADE")
    mailing_list_id: int
    contact = peewee.ForeignKeyField(Contact, backref="list_rows", on_delete="CASCADE")
    contact_id: int
    added_at = UTCDateTimeField()
    unsubscribed_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "contacts_list_member"
        indexes = ((("mailing_list", "contact"), True),)


class Segment(Model):
    """A saved search, evaluated each time it is used."""

    id = peewee.AutoField()
    name = peewee.CharField(max_length=100, unique=True)
    description = peewee.CharField(max_length=500, default="")
    #: the search filters, as JSON
    filters = peewee.TextField()
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "contacts_segment"


class Merge(Model):
    """One merge: enough to undo it."""

    id = peewee.AutoField()
    survivor_id = peewee.IntegerField(index=True)
    merged_id = peewee.IntegerField(index=True)
    actor = peewee.CharField(max_length=100, null=True)
    created_at = UTCDateTimeField()
    #: JSON: the survivor's fields before the merge (restored by unmerge)
    survivor_before = peewee.TextField()
    #: JSON: this plugin's child rows moved to the survivor, by table
    moved_rows = peewee.TextField()
    #: JSON: what each other plugin moved, as its crm_contacts_merged returned it
    moved_by_plugins = peewee.TextField()
    undone_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "contacts_merge"


class UpdateToken(Model):
    """A self-service link: signed, expiring, single-use, bound to a contact and fields."""

    id = peewee.AutoField()
    nonce = peewee.CharField(max_length=64, unique=True)
    contact = peewee.ForeignKeyField(Contact, backref="update_tokens", on_delete="CASCADE")
    contact_id: int
    #: JSON list of the fields the holder may change
    fields = peewee.TextField()
    created_at = UTCDateTimeField()
    created_by = peewee.CharField(max_length=100, null=True)
    expires_at = UTCDateTimeField()
    used_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "contacts_update_token"


class PendingUpdate(Model):
    """A self-service change waiting for staff review."""

    id = peewee.AutoField()
    contact = peewee.ForeignKeyField(Contact, backref="pending_updates", on_delete="CASCADE")
    contact_id: int
    token = peewee.ForeignKeyField(UpdateToken, null=True, on_delete="SET NULL")
    token_id: int | None
    #: JSON: field -> submitted value
    changes = peewee.TextField()
    submitted_at = UTCDateTimeField()
    #: ``pending``, ``approved`` or ``rejected``
    status = peewee.CharField(max_length=10, default="pending", index=True)
    reviewed_by = peewee.CharField(max_length=100, null=True)
    reviewed_at = UTCDateTimeField(null=True)
    note = peewee.CharField(max_length=500, default="")

    class Meta:
        table_name = "contacts_pending_update"


class DatabaseIdentity(Model):
    """This database's UUID, made once by migration 0003; exported contact ids carry it."""

    id = peewee.AutoField()
    uuid = peewee.CharField(max_length=36, unique=True)
    created_at = UTCDateTimeField()

    class Meta:
        table_name = "contacts_identity"


class _Bytes(peewee.BlobField):
    """A BLOB that takes and gives ``bytes``: peewee's looks for the database's binary type when the model is
    defined, and this module is imported before any app (and its database) exists; every driver takes bytes."""

    def bind(self, model: Any, name: str, set_attribute: bool = True) -> None:
        self._constructor = bytes
        peewee.Field.bind(self, model, name, set_attribute)


class ImportRun(Model):
    """An import posted over HTTP (``POST /imports``), run by the worker as the user who posted it (migration 0004)."""

    id = peewee.AutoField()
    #: the user who posted it (a user name; ``None``: the system); the worker imports as them
    created_by = peewee.CharField(max_length=150, null=True, index=True)
    #: JSON list of the permissions the posting token allowed (``null``: the user's own)
    scopes = peewee.TextField(null=True)
    file_name = peewee.CharField(max_length=255)
    #: ``csv`` or ``vcard``
    format = peewee.CharField(max_length=8)
    #: JSON: the import's options (dry_run, mapping, match_on, on_conflict…)
    options = peewee.TextField()
    #: the file (LONGBLOB on MariaDB), kept until the import has run
    data = _Bytes(null=True)
    #: ``queued``, ``running``, ``done`` or ``failed``
    status = peewee.CharField(max_length=8, default="queued", index=True)
    rows_done = peewee.IntegerField(default=0)
    rows_total = peewee.IntegerField(default=0)
    #: JSON: the import's report (counts, every problem row, notes) once it has run
    report = peewee.TextField(null=True)
    #: every row with an error, warning or conflict, as CSV to fix and import again
    problems = _Bytes(null=True)
    error = peewee.TextField(null=True)
    lease_owner = peewee.CharField(max_length=64, null=True)
    lease_until = UTCDateTimeField(null=True)
    created_at = UTCDateTimeField()
    started_at = UTCDateTimeField(null=True)
    finished_at = UTCDateTimeField(null=True)

    class Meta:
        table_name = "contacts_import"


MODELS = (
    Contact,
    ContactEmail,
    ContactPhone,
    ContactAddress,
    ContactTag,
    ContactCustomField,
    ContactWord,
    MailingList,
    ListMember,
    Segment,
    Merge,
    UpdateToken,
    PendingUpdate,
    DatabaseIdentity,
    ImportRun,
)


def live_in_id_order(database: peewee.Database) -> Any:
    """``deleted_at IS NULL`` for a scan of the book in id order (keyset pages: ``id > last ORDER BY id``).

    SQLite keeps no planner statistics here, and takes an equality on
    ``deleted_at`` for a selective one: it read every live contact through the
    ``(deleted_at, name_key, id)`` index and sorted them, on every page, so an
    export of 1,000,000 contacts took 279 s where reading them takes 18 s.
    The unary ``+`` keeps that index out and the pages come in rowid order.
    The servers plan from statistics and get the plain condition.
    """
    from crm_core.storage import dialect

    if dialect(database) == "sqlite":
        return peewee.NodeList((peewee.SQL("+"), Contact.deleted_at), glue="").is_null()
    return Contact.deleted_at.is_null()
