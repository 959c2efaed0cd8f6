"""``crm.plugin("tasks")``: tasks, to-do lists, checklists, call sheets, rules, recurring templates.

:class:`TasksAPI` is a facade over the services that do the work, each in
its own module and built here with the services it needs:

* :class:`~crm_tasks.staff.Staff`: who tasks can be given to (the CRM users);
* :class:`~crm_tasks.store.TaskStore`: the tasks themselves;
* :class:`~crm_tasks.checklists.Checklists`: checklist items and call questions;
* :class:`~crm_tasks.notify.Notifications` and :class:`~crm_tasks.reminders.Reminders`: the e-mails;
* :class:`~crm_tasks.firing.RuleEngine`: the rules on events and changes, their delays and log;
* :class:`~crm_tasks.inactivity.InactivityScan`: the inactivity rules;
* :class:`~crm_tasks.recurring.RecurringTemplates`: recurring tasks.

Every public method checks the acting user's permission (``tasks.*``, see
:mod:`crm_tasks.permissions`) before delegating: a task's owner is its
assignee, listings and counts are limited to the user's scope in SQL, and
one task out of scope is a :class:`~crm_core.errors.PermissionDenied`. With
no user acting (the worker, a migration, embedding code) everything is
allowed. Every method that writes runs in its own transaction (or the
caller's), and raises a :class:`~crm_core.errors.CRMError` naming the bad
input and the fix.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.errors import NotFoundError, ValidationError
from crm_tasks.checklists import Checklists
from crm_tasks.firing import RuleEngine
from crm_tasks.inactivity import InactivityScan
from crm_tasks.links import linked_tasks
from crm_tasks.notify import Notifications
from crm_tasks.recurring import RecurringTemplates
from crm_tasks.reminders import Reminders
from crm_tasks.staff import Member, Staff
from crm_tasks.store import LINK_KINDS, STATUSES, TaskStateError, TaskStore

if TYPE_CHECKING:
    import peewee

    from crm_core.app import CRM
    from crm_hookspecs.records import TaskSummary
    from crm_tasks.records import FiringInfo, RecurringInfo, SentReminder, TaskInfo
    from crm_tasks.rules import RuleSet
    from crm_tasks.settings import TasksSettings

__all__ = ["LINK_KINDS", "STATUSES", "TaskStateError", "TasksAPI"]


class TasksAPI:
    """The tasks plugin's services. Get it with ``crm.plugin("tasks")``."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._staff = Staff(crm)
        self._notifications = Notifications(crm)
        self._reminders = Reminders(crm, self._staff, self._notifications)
        self._store = TaskStore(crm, self._staff, self._reminders)
        self._checklists = Checklists(crm, self._store)
        self._engine = RuleEngine(crm, self._staff, self._store, self._notifications)
        self._inactivity = InactivityScan(crm, self._staff, self._store, self._engine, self._notifications)
        self._recurring = RecurringTemplates(crm, self._staff, self._store)

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    # -- checks ------------------------------------------------------------------

    def _require(self, permission: str, task_id: int | None = None) -> None:
        """``permission``, over task ``task_id`` (its assignee is its owner) when given."""
        self.crm.authz.require(permission)  # first: without it, whether the task exists is not told
        if task_id is not None and self.crm.current_user is not None:
            self.crm.authz.require(permission, record_owner=self._store.assignee_of(task_id))

    def _scope(self, query: peewee.ModelSelect) -> peewee.ModelSelect:
        """``query`` limited, in SQL, to the tasks the acting user may read."""
        from crm_tasks.models import Task

        restricted: peewee.ModelSelect = self.crm.authz.restrict(query, "tasks.read", Task.assignee, owner_is="name")
        return restricted

    def _may_give_to(self, assignee: str | None) -> str | None:
        """``assignee`` as stored, if the acting user may give tasks to them (``tasks.edit`` over theirs)."""
        if assignee is None:
            return None
        name = self._staff.check_assignee(assignee)
        user = self.crm.current_user
        if user is None or name != user.name:  # one's own tasks need only tasks.create
            self.crm.authz.require("tasks.edit", record_owner=name)
        return name

    # -- people -------------------------------------------------------------------

    def staff(self) -> list[Member]:
        """The people tasks can be given to: the CRM users (or, while there are none, the configured staff)."""
        self._require("tasks.read")
        return self._staff.members()

    def teams(self) -> dict[str, list[str]]:
        """Team name → its members' names."""
        self._require("tasks.read")
        return self._staff.teams()

    # -- time ---------------------------------------------------------------------

    def parse_due(self, text: str, *, day_time: str | None = None) -> dt.datetime:
        """A due time from the user, in the app time zone (reads no data, so needs no permission).

        ``2026-03-02 10:00``, ``2026-03-02T10:00``, ``2026-03-02`` (at
        ``day_time``, by default ``default_due_time``), ``today``,
        ``tomorrow``, or ``+2d`` / ``+4h`` from now.
        """
        return self._store.parse_due(text, day_time=day_time)

    # -- tasks --------------------------------------------------------------------

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
        """Create a task; its assignee is e-mailed (if reminders.on_assign).

        Needs ``tasks.create``. A user who names no assignee gets the task;
        giving it to someone else needs ``tasks.edit`` over that person's
        tasks (so a ``sales`` user, whose scope is their own, cannot).
        """
        self._require("tasks.create")
        user = self.crm.current_user
        if assignee is None and user is not None:
            assignee = user.name
        with self._staff.remembering():  # the assignee is looked up once: checked here and by the store, e-mailed
            return self._store.add(
                title,
                kind=kind,
                assignee=self._may_give_to(assignee),
                team=team,
                due=due,
                priority=priority,
                description=description,
                contact_id=contact_id,
                links=links,
                checklist=checklist,
                questions=questions,
                actor=actor,
            )

    def get(self, task_id: int) -> TaskInfo:
        """One task with its checklist, questions, links and the reminders sent (``tasks.read``)."""
        self._require("tasks.read", task_id)
        return self._store.get(task_id)

    def linked_tasks(self, kind: str, ref_ids: Sequence[int]) -> dict[int, builtins.list[TaskSummary]]:
        """The tasks about records of other plugins, by record id, newest first (``tasks.read``; contract ``TasksAPI``).

        ``kind`` is one of :data:`LINK_KINDS`: ``contact`` (linked, or the
        task's main contact), ``sale``, ``request`` or ``survey_response``
        (the follow-up a rule made of an answer). Only the tasks in the
        user's scope are told; an id without any is left out.
        """
        self._require("tasks.read")
        with self.crm.activate():
            return linked_tasks(kind, ref_ids, kinds=LINK_KINDS, scope=self._scope)

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
        text: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> builtins.list[TaskInfo]:
        """Tasks the acting user may read, soonest due first (undated last), then by priority and id.

        ``status`` is ``open`` (the default), ``done``, ``cancelled``, or
        ``"all"`` (or ``None``) for every status, as the CLI's ``--status all``.
        ``text``: tasks with every word of it in their title, in any case.
        ``offset`` skips that many (for pages of ``limit``).
        """
        return self._store.list(
            assignee=assignee,
            team=team,
            status=status,
            contact_id=contact_id,
            kind=kind,
            due_before=due_before,
            due_after=due_after,
            unassigned=unassigned,
            rule=rule,
            text=text,
            limit=limit,
            offset=offset,
            scope=self._scope,
        )

    def count(
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
        text: str | None = None,
    ) -> int:
        """How many tasks :meth:`list` would give without a limit."""
        return self._store.count(
            assignee=assignee,
            team=team,
            status=status,
            contact_id=contact_id,
            kind=kind,
            due_before=due_before,
            due_after=due_after,
            unassigned=unassigned,
            rule=rule,
            text=text,
            scope=self._scope,
        )

    def todo(self, assignee: str | None = None) -> dict[str, builtins.list[TaskInfo]]:
        """An assignee's open tasks (the acting user's by default): ``overdue``, due ``today``, due ``this_week``.

        Days and weeks (Monday to Sunday) are those of the app time zone.
        Only the tasks the acting user may read are in it.
        """
        if assignee is None:
            user = self.crm.current_user
            if user is None:
                raise ValidationError("whose to-do list? name the assignee, e.g. crm tasks todo ana")
            assignee = user.name
        self._require("tasks.read")
        return self._store.todo(assignee, scope=self._scope)

    def reminders(
        self, recipient: str | None = None, *, since: dt.datetime | None = None, limit: int = 20
    ) -> builtins.list[SentReminder]:
        """The reminder e-mails sent to ``recipient`` (default: the acting user) newest first (``tasks.read``).

        From ``since`` (default: 7 days ago), at most ``limit``; each with its
        task as it is now (title, status, due time), so a reminder of a task
        since done says so. A reminder whose task the acting user may not read
        is left out.
        """
        if recipient is None:
            user = self.crm.current_user
            if user is None:
                raise ValidationError("whose reminders? name the recipient, e.g. reminders('ana')")
            recipient = user.name
        self._require("tasks.read")
        if since is None:
            since = self.crm.now() - dt.timedelta(days=7)
        return self._store.reminders_sent(recipient, since=since, limit=limit, scope=self._scope)

    def done(self, task_id: int, *, actor: str | None = None) -> TaskInfo:
        """Mark a task done (who, when) and emit ``TaskCompleted`` (``tasks.edit``)."""
        self._require("tasks.edit", task_id)
        return self._store.done(task_id, actor=actor)

    def reopen(self, task_id: int) -> TaskInfo:
        """Open a done or cancelled task again (``tasks.edit``)."""
        self._require("tasks.edit", task_id)
        return self._store.reopen(task_id)

    def cancel(self, task_id: int, *, actor: str | None = None, reason: str = "") -> TaskInfo:
        """Cancel an open task (who, when; the reason is added to its description) (``tasks.edit``)."""
        self._require("tasks.edit", task_id)
        return self._store.cancel(task_id, actor=actor, reason=reason)

    def delete(self, task_id: int) -> None:
        """Delete a task with its checklist, questions and links (``tasks.delete``)."""
        self._require("tasks.delete", task_id)
        self._store.delete(task_id)

    def assign(
        self, task_id: int, assignee: str | None = None, *, team: str | None = None, actor: str | None = None
    ) -> TaskInfo:
        """Give an open task to a user (e-mailed) and/or a team.

        Needs ``tasks.edit`` over the task and over the new assignee's tasks:
        handing a task to someone outside one's scope is refused.
        """
        self._require("tasks.edit", task_id)
        with self._staff.remembering():  # the new assignee is looked up once: checked, then e-mailed
            return self._store.assign(task_id, self._may_give_to(assignee), team=team, actor=actor)

    def reschedule(self, task_id: int, due: dt.datetime | dt.date | str | None) -> TaskInfo:
        """Move an open task's due time (its reminders are sent again for the new time) (``tasks.edit``)."""
        self._require("tasks.edit", task_id)
        return self._store.reschedule(task_id, due)

    def check(self, task_id: int, item: int | str, *, actor: str | None = None, undo: bool = False) -> TaskInfo:
        """Tick (or, with ``undo``, untick) one checklist item, by position (1…) or exact text (``tasks.edit``)."""
        self._require("tasks.edit", task_id)
        return self._checklists.check(task_id, item, actor=actor, undo=undo)

    def answer(self, task_id: int, question: int | str, answer: str, *, actor: str | None = None) -> TaskInfo:
        """Record the answer to one question of a call task, by position (1…) or exact text (``tasks.edit``)."""
        self._require("tasks.edit", task_id)
        return self._checklists.answer(task_id, question, answer, actor=actor)

    # -- rules (tasks.rules.read / tasks.rules.manage) -----------------------------------

    def rules(self) -> RuleSet:
        """The rules from the configuration and from plugins' ``crm_task_rules``, compiled."""
        self._require("tasks.rules.read")
        return self._engine.rules()

    def firings(self, rule: str | None = None, limit: int = 50) -> builtins.list[FiringInfo]:
        """The rules' firing log, newest first.

        A firing names the customer and the task it was about; a user whose
        ``tasks.read`` scope is not ``all`` sees when each rule fired and how,
        without those (they may be other people's customers).
        """
        self._require("tasks.rules.read")
        found = self._engine.firings(rule=rule, limit=limit)
        if self.crm.authz.scope("tasks.read") == "all":
            return found
        return [attrs.evolve(f, contact_id=None, task_id=None, detail="") for f in found]

    def test_rule(self, name: str, event: Any) -> builtins.list[dict[str, Any]]:
        """What rule ``name`` would do for ``event``, without doing it."""
        self._require("tasks.rules.read")
        rules = self._engine.rules()
        rule = rules.by_name.get(name)
        if rule is None:
            raise NotFoundError(
                f"no rule {name!r}; the rules are: {', '.join(rules.by_name) or 'none'} (crm tasks rules list)"
            )
        if rule.trigger == "inactivity":
            raise ValidationError(
                f"rule {name!r} is an inactivity rule; see what it would do with: crm tasks rules preview --rule {name}"
            )
        return self._engine.preview(rules.match([event], only=rule), check_done=False)

    def preview(
        self, *, rule: str | None = None, since: dt.datetime | None = None, limit: int = 1000
    ) -> builtins.list[dict[str, Any]]:
        """What the rules would create now from recent events and the inactivity scan, without creating it."""
        self._require("tasks.rules.read")
        rules = self._engine.rules()
        if rule is not None and rule not in rules.by_name:
            raise NotFoundError(f"no rule {rule!r}; the rules are: {', '.join(rules.by_name) or 'none'}")
        rows = self._engine.preview_recent(rule=rule, since=since, limit=limit)
        only = rules.by_name.get(rule) if rule else None
        if only is None or only.trigger == "inactivity":
            rows += self._inactivity.scan(rule=rule, dry_run=True)
        return rows

    def handle_events(self, events: Sequence[Any]) -> int:
        """Fire the rules for a batch of events (the plugin's event handler); return the firings.

        Checks no permission: the events are facts already recorded, and are
        handled the same whoever runs the delivery (normally the worker).
        """
        return self._engine.handle(events)

    def send_reminders(self) -> dict[str, int]:
        """Send the due-soon and overdue reminders that are due (the worker's job; a user needs ``tasks.rules.manage``)."""
        self._require("tasks.rules.manage")
        return self._reminders.run()

    def run_pending(self) -> int:
        """Carry out the delayed rule actions whose time has come (``tasks.rules.manage`` for a user)."""
        self._require("tasks.rules.manage")
        return self._engine.run_pending()

    def scan_inactivity(self, *, rule: str | None = None, dry_run: bool = False) -> builtins.list[dict[str, Any]] | int:
        """Fire the inactivity rules (``tasks.rules.manage``), or show what they would do (``dry_run``, ``tasks.rules.read``)."""
        self._require("tasks.rules.read" if dry_run else "tasks.rules.manage")
        return self._inactivity.scan(rule=rule, dry_run=dry_run)

    # -- recurring templates -------------------------------------------------------------

    def add_recurring(self, name: str, title: str, rrule: str, **kwargs: Any) -> RecurringInfo:
        """Add a recurring template (``tasks.rules.manage``); see :meth:`RecurringTemplates.add`."""
        self._require("tasks.rules.manage")
        return self._recurring.add(name, title, rrule, **kwargs)

    def edit_recurring(self, name: str, **changes: Any) -> RecurringInfo:
        """Change a template: title, rrule, kind, assignee, team, priority, description, checklist, lead, or
        ``active=False`` to pause it and ``True`` to resume it (``tasks.rules.manage``); see
        :meth:`RecurringTemplates.edit`."""
        self._require("tasks.rules.manage")
        return self._recurring.edit(name, **changes)

    def recurring(self) -> builtins.list[RecurringInfo]:
        """The recurring templates and their next occurrence (``tasks.rules.read``)."""
        self._require("tasks.rules.read")
        return self._recurring.list()

    def remove_recurring(self, name: str) -> None:
        """Delete a template; the tasks it created stay (``tasks.rules.manage``)."""
        self._require("tasks.rules.manage")
        self._recurring.remove(name)

    def run_recurring(self) -> int:
        """Create the occurrences whose lead time has come; return how many tasks (``tasks.rules.manage``)."""
        self._require("tasks.rules.manage")
        return self._recurring.run()
