"""Sending surveys by e-mail, and the one reminder.

A send goes to a mailing list or segment of the contacts plugin (which
leaves out, and counts, do-not-contact, unsubscribed and address-less
contacts) in a *round*: ``manual`` unless named, or one per occurrence of a
schedule. A contact gets at most one invitation per round, so sending the
same survey to two overlapping lists, or twice, mails each person once.

Everything is set-based and in one transaction: the audience is read 1,000
cards at a time, each page gives one bulk insert of invitations, one
``queue_many`` of rendered messages (keyed ``surveys:invite:<round>:<contact>``,
so the mail queue refuses a second copy) and one ``emit_many`` of
``SurveySent``. A template error stops the send with nothing written.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_core.clock import naive_utc
from crm_core.errors import NotFoundError, ValidationError
from crm_core.storage import batched, bulk_insert
from crm_surveys import catalog
from crm_surveys.collect import month_of, secret
from crm_surveys.definition import CONTACT_VARIABLES, EmailTemplate, SurveyDefinition
from crm_surveys.models import Invitation, Round, Survey
from crm_surveys.tokens import make_token

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_hookspecs.records import ContactCard
    from crm_surveys.scope import ContactScope

__all__ = ["Mailer", "ReminderReport", "SendReport", "Templates", "mailing_list", "remind", "send"]

PAGE = 1000
MAX_PROBLEMS = 10
_SPACE = re.compile(r"\s+")


@attrs.frozen
class SendReport:
    """What a send did (or, with ``dry_run``, would do)."""

    survey_id: int
    survey_key: str
    version: int
    round: str
    source: str
    medium: str
    sent: int
    already_invited: int
    do_not_contact: int
    unsubscribed: int
    no_address: int
    invalid: int = 0
    problems: tuple[str, ...] = ()
    dry_run: bool = False
    #: contacts of the list the acting user may not read (left out; always 0 for the system)
    out_of_scope: int = 0

    @property
    def skipped(self) -> int:
        return (
            self.already_invited
            + self.do_not_contact
            + self.unsubscribed
            + self.no_address
            + self.invalid
            + self.out_of_scope
        )


@attrs.frozen
class ReminderReport:
    survey_id: int
    survey_key: str
    after_days: int
    sent: int
    skipped: int
    dry_run: bool = False


class Templates:
    """A definition's e-mail templates, compiled once for a whole send.

    The subject, text and HTML templates are joined into one template (the
    HTML part inside ``{% autoescape true %}``) with a separator no contact
    field holds, so each recipient costs one render instead of three: the
    context Jinja2 builds per render is most of a short template's cost.
    """

    SEPARATOR = "\x1e\x1dsurveys-part\x1d\x1e"

    def __init__(self, template: EmailTemplate) -> None:
        import jinja2

        env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True)
        parts = [template.subject, template.text]
        if template.html is not None:
            parts.append("{% autoescape true %}" + template.html + "{% endautoescape %}")
        self.parts = len(parts)
        self.joined = env.from_string(self.SEPARATOR.join(parts))
        # a part that renders the separator itself cannot be split: those few are rendered apart
        self.apart = [env.from_string(p) for p in parts]

    def render(self, variables: dict[str, Any], where: str) -> tuple[str, str, str | None]:
        import jinja2

        try:
            pieces = self.joined.render(variables).split(self.SEPARATOR)
            if len(pieces) != self.parts:
                pieces = [t.render(variables) for t in self.apart]
        except jinja2.TemplateError as exc:
            raise ValidationError(
                f"the survey's e-mail template cannot be rendered for {where}: {exc}; fix the template"
            ) from None
        subject = _SPACE.sub(" ", pieces[0]).strip()
        return subject, pieces[1], pieces[2] if self.parts == 3 else None


def variables(
    card: ContactCard, survey: dict[str, str], link: str, token: str, expires_on: str, reminder: bool
) -> dict[str, Any]:
    """The names a template sees for one recipient (see ``TEMPLATE_VARIABLES``)."""
    values: dict[str, Any] = {name: _blank(getattr(card, name, None)) for name in CONTACT_VARIABLES}
    values.update(contact=card, survey=survey, link=link, token=token, expires_on=expires_on, reminder=reminder)
    return values


def _blank(value: Any) -> Any:
    return "" if value is None else value


def _address(card: ContactCard) -> Any:
    from crm_core.mail import Address

    name = _SPACE.sub(" ", card.display_name or "").strip()
    return Address(name, card.email)


def survey_variables(survey: Survey, definition: SurveyDefinition) -> dict[str, str]:
    return {"key": survey.key, "title": definition.title, "introduction": definition.introduction}


def get_round(crm: CRM, survey: Survey, key: str, schedule_id: int | None = None) -> Round:
    if not key or len(key) > 100 or any(c in key for c in "\r\n"):
        raise ValidationError(f"round name {key!r} must be 1 to 100 characters on one line")
    found = Round.get_or_none((Round.survey == survey.id) & (Round.key == key))
    if found is not None:
        return found
    Round.insert(
        survey=survey.id, key=key, schedule=schedule_id, created_at=crm.clock.now()
    ).on_conflict_ignore().execute()
    return Round.get((Round.survey == survey.id) & (Round.key == key))


_COLUMNS = (
    "survey_id",
    "round_id",
    "version",
    "contact_id",
    "original_contact_id",
    "medium",
    "region",
    "month",
    "sent_at",
    "expires_at",
    "source",
)


def send(
    crm: CRM,
    survey: Survey,
    source: str,
    *,
    round_key: str = "manual",
    dry_run: bool = False,
    schedule_id: int | None = None,
    scope: ContactScope | None = None,
) -> SendReport:
    """Send the current version of ``survey`` to ``source`` by e-mail (see the module docs).

    With ``scope``, only the contacts of ``source`` in it are invited; the
    others are counted in ``out_of_scope``.
    """
    if round_key == "direct":
        raise ValidationError("round 'direct' holds answers taken without a mailing; choose another round name")
    counts = crm.plugin("contacts").audience_report(source, "email")  # names an unknown list or segment
    mailing = _Mailing(crm, survey, scope)
    try:
        with crm.transaction():
            mailing.run(source, round_key, schedule_id, dry_run)
    except peewee.IntegrityError:
        # another send of this survey in this round committed first (PostgreSQL and MySQL
        # let both read; the unique index stops the second): nothing of this one was written
        raise ValidationError(
            f"another send of survey {survey.key!r} in round {round_key!r} ran at the same time; "
            "run this one again to reach whoever it missed"
        ) from None
    return SendReport(
        survey_id=survey.id,
        survey_key=survey.key,
        version=survey.current_version,
        round=round_key,
        source=source,
        medium="email",
        sent=mailing.sent,
        already_invited=mailing.already,
        do_not_contact=counts.get("do_not_contact", 0),
        unsubscribed=counts.get("unsubscribed", 0),
        no_address=counts.get("no_address", 0),
        invalid=mailing.invalid,
        problems=tuple(mailing.problems),
        dry_run=dry_run,
        out_of_scope=mailing.out_of_scope,
    )


class _Mailing:
    """One send: what is the same for every recipient, prepared once, and the counts."""

    def __init__(self, crm: CRM, survey: Survey, scope: ContactScope | None = None) -> None:
        settings = crm.settings("surveys")
        definition = catalog.definition(survey.id)
        self.crm, self.survey = crm, survey
        self.templates = Templates(definition.invitation_template())
        self.key = secret(crm)
        self.now = crm.clock.now()
        self.expires = self.now + dt.timedelta(days=settings.token_ttl_days)
        self.expires_on = self.expires.astimezone(crm.tz).date().isoformat()
        self.base_url = settings.base_url.rstrip("/")
        self.about = survey_variables(survey, definition)
        self.month = month_of(crm, self.now)
        self.scope = scope
        self.sent = self.already = self.invalid = self.out_of_scope = 0
        self.problems: list[str] = []
        self.mailing_list: str | None = None

    def run(self, source: str, round_key: str, schedule_id: int | None, dry_run: bool) -> None:
        crm, survey = self.crm, self.survey
        if dry_run:
            round_ = Round.get_or_none((Round.survey == survey.id) & (Round.key == round_key))
        else:
            round_ = get_round(crm, survey, round_key, schedule_id)
        self.mailing_list = mailing_list(crm, source)
        invited: set[int | None] = set()  # None: an invitation whose contact was erased
        if round_ is not None:
            invited = set(Invitation.select(Invitation.contact_id).where(Invitation.round == round_.id).scalars())
        for page in batched(crm.plugin("contacts").audience(source, "email"), PAGE):
            if self.scope is not None and self.scope.limited():
                reachable = self.scope.reachable(card.id for card in page)
                self.out_of_scope += sum(1 for card in page if card.id not in reachable)
                page = [card for card in page if card.id in reachable]
            fresh = [card for card in page if card.id not in invited]
            self.already += len(page) - len(fresh)
            if dry_run:
                self.sent += len(fresh)
            elif fresh:
                assert round_ is not None  # only a dry run leaves it unmade
                invited.update(self._page(round_.id, source, fresh))

    def _page(self, round_id: int, source: str, cards: list[ContactCard]) -> list[int]:
        """Invite, queue and tell one page of recipients with three set-based writes; their ids."""
        from crm_core.mail import OutgoingMessage
        from crm_hookspecs.events import SurveySent

        survey, version = self.survey, self.survey.current_version
        messages, rows, events = [], [], []
        for card in cards:
            token = make_token(self.key, survey.id, round_id, card.id, self.expires)
            values = variables(card, self.about, f"{self.base_url}/{token}", token, self.expires_on, False)
            subject, text, html = self.templates.render(values, f"contact {card.id}")
            try:
                message = OutgoingMessage(
                    _address(card), subject, text, html=html, key=f"surveys:invite:{round_id}:{card.id}",
                    bulk=True, contact_id=card.id, mailing_list=self.mailing_list,
                )  # fmt: skip
            except ValidationError as exc:
                self.invalid += 1
                if len(self.problems) < MAX_PROBLEMS:
                    self.problems.append(f"contact {card.id}: {exc}")
                continue
            messages.append(message)
            rows.append(
                (
                    survey.id,
                    round_id,
                    version,
                    card.id,
                    card.id,
                    "email",
                    card.region,
                    self.month,
                    naive_utc(self.now),
                    naive_utc(self.expires),
                    source,
                )
            )
            events.append(SurveySent(survey_id=survey.id, version=version, contact_id=card.id, medium="email"))
        if rows:
            bulk_insert(Invitation, _COLUMNS, rows, database=self.crm.database)
            self.crm.mail.queue_many(messages)
            self.crm.events.emit_many(events)
            self.sent += len(rows)
        return [row[3] for row in rows]


def mailing_list(crm: CRM, source: str) -> str | None:
    """The mailing list a send to ``source`` is about (its unsubscribe link leaves it), or None for a segment.

    Invitations are bulk mail: the kernel's mail queue adds the recipient's
    unsubscribe link and the ``List-Unsubscribe`` headers. A send to a
    segment is about no list: its link unsubscribes from all mail.
    """
    return source if source in {info.name for info in crm.plugin("contacts").lists()} else None


def reminder_days(crm: CRM, definition: SurveyDefinition, override: int | None) -> int:
    if override is not None:
        if override < 1:
            raise ValidationError(f"--after-days must be 1 or more days, not {override}")
        return override
    if definition.reminder_after_days is not None:
        return definition.reminder_after_days
    days: int = crm.settings("surveys").reminder_after_days
    return days


def remind(
    crm: CRM,
    survey: Survey,
    *,
    after_days: int | None = None,
    dry_run: bool = False,
    scope: ContactScope | None = None,
) -> ReminderReport:
    """Queue the one reminder to each e-mail invitee of ``survey`` who has not answered after N days.

    Due: sent by e-mail at least N days ago, not answered (a draft does not
    count), not reminded, not expired. The contact must still be in the
    audience the invitation went to (not do-not-contact nor unsubscribed
    since). Each reminder is keyed ``surveys:reminder:<invitation>`` and
    the invitation is marked in the same transaction, so it goes once.
    With ``scope``, only the invitees in it are reminded.
    """
    from crm_core.mail import OutgoingMessage

    definition = catalog.definition(survey.id)
    days = reminder_days(crm, definition, after_days)
    if days == 0:
        return ReminderReport(survey.id, survey.key, 0, 0, 0, dry_run)
    now = crm.clock.now()
    query = (
        Invitation.select(
            Invitation.id,
            Invitation.contact_id,
            Invitation.round,
            Invitation.version,
            Invitation.source,
            Invitation.original_contact_id,
            Invitation.expires_at,
        )
        .where(
            (Invitation.survey == survey.id)
            & (Invitation.medium == "email")
            & Invitation.answered_at.is_null()
            & Invitation.reminded_at.is_null()
            & Invitation.contact_id.is_null(False)
            & (Invitation.sent_at <= now - dt.timedelta(days=days))
            & (Invitation.expires_at > now)
        )
        .order_by(Invitation.id)
    )
    due = list(query if scope is None else scope.restrict(query, Invitation.contact_id))
    if not due:
        return ReminderReport(survey.id, survey.key, days, 0, 0, dry_run)
    contacts = crm.plugin("contacts")
    eligible: dict[str, dict[int, ContactCard]] = {}
    for source in sorted({i.source for i in due if i.source}):
        try:
            eligible[source] = {card.id: card for card in contacts.audience(source, "email")}
        except (NotFoundError, ValidationError):  # the list or segment is gone: remind nobody from it
            eligible[source] = {}
    key = secret(crm)
    base_url = crm.settings("surveys").base_url.rstrip("/")
    lists = {source: mailing_list(crm, source) for source in eligible}
    templates: dict[int, Templates] = {}
    about: dict[int, dict[str, str]] = {}
    messages, reminded = [], []
    skipped = 0
    for invitation in due:
        # due invitations have a contact, so the one they were made for too (an erasure clears both)
        assert invitation.contact_id is not None and invitation.original_contact_id is not None
        card = eligible.get(invitation.source or "", {}).get(invitation.contact_id)
        if card is None:
            skipped += 1
            continue
        if invitation.version not in templates:
            version_definition = catalog.definition(survey.id, invitation.version)
            templates[invitation.version] = Templates(version_definition.reminder_template())
            about[invitation.version] = survey_variables(survey, version_definition)
        token = make_token(key, survey.id, invitation.round_id, invitation.original_contact_id, invitation.expires_at)
        expires_on = invitation.expires_at.astimezone(crm.tz).date().isoformat()
        subject, text, html = templates[invitation.version].render(
            variables(card, about[invitation.version], f"{base_url}/{token}", token, expires_on, True),
            f"contact {card.id}",
        )
        try:
            messages.append(
                OutgoingMessage(
                    _address(card),
                    subject,
                    text,
                    html=html,
                    key=f"surveys:reminder:{invitation.id}",
                    bulk=True,
                    contact_id=card.id,
                    mailing_list=lists.get(invitation.source or ""),
                )  # fmt: skip
            )
        except ValidationError:
            skipped += 1
            continue
        reminded.append(invitation.id)
    if not dry_run and reminded:
        with crm.transaction():
            crm.mail.queue_many(messages)
            for ids in batched(reminded, PAGE):
                Invitation.update(reminded_at=now).where(
                    Invitation.id.in_(ids) & Invitation.reminded_at.is_null()
                ).execute()
    return ReminderReport(survey.id, survey.key, days, len(reminded), skipped, dry_run)


class Mailer:
    """Sending surveys by e-mail and the one reminder, to the contacts the acting user may reach."""

    def __init__(self, crm: CRM, scope: ContactScope) -> None:
        self.crm = crm
        self.scope = scope

    def round(self, survey: Survey, key: str, schedule_id: int | None = None) -> Round:
        """The sending round ``key`` of ``survey``, made if new (call inside a transaction)."""
        return get_round(self.crm, survey, key, schedule_id)

    def send(
        self,
        survey: Survey,
        source: str,
        *,
        round_key: str = "manual",
        dry_run: bool = False,
        schedule_id: int | None = None,
    ) -> SendReport:
        with self.crm.activate():
            return send(
                self.crm,
                survey,
                source,
                round_key=round_key,
                dry_run=dry_run,
                schedule_id=schedule_id,
                scope=self.scope,
            )

    def send_test(self, survey: Survey, name: str, email: str) -> None:
        """Queue the invitation e-mail once to ``email`` (the sender, to see it): their name in the contact's
        fields, a link that opens no form; no invitation is made and nothing is counted."""
        from types import SimpleNamespace

        from crm_core.mail import Address, OutgoingMessage

        with self.crm.activate():
            mailing = _Mailing(self.crm, survey)
            first, _, last = name.partition(" ")
            fields: dict[str, Any] = dict.fromkeys(CONTACT_VARIABLES, "")
            fields.update(display_name=name, first_name=first, last_name=last, email=email, kind="person")
            card = SimpleNamespace(**fields)
            values = variables(card, mailing.about, f"{mailing.base_url}/test", "test", mailing.expires_on, False)  # type: ignore[arg-type]
            subject, text, html = mailing.templates.render(values, f"the test to {email}")
            stamp = int(mailing.now.timestamp())
            message = OutgoingMessage(
                Address(name, email),
                f"[Test] {subject}",
                text,
                html=html,
                key=f"surveys:test:{survey.id}:{email}:{stamp}",
            )
            with self.crm.transaction():
                self.crm.mail.queue_many([message])

    def remind(self, survey: Survey, *, after_days: int | None = None, dry_run: bool = False) -> ReminderReport:
        with self.crm.activate():
            return remind(self.crm, survey, after_days=after_days, dry_run=dry_run, scope=self.scope)
