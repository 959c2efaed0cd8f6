"""``crm.plugin("tasks")``: tasks, to-do lists, checklists, call sheets.

Rules, recurring templates, reminders and the inactivity scan are reached
from here too (their work is done in their own modules). Every method that
writes runs in its own transaction (or the caller's), and raises a
:class:`~crm_core.errors.CRMError` naming the bad input and the fix.
"""

from __future__ import annotations

import builtins
import datetime as dt
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from crm_core.errors import NotFoundError, ValidationError
from crm_core.ids import check_id, is_id
from crm_tasks.records import ChecklistEntry, Draft, QuestionEntry, ReminderInfo, TaskInfo
from crm_tasks.settings import KINDS, PRIORITIES, parse_duration

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.rules import RuleSet
    from crm_tasks.settings import StaffMember, TasksSettings

__all__ = ["LINK_KINDS", "STATUSES", "TasksAPI", "TaskStateError"]

STATUSES = ("open", "done", "cancelled")
#: the most tasks one list call returns (the CLI's --limit has the same bound)
MAX_LIST = 100_000
LINK_KINDS = ("contact", "sale", "request")
_PRIORITY_NAME = {v: k for k, v in PRIORITIES.items()}
_RELATIVE = re.compile(r"^\+\s*(.+)$")


class TaskStateError(ValidationError):
    """The task is not in a state that allows this (ticking an item of a closed task)."""


