"""What the warehouse knows about each event type: its kind and a one-line summary.

Kinds group event types for filtering timelines: ``contact``, ``consent``, ``request``,
``sale``, ``note``, ``document``, ``survey``, ``task``, ``mail``, and
``other`` for every type not listed here (third-party types, and types no
installed plugin defines, which are kept all the same).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["CONTACT_TYPES", "KINDS", "TYPE_KINDS", "kind_of", "summarize", "types_of_kinds"]

TYPE_KINDS: dict[str, str] = {
    "ContactCreated": "contact",
    "ContactChanged": "contact",
    "ContactDeleted": "contact",
    "ContactRestored": "contact",
    "ContactsMerged": "contact",
    "ContactsUnmerged": "contact",
    "ContactErased": "contact",
    "ContactUnsubscribed": "contact",
    "ConsentGiven": "consent",
    "RequestReceived": "request",
    "StageChanged": "sale",
    "SaleClosed": "sale",
    "SaleUpdated": "sale",
    "StaffActionLogged": "note",
    "DocumentAttached": "document",
    "SurveySent": "survey",
    "SurveyAnswered": "survey",
    "TaskCreated": "task",
    "TaskCompleted": "task",
    "MailBounced": "mail",
}
KINDS = ("contact", "consent", "request", "sale", "note", "document", "survey", "task", "mail", "other")
#: the event types that change a contact's fields or existence, read by the as-of rebuild and the audit
CONTACT_TYPES = tuple(t for t, k in TYPE_KINDS.items() if k == "contact")


def kind_of(type_name: str) -> str:
    return TYPE_KINDS.get(type_name, "other")


def types_of_kinds(kinds: Any) -> list[str]:
    """The known event types of ``kinds`` (``other`` has none: it is every type not listed)."""
    return [t for t, k in TYPE_KINDS.items() if k in kinds]


def _value(value: Any) -> str:
    if value is None:
        return "(empty)"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    return json.dumps(value, ensure_ascii=False, default=str)


def _changes(p: Mapping[str, Any]) -> str:
    changes = p.get("changes") or {}
    parts = []
    for field, change in changes.items():
        if isinstance(change, Mapping):
            parts.append(f"{field} {_value(change.get('old'))} -> {_value(change.get('new'))}")
        else:
            parts.append(str(field))
    return "changed " + ("; ".join(parts) if parts else "nothing")


def _created(p: Mapping[str, Any]) -> str:
    data = p.get("data") or {}
    name = data.get("display_name") or " ".join(str(data.get(k) or "") for k in ("first_name", "last_name")).strip()
    return f"created ({p.get('kind', 'person')})" + (f": {name}" if name else "")


def _money(p: Mapping[str, Any]) -> str:
    return f"{p.get('amount', '0')} {p.get('currency', '')}".strip()


_SUMMARIES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "ContactCreated": _created,
    "ContactChanged": _changes,
    "ContactDeleted": lambda p: "deleted",
    "ContactRestored": lambda p: "restored",
    "ContactsMerged": lambda p: f"contact {p.get('merged_id')} merged into {p.get('survivor_id')}",
    "ContactsUnmerged": lambda p: f"merge of {p.get('merged_id')} into {p.get('survivor_id')} undone",
    "ContactErased": lambda p: "personal data erased",
    "ContactUnsubscribed": lambda p: (
        f"unsubscribed from list {p['list_id']}" if p.get("list_id") is not None else "unsubscribed from every list"
    ),
    "ConsentGiven": lambda p: (
        f"consent given through {p.get('source')}"
        + (f" to the lists {', '.join(p['lists'])}" if p.get("lists") else "")
        + (f": {p['text']!r}" if p.get("text") else "")
    ),
    "RequestReceived": lambda p: f"{p.get('kind', 'request')} request received (record {p.get('record_id')})",
    "StageChanged": lambda p: (
        f"record {p.get('record_id')} entered the pipeline at {p.get('new_stage')}"
        if p.get("old_stage") is None
        else f"record {p.get('record_id')} moved {p.get('old_stage')} -> {p.get('new_stage')}"
    ),
    "SaleClosed": lambda p: (
        f"record {p.get('record_id')} won: {_money(p)}"
        if p.get("won")
        else f"record {p.get('record_id')} lost" + (f": {p['lost_reason']}" if p.get("lost_reason") else "")
    ),
    "SaleUpdated": lambda p: f"record {p.get('record_id')} " + _changes(p),
    "StaffActionLogged": lambda p: (
        f"{p.get('kind', 'note')} logged by {p.get('author') or 'someone'} (action {p.get('action_id')})"
    ),
    "DocumentAttached": lambda p: f"document {p.get('name')!r} attached ({p.get('size')} bytes)",
    "SurveySent": lambda p: f"survey {p.get('survey_id')} v{p.get('version')} sent by {p.get('medium', 'email')}",
    "SurveyAnswered": lambda p: (
        f"survey {p.get('survey_id')} v{p.get('version')} answered"
        + (" (negative)" if p.get("negative") else "")
        + (": " + ", ".join(f"{k}={v}" for k, v in (p.get("scores") or {}).items()) if p.get("scores") else "")
    ),
    "TaskCreated": lambda p: f"task {p.get('kind')} created: {p.get('title')}",
    "TaskCompleted": lambda p: f"task {p.get('kind')} completed (task {p.get('task_id')})",
    "MailBounced": lambda p: f"mail to {p.get('address')} bounced: {p.get('reason')}",
}

_BASE_KEYS = {"event_id", "occurred_at", "actor", "channel"}


def summarize(type_name: str, payload: Mapping[str, Any], known: bool = True) -> str:
    """One line saying what the event means."""
    fn = _SUMMARIES.get(type_name)
    if fn is not None and known:
        try:
            return fn(payload)
        except (KeyError, TypeError, ValueError, AttributeError):
            pass  # a payload of an unexpected shape: fall back to the raw fields
    fields = ", ".join(f"{k}={_value(v)}" for k, v in payload.items() if k not in _BASE_KEYS)
    prefix = type_name if known else f"{type_name} (unknown type)"
    return f"{prefix}: {fields}" if fields else prefix
