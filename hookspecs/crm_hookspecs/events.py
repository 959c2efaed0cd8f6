"""Event types: the facts that plugins tell each other about.

Every event is a frozen attrs class registered under a stable type name with
:func:`event_type`. The kernel writes events to its outbox with
:func:`to_payload` and hands them back with :func:`from_payload`; a payload
written by an older or newer version of an event type still reads back (new
fields need defaults; unknown keys are ignored), and a type nobody registered
reads back as :class:`UnknownEvent`, never lost.

Third-party plugins define their own types the same way, with a dotted name
of their own (``@event_type("acme.ParcelShipped")``).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import itertools
import os
import time
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

import attrs

from crm_hookspecs.records import FieldChange

__all__ = [
    "ConsentGiven",
    "ContactChanged",
    "ContactCreated",
    "ContactDeleted",
    "ContactErased",
    "ContactRestored",
    "ContactUnsubscribed",
    "ContactsMerged",
    "ContactsUnmerged",
    "DocumentAttached",
    "Event",
    "MailBounced",
    "RequestReceived",
    "SaleClosed",
    "SaleUpdated",
    "SecurityEvent",
    "StaffActionLogged",
    "StageChanged",
    "SurveyAnswered",
    "SurveySent",
    "TaskCompleted",
    "TaskCreated",
    "UnknownEvent",
    "event_type",
    "from_payload",
    "registered_types",
    "to_payload",
]

_REGISTRY: dict[str, type[Event]] = {}
E = TypeVar("E", bound="type[Event]")
_C = TypeVar("_C", bound=type)


class _EventIds:
    """Event ids in the layout of a UUID version 7 (RFC 9562), as 32 hex digits: time first.

    The first 48 bits are the Unix time in milliseconds, so ids made one
    after the other sort together and a unique index on them (the outbox's,
    the warehouse's) grows at its end instead of at random pages, which a
    random UUID costs on every insert once the index no longer fits in the
    cache. Then a counter (42 bits, starting at a random value) and a
    random number of this process (32 bits, drawn again in a forked child):
    two ids of one process differ by their counter, two processes by their
    number or their counter, and an id is made without a system call for
    randomness.
    """

    def __init__(self) -> None:
        self._reseed()
        if hasattr(os, "register_at_fork"):
            os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._node = os.urandom(4).hex()
        self._counter = itertools.count(int.from_bytes(os.urandom(6), "big"))

    def __call__(self) -> str:
        seq = next(self._counter) & 0x3FF_FFFF_FFFF  # 42 bits: 12 beside the version digit, 30 after the variant bits
        # milliseconds (12 digits), the version (7), then the variant bits (10) before the counter's low part;
        # %-formatting: a third faster than str.format here, and this runs once per event
        return "%012x7%03x%08x%s" % (  # noqa: UP031
            time.time_ns() // 1_000_000 & 0xFFFF_FFFF_FFFF,
            seq >> 30,
            0x8000_0000 | (seq & 0x3FFF_FFFF),
            self._node,
        )


_new_id = _EventIds()


# Event and UnknownEvent are made by attrs.frozen(kw_only=True); declared
# through dataclass_transform, like event_type() below, so that type
# checkers see the fields of Event in every event type's __init__
@dataclass_transform(kw_only_default=True, frozen_default=True, field_specifiers=(attrs.field,))
def _event_base(cls: _C) -> _C:
    return attrs.frozen(kw_only=True)(cls)


@_event_base
class Event:
    """Base of every event.

    ``event_id`` identifies the event (handlers use it to stay idempotent);
    ``occurred_at`` is set by the kernel's clock when the event is emitted;
    ``actor`` is the user name of the CRM user who made the change (or
    ``None`` for the system or a customer): left ``None``, the kernel fills
    it in from ``crm.current_user`` when the event is emitted inside
    ``crm.as_user(...)``, and turns a ``system`` channel into ``staff``;
    ``channel`` says how the change came in: ``staff``, ``import``,
    ``self-service``, ``api`` or ``system``.
    """

    __event_type__: ClassVar[str] = "Event"
    #: Fields that hold contact ids, used by :meth:`contact_ids`.
    __contact_fields__: ClassVar[tuple[str, ...]] = ("contact_id",)
    # set by attrs; declared so that type checkers take every event class for
    # an attrs class (attrs.fields(), attrs.evolve()), which _event_base hides
    __attrs_attrs__: ClassVar[
        Any
    ]  # as attrs.AttrsInstance declares it (attrs.Attribute is not subscriptable at run time)

    event_id: str = attrs.field(factory=_new_id)
    occurred_at: _dt.datetime | None = None
    actor: str | None = None
    channel: str = "system"

    @property
    def type_name(self) -> str:
        return type(self).__event_type__

    def contact_ids(self) -> tuple[int, ...]:
        """The ids of the contacts this event concerns, in field order."""
        ids = []
        for name in self.__contact_fields__:
            value = getattr(self, name, None)
            if value is not None:
                ids.append(int(value))
        return tuple(ids)


# tells type checkers that the decorated class is a frozen attrs class (its
# fields make its __init__), as attrs.frozen itself does
@dataclass_transform(frozen_default=True, field_specifiers=(attrs.field,))
def event_type(name: str) -> Callable[[E], E]:
    """Class decorator: make ``cls`` a frozen event registered as ``name``."""

    def register(cls: E) -> E:
        if name in _REGISTRY and _REGISTRY[name].__qualname__ != cls.__qualname__:
            raise ValueError(
                f"event type {name!r} is already registered by "
                f"{_REGISTRY[name].__module__}.{_REGISTRY[name].__qualname__}; "
                "choose another name (third-party types use a dotted prefix)"
            )
        frozen = attrs.frozen(cls)
        frozen.__event_type__ = name
        _REGISTRY[name] = frozen
        return frozen

    return register


def registered_types() -> dict[str, type[Event]]:
    """A copy of the registry: type name to class."""
    return dict(_REGISTRY)


@_event_base
class UnknownEvent(Event):
    """An event whose type no loaded code defines: kept, never dropped."""

    unknown_type: str
    payload: dict[str, Any]

    @property
    def type_name(self) -> str:
        return self.unknown_type

    def contact_ids(self) -> tuple[int, ...]:
        value = self.payload.get("contact_id")
        return (int(value),) if isinstance(value, int) else ()


# -- serialisation ---------------------------------------------------------

_converter = None


def _get_converter() -> Any:
    # Built on first use so that importing the contract stays cheap (the CLI
    # imports it for `crm --help`).
    global _converter
    if _converter is None:
        import cattrs

        # without detailed validation: a payload that does not fit its class becomes an UnknownEvent
        # whatever the error says, and cattrs' per-field error bookkeeping cost half of from_payload
        conv = cattrs.Converter(forbid_extra_keys=False, detailed_validation=False)
        conv.register_unstructure_hook(_dt.datetime, _isoformat)
        conv.register_structure_hook(
            _dt.datetime, lambda v, _: v if isinstance(v, _dt.datetime) else _dt.datetime.fromisoformat(v)
        )
        conv.register_unstructure_hook(_dt.date, _isoformat)
        conv.register_structure_hook(_dt.date, lambda v, _: v if isinstance(v, _dt.date) else _dt.date.fromisoformat(v))
        conv.register_unstructure_hook(decimal.Decimal, str)
        conv.register_structure_hook(decimal.Decimal, lambda v, _: decimal.Decimal(str(v)))
        conv.register_structure_hook(Any, lambda v, _: v)
        # Values typed Any (a ContactCreated's data, a FieldChange's old and new) are
        # mostly JSON already: passed through without a dispatch per value, anything
        # else unstructured as cattrs does it by its class (same output, a third of the time)
        conv.register_unstructure_hook_func(_any_or_any_dict, _plain_value(conv))
        # An optional str, int, float or bool is stored as it is: with cattrs' own identity as
        # its hook, the generated unstructure function reads the attribute inline instead of
        # calling unstructure_optional (four calls per TaskCreated, a fifth of its to_payload)
        from cattrs.fns import identity

        conv.register_unstructure_hook_func(_optional_scalar, identity)
        conv.register_structure_hook_func(
            _any_dict, lambda v, _: {k if k.__class__ is str else str(k): x for k, x in v.items()}
        )
        _converter = conv
    return _converter


def _any_dict(cls: Any) -> bool:
    return typing.get_origin(cls) is dict and typing.get_args(cls) == (str, Any)


def _optional_scalar(cls: Any) -> bool:
    """``str | None``, ``int | None``… (``Optional`` of JSON scalars), which unstructure to themselves."""
    if typing.get_origin(cls) not in (typing.Union, types.UnionType):
        return False
    args = typing.get_args(cls)
    return type(None) in args and all(a in _JSON_SCALARS for a in args)


def _any_or_any_dict(cls: Any) -> bool:
    return cls is Any or _any_dict(cls)


#: the classes JSON holds as they are
_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _plain_value(conv: Any) -> Callable[[Any], Any]:
    """``conv.unstructure(value)`` for a value of any class, faster for JSON's own types."""
    unstructure = conv.unstructure
    scalars = _JSON_SCALARS

    def plain(value: Any) -> Any:
        cls = value.__class__
        if cls in scalars:
            return value
        # a scalar item is tested where it sits: most items are, and a call each would cost more
        if cls is dict:
            return {
                (k if k.__class__ is str else plain(k)): (v if v.__class__ in scalars else plain(v))
                for k, v in value.items()
            }
        if cls is list:
            return [v if v.__class__ in scalars else plain(v) for v in value]
        return unstructure(value)

    return plain


#: the last time (or day) written out and its text: the events of one batch share their time
_last_time: tuple[Any, str] = (None, "")


def _isoformat(value: _dt.date) -> str:
    """``value.isoformat()``, made once for the same object given again (a batch's shared time)."""
    global _last_time
    last = _last_time
    if last[0] is value:
        return last[1]
    text = value.isoformat()
    _last_time = (value, text)  # one tuple: a thread reads the pair whole, never half of it
    return text


#: each registered event class's unstructure function, looked up once instead of per event
_payload_hooks: dict[type, Callable[[Any], dict[str, Any]]] = {}


def to_payload(event: Event) -> tuple[str, dict[str, Any]]:
    """``(type name, JSON-ready dict)`` for ``event``."""
    cls = event.__class__
    hook = _payload_hooks.get(cls)
    if hook is not None:
        return cls.__event_type__, hook(event)
    if isinstance(event, UnknownEvent):
        # the base fields travel with the raw payload, so that a handler can
        # still recognise the event (event_id) after a round trip
        payload = dict(event.payload)
        payload.update(
            event_id=event.event_id,
            occurred_at=event.occurred_at.isoformat() if event.occurred_at else payload.get("occurred_at"),
            actor=event.actor,
            channel=event.channel,
        )
        return event.unknown_type, payload
    # the converter's own dispatch, once per class (what Converter.unstructure does for every call);
    # get_unstructure_hook is cattrs 24.1's name for it, the dispatch itself older ones'
    conv = _get_converter()
    lookup = getattr(conv, "get_unstructure_hook", None) or conv._unstructure_func.dispatch
    hook = _payload_hooks[cls] = lookup(cls)
    return cls.__event_type__, hook(event)


def from_payload(type_name: str, payload: dict[str, Any]) -> Event:
    """Rebuild an event from :func:`to_payload`'s output.

    An unregistered type, or a payload that no longer fits its class, gives an
    :class:`UnknownEvent` that carries the raw payload.
    """
    cls = _REGISTRY.get(type_name)
    if cls is None:
        return _unknown(type_name, payload)
    try:
        event: Event = _get_converter().structure(payload, cls)
    except Exception:  # a payload from an incompatible version of the type
        return _unknown(type_name, payload)
    return event


def _unknown(type_name: str, payload: dict[str, Any]) -> UnknownEvent:
    base = {k: payload[k] for k in ("event_id", "actor", "channel") if k in payload}
    occurred = payload.get("occurred_at")
    return UnknownEvent(
        unknown_type=type_name,
        payload=dict(payload),
        occurred_at=_dt.datetime.fromisoformat(occurred) if isinstance(occurred, str) else None,
        **base,
    )


# -- the contract's own event types ---------------------------------------
# Contacts


@event_type("ContactCreated")
class ContactCreated(Event):
    """A contact (person or organization) was added. ``data`` holds its fields."""

    contact_id: int
    kind: str = "person"
    data: dict[str, Any] = attrs.field(factory=dict)


@event_type("ContactChanged")
class ContactChanged(Event):
    """Fields of a contact changed: ``changes`` maps field name to old → new."""

    contact_id: int
    changes: dict[str, FieldChange] = attrs.field(factory=dict)


@event_type("ContactDeleted")
class ContactDeleted(Event):
    """A contact was soft-deleted (it can be restored)."""

    contact_id: int


@event_type("ContactRestored")
class ContactRestored(Event):
    """A soft-deleted contact was restored."""

    contact_id: int


@event_type("ContactsMerged")
class ContactsMerged(Event):
    """``merged_id`` was merged into ``survivor_id``; ``merge_id`` undoes it."""

    __contact_fields__ = ("survivor_id", "merged_id")
    survivor_id: int
    merged_id: int
    merge_id: int


@event_type("ContactsUnmerged")
class ContactsUnmerged(Event):
    """A merge was undone: ``merged_id`` exists again beside ``survivor_id``."""

    __contact_fields__ = ("survivor_id", "merged_id")
    survivor_id: int
    merged_id: int
    merge_id: int


@event_type("ContactErased")
class ContactErased(Event):
    """A contact's personal data was erased (GDPR). Says that, not what."""

    contact_id: int


@event_type("ContactUnsubscribed")
class ContactUnsubscribed(Event):
    """A contact left one mailing list (``list_id``) or everything (``None``)."""

    contact_id: int
    list_id: int | None = None


@event_type("ConsentGiven")
class ConsentGiven(Event):
    """A contact agreed to be contacted; ``text`` is what he agreed to, word for word.

    ``source`` says where (a sign-up form: ``"signup:newsletter"``),
    ``lists`` names the mailing lists he joined, ``language`` is the
    language of the text, ``given_at`` when he agreed (``occurred_at`` is
    when it was recorded, after an e-mail confirmation for instance) and
    ``record_id`` the row that keeps the consent in the plugin that recorded
    it. The opposite is :class:`ContactUnsubscribed`.
    """

    contact_id: int
    source: str
    text: str
    language: str = ""
    lists: list[str] = attrs.field(factory=list)
    given_at: _dt.datetime | None = None
    record_id: int | None = None


# Mail (kernel)


@event_type("MailBounced")
class MailBounced(Event):
    """A message was refused for good (5xx): the address should be flagged."""

    __contact_fields__ = ()
    address: str
    reason: str
    message_id: str | None = None


# Sales (warehouse)


@event_type("RequestReceived")
class RequestReceived(Event):
    """A request came in: ``kind`` is ``rfp``, ``rfq`` or ``appointment``."""

    record_id: int
    contact_id: int | None
    kind: str
    owner: str | None = None
    region: str | None = None


@event_type("StageChanged")
class StageChanged(Event):
    """A sales record moved through the pipeline."""

    record_id: int
    contact_id: int | None
    old_stage: str | None
    new_stage: str
    owner: str | None = None


@event_type("SaleClosed")
class SaleClosed(Event):
    """A sales record was closed, won or lost."""

    record_id: int
    contact_id: int | None
    won: bool
    amount: decimal.Decimal = decimal.Decimal(0)
    currency: str = "EUR"
    region: str | None = None
    owner: str | None = None
    closed_on: _dt.date | None = None
    lost_reason: str | None = None


@event_type("SaleUpdated")
class SaleUpdated(Event):
    """Details of a sales record changed (not its stage, which ``StageChanged`` tells).

    ``changes`` maps field name (``amount``, ``currency``, ``owner``,
    ``region``, ``title``…) to old → new, as JSON values (an amount is a
    string, a date ISO text).
    """

    record_id: int
    contact_id: int | None
    changes: dict[str, FieldChange] = attrs.field(factory=dict)


@event_type("StaffActionLogged")
class StaffActionLogged(Event):
    """Staff logged a note, call, meeting or e-mail against a contact or sale."""

    action_id: int
    contact_id: int | None
    kind: str
    author: str | None = None
    sale_id: int | None = None


@event_type("DocumentAttached")
class DocumentAttached(Event):
    """A file was attached to a contact or a sales record (``actor`` uploaded it).

    ``sha256`` names the stored content: the same file attached twice is
    stored once.
    """

    document_id: int
    contact_id: int | None
    name: str
    content_type: str
    size: int
    sha256: str
    sale_id: int | None = None


# Surveys


@event_type("SurveySent")
class SurveySent(Event):
    """A survey went to a contact, by ``medium`` ``email`` or ``post``."""

    survey_id: int
    version: int
    contact_id: int
    medium: str = "email"


@event_type("SurveyAnswered")
class SurveyAnswered(Event):
    """A contact completed a survey.

    ``scores`` maps question keys to numeric answers (NPS, CSAT, ratings);
    ``negative`` is true when an NPS answer is 0–6 or a CSAT answer is 1–2.
    """

    survey_id: int
    version: int
    contact_id: int
    response_id: int
    scores: dict[str, float] = attrs.field(factory=dict)
    negative: bool = False
    region: str | None = None


# Tasks


@event_type("TaskCreated")
class TaskCreated(Event):
    """A task was created (by hand, by a template or by a rule)."""

    task_id: int
    kind: str
    title: str
    assignee: str | None = None
    contact_id: int | None = None


@event_type("TaskCompleted")
class TaskCompleted(Event):
    """A task was marked done."""

    task_id: int
    kind: str
    assignee: str | None = None
    contact_id: int | None = None


# People and permissions (contract 1.1.0)


@event_type("SecurityEvent")
class SecurityEvent(Event):
    """A security event of the kernel: a sign-in, a token used, a role changed…

    ``action`` says which (``signin.succeeded``, ``signin.failed``,
    ``token.created``, ``user.disabled``…; the list is in the docs);
    ``user_id`` and ``user_name`` name the user it concerns (``user_id`` is
    ``None`` when the name matched no user); ``actor`` is the acting user
    who did it (``None`` for the system); ``address`` is the client's
    address when a web app passed one; ``detail`` holds the action's own
    facts (a token's prefix, a role's permissions, why a sign-in failed).
    Every one is also a row of ``crm_security_audit``.
    """

    audit_id: int
    action: str
    user_id: int | None = None
    user_name: str | None = None
    address: str | None = None
    detail: dict[str, Any] = attrs.field(factory=dict)
