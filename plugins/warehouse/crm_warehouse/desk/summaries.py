"""What each timeline entry says, in the user's language, from the event's payload.

The warehouse's own one-line ``summary`` (:func:`crm_warehouse.catalog.summarize`)
is English, for the CLI, the API and the logs. The desk says the same in
the user's language: each known event type has a sentence here, its values
put in words (a stage, a kind of deal, an amount in the user's locale, a
contact field's name). An event of a type not listed here (a third-party
plugin's) keeps the warehouse's summary, as does a payload of an unexpected
shape. The contact's past fields on the "as it was" page use the same
field names.
"""

from __future__ import annotations

import decimal
from collections.abc import Callable, Mapping
from typing import Any

from crm_core.i18n import N_, current_language
from crm_core.i18n import gettext as _
from crm_warehouse.desk.common import kind_label, money, stage_label

__all__ = ["FIELD_LABELS", "describe", "field_label", "value_text"]

#: the fields of contacts and deals, as the pages name them (a field not listed is shown as it is written)
FIELD_LABELS = {
    "kind": N_("kind"),
    "display_name": N_("name"),
    "first_name": N_("first name"),
    "last_name": N_("last name"),
    "middle_name": N_("middle name"),
    "name_prefix": N_("name prefix"),
    "name_suffix": N_("name suffix"),
    "nickname": N_("nickname"),
    "status": N_("status"),
    "status_changed_at": N_("status changed"),
    "region": N_("region"),
    "country": N_("country"),
    "owner": N_("owner"),
    "language": N_("language"),
    "external_id": N_("external id"),
    "title": N_("title"),
    "department": N_("department"),
    "website": N_("website"),
    "organization_id": N_("organization"),
    "do_not_contact": N_("do not contact"),
    "notes": N_("notes"),
    "birthday": N_("birthday"),
    "emails": N_("e-mail addresses"),
    "phones": N_("phone numbers"),
    "addresses": N_("addresses"),
    "tags": N_("tags"),
    "custom": N_("custom fields"),
    "amount": N_("amount"),
    "currency": N_("currency"),
    "product_line": N_("product line"),
    "expected_close_on": N_("expected close date"),
    "description": N_("description"),
    "contact_id": N_("contact"),
    "probability": N_("win probability"),
}
#: a contact's status and kind, as the pages name them
VALUE_LABELS = {
    "status": {
        "lead": N_("lead"),
        "prospect": N_("prospect"),
        "customer": N_("customer"),
        "former": N_("former customer"),
    },
    "kind": {"person": N_("person"), "organization": N_("organization")},
}
#: a logged staff action, with and without its author (a sentence each: the words agree with the kind)
ACTIONS = {
    "call": (N_("Call logged by %(author)s"), N_("Call logged")),
    "meeting": (N_("Meeting note logged by %(author)s"), N_("Meeting note logged")),
    "email": (N_("E-mail logged by %(author)s"), N_("E-mail logged")),
    "note": (N_("Note logged by %(author)s"), N_("Note logged")),
}
TASK_KINDS = {
    "to-do": N_("to-do"),
    "call": N_("call"),
    "e-mail": N_("e-mail"),
    "meeting": N_("meeting"),
    "follow-up": N_("follow-up"),
}
MEDIA = {"email": N_("by e-mail"), "post": N_("by post")}
#: the longest value quoted in a change
LONGEST = 60


def field_label(name: str) -> str:
    label = FIELD_LABELS.get(name)
    return _(label) if label else name.replace("_", " ")


def _plain(value: Any) -> str:
    """A value as a line of text: a list item per entry, a record's values (an e-mail and its kind)."""
    if isinstance(value, list):
        return "; ".join(_plain(item) for item in value)
    if isinstance(value, dict):
        parts = [str(v) for v in value.values() if v not in (None, "") and not isinstance(v, (bool, dict, list))]
        if value.get("primary") is True:
            parts.append(_("primary"))
        return " · ".join(parts)
    return str(value)


def value_text(field: str, value: Any, *, whole: bool = False) -> str:
    """A field's value in words: ``(empty)``, yes or no, a status by its name, a list on one line (cut short
    past :data:`LONGEST` characters, unless ``whole``)."""
    if value is None or value == "" or value == []:
        return _("(empty)")
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    named = VALUE_LABELS.get(field, {}).get(value) if isinstance(value, str) else None
    if named:
        return _(named)
    text = _plain(value)
    return text if whole or len(text) <= LONGEST else text[: LONGEST - 1] + "…"


def _changes(changes: Mapping[str, Any]) -> str:
    parts = []
    for field, change in changes.items():
        if isinstance(change, Mapping):
            parts.append(
                _(
                    "%(field)s: %(old)s → %(new)s",
                    field=field_label(field),
                    old=value_text(field, change.get("old")),
                    new=value_text(field, change.get("new")),
                )  # fmt: skip
            )
        else:
            parts.append(field_label(str(field)))
    return "; ".join(parts)


def _deal(p: Mapping[str, Any]) -> int:
    return int(p["record_id"])


def _kind(labels: Mapping[str, str], kind: Any) -> str:
    label = labels.get(str(kind))
    return _(label) if label else str(kind)


def _size(size: Any) -> str:
    from babel.numbers import format_decimal

    return _("%(size)s KB", size=format_decimal(round(int(size) / 1024, 1), locale=current_language()))


