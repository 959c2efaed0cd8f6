"""Recurring task templates: an RFC 5545 rule, a time zone, a lead time.

The rule is evaluated by the kernel's :mod:`crm_core.recurrence` on
wall-clock times in the template's time zone (a weekly Monday 09:00 meeting
stays at 09:00 across daylight-saving changes), and the worker's ``tasks.recurring`` job
creates the task for an occurrence once its lead time has come. Each
occurrence's task has the origin key ``recurring:<template>:<UTC time>``
(unique), and the template row is locked while its occurrences are made, so
two workers never create one twice. Occurrences missed while no worker ran
are created on the next run (at most ``CATCH_UP`` per template and run);
occurrences before the template was added are not.
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import zoneinfo
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from crm_core.clock import naive_utc
from crm_core.errors import NotFoundError, ValidationError
from crm_core.storage import for_update
from crm_tasks.records import Draft, RecurringInfo
from crm_tasks.settings import KINDS, PRIORITIES, parse_duration

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_core.recurrence import Recurrence
    from crm_tasks.staff import Staff
    from crm_tasks.store import TaskStore

__all__ = ["RecurringTemplates", "occurrences", "parse_rrule"]

CATCH_UP = 100
_PRIORITY_NAME = {v: k for k, v in PRIORITIES.items()}
#: "leave as it is", for the arguments of :meth:`RecurringTemplates.edit` whose None means "none"
_KEEP: Any = object()


def parse_rrule(text: str, dtstart: dt.datetime, tz: dt.tzinfo) -> Recurrence:
    """The kernel's :class:`~crm_core.recurrence.Recurrence` for a template (``dtstart``: naive wall time in ``tz``).

    A rule that does not parse, or that has no occurrence from its start
    on, is a :class:`~crm_core.errors.ValidationError` saying why.
    """
    from crm_core.recurrence import Recurrence

    start = dtstart.replace(tzinfo=tz) if dtstart.tzinfo is None else dtstart
    rule = Recurrence.parse(text, start=start, tz=tz)
    if rule.after(start, inc=True) is None:
        raise ValidationError(f"recurrence rule {text!r} has no occurrence from {dtstart:%Y-%m-%d %H:%M} on")
    return rule


def occurrences(rule: Recurrence, after_utc: dt.datetime | None) -> Iterator[dt.datetime]:
    """The rule's occurrences as aware UTC datetimes, strictly after ``after_utc`` (from the start when None)."""
    if after_utc is None:
        first = rule.start.replace(tzinfo=rule.tz)
        iterator = rule.iter_from(first, inc=True)
    else:
        iterator = rule.iter_from(after_utc, inc=False)
    for when in iterator:
        yield when.astimezone(dt.UTC)


