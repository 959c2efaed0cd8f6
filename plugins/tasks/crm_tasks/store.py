"""The tasks themselves: creating (one at a time or in bulk), reading, listing, closing, changing.

:meth:`TaskStore.create_many` is the one path that writes tasks, for rules,
templates, the inactivity scan and the API: a few set-based statements (one
bulk insert per table, one ``TaskCreated`` batch through ``emit_many``),
skipping drafts whose ``origin_key`` already exists, so a rule or template
that runs twice creates nothing the second time.

Nothing here checks permissions: :class:`crm_tasks.api.TasksAPI` does, before
it calls in (and the worker's jobs, which run as the system, need none).
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.clock import naive_utc
from crm_core.errors import NotFoundError, ValidationError
from crm_core.ids import check_id, is_id
from crm_core.storage import batched, bulk_insert, dialect, insert_returning
from crm_tasks.due import as_due, localize, parse_due
from crm_tasks.records import ChecklistEntry, Draft, QuestionEntry, ReminderInfo, SentReminder, TaskInfo
from crm_tasks.settings import KINDS, PRIORITIES

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.notify import Notice
    from crm_tasks.reminders import Reminders
    from crm_tasks.settings import TasksSettings
    from crm_tasks.staff import Staff

__all__ = [
    "LINK_KINDS",
    "MAX_LIST",
    "STATUSES",
    "TaskStateError",
    "TaskStore",
    "bound_time",
    "db_time",
    "existing_keys",
    "quote",
    "rows_in",
    "task_info",
    "task_row",
]

STATUSES = ("open", "done", "cancelled")
#: the most tasks one list call returns (the CLI's --limit has the same bound)
MAX_LIST = 100_000
#: the records a task can be linked to (a survey response: by a rule on SurveyAnswered, such as a follow-up)
LINK_KINDS = ("contact", "sale", "request", "survey_response")
CHUNK = 500
_PRIORITY_NAME = {v: k for k, v in PRIORITIES.items()}


@attrs.frozen
class _Created:
    """What creating tasks wrote: ``(draft, id)`` of each new task, the rows of those made one by one, the notices."""

    created: list[tuple[Draft, int]]
    stored: dict[int, dict[str, Any]]
    notices: list[Notice]


#: the columns of a task that a TaskInfo shows
_INFO_COLUMNS = (
    "id",
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
    "closed_at",
    "closed_by",
    "origin",
    "rule",
)

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


def db_time(value: dt.datetime | None) -> dt.datetime | None:
    """An aware datetime as the naive UTC value raw SQL compares with stored columns (whole seconds)."""
    return None if value is None else naive_utc(value.replace(microsecond=0))


def bound_time(database: Any, value: dt.datetime) -> Any:
    """A naive UTC time as the driver binds it: on SQLite the text its datetime adapter makes of it.

    For a value that every row of a bulk insert shares: converted once, where
    the driver would convert it again for every row (four times per task on
    the inactivity scan). Other drivers take the datetime as it is.
    """
    if dialect(database) == "sqlite":
        import sqlite3

        adapt = sqlite3.adapters.get((dt.datetime, sqlite3.PrepareProtocol))
        if adapt is not None:
            return adapt(value)
    return value


class TaskStateError(ValidationError):
    """The task is not in a state that allows this (ticking an item of a closed task)."""


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
    for part in batched(values, CHUNK):
        text = sql.replace("{in}", "IN (" + ", ".join([param] * len(part)) + ")")
        out.extend(database.execute_sql(text, (*params, *part)).fetchall())
    return out


def existing_keys(keys: Sequence[str], database: Any = None) -> set[str]:
    """The ``origin_key`` values among ``keys`` that tasks already have."""
    from crm_core.storage import current_app

    database = database if database is not None else current_app().database
    return {k for (k,) in rows_in(database, "SELECT origin_key FROM tasks_task WHERE origin_key {in}", keys)}


class TaskStore:
    """The tasks of one app."""

    def __init__(self, crm: CRM, staff: Staff, reminders: Reminders) -> None:
        self.crm = crm
        self._staff = staff
        self._reminders = reminders

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    def parse_due(self, text: str, *, day_time: str | None = None) -> dt.datetime:
        """A due time from the user, in the app time zone (see :func:`crm_tasks.due.parse_due`)."""
        return parse_due(self.crm, text, day_time=day_time or self.settings.default_due_time)

    def due(self, due: dt.datetime | dt.date | str | None) -> dt.datetime | None:
        """``due`` as an aware datetime (``None`` stays ``None``)."""
        return as_due(self.crm, due, self.settings.default_due_time)

    def check_actor(self, actor: str | None) -> str | None:
        """Who acts: ``actor`` when given (as before users existed), else the acting user's name.

        Only its shape is checked, to fit the columns that keep it; ``None``
        is the system (the worker, a rule).
        """
        if actor is None:
            user = self.crm.current_user
            return user.name if user is not None else None
        if not isinstance(actor, str) or not actor.strip() or len(actor) > 100:
            raise ValidationError(f"the one acting must be named by a text of 1 to 100 characters, not {actor!r:.60}")
        return actor

    # -- creating -----------------------------------------------------------------

    def create_many(
        self, drafts: Iterable[Draft], *, notify: bool = True, checked: bool = False
    ) -> builtins.list[tuple[Draft, int]]:
        """Create the drafts not created before; return ``(draft, task id)`` for each new one.

        Drafts with an ``origin_key`` are written with bulk inserts; drafts
        without one (tasks made by hand) one by one, to learn their id.
        ``checked`` says the caller has already left out the keys that exist
        (the rules do, through their firing log); the unique index on
        ``origin_key`` still refuses a duplicate.
        """
        return self._create(drafts, notify=notify, checked=checked).created

    def _create(self, drafts: Iterable[Draft], *, notify: bool, checked: bool) -> _Created:
        from crm_hookspecs.events import TaskCreated
        from crm_tasks.models import ChecklistItem, Question, Task, TaskLink

        crm = self.crm
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
        created: builtins.list[tuple[Draft, int]] = []
        database = crm.database
        # the rows in their stored form (naive UTC times), so that the bulk insert by table name
        # converts nothing: per value, the model fields' db_value cost more than the insert itself
        stored_now = naive_utc(now)

        def row(d: Draft, created_at: Any, due: Callable[[dt.datetime], Any]) -> tuple[Any, ...]:
            return (
                d.title[:300],
                d.kind,
                d.description,
                d.assignee,
                d.team,
                due(d.due_at) if d.due_at is not None else None,
                d.priority,
                "open",
                d.contact_id,
                created_at,
                d.created_by,
                created_at if d.assignee else None,
                d.origin,
                d.origin_key,
                d.rule,
            )

        if keyed:
            # the batch's times as the driver binds them, made once: the drafts of a rule share
            # their due time (the same object), and every row its creation time
            bound_now = bound_time(database, stored_now)
            due_seen: list[Any] = [None, None]

            def bound_due(due_at: dt.datetime) -> Any:
                if due_at is not due_seen[0]:
                    due_seen[:] = [due_at, bound_time(database, naive_utc(due_at))]
                return due_seen[1]

            # ids only grow: every row inserted below gets an id above today's largest
            before = database.execute_sql("SELECT MAX(id) FROM tasks_task").fetchone()[0] or 0
            bulk_insert(
                Task._meta.table_name, _TASK_COLUMNS, (row(d, bound_now, bound_due) for d in keyed), database=database
            )
            if dialect(database) == "sqlite" and (
                database.execute_sql("SELECT MAX(id) FROM tasks_task").fetchone()[0] == before + len(keyed)
            ):
                # SQLite gives each new row the largest id plus one, and no other writer ran meanwhile
                # (write transactions take turns): the rows got before + 1 … before + n, in their order.
                # Their largest id says so (ids at random, past the largest possible, would not end there)
                created += zip(keyed, range(before + 1, before + 1 + len(keyed)))
            else:
                wanted = {d.origin_key for d in keyed}
                ids = {
                    k: i
                    for i, k in database.execute_sql(
                        f"SELECT id, origin_key FROM tasks_task WHERE id > {database.param}", (before,)
                    ).fetchall()
                    if k in wanted
                }
                created += [(d, ids[d.origin_key]) for d in keyed]
        stored: dict[int, dict[str, Any]] = {}
        for d in unkeyed:
            # the row comes back as stored, in the same statement where the database can (INSERT … RETURNING)
            values = dict(
                zip(
                    _INFO_COLUMNS,
                    insert_returning(Task, dict(zip(_TASK_COLUMNS, row(d, stored_now, naive_utc))), _INFO_COLUMNS),
                )
            )
            stored[values["id"]] = values
            created.append((d, int(values["id"])))

        # the tasks with a checklist, questions or links, in one pass (a scan's have none)
        parents = [(d, tid) for d, tid in created if d.checklist or d.questions or d.links]
        bulk_insert(
            ChecklistItem,
            ("task_id", "position", "text"),
            ((tid, i + 1, text[:500]) for d, tid in parents for i, text in enumerate(d.checklist)),
            database=crm.database,
        )
        bulk_insert(
            Question,
            ("task_id", "position", "text"),
            ((tid, i + 1, text[:500]) for d, tid in parents for i, text in enumerate(d.questions)),
            database=crm.database,
        )
        bulk_insert(
            TaskLink,
            ("task_id", "kind", "ref_id"),
            ((tid, kind, ref) for d, tid in parents for kind, ref in dict.fromkeys(d.links)),
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
        notices: builtins.list[Notice] = []
        if notify and self.settings.reminders.on_assign:
            notices = self._reminders.notify_assigned(
                [(tid, d.assignee, d.title, d.due_at) for d, tid in created if d.assignee]
            )
        return _Created(created, stored, notices)

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
            assignee=self._staff.check_assignee(assignee),
            team=self._staff.check_team(team),
            due_at=self.due(due),
            priority=PRIORITIES[priority],
            description=description,
            contact_id=contact_id,
            links=links,
            checklist=tuple(i.strip() for i in checklist),
            questions=tuple(q.strip() for q in questions),
            origin="manual",
            created_by=self.check_actor(actor),
        )
        with self.crm.transaction():
            made = self._create([draft], notify=True, checked=False)
        # what was written, not read back: the row as the insert returned it, the rest as given
        ((_, task_id),) = made.created
        return _info(
            SimpleNamespace(**made.stored[task_id]),
            links=tuple(dict.fromkeys(draft.links)),
            checklist=tuple(ChecklistEntry(i + 1, text[:500]) for i, text in enumerate(draft.checklist)),
            questions=tuple(QuestionEntry(i + 1, text[:500]) for i, text in enumerate(draft.questions)),
            reminders=tuple(
                ReminderInfo(n.kind, n.member.name, n.subject[:300], n.sent_at.astimezone(dt.UTC))
                for n in made.notices
                if n.task_id == task_id and n.sent_at is not None
            ),
        )

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
        return task_row(self.crm, task_id)

    def get(self, task_id: int) -> TaskInfo:
        """One task with its checklist, questions, links and the reminders sent."""
        return task_info(self.crm, task_id)

    def select(
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
        scope: Callable[[Any], Any] | None = None,
    ) -> Any:
        """The query for the tasks that match, soonest due first (undated last), then by priority and id.

        ``status`` is ``open`` (the default), ``done``, ``cancelled``, or
        ``"all"`` (or ``None``) for every status. ``text``: every word of it
        is somewhere in the title, in any case (``%`` and ``_`` are themselves).
        ``scope`` narrows the query further (the API passes the acting user's
        scope, applied in SQL).
        """
        import peewee

        from crm_tasks.models import Task, TaskLink

        if status == "all":
            status = None
        if status is not None and status not in STATUSES:
            raise ValidationError(f"unknown status {status!r}; use one of {', '.join(STATUSES)}, or all")
        if contact_id is not None:
            contact_id = check_id(contact_id, "contact")
        if kind is not None and kind not in KINDS:
            raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        query = Task.select()
        if status is not None:
            query = query.where(Task.status == status)
        if assignee is not None:
            member = self._staff.roster([assignee]).member(assignee)
            query = query.where(Task.assignee == (member.name if member is not None else assignee))
        if unassigned:
            query = query.where(Task.assignee.is_null())
        if team is not None:
            query = query.where(Task.team == team)
        if kind is not None:
            query = query.where(Task.kind == kind)
        if rule is not None:
            query = query.where(Task.rule == rule)
        if text is not None:
            if not isinstance(text, str) or len(text) > 300:
                raise ValidationError(
                    f"text {text!r:.40} must be the words to look for in titles, at most 300 characters"
                )
            for word in dict.fromkeys(text.casefold().split()):
                query = query.where(peewee.fn.LOWER(Task.title).contains(word))
        if contact_id is not None:
            linked = TaskLink.select(TaskLink.task).where(
                (TaskLink.kind == "contact") & (TaskLink.ref_id == contact_id)
            )
            query = query.where((Task.contact_id == contact_id) | Task.id.in_(linked))
        if due_before is not None:
            query = query.where(Task.due_at < due_before)
        if due_after is not None:
            query = query.where(Task.due_at >= due_after)
        if scope is not None:
            query = scope(query)
        return query.order_by(Task.due_at.is_null(), Task.due_at, Task.priority.desc(), Task.id)

    def list(self, *, limit: int | None = None, offset: int = 0, **filters: Any) -> builtins.list[TaskInfo]:
        """The tasks :meth:`select` finds, at most ``limit`` of them, after skipping ``offset``."""
        if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST):
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to {MAX_LIST}")
        if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
            raise ValidationError(f"offset {offset!r} must be a whole number, 0 or more")
        query = self.select(**filters)
        if limit is not None:
            query = query.limit(limit)
        if offset:
            query = query.offset(offset)
        with self.crm.activate():
            return [_info(t) for t in query]

    def count(self, **filters: Any) -> int:
        """How many tasks :meth:`select` finds."""
        with self.crm.activate():
            return int(self.select(**filters).order_by().count())

    def todo(self, assignee: str, *, scope: Callable[[Any], Any] | None = None) -> dict[str, builtins.list[TaskInfo]]:
        """An assignee's open tasks: ``overdue``, due ``today`` and due ``this_week`` (later this week).

        Days and weeks (Monday to Sunday) are those of the app time zone.
        """
        assignee = self._staff.check_known(assignee)
        now = self.crm.now()
        tomorrow = localize(dt.datetime.combine(now.date() + dt.timedelta(days=1), dt.time()), self.crm.tz)
        next_monday = now.date() + dt.timedelta(days=7 - now.weekday())
        week_end = localize(dt.datetime.combine(next_monday, dt.time()), self.crm.tz)
        tasks = self.list(assignee=assignee, due_before=week_end, scope=scope)
        out: dict[str, builtins.list[TaskInfo]] = {"overdue": [], "today": [], "this_week": []}
        for task in tasks:
            assert task.due_at is not None  # due_before leaves out the tasks without a due date
            if task.due_at < now:
                out["overdue"].append(task)
            elif task.due_at < tomorrow:
                out["today"].append(task)
            else:
                out["this_week"].append(task)
        return out

    def reminders_sent(
        self, recipient: str, *, since: dt.datetime, limit: int, scope: Callable[[Any], Any] | None = None
    ) -> builtins.list[SentReminder]:
        """The reminders sent to ``recipient`` (a user name) from ``since``, newest first, with their tasks.

        One query: the reminder rows joined to their tasks. A reminder whose task
        the acting user may not read (``scope``) is left out; one about no task
        (a rule's notice) is shown, it was sent to this recipient.
        """
        import peewee

        from crm_tasks.models import Reminder, Task

        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST:
            raise ValidationError(f"limit {limit!r} must be a whole number from 1 to {MAX_LIST}")
        query = (
            Reminder.select(Reminder, Task)
            .join(Task, peewee.JOIN.LEFT_OUTER, on=(Reminder.task == Task.id))
            .where((Reminder.recipient == recipient) & (Reminder.sent_at >= since))
            .order_by(Reminder.sent_at.desc(), Reminder.id.desc())
            .limit(limit)
        )
        if scope is not None:
            readable = scope(Task.select(Task.id))
            query = query.where(Reminder.task.is_null() | Reminder.task.in_(readable))
        out: builtins.list[SentReminder] = []
        with self.crm.activate():
            for row in query:
                task = row.task if row.task_id is not None else None
                out.append(
                    SentReminder(
                        kind=row.kind,
                        subject=row.subject,
                        sent_at=row.sent_at,
                        task_id=row.task_id,
                        task_title=task.title if task is not None else None,
                        task_status=task.status if task is not None else None,
                        task_due_at=task.due_at if task is not None else None,
                    )
                )
        return out

    # -- changing -----------------------------------------------------------------

    def assignee_of(self, task_id: int) -> str | None:
        """Whom the task is assigned to (its owner, for permission checks); ``NotFoundError`` if none."""
        assignee: str | None = self._row(task_id).assignee
        return assignee

    def open_for_update(self, task_id: int, doing: str) -> Any:
        """The open task's row, locked for the caller's transaction; a closed one is a ``TaskStateError``."""
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

        actor = self.check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self.open_for_update(task_id, "complete")
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

        actor = self.check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self.open_for_update(task_id, "cancel")
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
        assignee = self._staff.check_assignee(assignee)
        team = self._staff.check_team(team)
        actor = self.check_actor(actor)
        now = self.crm.clock.now().replace(microsecond=0)
        with self.crm.transaction():
            task = self.open_for_update(task_id, "assign")
            values: dict[str, Any] = {}
            if team is not None:
                values["team"] = team
            if assignee is not None and assignee != task.assignee:
                values.update(assignee=assignee, assigned_at=now, reminded_due_at=None, overdue_notified_at=None)
            if values:
                Task.update(**values).where(Task.id == task.id).execute()
            if "assignee" in values and self.settings.reminders.on_assign:
                self._reminders.notify_assigned([(task.id, values["assignee"], task.title, task.due_at)])
        return self.get(task_id)

    def reschedule(self, task_id: int, due: dt.datetime | dt.date | str | None) -> TaskInfo:
        """Move an open task's due time (its reminders are sent again for the new time)."""
        from crm_tasks.models import Task

        due_at = self.due(due)
        with self.crm.transaction():
            task = self.open_for_update(task_id, "reschedule")
            Task.update(due_at=due_at).where(Task.id == task.id).execute()
        return self.get(task_id)

    def reopen(self, task_id: int) -> TaskInfo:
        """Open a done or cancelled task again (who closed it and when are forgotten)."""
        from crm_core.storage import for_update
        from crm_tasks.models import Task

        self._row(task_id)
        with self.crm.transaction():
            task = for_update(Task.select().where(Task.id == task_id), self.crm.database).get()
            if task.status == "open":
                raise TaskStateError(f"task #{task_id} is open already; only a done or cancelled task can be reopened")
            Task.update(status="open", closed_at=None, closed_by=None).where(Task.id == task.id).execute()
        return self.get(task_id)

    def delete(self, task_id: int) -> None:
        """Delete a task with its checklist, questions and links (the reminder and rule logs keep their rows)."""
        from crm_tasks.models import ChecklistItem, Firing, Question, Reminder, Task, TaskLink

        self._row(task_id)
        with self.crm.transaction():
            for model in (ChecklistItem, Question, TaskLink):
                model.delete().where(model.task == task_id).execute()
            Reminder.update(task=None).where(Reminder.task == task_id).execute()
            Firing.update(task=None).where(Firing.task == task_id).execute()
            Task.delete().where(Task.id == task_id).execute()


def task_row(crm: CRM, task_id: int) -> Any:
    """Task ``task_id``'s row; a ``NotFoundError`` naming the command that lists them when there is none."""
    from crm_tasks.models import Task

    if not isinstance(task_id, int) or isinstance(task_id, bool):
        raise ValidationError(f"a task id is a whole number, not {task_id!r}")
    if not is_id(task_id):  # past what the database holds: no task can have it
        raise NotFoundError(f"no task #{task_id}; list the tasks with: crm tasks list")
    with crm.activate():
        task = Task.get_or_none(Task.id == task_id)
    if task is None:
        raise NotFoundError(f"no task #{task_id}; list the tasks with: crm tasks list")
    return task


def task_info(crm: CRM, task_id: int) -> TaskInfo:
    """One task with its checklist, questions, links and the reminders sent (no permission check).

    Two queries: the task, then its four kinds of children in one ``UNION ALL``
    (``tag, order, ref_id, text, more text, time, who``); the links come first,
    so that every column has a type on PostgreSQL before a bare ``NULL`` meets it.
    """
    from peewee import SQL

    from crm_tasks.models import ChecklistItem, Question, Reminder, TaskLink

    task = task_row(crm, task_id)
    null = SQL("NULL")
    links = TaskLink.select(SQL("'l'"), TaskLink.id, TaskLink.ref_id, TaskLink.kind, null, null, null).where(
        TaskLink.task == task.id
    )
    items = ChecklistItem.select(
        SQL("'c'"), ChecklistItem.position, null, ChecklistItem.text, null, ChecklistItem.done_at, ChecklistItem.done_by
    ).where(ChecklistItem.task == task.id)
    asked = Question.select(
        SQL("'q'"), Question.position, null, Question.text, Question.answer, Question.answered_at, Question.answered_by
    ).where(Question.task == task.id)
    sent = Reminder.select(
        SQL("'r'"), Reminder.id, null, Reminder.kind, Reminder.subject, Reminder.sent_at, Reminder.recipient
    ).where(Reminder.task == task.id)
    when = ChecklistItem.done_at.python_value  # a UTCDateTimeField's: every time column below is one
    rows: dict[str, list[tuple[Any, ...]]] = {"l": [], "c": [], "q": [], "r": []}
    with crm.activate():
        for tag, order, ref, text, more, at, who in links.union_all(items).union_all(asked).union_all(sent).tuples():
            rows[tag].append((order, ref, text, more, when(at), who))
    for found in rows.values():
        found.sort(key=lambda row: row[0])
    return _info(
        task,
        links=tuple((kind, int(ref)) for _, ref, kind, _, _, _ in rows["l"]),
        checklist=tuple(ChecklistEntry(pos, text, at, who) for pos, _, text, _, at, who in rows["c"]),
        questions=tuple(QuestionEntry(pos, text, answer, at, who) for pos, _, text, answer, at, who in rows["q"]),
        reminders=tuple(ReminderInfo(kind, who, subject, at) for _, _, kind, subject, at, who in rows["r"]),
    )


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
