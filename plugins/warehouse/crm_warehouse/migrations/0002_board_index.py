"""``warehouse_sale (stage, expected_close_on, id)``: a pipeline column's first cards, read from one index.

The desk's pipeline board shows each open stage's records expected to
close soonest (``WHERE stage = ? ORDER BY expected_close_on, id LIMIT 50``,
then those without a date). With only the index on ``stage`` the database
read every record of the stage and sorted them; this index holds them in
that order, so a column reads its 50 entries, however many records the stage has.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator

_COLUMNS = ("stage", "expected_close_on", "id")


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    migrator.migrate(migrator.add_index("warehouse_sale", _COLUMNS))


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    for index in db.get_indexes("warehouse_sale"):
        if list(index.columns) == list(_COLUMNS):
            migrator.migrate(migrator.drop_index("warehouse_sale", index.name))
