"""Reading whole contacts: :func:`read_records`, a fixed number of queries per 900 ids.

Every read of a contact (the API's ``GET /contacts/{id}``, a card, a page of
a list) comes here, so its seven queries are :class:`~crm_core.statements.Statement`
objects: peewee builds their SQL once per dialect and shape, not per call.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from crm_contacts.models import Contact, ContactAddress, ContactCustomField, ContactEmail, ContactPhone, ContactTag
from crm_contacts.records import Address, ContactRecord, Email, Phone
from crm_core.statements import Statement
from crm_core.storage import batched

__all__ = ["IN_CHUNK", "read_records", "tags_of"]

#: ids per ``IN (...)``: under SQLite's historical limit of 999 bound values
IN_CHUNK = 900

#: the columns of a contact a ContactRecord takes, in the order selected
_CONTACT_FIELDS = (
    "id",
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "organization_id",
    "name_prefix",
    "middle_name",
    "name_suffix",
    "nickname",
    "title",
    "department",
    "birthday",
    "website",
    "status",
    "status_changed_at",
    "region",
    "country",
    "owner",
    "language",
    "do_not_contact",
    "external_id",
    "notes",
    "created_at",
    "updated_at",
    "deleted_at",
    "merged_into",
    "erased_at",
)


def _column(name: str) -> Any:
    return Contact.organization if name == "organization_id" else getattr(Contact, name)


_CONTACTS = Statement(
    "contacts.records",
    lambda ids: Contact.select(*[_column(n) for n in _CONTACT_FIELDS]).where(Contact.id.in_(ids)),
    pad_lists=True,
)
_EMAILS = Statement(
    "contacts.records.emails",
    lambda ids: (
        ContactEmail.select(
            ContactEmail.contact,
            ContactEmail.address,
            ContactEmail.kind,
            ContactEmail.is_primary,
            ContactEmail.verified,
        )
        .where(ContactEmail.contact.in_(ids))
        .order_by(ContactEmail.id)
    ),
    pad_lists=True,
)
_PHONES = Statement(
    "contacts.records.phones",
    lambda ids: (
        ContactPhone.select(
            ContactPhone.contact,
            ContactPhone.number,
            ContactPhone.kind,
            ContactPhone.is_primary,
            ContactPhone.extension,
            ContactPhone.verified,
        )
        .where(ContactPhone.contact.in_(ids))
        .order_by(ContactPhone.id)
    ),
    pad_lists=True,
)
_ADDRESSES = Statement(
    "contacts.records.addresses",
    lambda ids: (
        ContactAddress.select(
            ContactAddress.contact,
            ContactAddress.kind,
            ContactAddress.street,
            ContactAddress.extra,
            ContactAddress.city,
            ContactAddress.postal_code,
            ContactAddress.region,
            ContactAddress.country,
            ContactAddress.is_primary,
        )
        .where(ContactAddress.contact.in_(ids))
        .order_by(ContactAddress.id)
    ),
    pad_lists=True,
)
_TAGS = Statement(
    "contacts.records.tags",
    lambda ids: (
        ContactTag.select(ContactTag.contact, ContactTag.tag)
        .where(ContactTag.contact.in_(ids))
        .order_by(ContactTag.tag)
    ),
    pad_lists=True,
)
_CUSTOM = Statement(
    "contacts.records.custom",
    lambda ids: (
        ContactCustomField.select(ContactCustomField.contact, ContactCustomField.key, ContactCustomField.value)
        .where(ContactCustomField.contact.in_(ids))
        .order_by(ContactCustomField.key)
    ),
    pad_lists=True,
)
_NAMES = Statement(
    "contacts.records.organizations",
    lambda ids: Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_(ids)),
    pad_lists=True,
)


def read_records(ids: Sequence[int]) -> dict[int, ContactRecord]:
    """Full records for ``ids`` that exist, by id (call it inside ``crm.activate()``)."""
    out: dict[int, ContactRecord] = {}
    for part in batched(list(ids), IN_CHUNK):
        rows = [dict(zip(_CONTACT_FIELDS, row)) for row in _CONTACTS.rows(part)]
        if not rows:
            continue
        emails: dict[int, list[Email]] = {}
        for contact_id, address, kind, primary, verified in _EMAILS.rows(part):
            emails.setdefault(contact_id, []).append(Email(address, kind, primary, bool(verified)))
        phones: dict[int, list[Phone]] = {}
        for contact_id, number, kind, primary, extension, verified in _PHONES.rows(part):
            phones.setdefault(contact_id, []).append(Phone(number, kind, primary, extension, bool(verified)))
        addresses: dict[int, list[Address]] = {}
        for contact_id, *fields in _ADDRESSES.rows(part):
            addresses.setdefault(contact_id, []).append(Address(*fields))
        tags: dict[int, list[str]] = {}
        for contact_id, tag in _TAGS.rows(part):
            tags.setdefault(contact_id, []).append(tag)
        custom: dict[int, dict[str, str]] = {}
        for contact_id, key, value in _CUSTOM.rows(part):
            custom.setdefault(contact_id, {})[key] = value
        org_ids = sorted({r["organization_id"] for r in rows if r["organization_id"]})
        orgs: dict[int, str] = dict(_NAMES.rows(org_ids)) if org_ids else {}  # type: ignore[arg-type]
        for r in rows:
            r["do_not_contact"] = bool(r["do_not_contact"])
            contact_id = r["id"]
            out[contact_id] = ContactRecord(
                **r,
                organization_name=orgs.get(r["organization_id"]),
                emails=tuple(emails.get(contact_id, ())),
                phones=tuple(phones.get(contact_id, ())),
                addresses=tuple(addresses.get(contact_id, ())),
                tags=tuple(tags.get(contact_id, ())),
                custom=custom.get(contact_id, {}),
            )
    return out


def tags_of(ids: Sequence[int]) -> dict[int, list[str]]:
    """The tags of each contact of ``ids`` that has any, in order (call it inside ``crm.activate()``)."""
    tags: dict[int, list[str]] = {}
    for part in batched(list(ids), IN_CHUNK):
        for contact_id, tag in _TAGS.rows(part):
            tags.setdefault(contact_id, []).append(tag)
    return tags
