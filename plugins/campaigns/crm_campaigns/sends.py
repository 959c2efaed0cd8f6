"""Sends of a campaign: scheduled, run, cancelled, listed with their counts.

The counts come from three places, read with one grouped query each for a
whole page of sends (never one query per send): the recipients (queued,
and unsubscribed through the mail's link), and the kernel's mail queue
(``crm_mail_message``, joined on each recipient's message key) for what
was sent, what bounced (given up for good) and what is still waiting.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING

import peewee

from crm_campaigns.content import FieldError
from crm_campaigns.models import Campaign, Recipient, Send
from crm_campaigns.records import SendCounts, SendInfo
from crm_campaigns.sending import RESUME_AFTER, list_id_of, run_send
from crm_core import rows as typed_rows
from crm_core.errors import CRMError, NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["Sends"]

SOURCE_MAX = 200
#: how far ahead a send may be scheduled
HORIZON = dt.timedelta(days=366 * 2)


def counts(sends: Sequence[int]) -> dict[int, SendCounts]:
    """The counts of each send in ``sends``: two grouped queries."""
    from crm_core.mail.models import MailMessage

    if not sends:
        return {}
    queued: dict[int, list[int]] = {s: [0, 0] for s in sends}
    rows = typed_rows.tuples(
        Recipient.select(Recipient.send, peewee.fn.COUNT(Recipient.id), peewee.fn.COUNT(Recipient.unsubscribed_at))
        .where(Recipient.send.in_(list(sends)))
        .group_by(Recipient.send)
    )
    for send_id, total, unsubscribed in rows:
        queued[send_id] = [int(total), int(unsubscribed)]
    states: dict[int, dict[str, int]] = {s: {} for s in sends}
    rows = typed_rows.tuples(
        Recipient.select(Recipient.send, MailMessage.status, peewee.fn.COUNT(Recipient.id))
        .join(MailMessage, on=(MailMessage.key == Recipient.mail_key))
        .where(Recipient.send.in_(list(sends)))
        .group_by(Recipient.send, MailMessage.status)
    )
    for send_id, status, number in rows:
        states[send_id][status] = int(number)
    out = {}
    for send_id in sends:
        state = states[send_id]
        out[send_id] = SendCounts(
            queued=queued[send_id][0],
            sent=state.get("sent", 0),
            bounced=state.get("failed", 0),
            waiting=state.get("queued", 0) + state.get("sending", 0),
            unsubscribed=queued[send_id][1],
        )
    return out


def _info(row: Send, name: str, numbers: SendCounts) -> SendInfo:
    return SendInfo(
        id=row.id,
        campaign_id=row.campaign_id,
        campaign_name=name,
        source=row.source,
        status=row.status,
        scheduled_for=row.scheduled_for,
        recurring_id=row.recurring_id,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
        cancelled_at=row.cancelled_at,
        cancelled_by=row.cancelled_by,
        counts=numbers,
        do_not_contact=row.do_not_contact,
        unsubscribed_before=row.unsubscribed_before,
        no_address=row.no_address,
        duplicates=row.duplicates,
        invalid=row.invalid,
        last_error=row.last_error,
    )


class Sends:
    """Scheduling, running, cancelling and listing sends (the API object checks who may)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def check_source(self, source: str) -> str:
        if not isinstance(source, str) or not source.strip() or len(source) > SOURCE_MAX:
            raise FieldError(
                f"list or segment name {source!r} must be 1 to {SOURCE_MAX} characters; "
                "'crm contacts lists list' and 'crm contacts segments list' show them",
                field="source",
            )
        source = source.strip()
        try:
            self.crm.plugin("contacts").audience_report(source, "email")  # an unknown list or segment: now, not later
        except NotFoundError as exc:
            raise FieldError(str(exc), field="source") from None
        return source

    def check_time(self, when: dt.datetime) -> dt.datetime:
        if not isinstance(when, dt.datetime) or when.tzinfo is None:
            raise FieldError(f"the time of a send must be an aware datetime (with its zone), not {when!r}", field="at")
        now = self.crm.clock.now()
        if when < now - dt.timedelta(minutes=1):
            raise FieldError(f"{when:%Y-%m-%d %H:%M %Z} is in the past; give a later time, or send now", field="at")
        if when > now + HORIZON:
            raise FieldError("a send can be scheduled at most two years ahead", field="at")
        return when

    def create(
        self,
        campaign: Campaign,
        source: str,
        when: dt.datetime,
        actor: str | None,
        *,
        recurring_id: int | None = None,
        occurrence: dt.datetime | None = None,
    ) -> int | None:
        """A scheduled send (call inside a transaction); ``None`` when this occurrence has one already."""
        from crm_campaigns.events import CampaignScheduled

        if recurring_id is not None and Send.get_or_none(
            (Send.recurring == recurring_id) & (Send.occurrence == occurrence)
        ):
            return None  # this occurrence has its send (the unique index stops a second made meanwhile)
        send_id = int(
            Send.insert(
                campaign=campaign.id,
                source=source,
                list_id=list_id_of(self.crm, source),
                status="scheduled",
                scheduled_for=when,
                recurring=recurring_id,
                occurrence=occurrence,
                created_by=actor,
                created_at=self.crm.clock.now(),
            ).execute()
        )
        self.crm.emit(
            CampaignScheduled(
                campaign_id=campaign.id,
                send_id=send_id,
                source=source,
                scheduled_for=when,
                recurring_id=recurring_id,
            )
        )
        return send_id

    def run(self, send_id: int) -> None:
        with self.crm.activate():
            run_send(self.crm, send_id)

    def get(self, send_id: int) -> Send:
        with self.crm.activate():
            row = Send.get_or_none(Send.id == send_id)
        if row is None:
            raise NotFoundError(f"no send {send_id}; 'crm campaigns show CAMPAIGN' lists a campaign's sends")
        return row

    def cancel(self, send_id: int, actor: str | None) -> None:
        from crm_campaigns.events import CampaignCancelled

        with self.crm.transaction():
            row = self.get(send_id)
            changed = (
                Send.update(status="cancelled", cancelled_at=self.crm.clock.now(), cancelled_by=actor)
                .where(
                    (Send.id == send_id)
                    & ((Send.status == "scheduled") | ((Send.status == "sending") & Send.last_error.is_null(False)))
                )
                .execute()
            )
            if changed != 1:
                raise ValidationError(
                    f"send {send_id} is {row.status}: only a scheduled send, or one stopped by an error, can be "
                    "cancelled" + (" (its mail is in the queue)" if row.status in ("sending", "sent") else "")
                )
            self.crm.emit(CampaignCancelled(campaign_id=row.campaign_id, send_id=row.id, source=row.source))

    def infos(self, rows: Sequence[Send]) -> list[SendInfo]:
        with self.crm.activate():
            names: dict[int, str] = {}
            if rows:
                ids = list({r.campaign_id for r in rows})
                names = dict(typed_rows.tuples(Campaign.select(Campaign.id, Campaign.name).where(Campaign.id.in_(ids))))
            numbers = counts([r.id for r in rows])
        return [_info(r, names.get(r.campaign_id, ""), numbers[r.id]) for r in rows]

    def listing(
        self, campaign_id: int | None = None, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> list[SendInfo]:
        """Sends (of one campaign), the latest first, with their counts."""
        with self.crm.activate():
            query = Send.select().order_by(Send.scheduled_for.desc(), Send.id.desc()).limit(limit).offset(offset)
            if campaign_id is not None:
                query = query.where(Send.campaign == campaign_id)
            if status is not None:
                query = query.where(Send.status == status)
            rows = list(query)
        return self.infos(rows)

    def count(self, campaign_id: int | None = None, status: str | None = None) -> int:
        with self.crm.activate():
            query = Send.select()
            if campaign_id is not None:
                query = query.where(Send.campaign == campaign_id)
            if status is not None:
                query = query.where(Send.status == status)
            return int(query.count())

    def run_due(self) -> list[int]:
        """Run every send whose time has come, and resume those cut off; the ids of those that ran to the end."""
        now = self.crm.clock.now()
        with self.crm.activate():
            due = [
                s
                for (s,) in typed_rows.tuples(
                    Send.select(Send.id)
                    .where(
                        ((Send.status == "scheduled") & (Send.scheduled_for <= now))
                        | ((Send.status == "sending") & (Send.started_at <= now - RESUME_AFTER))
                    )
                    .order_by(Send.scheduled_for, Send.id)
                )
            ]
        done = []
        for send_id in due:
            try:
                with self.crm.activate():
                    if run_send(self.crm, send_id):
                        done.append(send_id)
            except CRMError as exc:  # one broken send (a deleted list, a template) must not stop the others
                self.crm.log.error("campaigns: send %s failed and will be tried again: %s", send_id, exc)
        return done
