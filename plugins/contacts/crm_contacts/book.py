"""The address book: create, read, update, delete, restore, tag, search, cards.

Every change runs in one transaction with its event (``ContactCreated``,
``ContactChanged`` with the field-level diff, ``ContactDeleted``,
``ContactRestored``), which carries who made it (``actor``) and through which
channel (``staff``, ``import``, ``self-service``, ``api``, ``system``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import peewee

from crm_contacts import filters as search_filters
from crm_contacts import words
from crm_contacts.fields import DETAIL_FIELDS, FieldError, clean, display_name_for
from crm_contacts.models import (
    Contact,
    ContactAddress,
    ContactCustomField,
    ContactEmail,
    ContactPhone,
    ContactTag,
    live_in_id_order,
)
from crm_contacts.normalize import name_key
from crm_contacts.owners import Owners
from crm_contacts.reading import IN_CHUNK, insert_contact, read_records, tags_of, written_record
from crm_contacts.records import ContactRecord, SearchPage, compact, snapshot
from crm_core.errors import NotFoundError, ValidationError
from crm_core.ids import MAX_ID, is_id
from crm_core.statements import Statement
from crm_core.storage import batched, bulk_insert, for_update
from crm_hookspecs.events import ContactChanged, ContactCreated, ContactDeleted, ContactRestored
from crm_hookspecs.records import ContactCard, FieldChange, PostalAddress

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["AddressBook", "CHANNELS", "IN_CHUNK", "check_channel"]

CHANNELS = ("staff", "import", "self-service", "api", "system")
#: the most contacts one search page holds: each is loaded as a whole card (walk more with ``iter_ids``)
MAX_PAGE = 10_000

#: the orders ``search`` takes (``sort=``): a column, or ``-column`` for descending; ties go by id
SORTS = ("name", "status", "owner", "region", "country", "created", "updated")
_SCALAR_COLUMNS = (
    "kind",
    "display_name",
    "first_name",
    "last_name",
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
)
_CHILDREN = ("emails", "phones", "addresses", "tags", "custom")


def check_channel(channel: str) -> str:
    if channel not in CHANNELS:
        raise ValidationError(f"channel {channel!r} is not known; use one of {', '.join(CHANNELS)}")
    return channel


def card_query() -> peewee.ModelSelect[Contact]:
    """A card's columns, its primary e-mail, phone and address and its organization's name, by left joins."""
    E, P, A, O = (
        ContactEmail.alias("pe"),
        ContactPhone.alias("pp"),
        ContactAddress.alias("pa"),
        Contact.alias("org"),
    )
    return (
        Contact.select(
            Contact.id,
            Contact.kind,
            Contact.display_name,
            Contact.first_name,
            Contact.last_name,
            Contact.organization,
            O.display_name,
            E.address,
            P.number,
            A.street,
            A.city,
            A.postal_code,
            A.region,
            A.country,
            A.extra,
            Contact.status,
            Contact.region,
            Contact.country,
            Contact.owner,
            Contact.language,
            Contact.do_not_contact,
        )
        .join_from(Contact, E, peewee.JOIN.LEFT_OUTER, on=((E.contact == Contact.id) & E.is_primary))
        .join_from(Contact, P, peewee.JOIN.LEFT_OUTER, on=((P.contact == Contact.id) & P.is_primary))
        .join_from(Contact, A, peewee.JOIN.LEFT_OUTER, on=((A.contact == Contact.id) & A.is_primary))
        .join_from(Contact, O, peewee.JOIN.LEFT_OUTER, on=(O.id == Contact.organization))
    )


_CARDS = Statement(
    "contacts.cards",
    lambda ids: card_query().select_extend(Contact.deleted_at).where(Contact.id.in_(ids)),
    pad_lists=True,
)


def _card_page(where: Any, limit: Any, offset: Any = None) -> Any:
    """A page of cards in name order, with each row's name key last: the page and its cards in one query.

    The page's ids come from a subquery with its own ``ORDER BY`` and
    ``LIMIT`` (one index, read from where the page starts), and only those
    rows are joined to their e-mail, phone, address and organization:
    PostgreSQL planned the joins of the whole table, then the sort, when the
    table had no statistics yet (13 ms for 2,000 contacts, growing with them).
    """
    page = Contact.select(Contact.id).where(Contact.deleted_at.is_null())
    if where is not None:
        page = page.where(where)
    page = page.order_by(Contact.name_key, Contact.id).limit(limit)
    if offset is not None:
        page = page.offset(offset)
    page = page.alias("page")
    return (
        card_query()
        .select_extend(Contact.deleted_at, Contact.name_key)
        .join_from(Contact, page, peewee.JOIN.INNER, on=(Contact.id == page.c.id))
        .order_by(Contact.name_key, Contact.id)
    )


#: the list every reader who sees every contact pages through (the API's GET /contacts, the desk's list):
#: the first page by offset, the next ones after a row (keyset), each one query whose SQL is built once
_FIRST_CARD_PAGE = Statement("contacts.cards.page", lambda limit, offset: _card_page(None, limit, offset))
_NEXT_CARD_PAGE = Statement(
    "contacts.cards.page_after",
    lambda key, key2, key3, last, limit: _card_page(_after_row(key, key2, key3, last), limit),
)


def _after_row(key: str, key2: str, key3: str, last: int) -> Any:
    """The rows after (``key``, ``last``) in name order (``key`` given three times: a Statement binds each once).

    The first condition repeats what the others say so that the index on the
    name key starts the scan there: without it PostgreSQL read the index from
    the start and filtered (20 ms half-way through 100,000 contacts).
    """
    return (Contact.name_key >= key) & ((Contact.name_key > key2) | ((Contact.name_key == key3) & (Contact.id > last)))


def _position(after: Sequence[Any] | None) -> tuple[str, int] | None:
    """``after`` checked: a page's ``after`` (name key, id), or None."""
    if after is None:
        return None
    if (
        not isinstance(after, list | tuple)
        or len(after) != 2
        or not isinstance(after[0], str)
        or not isinstance(after[1], int)
        or isinstance(after[1], bool)
        or not is_id(after[1])
    ):
        raise ValidationError(f"paging: after must be the 'after' of a page (a name key and an id), not {after!r:.60}")
    return after[0], after[1]


