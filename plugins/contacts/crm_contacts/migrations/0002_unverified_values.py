"""Values kept although they could not be checked, and the columns address books export.

* ``contacts_phone.verified`` and ``contacts_email.verified``: a phone that
  cannot be read in the row's country nor the default region, and an
  Exchange (``EX``) address from Outlook, are kept as typed and marked
  unverified instead of costing the contact its row;
* ``contacts_phone.number`` grows from 20 to 64 characters, for numbers kept
  as typed;
* ``contacts_contact``: ``name_prefix``, ``middle_name``, ``name_suffix``,
  ``nickname``, ``title``, ``department``, ``birthday``, ``website`` (the
  columns Google, Outlook and vCard carry);
* on MySQL/MariaDB, custom field names and tags compare as written
  (``utf8mb4_bin``), as on SQLite and PostgreSQL: under the default
  case- and accent-blind collation the unique indexes refused a contact
  with custom fields ``Size`` and ``size``, or tags ``i`` and ``ı``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

_CONTACT_COLUMNS = (
    ("name_prefix", 50),
    ("middle_name", 150),
    ("name_suffix", 50),
    ("nickname", 150),
    ("title", 150),
    ("department", 150),
    ("birthday", 10),
    ("website", 500),
)


def _number(db: peewee.Database, length: int) -> list[tuple[peewee.CharField, int]]:
    # SQLite does not enforce VARCHAR lengths, and rebuilding the table to
    # change the declared one would copy every phone for nothing
    if isinstance(db, peewee.SqliteDatabase):
        return []
    return [(peewee.CharField(max_length=length), length)]


def _verified() -> peewee.BooleanField:
    # a default in the schema too, so that rows written by code that does not
    # know the column (older scripts, raw INSERTs) are verified ones
    return peewee.BooleanField(default=True, constraints=[peewee.SQL("DEFAULT TRUE")])


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    operations = [
        migrator.add_column("contacts_phone", "verified", _verified(), allow_not_null=True),
        migrator.add_column("contacts_email", "verified", _verified(), allow_not_null=True),
    ]
    operations += [
        migrator.add_column("contacts_contact", name, peewee.CharField(max_length=size, null=True))
        for name, size in _CONTACT_COLUMNS
    ]
    operations += [migrator.alter_column_type("contacts_phone", "number", field) for field, _ in _number(db, 64)]
    migrator.migrate(*operations)
    _collate(db, "COLLATE utf8mb4_bin")


_EXACT = (("contacts_custom", "key", 100), ("contacts_tag", "tag", 100))


def _collate(db: peewee.Database, collation: str) -> None:
    if not isinstance(db, peewee.MySQLDatabase):
        return
    for table, column, size in _EXACT:
        db.execute_sql(
            f"ALTER TABLE `{table}` MODIFY `{column}` VARCHAR({size}) CHARACTER SET utf8mb4 {collation} NOT NULL"
        )


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    # the table's default collation again; on MySQL this fails (and says which
    # entry) if a contact holds two names or tags that it takes for one
    _collate(db, "")
    # numbers longer than the old column (kept as typed) would not fit: they
    # are cut to 20 characters rather than making the downgrade fail
    if not isinstance(db, peewee.SqliteDatabase):
        db.execute_sql("UPDATE contacts_phone SET number = SUBSTR(number, 1, 20) WHERE LENGTH(number) > 20")
    operations = [migrator.alter_column_type("contacts_phone", "number", field) for field, _ in _number(db, 20)]
    operations += [migrator.drop_column("contacts_contact", name) for name, _ in reversed(_CONTACT_COLUMNS)]
    operations += [
        migrator.drop_column("contacts_email", "verified"),
        migrator.drop_column("contacts_phone", "verified"),
    ]
    migrator.migrate(*operations)