def _created(p: Mapping[str, Any]) -> str:
    data = p.get("data") or {}
    name = data.get("display_name") or " ".join(str(data.get(k) or "") for k in ("first_name", "last_name")).strip()
    kind = value_text("kind", p.get("kind", "person"))
    if name:
        return _("Added as a %(kind)s: %(name)s", kind=kind, name=name)
    return _("Added as a %(kind)s", kind=kind)


def _consent(p: Mapping[str, Any]) -> str:
    lists = ", ".join(p.get("lists") or ())
    if lists:
        said = _("Agreed through %(source)s to the lists %(lists)s", source=p["source"], lists=lists)
    else:
        said = _("Agreed through %(source)s", source=p["source"])
    return f"{said}: “{p['text']}”" if p.get("text") else said


def _action(p: Mapping[str, Any]) -> str:
    by, alone = ACTIONS.get(str(p.get("kind")), ACTIONS["note"])
    return _(by, author=p["author"]) if p.get("author") else _(alone)


def _closed(p: Mapping[str, Any]) -> str:
    if p.get("won"):
        amount = money(decimal.Decimal(str(p.get("amount") or "0")), p.get("currency") or "EUR")
        return _("Deal #%(id)s won: %(amount)s", id=_deal(p), amount=amount)
    if p.get("lost_reason"):
        return _("Deal #%(id)s lost: %(reason)s", id=_deal(p), reason=p["lost_reason"])
    return _("Deal #%(id)s lost", id=_deal(p))


def _moved(p: Mapping[str, Any]) -> str:
    if p.get("old_stage") is None:
        return _("Deal #%(id)s entered the pipeline at %(stage)s", id=_deal(p), stage=stage_label(p["new_stage"]))
    return _("Deal #%(id)s moved from %(old)s to %(new)s", id=_deal(p), old=stage_label(p["old_stage"]),
             new=stage_label(p["new_stage"]))  # fmt: skip


def _answered(p: Mapping[str, Any]) -> str:
    if p.get("negative"):
        said = _("Survey %(id)s (version %(version)s) answered, negatively", id=p["survey_id"], version=p["version"])
    else:
        said = _("Survey %(id)s (version %(version)s) answered", id=p["survey_id"], version=p["version"])
    scores = p.get("scores") or {}
    return said + (": " + ", ".join(f"{k} {v:g}" for k, v in scores.items()) if scores else "")


_SENTENCES: dict[str, Callable[[Mapping[str, Any]], str]] = {
    "ContactCreated": _created,
    "ContactChanged": lambda p: _("Changed: %(changes)s", changes=_changes(p.get("changes") or {}) or _("nothing")),
    "ContactDeleted": lambda p: _("Deleted (it can be restored)"),
    "ContactRestored": lambda p: _("Restored"),
    "ContactsMerged": lambda p: _(
        "Contact #%(merged)s merged into #%(survivor)s", merged=p["merged_id"], survivor=p["survivor_id"]
    ),  # fmt: skip
    "ContactsUnmerged": lambda p: _(
        "The merge of #%(merged)s into #%(survivor)s was undone", merged=p["merged_id"], survivor=p["survivor_id"]
    ),  # fmt: skip
    "ContactErased": lambda p: _("Personal data erased"),
    "ContactUnsubscribed": lambda p: (
        _("Unsubscribed from list #%(list)s", list=p["list_id"])
        if p.get("list_id") is not None
        else _("Unsubscribed from every list")
    ),
    "ConsentGiven": _consent,
    "RequestReceived": lambda p: _("%(kind)s received: deal #%(id)s", kind=kind_label(p["kind"]), id=_deal(p)),
    "StageChanged": _moved,
    "SaleClosed": _closed,
    "SaleUpdated": lambda p: _(
        "Deal #%(id)s changed: %(changes)s", id=_deal(p), changes=_changes(p.get("changes") or {}) or _("nothing")
    ),  # fmt: skip
    "StaffActionLogged": _action,
    "DocumentAttached": lambda p: _("“%(name)s” attached (%(size)s)", name=p["name"], size=_size(p["size"])),
    "SurveySent": lambda p: _(
        "Survey %(id)s (version %(version)s) sent %(medium)s",
        id=p["survey_id"],
        version=p["version"],
        medium=_kind(MEDIA, p.get("medium", "email")),
    ),  # fmt: skip
    "SurveyAnswered": _answered,
    "TaskCreated": lambda p: _(
        "Task created (%(kind)s): %(title)s", kind=_kind(TASK_KINDS, p.get("kind")), title=p["title"]
    ),  # fmt: skip
    "TaskCompleted": lambda p: _(
        "Task #%(id)s completed (%(kind)s)", kind=_kind(TASK_KINDS, p.get("kind")), id=p["task_id"]
    ),  # fmt: skip
    "MailBounced": lambda p: _("Mail to %(address)s bounced: %(reason)s", address=p["address"], reason=p["reason"]),
}


def describe(entry: Any) -> str:
    """What a timeline entry says, in the user's language (the warehouse's English summary for another type)."""
    sentence = _SENTENCES.get(entry.type) if entry.known else None
    if sentence is None:
        return str(entry.summary)
    try:
        return sentence(entry.payload)
    except (KeyError, TypeError, ValueError, AttributeError, ArithmeticError):
        return str(entry.summary)  # a payload of an unexpected shape: the warehouse's words