def _cards(rows: Sequence[tuple[Any, ...]]) -> list[ContactCard]:
    """Cards of rows of :func:`card_query` (with ``deleted_at`` last), with their tags (one more query per 900)."""
    if not rows:
        return []
    tags = tags_of([r[0] for r in rows])
    return [_card(r[:-1], tags.get(r[0], ()), deleted=r[-1] is not None) for r in rows]


class AddressBook:
    """The address book service: contacts' records, cards, searches and changes.

    It checks no permission: :class:`crm_contacts.api.ContactsAPI` does,
    and passes the reader's scope as ``visible``.
    """

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    # -- helpers -------------------------------------------------------------

    @property
    def settings(self) -> Any:
        return self.crm.settings("contacts")

    @property
    def region(self) -> str | None:
        return self.settings.default_region or None

    def clean_fields(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        try:
            return clean(fields, region=self.region)
        except FieldError as exc:
            raise ValidationError(
                f"contact field {exc.field!r}: {exc.reason}", field=exc.field, reason=exc.reason
            ) from None

    def _check_organization(self, organization_id: int | None, contact_id: int | None = None) -> str | None:
        """Check that ``organization_id`` names an organization that is not deleted; its name (``None`` for none)."""
        if organization_id is None:
            return None
        if organization_id == contact_id:
            raise ValidationError(f"contact {contact_id} cannot be its own organization")
        org = Contact.get_or_none(Contact.id == organization_id)
        if org is None or org.deleted_at is not None:
            raise ValidationError(f"organization_id {organization_id}: no such organization (or it is deleted)")
        if org.kind != "organization":
            raise ValidationError(
                f"organization_id {organization_id}: contact {organization_id} is a person, not an organization"
            )
        return str(org.display_name)

    # -- reading -------------------------------------------------------------

    def records(self, ids: Sequence[int]) -> dict[int, ContactRecord]:
        """Full records for ``ids`` (a fixed number of queries per 900 ids)."""
        with self.crm.activate():
            return read_records(ids)

    def get(self, contact_id: int) -> ContactRecord:
        """The contact with everything kept about it (deleted ones too: see ``deleted_at``)."""
        try:
            contact_id = int(contact_id)
        except (TypeError, ValueError):
            raise ValidationError(f"a contact id is a whole number, not {contact_id!r:.60}") from None
        # an id past what the database holds names no contact (and cannot even be bound)
        record = self.records([contact_id]).get(contact_id) if is_id(contact_id) else None
        if record is None:
            raise NotFoundError(f"no contact with id {contact_id}; find it with 'crm contacts search'")
        return record

    def visible_ids(self, contact_ids: Sequence[int], visible: Any) -> list[int]:
        """Those of ``contact_ids`` that exist and ``visible`` keeps, in the order given."""
        ids = [i for i in (int(c) for c in contact_ids) if is_id(i)]
        kept: set[int] = set()
        with self.crm.activate():
            for part in batched(list(dict.fromkeys(ids)), IN_CHUNK):
                query = Contact.select(Contact.id).where(Contact.id.in_(part) & visible)
                kept.update(r[0] for r in query.tuples().iterator())
        return [i for i in ids if i in kept]

    def owners_of(self, contact_ids: Iterable[int]) -> dict[int, str | None]:
        """The owners of the contacts that exist among ``contact_ids``, by id (unknown ids are left out)."""
        ids: list[int] = []
        for value in contact_ids:
            try:
                number = int(value)
            except (TypeError, ValueError):
                continue  # not an id: the service says so
            if is_id(number):
                ids.append(number)
        out: dict[int, str | None] = {}
        with self.crm.activate():
            for part in batched(sorted(set(ids)), IN_CHUNK):
                out.update(Contact.select(Contact.id, Contact.owner).where(Contact.id.in_(part)).tuples().iterator())
        return out

    def card(self, contact_id: int) -> ContactCard:
        """The contract's card for one contact; raises NotFoundError if there is none."""
        cards = self.cards([contact_id])
        if not cards:
            raise NotFoundError(f"no contact with id {contact_id}; find it with 'crm contacts search'")
        return cards[0]

    def email_addresses(self, contact_id: int) -> list[str]:
        """Every e-mail address of a contact, primary first (the contract's ``ContactsAPI``); ``[]`` for an unknown one."""
        if not is_id(int(contact_id)):
            return []
        with self.crm.activate():
            query = (
                ContactEmail.select(ContactEmail.address)
                .where(ContactEmail.contact == int(contact_id))
                .order_by(ContactEmail.is_primary.desc(), ContactEmail.id)
            )
            return [address for (address,) in query.tuples().iterator()]

    def cards(self, contact_ids: Sequence[int], *, visible: Any = None) -> list[ContactCard]:
        """Many cards at once, in the order asked; unknown ids (and those ``visible`` leaves out) are left out."""
        # an id past what the database holds is unknown like any other (and cannot even be bound)
        ids = [i for i in (int(i) for i in contact_ids) if is_id(i)]
        found: dict[int, ContactCard] = {}
        with self.crm.activate():
            for part in batched(list(dict.fromkeys(ids)), IN_CHUNK):
                if visible is None:  # the common case, every list page: a query whose SQL is built once
                    rows = _CARDS.rows(part)
                    found.update((card.id, card) for card in _cards(rows))
                    continue
                for card in self.card_rows(Contact.id.in_(part) & visible):
                    found[card.id] = card
        return [found[i] for i in ids if i in found]

    def card_rows(self, where: peewee.Expression, order: Any = None) -> list[ContactCard]:
        query = card_query().select_extend(Contact.deleted_at).where(where)
        if order is not None:
            query = query.order_by(*order)
        return _cards(list(query.tuples().iterator()))

    def search(
        self,
        query: str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        include_deleted: bool = False,
        visible: Any = None,
        after: Sequence[Any] | None = None,
        sort: str = "name",
        count: bool | int = True,
        **filters: Any,
    ) -> SearchPage:
        """Contacts matching every filter given (see :data:`crm_contacts.filters.FILTERS`), a page at a time.

        ``query`` is free text: an e-mail, a phone number or part of a name.
        Results are ordered by ``sort`` (one of :data:`SORTS`, ``-`` before
        it for descending; default by name); ``total`` counts every match.
        ``visible`` (a peewee expression: the reader's scope) keeps only
        the contacts it is true of, in SQL. ``after`` (a page's ``after``:
        the last row's name key and id) starts the page after that row
        (keyset paging: stable while contacts are added or removed, and as
        fast on the last page as on the first); ``offset`` then skips
        nothing and only says how many matches came before, as the caller
        counted them. ``count`` says how hard to count the matches for
        ``total``: ``True`` every one; ``False`` none (``total`` is then the
        rows up to this page, one more when another page follows); a number
        ``n``: up to ``n`` (on a large book, "10,000+" rather than a count of
        every row). ``total_exact`` is false when ``total`` is such a lower
        bound.
        """
        if not isinstance(count, bool) and (not isinstance(count, int) or count < 1):
            raise ValidationError(f"count must be true, false or a number of matches from 1 up, not {count!r:.40}")
        for name, value, low, high in (("limit", limit, 1, MAX_PAGE), ("offset", offset, 0, MAX_ID)):
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise ValidationError(f"paging: {name} must be a whole number from {low} to {high}, not {value!r:.40}")
        position = _position(after)
        if position is not None and sort != "name":
            raise ValidationError(f"paging: after follows the order by name; with sort {sort!r:.40} page by offset")
        if query:
            filters["query"] = query
        order = _order(sort)
        checked = search_filters.check(filters, self.region)
        if not checked and not include_deleted and visible is None and sort == "name":
            return self._card_page(limit, offset, position, count)
        with self.crm.activate():
            base = Contact.select(Contact.id)
            if not include_deleted:
                base = base.where(Contact.deleted_at.is_null())
            base = search_filters.apply(base, checked, self.region)
            if visible is not None:
                base = base.where(visible)
            # one row more than the page: whether another page follows, even when rows came and went before it
            if position is not None:
                key, last = position
                base_page = base.where(_after_row(key, key, key, last))
            else:
                base_page = base.offset(offset)
            page = base_page.select_extend(Contact.name_key).order_by(*order).limit(limit + 1)
            rows = list(page.tuples().iterator())
            more = len(rows) > limit
            rows = rows[:limit]
            ids = [r[0] for r in rows]
            total, exact = self._total(base, offset + len(ids), more, offset == 0 and position is None, count)
            cards = self.cards(ids)
        # the next page's position, in the order by name only (keyset paging follows name key and id)
        following = (rows[-1][1], rows[-1][0]) if more and sort == "name" else None
        return SearchPage(cards=cards, total=total, offset=offset, limit=limit, after=following, total_exact=exact)

    def _card_page(self, limit: int, offset: int, position: tuple[str, int] | None, count: bool | int) -> SearchPage:
        """:meth:`search` of every contact not deleted, in name order: the page and its cards in one query,
        its tags in one more."""
        with self.crm.activate():
            # one row more than the page: whether another page follows
            if position is None:
                rows = _FIRST_CARD_PAGE.rows(limit + 1, offset)
            else:
                rows = _NEXT_CARD_PAGE.rows(position[0], position[0], position[0], position[1], limit + 1)
            more = len(rows) > limit
            rows = rows[:limit]
            base = Contact.select(Contact.id).where(Contact.deleted_at.is_null())
            total, exact = self._total(base, offset + len(rows), more, offset == 0 and position is None, count)
            cards = _cards([row[:-1] for row in rows])
        following = (rows[-1][-1], rows[-1][0]) if more else None
        return SearchPage(cards=cards, total=total, offset=offset, limit=limit, after=following, total_exact=exact)

    @staticmethod
    def _total(base: Any, seen: int, more: bool, first: bool, count: bool | int) -> tuple[int, bool]:
        """``(total, exact)`` for a page: counted in SQL as far as ``count`` asks, else known from the page."""
        if first and not more:
            return seen, True  # a first page that is not full holds every match: no COUNT needed
        if count is True:
            return base.count(), True
        if not more:
            return seen, True  # the last page: the rows before it (as the caller counted them) and its own
        if count is False:
            return seen + 1, False
        # a capped count, never below the rows seen and one more (so has_more stays right past the cap)
        found = base.limit(count + 1).count()  # stops after count + 1 rows
        if found > count:
            return max(count, seen + 1), False
        return found, True

    def iter_ids(
        self,
        filters: Mapping[str, Any] | None = None,
        include_deleted: bool = False,
        page: int = 1000,
        *,
        visible: Any = None,
    ) -> Iterator[list[int]]:
        """Ids of the matching contacts, in id order, a page at a time (keyset paging)."""
        checked = search_filters.check(dict(filters or {}), self.region)
        last = 0
        while True:
            with self.crm.activate():
                query = Contact.select(Contact.id).where(Contact.id > last)
                if not include_deleted:
                    query = query.where(live_in_id_order(self.crm.database))
                query = search_filters.apply(query, checked, self.region)
                if visible is not None:
                    query = query.where(visible)
                ids = [r[0] for r in query.order_by(Contact.id).limit(page).tuples().iterator()]
            if not ids:
                return
            yield ids
            last = ids[-1]

    # -- writing -------------------------------------------------------------

    def create(
        self,
        *,
        actor: str | None = None,
        channel: str = "staff",
        email: str | None = None,
        phone: str | None = None,
        **fields: Any,
    ) -> ContactRecord:
        """Add a contact and emit ``ContactCreated``; returns it.

        Fields: ``kind`` (person or organization), ``first_name``,
        ``last_name``, ``display_name``, ``organization_id``, ``status``,
        ``region``, ``country``, ``owner``, ``language``, ``do_not_contact``,
        ``external_id``, ``notes``, ``name_prefix``, ``middle_name``,
        ``name_suffix``, ``nickname``, ``title``, ``department``,
        ``birthday``, ``website``, ``emails``, ``phones``, ``addresses``,
        ``tags``, ``custom``, and ``status_changed_at`` (when the status was
        set, default now). ``email=`` and ``phone=`` are shorthands for a
        single primary one.
        """
        check_channel(channel)
        if email is not None:
            fields["emails"] = [email, *(fields.get("emails") or [])]
        if phone is not None:
            fields["phones"] = [phone, *(fields.get("phones") or [])]
        data = self.clean_fields(fields)
        owners = Owners(self.crm)
        data["owner"] = owners.resolve(data["owner"]) if data.get("owner") else owners.default()
        data.setdefault("kind", "person")
        for name in ("first_name", "last_name"):
            data.setdefault(name, "")
        try:
            data["display_name"] = display_name_for(
                data["kind"], data["first_name"], data["last_name"], data.get("display_name"), data.get("emails")
            )
        except FieldError as exc:
            raise ValidationError(
                f"contact field {exc.field!r}: {exc.reason}", field=exc.field, reason=exc.reason
            ) from None
        now = self.crm.clock.now()
        key = name_key(data["display_name"], data["first_name"], data["last_name"])
        with self.crm.transaction():
            organization_name = self._check_organization(data.get("organization_id"))
            # the row comes back as stored, in the same statement where the database can (INSERT … RETURNING)
            stored = insert_contact(
                {
                    "kind": data["kind"],
                    "display_name": data["display_name"],
                    "first_name": data["first_name"],
                    "last_name": data["last_name"],
                    "name_key": key,
                    "organization": data.get("organization_id"),
                    "status": data.get("status", "prospect"),
                    "status_changed_at": data.get("status_changed_at") or now,
                    "region": data.get("region"),
                    "country": data.get("country"),
                    "owner": data.get("owner"),
                    "language": data.get("language"),
                    "do_not_contact": data.get("do_not_contact", False),
                    "external_id": data.get("external_id"),
                    "notes": data.get("notes"),
                    **{name: data.get(name) for name in DETAIL_FIELDS},
                    "created_at": now,
                    "updated_at": now,
                }
            )
            contact_id = stored["id"]
            words.insert(self.crm.database, words.rows(contact_id, key))
            custom = {k: v for k, v in (data.get("custom") or {}).items() if v is not None}
            data["custom"] = custom
            self._write_children(contact_id, data, replace=False)
            # built from what was written: reading the children back was a round trip and a query per contact
            record = written_record(stored, data, organization_name)
            self.crm.emit(
                ContactCreated(
                    contact_id=contact_id,
                    kind=record.kind,
                    data=compact(snapshot(record)),
                    actor=actor,
                    channel=channel,
                )
            )
        return record

    def _write_children(self, contact_id: int, data: Mapping[str, Any], replace: bool = True) -> None:
        db = self.crm.database
        if "emails" in data:
            if replace:
                ContactEmail.delete().where(ContactEmail.contact == contact_id).execute()
            bulk_insert(
                ContactEmail,
                ("contact_id", "address", "kind", "is_primary", "verified"),
                [(contact_id, e["address"], e["kind"], e["primary"], e.get("verified", True)) for e in data["emails"]],
                database=db,
            )
        if "phones" in data:
            if replace:
                ContactPhone.delete().where(ContactPhone.contact == contact_id).execute()
            bulk_insert(
                ContactPhone,
                ("contact_id", "number", "extension", "kind", "is_primary", "verified"),
                [
                    (contact_id, p["number"], p.get("extension"), p["kind"], p["primary"], p.get("verified", True))
                    for p in data["phones"]
                ],
                database=db,
            )
        if "addresses" in data:
            if replace:
                ContactAddress.delete().where(ContactAddress.contact == contact_id).execute()
            bulk_insert(
                ContactAddress,
                ("contact_id", "kind", "street", "extra", "city", "postal_code", "region", "country", "is_primary"),
                [
                    (
                        contact_id,
                        a["kind"],
                        a["street"],
                        a["extra"],
                        a["city"],
                        a["postal_code"],
                        a["region"],
                        a["country"],
                        a["primary"],
                    )
                    for a in data["addresses"]
                ],
                database=db,
            )
        if "tags" in data:
            if replace:
                ContactTag.delete().where(ContactTag.contact == contact_id).execute()
            bulk_insert(ContactTag, ("contact_id", "tag"), [(contact_id, t) for t in data["tags"]], database=db)
        if "custom" in data:
            if replace:
                ContactCustomField.delete().where(ContactCustomField.contact == contact_id).execute()
            bulk_insert(
                ContactCustomField,
                ("contact_id", "key", "value"),
                [(contact_id, k, v) for k, v in sorted(data["custom"].items())],
                database=db,
            )

    def locked(self, contact_id: int) -> Contact:
        number = int(contact_id)
        row = (
            for_update(Contact.select().where(Contact.id == number), self.crm.database).first()
            if is_id(number)
            else None
        )
        if row is None:
            raise NotFoundError(f"no contact with id {contact_id}; find it with 'crm contacts search'")
        return row

    def update(
        self, contact_id: int, *, actor: str | None = None, channel: str = "staff", **fields: Any
    ) -> ContactRecord:
        """Change fields of a contact and emit ``ContactChanged`` with old → new per field.

        Lists (``emails``, ``phones``, ``addresses``, ``tags``) replace the
        current ones; ``custom`` is merged (a ``None`` value removes a key).
        Nothing is emitted when nothing changes.
        """
        check_channel(channel)
        if "status_changed_at" in fields:
            raise ValidationError(
                "status_changed_at is set when the status changes; give it only when creating a contact"
            )
        data = self.clean_fields(fields)
        if data.get("owner"):
            data["owner"] = Owners(self.crm).resolve(data["owner"])
        with self.crm.transaction():
            row = self.locked(contact_id)
            if row.deleted_at is not None:
                raise ValidationError(
                    f"contact {contact_id} is deleted; restore it first ('crm contacts restore {contact_id}')"
                )
            before = self.records([row.id])[row.id]
            return self.apply_update(row, before, data, actor=actor, channel=channel)

    def apply_update(
        self, row: Contact, before: ContactRecord, data: dict[str, Any], *, actor: str | None, channel: str
    ) -> ContactRecord:
        """Write the changes ``data`` makes to ``before``; emit ContactChanged. Inside a transaction."""
        new, changes = self.plan_update(row.id, before, data)
        if not changes:
            return before
        now = self.crm.clock.now()
        columns: dict[Any, Any] = {}
        for name in _SCALAR_COLUMNS:
            if name in changes:
                columns[getattr(Contact, name)] = new[name]
        if "organization_id" in changes:
            columns[Contact.organization] = new["organization_id"]
        if "status" in changes:
            columns[Contact.status_changed_at] = now
        if {"display_name", "first_name", "last_name"} & set(changes):
            columns[Contact.name_key] = name_key(new["display_name"], new["first_name"], new["last_name"])
        columns[Contact.updated_at] = now
        Contact.update(columns).where(Contact.id == row.id).execute()
        if Contact.name_key in columns:
            words.rewrite(self.crm.database, [(row.id, columns[Contact.name_key])])
        self._write_children(row.id, {k: new[k] for k in _CHILDREN if k in changes})
        self.crm.emit(ContactChanged(contact_id=row.id, changes=changes, actor=actor, channel=channel))
        return self.records([row.id])[row.id]

    def plan_update(
        self, contact_id: int, before: ContactRecord, data: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, FieldChange]]:
        """``(new snapshot, {field: FieldChange})`` that the cleaned ``data`` would make; writes nothing."""
        old = snapshot(before)
        new = dict(old)
        if "custom" in data:
            merged = dict(old["custom"])
            for key, value in data["custom"].items():
                if value is None:
                    merged.pop(key, None)
                else:
                    merged[key] = value
            data = {**data, "custom": merged}
        new.update(data)
        derived_before = " ".join(p for p in (before.first_name, before.last_name) if p)
        if (
            "display_name" not in data
            and (before.display_name == derived_before)
            and ("first_name" in data or "last_name" in data)
        ):
            derived = " ".join(p for p in (new["first_name"], new["last_name"]) if p)
            if derived:
                new["display_name"] = derived
        if not new.get("display_name"):
            raise ValidationError(f"contact {contact_id}: display_name cannot be empty")
        if new.get("organization_id") != old.get("organization_id"):
            self._check_organization(new.get("organization_id"), contact_id)
        changes = {k: FieldChange(old=old[k], new=new[k]) for k in old if old[k] != new[k]}
        return new, changes

    def delete(self, contact_id: int, *, actor: str | None = None, channel: str = "staff") -> None:
        """Soft-delete a contact (``restore`` brings it back); emits ``ContactDeleted``."""
        check_channel(channel)
        with self.crm.transaction():
            row = self.locked(contact_id)
            if row.deleted_at is not None:
                raise ValidationError(f"contact {contact_id} is already deleted")
            Contact.update(deleted_at=self.crm.clock.now(), updated_at=self.crm.clock.now()).where(
                Contact.id == row.id
            ).execute()
            self.crm.emit(ContactDeleted(contact_id=row.id, actor=actor, channel=channel))

    def restore(self, contact_id: int, *, actor: str | None = None, channel: str = "staff") -> ContactRecord:
        """Undo a soft delete; emits ``ContactRestored``. A merged contact comes back with ``unmerge`` instead."""
        check_channel(channel)
        with self.crm.transaction():
            row = self.locked(contact_id)
            if row.deleted_at is None:
                raise ValidationError(f"contact {contact_id} is not deleted; nothing to restore")
            if row.merged_into is not None:
                raise ValidationError(
                    f"contact {contact_id} was merged into {row.merged_into}; undo the merge with 'crm contacts unmerge {contact_id}'"
                )
            if row.erased_at is not None:
                raise ValidationError(
                    f"contact {contact_id} was erased (GDPR); its data is gone and it cannot be restored"
                )
            Contact.update(deleted_at=None, updated_at=self.crm.clock.now()).where(Contact.id == row.id).execute()
            self.crm.emit(ContactRestored(contact_id=row.id, actor=actor, channel=channel))
        return self.get(row.id)

    def tag(
        self,
        contact_ids: Iterable[int],
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        actor: str | None = None,
        channel: str = "staff",
    ) -> int:
        """Add and remove tags on several contacts; returns how many contacts changed."""
        check_channel(channel)
        try:
            from crm_contacts.fields import clean_tags

            to_add, to_remove = set(clean_tags(list(add))), set(clean_tags(list(remove)))
        except FieldError as exc:
            raise ValidationError(f"tags: {exc.reason}", field="tags", reason=exc.reason) from None
        if to_add & to_remove:
            raise ValidationError(f"tag(s) {', '.join(sorted(to_add & to_remove))} both added and removed; choose one")
        ids = list(dict.fromkeys(int(i) for i in contact_ids))
        changed = 0
        with self.crm.transaction():
            records = self.records(ids)
            missing = [i for i in ids if i not in records]
            if missing:
                raise NotFoundError(f"no contact with id {missing[0]}; nothing was tagged")
            deleted = [i for i in ids if records[i].deleted_at is not None]
            if deleted:
                raise ValidationError(f"contact {deleted[0]} is deleted; restore it first (nothing was tagged)")
            for contact_id in ids:
                record = records[contact_id]
                tags = sorted((set(record.tags) | to_add) - to_remove)
                if tags == list(record.tags):
                    continue
                row = Contact.get_by_id(contact_id)
                self.apply_update(row, record, {"tags": tags}, actor=actor, channel=channel)
                changed += 1
        return changed


