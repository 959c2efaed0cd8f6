"""Records that cross the boundary between the kernel and the plugins.

They are small frozen attrs classes: what a hook returns to the kernel, or
what one plugin hands to another through the kernel. The staff web app's
records (``Desk*``, contract 1.3.0) and the charts one plugin draws for
another (``Chart``, contract 1.4.0) are defined in modules of their own and
imported from here, and so is ``CommandSpec`` (``crm_hookspecs.commands``,
contract 1.4.0, which a plugin's entry module imports instead of this one).
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import attrs

from crm_hookspecs._charts import Chart, ChartSeries
from crm_hookspecs._desk import DeskAction, DeskNavEntry, DeskPages, DeskPanel, DeskSearchResult, DeskWidget
from crm_hookspecs.commands import CommandSpec

__all__ = [
    "ApiFile",
    "ApiOperation",
    "ApiPage",
    "ApiParam",
    "ApiRequest",
    "ApiResource",
    "Chart",
    "ChartSeries",
    "CommandSpec",
    "ContactCard",
    "ContactPage",
    "DeskAction",
    "DeskNavEntry",
    "DeskPages",
    "DeskPanel",
    "DeskSearchResult",
    "DeskWidget",
    "FieldChange",
    "JobSpec",
    "ListMember",
    "MailTransportSpec",
    "MailingListInfo",
    "PermissionSpec",
    "PluginSchema",
    "PortalPage",
    "RecordTypeSpec",
    "PostalAddress",
    "SurveyCondition",
    "SurveyForm",
    "SurveyQuestion",
    "TaskSummary",
    "TimelineEntry",
    "UpdateForm",
    "UpdateLink",
    "UpdatePreview",
    "UpdateResult",
    "UserInfo",
]


def _to_path(value: str | Path) -> Path:
    return Path(value)


def _to_tuple(value: Any) -> tuple[Any, ...]:
    # Not `converter=tuple`: attrs reads a converter's signature, and for a
    # builtin that parses its text signature with tokenize, whose regex
    # compiles in ~10 ms, on every import of the contract (`crm --help`).
    return tuple(value)


@attrs.frozen
class PluginSchema:
    """A plugin's database schema, returned by ``crm_schema``.

    ``migrations`` is the folder of numbered migration scripts run by
    ``playhouse.migrations``; ``models`` are the plugin's peewee models (each
    table name must start with the plugin's name and an underscore).
    """

    migrations: Path = attrs.field(converter=_to_path)
    models: tuple[type, ...] = attrs.field(default=(), converter=_to_tuple)


@attrs.frozen
class JobSpec:
    """A timed job contributed by ``crm_worker_jobs`` and run by ``crm worker``.

    Exactly one of ``interval`` and ``rrule`` is set. ``rrule`` is an RFC 5545
    recurrence rule (``"FREQ=WEEKLY;BYDAY=MO;BYHOUR=9"``) evaluated in the
    app's time zone. ``catch_up`` says what happens to occurrences missed while
    no worker ran: ``"once"`` runs one now, ``"each"`` runs every missed one.
    ``run`` is called as ``run(crm, scheduled_at)``.
    """

    name: str
    run: Callable[..., Any]
    interval: _dt.timedelta | None = None
    rrule: str | None = None
    catch_up: Literal["once", "each"] = "once"
    lease: _dt.timedelta = _dt.timedelta(minutes=10)

    def __attrs_post_init__(self) -> None:
        if (self.interval is None) == (self.rrule is None):
            raise ValueError(f"JobSpec {self.name!r}: give exactly one of interval= and rrule=")
        if self.catch_up not in ("once", "each"):
            raise ValueError(f"JobSpec {self.name!r}: catch_up must be 'once' or 'each', not {self.catch_up!r}")


@attrs.frozen
class MailTransportSpec:
    """A mail transport contributed by ``crm_mail_transports``.

    ``factory(crm, options)`` is called with the ``[crm.mail.transport_options]``
    table and returns an object with ``send(envelopes)``; see the mail
    documentation (docs/mail.md) for the transport protocol.
    """

    name: str
    factory: Callable[..., Any]


@attrs.frozen
class FieldChange:
    """One field's change inside ``ContactChanged``: its value before and after."""

    #: what the field held: a text, a number, true or false, a list (e-mails…), or null
    old: Any = attrs.field(metadata={"schema": {"description": "The value before: any JSON value, or null."}})
    #: what it holds now
    new: Any = attrs.field(metadata={"schema": {"description": "The value after: any JSON value, or null."}})


