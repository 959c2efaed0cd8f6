"""contacts_word: the words of every contact's name, for name search by word prefix.

One row per word of ``contacts_contact.name_key`` (and per part of a word
from and after each punctuation mark), indexed on ``(word, contact_id)``:
name search looks each typed word up as a range of that index instead of
reading every name. Filled here for the contacts already there, 2,000 at a
time; kept up to date by the code from then on (crm_contacts/words.py).

``word`` compares byte-wise on PostgreSQL (``COLLATE "C"``) and by code
point on MySQL/MariaDB (``utf8mb4_bin``), as it does on SQLite, so that
"every word from 'gar' up to 'gar' + U+10FFFF" is exactly the words that
start with "gar", whatever the server's locale.

The word splitting below is a frozen copy of ``crm_contacts.words.name_words``
as of this migration.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

_BATCH = 2000
_MAX_PARTS = 8


def _name_words(key: str) -> set[str]:
    found: set[str] = set()
    for word in key.split():
        found.add(word)
        if word.isalnum():
            continue
        parts = 0
        for i, char in enumerate(word):
            if char.isalnum() or parts >= _MAX_PARTS:
                continue
            parts += 1
            found.add(word[i:])
            if i + 1 < len(word):
                found.add(word[i + 1 :])
    return found


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    class Contact(peewee.Model):
        id = peewee.AutoField()
        name_key = peewee.CharField(max_length=300)

        class Meta:
            database = db
            table_name = "contacts_contact"

    class ContactWord(peewee.Model):
        id = peewee.AutoField()
        contact = peewee.ForeignKeyField(Contact, on_delete="CASCADE")
        word = peewee.CharField(max_length=300)

        class Meta:
            database = db
            table_name = "contacts_word"
            indexes = ((("contact", "word"), True), (("word", "contact"), False))

    db.create_tables([ContactWord])
    if isinstance(db, peewee.PostgresqlDatabase):
        db.execute_sql('ALTER TABLE contacts_word ALTER COLUMN word TYPE VARCHAR(300) COLLATE "C"')
    elif isinstance(db, peewee.MySQLDatabase):
        db.execute_sql(
            "ALTER TABLE contacts_word MODIFY word VARCHAR(300) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL"
        )
    last = 0
    while True:
        batch: list[tuple[int, str]] = list(
            Contact.select(Contact.id, Contact.name_key)
            .where(Contact.id > last)
            .order_by(Contact.id)
            .limit(_BATCH)
            .tuples()  # type: ignore[arg-type]  # peewee's stubs type tuples() as rows of the model
        )
        if not batch:
            break
        last = batch[-1][0]
        rows = [(cid, word) for cid, key in batch for word in sorted(_name_words(key or ""))]
        for start in range(0, len(rows), 500):
            ContactWord.insert_many(rows[start : start + 500], fields=[ContactWord.contact, ContactWord.word]).execute()


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    db.execute_sql(f"DROP TABLE IF EXISTS {'contacts_word'.join(db.quote)}")
