"""Checklists and call questions: ticking a task's items, recording the answers to its questions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from crm_core.errors import ValidationError
from crm_tasks.store import TaskStateError

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.records import TaskInfo
    from crm_tasks.store import TaskStore

__all__ = ["Checklists"]


class Checklists:
    """The items and questions of the tasks of one app."""

    def __init__(self, crm: CRM, store: TaskStore) -> None:
        self.crm = crm
        self._store = store

    def check(self, task_id: int, item: int | str, *, actor: str | None = None, undo: bool = False) -> TaskInfo:
        """Tick (or, with ``undo``, untick) one checklist item, by position (1…) or exact text."""
        from crm_tasks.models import ChecklistItem

        actor = self._store.check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._store.open_for_update(task_id, "tick an item of")
            entry = self._find(ChecklistItem, task, item, "checklist item")
            if undo:
                ChecklistItem.update(done_at=None, done_by=None).where(ChecklistItem.id == entry.id).execute()
            elif entry.done_at is not None:
                raise TaskStateError(
                    f"item {entry.position} of task #{task_id} ({entry.text!r}) is already ticked"
                    + (f" by {entry.done_by}" if entry.done_by else "")
                )
            else:
                ChecklistItem.update(done_at=now, done_by=actor).where(ChecklistItem.id == entry.id).execute()
        return self._store.get(task_id)

    def answer(self, task_id: int, question: int | str, answer: str, *, actor: str | None = None) -> TaskInfo:
        """Record the answer to one question of a call task, by position (1…) or exact text."""
        from crm_tasks.models import Question

        actor = self._store.check_actor(actor)
        if not answer.strip():
            raise ValidationError("the answer is empty; write what the contact said")
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._store.open_for_update(task_id, "record an answer on")
            entry = self._find(Question, task, question, "question")
            Question.update(answer=answer.strip(), answered_at=now, answered_by=actor).where(
                Question.id == entry.id
            ).execute()
        return self._store.get(task_id)

    def _find(self, model: Any, task: Any, item: int | str, label: str) -> Any:
        rows = list(model.select().where(model.task == task.id).order_by(model.position))
        if not rows:
            raise ValidationError(f"task #{task.id} has no {label}s")
        if isinstance(item, int) or (isinstance(item, str) and item.isdigit()):
            position = int(item)
            for row in rows:
                if row.position == position:
                    return row
            raise ValidationError(
                f"task #{task.id} has no {label} {position}; its {label}s are numbered 1 to {len(rows)}"
            )
        for row in rows:
            if row.text == item:
                return row
        raise ValidationError(
            f"task #{task.id} has no {label} {item!r}; give its number (1 to {len(rows)}) or its exact text"
        )