@attrs.frozen
class PostalAddress:
    """A postal address as one plugin hands it to another (letters, labels)."""

    street: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    #: ISO 3166-1 alpha-2 code
    country: str = ""
    extra: str = ""

    def lines(self) -> list[str]:
        """The address as printed on an envelope, empty parts left out."""
        city_line = " ".join(p for p in (self.postal_code, self.city) if p)
        return [p for p in (self.street, self.extra, city_line, self.region, self.country) if p]


@attrs.frozen
class ContactCard:
    """What the contacts plugin tells other plugins about one contact.

    ``email``, ``phone`` and ``address`` are the primary ones (or ``None``).
    ``status`` is ``prospect``, ``customer`` or ``former``. ``language`` is a
    BCP 47 tag such as ``es`` or ``en-GB`` (``None`` when unknown).
    """

    id: int
    kind: str
    display_name: str
    first_name: str = ""
    last_name: str = ""
    organization_id: int | None = None
    organization_name: str | None = None
    email: str | None = None
    phone: str | None = None
    address: PostalAddress | None = None
    status: str = "prospect"
    region: str | None = None
    country: str | None = None
    owner: str | None = None
    language: str | None = None
    tags: tuple[str, ...] = ()
    do_not_contact: bool = False
    #: soft-deleted (restorable); a deleted contact is never mailed (since 1.1)
    deleted: bool = False


@attrs.frozen
class ContactPage:
    """One page of contacts found by the contacts plugin's ``search``, with the number of matches (since 1.1)."""

    cards: list[ContactCard]
    total: int
    offset: int
    limit: int
    #: where the next page starts, ``None`` on the last page: pass it as ``search(after=...)`` (keyset paging, since 1.3)
    after: tuple[str, int] | None = None
    #: false when ``total`` is a lower bound: the matches were counted only so far (``search(count=...)``, since 1.3)
    total_exact: bool = True

    @property
    def has_more(self) -> bool:
        return self.offset + len(self.cards) < self.total


@attrs.frozen
class MailingListInfo:
    """A static mailing list: its members, and how many of them unsubscribed from it (since 1.1)."""

    id: int
    name: str
    description: str
    members: int
    unsubscribed: int


@attrs.frozen
class ListMember:
    """One member of a static list, with why a mailing would leave him out, if it would (since 1.1)."""

    contact_id: int
    display_name: str
    email: str | None
    added_at: Any
    unsubscribed_at: Any
    do_not_contact: bool
    deleted: bool

    @property
    def state(self) -> str:
        """``subscribed``, ``unsubscribed``, ``do-not-contact`` or ``deleted``."""
        if self.deleted:
            return "deleted"
        if self.do_not_contact:
            return "do-not-contact"
        if self.unsubscribed_at is not None:
            return "unsubscribed"
        return "subscribed"


@attrs.frozen
class UpdateLink:
    """A self-service update link just issued: give ``url`` (or ``token``) to the contact (since 1.1)."""

    token: str
    url: str
    contact_id: int
    fields: tuple[str, ...]
    expires_at: _dt.datetime


@attrs.frozen
class UpdateForm:
    """What a web form needs to let the holder of a valid update link change his details (since 1.1)."""

    contact_id: int
    display_name: str
    #: the fields the holder may change, in a stable order
    fields: tuple[str, ...]
    #: their current values, shaped as the contacts plugin's ``update()`` takes them
    current: dict[str, Any]
    expires_at: _dt.datetime
    #: ``apply`` or ``review``: whether a submitted change takes effect at once
    mode: str


@attrs.frozen
class UpdatePreview:
    """What a submitted self-service change would do; nothing is written (since 1.1)."""

    contact_id: int
    changes: dict[str, FieldChange]
    mode: str


@attrs.frozen
class UpdateResult:
    """What a submitted self-service change did (since 1.1).

    ``status`` is ``applied`` (written), ``pending`` (queued for staff as
    ``pending_id``; ``applied`` lists fields written at once, such as
    ``do_not_contact``) or ``unchanged`` (the values were already so).
    """

    status: str
    contact_id: int
    changes: dict[str, FieldChange]
    pending_id: int | None = None
    applied: tuple[str, ...] = ()


