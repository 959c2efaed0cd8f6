"""What each source row contributes to the summary tables: pure functions, the one definition of every summary.

Each function adds a row's contributions to a :class:`~crm_warehouse.summaries.deltas.Deltas`
with a sign (+1 for a row as it is now, -1 for a row as it was), so a
change is the rows after minus the rows before. The definitions follow the
reports that read the summaries (``crm_analytics.reports``) line by line:

* a sales fact: ``created`` on ``created_on`` (whatever its outcome);
  ``closed`` on ``closed_on``, by outcome, when it has one; a record closed
  before it was created left the pipeline when it was created, so
  ``left_adjust`` moves it there (-1 on ``closed_on``, +1 on ``created_on``:
  ``closed`` plus ``left_adjust`` is when records left); an open one also
  counts in the open pipeline by stage;
* a sales record's ``StageChanged`` events: the set of stages entered
  (``path``) and each stay that ended (``stay``: from one move to the next
  in time order, ties by the event's key), on the record's ``created_on``;
* a contact's status intervals (not deleted): where each starts and ends,
  whether it made a customer (``gained``: a customer interval that no
  customer interval ends into) or lost one (``lost``);
* a ``SurveySent`` event: the invitation, in each region its contact had
  then (any status interval covering the instant, deleted or not), and the
  whole days to the contact's first response to that survey from then on;
* a survey response, and each of its numeric answers;
* a ``StaffActionLogged`` or ``TaskCompleted`` event, for its actor (or a
  task's assignee when no actor is recorded).

Days of datetimes are their dates in the time zone given (the app's).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from crm_warehouse.summaries.deltas import ACTIVITY, OPEN_SALES, PIPELINE, SALES, STATUS, SURVEYS, Deltas

__all__ = [
    "Interval",
    "Invitation",
    "MAX_DELAY_DAYS",
    "Move",
    "activity",
    "amount_e4",
    "answer",
    "contact_status",
    "invitations",
    "pipeline_record",
    "response",
    "sales_fact",
    "timezone_name",
]

#: invitations answered later than this count as not answered (the reports' window is at most 366 days)
MAX_DELAY_DAYS = 366
_E4 = decimal.Decimal(10000)
_ONE_DAY = dt.timedelta(days=1)
_MICROSECOND = dt.timedelta(microseconds=1)
STAFF_TYPES = ("StaffActionLogged", "TaskCompleted")


@attrs.frozen
class Interval:
    """A row of ``warehouse_contact_status`` (``valid_from``/``valid_to`` aware UTC)."""

    pk: int | None
    status: str | None
    region: str | None
    country: str | None
    deleted: bool
    valid_from: dt.datetime
    valid_to: dt.datetime | None

    def covers(self, when: dt.datetime) -> bool:
        return self.valid_from <= when and (self.valid_to is None or self.valid_to > when)

    @property
    def live_customer(self) -> bool:
        return self.status == "customer" and not self.deleted


@attrs.frozen
class Invitation:
    """A stored ``SurveySent`` event: its key, when (aware UTC), the survey and the contact its payload names."""

    event_pk: int
    occurred_at: dt.datetime
    survey_id: int | None
    contact_id: int | None


@attrs.frozen(order=True)
class Move:
    """A stored ``StageChanged`` event of a record, ordered as the reports order them: by time, then key."""

    occurred_at: dt.datetime
    event_pk: int
    new_stage: str | None


def amount_e4(value: Any) -> int:
    """An amount in ten-thousandths, exactly (the facts keep four decimal places)."""
    number = value if isinstance(value, decimal.Decimal) else decimal.Decimal(str(value))
    return int((number * _E4).to_integral_value(rounding=decimal.ROUND_HALF_EVEN))


def timezone_name(tz: dt.tzinfo) -> str:
    """The time zone's name as the state row records it (``Europe/Madrid``)."""
    return str(getattr(tz, "key", None) or tz)


def local_day(when: dt.datetime, tz: dt.tzinfo) -> dt.date:
    return when.astimezone(tz).date()


def as_date(value: Any) -> dt.date:
    """A date from a date column as any driver gives it (SQLite: ISO text)."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _text(value: Any, width: int) -> str | None:
    """A JSON value as the reports read it (text), cut to the column's width."""
    if value is None:
        return None
    return (value if isinstance(value, str) else json.dumps(value))[:width]


