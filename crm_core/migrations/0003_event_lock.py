"""crm_lock: named rows that transactions lock to take turns.

The row ``events`` is locked by every transaction that writes to the
``crm_event`` outbox, until it ends (PostgreSQL, MySQL/MariaDB; SQLite
writers take turns anyway). Event ids are handed out when a row is written,
not when it commits: without the lock, a transaction that emitted first but
committed last could have its event skipped by a handler whose cursor had
already moved past a later id.
"""

import peewee


def up(migrator, db):
    class Lock(peewee.Model):
        name = peewee.CharField(max_length=50, primary_key=True)

        class Meta:
            database = db
            table_name = "crm_lock"

    db.create_tables([Lock])
    Lock.insert(name="events").execute()


def down(migrator, db):
    db.execute_sql(f"DROP TABLE IF EXISTS {'crm_lock'.join(db.quote)}")
