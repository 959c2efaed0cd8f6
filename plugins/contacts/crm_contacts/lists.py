"""Mailing lists (static), segments (saved searches) and audiences.

An *audience* is who a mailing goes to: the members of a list, or the
matches of a segment, less the deleted contacts, those flagged
do-not-contact, those unsubscribed from the list, and those without an
address for the medium (``email``: a primary e-mail; ``post``: a primary
postal address with at least a street and a city). Everything that sends or
prints goes through :meth:`MailingLists.audience`, so the flags are honoured
in one place.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs
import peewee

from crm_contacts import filters as search_filters
from crm_contacts.book import IN_CHUNK, check_channel
from crm_contacts.models import Contact, ContactAddress, ContactEmail, ContactPhone, ListMember, MailingList, Segment
from crm_core.clock import naive_utc
from crm_core.errors import NotFoundError, ValidationError
from crm_core.storage import batched, bulk_insert
from crm_hookspecs.events import ContactUnsubscribed
from crm_hookspecs.records import ContactCard, MailingListInfo
from crm_hookspecs.records import ListMember as ListMemberRecord

if TYPE_CHECKING:
    from crm_contacts.book import AddressBook
    from crm_core.app import CRM

__all__ = ["ListInfo", "ListMemberInfo", "MailingLists", "MEDIUMS", "MemberImport", "SegmentInfo"]

MEDIUMS = ("email", "post")


#: the contract's records (crm_hookspecs.records), under the names this plugin has always used
ListInfo = MailingListInfo
ListMemberInfo = ListMemberRecord


@attrs.frozen
class MemberImport:
    """What :meth:`MailingLists.import_list_members` did: ``missing`` holds ``(line, value, reason)``."""

    added: int
    already: int
    missing: tuple[tuple[int, str, str], ...]
    written: bool


@attrs.frozen
class SegmentInfo:
    id: int
    name: str
    description: str
    filters: dict[str, Any]


def _check_name(name: str, what: str) -> str:
    text = " ".join(str(name).split())
    if not text or len(text) > 100:
        raise ValidationError(f"a {what} name is 1 to 100 characters, not {name!r}")
    if text.startswith(("list:", "segment:")):
        raise ValidationError(f"{what} name {text!r}: the prefixes list: and segment: are reserved for naming sources")
    return text


class MailingLists:
    """The lists, segments and audiences service, built on the address book.

    It checks no permission: :class:`crm_contacts.api.ContactsAPI` does, and
    passes the reader's contact scope as ``visible`` (a peewee expression on
    ``Contact``) to what lists or counts contacts.
    """

    def __init__(self, crm: CRM, book: AddressBook) -> None:
        self.crm = crm
        self._book = book

    # -- lists ---------------------------------------------------------------

    def _list(self, name: str) -> MailingList:
        found = MailingList.get_or_none(MailingList.name == name)
        if found is None:
            raise NotFoundError(f"no mailing list named {name!r}; see 'crm contacts lists list'")
        return found

    def create_list(self, name: str, description: str = "") -> ListInfo:
        """Create an empty static mailing list."""
        name = _check_name(name, "list")
        with self.crm.transaction():
            if MailingList.get_or_none(MailingList.name == name) is not None:
                raise ValidationError(f"a mailing list named {name!r} already exists")
            if Segment.get_or_none(Segment.name == name) is not None:
                raise ValidationError(f"a segment is named {name!r}; lists and segments share names, choose another")
            row = MailingList.create(name=name, description=description, created_at=self.crm.clock.now())
        return ListInfo(row.id, row.name, row.description, 0, 0)

    def delete_list(self, name: str) -> int:
        """Delete a list and its memberships (not the contacts); returns how many members it had."""
        with self.crm.transaction():
            row = self._list(name)
            count = ListMember.delete().where(ListMember.mailing_list == row.id).execute()
            row.delete_instance()
        return count

    def lists(self, *, visible: Any = None) -> list[ListInfo]:
        """Every mailing list with its member and unsubscribe counts (of the ``visible`` contacts)."""
        with self.crm.activate():
            counts: dict[int, tuple[int, int]] = {}
            query = ListMember.select(
                ListMember.mailing_list,
                peewee.fn.COUNT(ListMember.id),
                peewee.fn.COUNT(ListMember.unsubscribed_at),
            )
            if visible is not None:
                query = query.where(ListMember.contact.in_(Contact.select(Contact.id).where(visible)))
            for list_id, total, unsubscribed in query.group_by(ListMember.mailing_list).tuples().iterator():
                counts[list_id] = (total - unsubscribed, unsubscribed)
            return [
                ListInfo(r.id, r.name, r.description, *counts.get(r.id, (0, 0)))
                for r in MailingList.select().order_by(MailingList.name)
            ]

    def lists_of(self, contact_id: int) -> list[tuple[str, bool]]:
        """The static lists a contact is a member of, by name: ``(name, unsubscribed)`` pairs (one query)."""
        with self.crm.activate():
            query = (
                ListMember.select(MailingList.name, ListMember.unsubscribed_at.is_null(False))
                .join(MailingList)
                .where(ListMember.contact == contact_id)
                .order_by(MailingList.name)
            )
            return [(name, bool(unsubscribed)) for name, unsubscribed in query.tuples().iterator()]

    def add_to_list(self, name: str, contact_ids: Iterable[int]) -> int:
        """Add contacts to a list; returns how many were new. Unsubscribed members stay unsubscribed."""
        ids = list(dict.fromkeys(int(i) for i in contact_ids))
        with self.crm.transaction():
            row = self._list(name)
            existing: set[int] = set()
            found: set[int] = set()
            for part in batched(ids, IN_CHUNK):
                found |= {
                    r[0]
                    for r in Contact.select(Contact.id)
                    .where(Contact.id.in_(part) & Contact.deleted_at.is_null())
                    .tuples()
                    .iterator()
                }
                existing |= {
                    r[0]
                    for r in ListMember.select(ListMember.contact)
                    .where((ListMember.mailing_list == row.id) & ListMember.contact.in_(part))
                    .tuples()
                    .iterator()
                }
            missing = [i for i in ids if i not in found]
            if missing:
                raise NotFoundError(
                    f"no contact with id {missing[0]} (or it is deleted); nothing was added to {name!r}"
                )
            now = naive_utc(self.crm.clock.now())
            new = [(row.id, i, now) for i in ids if i not in existing]
            bulk_insert(ListMember, ("mailing_list_id", "contact_id", "added_at"), new, database=self.crm.database)
        return len(new)

    def list_members(
        self, name: str, *, limit: int | None = None, offset: int = 0, visible: Any = None
    ) -> list[ListMemberInfo]:
        """The members of a static list, by name, with their state (subscribed, unsubscribed…)."""
        E = ContactEmail.alias("me")
        with self.crm.activate():
            row = self._list(name)
            query = (
                ListMember.select(
                    Contact.id,
                    Contact.display_name,
                    E.address,
                    ListMember.added_at,
                    ListMember.unsubscribed_at,
                    Contact.do_not_contact,
                    Contact.deleted_at,
                )
                .join(Contact, on=(Contact.id == ListMember.contact))
                .join_from(
                    ListMember,
                    E,
                    peewee.JOIN.LEFT_OUTER,
                    on=((E.contact == ListMember.contact) & (E.is_primary == True)),  # noqa: E712
                )
                .where(ListMember.mailing_list == row.id)
                .order_by(Contact.name_key, Contact.id)
                .offset(offset)
            )
            if visible is not None:
                query = query.where(visible)
            if limit is not None:
                query = query.limit(limit)
            return [
                ListMemberInfo(cid, display, email, added, unsub, bool(dnc), deleted is not None)
                for cid, display, email, added, unsub, dnc, deleted in query.tuples().iterator()
            ]

    def import_list_members(
        self, name: str, lines: Iterable[str], *, all_or_nothing: bool = False, visible: Any = None
    ) -> MemberImport:
        """Add the contacts named by ``lines`` (an open file or a list of strings) to a list.

        Each line holds a contact id, an e-mail address or a phone number
        (blank lines and lines starting with ``#`` are skipped); a CSV with a
        header is read from its ``id``, ``email`` or ``phone`` column. A
        value that names no live contact is reported with its line, and the
        rest is added (nothing, with ``all_or_nothing``). A contact that
        ``visible`` leaves out is as good as missing.
        """
        from crm_contacts.normalize import InvalidValue, normalize_email, normalize_phone

        book = self._book
        values = _member_values(lines)
        ids: dict[int, None] = {}
        missing: list[tuple[int, str, str]] = []
        live = Contact.deleted_at.is_null() if visible is None else Contact.deleted_at.is_null() & visible
        with self.crm.activate():
            self._list(name)
            for line, value in values:
                try:
                    if value.isdigit():
                        found = Contact.select(Contact.id).where((Contact.id == int(value)) & live).scalar()
                    elif "@" in value:
                        address = normalize_email(value)
                        found = (
                            ContactEmail.select(ContactEmail.contact)
                            .join(Contact)
                            .where((ContactEmail.address == address) & live)
                            .order_by(ContactEmail.contact)
                            .scalar()
                        )
                    else:
                        number = normalize_phone(value, book.region)[0]
                        found = (
                            ContactPhone.select(ContactPhone.contact)
                            .join(Contact)
                            .where((ContactPhone.number == number) & live)
                            .order_by(ContactPhone.contact)
                            .scalar()
                        )
                except InvalidValue as exc:
                    missing.append((line, value, str(exc)))
                    continue
                if found is None:
                    missing.append((line, value, "no contact has it (or the contact is deleted)"))
                else:
                    ids[found] = None
        if missing and all_or_nothing:
            return MemberImport(0, 0, tuple(missing), written=False)
        added = self.add_to_list(name, list(ids)) if ids else 0
        return MemberImport(added, len(ids) - added, tuple(missing), written=True)

    def remove_from_list(self, name: str, contact_ids: Iterable[int]) -> int:
        """Take contacts off a list (staff action, no unsubscribe recorded); returns how many."""
        ids = [int(i) for i in contact_ids]
        removed = 0
        with self.crm.transaction():
            row = self._list(name)
            for part in batched(ids, IN_CHUNK):
                removed += (
                    ListMember.delete()
                    .where((ListMember.mailing_list == row.id) & ListMember.contact.in_(part))
                    .execute()
                )
        return removed

    def unsubscribe(
        self, contact_id: int, list_name: str | None = None, *, actor: str | None = None, channel: str = "staff"
    ) -> bool:
        """Unsubscribe a contact from one list, or (``list_name=None``) flag it do-not-contact.

        A contact merged into another (an old mailing's link names it) is
        unsubscribed on its survivor, which now gets its mail, and on its own
        record too, so the wish holds after an unmerge. Emits
        ``ContactUnsubscribed`` (for the survivor); returns ``False`` when it
        was already so.
        """
        check_channel(channel)
        with self.crm.transaction():
            contact = Contact.get_or_none(Contact.id == int(contact_id))
            if contact is None:
                raise NotFoundError(f"no contact with id {contact_id}")
            target = _survivor(contact)
            if list_name is None:
                changed = False
                if contact.id != target.id and not contact.do_not_contact:
                    Contact.update(do_not_contact=True).where(Contact.id == contact.id).execute()
                    changed = True
                if not target.do_not_contact:
                    book = self._book
                    book.apply_update(
                        target,
                        book.records([target.id])[target.id],
                        {"do_not_contact": True},
                        actor=actor,
                        channel=channel,
                    )
                    changed = True
                if changed:
                    self.crm.emit(ContactUnsubscribed(contact_id=target.id, list_id=None, actor=actor, channel=channel))
                return changed
            row = self._list(list_name)
            members = {
                cid: (mid, unsubscribed)
                for mid, cid, unsubscribed in ListMember.select(
                    ListMember.id, ListMember.contact, ListMember.unsubscribed_at
                )
                .where((ListMember.mailing_list == row.id) & ListMember.contact.in_({contact.id, target.id}))
                .tuples()
                .iterator()
            }
            if not members:
                merged = f" (nor is contact {target.id}, which it was merged into)" if target.id != contact.id else ""
                raise ValidationError(f"contact {contact_id} is not on the list {list_name!r}{merged}")
            pending = [mid for mid, unsubscribed in members.values() if unsubscribed is None]
            if not pending:
                return False
            ListMember.update(unsubscribed_at=self.crm.clock.now()).where(ListMember.id.in_(pending)).execute()
            self.crm.emit(ContactUnsubscribed(contact_id=target.id, list_id=row.id, actor=actor, channel=channel))
            return True

    def resubscribe(self, contact_id: int, list_name: str) -> bool:
        """Undo a per-list unsubscribe (when the contact asks to come back); on the survivor too, for a merged contact."""
        with self.crm.transaction():
            row = self._list(list_name)
            contact = Contact.get_or_none(Contact.id == int(contact_id))
            ids = {int(contact_id)} if contact is None else {contact.id, _survivor(contact).id}
            return bool(
                ListMember.update(unsubscribed_at=None)
                .where(
                    (ListMember.mailing_list == row.id)
                    & ListMember.contact.in_(ids)
                    & ListMember.unsubscribed_at.is_null(False)
                )
                .execute()
            )

    # -- segments ------------------------------------------------------------

    def create_segment(self, name: str, filters: Mapping[str, Any], description: str = "") -> SegmentInfo:
        """Save a search as a segment; ``filters`` as for ``search``."""
        name = _check_name(name, "segment")
        book = self._book
        checked = search_filters.check(dict(filters), book.region)
        if not checked:
            raise ValidationError(
                f"segment {name!r} needs at least one filter; the filters are: {', '.join(search_filters.FILTERS)}"
            )
        if "list" in checked:
            with self.crm.activate():
                self._list(checked["list"])
        with self.crm.transaction():
            if Segment.get_or_none(Segment.name == name) is not None:
                raise ValidationError(f"a segment named {name!r} already exists")
            if MailingList.get_or_none(MailingList.name == name) is not None:
                raise ValidationError(
                    f"a mailing list is named {name!r}; lists and segments share names, choose another"
                )
            row = Segment.create(
                name=name, description=description, filters=json.dumps(checked), created_at=self.crm.clock.now()
            )
        return SegmentInfo(row.id, row.name, row.description, checked)

    def segment(self, name: str) -> SegmentInfo:
        """One segment by name."""
        with self.crm.activate():
            row = Segment.get_or_none(Segment.name == name)
            if row is None:
                raise NotFoundError(f"no segment named {name!r}; see 'crm contacts segments list'")
            return SegmentInfo(row.id, row.name, row.description, json.loads(row.filters))

    def segments(self) -> list[SegmentInfo]:
        with self.crm.activate():
            return [
                SegmentInfo(r.id, r.name, r.description, json.loads(r.filters))
                for r in Segment.select().order_by(Segment.name)
            ]

    def delete_segment(self, name: str) -> None:
        with self.crm.transaction():
            if not Segment.delete().where(Segment.name == name).execute():
                raise NotFoundError(f"no segment named {name!r}; see 'crm contacts segments list'")

    # -- audiences -----------------------------------------------------------

    def _source(self, source: str) -> tuple[str, Any]:
        """``("list", MailingList)`` or ``("segment", filters)`` for a source name."""
        kind = None
        name = source
        if source.startswith(("list:", "segment:")):
            kind, _, name = source.partition(":")
        if kind in (None, "list"):
            row = MailingList.get_or_none(MailingList.name == name)
            if row is not None:
                return "list", row
        if kind in (None, "segment"):
            seg = Segment.get_or_none(Segment.name == name)
            if seg is not None:
                return "segment", json.loads(seg.filters)
        raise NotFoundError(
            f"no mailing list or segment named {name!r}; see 'crm contacts lists list' and 'crm contacts segments list'"
        )

    def _audience_base(self, source: str, visible: Any) -> tuple[str, peewee.ModelSelect[Contact], MailingList | None]:
        kind, value = self._source(source)
        query = Contact.select(Contact.id).where(Contact.deleted_at.is_null())
        if visible is not None:
            query = query.where(visible)
        if kind == "list":
            members = ListMember.select(ListMember.contact).where(ListMember.mailing_list == value.id)
            return kind, query.where(Contact.id.in_(members)), value
        book = self._book
        return kind, search_filters.apply(query, value, book.region), None

    @staticmethod
    def _has_address(medium: str) -> peewee.Expression:
        if medium not in MEDIUMS:
            raise ValidationError(f"medium {medium!r} is not known; use email or post")
        if medium == "email":
            return Contact.id.in_(ContactEmail.select(ContactEmail.contact).where(ContactEmail.is_primary == True))  # noqa: E712
        # a label needs at least a street and a city to reach anyone
        return Contact.id.in_(
            ContactAddress.select(ContactAddress.contact).where(
                (ContactAddress.is_primary == True) & (ContactAddress.street != "") & (ContactAddress.city != "")  # noqa: E712
            )
        )

    def audience(self, source: str, medium: str = "email", *, visible: Any = None) -> Iterator[ContactCard]:
        """The contacts a mailing to ``source`` by ``medium`` reaches (see the module doc), in id order."""
        has_address = self._has_address(medium)
        with self.crm.activate():
            kind, query, row = self._audience_base(source, visible)
            query = query.where((Contact.do_not_contact == False) & has_address)  # noqa: E712
            if kind == "list":
                assert row is not None  # a list source comes with its row
                query = query.where(
                    Contact.id.not_in(
                        ListMember.select(ListMember.contact).where(
                            (ListMember.mailing_list == row.id) & ListMember.unsubscribed_at.is_null(False)
                        )
                    )
                )
        book = self._book
        last = 0
        while True:
            with self.crm.activate():
                ids = [
                    r[0] for r in query.where(Contact.id > last).order_by(Contact.id).limit(1000).tuples().iterator()
                ]
                if not ids:
                    return
                cards = book.card_rows(Contact.id.in_(ids), order=(Contact.id,))
            yield from cards
            last = ids[-1]

    def audience_report(self, source: str, medium: str = "email", *, visible: Any = None) -> dict[str, int]:
        """Counts for :meth:`audience`: ``included``, ``do_not_contact``, ``unsubscribed``, ``no_address``.

        Each contact is counted once, under the first reason that applies in
        that order (do-not-contact, unsubscribed, no address), else included.
        """
        has_address = self._has_address(medium)
        with self.crm.activate():
            kind, query, row = self._audience_base(source, visible)
            dnc = query.where(Contact.do_not_contact == True).count()  # noqa: E712
            rest = query.where(Contact.do_not_contact == False)  # noqa: E712
            unsubscribed = 0
            if kind == "list":
                assert row is not None  # a list source comes with its row
                unsub_ids = ListMember.select(ListMember.contact).where(
                    (ListMember.mailing_list == row.id) & ListMember.unsubscribed_at.is_null(False)
                )
                unsubscribed = rest.where(Contact.id.in_(unsub_ids)).count()
                rest = rest.where(Contact.id.not_in(unsub_ids))
            total = rest.count()
            included = rest.where(has_address).count()
        return {
            "included": included,
            "do_not_contact": dnc,
            "unsubscribed": unsubscribed,
            "no_address": total - included,
        }


def _survivor(contact: Contact) -> Contact:
    """The live contact ``contact`` was merged into (through chains of merges), or ``contact`` itself."""
    seen = {contact.id}
    while contact.deleted_at is not None and contact.merged_into is not None and contact.merged_into not in seen:
        into = Contact.get_or_none(Contact.id == contact.merged_into)
        if into is None:
            break
        seen.add(into.id)
        contact = into
    return contact


_MEMBER_COLUMNS = ("id", "contact_id", "email", "e-mail", "e-mail address", "email address", "phone", "mobile")


def _member_values(lines: Iterable[str]) -> list[tuple[int, str]]:
    """``(line number, value)`` for each member named by a members file (see import_list_members)."""
    import csv

    text = [line.rstrip("\r\n") for line in lines]
    first = next((i for i, line in enumerate(text) if line.strip() and not line.lstrip().startswith("#")), None)
    if first is None:
        return []
    header = text[first]
    if any(d in header for d in ",;\t"):
        delimiter = max(",;\t", key=header.count)
        rows = list(csv.reader(text[first:], delimiter=delimiter))
        names = [c.strip().lower() for c in rows[0]]
        column = next((names.index(c) for c in _MEMBER_COLUMNS if c in names), None)
        if column is None:
            raise ValidationError(
                f"members file: line {first + 1} is a CSV header with no id, email or phone column ({', '.join(rows[0])}); "
                "name one of those, or give one id, e-mail or phone per line"
            )
        return [
            (first + 2 + i, row[column].strip())
            for i, row in enumerate(rows[1:])
            if len(row) > column and row[column].strip()
        ]
    return [(i + 1, line.strip()) for i, line in enumerate(text) if line.strip() and not line.lstrip().startswith("#")]
