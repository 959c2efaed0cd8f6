"""Consents get a timeline kind of their own: ``ConsentGiven`` events stored as ``other`` become ``consent``.

The kind is written when an event is stored (``crm_warehouse.catalog``);
the events stored before the catalog named ``consent`` are moved to it
here, in the store and in the timeline index, so that filtering a contact's
timeline by ``consent`` finds them all. ``down`` moves them back to ``other``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import peewee

if TYPE_CHECKING:
    from playhouse.migrate import SchemaMigrator


def _set(db: peewee.Database, kind: str) -> None:
    p = db.param
    consents = f"SELECT id FROM warehouse_event WHERE type = {p}"
    db.execute_sql(f"UPDATE warehouse_event SET kind = {p} WHERE type = {p}", (kind, "ConsentGiven"))
    db.execute_sql(
        f"UPDATE warehouse_event_contact SET kind = {p} WHERE event_id IN ({consents})", (kind, "ConsentGiven")
    )


def up(migrator: SchemaMigrator, db: peewee.Database) -> None:
    _set(db, "consent")


def down(migrator: SchemaMigrator, db: peewee.Database) -> None:
    _set(db, "other")
