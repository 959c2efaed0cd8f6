"""Drop two indexes that no query needs, each one more place every new task or firing was written to.

* ``tasks_task (status)``: ``(status, assignee, due_at)`` starts with it, and
  serves every query that filters on the status (the task lists, the
  reminders' scan, a sale's done tasks), in the same order;
* ``tasks_firing (fired_at)``: no query filters or sorts the firing log by
  its time (``firings()`` pages by id, newest first; the look-ups go by
  ``(rule, key)`` and by contact).

The first inactivity scan of a rule writes a task and a firing for every
quiet customer (a quarter of a million at the issue's size): on SQLite each
task row went into seven indexes and each firing into four, now six and
three. ``down`` makes them again.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

#: (table, the dropped index's columns)
UNUSED = (
    ("tasks_task", ("status",)),
    ("tasks_firing", ("fired_at",)),
)


def _named(db: peewee.Database, table: str, columns: tuple[str, ...]) -> list[str]:
    """The names of the plain (not unique, not primary) indexes of ``table`` on exactly ``columns``."""
    return [
        index.name
        for index in db.get_indexes(table)
        if tuple(index.columns) == columns and not index.unique and index.name.lower() != "primary"
    ]


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for table, columns in UNUSED:
        for name in _named(db, table, columns):
            migrator.migrate(migrator.drop_index(table, name))


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for table, columns in UNUSED:
        if not _named(db, table, columns):
            migrator.migrate(migrator.add_index(table, columns))