def _card(row: tuple[Any, ...], tags: Sequence[str], deleted: bool = False) -> ContactCard:
    (
        cid,
        kind,
        display,
        first,
        last,
        org_id,
        org_name,
        email,
        phone,
        street,
        city,
        postal_code,
        region_part,
        country_part,
        extra,
        status,
        region,
        country,
        owner,
        language,
        dnc,
    ) = row
    address = None
    if any((street, city, postal_code, region_part, country_part, extra)):
        address = PostalAddress(
            street=street or "",
            city=city or "",
            postal_code=postal_code or "",
            region=region_part or "",
            country=country_part or "",
            extra=extra or "",
        )
    return ContactCard(
        id=cid,
        kind=kind,
        display_name=display,
        first_name=first or "",
        last_name=last or "",
        organization_id=org_id,
        organization_name=org_name,
        email=email,
        phone=phone,
        address=address,
        status=status,
        region=region,
        country=country,
        owner=owner,
        language=language,
        tags=tuple(tags),
        do_not_contact=bool(dnc),
        deleted=deleted,
    )


def _order(sort: Any) -> list[Any]:
    """The ORDER BY of ``sort`` (see :data:`SORTS`); a ``ValidationError`` names the choices."""
    text = str(sort)
    name = text.removeprefix("-")
    if name not in SORTS:
        raise ValidationError(
            f"sort {text!r:.40}: sort by one of {', '.join(SORTS)} (a '-' before it sorts descending, as '-updated')"
        )
    choices: dict[str, list[Any]] = {
        "name": [Contact.name_key],
        "status": [Contact.status, Contact.name_key],
        "owner": [Contact.owner, Contact.name_key],
        "region": [Contact.region, Contact.name_key],
        "country": [Contact.country, Contact.name_key],
        "created": [Contact.created_at],
        "updated": [Contact.updated_at],
    }
    columns = choices[name]
    if text.startswith("-"):
        return [columns[0].desc(), *columns[1:], Contact.id.desc()]
    return [*columns, Contact.id]
