"""Recurring newsletters: a campaign sent to a list on an RFC 5545 rule, by the worker.

Each occurrence becomes a send of its own (unique per newsletter and
occurrence), made and claimed with :func:`crm_core.jobs.run_once` in one
transaction, so two workers, or one worker run twice, make it once; the
send is then run like any scheduled send. Occurrences missed while no
worker ran are not sent one by one: only the latest is.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from crm_campaigns.content import FieldError
from crm_campaigns.models import Campaign, Recurring
from crm_campaigns.records import RecurringInfo
from crm_core.errors import CRMError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_campaigns.sends import Sends
    from crm_core.app import CRM
    from crm_core.recurrence import Recurrence

__all__ = ["Newsletters"]


def _recurrence(crm: CRM, rule: str, start: dt.datetime) -> Recurrence:
    from crm_core.recurrence import Recurrence

    try:
        return Recurrence.parse(rule, start=start, tz=crm.tz)
    except ValidationError as exc:
        raise FieldError(f"rule: {exc}", field="rule") from None


class Newsletters:
    """Adding, listing, stopping and running recurring newsletters (the API object checks who may)."""

    def __init__(self, crm: CRM, sends: Sends) -> None:
        self.crm = crm
        self.sends = sends

    def _info(self, row: Recurring, name: str) -> RecurringInfo:
        next_at = None
        if row.active:
            after = row.last_occurrence or (row.starts_at - dt.timedelta(seconds=1))
            found = _recurrence(self.crm, row.rule, row.starts_at).after(
                max(after, self.crm.clock.now() - dt.timedelta(seconds=1))
            )
            next_at = found.astimezone(self.crm.tz) if found else None
        return RecurringInfo(
            id=row.id,
            campaign_id=row.campaign_id,
            campaign_name=name,
            source=row.source,
            rule=row.rule,
            active=bool(row.active),
            starts_at=row.starts_at,
            last_occurrence=row.last_occurrence,
            next_at=next_at,
            created_by=row.created_by,
        )

    def add(
        self, campaign: Campaign, source: str, rule: str, start: dt.datetime | None, actor: str | None
    ) -> RecurringInfo:
        now = self.crm.clock.now()
        if start is not None and (not isinstance(start, dt.datetime) or start.tzinfo is None):
            raise FieldError(f"the start of a newsletter must be an aware datetime, not {start!r}", field="start")
        start = (start or now).replace(second=0, microsecond=0)
        if not isinstance(rule, str) or not rule.strip() or len(rule) > 500:
            raise FieldError("rule must be an RFC 5545 rule such as 'FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9'", field="rule")
        recurrence = _recurrence(self.crm, rule.strip(), start)
        if recurrence.after(max(start, now) - dt.timedelta(seconds=1)) is None:
            raise FieldError(
                f"rule {rule!r} has no occurrence after {max(start, now):%Y-%m-%d %H:%M}; nothing would be sent",
                field="rule",
            )
        source = self.sends.check_source(source)
        with self.crm.transaction():
            row = Recurring.create(
                campaign=campaign.id,
                source=source,
                rule=recurrence.rule,
                starts_at=start,
                active=True,
                created_by=actor,
                created_at=now,
            )
        return self._info(row, campaign.name)

    def get(self, recurring_id: int) -> Recurring:
        with self.crm.activate():
            row = Recurring.get_or_none(Recurring.id == recurring_id)
        if row is None:
            raise NotFoundError(f"no recurring newsletter {recurring_id}; 'crm campaigns recurring' lists them")
        return row

    def listing(self, campaign_id: int | None = None) -> list[RecurringInfo]:
        with self.crm.activate():
            query = Recurring.select(Recurring, Campaign.name).join(Campaign).order_by(Recurring.id)
            if campaign_id is not None:
                query = query.where(Recurring.campaign == campaign_id)
            return [self._info(row, row.campaign.name) for row in query]

    def stop(self, recurring_id: int) -> RecurringInfo:
        row = self.get(recurring_id)
        with self.crm.transaction():
            Recurring.update(active=False).where(Recurring.id == recurring_id).execute()
            name = Campaign.get_by_id(row.campaign_id).name
            return self._info(Recurring.get_by_id(recurring_id), name)

    def make_due(self) -> list[int]:
        """Make the send of the latest due occurrence of each active newsletter; the new sends' ids."""
        from crm_core.jobs import run_once

        now = self.crm.clock.now()
        made = []
        with self.crm.activate():
            rows = list(Recurring.select().where(Recurring.active == True).order_by(Recurring.id))  # noqa: E712
        for row in rows:
            due = _recurrence(self.crm, row.rule, row.starts_at).before(now, inc=True)
            if due is None or due < row.starts_at:
                continue
            if row.last_occurrence is not None and due <= row.last_occurrence:
                continue
            try:
                with self.crm.transaction():
                    if not run_once(self.crm, f"campaigns.recurring:{row.id}:{due.astimezone(dt.UTC):%Y%m%dT%H%M%S}"):
                        continue  # another worker made it
                    campaign = Campaign.get_by_id(row.campaign_id)
                    send_id = self.sends.create(
                        campaign, row.source, due, row.created_by, recurring_id=row.id, occurrence=due
                    )
                    Recurring.update(last_occurrence=due).where(Recurring.id == row.id).execute()
            except CRMError as exc:  # one broken newsletter must not stop the others
                self.crm.log.error("campaigns: recurring newsletter %s failed: %s", row.id, exc)
                continue
            if send_id is not None:
                made.append(send_id)
        return made
