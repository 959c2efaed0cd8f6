"""Creating tasks in bulk: one path for rules, templates, the inactivity scan and the API.

:func:`create_many` writes tasks with a few set-based statements (one bulk
insert per table, one ``TaskCreated`` batch through ``emit_many``) and skips
drafts whose ``origin_key`` already exists, so a rule or template that runs
twice creates nothing the second time. Call it inside a transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from crm_core.storage import bulk_insert

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.records import Draft
    from crm_tasks.settings import TasksSettings

__all__ = ["create_many", "existing_keys", "quote", "rows_in", "to_db"]

CHUNK = 500
_TASK_COLUMNS = (
    "title",
    "kind",
    "description",
    "assignee",
    "team",
    "due_at",
    "priority",
    "status",
    "contact_id",
    "created_at",
    "created_by",
    "assigned_at",
    "origin",
    "origin_key",
    "rule",
)


def to_db(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as the UTC-naive value UTCDateTimeField stores (whole seconds)."""
    if value is None:
        return None
    return value.astimezone(dt.UTC).replace(tzinfo=None, microsecond=0)


def quote(database: Any, identifier: str) -> str:
    """An identifier quoted for ``database`` (``key`` is reserved in MySQL)."""
    open_q, close_q = database.quote[0], database.quote[1]
    return f"{open_q}{identifier}{close_q}"


def rows_in(database: Any, sql: str, values: Sequence[Any], params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """Run ``sql`` (which holds ``{in}``, the place of ``IN (…)``) for ``values``, CHUNK at a time.

    Raw placeholders instead of a peewee expression per value: on the bulk
    paths (thousands of keys) building the query cost more than running it.
    """
    out: list[tuple[Any, ...]] = []
    param = database.param
    for start in range(0, len(values), CHUNK):
        part = list(values[start : start + CHUNK])
        text = sql.replace("{in}", "IN (" + ", ".join([param] * len(part)) + ")")
        out.extend(database.execute_sql(text, (*params, *part)).fetchall())
    return out


def existing_keys(keys: Sequence[str], database: Any = None) -> set[str]:
    """The ``origin_key`` values among ``keys`` that tasks already have."""
    from crm_core.storage import current_app

    database = database if database is not None else current_app().database
    return {k for (k,) in rows_in(database, "SELECT origin_key FROM tasks_task WHERE origin_key {in}", keys)}


def create_many(
    crm: CRM, drafts: Iterable[Draft], settings: TasksSettings, *, notify: bool = True, checked: bool = False
) -> list[tuple[Draft, int]]:
    """Create the drafts not created before; return ``(draft, task id)`` for each new one.

    Drafts with an ``origin_key`` are written with bulk inserts; drafts
    without one (tasks made by hand) one by one, to learn their id.
    ``checked`` says the caller has already left out the keys that exist
    (the rules do, through their firing log); the unique index on
    ``origin_key`` still refuses a duplicate.
    """
    from crm_hookspecs.events import TaskCreated
    from crm_tasks.models import ChecklistItem, Question, Task, TaskLink

    drafts = list(drafts)
    unkeyed = [d for d in drafts if d.origin_key is None]
    # one draft per key (a batch may repeat an event), minus those already made
    unique: dict[str, Draft] = {}
    for d in drafts:
        if d.origin_key is not None:
            unique.setdefault(d.origin_key, d)
    done = set() if checked else existing_keys(list(unique), crm.database)
    keyed = [d for k, d in unique.items() if k not in done]

    now = crm.clock.now().replace(microsecond=0)
    now_db = to_db(now)
    created: list[tuple[Draft, int]] = []

    def row(d: Draft) -> tuple[Any, ...]:
        return (
            d.title[:300],
            d.kind,
            d.description,
            d.assignee,
            d.team,
            to_db(d.due_at),
            d.priority,
            "open",
            d.contact_id,
            now_db,
            d.created_by,
            now_db if d.assignee else None,
            d.origin,
            d.origin_key,
            d.rule,
        )

    if keyed:
        database = crm.database
        # ids only grow: every row inserted below gets an id above today's largest
        before = database.execute_sql("SELECT MAX(id) FROM tasks_task").fetchone()[0] or 0
        bulk_insert(Task, _TASK_COLUMNS, (row(d) for d in keyed), database=database)
        wanted = {d.origin_key for d in keyed}
        ids = {
            k: i
            for i, k in database.execute_sql(
                f"SELECT id, origin_key FROM tasks_task WHERE id > {database.param}", (before,)
            ).fetchall()
            if k in wanted
        }
        created += [(d, ids[d.origin_key]) for d in keyed]
    for d in unkeyed:
        values = dict(zip(_TASK_COLUMNS, row(d)))
        task_id = Task.insert(**values).execute()
        created.append((d, int(task_id)))

    bulk_insert(
        ChecklistItem,
        ("task_id", "position", "text"),
        ((tid, i + 1, text[:500]) for d, tid in created for i, text in enumerate(d.checklist)),
        database=crm.database,
    )
    bulk_insert(
        Question,
        ("task_id", "position", "text"),
        ((tid, i + 1, text[:500]) for d, tid in created for i, text in enumerate(d.questions)),
        database=crm.database,
    )
    bulk_insert(
        TaskLink,
        ("task_id", "kind", "ref_id"),
        ((tid, kind, ref) for d, tid in created for kind, ref in dict.fromkeys(d.links)),
        database=crm.database,
    )
    crm.events.emit_many(
        TaskCreated(
            task_id=tid,
            kind=d.kind,
            title=d.title[:300],
            assignee=d.assignee,
            contact_id=d.contact_id,
            actor=d.created_by,
            channel="staff" if d.origin == "manual" else "system",
            occurred_at=now,
        )
        for d, tid in created
    )
    if notify and settings.reminders.on_assign:
        from crm_tasks import reminders

        reminders.notify_assigned(
            crm, settings, [(tid, d.assignee, d.title, d.due_at) for d, tid in created if d.assignee]
        )
    return created
