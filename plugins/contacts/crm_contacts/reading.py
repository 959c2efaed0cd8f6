"""Reading whole contacts: :func:`read_records`, one query per 900 ids (:func:`complete_records`, for
contact rows already read or just written, one more for their children).

Every read of a contact (the API's ``GET /contacts/{id}``, a card, a page of
a list) comes here: the contact rows with their organizations' names, their
e-mails, phones, addresses, tags and custom fields in one ``UNION ALL``. It
is a :class:`~crm_core.statements.Statement`: peewee builds its SQL once per
dialect and shape, not per call.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from peewee import JOIN, SQL, Case

from crm_contacts.models import Contact, ContactAddress, ContactCustomField, ContactEmail, ContactPhone, ContactTag
from crm_contacts.records import Address, ContactRecord, Email, Phone
from crm_core.ids import is_id
from crm_core.statements import Statement
from crm_core.storage import batched, insert_returning

__all__ = [
    "IN_CHUNK",
    "complete_records",
    "contact_fields",
    "contact_row",
    "insert_contact",
    "read_records",
    "tags_of",
    "written_record",
]

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


_CONTACT_FIELDS_AND_ORGANIZATION = (*_CONTACT_FIELDS, "organization_name")


def _column(name: str) -> Any:
    return Contact.organization if name == "organization_id" else getattr(Contact, name)


def _flag(field: Any) -> Any:
    """A boolean column as 1 or 0 on every backend (a UNION's column has one type)."""
    return Case(None, [(field, SQL("1"))], SQL("0"))


_NULL = SQL("NULL")
#: the columns of the rows of a contact that are not the contact's
_CHILD_WIDTH = 12


def _records(ids: Any, emails: Any, phones: Any, addresses: Any, tags: Any, custom: Any) -> Any:
    """Contacts with their e-mails, phones, addresses, tags, custom fields and organization's name, in one
    round trip: one ``UNION ALL`` whose branches each read one table by the contacts' ids (an index each).

    Each row is ``(kind, contact_id, id, t1 … t7, flag1, flag2)`` then the contact's columns
    (``_CONTACT_FIELDS``) and its organization's name: ``r`` is the contact itself (its columns
    filled, the first twelve empty); the others leave the contact's columns empty: ``e`` address,
    kind, primary, verified; ``p`` number, kind, extension, primary, verified; ``a`` kind, street,
    extra, city, postal code, region, country, primary; ``t`` tag; ``c`` key, value. The contact
    comes first, so that its columns' types name the union's (``NULL`` takes any).
    """
    E, P, A, T, C = ContactEmail, ContactPhone, ContactAddress, ContactTag, ContactCustomField
    org = Contact.alias("org")
    pad = [_NULL] * 5
    rest = [_NULL] * (len(_CONTACT_FIELDS) + 1)
    return (
        Contact.select(
            SQL("'r'"),
            Contact.id,
            Contact.id,
            *[_NULL] * 9,
            *[_column(n) for n in _CONTACT_FIELDS],
            org.display_name,
        )
        .join(org, JOIN.LEFT_OUTER, on=org.id == Contact.organization)
        .where(Contact.id.in_(ids))
        .union_all(
            E.select(
                SQL("'e'"), E.contact, E.id, E.address, E.kind, *pad, _flag(E.is_primary), _flag(E.verified), *rest
            ).where(E.contact.in_(emails))
        )
        .union_all(
            P.select(
                SQL("'p'"),
                P.contact,
                P.id,
                P.number,
                P.kind,
                P.extension,
                *pad[:4],
                _flag(P.is_primary),
                _flag(P.verified),
                *rest,
            ).where(P.contact.in_(phones))
        )
        .union_all(
            A.select(
                SQL("'a'"),
                A.contact,
                A.id,
                A.kind,
                A.street,
                A.extra,
                A.city,
                A.postal_code,
                A.region,
                A.country,
                _flag(A.is_primary),
                _NULL,
                *rest,
            ).where(A.contact.in_(addresses))
        )
        .union_all(
            T.select(SQL("'t'"), T.contact, T.id, T.tag, *pad, _NULL, _NULL, _NULL, *rest).where(T.contact.in_(tags))
        )
        .union_all(
            C.select(SQL("'c'"), C.contact, C.id, C.key, C.value, *pad[:4], _NULL, _NULL, _NULL, *rest).where(
                C.contact.in_(custom)
            )
        )
    )


_RECORDS = Statement("contacts.records", _records, pad_lists=True)


def _children(emails: Any, phones: Any, addresses: Any, tags: Any, custom: Any) -> Any:
    """A contact's e-mails, phones, addresses, tags and custom fields in one round trip.

    Each row is ``(kind, contact_id, id, t1 … t7, flag1, flag2)``: ``e`` address,
    kind, primary, verified; ``p`` number, kind, extension, primary,
    verified; ``a`` kind, street, extra, city, postal code, region,
    country, primary; ``t`` tag; ``c`` key, value.
    """
    E, P, A, T, C = ContactEmail, ContactPhone, ContactAddress, ContactTag, ContactCustomField
    pad = [_NULL] * 5
    return (
        E.select(SQL("'e'"), E.contact, E.id, E.address, E.kind, *pad, _flag(E.is_primary), _flag(E.verified))
        .where(E.contact.in_(emails))
        .union_all(
            P.select(
                SQL("'p'"),
                P.contact,
                P.id,
                P.number,
                P.kind,
                P.extension,
                *pad[:4],
                _flag(P.is_primary),
                _flag(P.verified),
            ).where(P.contact.in_(phones))
        )
        .union_all(
            A.select(
                SQL("'a'"),
                A.contact,
                A.id,
                A.kind,
                A.street,
                A.extra,
                A.city,
                A.postal_code,
                A.region,
                A.country,
                _flag(A.is_primary),
                _NULL,
            ).where(A.contact.in_(addresses))
        )
        .union_all(T.select(SQL("'t'"), T.contact, T.id, T.tag, *pad, _NULL, _NULL, _NULL).where(T.contact.in_(tags)))
        .union_all(
            C.select(SQL("'c'"), C.contact, C.id, C.key, C.value, *pad[:4], _NULL, _NULL, _NULL).where(
                C.contact.in_(custom)
            )
        )
    )


_CHILDREN = Statement("contacts.records.children", _children, pad_lists=True)

_NAMES = Statement(
    "contacts.records.organizations",
    lambda ids: Contact.select(Contact.id, Contact.display_name).where(Contact.id.in_(ids)),
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


def read_records(ids: Sequence[int]) -> dict[int, ContactRecord]:
    """Full records for ``ids`` that exist, by id (call it inside ``crm.activate()``)."""
    out: dict[int, ContactRecord] = {}
    # an id past what the database holds names no contact (and cannot even be bound)
    for part in batched([i for i in ids if is_id(i)], IN_CHUNK):
        contacts: list[dict[str, Any]] = []
        emails: dict[int, list[Email]] = {}
        phones: dict[int, list[Phone]] = {}
        addresses: dict[int, list[Address]] = {}
        tags: dict[int, list[str]] = {}
        custom: dict[int, dict[str, str]] = {}
        # each table's rows in the order they were added (tags and keys sorted)
        for row in sorted(
            _RECORDS.rows(part, part, part, part, part, part),
            key=lambda r: (r[0], r[1], r[3] if r[0] in "tc" else r[2]),
        ):
            kind, contact_id, _, t1, t2, t3, t4, t5, t6, t7, flag1, flag2 = row[:_CHILD_WIDTH]
            if kind == "r":
                contacts.append(dict(zip(_CONTACT_FIELDS_AND_ORGANIZATION, row[_CHILD_WIDTH:])))
            elif kind == "e":
                emails.setdefault(contact_id, []).append(Email(t1, t2, bool(flag1), bool(flag2)))
            elif kind == "p":
                phones.setdefault(contact_id, []).append(Phone(t1, t2, bool(flag1), t3, bool(flag2)))
            elif kind == "a":
                addresses.setdefault(contact_id, []).append(Address(t1, t2, t3, t4, t5, t6, t7, bool(flag1)))
            elif kind == "t":
                tags.setdefault(contact_id, []).append(t1)
            else:
                custom.setdefault(contact_id, {})[t1] = t2
        for r in contacts:
            r["do_not_contact"] = bool(r["do_not_contact"])
            contact_id = r["id"]
            out[contact_id] = ContactRecord(
                **r,
                emails=tuple(emails.get(contact_id, ())),
                phones=tuple(phones.get(contact_id, ())),
                addresses=tuple(addresses.get(contact_id, ())),
                tags=tuple(tags.get(contact_id, ())),
                custom=custom.get(contact_id, {}),
            )
    return out


def contact_fields() -> list[Any]:
    """The contact's columns that :func:`complete_records` takes, in its order, to select with other columns."""
    return [_column(n) for n in _CONTACT_FIELDS]


def contact_row(values: Sequence[Any]) -> dict[str, Any] | None:
    """The values of :func:`contact_fields` as :func:`complete_records` takes them; ``None`` for a missing contact
    (a left join that found none)."""
    return None if values[0] is None else dict(zip(_CONTACT_FIELDS, values))


def insert_contact(values: dict[str, Any]) -> dict[str, Any]:
    """Insert a contact; its row as stored, as :func:`complete_records` takes it (in one statement where the
    database returns rows from an INSERT)."""
    fields = ["organization" if name == "organization_id" else name for name in _CONTACT_FIELDS]
    return dict(zip(_CONTACT_FIELDS, insert_returning(Contact, values, fields)))


def complete_records(rows: Sequence[dict[str, Any]]) -> dict[int, ContactRecord]:
    """Full records for contact rows already read (up to ``IN_CHUNK`` of them): their children in one query."""
    out: dict[int, ContactRecord] = {}
    part = [r["id"] for r in rows]
    if part:
        emails: dict[int, list[Email]] = {}
        phones: dict[int, list[Phone]] = {}
        addresses: dict[int, list[Address]] = {}
        tags: dict[int, list[str]] = {}
        custom: dict[int, dict[str, str]] = {}
        # one query for the five tables; each table's rows in the order they were added (tags and keys sorted)
        for kind, contact_id, _, t1, t2, t3, t4, t5, t6, t7, flag1, flag2 in sorted(
            _CHILDREN.rows(part, part, part, part, part), key=lambda r: (r[0], r[1], r[3] if r[0] in "tc" else r[2])
        ):
            if kind == "e":
                emails.setdefault(contact_id, []).append(Email(t1, t2, bool(flag1), bool(flag2)))
            elif kind == "p":
                phones.setdefault(contact_id, []).append(Phone(t1, t2, bool(flag1), t3, bool(flag2)))
            elif kind == "a":
                addresses.setdefault(contact_id, []).append(Address(t1, t2, t3, t4, t5, t6, t7, bool(flag1)))
            elif kind == "t":
                tags.setdefault(contact_id, []).append(t1)
            else:
                custom.setdefault(contact_id, {})[t1] = t2
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


def written_record(row: dict[str, Any], data: Mapping[str, Any], organization_name: str | None) -> ContactRecord:
    """The record of a contact just inserted: its row as stored (:func:`insert_contact`) and the children written
    from ``data`` (cleaned fields, as ``AddressBook._write_children`` wrote them), without reading them back.

    The children are the cleaned values the inserts sent, in the order they were sent, tags and custom
    keys sorted: what :func:`complete_records` would read back, one round trip and one query fewer.
    """
    row = dict(row)
    row["do_not_contact"] = bool(row["do_not_contact"])
    return ContactRecord(
        **row,
        organization_name=organization_name,
        emails=tuple(
            Email(e["address"], e["kind"], bool(e["primary"]), bool(e.get("verified", True)))
            for e in data.get("emails") or ()
        ),
        phones=tuple(
            Phone(p["number"], p["kind"], bool(p["primary"]), p.get("extension"), bool(p.get("verified", True)))
            for p in data.get("phones") or ()
        ),
        addresses=tuple(
            Address(
                a["kind"],
                a["street"],
                a["extra"],
                a["city"],
                a["postal_code"],
                a["region"],
                a["country"],
                bool(a["primary"]),
            )
            for a in data.get("addresses") or ()
        ),
        tags=tuple(sorted(data.get("tags") or ())),
        custom=dict(sorted((data.get("custom") or {}).items())),
    )


def tags_of(ids: Sequence[int]) -> dict[int, list[str]]:
    """The tags of each contact of ``ids`` that has any, in order (call it inside ``crm.activate()``)."""
    tags: dict[int, list[str]] = {}
    for part in batched(list(ids), IN_CHUNK):
        for contact_id, tag in _TAGS.rows(part):
            tags.setdefault(contact_id, []).append(tag)
    return tags
