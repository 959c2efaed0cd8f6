"""Checking what a caller wants to store in a contact, before any database work.

:func:`clean` turns loosely typed input (API keyword arguments, an import
row, a self-service form) into normalised values, or raises
:class:`FieldError` naming the field and the reason. It is pure, so import
workers run it in other processes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from crm_contacts.normalize import (
    ADDRESS_KINDS,
    EMAIL_KINDS,
    KINDS,
    PHONE_KINDS,
    STATUSES,
    InvalidValue,
    country_or_none,
    is_exchange_address,
    normalize_country,
    normalize_date,
    normalize_email,
    normalize_kind,
    normalize_tag,
    parse_bool,
    read_phone,
)
from crm_core.i18n import N_, Message

__all__ = ["DETAIL_FIELDS", "FIELDS", "FieldError", "clean", "display_name_for"]

SCALARS = {
    "kind": 12,
    "display_name": 300,
    "first_name": 150,
    "last_name": 150,
    "status": 20,
    "region": 100,
    "country": 2,
    "owner": 100,
    "language": 35,
    "external_id": 200,
    "name_prefix": 50,
    "middle_name": 150,
    "name_suffix": 50,
    "nickname": 150,
    "title": 150,
    "department": 150,
    "website": 500,
}
#: the contact's optional details, beyond names, status and the rest (all nullable)
DETAIL_FIELDS = ("name_prefix", "middle_name", "name_suffix", "nickname", "title", "department", "birthday", "website")
#: every field :func:`clean` accepts
FIELDS = (
    *SCALARS,
    "organization_id",
    "do_not_contact",
    "notes",
    "birthday",
    "status_changed_at",
    "emails",
    "phones",
    "addresses",
    "tags",
    "custom",
)
_ADDRESS_PARTS = {"street": 300, "extra": 300, "city": 150, "postal_code": 20, "region": 150, "country": 2}
_NULLABLE = {
    "region",
    "country",
    "owner",
    "language",
    "external_id",
    "notes",
    "organization_id",
    "status_changed_at",
    *DETAIL_FIELDS,
}


class FieldError(ValueError):
    """A field that cannot be stored: ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _text(field: str, value: Any, limit: int | None) -> str:
    if not isinstance(value, str):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            value = str(value)
        else:
            raise FieldError(
                field, Message(N_("expected text, got %(type)s %(value)r"), type=type(value).__name__, value=value)
            )
    # notes keep their lines, with one kind of line end: a bare CR would be
    # written as it is into exports, and vCard readers take it as a line break
    text = " ".join(value.split()) if field != "notes" else value.replace("\r\n", "\n").replace("\r", "\n").strip()
    if limit is not None and len(text) > limit:
        raise FieldError(
            field, Message(N_("is %(length)d characters long; the limit is %(limit)d"), length=len(text), limit=limit)
        )
    return text


def _items(field: str, value: Any) -> list[Any]:
    if isinstance(value, (str, Mapping)):
        return [value]
    if value is None:
        return []
    try:
        return list(value)
    except TypeError:
        raise FieldError(field, f"expected a list, got {type(value).__name__}") from None