def sales_fact(deltas: Deltas, fact: Mapping[str, Any], sign: int) -> None:
    """A ``warehouse_sales_fact`` row (its columns by name)."""
    created = as_date(fact["created_on"])
    closed = as_date(fact["closed_on"]) if fact["closed_on"] is not None else None
    money = (1, amount_e4(fact["amount"]))
    kind, currency, outcome = fact["kind"], fact["currency"], fact["outcome"]
    dims = (fact["region"], fact["owner"], fact["product_line"])
    deltas.add(SALES, created, ("created", kind, currency, None, *dims), money, sign)
    if closed is not None:
        deltas.add(SALES, closed, ("closed", kind, currency, outcome, *dims), money, sign)
        if closed < created:
            # it left the pipeline when it was created, not when it was closed
            deltas.add(SALES, closed, ("left_adjust", kind, currency, None, *dims), money, -sign)
            deltas.add(SALES, created, ("left_adjust", kind, currency, None, *dims), money, sign)
    if fact["outcome"] == "open":
        probability = round(float(fact["probability"]), 6)
        deltas.add(OPEN_SALES, None, (fact["stage"], fact["currency"], fact["owner"], probability), money, sign)


def pipeline_record(deltas: Deltas, created_on: Any, currency: str, moves: Iterable[Move], sign: int) -> None:
    """A sales record (its fact's ``created_on`` and ``currency``) and its ``StageChanged`` events."""
    ordered = sorted(moves)
    if not ordered:
        return
    day = as_date(created_on)
    stages = sorted({m.new_stage for m in ordered if m.new_stage is not None})
    deltas.add(PIPELINE, day, ("path", currency, json.dumps(stages)), (1, 0), sign)
    for move, following in zip(ordered, ordered[1:]):
        if move.new_stage is not None:
            stay = (following.occurred_at - move.occurred_at) // _MICROSECOND
            deltas.add(PIPELINE, day, ("stay", currency, move.new_stage), (1, stay), sign)


def contact_status(deltas: Deltas, intervals: Sequence[Interval], tz: dt.tzinfo, sign: int) -> None:
    """One contact's status intervals."""
    ends = {x.valid_to for x in intervals if x.live_customer and x.valid_to is not None}
    starts = {x.valid_from for x in intervals if x.live_customer}
    for x in intervals:
        if x.deleted:
            continue
        values = (x.status, x.region, x.country)
        gained = 1 if x.live_customer and x.valid_from not in ends else 0
        deltas.add(STATUS, local_day(x.valid_from, tz), values, (1, 0, gained, 0), sign)
        if x.valid_to is not None:
            lost = 1 if x.live_customer and x.valid_to not in starts else 0
            deltas.add(STATUS, local_day(x.valid_to, tz), values, (0, 1, 0, lost), sign)


def invitations(
    deltas: Deltas,
    sent: Iterable[Invitation],
    intervals: Sequence[Interval],
    responses: Sequence[tuple[Any, dt.datetime]],
    tz: dt.tzinfo,
    sign: int,
) -> None:
    """Survey invitations of one contact, with its status intervals and its responses ``(survey_id, answered_at)``."""
    for invitation in sent:
        at = invitation.occurred_at
        survey = invitation.survey_id
        firsts = [answered for sid, answered in responses if sid == survey and answered >= at]
        delay = (min(firsts) - at) // _ONE_DAY if firsts else None
        if delay is not None and delay >= MAX_DELAY_DAYS:
            delay = None
        day = local_day(at, tz)
        deltas.add(SURVEYS, day, ("invitation", survey, None, None, None, delay), (1,), sign)
        regions = [x.region for x in intervals if x.covers(at)] or [None]
        for region in regions:
            deltas.add(SURVEYS, day, ("invitation_region", survey, region, None, None, delay), (1,), sign)


def response(
    deltas: Deltas, survey_id: int, region: str | None, answered_at: dt.datetime, tz: dt.tzinfo, sign: int
) -> None:
    """A row of ``warehouse_survey_response``."""
    deltas.add(SURVEYS, local_day(answered_at, tz), ("response", survey_id, region, None, None, None), (1,), sign)


def answer(
    deltas: Deltas,
    survey_id: int,
    region: str | None,
    question: str,
    score: float,
    answered_at: dt.datetime,
    tz: dt.tzinfo,
    sign: int,
) -> None:
    """A row of ``warehouse_survey_answer_fact``."""
    values = ("answer", survey_id, region, question, round(float(score), 4), None)
    deltas.add(SURVEYS, local_day(answered_at, tz), values, (1,), sign)


def activity(
    deltas: Deltas,
    type_name: str,
    occurred_at: dt.datetime,
    actor: str | None,
    payload: Mapping[str, Any],
    tz: dt.tzinfo,
    sign: int,
) -> None:
    """A stored event: counts when it is a ``StaffActionLogged`` or a ``TaskCompleted``."""
    if type_name == "StaffActionLogged":
        action, staff = _text(payload.get("kind"), 200), actor
    elif type_name == "TaskCompleted":
        action, staff = None, actor if actor is not None else _text(payload.get("assignee"), 200)
    else:
        return
    deltas.add(ACTIVITY, local_day(occurred_at, tz), (type_name, action, staff), (1,), sign)
