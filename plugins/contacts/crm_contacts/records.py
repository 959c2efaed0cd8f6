"""The plugin's own records: a full contact as the API returns it, and search pages.

Other plugins see contacts as :class:`crm_hookspecs.records.ContactCard`;
these richer records are for the contacts plugin's own callers (the CLI, an
embedding app, the self-service portal).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import attrs

from crm_hookspecs.records import ContactCard, ContactPage, PostalAddress

__all__ = ["Address", "ContactRecord", "Email", "Phone", "SearchPage", "snapshot"]


@attrs.frozen
class Email:
    address: str
    kind: str = "other"
    primary: bool = False
    #: false for an address kept as written that is not an e-mail address (Exchange ``EX``)
    verified: bool = True


@attrs.frozen
class Phone:
    #: E.164
    number: str
    kind: str = "other"
    primary: bool = False
    extension: str | None = None
    #: false for a number kept as typed because it could not be read
    verified: bool = True


@attrs.frozen
class Address:
    kind: str = "other"
    street: str = ""
    extra: str = ""
    city: str = ""
    postal_code: str = ""
    region: str = ""
    #: ISO 3166-1 alpha-2
    country: str = ""
    primary: bool = False

    def postal(self) -> PostalAddress:
        return PostalAddress(
            street=self.street,
            city=self.city,
            postal_code=self.postal_code,
            region=self.region,
            country=self.country,
            extra=self.extra,
        )


@attrs.frozen
class ContactRecord:
    """One contact with everything the plugin keeps about it."""

    id: int
    kind: str
    display_name: str
    first_name: str = ""
    last_name: str = ""
    organization_id: int | None = None
    organization_name: str | None = None
    name_prefix: str | None = None
    middle_name: str | None = None
    name_suffix: str | None = None
    nickname: str | None = None
    title: str | None = None
    department: str | None = None
    #: ``YYYY-MM-DD``, or ``--MM-DD`` without the year
    birthday: str | None = None
    website: str | None = None
    status: str = "prospect"
    status_changed_at: dt.datetime | None = None
    region: str | None = None
    country: str | None = None
    owner: str | None = None
    language: str | None = None
    do_not_contact: bool = False
    external_id: str | None = None
    notes: str | None = None
    emails: tuple[Email, ...] = ()
    phones: tuple[Phone, ...] = ()
    addresses: tuple[Address, ...] = ()
    tags: tuple[str, ...] = ()
    custom: dict[str, str] = attrs.field(factory=dict)
    created_at: dt.datetime | None = None
    updated_at: dt.datetime | None = None
    deleted_at: dt.datetime | None = None
    merged_into: int | None = None
    erased_at: dt.datetime | None = None

    @property
    def email(self) -> str | None:
        return next((e.address for e in self.emails if e.primary), None)

    @property
    def phone(self) -> str | None:
        return next((p.number for p in self.phones if p.primary), None)

    @property
    def address(self) -> Address | None:
        return next((a for a in self.addresses if a.primary), None)

    def card(self) -> ContactCard:
        address = self.address
        return ContactCard(
            id=self.id,
            kind=self.kind,
            display_name=self.display_name,
            first_name=self.first_name,
            last_name=self.last_name,
            organization_id=self.organization_id,
            organization_name=self.organization_name,
            email=self.email,
            phone=self.phone,
            address=address.postal() if address else None,
            status=self.status,
            region=self.region,
            country=self.country,
            owner=self.owner,
            language=self.language,
            tags=self.tags,
            do_not_contact=self.do_not_contact,
            deleted=self.deleted_at is not None,
        )


#: the contract's record (crm_hookspecs.records.ContactPage), under this plugin's older name
SearchPage = ContactPage


#: the fields of a contact as events carry them (ContactCreated.data and
#: the keys of ContactChanged.changes), in this order
DATA_FIELDS = (
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "organization_id",
    "status",
    "region",
    "country",
    "owner",
    "language",
    "do_not_contact",
    "external_id",
    "notes",
    "name_prefix",
    "middle_name",
    "name_suffix",
    "nickname",
    "title",
    "department",
    "birthday",
    "website",
    "emails",
    "phones",
    "addresses",
    "tags",
    "custom",
)


def snapshot(record: ContactRecord) -> dict[str, Any]:
    """The contact's fields as JSON-ready values, keyed as events carry them."""
    out: dict[str, Any] = {}
    for name in DATA_FIELDS:
        value = getattr(record, name)
        if name == "emails":
            value = [_email_dict(e) for e in value]
        elif name == "phones":
            value = [_phone_dict(p) for p in value]
        elif name == "addresses":
            value = [attrs.asdict(a) for a in value]
        elif name == "tags":
            value = list(value)
        elif name == "custom":
            value = dict(value)
        out[name] = value
    return out


# "verified" appears only when false, as fields.clean gives it: events and
# snapshots of checked values keep their shape
def _email_dict(email: Email) -> dict[str, Any]:
    out: dict[str, Any] = {"address": email.address, "kind": email.kind, "primary": email.primary}
    if not email.verified:
        out["verified"] = False
    return out


def _phone_dict(phone: Phone) -> dict[str, Any]:
    out: dict[str, Any] = {"number": phone.number, "kind": phone.kind, "primary": phone.primary}
    if phone.extension:
        out["extension"] = phone.extension
    if not phone.verified:
        out["verified"] = False
    return out


#: the values :func:`compact` leaves out
EMPTY_VALUES: tuple[Any, ...] = (None, "", [], {}, False)


def compact(data: dict[str, Any]) -> dict[str, Any]:
    """``data`` without empty values (what ContactCreated carries)."""
    return {k: v for k, v in data.items() if v not in EMPTY_VALUES}
