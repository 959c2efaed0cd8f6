"""Running a send: the audience, one page at a time, into the kernel's mail queue.

A send goes to a mailing list or segment of the contacts plugin, whose
``audience`` leaves out (and ``audience_report`` counts) deleted,
do-not-contact and unsubscribed contacts and those without an address.
Each page of 1,000 contacts is one transaction that

* reads which of the page's addresses the send already mailed,
* inserts a ``campaigns_recipient`` row per new address (unique per send and
  lower-cased address: two contacts sharing an address get one mail),
* queues the rendered messages with ``crm.mail.queue_many`` as bulk mail
  about the list (the queue adds the recipient's unsubscribe link and the
  ``List-Unsubscribe`` headers), keyed ``campaigns:<send>:<address hash>``
  so the queue refuses a second copy too.

So a send cut off half way (a crash, a killed worker) is resumed by the
worker from where it stopped, and two runs of one send (two workers) mail
nobody twice: the second run's insert of a row the first committed fails on
the unique index, and that page is read again. A template error stops the
send before anything is queued.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import TYPE_CHECKING, Any

import peewee

from crm_campaigns.content import Templates, variables
from crm_campaigns.models import Campaign, Recipient, Send
from crm_core.errors import CRMError
from crm_core.storage import batched, bulk_insert

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import ContactCard

__all__ = ["PAGE", "RESUME_AFTER", "list_id_of", "mail_key", "normalize", "run_send"]

PAGE = 1000
#: a send still "sending" this long after it started was cut off: the worker resumes it
RESUME_AFTER = dt.timedelta(minutes=10)
_COLUMNS = ("send_id", "address", "contact_id", "mail_key", "queued_at")


def normalize(address: str) -> str:
    """The form an address is kept in, unique per send: trimmed, lower-cased."""
    return address.strip().lower()


def mail_key(send_id: int, address: str) -> str:
    return f"campaigns:{send_id}:{hashlib.sha256(address.encode()).hexdigest()[:40]}"


def list_id_of(crm: CRM, source: str) -> int | None:
    """The id of the static mailing list ``source`` names, or None for a segment."""
    for info in crm.plugin("contacts").lists():
        if info.name == source:
            return int(info.id)
    return None


def run_send(crm: CRM, send_id: int) -> bool:
    """Queue the mail of a send that is due (scheduled) or was cut off (sending); whether it ran to the end.

    Runs as whoever calls it: the worker (the system), or a user who may
    send (checked by the API before). A send that is cancelled or already
    sent is left alone.
    """
    from crm_campaigns.events import CampaignSent

    now = crm.clock.now()
    with crm.transaction():
        Send.update(status="sending", started_at=peewee.fn.COALESCE(Send.started_at, now), last_error=None).where(
            (Send.id == send_id) & Send.status.in_(("scheduled", "sending"))
        ).execute()
        # read rather than trust the row count: MySQL counts a row the update left as it was (a resumed send) as 0
        claimed = Send.select().where((Send.id == send_id) & (Send.status == "sending")).exists()
    if not claimed:
        return False
    with crm.activate():
        send = Send.get_by_id(send_id)
        campaign = Campaign.get_by_id(send.campaign_id)
    try:
        templates = Templates(campaign.subject, campaign.text_body, campaign.html_body)
        contacts = crm.plugin("contacts")
        report = contacts.audience_report(send.source, "email")
        run = _Run(crm, send, templates)
        for page in batched(contacts.audience(send.source, "email"), PAGE):
            if not run.page(page):
                return False  # cancelled meanwhile: what was queued stays queued, nothing more is
    except CRMError as exc:
        # the send stays 'sending' with its error: the worker tries it again, and the page shows why
        with crm.transaction():
            Send.update(last_error=str(exc)).where(Send.id == send_id).execute()
        raise
    with crm.activate():
        queued = Recipient.select().where(Recipient.send == send_id).count()
    included = int(report.get("included", 0))
    duplicates = max(included - queued - run.invalid, 0)
    with crm.transaction():
        finished = (
            Send.update(
                status="sent",
                finished_at=crm.clock.now(),
                do_not_contact=int(report.get("do_not_contact", 0)),
                unsubscribed_before=int(report.get("unsubscribed", 0)),
                no_address=int(report.get("no_address", 0)),
                duplicates=duplicates,
                invalid=run.invalid,
                last_error="; ".join(run.problems) or None,
            )
            .where((Send.id == send_id) & (Send.status == "sending"))
            .execute()
        )
        if not finished:  # another run of this send finished it first (and told)
            return False
        skipped = int(report.get("do_not_contact", 0)) + int(report.get("unsubscribed", 0))
        skipped += int(report.get("no_address", 0)) + duplicates + run.invalid
        crm.emit(
            CampaignSent(
                campaign_id=send.campaign_id,
                send_id=send.id,
                source=send.source,
                queued=queued,
                skipped=skipped,
                recurring_id=send.recurring_id,
            )
        )
    return True


class _Run:
    """One run of a send: what is the same for every recipient, and what it found."""

    MAX_PROBLEMS = 5

    def __init__(self, crm: CRM, send: Send, templates: Templates) -> None:
        self.crm, self.send, self.templates = crm, send, templates
        self.mailing_list = send.source if send.list_id is not None else None
        self.sender = crm.settings("campaigns").sender or None
        self.invalid = 0
        self.problems: list[str] = []

    def page(self, cards: list[ContactCard]) -> bool:
        """Queue one page of the audience; False when the send was cancelled meanwhile (nothing written)."""
        while True:
            try:
                with self.crm.transaction():
                    if not Send.select().where((Send.id == self.send.id) & (Send.status == "sending")).exists():
                        return False
                    self._write(cards)
                return True
            except peewee.IntegrityError:
                continue  # another run of this send wrote some of these addresses meanwhile: read them again

    def _write(self, cards: list[ContactCard]) -> None:
        from crm_core.errors import ValidationError
        from crm_core.mail import Address, OutgoingMessage

        send_id = self.send.id
        wanted = {normalize(card.email) for card in cards if card.email}
        done = set(
            Recipient.select(Recipient.address)
            .where((Recipient.send == send_id) & Recipient.address.in_(list(wanted)))
            .scalars()
        )
        now = self.crm.clock.now()
        rows: list[tuple[Any, ...]] = []
        messages = []
        for card in cards:
            address = normalize(card.email or "")
            if not address or address in done:
                continue
            rendered = self.templates.render(variables(card), f"contact {card.id}")
            key = mail_key(send_id, address)
            try:
                message = OutgoingMessage(
                    Address(" ".join((card.display_name or "").split()), card.email or ""),
                    rendered.subject, rendered.text, html=rendered.html, key=key, sender=self.sender,
                    bulk=True, contact_id=card.id, mailing_list=self.mailing_list,
                )  # fmt: skip
            except ValidationError as exc:
                self.invalid += 1
                if len(self.problems) < self.MAX_PROBLEMS:
                    self.problems.append(f"contact {card.id}: {exc}")
                continue
            done.add(address)
            rows.append((send_id, address, card.id, key, now))
            messages.append(message)
        if rows:
            bulk_insert(Recipient, _COLUMNS, rows, database=self.crm.database)
            self.crm.mail.queue_many(messages)
