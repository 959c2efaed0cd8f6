"""A lock per record for the length of a transaction, so that two changes of one record take turns.

``If-Match`` is checked against the record as it is inside the change's own
transaction; without a lock two integrations could both read version A and
both write, the second undoing the first (a lost update). PostgreSQL takes
an advisory transaction lock, MySQL/MariaDB a named lock, and SQLite starts
the transaction ``IMMEDIATE`` (one writer at a time for the whole file).
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from typing import TYPE_CHECKING

from crm_core.storage import dialect

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["record_lock"]

#: how long MySQL waits for another change of the same record, in seconds
WAIT_SECONDS = 30


@contextlib.contextmanager
def record_lock(crm: CRM, key: str) -> Iterator[None]:
    """A transaction in which no other ``record_lock(crm, key)`` runs at the same time."""
    database = crm.database
    kind = dialect(database)
    digest = hashlib.sha256(key.encode()).digest()
    with crm.activate():
        if kind == "sqlite":
            if database.in_transaction():
                with database.atomic():
                    yield
            else:
                with database.atomic(lock_type="IMMEDIATE"):
                    yield
        elif kind == "postgresql":
            with database.atomic():
                number = int.from_bytes(digest[:8], "big", signed=True)
                database.execute_sql("SELECT pg_advisory_xact_lock(%s)", (number,))
                yield
        else:
            name = "crm_api:" + digest.hex()[:40]
            got = database.execute_sql("SELECT GET_LOCK(%s, %s)", (name, WAIT_SECONDS)).fetchone()
            if not got or got[0] != 1:
                from crm_core.errors import ConstraintError

                raise ConstraintError(f"another change of this record is still running after {WAIT_SECONDS} s; retry")
            try:
                with database.atomic():
                    yield
            finally:
                database.execute_sql("SELECT RELEASE_LOCK(%s)", (name,))
