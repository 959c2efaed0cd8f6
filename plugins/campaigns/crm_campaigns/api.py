"""``crm.plugin("campaigns")``: the campaigns plugin's Python API.

A facade over the plugin's services (the catalog of campaigns, sends,
recurring newsletters, unsubscribe attribution). Every public method checks
the acting user's permission first (see the "Permissions" section of the
plugin's page); with no user acting (the worker, embedding code) every check
passes. A campaign is named by its id or its name wherever ``ref`` is asked.
"""

from __future__ import annotations

import builtins
import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from crm_campaigns.catalog import Catalog, check_fields
from crm_campaigns.content import FieldError, Templates, sample_card, variables
from crm_campaigns.permissions import CREATE, EDIT, READ, SEND
from crm_campaigns.records import Preview, TestMail
from crm_campaigns.recurring import Newsletters
from crm_campaigns.sends import Sends
from crm_core.errors import CRMError, PermissionDenied, ValidationError

if TYPE_CHECKING:
    from crm_campaigns.records import Audience, CampaignInfo, RecurringInfo, SendInfo
    from crm_core.app import CRM

__all__ = ["CampaignsAPI"]

#: the contacts plugin's permissions a send needs besides campaigns.send
LISTS_SEND = "contacts.lists.send"
CONTACTS_READ = "contacts.read"


