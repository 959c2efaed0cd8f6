"""The tasks plugin's side of contact merges and GDPR export and erasure (the personal-data hooks).

The kernel and the contacts plugin check who may export, erase or merge a
contact before these run, so they read and write without the tasks
permissions of the user who asked.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_core.storage import batched

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["erase", "export", "merged", "unmerged"]

ERASED_TITLE = "(task about an erased contact)"
ERASED_NOTICE = "(notice about an erased contact)"


def _task_ids(contact_id: int) -> list[int]:
    from crm_tasks.models import Task, TaskLink

    linked = TaskLink.select(TaskLink.task).where((TaskLink.kind == "contact") & (TaskLink.ref_id == contact_id))
    return [
        i
        for (i,) in Task.select(Task.id)
        .where((Task.contact_id == contact_id) | Task.id.in_(linked))
        .order_by(Task.id)
        .tuples()
        .iterator()
    ]


def export(crm: CRM, contact_id: int) -> dict[str, Any] | None:
    """Every task about the contact, with checklists and call answers, JSON-ready."""
    import attrs

    from crm_tasks.store import task_info

    with crm.activate():
        ids = _task_ids(contact_id)
    if not ids:
        return None

    def plain(value: Any) -> Any:
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return value

    tasks = [attrs.asdict(task_info(crm, i), value_serializer=lambda _inst, _field, v: plain(v)) for i in ids]
    return {"tasks": tasks}


def erase(crm: CRM, contact_id: int) -> int:
    """Remove what identifies the person from the tasks about him; return how many records.

    Titles and descriptions (often made from the contact's name) are
    replaced, and so are the subjects of the reminders sent about them and
    of the rule notifications about him (the kernel's mail queue keeps its
    own copy, which the kernel erases), call answers removed, delayed rule
    actions carrying the event dropped (or, once carried out, emptied of
    the event), and the activity the plugin kept forgotten. The tasks stay, so
    the team's history of work done keeps its counts.
    """
    from crm_tasks.models import Activity, Pending, Question, Reminder, Task

    ids = _task_ids(contact_id)
    count: int = 0
    for chunk in batched(ids, 500):
        count += Task.update(title=ERASED_TITLE, description="").where(Task.id.in_(chunk)).execute()
        count += Reminder.update(subject=ERASED_TITLE).where(Reminder.task.in_(chunk)).execute()
        count += Question.update(answer=None).where(Question.task.in_(chunk) & Question.answer.is_null(False)).execute()
    count += Pending.delete().where((Pending.contact_id == contact_id) & Pending.done_at.is_null()).execute()
    # delayed actions carried out keep their row (the rule and event key make them
    # run once) but not the event they carried, which held his fields
    count += (
        Pending.update(payload="{}")
        .where((Pending.contact_id == contact_id) & Pending.done_at.is_null(False))
        .execute()
    )
    count += _erase_notices(contact_id)
    count += Activity.delete().where(Activity.contact_id == contact_id).execute()
    return count


def _erase_notices(contact_id: int) -> int:
    """The subjects of rule notifications about him: they name no task, but their firing names him."""
    from crm_tasks.models import Firing, Reminder

    count: int = 0
    firings = list(Firing.select(Firing.rule, Firing.key).where(Firing.contact_id == contact_id).tuples().iterator())
    for rule, key in firings:
        # the notice's key is tasks:rule:<rule>:<event key>:<staff name> (see firing.py)
        prefix = f"tasks:rule:{rule}:{key}:"
        count += (
            Reminder.update(subject=ERASED_NOTICE)
            .where(Reminder.task.is_null() & (Reminder.kind == "rule") & Reminder.key.startswith(prefix))
            .execute()
        )
    return count


def merged(crm: CRM, survivor_id: int, merged_id: int) -> dict[str, list[int]]:
    """Point the merged contact's tasks and links at the survivor; return what moved."""
    from crm_tasks.models import Task, TaskLink

    tasks = [i for (i,) in Task.select(Task.id).where(Task.contact_id == merged_id).tuples().iterator()]
    links = [
        i
        for (i,) in TaskLink.select(TaskLink.id)
        .where((TaskLink.kind == "contact") & (TaskLink.ref_id == merged_id))
        .tuples()
        .iterator()
    ]
    for chunk in batched(tasks, 500):
        Task.update(contact_id=survivor_id).where(Task.id.in_(chunk)).execute()
    for chunk in batched(links, 500):
        TaskLink.update(ref_id=survivor_id).where(TaskLink.id.in_(chunk)).execute()
    return {"tasks_task": tasks, "tasks_link": links}


def unmerged(crm: CRM, survivor_id: int, merged_id: int, moved: dict[str, list[int]]) -> None:
    """Point exactly the rows :func:`merged` moved back at the merged contact."""
    from crm_tasks.models import Task, TaskLink

    tasks = list(moved.get("tasks_task", ()))
    links = list(moved.get("tasks_link", ()))
    for chunk in batched(tasks, 500):
        Task.update(contact_id=merged_id).where(Task.id.in_(chunk) & (Task.contact_id == survivor_id)).execute()
    for chunk in batched(links, 500):
        TaskLink.update(ref_id=merged_id).where(TaskLink.id.in_(chunk) & (TaskLink.ref_id == survivor_id)).execute()