@attrs.frozen
class TimelineEntry:
    """One thing that happened to or around a contact, as the warehouse tells it.

    ``type`` is the event's type name; ``kind`` groups types for filtering:
    ``contact``, ``request``, ``sale``, ``note``, ``document``, ``survey``,
    ``task``, ``mail`` or ``other`` (types no installed plugin defines are
    ``other`` with ``known`` false, never dropped). ``summary`` is one
    human-readable line; ``payload`` is the event as
    :func:`crm_hookspecs.events.to_payload` wrote it, readable back with
    :func:`crm_hookspecs.events.from_payload`. ``occurred_at`` is aware UTC.
    """

    event_id: str
    type: str
    kind: str
    occurred_at: _dt.datetime
    actor: str | None
    channel: str
    summary: str
    payload: dict[str, Any] = attrs.field(factory=dict)
    known: bool = True


@attrs.frozen
class TaskSummary:
    """A task as the tasks plugin tells other plugins about it (``TasksAPI.linked_tasks``, since 1.4).

    ``kind`` is ``to-do``, ``call``, ``e-mail``, ``meeting`` or
    ``follow-up``; ``status`` ``open``, ``done`` or ``cancelled``;
    ``assignee`` a user name (``None``: nobody yet). ``rule`` names the
    rule that made it (``None`` for a task made by hand or by a template).
    Times are aware UTC.
    """

    id: int
    title: str
    kind: str
    status: str
    assignee: str | None = None
    due_at: _dt.datetime | None = None
    created_at: _dt.datetime | None = None
    rule: str | None = None


@attrs.frozen
class SurveyCondition:
    """When a survey question is shown: an earlier question's answer compared with ``value``.

    ``op`` is ``=``, ``!=``, ``<``, ``<=``, ``>``, ``>=`` (against a number, a
    choice or a yes/no ``bool``), ``in`` or ``not in`` (against a list of
    values), ``contains`` (a multiple-choice answer includes ``value``) or
    ``answered`` (any answer at all; ``value`` is unused). A condition on a
    question that is unanswered or itself hidden is false.
    """

    question: str
    op: str = "answered"
    value: Any = None


@attrs.frozen
class SurveyQuestion:
    """One question of one survey version, as a form shows it.

    ``kind`` is ``nps`` (a whole number 0–10), ``csat`` (1–5), ``rating``
    (a whole number from ``min`` to ``max``), ``single_choice`` (one of
    ``choices``), ``multiple_choice`` (a list of ``choices``), ``yes_no`` (a
    ``bool``) or ``text`` (at most ``max_length`` characters). ``min_label``
    and ``max_label`` name the ends of a scale. The question is shown only
    when ``show_if`` is ``None`` or holds; a required question must be
    answered when it is shown.
    """

    key: str
    kind: str
    text: str
    required: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    min: int | None = None
    max: int | None = None
    min_label: str = ""
    max_label: str = ""
    max_length: int | None = None
    show_if: SurveyCondition | None = None


@attrs.frozen
class SurveyForm:
    """A survey as one recipient answers it: what a web form renders.

    Built by the surveys plugin from a signed token. ``version`` is the
    version the recipient was sent (answers keep it); ``answers`` holds his
    current answers by question key (empty before the first), so answering
    again shows and then updates them; ``complete`` says whether the saved
    answer is complete or a draft. Datetimes are aware UTC.
    """

    survey_id: int
    version: int
    title: str
    introduction: str
    questions: tuple[SurveyQuestion, ...]
    invitation_id: int
    contact_id: int | None
    expires_at: _dt.datetime | None = None
    answers: dict[str, Any] = attrs.field(factory=dict)
    complete: bool = False
    answered_at: _dt.datetime | None = None


_PAGE_NAME = re.compile(r"[a-z][a-z0-9_]{0,39}\Z")
_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


def _to_optional_path(value: str | Path | None) -> Path | None:
    return None if value is None else Path(value)