class RecurringTemplates:
    """The recurring task templates of one app."""

    def __init__(self, crm: CRM, staff: Staff, store: TaskStore) -> None:
        self.crm = crm
        self._staff = staff
        self._store = store

    def add(
        self,
        name: str,
        title: str,
        rrule: str,
        *,
        kind: str = "to-do",
        assignee: str | None = None,
        team: str | None = None,
        priority: str = "normal",
        description: str = "",
        checklist: Sequence[str] = (),
        lead: str = "0m",
        start: dt.datetime | str | None = None,
        timezone: str | None = None,
    ) -> RecurringInfo:
        """Add a recurring template; ``start`` is the first occurrence's wall time (default: now)."""
        from crm_tasks.models import Recurring

        crm = self.crm
        if not name or len(name) > 100:
            raise ValidationError("a recurring template needs a name of 1 to 100 characters")
        if not title.strip():
            raise ValidationError("a recurring template needs a title")
        if kind not in KINDS:
            raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
        if priority not in PRIORITIES:
            raise ValidationError(f"unknown priority {priority!r}; use one of {', '.join(PRIORITIES)}")
        assignee = self._staff.check_assignee(assignee)
        team = self._staff.check_team(team)
        try:
            lead_delta = parse_duration(lead)
        except ValueError as exc:
            raise ValidationError(f"lead time: {exc}") from None
        tz_name = timezone or crm.config.core.timezone
        try:
            tz = zoneinfo.ZoneInfo(tz_name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            raise ValidationError(f"unknown time zone {tz_name!r}; use an IANA name such as 'Europe/Madrid'") from None
        if start is None:
            wall = crm.now().astimezone(tz).replace(tzinfo=None, second=0, microsecond=0)
        elif isinstance(start, str):
            try:
                wall = dt.datetime.fromisoformat(start.strip())
            except ValueError:
                raise ValidationError(f"start {start!r} is not a date-time; write '2026-03-02 09:00'") from None
            if wall.tzinfo is not None:
                wall = wall.astimezone(tz).replace(tzinfo=None)
        else:
            wall = start.astimezone(tz).replace(tzinfo=None) if start.tzinfo else start
        text = rrule.strip()
        if text.upper().startswith("RRULE:"):
            text = text[6:]
        parse_rrule(text, wall, tz)
        with crm.transaction():
            if Recurring.select().where(Recurring.name == name).exists():
                raise ValidationError(
                    f"a recurring template named {name!r} exists; choose another name or remove it first"
                )
            Recurring.create(
                name=name,
                title=title.strip(),
                kind=kind,
                description=description,
                assignee=assignee,
                team=team,
                priority=PRIORITIES[priority],
                rrule=text,
                timezone=tz_name,
                dtstart=wall,
                lead_minutes=int(lead_delta.total_seconds() // 60),
                checklist=json.dumps(list(checklist)),
                created_at=crm.clock.now().replace(microsecond=0),
            )
        return next(t for t in self.list() if t.name == name)

    def edit(
        self,
        name: str,
        *,
        title: str | None = None,
        rrule: str | None = None,
        kind: str | None = None,
        assignee: str | None = _KEEP,
        team: str | None = _KEEP,
        priority: str | None = None,
        description: str | None = None,
        checklist: Sequence[str] | None = None,
        lead: str | None = None,
        active: bool | None = None,
    ) -> RecurringInfo:
        """Change a template: what is given (``None`` keeps it; ``assignee=None``/``team=None`` clear them).

        The tasks it made stay as they are; the next occurrence is counted
        from the last one it made, so a new rule never makes an occurrence
        that is already past. ``active=False`` pauses it (the worker makes no
        task until it is resumed; occurrences passed meanwhile are not made).
        """
        from crm_tasks.models import Recurring

        crm = self.crm
        changes: dict[str, object] = {}
        if title is not None:
            if not title.strip() or len(title.strip()) > 300:
                raise ValidationError("a recurring template needs a title of 1 to 300 characters")
            changes["title"] = title.strip()
        if kind is not None:
            if kind not in KINDS:
                raise ValidationError(f"unknown kind {kind!r}; use one of {', '.join(KINDS)}")
            changes["kind"] = kind
        if priority is not None:
            if priority not in PRIORITIES:
                raise ValidationError(f"unknown priority {priority!r}; use one of {', '.join(PRIORITIES)}")
            changes["priority"] = PRIORITIES[priority]
        if assignee is not _KEEP:
            changes["assignee"] = self._staff.check_assignee(assignee)
        if team is not _KEEP:
            changes["team"] = self._staff.check_team(team)
        if description is not None:
            changes["description"] = description
        if checklist is not None:
            if isinstance(checklist, str) or not all(isinstance(item, str) for item in checklist):
                raise ValidationError("checklist must be a list of texts")
            changes["checklist"] = json.dumps([item.strip() for item in checklist if item.strip()])
        if lead is not None:
            try:
                changes["lead_minutes"] = int(parse_duration(lead).total_seconds() // 60)
            except ValueError as exc:
                raise ValidationError(f"lead time: {exc}") from None
        if active is not None:
            changes["active"] = bool(active)
        with crm.transaction():
            row = Recurring.get_or_none(Recurring.name == name)
            if row is None:
                raise NotFoundError(f"no recurring template {name!r}; list them with: crm tasks recurring list")
            if rrule is not None:
                text = rrule.strip()
                if text.upper().startswith("RRULE:"):
                    text = text[6:]
                parse_rrule(text, row.dtstart, zoneinfo.ZoneInfo(row.timezone))
                changes["rrule"] = text
            resumed = changes.get("active") is True and not row.active
            if resumed or ("rrule" in changes and changes["rrule"] != row.rrule):
                # from now on: not the occurrences that passed while it was paused, nor the new rule's past ones
                now = naive_utc(crm.clock.now().replace(microsecond=0))
                last = row.last_occurrence
                changes["last_occurrence"] = max(naive_utc(last), now) if last is not None else now
            if changes:
                Recurring.update(changes).where(Recurring.id == row.id).execute()
        return next(t for t in self.list() if t.name == name)

    def list(self) -> builtins.list[RecurringInfo]:
        """Every template with its next occurrence, by name."""
        from crm_tasks.models import Recurring

        out = []
        now = self.crm.clock.now()
        with self.crm.activate():
            for t in Recurring.select().order_by(Recurring.name):
                tz = zoneinfo.ZoneInfo(t.timezone)
                rule = parse_rrule(t.rrule, t.dtstart, tz)
                nxt = next(
                    occurrences(rule, max(filter(None, [t.last_occurrence, now - dt.timedelta(microseconds=1)]))), None
                )
                out.append(
                    RecurringInfo(
                        id=t.id,
                        name=t.name,
                        title=t.title,
                        kind=t.kind,
                        assignee=t.assignee,
                        team=t.team,
                        rrule=t.rrule,
                        timezone=t.timezone,
                        dtstart=t.dtstart,
                        lead=dt.timedelta(minutes=t.lead_minutes),
                        active=t.active,
                        next_occurrence=nxt.astimezone(tz) if nxt and t.active else None,
                        priority=_PRIORITY_NAME.get(t.priority, "normal"),
                        description=t.description,
                        checklist=tuple(json.loads(t.checklist)),
                    )
                )
        return out

    def remove(self, name: str) -> None:
        """Delete a template; the tasks it already created stay."""
        from crm_tasks.models import Recurring

        with self.crm.transaction():
            if Recurring.delete().where(Recurring.name == name).execute() == 0:
                raise NotFoundError(f"no recurring template {name!r}; list them with: crm tasks recurring list")

    def run(self) -> int:
        """Create every occurrence whose lead time has come (worker job ``tasks.recurring``)."""
        from crm_tasks.models import Recurring

        crm = self.crm
        roster = self._staff.roster()
        now = crm.clock.now()
        created = 0
        with crm.activate():
            ids = [i for (i,) in Recurring.select(Recurring.id).where(Recurring.active == True).tuples().iterator()]  # noqa: E712
        for template_id in ids:
            with crm.transaction():
                t = for_update(Recurring.select().where(Recurring.id == template_id), crm.database).first()
                if t is None or not t.active:
                    continue
                rule = parse_rrule(t.rrule, t.dtstart, zoneinfo.ZoneInfo(t.timezone))
                lead = dt.timedelta(minutes=t.lead_minutes)
                drafts: list[Draft] = []
                last = t.last_occurrence
                # occurrences before the template was made are not owed
                after = t.last_occurrence or (t.created_at - dt.timedelta(seconds=1))
                for when in occurrences(rule, after):
                    if when - lead > now or len(drafts) >= CATCH_UP:
                        break
                    member = roster.member(t.assignee)
                    assignee = member.name if member is not None else None
                    drafts.append(
                        Draft(
                            title=t.title,
                            kind=t.kind,
                            assignee=assignee,
                            team=t.team,
                            due_at=when,
                            priority=t.priority,
                            description=t.description,
                            checklist=tuple(json.loads(t.checklist)),
                            origin="recurring",
                            origin_key=f"recurring:{t.id}:{when.strftime('%Y%m%dT%H%M%SZ')}",
                        )
                    )
                    last = when
                if drafts:
                    created += len(self._store.create_many(drafts))
                    Recurring.update(last_occurrence=naive_utc(last)).where(Recurring.id == t.id).execute()
        return created
