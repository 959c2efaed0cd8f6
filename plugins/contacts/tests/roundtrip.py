"""Address books for round-trip tests: Hypothesis strategies, a comparable form, a wipe.

Shared by ``test_roundtrip.py`` (small books, many examples) and
``bench/bench_contacts_roundtrip.py`` (100,000 contacts).
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

from hypothesis import strategies as st

from crm_contacts.normalize import ADDRESS_KINDS, EMAIL_KINDS, PHONE_KINDS, STATUSES, name_key

#: phones that read in several ways: international, national in the row's
#: address country (ES, US, FR), and ones no country reads (kept unverified)
PHONES = (
    "+34 612 345 678",
    "+44 20 7946 0958",
    "(512) 200-0002",
    "91 123 45 67",
    "01 42 68 53 00",
    "+1 212 555 0100",
    "612 000 111",
    "12 34",
    "call after 5",
    "+34 912 345 678 ext. 21",
    "+33 1 42 68 53 00",
)
COUNTRIES = ("ES", "US", "FR", "GB", "DE", "")
DOMAINS = ("example.com", "example.org", "correo.example.es")
EXCHANGE = "/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn={}"

# Text as people type it: letters of many scripts, punctuation CSV and vCard
# must escape (, ; : " ' \ =), spreadsheet formula starts, and spaces.
_ALPHABET = st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp")) | st.sampled_from(
    list(",;:\"'\\=+-@ ^")
)
_NOTE_ALPHABET = _ALPHABET | st.sampled_from(["\n", "\r", "\t"])  # "\r\n" comes from "\r" then "\n"


def text(max_size: int, min_size: int = 0) -> st.SearchStrategy[str]:
    return st.text(_ALPHABET, min_size=min_size, max_size=max_size)


def name(max_size: int = 30) -> st.SearchStrategy[str]:
    return text(max_size, 1).filter(lambda s: s.strip())


_TAG = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyzñéü0123456789 -_."), min_size=1, max_size=12).filter(
    # rows.py reads Google's system groups ("starred", "myContacts") as no tag at all
    lambda s: s.strip() and s.strip().lower() not in ("starred", "mycontacts")
)
_LOCAL = st.text(st.sampled_from("abcdefghijklmnopqrstuvwxyz0123456789_+-"), min_size=1, max_size=10)


@st.composite
def _email(draw: Any, index: int) -> dict[str, Any]:
    if draw(st.integers(0, 9)) == 0:
        address = EXCHANGE.format(f"user{index}")
    else:
        address = f"u{index}{draw(_LOCAL)}@{draw(st.sampled_from(DOMAINS))}"
    return {"address": address, "kind": draw(st.sampled_from(EMAIL_KINDS))}


@st.composite
def _address(draw: Any) -> dict[str, Any]:
    return {
        "kind": draw(st.sampled_from(ADDRESS_KINDS)),
        "street": draw(text(40)),
        "extra": draw(text(20)),
        "city": draw(text(20)),
        "postal_code": draw(st.text(st.sampled_from("0123456789ABC -"), max_size=8)),
        "region": draw(text(15)),
        "country": draw(st.sampled_from(COUNTRIES)),
    }


_BIRTHDAY = st.dates(dt.date(1900, 1, 1), dt.date(2020, 12, 31)).map(lambda d: d.isoformat()) | st.dates(
    dt.date(2000, 1, 1), dt.date(2000, 12, 31)
).map(lambda d: d.strftime("--%m-%d"))
_MOMENT = st.datetimes(dt.datetime(2000, 1, 1), dt.datetime(2030, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=dt.UTC)
)


@st.composite
def contact(draw: Any, index: int, kind: str) -> dict[str, Any]:
    """The keyword arguments of one ``create`` call; ``index`` makes its keys unique in the book."""
    fields: dict[str, Any] = {"kind": kind, "display_name": draw(name())}
    if kind == "person":
        fields.update(
            first_name=draw(text(20)),
            last_name=draw(text(20)),
            middle_name=draw(st.none() | text(15)),
            name_prefix=draw(st.none() | text(8)),
            name_suffix=draw(st.none() | text(8)),
        )
    optional = {
        "nickname": st.none() | text(20),
        "title": st.none() | text(30),
        "department": st.none() | text(30),
        "birthday": st.none() | _BIRTHDAY,
        "website": st.none() | st.sampled_from(["https://example.com/a?b=c;d", "www.example.org"]),
        "status": st.sampled_from(STATUSES),
        "status_changed_at": st.none() | _MOMENT,
        "owner": st.none() | text(20),
        "region": st.none() | text(20),
        "country": st.none() | st.sampled_from(COUNTRIES[:-1]),
        "language": st.none() | st.sampled_from(["es", "en-GB", "fr", "pt-BR"]),
        "do_not_contact": st.booleans(),
        "notes": st.none() | st.text(_NOTE_ALPHABET, max_size=80),
        "tags": st.lists(_TAG, max_size=3),
        "custom": st.dictionaries(name(15), text(40, 1).filter(lambda s: s.strip()), max_size=3),
    }
    for field, strategy in optional.items():
        fields[field] = draw(strategy)
    fields["external_id"] = draw(st.none() | text(10).map(lambda s: f"ext-{index}-{s}"))
    fields["emails"] = [draw(_email(index * 10 + n)) for n in range(draw(st.integers(0, 3)))]
    phones = draw(st.lists(st.sampled_from(PHONES), max_size=3, unique=True))
    fields["phones"] = [{"number": p, "kind": draw(st.sampled_from(PHONE_KINDS))} for p in phones]
    fields["addresses"] = draw(st.lists(_address(), max_size=3))
    for key in ("emails", "phones", "addresses"):
        if len(fields[key]) > 1 and draw(st.booleans()):
            fields[key][-1]["primary"] = True  # a primary that is not the first one
    return fields


@st.composite
def address_books(
    draw: Any, max_people: int = 6, max_organizations: int = 3
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``(organizations, people)``: people name an organization by its index in ``member_of``."""
    organizations = []
    keys: set[str] = set()
    for n in range(draw(st.integers(0, max_organizations))):
        org = draw(contact(n, "organization"))
        if name_key(" ".join(org["display_name"].split())) in keys:
            continue  # organizations are found by name: one name, one organization
        keys.add(name_key(" ".join(org["display_name"].split())))
        organizations.append(org)
    people = []
    for n in range(draw(st.integers(0, max_people))):
        person = draw(contact(100 + n, "person"))
        if organizations:
            person["member_of"] = draw(st.none() | st.integers(0, len(organizations) - 1))
        people.append(person)
    return organizations, people