@attrs.frozen
class PortalPage:
    """A page of the customer portal, contributed by ``crm_portal_pages``.

    ``name`` (lower-case letters, digits and ``_``) makes the page's
    endpoint ``<plugin>.<name>``, for ``flask.url_for``. ``rule`` is a URL
    rule in werkzeug's syntax, relative to the portal's root
    (``"/loyalty/<token>"``). ``view`` is called during the request with the
    rule's variables as keyword arguments and returns what a Flask view
    returns; the app is ``flask.g.crm``. ``methods`` are the HTTP methods the
    page answers (every POST must carry the portal's CSRF token).
    ``templates`` is a folder of Jinja2 templates, loaded as
    ``"<plugin>/<file>"``, that may extend ``"portal/base.html"``. A
    ``title`` lists the page on the portal's home page (public pages only:
    leave it empty for a page behind a token).
    """

    name: str = attrs.field()
    rule: str = attrs.field()
    view: Callable[..., Any]
    methods: tuple[str, ...] = attrs.field(default=("GET",), converter=_to_tuple)
    templates: Path | None = attrs.field(default=None, converter=_to_optional_path)
    title: str = ""

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not _PAGE_NAME.match(value):
            raise ValueError(
                f"PortalPage name {value!r}: use 1 to 40 lower-case letters, digits and _, starting with a letter"
            )

    @rule.validator
    def _check_rule(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if not isinstance(value, str) or not value.startswith("/"):
            raise ValueError(
                f"PortalPage {self.name!r}: rule {value!r} must start with '/' (it is relative to the portal's root)"
            )

    @methods.validator
    def _check_methods(self, attribute: attrs.Attribute[Any], value: tuple[str, ...]) -> None:
        unknown = [m for m in value if m not in _HTTP_METHODS]
        if not value or unknown:
            raise ValueError(
                f"PortalPage {self.name!r}: methods must name at least one of {', '.join(_HTTP_METHODS)} (upper case), not {value!r}"
            )


# -- people and permissions (contract 1.1.0) -----------------------------------

_PERMISSION_NAME = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_-]*)+$")
SCOPES = ("own", "team", "all")


def _check_dotted(kind: str, value: Any) -> None:
    if not isinstance(value, str) or not _PERMISSION_NAME.match(value):
        raise ValueError(
            f"{kind} name {value!r}: use lower-case dotted words starting with the plugin's name, "
            "such as 'contacts.edit' or 'warehouse.sales.edit'"
        )


@attrs.frozen
class RecordTypeSpec:
    """A kind of record that has an owner (a user), declared by ``crm_permissions``.

    Roles give each such type a scope, ``own``, ``team`` or ``all``: which
    of these records a user's permissions reach (the records the user owns,
    those owned by members of the user's teams, or every one). ``name`` is
    dotted and starts with the plugin's name (``"contacts.contact"``).
    """

    name: str = attrs.field()
    description: str = ""

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[Any], value: str) -> None:
        _check_dotted("record type", value)


@attrs.frozen
class PermissionSpec:
    """A permission a plugin checks, declared by ``crm_permissions``.

    ``name`` is dotted and starts with the plugin's name (``"contacts.edit"``);
    ``description`` says what it allows, for ``crm roles permissions``.
    ``record_type`` names a :class:`RecordTypeSpec` when the permission acts
    on owned records: the role's scope for that type then limits which
    records it reaches.
    """

    name: str = attrs.field()
    description: str = ""
    record_type: str | None = None

    @name.validator
    def _check_name(self, attribute: attrs.Attribute[Any], value: str) -> None:
        _check_dotted("permission", value)


@attrs.frozen
class UserInfo:
    """A CRM user as code sees it: ``crm.current_user`` (``None`` for the system).

    ``teams`` holds team names and ``team_ids`` their ids; ``roles`` the role
    names. It is a snapshot taken when the user began to act.
    """

    id: int
    name: str
    display_name: str = ""
    email: str | None = None
    language: str | None = None
    timezone: str | None = None
    active: bool = True
    teams: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    team_ids: tuple[int, ...] = attrs.field(default=(), converter=_to_tuple)
    roles: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    created_at: _dt.datetime | None = None
    last_sign_in_at: _dt.datetime | None = None
    two_factor: bool = False


# -- the HTTP API (crm_api_resources, contract 1.2.0) ---------------------------------------------

_HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


@attrs.frozen
class ApiParam:
    """A query parameter an API operation understands: a filter, documented in the OpenAPI document.

    ``type`` is a JSON Schema type name (``string``, ``integer``, ``number``,
    ``boolean``) and ``format`` an optional JSON Schema format (``date``,
    ``date-time``, ``email``); ``enum`` lists the allowed values and
    ``minimum``/``maximum`` bound a number and ``pattern`` is a regular
    expression a text must match. The HTTP layer checks the type, the
    bounds, the pattern and the choices before the handler runs (``400``
    otherwise).
    """

    name: str
    description: str = ""
    type: str = "string"
    format: str | None = None
    enum: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    minimum: int | None = None
    maximum: int | None = None
    #: a regular expression the value must match (searched, as JSON Schema does)
    pattern: str | None = None


