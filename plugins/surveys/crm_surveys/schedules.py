"""Scheduled surveys: a survey sent to a list on an RFC 5545 recurrence, by the worker.

Each occurrence is sent in a round of its own (``schedule-<id>-<time>``),
so everyone on the list gets each occurrence once. The occurrence is
claimed with :func:`crm_core.jobs.run_once` in the transaction that sends
it: two workers, or one worker run twice, send it once; a send that fails
rolls its claim back and is tried again on the next run. Occurrences
missed while no worker ran are not sent one by one: the latest is.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

import attrs

from crm_core.errors import CRMError, NotFoundError, ValidationError
from crm_surveys.models import Schedule, Survey

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_core.recurrence import Recurrence
    from crm_surveys.sending import Mailer, SendReport

__all__ = ["ScheduleInfo", "Scheduler", "add", "listing", "run_due", "stop"]


@attrs.frozen
class ScheduleInfo:
    id: int
    survey_id: int
    survey_key: str
    source: str
    rule: str
    active: bool
    starts_at: dt.datetime
    last_occurrence: dt.datetime | None
    next_at: dt.datetime | None


def _recurrence(crm: CRM, rule: str, start: dt.datetime) -> Recurrence:
    from crm_core.recurrence import Recurrence

    return Recurrence.parse(rule, start=start, tz=crm.tz)


def _info(crm: CRM, schedule: Schedule, key: str) -> ScheduleInfo:
    next_at = None
    if schedule.active:
        after = schedule.last_occurrence or (schedule.starts_at - dt.timedelta(seconds=1))
        next_at = _recurrence(crm, schedule.rule, schedule.starts_at).after(
            max(after, crm.clock.now() - dt.timedelta(seconds=1))
        )
        next_at = next_at.astimezone(crm.tz) if next_at else None
    return ScheduleInfo(
        id=schedule.id,
        survey_id=schedule.survey_id,
        survey_key=key,
        source=schedule.source,
        rule=schedule.rule,
        active=bool(schedule.active),
        starts_at=schedule.starts_at,
        last_occurrence=schedule.last_occurrence,
        next_at=next_at,
    )


def add(crm: CRM, survey: Survey, source: str, rule: str, *, start: dt.datetime | None = None) -> ScheduleInfo:
    now = crm.clock.now()
    if start is not None and start.tzinfo is None:
        raise ValidationError(f"the start of a schedule must be an aware datetime, not {start!r}")
    # whole minutes: a rule without BYSECOND takes its seconds from the start
    start = (start or now).replace(second=0, microsecond=0)
    recurrence = _recurrence(crm, rule, start)
    if recurrence.after(max(start, now) - dt.timedelta(seconds=1)) is None:
        raise ValidationError(
            f"recurrence rule {rule!r} has no occurrence after {max(start, now):%Y-%m-%d %H:%M}; nothing would be sent"
        )
    if not source.strip() or len(source) > 200:
        raise ValidationError(f"list or segment name {source!r} must be 1 to 200 characters")
    crm.plugin("contacts").audience_report(source, "email")  # names an unknown list or segment now, not at 3 a.m.
    with crm.transaction():
        schedule = Schedule.create(
            survey=survey.id, source=source, rule=recurrence.rule, starts_at=start, active=True, created_at=now
        )
    return _info(crm, schedule, survey.key)


def listing(crm: CRM, survey: Survey | None = None) -> list[ScheduleInfo]:
    query = Schedule.select(Schedule, Survey.key).join(Survey).order_by(Schedule.id)
    if survey is not None:
        query = query.where(Schedule.survey == survey.id)
    return [_info(crm, s, s.survey.key) for s in query]


def stop(crm: CRM, schedule_id: int) -> None:
    with crm.transaction():
        if Schedule.update(active=False).where(Schedule.id == schedule_id).execute() != 1:
            raise NotFoundError(f"no schedule {schedule_id} ('crm surveys schedule list' shows them)")


def run_due(crm: CRM, mailer: Mailer) -> list[SendReport]:
    """Send the latest due occurrence of each active schedule not sent yet (through ``mailer``)."""
    from crm_core.jobs import run_once

    now = crm.clock.now()
    reports = []
    for schedule in list(Schedule.select().where(Schedule.active == True).order_by(Schedule.id)):  # noqa: E712
        recurrence = _recurrence(crm, schedule.rule, schedule.starts_at)
        due = recurrence.before(now, inc=True)
        if due is None or due < schedule.starts_at:
            continue
        if schedule.last_occurrence is not None and due <= schedule.last_occurrence:
            continue
        local = due.astimezone(crm.tz)
        round_key = f"schedule-{schedule.id}-{local:%Y-%m-%dT%H:%M}"
        try:
            with crm.transaction():
                if not run_once(crm, f"surveys.schedule:{schedule.id}:{due.astimezone(dt.UTC):%Y%m%dT%H%M%S}"):
                    continue  # another worker sent it
                survey = Survey.get_by_id(schedule.survey_id)
                report = mailer.send(survey, schedule.source, round_key=round_key, schedule_id=schedule.id)
                Schedule.update(last_occurrence=due).where(Schedule.id == schedule.id).execute()
        except CRMError as exc:  # one broken schedule (a deleted list, say) must not stop the others
            crm.log.error(
                "surveys: schedule %s (survey %s to %r) failed and will be tried again: %s",
                schedule.id,
                schedule.survey_id,
                schedule.source,
                exc,
            )
            continue
        reports.append(report)
    return reports


class Scheduler:
    """Recurring sends: each occurrence is sent through the mailer by the worker."""

    def __init__(self, crm: CRM, mailer: Mailer) -> None:
        self.crm = crm
        self.mailer = mailer

    def add(self, survey: Survey, source: str, rule: str, *, start: dt.datetime | None = None) -> ScheduleInfo:
        with self.crm.activate():
            return add(self.crm, survey, source, rule, start=start)

    def listing(self, survey: Survey | None = None) -> list[ScheduleInfo]:
        with self.crm.activate():
            return listing(self.crm, survey)

    def stop(self, schedule_id: int) -> None:
        with self.crm.activate():
            stop(self.crm, schedule_id)

    def run_due(self) -> list[SendReport]:
        with self.crm.activate():
            return run_due(self.crm, self.mailer)
