"""The API objects plugins offer each other through ``crm.plugin(name)``.

A plugin never imports another plugin: it asks the app for the other
plugin's API object and relies only on the protocol written here. These are
``typing.Protocol`` classes, for type checkers, for the documentation and
for ``crm.plugin(name, Protocol)``, which checks at run time that the object
has every method; the providing plugin's object implements them (and may
offer more, for its own CLI and for embedders, but other plugins use only
what is written here: the kernel's suite fails when one calls a method no
protocol declares). :data:`PROTOCOLS` says which plugin offers which.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from crm_hookspecs.records import (
    Chart,
    ContactCard,
    ContactPage,
    ListMember,
    MailingListInfo,
    SurveyForm,
    TaskSummary,
    TimelineEntry,
    UpdateForm,
    UpdateLink,
    UpdatePreview,
    UpdateResult,
)

__all__ = [
    "ChartsAPI",
    "ContactsAPI",
    "ContactsEditing",
    "ContactsSelfService",
    "Identified",
    "MailingListsAPI",
    "PROTOCOLS",
    "PortalAPI",
    "SurveysAPI",
    "TasksAPI",
    "WarehouseAPI",
]


class Identified(Protocol):
    """Anything with an ``id``: what a plugin may rely on in a record it did not define."""

    @property
    def id(self) -> int: ...


@runtime_checkable
class ContactsAPI(Protocol):
    """``crm.plugin("contacts")``, as other plugins may use it."""

    def card(self, contact_id: int) -> ContactCard:
        """One contact; raises ``crm_core.errors.NotFoundError`` if there is none."""
        ...

    def cards(self, contact_ids: Sequence[int]) -> list[ContactCard]:
        """Many contacts at once (one query), in the order asked; unknown ids are left out."""
        ...

    def audience(self, source: str, medium: str = "email") -> Iterator[ContactCard]:
        """The contacts a mailing goes to.

        ``source`` names a static mailing list or a saved segment.
        ``medium`` is ``"email"`` (contacts with an e-mail address) or
        ``"post"`` (contacts with a postal address). Deleted contacts,
        do-not-contact contacts and those unsubscribed from the list are
        left out; :meth:`audience_report` counts them.
        """
        ...

    def audience_report(self, source: str, medium: str = "email") -> dict[str, int]:
        """Counts for :meth:`audience`: ``included``, ``do_not_contact``, ``unsubscribed``, ``no_address``."""
        ...

    def search(self, query: str | None = None, *, limit: int = 50, offset: int = 0, **filters: Any) -> ContactPage:
        """Contacts matching ``query`` (an e-mail, a phone number or part of a name) and every filter, a page at a time (since 1.1).

        ``email=`` finds the contact with that address exactly. Deleted
        contacts are left out. The filters are documented on the contacts
        plugin's page. ``after=`` (since 1.3) takes a page's ``after`` to
        read the next page by position rather than by offset: a contact
        added or removed meanwhile shifts nothing; ``offset`` then only
        says how many matches came before (the previous page's ``offset``
        plus its number of cards), for ``has_more`` and "51-100 of 1,234".
        """
        ...

    def email_addresses(self, contact_id: int) -> list[str]:
        """Every e-mail address of the contact, primary first, deleted contacts included; ``[]`` for an unknown one (since 1.1)."""
        ...

    def reporting_tables(self) -> dict[str, str]:
        """The contacts' reporting table by role: ``contacts`` (since 1.1).

        Its columns (documented on the contacts plugin's page, "Reporting
        table") are what reports may read with plain SQL; deleted and merged
        contacts are in it, marked (``deleted_at``, ``merged_into``).
        """
        ...


@runtime_checkable
class ContactsEditing(Protocol):
    """``crm.plugin("contacts")``: adding and changing contacts, for plugins that take them in (since 1.1)."""

    def create(
        self, *, channel: str = "staff", email: str | None = None, phone: str | None = None, **fields: Any
    ) -> Identified:
        """Add a contact (checked as a staff entry would be) and emit ``ContactCreated``; the result's ``id`` is the new contact's."""
        ...

    def update(self, contact_id: int, *, channel: str = "staff", **fields: Any) -> Identified:
        """Change the named fields of a contact and emit ``ContactChanged`` with the diff."""
        ...


@runtime_checkable
class MailingListsAPI(Protocol):
    """``crm.plugin("contacts")``: the static mailing lists and who left them (since 1.1)."""

    def lists(self) -> list[MailingListInfo]:
        """Every mailing list with its member and unsubscribe counts."""
        ...

    def list_members(self, name: str, *, limit: int | None = None, offset: int = 0) -> list[ListMember]:
        """The members of a list, with their state; ``NotFoundError`` for an unknown list."""
        ...

    def add_to_list(self, name: str, contact_ids: Iterable[int]) -> int:
        """Add contacts to a list; returns how many were new. Members who unsubscribed stay unsubscribed."""
        ...

    def unsubscribe(self, contact_id: int, list_name: str | None = None, *, channel: str = "staff") -> bool:
        """Unsubscribe from one list, or (``None``) from everything (do-not-contact); ``False`` when it was already so."""
        ...

    def resubscribe(self, contact_id: int, list_name: str) -> bool:
        """Undo a per-list unsubscribe, when the contact asks to come back; ``False`` when he was subscribed."""
        ...


@runtime_checkable
class ContactsSelfService(Protocol):
    """``crm.plugin("contacts")``: customers updating their own details through a signed link (since 1.1).

    Refusals are ``crm_core.signing.LinkError`` subclasses with a ``code``
    and an ``http_status``; an invalid value is one with code ``invalid``
    and the ``field`` at fault.
    """

    def issue_update_link(
        self, contact_id: int, fields: Sequence[str] | None = None, ttl_hours: float | None = None
    ) -> UpdateLink:
        """A new single-use link letting the contact change ``fields`` (default: every configured one)."""
        ...

    def inspect_update_token(self, token: str) -> UpdateForm:
        """Check a link's token without using it up; what the form needs."""
        ...

    def preview_update(self, token: str, changes: Mapping[str, Any]) -> UpdatePreview:
        """What ``changes`` would do, checked as :meth:`submit_update` checks them; writes nothing."""
        ...

    def submit_update(self, token: str, changes: Mapping[str, Any]) -> UpdateResult:
        """Use the link once: apply ``changes`` or queue them for staff, per the plugin's configuration."""
        ...


@runtime_checkable
class WarehouseAPI(Protocol):
    """``crm.plugin("warehouse")``, as other plugins may use it.

    The warehouse keeps every delivered event; these calls read that history
    and the reporting tables it keeps current.
    """

    def contact_as_of(self, contact_id: int, when: _dt.date | _dt.datetime) -> dict[str, Any]:
        """The contact's fields as they were on a past date, rebuilt from its events.

        ``when`` is a date (meaning the end of that day in the app's time
        zone) or an aware datetime (that instant). The result maps field
        names to values, as ``ContactCreated.data`` and ``ContactChanged``
        set them, plus ``"id"`` and ``"kind"``. Raises
        ``crm_core.errors.NotFoundError`` when the contact did not exist yet
        at that time (or the warehouse holds no event creating it).
        """
        ...

    def timeline(
        self,
        contact_id: int,
        kinds: Sequence[str] | None = None,
        limit: int = 50,
        before: _dt.datetime | None = None,
    ) -> list[TimelineEntry]:
        """What happened to or around a contact, newest first.

        ``kinds`` keeps only entries of those kinds (see
        :class:`~crm_hookspecs.records.TimelineEntry`); ``before`` pages back
        from an instant (pass the last entry's ``occurred_at``).
        """
        ...

    def customers_without_won_sale_since(self, since: _dt.date) -> dict[int, _dt.date | None]:
        """Current customers with no sale won on or after ``since``.

        One set-based query over the reporting tables: contacts whose
        current status is ``customer`` (not deleted), mapped to the date of
        their last won sale (``None`` if they never won one), by contact id.
        Made for inactivity scans.
        """
        ...

    def customers_quiet_since(self, since: _dt.date) -> dict[int, tuple[_dt.date | None, _dt.date]]:
        """Current customers who neither won a sale nor became customers on or after ``since``.

        Like :meth:`customers_without_won_sale_since`, but a contact is quiet
        only from the later of its last won sale and the day it last became a
        customer (its status turned ``customer``, or it was created as one), so
        a customer who just arrived is not. Maps each contact id to ``(date
        of the last won sale or None, day it became a customer)``, days in the
        app's time zone. A later addition to the contract: a warehouse
        written before it lacks it, so callers check with ``getattr``.
        """
        ...

    def reporting_tables(self) -> dict[str, str]:
        """The reporting tables' names: ``sales``, ``survey_answers``, ``survey_responses``,
        ``contact_status``, ``contact_changes``, ``events`` and ``event_contacts``.

        Their columns are documented on the warehouse's documentation page;
        reports query them with plain SQL. A warehouse may also name summary
        tables of them (``sales_summary``, ``status_summary``… and
        ``summary_state``, documented there too): callers check for those
        roles before reading them, since an older warehouse names none.
        """
        ...


@runtime_checkable
class SurveysAPI(Protocol):
    """``crm.plugin("surveys")``, as other plugins (the web portal) may use it.

    A recipient's link carries a signed, expiring token bound to him and to
    the survey; these calls are all a web form needs. Invalid tokens and
    answers raise ``crm_core.errors.ValidationError`` with a message that
    can be shown to the person.
    """

    def form(self, token: str, survey_id: int | None = None) -> SurveyForm:
        """The survey behind ``token``, with the recipient's current answers.

        Raises ``ValidationError`` when the token is forged or expired, or
        (when ``survey_id`` is given, as in a URL that names the survey)
        made for another survey.
        """
        ...

    def visible_questions(self, form: SurveyForm, answers: Mapping[str, Any]) -> list[str]:
        """The keys of the questions shown, in order, given ``answers`` (conditions evaluated)."""
        ...

    def check_answers(self, form: SurveyForm, answers: Mapping[str, Any], *, partial: bool = False) -> dict[str, str]:
        """What is wrong with ``answers``, by question key (empty when they can be saved).

        Values may be the strings a web form posts (``"9"``, ``"yes"``, a
        list of strings for a multiple choice). With ``partial`` required
        questions may be left out (a draft).
        """
        ...

    def submit(self, token: str, answers: Mapping[str, Any], *, partial: bool = False, channel: str = "web") -> int:
        """Validate and save the answers behind ``token``; return the response id.

        Answering again updates the same response. A complete answer emits
        ``SurveyAnswered``; a ``partial`` one is kept as a draft only.
        """
        ...

    def token(self, ref: int | str, contact_id: int, *, days: int | None = None) -> str:
        """A fresh token for the contact's newest invitation to survey ``ref`` (its id or key) (since 1.1).

        Raises ``NotFoundError`` when the contact was never invited.
        """
        ...

    def link(self, token: str) -> str:
        """The web form's address for ``token`` (since 1.1)."""
        ...


@runtime_checkable
class PortalAPI(Protocol):
    """``crm.plugin("portal")``, as other plugins may use it: links into the customer portal.

    The links are absolute, built on ``plugins.portal.base_url``, and signed
    with the portal's secret, so a plugin that sends mail can offer them
    without knowing how the portal checks them.
    """

    def unsubscribe_url(self, contact_id: int, list_name: str | None = None) -> str:
        """A one-click unsubscribe link for the contact: from the mailing list ``list_name``, or from everything.

        The link needs no login and does not expire. Raises
        ``crm_core.errors.NotFoundError`` for an unknown list or contact.
        """
        ...

    def unsubscribe_headers(self, contact_id: int, list_name: str | None = None) -> dict[str, str]:
        """``List-Unsubscribe`` and ``List-Unsubscribe-Post`` (RFC 8058) for ``crm.mail.queue(headers=...)``."""
        ...

    def signup_url(self, form: str | None = None) -> str:
        """The public address of a sign-up form (the first one configured by default).

        Raises ``crm_core.errors.NotFoundError`` when no such form is configured.
        """
        ...


@runtime_checkable
class ChartsAPI(Protocol):
    """``crm.plugin("analytics")``: charts drawn for other plugins' pages, as the reports' own are (since 1.4).

    A plugin with figures to show (the surveys' results) builds a
    :class:`~crm_hookspecs.records.Chart` in its reader's language and has
    the analytics plugin draw it, rather than drawing charts a second way.
    Callers check ``crm.has_plugin("analytics")`` first: without it there is
    no chart, and the page shows its tables alone.
    """

    def draw_chart(self, chart: Chart, fmt: str = "svg") -> bytes:
        """``chart`` as an SVG (``fmt="svg"``) or PNG (``"png"``) image.

        Reads no records, but draws for users who may run reports
        (``analytics.reports.run``, ``PermissionDenied`` otherwise). Raises
        ``crm_core.errors.ValidationError`` for a chart it cannot draw (no
        value at all, more series than it can tell apart, another ``fmt``),
        naming the fix.
        """
        ...


@runtime_checkable
class TasksAPI(Protocol):
    """``crm.plugin("tasks")``, as other plugins may use it: the tasks about their records (since 1.4).

    A task is linked to the records it is about: a contact, a sales record
    (``sale``, ``request``), or a survey response (``survey_response``: a
    rule on ``SurveyAnswered`` links the task it makes to the response,
    such as the follow-up of a negative answer).
    """

    def linked_tasks(self, kind: str, ref_ids: Sequence[int]) -> dict[int, list[TaskSummary]]:
        """The tasks linked to each of ``ref_ids``, records of ``kind``, newest first.

        ``kind`` is ``contact`` (the tasks about the contact, linked or as
        their main contact), ``sale``, ``request`` or ``survey_response``.
        The result maps each id that has tasks to them; an id without any is
        left out. Needs ``tasks.read``; only the tasks in the acting user's
        scope are told (a seller's own, by default), so a task out of scope is
        as if it did not exist. One query per 500 ids. An unknown ``kind`` is a
        ``crm_core.errors.ValidationError`` naming the known ones.
        """
        ...


#: which protocols each plugin's API object implements, by plugin name
PROTOCOLS: dict[str, tuple[type, ...]] = {
    "analytics": (ChartsAPI,),
    "contacts": (ContactsAPI, ContactsEditing, MailingListsAPI, ContactsSelfService),
    "warehouse": (WarehouseAPI,),
    "surveys": (SurveysAPI,),
    "tasks": (TasksAPI,),
    "portal": (PortalAPI,),
}