@attrs.frozen
class ApiRequest:
    """What an API operation's handler is given (the HTTP layer is the ``crm-api`` plugin's).

    ``path`` holds the path's parameters (``{"id": 12}``: integers when the
    template says ``{id:int}``), ``query`` the query string's filters (the
    paging and sorting parameters taken out), ``body`` the decoded JSON body
    (``None`` without one). A listing gets ``limit`` (at most 500),
    ``cursor`` (what the handler put in the previous page's ``ApiPage.next``,
    ``None`` for the first page), ``sort`` (one of the operation's ``sorts``,
    a leading ``-`` for descending, or ``None``) and ``count`` (the caller
    asked for a total). The handler runs as the token's user: the plugin's
    API object it calls checks the permissions and scopes.
    """

    path: dict[str, Any] = attrs.field(factory=dict)
    query: dict[str, str] = attrs.field(factory=dict)
    body: Any = None
    #: the raw body and its media type, for an operation whose ``body`` is ``"binary"`` (a file upload)
    data: bytes = b""
    content_type: str = ""
    limit: int = 50
    cursor: Any = None
    sort: str | None = None
    count: bool = False


@attrs.frozen
class ApiFile:
    """A file an API operation answers with (a download): its name, media type and content."""

    name: str
    content_type: str
    data: bytes


@attrs.frozen
class ApiPage:
    """A page of a listing: ``items`` (records), ``next`` (a JSON-able cursor, ``None`` on the last page).

    ``next`` is what the handler wants back for the following page (an
    offset, or the last row's sort key for a cursor that stays valid while
    rows are added); the HTTP layer signs it into an opaque ``next`` link.
    ``total`` is filled only when the request asked for a count.
    """

    items: list[Any] = attrs.field(factory=list)
    next: Any = None
    total: int | None = None


@attrs.frozen
class ApiOperation:
    """One operation of the HTTP API: a method on a path, and the handler that serves it.

    ``path`` is relative to ``/api/v1`` (``"/contacts/{id:int}"``);
    ``handler(crm, request)`` gets an :class:`ApiRequest` and returns a
    record (an attrs instance, serialised with its field names), an
    :class:`ApiPage` when ``paginated``, an :class:`ApiFile` (a download),
    a JSON-able dict, or ``None`` (``204 No Content``). ``returns`` is the
    attrs class of the record (of each item for a listing; ``ApiFile`` for
    a download) and ``body`` the attrs class or JSON Schema (a dict) of the
    request body, both for the OpenAPI document; ``body="binary"`` takes
    the raw body as a file (``ApiRequest.data`` and ``content_type``).
    ``status`` is the success status (``201`` for a creation, which also
    gets a ``Location`` when ``location`` names the operation that reads the
    new record). ``etag_from`` names the operation (its ``operation_id``)
    that reads the record a ``PATCH``/``PUT``/``DELETE`` changes: the HTTP
    layer then requires ``If-Match`` with that record's ``ETag`` and answers
    ``412`` to a stale one. ``permission`` is documented, not enforced here:
    the plugin's API object checks it. ``accepts`` lists the media types a
    ``"binary"`` body may have and ``produces`` those of a file answer (both
    for the OpenAPI document, ``application/octet-stream`` when empty; the
    handler checks a body's type, contract 1.3.0). A ``202`` (work accepted)
    gets a ``Location`` as a ``201`` does.
    """

    method: str = attrs.field()
    path: str = attrs.field()
    handler: Callable[[Any, ApiRequest], Any]
    operation_id: str
    summary: str = ""
    description: str = ""
    returns: type | None = None
    body: Any = None
    paginated: bool = False
    filters: tuple[ApiParam, ...] = attrs.field(default=(), converter=_to_tuple)
    sorts: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    status: int = 200
    location: str | None = None
    etag_from: str | None = None
    permission: str | None = None
    #: the media types a ``"binary"`` body may have (``text/csv``), and those of a file answer (contract 1.3.0)
    accepts: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)
    produces: tuple[str, ...] = attrs.field(default=(), converter=_to_tuple)

    @method.validator
    def _check_method(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if value not in _HTTP_METHODS:
            raise ValueError(
                f"ApiOperation {self.operation_id!r}: method {value!r} is not one of {', '.join(_HTTP_METHODS)}"
            )

    @path.validator
    def _check_path(self, attribute: attrs.Attribute[Any], value: str) -> None:
        if not value.startswith("/") or value.endswith("/") or "//" in value:
            raise ValueError(
                f"ApiOperation {self.operation_id!r}: path {value!r} must start with '/' and not end with one ('/contacts/{{id:int}}')"
            )


@attrs.frozen
class ApiResource:
    """A group of API operations contributed by ``crm_api_resources`` (a tag in the OpenAPI document)."""

    name: str
    description: str = ""
    operations: tuple[ApiOperation, ...] = attrs.field(default=(), converter=_to_tuple)
