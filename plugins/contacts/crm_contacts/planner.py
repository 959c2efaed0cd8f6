"""PostgreSQL's planner statistics of the contacts tables, gathered while an import grows them.

PostgreSQL plans a query from statistics that ``ANALYZE`` (or autovacuum,
eventually) gathers. An import into a book the planner has never counted
(or counted when it was a tenth of its size) is planned as if the tables
were tiny: each batch's look-ups (``external_id IN (…)``, the e-mails)
become full scans, and every batch costs more than the one before it (at
100,000 contacts a look-up of 2,000 external ids read every row, 28 ms,
and a batch ran six of them). So an import gathers the statistics again
each time it has written as many contacts as the planner last counted
(and after its first 5,000): a few times per import (at 5,000, 10,000,
20,000 … contacts), each ``ANALYZE`` reading a sample, not the tables.
SQLite's and MariaDB's planners need no such help here.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core import rows as typed_rows
from crm_core.storage import dialect

if TYPE_CHECKING:
    import peewee

__all__ = ["FIRST_ANALYZE", "GrowingBook", "TABLES", "analyze"]

#: the tables whose statistics an import changes, and searches and imports rely on
TABLES = ("contacts_contact", "contacts_word", "contacts_email", "contacts_phone", "contacts_address")
#: contacts an import writes before it gathers statistics the first time, on a book never counted
FIRST_ANALYZE = 5_000


def analyze(database: peewee.Database) -> None:
    """``ANALYZE`` the contacts tables (PostgreSQL; nothing elsewhere)."""
    if dialect(database) != "postgresql":
        return
    typed_rows.execute(database, f"ANALYZE {', '.join(name.join(database.quote) for name in TABLES)}")


class GrowingBook:
    """One import's view of the planner: told how many contacts each batch wrote, it gathers statistics when due."""

    def __init__(self, database: peewee.Database) -> None:
        self._database = database
        self._active = dialect(database) == "postgresql"
        #: contacts the planner counted at its last ANALYZE (-1 from PostgreSQL: never)
        self._counted = 0.0
        self._written = 0
        if self._active:
            row = typed_rows.fetchone(
                database, "SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", ("contacts_contact",)
            )
            self._counted = max(0.0, float(row[0])) if row and row[0] is not None else 0.0

    def wrote(self, contacts: int) -> bool:
        """Count ``contacts`` written (created or changed); ``True`` when that made it gather statistics."""
        if not self._active or contacts <= 0:
            return False
        self._written += contacts
        if self._written < max(self._counted, FIRST_ANALYZE):
            return False
        analyze(self._database)
        self._counted += self._written
        self._written = 0
        return True