def _pick_primary(field: str, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    flagged = [i for i, item in enumerate(items) if item.get("primary")]
    if len(flagged) > 1:
        raise FieldError(field, Message(N_("only one can be primary")))
    chosen = flagged[0] if flagged else 0
    for i, item in enumerate(items):
        item["primary"] = i == chosen
    return items


def clean_emails(value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in _items("emails", value):
        if isinstance(item, str):
            item = {"address": item}
        if not isinstance(item, Mapping) or "address" not in item:
            raise FieldError("emails", f"each e-mail is an address or {{'address': …, 'kind': …}}, not {item!r}")
        verified = True
        try:
            typed = _text("emails", item["address"], None)
            if is_exchange_address(typed) and len(typed) <= 254:
                # Outlook's EX addresses name a mailbox of the sender's own
                # Exchange server: kept as written, marked unverified
                address, verified = typed, False
            else:
                address = normalize_email(typed)
            kind = normalize_kind(str(item.get("kind") or ""), EMAIL_KINDS, "e-mail")
        except InvalidValue as exc:
            raise FieldError("emails", exc.args[0]) from None
        if address in seen:
            continue
        seen.add(address)
        email: dict[str, Any] = {"address": address, "kind": kind, "primary": bool(item.get("primary"))}
        if not verified:
            email["verified"] = False
        out.append(email)
    return _pick_primary("emails", out)


def clean_phones(
    value: Any, region: str | None, countries: Sequence[str] | Callable[[], Sequence[str]] = ()
) -> list[dict[str, Any]]:
    """Phones read in the row's ``countries`` first, then in ``region``; unreadable ones kept unverified.

    ``countries`` may be a function: it is called only for a number written
    without a country code (most address books write them with one).
    """
    resolved: list[str | None] | None = None

    def regions(typed: str) -> list[str | None]:
        nonlocal resolved
        if typed.startswith(("+", "00")):
            return [region]
        if resolved is None:
            found = countries() if callable(countries) else countries
            resolved = [*found, region] if region not in found else list(found)
        return resolved

    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for item in _items("phones", value):
        if isinstance(item, str):
            item = {"number": item}
        if not isinstance(item, Mapping) or "number" not in item:
            raise FieldError("phones", f"each phone is a number or {{'number': …, 'kind': …}}, not {item!r}")
        try:
            typed = _text("phones", item["number"], None)
            number, extension, verified = read_phone(typed, regions(typed))
            kind = normalize_kind(str(item.get("kind") or ""), PHONE_KINDS, "phone")
        except InvalidValue as exc:
            raise FieldError("phones", exc.args[0]) from None
        extension = item.get("extension") or extension
        if number in seen:
            continue
        seen.add(number)
        phone: dict[str, Any] = {"number": number, "kind": kind, "primary": bool(item.get("primary"))}
        if extension:
            phone["extension"] = _text("phones", extension, 20)
        if not verified:
            phone["verified"] = False
        out.append(phone)
    return _pick_primary("phones", out)


def clean_addresses(value: Any) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for item in _items("addresses", value):
        if not isinstance(item, Mapping):
            raise FieldError("addresses", f"each address is a table of street, city, postal_code…, not {item!r}")
        unknown = set(item) - set(_ADDRESS_PARTS) - {"kind", "primary"}
        if unknown:
            raise FieldError(
                "addresses",
                f"unknown part(s) {', '.join(sorted(unknown))}; the parts are kind, {', '.join(_ADDRESS_PARTS)}, primary",
            )
        address: dict[str, Any] = {"kind": "other"}
        try:
            address["kind"] = normalize_kind(str(item.get("kind") or ""), ADDRESS_KINDS, "address")
            for part, limit in _ADDRESS_PARTS.items():
                text = _text("addresses", item.get(part) or "", limit if part != "country" else None)
                address[part] = normalize_country(text) if part == "country" and text else text
        except InvalidValue as exc:
            raise FieldError("addresses", exc.args[0]) from None
        address["primary"] = bool(item.get("primary"))
        if not any(address[p] for p in _ADDRESS_PARTS):
            continue
        out.append(address)
    return _pick_primary("addresses", out)


def clean_tags(value: Any) -> list[str]:
    if isinstance(value, str):
        value = value.replace(";", ",").split(",")
    tags: list[str] = []
    for item in _items("tags", value):
        if not isinstance(item, str):
            raise FieldError("tags", f"a tag is text, not {item!r}")
        if not item.strip():
            continue
        try:
            tag = normalize_tag(item)
        except InvalidValue as exc:
            raise FieldError("tags", exc.args[0]) from None
        if tag not in tags:
            tags.append(tag)
    return sorted(tags)


def clean_custom(value: Any) -> dict[str, str | None]:
    if not isinstance(value, Mapping):
        raise FieldError("custom", f"expected a table of name = value, not {value!r}")
    out: dict[str, str | None] = {}
    for key, item in value.items():
        if not isinstance(key, str) or not key.strip() or len(key) > 100:
            raise FieldError("custom", f"custom field names are 1 to 100 characters, not {key!r}")
        name = key.strip()
        if item is None or (isinstance(item, str) and not item.strip()):
            out[name] = None  # removes the field
        else:
            out[name] = _text(f"custom.{name}", item, 255)
    return out


def clean(fields: Mapping[str, Any], *, region: str | None = None, keep_unreadable: bool = True) -> dict[str, Any]:
    """Normalised copies of ``fields``; raises :class:`FieldError` for the first bad one.

    Phones written without a country code are read in the countries of the
    row's addresses, then its ``country``, then ``region`` (the default
    region). One that none of them reads is kept as typed with
    ``"verified": False`` (and so is an Exchange ``EX`` e-mail address),
    unless ``keep_unreadable`` is false, when it is an error (forms whose
    author can fix it). Unknown field names are errors too.
    """
    unknown = [f for f in fields if f not in FIELDS]
    if unknown:
        raise FieldError(unknown[0], f"is not a contact field; the fields are: {', '.join(FIELDS)}")
    out: dict[str, Any] = {}
    for field, value in fields.items():
        if value is None or (isinstance(value, str) and not value.strip() and field in _NULLABLE):
            if field in _NULLABLE:
                out[field] = None
                continue
            if field in ("emails", "phones", "addresses", "tags"):
                out[field] = []
                continue
            raise FieldError(field, Message(N_("cannot be empty")))
        try:
            if field == "kind":
                kind = _text(field, value, 12).lower()
                if kind not in KINDS:
                    raise FieldError(
                        field, Message(N_("%(value)r is not a kind; use person or organization"), value=value)
                    )
                out[field] = kind
            elif field == "status":
                status = _text(field, value, 20).lower()
                if status == "former customer":
                    status = "former"
                if status not in STATUSES:
                    raise FieldError(
                        field,
                        Message(
                            N_("%(value)r is not a status; use %(allowed)s"), value=value, allowed=", ".join(STATUSES)
                        ),
                    )
                out[field] = status
            elif field == "country":
                out[field] = normalize_country(_text(field, value, None))
            elif field == "language":
                tag = _text(field, value, 35)
                if not all(p.isalnum() and p.isascii() for p in tag.replace("_", "-").split("-")):
                    raise FieldError(
                        field, Message(N_("%(value)r is not a language tag such as es or en-GB"), value=value)
                    )
                out[field] = tag.replace("_", "-")
            elif field in SCALARS:
                out[field] = _text(field, value, SCALARS[field])
            elif field == "organization_id":
                if isinstance(value, bool) or not isinstance(value, int):
                    if isinstance(value, str) and value.strip().isdigit():
                        value = int(value)
                    else:
                        raise FieldError(field, Message(N_("expected a contact id, not %(value)r"), value=value))
                out[field] = value
            elif field == "do_not_contact":
                out[field] = value if isinstance(value, bool) else parse_bool(str(value))
            elif field == "notes":
                out[field] = _text(field, value, None) or None
            elif field == "birthday":
                out[field] = normalize_date(_text(field, value, None), region) or None
            elif field == "status_changed_at":
                out[field] = _moment(field, value)
            elif field == "emails":
                out[field] = clean_emails(value)
                if not keep_unreadable:
                    _refuse_unverified(field, out[field], region)
            elif field == "phones":
                out[field] = clean_phones(value, region, lambda: _row_countries(fields))
                if not keep_unreadable:
                    _refuse_unverified(field, out[field], region)
            elif field == "addresses":
                out[field] = clean_addresses(value)
            elif field == "tags":
                out[field] = clean_tags(value)
            elif field == "custom":
                out[field] = clean_custom(value)
        except InvalidValue as exc:
            raise FieldError(field, exc.args[0]) from None
    for name in ("display_name", "first_name", "last_name"):
        if name in out and name == "display_name" and not out[name]:
            raise FieldError(name, Message(N_("cannot be empty")))
    return out


def _refuse_unverified(field: str, items: list[dict[str, Any]], region: str | None) -> None:
    for item in items:
        if item.get("verified") is False:
            if field == "emails":
                normalize_email(item["address"])  # raises with the reason
            if region:
                template = N_(
                    "%(value)r is not a valid phone number in the default region %(region)s; "
                    "write it in international form (+<country code>…)"
                )
            else:
                template = N_(
                    "%(value)r is not a valid phone number in any country (no default region is set); "
                    "write it in international form (+<country code>…)"
                )
            raise FieldError(field, Message(template, value=item["number"], region=region))


def _row_countries(fields: Mapping[str, Any]) -> list[str]:
    """The countries a row names, where its phones are read first: its addresses' (the primary first), then its own."""
    found: list[str] = []
    addresses = fields.get("addresses")
    if addresses:
        items = [a for a in _items("addresses", addresses) if isinstance(a, Mapping)]
        items.sort(key=lambda a: not a.get("primary"))
        found += [c for a in items if isinstance(a.get("country"), str) and (c := country_or_none(a["country"]))]
    country = fields.get("country")
    if isinstance(country, str) and (code := country_or_none(country)):
        found.append(code)
    return list(dict.fromkeys(found))


def _moment(field: str, value: Any) -> dt.datetime:
    """An aware datetime from one or ISO 8601 text; a time without a zone is UTC."""
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError:
            raise FieldError(
                field,
                Message(
                    N_("%(value)r is not a date and time; write it as ISO 8601, e.g. 2025-03-01T09:30:00+00:00"),
                    value=value,
                ),
            ) from None
    if not isinstance(value, dt.datetime):
        raise FieldError(field, f"expected a date and time, not {value!r}")
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def display_name_for(
    kind: str, first_name: str, last_name: str, display_name: str | None, emails: list[dict[str, Any]] | None = None
) -> str:
    """The name shown for a contact: given, else "first last", else the e-mail."""
    if display_name:
        return display_name
    name = " ".join(p for p in (first_name, last_name) if p)
    if name:
        return name
    if emails:
        return emails[0]["address"]
    raise FieldError(
        "display_name",
        Message(N_("a contact needs a name: give display_name, or first_name/last_name for a person"))
        if kind == "person"
        else Message(N_("an organization needs display_name (its name)")),
    )
