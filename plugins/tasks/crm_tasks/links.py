"""The tasks about other plugins' records, by record: what ``TasksAPI.linked_tasks`` answers (contract 1.4).

A task is linked to records through ``tasks_link`` rows (``kind``,
``ref_id``): a contact, a sales record (``sale``, ``request``), a survey
response (``survey_response``, linked by the rules that fire on
``SurveyAnswered``); a task's main contact is its ``contact_id``. One query
per :data:`CHUNK` ids (two for contacts: linked, and main contact), the
acting user's scope applied in SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from crm_core.errors import ValidationError
from crm_core.ids import check_id
from crm_core.storage import batched
from crm_hookspecs.records import TaskSummary

__all__ = ["CHUNK", "linked_tasks"]

CHUNK = 500


def _summary(row: Sequence[Any]) -> TaskSummary:
    task_id, title, kind, status, assignee, due_at, created_at, rule = row[:8]
    return TaskSummary(
        id=task_id,
        title=title,
        kind=kind,
        status=status,
        assignee=assignee,
        due_at=due_at,
        created_at=created_at,
        rule=rule,
    )


def linked_tasks(
    kind: str, ref_ids: Iterable[int], *, kinds: Sequence[str], scope: Callable[[Any], Any]
) -> dict[int, list[TaskSummary]]:
    """The tasks linked to each of ``ref_ids`` (records of ``kind``, one of ``kinds``), newest first, in ``scope``."""
    from crm_tasks.models import Task, TaskLink

    if kind not in kinds:
        raise ValidationError(f"unknown link kind {kind!r}; use one of {', '.join(kinds)}")
    if isinstance(ref_ids, (str, bytes)):
        raise ValidationError(f"ref_ids must be a list of {kind} ids, not the text {ref_ids!r:.40}")
    ids = sorted({check_id(i, kind) for i in ref_ids})
    columns = (Task.id, Task.title, Task.kind, Task.status, Task.assignee, Task.due_at, Task.created_at, Task.rule)
    found: dict[int, dict[int, tuple[Any, ...]]] = {}
    for part in batched(ids, CHUNK):
        queries = [
            Task.select(*columns, TaskLink.ref_id)
            .join(TaskLink)
            .where((TaskLink.kind == kind) & TaskLink.ref_id.in_(part))
        ]
        if kind == "contact":
            queries.append(Task.select(*columns, Task.contact_id).where(Task.contact_id.in_(part)))
        for query in queries:
            for row in scope(query).tuples().iterator():
                found.setdefault(int(row[8]), {})[row[0]] = row
    return {
        ref: [_summary(row) for row in sorted(rows.values(), key=lambda r: (r[6], r[0]), reverse=True)]
        for ref, rows in sorted(found.items())
    }