def build(book: Any, organizations: list[dict[str, Any]], people: list[dict[str, Any]]) -> None:
    ids = [book.create(**org).id for org in organizations]
    for person in people:
        fields = dict(person)
        member_of = fields.pop("member_of", None)
        if member_of is not None:
            fields["organization_id"] = ids[member_of]
        book.create(**fields)


def _items(items: Any, fields: tuple[str, ...]) -> tuple[Any, tuple[Any, ...]]:
    """The primary item and the others, sorted: the order of the others is not kept by CSV slots."""
    rows = [tuple(getattr(i, f) for f in fields) for i in items]
    primary = [r for r, i in zip(rows, items) if i.primary]
    return primary, tuple(sorted(r for r, i in zip(rows, items) if not i.primary))


def comparable(book: Any) -> list[dict[str, Any]]:
    """Every contact of the book as plain values, without its database ids and times of writing."""
    out = []
    for ids in book.iter_ids({}):
        records = book.records(ids)
        for cid in ids:
            r = records[cid]
            out.append(
                {
                    "kind": r.kind,
                    "display_name": r.display_name,
                    "first_name": r.first_name,
                    "last_name": r.last_name,
                    "middle_name": r.middle_name,
                    "name_prefix": r.name_prefix,
                    "name_suffix": r.name_suffix,
                    "nickname": r.nickname,
                    "title": r.title,
                    "department": r.department,
                    "birthday": r.birthday,
                    "website": r.website,
                    "organization": r.organization_name,
                    "status": r.status,
                    "status_changed_at": r.status_changed_at,
                    "owner": r.owner,
                    "region": r.region,
                    "country": r.country,
                    "language": r.language,
                    "do_not_contact": r.do_not_contact,
                    "external_id": r.external_id,
                    "notes": r.notes,
                    "tags": r.tags,
                    "custom": r.custom,
                    "emails": _items(r.emails, ("address", "kind", "verified")),
                    "phones": _items(r.phones, ("number", "extension", "kind", "verified")),
                    "addresses": _items(
                        r.addresses, ("kind", "street", "extra", "city", "postal_code", "region", "country")
                    ),
                }
            )
    return sorted(out, key=repr)


def wipe(app: Any) -> None:
    """Make the database a fresh one: an empty address book (the tables, not through the API: nothing to undo)
    and a new identity, so that the ids an export wrote before are another database's."""
    db = app.database
    with app.activate():
        db.execute_sql("UPDATE contacts_contact SET organization_id = NULL")
        for table in (
            "contacts_custom",
            "contacts_tag",
            "contacts_address",
            "contacts_phone",
            "contacts_email",
            "contacts_contact",
            "contacts_identity",
        ):
            db.execute_sql(f"DELETE FROM {table}")


def export(book: Any, how: str) -> str:
    out = io.StringIO(newline="")
    if how == "csv":
        book.export_csv(out)
    else:
        book.export_vcard(out, version=how)
    return out.getvalue()


def reimport(book: Any, how: str, text: str, path: Any, **options: Any) -> Any:
    """Import an export with the default matching keys (id, external id, e-mail).

    Into a fresh database (see :func:`wipe`) the file's ids are another
    database's and match nothing, although a fresh CRM gives out the same
    small ids again; into the database that wrote it, each row finds its
    contact by id.
    """
    path.write_text(text, encoding="utf-8", newline="")
    if how == "csv":
        return book.import_csv(path, **options)
    return book.import_vcard(path, **options)
