"""Indexes shaped like the results queries, so each reads one covering index in GROUP BY order.

* ``surveys_response (survey_id, complete, region, month)`` replaces
  ``(survey_id, complete)``: responses and drafts per region and month
  without reading the table;
* ``surveys_answer (survey_id, question, version, region, month, value, choice)``
  replaces the same columns with ``version`` before ``question``: the
  grouped answers as before, and a text question's answers found by
  ``(survey_id, question)`` instead of by walking the table.

The new indexes are made before the old ones go (MySQL keeps an index on a
foreign key's column at all times).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def _drop(migrator: SchemaMigrator, db: peewee.Database, table: str, columns: tuple[str, ...]) -> None:
    for index in db.get_indexes(table):
        if list(index.columns) == list(columns):
            migrator.migrate(migrator.drop_index(table, index.name))


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    migrator.migrate(
        migrator.add_index("surveys_response", ("survey_id", "complete", "region", "month")),
        migrator.add_index(
            "surveys_answer", ("survey_id", "question", "version", "region", "month", "value", "choice")
        ),
    )
    _drop(migrator, db, "surveys_response", ("survey_id", "complete"))
    _drop(migrator, db, "surveys_answer", ("survey_id", "version", "question", "region", "month", "value", "choice"))


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    migrator.migrate(
        migrator.add_index("surveys_response", ("survey_id", "complete")),
        migrator.add_index(
            "surveys_answer", ("survey_id", "version", "question", "region", "month", "value", "choice")
        ),
    )
    _drop(migrator, db, "surveys_response", ("survey_id", "complete", "region", "month"))
    _drop(migrator, db, "surveys_answer", ("survey_id", "question", "version", "region", "month", "value", "choice"))