class CampaignsAPI:
    """Everything the campaigns plugin offers to Python callers (the CLI, the desk, the HTTP API)."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._catalog = Catalog(crm)
        self._sends = Sends(crm)
        self._newsletters = Newsletters(crm, self._sends)

    def __repr__(self) -> str:
        return f"<CampaignsAPI of {self.crm!r}>"

    def _actor(self) -> str | None:
        user = self.crm.current_user
        return user.name if user is not None else None

    def _require_send(self) -> None:
        """A send reaches every contact of a list: ``campaigns.send``, ``contacts.lists.send`` and every contact in scope."""
        authz = self.crm.authz
        authz.require(SEND)
        authz.require(LISTS_SEND)
        scope = authz.scope(CONTACTS_READ)
        if scope != "all":
            user = self.crm.current_user
            raise PermissionDenied(
                f"user {user.name if user else '?'!r} may not send campaigns: a send reaches every contact of the "
                f"list, and their scope for {CONTACTS_READ} is {scope or 'none'}; ask a manager to send it",
                CONTACTS_READ,
            )

    def require_send(self) -> None:
        """Raise ``PermissionDenied`` unless the acting user may send campaigns (naming what they lack)."""
        self._require_send()

    def can_send(self) -> bool:
        """Whether the acting user may send campaigns (what :meth:`send` requires); for pages that offer it."""
        try:
            self._require_send()
        except PermissionDenied:
            return False
        return True

    # -- campaigns ---------------------------------------------------------------

    def list(self) -> builtins.list[CampaignInfo]:
        """Every campaign, the most recently changed first. Needs ``campaigns.read``."""
        self.crm.authz.require(READ)
        return self._catalog.listing()

    def get(self, ref: int | str) -> CampaignInfo:
        """One campaign by id or name. Needs ``campaigns.read``."""
        from crm_campaigns.catalog import info

        self.crm.authz.require(READ)
        return info(self._catalog.find(ref))

    def create(self, name: str, subject: str, text: str, html: str | None = None) -> CampaignInfo:
        """A new campaign; its templates are checked by rendering them for a sample contact. Needs ``campaigns.create``.

        Raises ``ValidationError`` (with ``field``) for an empty or too long
        value, a name already used, or a template error (naming the part and line).
        """
        self.crm.authz.require(CREATE)
        return self._catalog.create(name, subject, text, html, self._actor())

    def update(self, ref: int | str, **changes: Any) -> CampaignInfo:
        """Change ``name``, ``subject``, ``text`` or ``html`` (``None`` or ``""``: no HTML part). Needs ``campaigns.edit``.

        Sends already made keep what they queued; scheduled and recurring
        sends mail the campaign as it is when they run.
        """
        self.crm.authz.require(EDIT)
        return self._catalog.update(ref, changes, self._actor())

    def check(self, subject: str, text: str, html: str | None = None) -> None:
        """Raise the ``ValidationError`` saving these templates would raise (the desk's form). Needs ``campaigns.read``."""
        self.crm.authz.require(READ)
        check_fields("check", subject, text, html if html and html.strip() else None)

    def preview(
        self,
        ref: int | str | None = None,
        contact_id: int | None = None,
        *,
        subject: str | None = None,
        text: str | None = None,
        html: str | None = None,
    ) -> Preview:
        """A campaign (or the templates given) rendered for a contact the user may read, or for a made-up one.

        Needs ``campaigns.read``; the contact must be in the user's
        ``contacts.read`` scope (out of it: ``PermissionDenied``).
        """
        self.crm.authz.require(READ)
        if ref is not None:
            row = self._catalog.find(ref)
            subject = row.subject if subject is None else subject
            text = row.text_body if text is None else text
            html = row.html_body if html is None else html
        if subject is None or text is None:
            raise ValidationError("preview needs a campaign, or a subject and a text to render")
        card = sample_card() if contact_id is None else self.crm.plugin("contacts").card(int(contact_id))
        whom = "the sample contact" if contact_id is None else f"contact {card.id}"
        rendered = Templates(subject, text, html or None).render(variables(card), whom)
        return Preview(card.id, card.display_name, rendered.subject, rendered.text, rendered.html)

    def test(self, ref: int | str, contact_id: int | None = None) -> TestMail:
        """Queue the campaign, rendered for a contact (or a made-up one), to the acting user's own e-mail address.

        Needs ``campaigns.edit``. The system has no address: a test needs a
        user with one (``crm users edit NAME --email``).
        """
        self.crm.authz.require(EDIT)
        user = self.crm.current_user
        if user is None or not user.email:
            who = "the system (no user acting)" if user is None else f"user {user.name!r}"
            raise ValidationError(
                f"a test goes to the acting user's e-mail address, and {who} has none; "
                "give the user an address ('crm users edit NAME --email ADDRESS') or run with --as USER"
            )
        shown = self.preview(ref, contact_id)
        settings = self.crm.settings("campaigns")
        subject = f"{settings.test_prefix}{shown.subject}"
        queued = self.crm.mail.queue(user.email, subject, shown.text, html=shown.html, sender=settings.sender or None)
        assert queued is not None  # a fresh key is never queued before
        return TestMail(user.email, subject, queued.key)

    # -- sends -----------------------------------------------------------------

    def send(self, ref: int | str, source: str, at: dt.datetime | None = None) -> SendInfo:
        """Send the campaign to a mailing list or segment now, or (``at``, an aware datetime) schedule it.

        Now: the mail of every recipient is queued before this returns (the
        worker's ``crm.mail`` job delivers it). Later: the worker's
        ``campaigns.sends`` job runs it when its time comes. Needs
        ``campaigns.send``, ``contacts.lists.send`` and a ``contacts.read``
        scope of ``all``. Do-not-contact contacts and those unsubscribed
        from the list are left out, each address is mailed once.
        """
        self._require_send()
        campaign = self._catalog.find(ref)
        source = self._sends.check_source(source)
        when = self.crm.clock.now() if at is None else self._sends.check_time(at)
        with self.crm.transaction():
            send_id = self._sends.create(campaign, source, when, self._actor())
        assert send_id is not None
        if at is None:
            try:
                self._sends.run(send_id)
            except CRMError as exc:
                if isinstance(exc, PermissionDenied):
                    raise
                raise FieldError(
                    f"send {send_id} stopped: {exc}; fix the campaign and the worker resumes the send where it "
                    f"stopped, or cancel it ('crm campaigns cancel {send_id}')",
                    field=getattr(exc, "field", None),
                ) from None
        return self.send_info(send_id)

    def audience(self, source: str) -> Audience:
        """Who a send to the list or segment ``source`` would reach now, and who it would leave out; sends nothing.

        Needs ``campaigns.read`` (and the contacts plugin's ``contacts.lists.read``).
        """
        from crm_campaigns.records import Audience

        self.crm.authz.require(READ)
        source = self._sends.check_source(source)
        report = self.crm.plugin("contacts").audience_report(source, "email")
        return Audience(
            source=source,
            included=int(report.get("included", 0)),
            do_not_contact=int(report.get("do_not_contact", 0)),
            unsubscribed=int(report.get("unsubscribed", 0)),
            no_address=int(report.get("no_address", 0)),
        )

    def cancel(self, send_id: int) -> SendInfo:
        """Cancel a scheduled send before it goes out, or one stopped by an error (what it queued stays queued). Needs ``campaigns.send``."""
        self.crm.authz.require(SEND)
        self._sends.cancel(int(send_id), self._actor())
        return self.send_info(send_id)

    def send_info(self, send_id: int) -> SendInfo:
        """One send with its counts. Needs ``campaigns.read``."""
        self.crm.authz.require(READ)
        return self._sends.infos([self._sends.get(int(send_id))])[0]

    def sends(
        self, ref: int | str | None = None, *, status: str | None = None, limit: int = 100, offset: int = 0
    ) -> builtins.list[SendInfo]:
        """The sends of one campaign (or of all), the latest first, with their counts. Needs ``campaigns.read``."""
        from crm_campaigns.models import STATUSES

        self.crm.authz.require(READ)
        if status is not None and status not in STATUSES:
            raise FieldError(f"unknown send status {status!r}; use one of {', '.join(STATUSES)}", field="status")
        campaign_id = self._catalog.find(ref).id if ref is not None else None
        return self._sends.listing(campaign_id, status, limit, offset)

    def count_sends(self, ref: int | str | None = None, *, status: str | None = None) -> int:
        """How many sends :meth:`sends` would list without a limit. Needs ``campaigns.read``."""
        self.crm.authz.require(READ)
        campaign_id = self._catalog.find(ref).id if ref is not None else None
        return self._sends.count(campaign_id, status)

    # -- recurring newsletters ---------------------------------------------------

    def recur(self, ref: int | str, source: str, rule: str, start: dt.datetime | None = None) -> RecurringInfo:
        """Send the campaign to a list on an RFC 5545 rule (``FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9``), in the app's zone.

        The worker makes one send per occurrence, as the system. Needs what
        :meth:`send` needs.
        """
        self._require_send()
        return self._newsletters.add(self._catalog.find(ref), source, rule, start, self._actor())

    def recurring(self, ref: int | str | None = None) -> builtins.list[RecurringInfo]:
        """The recurring newsletters (of one campaign), with their next occurrence. Needs ``campaigns.read``."""
        self.crm.authz.require(READ)
        campaign_id = self._catalog.find(ref).id if ref is not None else None
        return self._newsletters.listing(campaign_id)

    def stop_recurring(self, recurring_id: int) -> RecurringInfo:
        """Stop a recurring newsletter (its sends so far stay). Needs ``campaigns.send``."""
        self.crm.authz.require(SEND)
        return self._newsletters.stop(int(recurring_id))

    # -- the worker and the events -------------------------------------------------

    def run_due(self) -> builtins.list[int]:
        """Make the sends of due newsletter occurrences and run every due send; the ids run to the end.

        The worker's ``campaigns.sends`` job calls it as the system; a user needs ``campaigns.send``.
        """
        self.crm.authz.require(SEND)
        self._newsletters.make_due()
        return self._sends.run_due()

    def handle_events(self, events: Sequence[Any]) -> int:
        """Attribute unsubscribes made through a mail's link to the send that mailed it; how many were."""
        from crm_campaigns.attribution import attribute

        return attribute(self.crm, events)
