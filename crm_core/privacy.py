"""Erasure (GDPR art. 17) across the kernel and every enabled plugin.

An erasure runs in one transaction, in three steps:

1. every plugin names the values by which it knows the person
   (``crm_personal_values``: e-mail addresses, phone numbers, full names,
   street lines), while they still exist;
2. every plugin anonymises its own tables (``crm_erase_personal_data``);
3. the kernel removes the person from its own tables, which no plugin may
   touch: the event outbox (:meth:`crm_core.events.EventBus.redact`), the
   mail queue (:func:`crm_core.mail.erasure.erase_from_queue`), the worker's
   and the event handlers' error texts, and run-once keys.

What stays: ids, times, types, numbers, and the fact that an erasure
happened (``ContactErased``), so that counts, sums and the order of events
still add up. ``docs/privacy.md`` says what and why.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any, Protocol

from crm_core import rows as typed_rows
from crm_core.context import AppContext

if TYPE_CHECKING:
    from crm_core.events import EventBus

__all__ = ["ERASED", "MIN_VALUE_LENGTH", "ErasureContext", "Redactor", "erase_contact", "erase_from_kernel"]


class ErasureContext(AppContext, Protocol):
    """What an erasure needs of the app: the app context and the event bus, whose outbox it redacts."""

    @property
    def events(self) -> EventBus:
        """The event bus (``crm.events``)."""
        ...


#: what replaces an erased value everywhere in the kernel's tables
ERASED = "[erased]"
#: shorter values are too common to be replaced in other people's records
MIN_VALUE_LENGTH = 3
#: rows read per page while scanning a table
_PAGE = 500


class Redactor:
    """Finds and replaces one person's values in text, JSON values and bytes.

    Matching ignores case (``Ana@Example.com`` is ``ana@example.com``) and
    also finds the HTML-escaped form of a value (``O&#x27;Brien``), as an
    HTML body holds it.
    """

    def __init__(self, values: Iterable[str]) -> None:
        wanted: set[str] = set()
        for value in values:
            text = " ".join(str(value).split())  # one space between words, as bodies show them
            if len(text) >= MIN_VALUE_LENGTH:
                wanted.add(text)
                # html.escape's form and Jinja2's (markupsafe writes &#39; and &#34;)
                for escaped in (html.escape(text), _markup_escape(text)):
                    if escaped != text:
                        wanted.add(escaped)
        #: the values, longest first (so "Ana Ruiz Gil" goes before "Ana Ruiz")
        self.values: tuple[str, ...] = tuple(sorted(wanted, key=lambda v: (-len(v), v.casefold())))
        self.addresses: frozenset[str] = frozenset(v.casefold() for v in self.values if "@" in v and " " not in v)
        if self.values:
            # whitespace inside a value matches any run of whitespace (a name folded onto two lines)
            parts = (r"\s+".join(re.escape(w) for w in v.split(" ")) for v in self.values)
            self._text: re.Pattern[str] | None = re.compile("|".join(parts), re.IGNORECASE)
            self._bytes: re.Pattern[bytes] | None = re.compile(
                b"|".join(re.escape(v.encode("utf-8")) for v in self.values), re.IGNORECASE
            )
        else:
            self._text = self._bytes = None

    def __bool__(self) -> bool:
        return bool(self.values)

    def like_terms(self) -> list[str]:
        """What to look for with ``LIKE`` in text columns: each value, and its JSON-escaped form."""
        terms = set()
        for value in self.values:
            terms.add(value)
            terms.add(json.dumps(value, ensure_ascii=False)[1:-1])
        return sorted(terms)

    def found(self, text: str | None) -> bool:
        if not text or self._text is None:
            return False
        return self._text.search(text) is not None

    def text(self, text: str) -> str:
        """``text`` with every value replaced by :data:`ERASED`."""
        return text if self._text is None or not text else self._text.sub(ERASED, text)

    def optional(self, text: str | None) -> str | None:
        return None if text is None else self.text(text)

    def data(self, value: Any) -> Any:
        """A JSON value with the values replaced in every string, dictionary keys included."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self.data(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.data(v) for v in value]
        return value

    def bytes(self, content: bytes) -> bytes:
        """``content`` with the UTF-8 form of every value replaced (a CSV or text attachment)."""
        if self._bytes is None or not content:
            return content
        return self._bytes.sub(ERASED.encode("ascii"), content)


def _markup_escape(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("'", "&#39;").replace('"', "&#34;")
    )


def matching(column: Any, redactor: Redactor) -> Any:
    """A peewee condition: ``column`` contains one of the values (case-insensitive ``LIKE``), or ``None``."""
    condition = None
    for term in redactor.like_terms():
        part = column.contains(term)
        condition = part if condition is None else condition | part
    return condition


def erase_contact(crm: ErasureContext, contact_id: int) -> dict[str, int]:
    """Erase one person everywhere, in the caller's transaction; return the records changed, per plugin and ``kernel``.

    The contacts plugin calls this from ``crm.plugin("contacts").erase(...)``
    (``crm contacts erase``), which checks the contact and records
    ``ContactErased`` afterwards.
    """
    values = [v for items in crm.hooks.personal_values(crm, contact_id).values() for v in items]
    counts = crm.hooks.erase_personal_data(crm, contact_id)
    counts["kernel"] = erase_from_kernel(crm, contact_id, values)
    return counts


def erase_from_kernel(crm: ErasureContext, contact_id: int, values: Iterable[str]) -> int:
    """Remove the person from the kernel's tables; return how many rows changed.

    Events about ``contact_id`` are redacted in place; every other event,
    message, error text and key loses the person's ``values``. Mail to the
    person's addresses is cancelled when not sent yet, and scrubbed when sent.
    """
    from crm_core.mail.erasure import erase_from_queue

    redactor = Redactor(values)
    with crm.activate(), crm.database.atomic():
        count = crm.events.redact(contact_id, redactor)
        if redactor:
            count += erase_from_queue(crm, redactor)
            count += _erase_from_errors(crm, redactor)
            count += _erase_from_keys(crm, redactor)
    return count


def _erase_from_errors(crm: ErasureContext, redactor: Redactor) -> int:
    """Error texts of the worker and of event handlers (a traceback may quote an address)."""
    from crm_core.models import EventFailure
    from crm_core.worker.models import Job, JobRun

    count = 0
    # (model, its key, its text fields): the models differ, so the rows are read untyped
    targets: tuple[tuple[Any, Any, tuple[Any, ...]], ...] = (
        (EventFailure, EventFailure.id, (EventFailure.error,)),
        (Job, Job.name, (Job.last_error, Job.last_result)),
        (JobRun, JobRun.id, (JobRun.error,)),
    )
    for model, key, fields in targets:
        condition = None
        for field in fields:
            part = matching(field, redactor)
            condition = part if condition is None else condition | part
        for row in model.select(key, *fields).where(condition).tuples().iterator():
            changes = {f.name: _fit(f, redactor.optional(v)) for f, v in zip(fields, row[1:]) if redactor.found(v)}
            if changes:
                count += model.update(**changes).where(key == row[0]).execute()
    return count


def _fit(field: Any, value: str | None) -> str | None:
    """``value`` cut to the column's width: "[erased]" is longer than a short value it replaces."""
    limit = getattr(field, "max_length", None)
    return value[:limit] if value is not None and limit else value


def _erase_from_keys(crm: ErasureContext, redactor: Redactor) -> int:
    """Run-once keys that name the person: the value goes, the claim stays (the action stays done)."""
    from crm_core.jobs import RunOnce

    count = 0
    claims = typed_rows.tuples(RunOnce.select(RunOnce.key, RunOnce.claimed_at).where(matching(RunOnce.key, redactor)))
    for key, claimed in list(claims):
        new = _fit(RunOnce.key, redactor.text(key))
        if new == key:
            continue
        RunOnce.delete().where(RunOnce.key == key).execute()
        RunOnce.insert(key=new, claimed_at=claimed).on_conflict_ignore().execute()
        count += 1
    return count
