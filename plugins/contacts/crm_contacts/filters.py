"""Search filters: the one definition shared by ``search`` and saved segments.

A filter set is a plain dict (JSON-ready, so a segment stores it as is)::

    {"status": "customer", "region": "North", "tag": ["vip"], "custom": {"industry": "retail"}}

:func:`check` validates and normalises one; :func:`apply` narrows a
``Contact`` query with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import peewee

from crm_contacts.models import (
    Contact,
    ContactAddress,
    ContactCustomField,
    ContactEmail,
    ContactPhone,
    ContactTag,
    ContactWord,
    ListMember,
    MailingList,
)
from crm_contacts.normalize import (
    KINDS,
    STATUSES,
    InvalidValue,
    name_key,
    normalize_country,
    normalize_email,
    normalize_phone,
    normalize_tag,
)
from crm_contacts.words import word_range
from crm_core.errors import ValidationError
from crm_core.ids import check_id
from crm_core.storage import dialect

__all__ = ["FILTERS", "apply", "check", "describe"]

#: filter name -> what it matches
FILTERS = {
    "query": "free text: an e-mail, a phone number or words of a name",
    "name": "words of the name, each the start of a word of it, in any order (case and accents ignored)",
    "email": "any of the contact's e-mail addresses (exact, normalised)",
    "phone": "any of the contact's phone numbers (exact, E.164 after normalising)",
    "tag": "a tag, or a list of tags the contact has all of",
    "status": "prospect, customer or former",
    "region": "the sales region",
    "owner": "the salesperson responsible",
    "country": "ISO 3166-1 alpha-2 country code",
    "city": "the city of any postal address",
    "kind": "person or organization",
    "organization_id": "members of this organization",
    "custom": "custom fields, as {name: value}",
    "list": "members of this mailing list (not unsubscribed)",
    "do_not_contact": "true or false",
    "created_after": "created on or after this date (YYYY-MM-DD)",
    "created_before": "created before this date (YYYY-MM-DD)",
}


#: the longest text a text filter takes: as long as the longest name kept (``name_key``), far below
#: what a LIKE pattern may be (SQLite refuses patterns past 50,000 bytes as "too complex")
MAX_TEXT = 300


#: an e-mail address has at most 254 characters (RFC 5321), a phone number far fewer than 50
MAX_EMAIL, MAX_PHONE = 254, 50


def _text(key: str, value: Any, limit: int = MAX_TEXT) -> str:
    text = " ".join(str(value).split())
    if len(text) > limit:
        raise ValidationError(f"filter {key}: {len(text)} characters is too long; search with up to {limit}")
    return text


def _date(key: str, value: Any) -> str:
    try:
        return dt.date.fromisoformat(str(value)).isoformat()
    except ValueError:
        raise ValidationError(f"filter {key}: {value!r} is not a date; write YYYY-MM-DD") from None


def check(filters: Mapping[str, Any], region: str | None = None) -> dict[str, Any]:
    """``filters`` validated and normalised; raises :class:`ValidationError` naming the bad one."""
    out: dict[str, Any] = {}
    for key, value in filters.items():
        if key not in FILTERS:
            raise ValidationError(f"unknown filter {key!r}; the filters are: {', '.join(FILTERS)}")
        if value is None or value == "" or value == []:
            continue
        try:
            if key in ("query", "name", "region", "owner", "city", "list"):
                out[key] = _text(key, value)
                if key == "query" and "@" in out[key]:
                    # an e-mail is searched exactly (indexed): a fragment would match every address
                    try:
                        normalize_email(out[key])
                    except InvalidValue:
                        raise ValidationError(
                            f"filter query: {out[key]!r:.80} has an @ but is not a whole e-mail address; e-mail search "
                            "is exact: give the whole address (name@example.com), or search a name without @"
                        ) from None
            elif key == "email":
                out[key] = normalize_email(_text(key, value, MAX_EMAIL))
            elif key == "phone":
                out[key] = normalize_phone(_text(key, value, MAX_PHONE), region)[0]
            elif key == "tag":
                tags = [value] if isinstance(value, str) else list(value)
                out[key] = sorted({normalize_tag(str(t)) for t in tags})
            elif key == "status":
                if value not in STATUSES:
                    raise ValidationError(f"filter status: {value!r} is not a status; use {', '.join(STATUSES)}")
                out[key] = value
            elif key == "kind":
                if value not in KINDS:
                    raise ValidationError(f"filter kind: {value!r} is not a kind; use {', '.join(KINDS)}")
                out[key] = value
            elif key == "country":
                out[key] = normalize_country(str(value))
            elif key == "organization_id":
                out[key] = check_id(value, "filter organization_id")
            elif key == "custom":
                if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
                    raise ValidationError(f"filter custom: expected {{name: value}}, not {value!r}")
                out[key] = {k: str(v) for k, v in value.items()}
            elif key == "do_not_contact":
                if not isinstance(value, bool):
                    raise ValidationError(f"filter do_not_contact: expected true or false, not {value!r}")
                out[key] = value
            elif key in ("created_after", "created_before"):
                out[key] = _date(key, value)
        except InvalidValue as exc:
            raise ValidationError(f"filter {key}: {exc}") from None
        except (TypeError, ValueError) as exc:
            raise ValidationError(f"filter {key}: {value!r} is not valid: {exc}") from None
    return out


def _name_condition(text: str) -> peewee.Expression:
    """Every word typed is the start of a word of the name (``contacts_word``), in any order.

    Each word is a range of the ``(word, contact_id)`` index. A typed word with
    punctuation or symbols ("o'b", "0%", "e_c") also matches anywhere in the
    name, as name search did before the word index: ``contains`` escapes LIKE's
    wildcards (% _ and \\) and says ESCAPE '\\', which every backend honours.
    """
    words = list(dict.fromkeys(name_key(text).split()))
    if not words:
        return Contact.id.is_null(False)
    if all(w.isalnum() for w in words) and dialect(Contact._meta.database) == "postgresql":
        found = _every_word_postgresql(words)
        if found is not None:
            return found
    condition: peewee.Expression | None = None
    for word in words:  # at least one: name_key("   ") is "", which the first return took
        low, high = word_range(word)
        matched = Contact.id.in_(
            ContactWord.select(ContactWord.contact).where((ContactWord.word >= low) & (ContactWord.word < high))
        )
        if not word.isalnum():
            matched = matched | Contact.name_key.contains(word)
        condition = matched if condition is None else condition & matched
    assert condition is not None
    return condition


#: PostgreSQL: a name search whose rarest word starts this many words of names or more reads the
#: contacts in name order (they are common enough that the first page is near); fewer, it reads them by id
WALK_FROM = 10_000


def _every_word_postgresql(words: list[str]) -> peewee.Expression | None:
    """PostgreSQL: ``id = ANY(ARRAY(the contacts with every word))``, the ids found first, in the word index alone.

    With one ``IN (range)`` per word, PostgreSQL planned a search such as
    "Román" or "María García" as a walk of the name index in order, probing
    the words of each contact, as if the matches were spread evenly and the
    first page near: "Román" (5,700 of 1,000,000 contacts) read 121,000
    contacts (1.2 s), "María García" (all under "maria…") 626,000 (3.5 s).
    Here the words are joined on the contact through the ``(word, contact_id)``
    and ``(contact_id, word)`` indexes (the planner starts from the rarest),
    the ids are computed once (``ARRAY(…)`` is an init plan), the contacts
    fetched by primary key and sorted. For one word, one statement first
    counts how many words of names it starts (up to :data:`WALK_FROM`): when
    that many, ``None``, and the caller's walk in name order finds the first
    page soon ("García", 198,000 words: 18 ms). Several words are always
    joined: their contacts are few, or bunched under one first name ("María
    García"), where the walk reads half the book.
    """
    ranges = [word_range(word) for word in words]
    if len(words) == 1:
        low, high = ranges[0]
        starts = (
            ContactWord.select(peewee.SQL("1"))
            .where((ContactWord.word >= low) & (ContactWord.word < high))
            .limit(WALK_FROM)
            .count()
        )
        if starts >= WALK_FROM:
            return None
    aliases = [ContactWord.alias(f"cw{i}") for i in range(len(words))]
    first = aliases[0]
    query = first.select(first.contact)
    for alias in aliases[1:]:
        query = query.join(alias, on=(alias.contact == first.contact))
    condition: peewee.Expression | None = None
    for alias, (low, high) in zip(aliases, ranges, strict=True):
        matched = (alias.word >= low) & (alias.word < high)
        condition = matched if condition is None else condition & matched
    return Contact.id == peewee.fn.ANY(peewee.fn.ARRAY(query.where(condition)))


def _holders(owners: peewee.ModelSelect[Any]) -> peewee.Expression:
    """``Contact.id IN (the ids owners finds)``, the ids read first by the address's or number's index.

    As a subquery, PostgreSQL without fresh statistics (a book just imported, before autovacuum's
    ANALYZE) planned it as one index probe per contact (94 ms at 20,000 contacts); a list of the
    few contacts that hold one address or number is looked up by primary key on every backend.
    """
    return Contact.id.in_([row[0] for row in owners.tuples().iterator()])


def _query_condition(text: str, region: str | None) -> peewee.Expression:
    """Free text: an e-mail if it has an @, a phone if it looks like one, else a name."""
    if "@" in text:  # check() let only a whole address through
        return _holders(ContactEmail.select(ContactEmail.contact).where(ContactEmail.address == normalize_email(text)))
    digits = sum(c.isdigit() for c in text)
    if digits >= 6 and digits >= len(text.replace(" ", "")) * 0.7:
        try:
            number = normalize_phone(text, region)[0]
            return _holders(ContactPhone.select(ContactPhone.contact).where(ContactPhone.number == number))
        except InvalidValue:
            pass
    return _name_condition(text)


def apply(
    query: peewee.ModelSelect[Contact], filters: Mapping[str, Any], region: str | None = None
) -> peewee.ModelSelect[Contact]:
    """Narrow a query on ``Contact`` with checked ``filters`` (see :func:`check`)."""
    for key, value in filters.items():
        if key == "query":
            query = query.where(_query_condition(value, region))
        elif key == "name":
            query = query.where(_name_condition(value))
        elif key == "email":
            query = query.where(
                _holders(ContactEmail.select(ContactEmail.contact).where(ContactEmail.address == value))
            )
        elif key == "phone":
            query = query.where(_holders(ContactPhone.select(ContactPhone.contact).where(ContactPhone.number == value)))
        elif key == "tag":
            for tag in value:
                query = query.where(Contact.id.in_(ContactTag.select(ContactTag.contact).where(ContactTag.tag == tag)))
        elif key in ("status", "region", "owner", "country", "kind"):
            query = query.where(getattr(Contact, key) == value)
        elif key == "city":
            query = query.where(
                Contact.id.in_(ContactAddress.select(ContactAddress.contact).where(ContactAddress.city == value))
            )
        elif key == "organization_id":
            query = query.where(Contact.organization == value)
        elif key == "custom":
            for name, wanted in value.items():
                query = query.where(
                    Contact.id.in_(
                        ContactCustomField.select(ContactCustomField.contact).where(
                            (ContactCustomField.key == name) & (ContactCustomField.value == wanted)
                        )
                    )
                )
        elif key == "list":
            members = (
                ListMember.select(ListMember.contact)
                .join(MailingList)
                .where((MailingList.name == value) & ListMember.unsubscribed_at.is_null())
            )
            query = query.where(Contact.id.in_(members))
        elif key == "do_not_contact":
            query = query.where(Contact.do_not_contact == value)
        elif key == "created_after":
            start = dt.datetime.fromisoformat(value)
            query = query.where(Contact.created_at >= start)
        elif key == "created_before":
            end = dt.datetime.fromisoformat(value)
            query = query.where(Contact.created_at < end)
    return query


def describe(filters: Mapping[str, Any]) -> str:
    """A short human reading of a filter set, for listings."""
    if not filters:
        return "every contact"
    parts = []
    for key, value in filters.items():
        if isinstance(value, list):
            value = "+".join(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        parts.append(f"{key}={value}")
    return "; ".join(parts)