class TasksAPI:
    """The tasks plugin's services. Get it with ``crm.plugin("tasks")``."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._rules: RuleSet | None = None

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    # -- staff ------------------------------------------------------------------

    def staff(self) -> list[StaffMember]:
        """The configured staff members."""
        return list(self.settings.staff)

    def teams(self) -> dict[str, list[str]]:
        """Team name → its members' names."""
        return {team: [m.name for m in members] for team, members in sorted(self.settings.teams.items())}

    def _check_assignee(self, assignee: str | None) -> str | None:
        if assignee is None:
            return None
        member = self.settings.member(assignee)
        if member is None:
            names = (
                ", ".join(m.name for m in self.settings.staff)
                or "none: add [[plugins.tasks.staff]] to the configuration"
            )
            raise ValidationError(f"unknown assignee {assignee!r:.80}: not a staff member (staff: {names})")
        if not member.active:
            raise ValidationError(
                f"assignee {assignee!r} is inactive (active = false in [[plugins.tasks.staff]]); choose another"
            )
        return assignee

    def _check_actor(self, actor: str | None) -> str | None:
        """Who acts is recorded as given, as the contacts and warehouse plugins do.

        It is not checked against the staff list: the CLI passes
        ``$CRM_USER`` or the login name, an embedding app its own user, and
        contacts accepts both; refusing them here alone made the same person
        able to edit a contact but not close its task. (Staff become kernel
        users in a later release, and then every plugin checks the same way.)
        Only its shape is checked, to fit the columns that keep it.
        """
        if actor is None:
            return None
        if not isinstance(actor, str) or not actor.strip() or len(actor) > 100:
            raise ValidationError(f"the one acting must be named by a text of 1 to 100 characters, not {actor!r:.60}")
        return actor

    def _check_team(self, team: str | None) -> str | None:
        if team is not None and team not in self.settings.teams:
            teams = ", ".join(sorted(self.settings.teams)) or "none: give staff members teams = [...]"
            raise ValidationError(f"unknown team {team!r} (teams: {teams})")
        return team

    # -- time -------------------------------------------------------------------

    def parse_due(self, text: str, *, day_time: str | None = None) -> dt.datetime:
        """A due time from the user, in the app time zone.

        ``2026-03-02 10:00``, ``2026-03-02T10:00``, ``2026-03-02`` (at
        ``day_time``, by default ``default_due_time``), ``today``,
        ``tomorrow``, or ``+2d`` / ``+4h`` from now.
        """
        value = text.strip()
        now = self.crm.now()
        relative = _RELATIVE.match(value)
        if relative:
            try:
                return (now + parse_duration(relative.group(1))).replace(second=0, microsecond=0)
            except ValueError as exc:
                raise ValidationError(f"due time {text!r}: {exc}") from None
        day: dt.date | None = None
        if value.lower() == "today":
            day = now.date()
        elif value.lower() == "tomorrow":
            day = now.date() + dt.timedelta(days=1)
        else:
            try:
                parsed = dt.datetime.fromisoformat(value)
            except ValueError:
                raise ValidationError(
                    f"due time {text!r} is not understood; write '2026-03-02 10:00', '2026-03-02', 'today', "
                    "'tomorrow' or '+2d'"
                ) from None
            if len(value) <= 10:
                day = parsed.date()
            elif parsed.tzinfo is None:
                return _localize(parsed, self.crm.tz)
            else:
                return parsed
        hour, minute = (int(p) for p in (day_time or self.settings.default_due_time).split(":"))
        return _localize(dt.datetime.combine(day, dt.time(hour, minute)), self.crm.tz)

    def _due(self, due: dt.datetime | dt.date | str | None) -> dt.datetime | None:
        if due is None:
            return None
        if isinstance(due, str):
            return self.parse_due(due)
        if isinstance(due, dt.datetime):
            return due if due.tzinfo is not None else _localize(due, self.crm.tz)
        if isinstance(due, dt.date):
            return self.parse_due(due.isoformat())
        raise ValidationError(f"due must be a datetime, a date or a string, not {type(due).__name__}")

    # -- creating -----------------------------------------------------------------

    def add(
        self,
        title: str,
        *,
        kind: str = "to-do",
        assignee: str | None = None,
        team: str | None = None,
        due: dt.datetime | dt.date | str | None = None,
        priority: str = "normal",
        description: str = "",
        contact_id: int | None = None,
        links: Iterable[tuple[str, int]] = (),
        checklist: Sequence[str] = (),
        questions: Sequence[str] = (),
        actor: str | None = None,
    ) -> TaskInfo:
        """Create a task; its assignee is e-mailed (if reminders.on_assign)."""
        from crm_tasks import store

        title = (title or "").strip()
        if not title:
            raise ValidationError('a task needs a title; give one, e.g. crm tasks add "Call back"')
        if len(title) > 300:
            raise ValidationError(
                f"the title is {len(title)} characters long; keep it to 300 (put the rest in the description)"
            )
        if kind not in KINDS:
            raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        if priority not in PRIORITIES:
            raise ValidationError(f"unknown priority {priority!r}; use one of {', '.join(PRIORITIES)}")
        if questions and kind != "call":
            raise ValidationError(f"questions belong to call tasks, not {kind!r} ones; use --kind call")
        for label, items in (("checklist item", checklist), ("question", questions)):
            for item in items:
                if not item.strip():
                    raise ValidationError(f"an empty {label} was given; remove it or write its text")
                if len(item) > 500:
                    raise ValidationError(f"a {label} is {len(item)} characters long; keep it to 500")
        links = tuple(self._check_links(links))
        if contact_id is not None:
            self._check_contacts([contact_id])
        draft = Draft(
            title=title,
            kind=kind,
            assignee=self._check_assignee(assignee),
            team=self._check_team(team),
            due_at=self._due(due),
            priority=PRIORITIES[priority],
            description=description,
            contact_id=contact_id,
            links=links,
            checklist=tuple(i.strip() for i in checklist),
            questions=tuple(q.strip() for q in questions),
            origin="manual",
            created_by=self._check_actor(actor),
        )
        with self.crm.transaction():
            ((_, task_id),) = store.create_many(self.crm, [draft], self.settings)
        return self.get(task_id)

    def _check_links(self, links: Iterable[tuple[str, int]]) -> Iterable[tuple[str, int]]:
        contacts = []
        for kind, ref in links:
            if kind not in LINK_KINDS:
                raise ValidationError(f"unknown link kind {kind!r}; use one of {', '.join(LINK_KINDS)} (e.g. sale:42)")
            if not isinstance(ref, int) or ref < 1:
                raise ValidationError(f"link {kind}:{ref!r}: the id must be a positive whole number")
            if kind == "contact":
                contacts.append(ref)
            yield kind, ref
        if contacts:
            self._check_contacts(contacts)

    def _check_contacts(self, ids: Sequence[int]) -> None:
        """Unknown contacts are refused when the contacts plugin can tell."""
        if not self.crm.has_plugin("contacts"):
            return
        found = {c.id for c in self.crm.plugin("contacts").cards(list(ids))}
        missing = [i for i in ids if i not in found]
        if missing:
            raise NotFoundError(f"no contact with id {missing[0]}; find the id with: crm contacts list")

    # -- reading ------------------------------------------------------------------

    def _row(self, task_id: int) -> Any:
        from crm_tasks.models import Task

        if not isinstance(task_id, int) or isinstance(task_id, bool):
            raise ValidationError(f"a task id is a whole number, not {task_id!r}")
        if not is_id(task_id):  # past what the database holds: no task can have it
            raise NotFoundError(f"no task #{task_id}; list the tasks with: crm tasks list")
        with self.crm.activate():
            task = Task.get_or_none(Task.id == task_id)
        if task is None:
            raise NotFoundError(f"no task #{task_id}; list the tasks with: crm tasks list")
        return task

    def get(self, task_id: int) -> TaskInfo:
        """One task with its checklist, questions, links and the reminders sent."""
        from crm_tasks.models import ChecklistItem, Question, Reminder, TaskLink

        task = self._row(task_id)
        with self.crm.activate():
            checklist = tuple(
                ChecklistEntry(i.position, i.text, i.done_at, i.done_by)
                for i in ChecklistItem.select().where(ChecklistItem.task == task.id).order_by(ChecklistItem.position)
            )
            questions = tuple(
                QuestionEntry(q.position, q.text, q.answer, q.answered_at, q.answered_by)
                for q in Question.select().where(Question.task == task.id).order_by(Question.position)
            )
            links = tuple(
                (link.kind, link.ref_id)
                for link in TaskLink.select().where(TaskLink.task == task.id).order_by(TaskLink.id)
            )
            reminders = tuple(
                ReminderInfo(r.kind, r.recipient, r.subject, r.sent_at)
                for r in Reminder.select().where(Reminder.task == task.id).order_by(Reminder.id)
            )
        return _info(task, links=links, checklist=checklist, questions=questions, reminders=reminders)

    def list(
        self,
        *,
        assignee: str | None = None,
        team: str | None = None,
        status: str | None = "open",
        contact_id: int | None = None,
        kind: str | None = None,
        due_before: dt.datetime | None = None,
        due_after: dt.datetime | None = None,
        unassigned: bool = False,
        rule: str | None = None,
        limit: int | None = None,
    ) -> list[TaskInfo]:
        """Tasks, soonest due first (undated last), then by priority and id.

        ``status`` is ``open`` (the default), ``done``, ``cancelled``, or
        ``"all"`` (or ``None``) for every status, as the CLI's ``--status all``.
        """
        from crm_tasks.models import Task, TaskLink

        if status == "all":
            status = None
        if status is not None and status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}, or all")
        if contact_id is not None:
            contact_id = check_id(contact_id, "contact")
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST):
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to {MAX_LIST}")
        if kind is not None and kind not in KINDS:
            raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        query = Task.select()
        if status is not None:
            query = query.where(Task.status == status)
        if assignee is not None:
            query = query.where(Task.assignee == assignee)
        if unassigned:
            query = query.where(Task.assignee.is_null())
        if team is not None:
            query = query.where(Task.team == team)
        if kind is not None:
            query = query.where(Task.kind == kind)
        if rule is not None:
            query = query.where(Task.rule == rule)
        if contact_id is not None:
            linked = TaskLink.select(TaskLink.task).where(
                (TaskLink.kind == "contact") & (TaskLink.ref_id == contact_id)
            )
            query = query.where((Task.contact_id == contact_id) | Task.id.in_(linked))
        if due_before is not None:
            query = query.where(Task.due_at < due_before)
        if due_after is not None:
            query = query.where(Task.due_at >= due_after)
        query = query.order_by(Task.due_at.is_null(), Task.due_at, Task.priority.desc(), Task.id)
        if limit is not None:
            query = query.limit(limit)
        with self.crm.activate():
            return [_info(t) for t in query]

    def todo(self, assignee: str) -> dict[str, builtins.list[TaskInfo]]:
        """An assignee's open tasks: ``overdue``, due ``today`` and due ``this_week`` (later this week).

        Days and weeks (Monday to Sunday) are those of the app time zone.
        """
        self._check_assignee_known(assignee)
        now = self.crm.now()
        tomorrow = _localize(dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time()), self.crm.tz)
        next_monday = now.date() + dt.timedelta(days=7 - now.weekday())
        week_end = _localize(dt.datetime.combine(next_monday, dt.time()), self.crm.tz)
        tasks = self.list(assignee=assignee, due_before=week_end)
        out: dict[str, list[TaskInfo]] = {"overdue": [], "today": [], "this_week": []}
        for task in tasks:
            assert task.due_at is not None  # due_before leaves out the tasks without a due date
            if task.due_at < now:
                out["overdue"].append(task)
            elif task.due_at < tomorrow:
                out["today"].append(task)
            else:
                out["this_week"].append(task)
        return out

    def _check_assignee_known(self, name: str) -> None:
        if self.settings.member(name) is None:
            names = ", ".join(m.name for m in self.settings.staff) or "none configured"
            raise ValidationError(f"unknown staff member {name!r:.80} (staff: {names})")

    # -- changing -----------------------------------------------------------------

    def _open_for_update(self, task_id: int, doing: str) -> Any:
        from crm_core.storage import for_update
        from crm_tasks.models import Task

        self._row(task_id)  # NotFoundError before the transaction
        task = for_update(Task.select().where(Task.id == task_id), self.crm.database).get()
        if task.status != "open":
            when = task.closed_at.astimezone(self.crm.tz).strftime("%Y-%m-%d %H:%M") if task.closed_at else "?"
            by = f" by {task.closed_by}" if task.closed_by else ""
            raise TaskStateError(f"task #{task_id} is {task.status} ({when}{by}); cannot {doing} a closed task")
        return task

    def done(self, task_id: int, *, actor: str | None = None) -> TaskInfo:
        """Mark a task done (who, when) and emit ``TaskCompleted``."""
        from crm_hookspecs.events import TaskCompleted
        from crm_tasks.models import Task

        actor = self._check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._open_for_update(task_id, "complete")
            Task.update(status="done", closed_at=now, closed_by=actor).where(Task.id == task.id).execute()
            self.crm.emit(
                TaskCompleted(
                    task_id=task.id,
                    kind=task.kind,
                    assignee=task.assignee,
                    contact_id=task.contact_id,
                    actor=actor,
                    channel="staff",
                    occurred_at=now,
                )
            )
        return self.get(task_id)

    def cancel(self, task_id: int, *, actor: str | None = None, reason: str = "") -> TaskInfo:
        """Cancel an open task (who, when; the reason is added to its description)."""
        from crm_tasks.models import Task

        actor = self._check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._open_for_update(task_id, "cancel")
            values: dict[str, Any] = {"status": "cancelled", "closed_at": now, "closed_by": actor}
            if reason:
                values["description"] = (task.description + "\n\n" if task.description else "") + f"Cancelled: {reason}"
            Task.update(**values).where(Task.id == task.id).execute()
        return self.get(task_id)

    def assign(
        self, task_id: int, assignee: str | None = None, *, team: str | None = None, actor: str | None = None
    ) -> TaskInfo:
        """Give an open task to a staff member (e-mailed) and/or a team."""
        from crm_tasks.models import Task

        if assignee is None and team is None:
            raise ValidationError("name an assignee or a team (or both)")
        assignee = self._check_assignee(assignee)
        team = self._check_team(team)
        actor = self._check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._open_for_update(task_id, "assign")
            values: dict[str, Any] = {}
            if team is not None:
                values["team"] = team
            if assignee is not None and assignee != task.assignee:
                values.update(assignee=assignee, assigned_at=now, reminded_due_at=None, overdue_notified_at=None)
            if values:
                Task.update(**values).where(Task.id == task.id).execute()
            if "assignee" in values and self.settings.reminders.on_assign:
                from crm_tasks import reminders

                reminders.notify_assigned(
                    self.crm, self.settings, [(task.id, values["assignee"], task.title, task.due_at)]
                )
        return self.get(task_id)

    def reschedule(self, task_id: int, due: dt.datetime | dt.date | str | None) -> TaskInfo:
        """Move an open task's due time (its reminders are sent again for the new time)."""
        from crm_tasks.models import Task

        due_at = self._due(due)
        with self.crm.transaction():
            task = self._open_for_update(task_id, "reschedule")
            Task.update(due_at=due_at).where(Task.id == task.id).execute()
        return self.get(task_id)

    def check(self, task_id: int, item: int | str, *, actor: str | None = None, undo: bool = False) -> TaskInfo:
        """Tick (or, with ``undo``, untick) one checklist item, by position (1…) or exact text."""
        from crm_tasks.models import ChecklistItem

        actor = self._check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._open_for_update(task_id, "tick an item of")
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
        return self.get(task_id)

    def answer(self, task_id: int, question: int | str, answer: str, *, actor: str | None = None) -> TaskInfo:
        """Record the answer to one question of a call task, by position (1…) or exact text."""
        from crm_tasks.models import Question

        actor = self._check_actor(actor)
        if not answer.strip():
            raise ValidationError("the answer is empty; write what the contact said")
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self._open_for_update(task_id, "record an answer on")
            entry = self._find(Question, task, question, "question")
            Question.update(answer=answer.strip(), answered_at=now, answered_by=actor).where(
                Question.id == entry.id
            ).execute()
        return self.get(task_id)

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

    # -- rules, recurring, scans (see their modules) -----------------------------

    def rules(self) -> RuleSet:
        """The rules from the configuration and from plugins' ``crm_task_rules``, compiled."""
        if self._rules is None:
            from crm_tasks.firing import load_rules

            self._rules = load_rules(self.crm, self.settings)
        return self._rules

    def firings(self, rule: str | None = None, limit: int = 50) -> builtins.list[Any]:
        from crm_tasks.firing import firings

        return firings(self.crm, rule=rule, limit=limit)

    def test_rule(self, name: str, event: Any) -> builtins.list[dict[str, Any]]:
        """What rule ``name`` would do for ``event``, without doing it."""
        from crm_tasks.firing import preview

        rules = self.rules()
        rule = rules.by_name.get(name)
        if rule is None:
            raise NotFoundError(
                f"no rule {name!r}; the rules are: {', '.join(rules.by_name) or 'none'} (crm tasks rules list)"
            )
        if rule.trigger == "inactivity":
            raise ValidationError(
                f"rule {name!r} is an inactivity rule; see what it would do with: crm tasks rules preview --rule {name}"
            )
        return preview(self.crm, self.settings, rules.match([event], only=rule), check_done=False)

    def preview(
        self, *, rule: str | None = None, since: dt.datetime | None = None, limit: int = 1000
    ) -> builtins.list[dict[str, Any]]:
        """What the rules would create now from recent events and the inactivity scan, without creating it."""
        from crm_tasks.firing import preview_recent

        rules = self.rules()
        if rule is not None and rule not in rules.by_name:
            raise NotFoundError(f"no rule {rule!r}; the rules are: {', '.join(rules.by_name) or 'none'}")
        return preview_recent(self.crm, self.settings, rules, rule=rule, since=since, limit=limit)

    def handle_events(self, events: Sequence[Any]) -> int:
        """Fire the rules for a batch of events (the plugin's event handler); return the firings."""
        from crm_tasks.firing import handle

        return handle(self.crm, self.settings, self.rules(), events)

    def send_reminders(self) -> dict[str, int]:
        from crm_tasks import reminders

        return reminders.run(self.crm, self.settings)

    def run_pending(self) -> int:
        """Carry out the delayed rule actions whose time has come."""
        from crm_tasks.firing import run_pending

        return run_pending(self.crm, self.settings, self.rules())

    def scan_inactivity(self, *, rule: str | None = None, dry_run: bool = False) -> builtins.list[dict[str, Any]] | int:
        from crm_tasks.inactivity import scan

        return scan(self.crm, self.settings, self.rules(), rule=rule, dry_run=dry_run)

    # recurring templates
    def add_recurring(self, name: str, title: str, rrule: str, **kwargs: Any) -> Any:
        from crm_tasks import recurring

        return recurring.add(self, name, title, rrule, **kwargs)

    def recurring(self) -> builtins.list[Any]:
        from crm_tasks import recurring

        return recurring.list_templates(self)

    def remove_recurring(self, name: str) -> None:
        from crm_tasks import recurring

        recurring.remove(self, name)

    def run_recurring(self) -> int:
        """Create the occurrences whose lead time has come; return how many tasks."""
        from crm_tasks import recurring

        return recurring.run(self)


def _localize(naive: dt.datetime, tz: Any) -> dt.datetime:
    """A wall-clock time in ``tz`` as an aware datetime (a skipped time moves forward)."""
    aware = naive.replace(tzinfo=tz)
    # round-trip through UTC: a wall time skipped by a DST jump comes back shifted
    return aware.astimezone(dt.UTC).astimezone(tz)


def _info(task: Any, **children: Any) -> TaskInfo:
    return TaskInfo(
        id=task.id,
        title=task.title,
        kind=task.kind,
        status=task.status,
        priority=_PRIORITY_NAME.get(task.priority, str(task.priority)),
        assignee=task.assignee,
        team=task.team,
        due_at=task.due_at,
        contact_id=task.contact_id,
        description=task.description,
        created_at=task.created_at,
        created_by=task.created_by,
        closed_at=task.closed_at,
        closed_by=task.closed_by,
        origin=task.origin,
        rule=task.rule,
        **children,
    )
