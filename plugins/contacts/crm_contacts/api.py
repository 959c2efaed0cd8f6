"""``crm.plugin("contacts")``: the contacts plugin's Python API.

:class:`ContactsAPI` implements the contract's protocols for the contacts
plugin (:data:`crm_hookspecs.apis.PROTOCOLS`: ``ContactsAPI``,
``ContactsEditing``, ``MailingListsAPI``, ``ContactsSelfService``) and more
for its own CLI and for embedders. It is a facade: each method checks the
permission it needs (see :mod:`crm_contacts.permissions` and the
"Permissions" section of ``docs/plugins/contacts.md``) and delegates to one
of the services, which check nothing:

- :class:`~crm_contacts.book.AddressBook`: contacts, cards, searches, changes;
- :class:`~crm_contacts.lists.MailingLists`: lists, segments, audiences;
- :class:`~crm_contacts.mailings.Mailings`: distribution lists and labels;
- :class:`~crm_contacts.transfer.Transfer`: CSV and vCard imports and exports;
- :class:`~crm_contacts.duplicates.Duplicates` and :class:`~crm_contacts.merging.Merging`;
- :class:`~crm_contacts.selfservice.SelfService`: update links and their review;
- :class:`~crm_contacts.personal.PersonalData`: a contact's data everywhere, and its erasure.

Listings, searches, counts and exports carry the reader's scope into SQL
(``visible``), so pages and totals hold only what the user may see.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

from crm_contacts.book import AddressBook
from crm_contacts.duplicates import DuplicatePair, Duplicates, DuplicateScan
from crm_contacts.importing import DEFAULT_MATCH_KEYS, ImportReport
from crm_contacts.imports import HeldFile, ImportRecord, Imports
from crm_contacts.lists import ListInfo, ListMemberInfo, MailingLists, MemberImport, SegmentInfo
from crm_contacts.mailings import MailingCounts, Mailings
from crm_contacts.merging import Merging
from crm_contacts.models import Contact
from crm_contacts.owners import Owners
from crm_contacts.personal import PersonalData
from crm_contacts.records import ContactRecord, SearchPage
from crm_contacts.selfservice import PendingChange, SelfService
from crm_contacts.transfer import Transfer
from crm_hookspecs.records import ContactCard, UpdateForm, UpdateLink, UpdatePreview, UpdateResult

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ContactsAPI"]

READ = "contacts.read"


class ContactsAPI:
    """Everything the contacts plugin offers to Python callers and other plugins, permission-checked."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm
        self._book = AddressBook(crm)
        self._lists = MailingLists(crm, self._book)
        self._mailings = Mailings(crm, self._lists)
        self._transfer = Transfer(crm, self._book)
        self._duplicates = Duplicates(crm)
        self._merging = Merging(crm, self._book)
        self._self_service = SelfService(crm, self._book)
        self._personal = PersonalData(crm)
        self._imports = Imports(crm)

    def __repr__(self) -> str:
        return f"<ContactsAPI of {self.crm!r}>"

    # -- checks ----------------------------------------------------------------

    def _acting(self) -> bool:
        return self.crm.current_user is not None

    def _actor(self, actor: str | None) -> str | None:
        """Who an event names: ``actor`` when given (compatibility), else the acting user (``None``: the system)."""
        return actor if actor is not None else Owners(self.crm).default()

    def _require(self, permission: str, contact_id: int | None = None) -> None:
        """``permission``, and with ``contact_id`` the contact in the user's scope for it.

        An unknown contact is left to the service (its ``NotFoundError``); the
        system is trusted without a query.
        """
        if not self._acting():
            return
        if contact_id is None:
            self.crm.authz.require(permission)
            return
        self.crm.authz.require(permission)
        if self.crm.authz.scope(permission) == "all":
            return  # any contact is in scope: no need to read its owner
        owners = self._book.owners_of([contact_id])
        if owners:
            self.crm.authz.require(permission, record_owner=next(iter(owners.values())))

    def _require_each(self, permission: str, contact_ids: Iterable[int]) -> None:
        """``permission`` on every known contact of ``contact_ids`` (one query for their owners)."""
        if not self._acting():
            return
        self.crm.authz.require(permission)
        if self.crm.authz.scope(permission) == "all":
            return
        for owner in self._book.owners_of(contact_ids).values():
            self.crm.authz.require(permission, record_owner=owner)

    def _visible(self, permission: str = READ) -> Any:
        """The user's scope for ``permission`` as a peewee expression on ``Contact`` (``None``: every contact).

        Raises ``PermissionDenied`` when the user lacks the permission.
        """
        if not self._acting():
            return None
        if self.crm.authz.scope(permission) == "all":
            return None
        return self.crm.authz.where(permission, Contact.owner, owner_is="name")

    # -- reading contacts (ContactsAPI) ------------------------------------------

    def reporting_tables(self) -> dict[str, str]:
        """The reporting table by role (the contract's ``ContactsAPI``): ``contacts``, columns in docs/plugins/contacts.md.

        Needs no permission: it gives a table's name, not its rows (as the
        warehouse's does), so that a report can name the source a user may
        not read. A report reading the table with plain SQL applies the
        reader's ``contacts.read`` scope itself.
        """
        return {"contacts": Contact._meta.table_name}

    def get(self, contact_id: int) -> ContactRecord:
        """The contact with everything kept about it (deleted ones too: see ``deleted_at``)."""
        self._require(READ, contact_id)
        return self._book.get(contact_id)

    def records(self, contact_ids: Sequence[int]) -> dict[int, ContactRecord]:
        """Full records for many contacts by id (one query per table and 900 ids); those out of scope are left out."""
        visible = self._visible()
        ids = list(contact_ids)
        if visible is not None:
            ids = self._book.visible_ids(ids, visible)
        return self._book.records(ids)

    def card(self, contact_id: int) -> ContactCard:
        """The contract's card for one contact; ``NotFoundError`` if there is none, ``PermissionDenied`` out of scope."""
        self._require(READ, contact_id)
        return self._book.card(contact_id)

    def cards(self, contact_ids: Sequence[int]) -> list[ContactCard]:
        """Many cards at once, in the order asked; unknown and out-of-scope ids are left out."""
        return self._book.cards(contact_ids, visible=self._visible())

    def email_addresses(self, contact_id: int) -> list[str]:
        """Every e-mail address of a contact, primary first (the contract's ``ContactsAPI``); ``[]`` for an unknown one."""
        self._require(READ, contact_id)
        return self._book.email_addresses(contact_id)

    def search(
        self,
        query: str | None = None,
        *,
        limit: int = 50,
        offset: int = 0,
        include_deleted: bool = False,
        after: Sequence[Any] | None = None,
        sort: str = "name",
        count: bool | int = True,
        **filters: Any,
    ) -> SearchPage:
        """Contacts in the user's scope matching every filter (see :data:`crm_contacts.filters.FILTERS`), a page at a time.

        ``sort`` orders them: ``name`` (the default), ``status``, ``owner``,
        ``region``, ``country``, ``created`` or ``updated``; ``-`` before it
        for descending (``-updated``: the latest changed first). In the order
        by name, pass a page's ``after`` to read the next one by position
        (keyset paging) rather than by ``offset``. ``count``: ``True``
        counts every match for ``total``, ``False`` none, a number up to that
        many (``total_exact`` says whether ``total`` is a lower bound).
        """
        visible = self._visible()
        return self._book.search(
            query,
            limit=limit,
            offset=offset,
            include_deleted=include_deleted,
            visible=visible,
            after=after,
            sort=sort,
            count=count,
            **filters,
        )

    def iter_ids(
        self, filters: Mapping[str, Any] | None = None, include_deleted: bool = False, page: int = 1000
    ) -> Iterator[list[int]]:
        """Ids of the matching contacts in the user's scope, in id order, a page at a time (keyset paging)."""
        return self._book.iter_ids(filters, include_deleted, page, visible=self._visible())

    # -- changing contacts (ContactsEditing) ---------------------------------------

    def create(
        self,
        *,
        actor: str | None = None,
        channel: str = "staff",
        email: str | None = None,
        phone: str | None = None,
        **fields: Any,
    ) -> ContactRecord:
        """Add a contact and emit ``ContactCreated`` (see :meth:`AddressBook.create`); needs ``contacts.create``.

        Without an ``owner`` the contact is owned by the acting user.
        """
        self._require("contacts.create")
        return self._book.create(actor=self._actor(actor), channel=channel, email=email, phone=phone, **fields)

    def update(
        self, contact_id: int, *, actor: str | None = None, channel: str = "staff", **fields: Any
    ) -> ContactRecord:
        """Change fields of a contact and emit ``ContactChanged``; needs ``contacts.edit`` on it."""
        self._require("contacts.edit", contact_id)
        return self._book.update(contact_id, actor=self._actor(actor), channel=channel, **fields)

    def delete(self, contact_id: int, *, actor: str | None = None, channel: str = "staff") -> None:
        """Soft-delete a contact (``restore`` brings it back); needs ``contacts.delete`` on it."""
        self._require("contacts.delete", contact_id)
        self._book.delete(contact_id, actor=self._actor(actor), channel=channel)

    def restore(self, contact_id: int, *, actor: str | None = None, channel: str = "staff") -> ContactRecord:
        """Undo a soft delete; needs ``contacts.delete`` on the contact."""
        self._require("contacts.delete", contact_id)
        return self._book.restore(contact_id, actor=self._actor(actor), channel=channel)

    def tag(
        self,
        contact_ids: Iterable[int],
        add: Iterable[str] = (),
        remove: Iterable[str] = (),
        *,
        actor: str | None = None,
        channel: str = "staff",
    ) -> int:
        """Add and remove tags on several contacts; needs ``contacts.edit`` on each (else nothing is tagged)."""
        ids = list(contact_ids)
        self._require_each("contacts.edit", ids)
        return self._book.tag(ids, add, remove, actor=self._actor(actor), channel=channel)

    # -- mailing lists (MailingListsAPI) and segments ------------------------------

    def create_list(self, name: str, description: str = "") -> ListInfo:
        """Create an empty static mailing list; needs ``contacts.lists.edit``."""
        self._require("contacts.lists.edit")
        return self._lists.create_list(name, description)

    def delete_list(self, name: str) -> int:
        """Delete a list and its memberships (not the contacts); needs ``contacts.lists.edit``."""
        self._require("contacts.lists.edit")
        return self._lists.delete_list(name)

    def lists(self) -> list[ListInfo]:
        """Every mailing list, its counts limited to the contacts the user may read; needs ``contacts.lists.read``."""
        self._require("contacts.lists.read")
        return self._lists.lists(visible=self._visible())

    def lists_of(self, contact_id: int) -> list[tuple[str, bool]]:
        """The static lists ``contact_id`` belongs to: ``(name, unsubscribed)`` by name; needs ``contacts.read`` on it."""
        self._require(READ, contact_id)
        return self._lists.lists_of(contact_id)

    def add_to_list(self, name: str, contact_ids: Iterable[int]) -> int:
        """Add contacts to a list; needs ``contacts.lists.edit`` and each contact in the user's ``contacts.read`` scope."""
        self._require("contacts.lists.edit")
        ids = list(contact_ids)
        self._require_each(READ, ids)
        return self._lists.add_to_list(name, ids)

    def list_members(self, name: str, *, limit: int | None = None, offset: int = 0) -> list[ListMemberInfo]:
        """The members of a list the user may read (``contacts.lists.read`` and ``contacts.read``)."""
        self._require("contacts.lists.read")
        return self._lists.list_members(name, limit=limit, offset=offset, visible=self._visible())

    def import_list_members(self, name: str, lines: Iterable[str], *, all_or_nothing: bool = False) -> MemberImport:
        """Add the contacts named by ``lines`` to a list; a contact out of the user's scope counts as missing."""
        self._require("contacts.lists.edit")
        return self._lists.import_list_members(name, lines, all_or_nothing=all_or_nothing, visible=self._visible())

    def remove_from_list(self, name: str, contact_ids: Iterable[int]) -> int:
        """Take contacts off a list (no unsubscribe recorded); needs ``contacts.lists.edit`` and each contact in the
        user's ``contacts.read`` scope (else none is taken off)."""
        self._require("contacts.lists.edit")
        ids = list(contact_ids)
        self._require_each(READ, ids)
        return self._lists.remove_from_list(name, ids)

    def unsubscribe(
        self, contact_id: int, list_name: str | None = None, *, actor: str | None = None, channel: str = "staff"
    ) -> bool:
        """Unsubscribe from one list (``contacts.lists.edit``, the contact readable) or flag do-not-contact (``contacts.edit``)."""
        if list_name is None:
            self._require("contacts.edit", contact_id)
        else:
            self._require("contacts.lists.edit")
            self._require(READ, contact_id)
        return self._lists.unsubscribe(contact_id, list_name, actor=self._actor(actor), channel=channel)

    def resubscribe(self, contact_id: int, list_name: str) -> bool:
        """Undo a per-list unsubscribe; needs ``contacts.lists.edit`` and the contact readable."""
        self._require("contacts.lists.edit")
        self._require(READ, contact_id)
        return self._lists.resubscribe(contact_id, list_name)

    def create_segment(self, name: str, filters: Mapping[str, Any], description: str = "") -> SegmentInfo:
        """Save a search as a segment; needs ``contacts.lists.edit``."""
        self._require("contacts.lists.edit")
        return self._lists.create_segment(name, filters, description)

    def segment(self, name: str) -> SegmentInfo:
        """One segment by name; needs ``contacts.lists.read``."""
        self._require("contacts.lists.read")
        return self._lists.segment(name)

    def segments(self) -> list[SegmentInfo]:
        """Every segment; needs ``contacts.lists.read``."""
        self._require("contacts.lists.read")
        return self._lists.segments()

    def delete_segment(self, name: str) -> None:
        """Delete a segment; needs ``contacts.lists.edit``."""
        self._require("contacts.lists.edit")
        self._lists.delete_segment(name)

    def audience(self, source: str, medium: str = "email") -> Iterator[ContactCard]:
        """The contacts a mailing to ``source`` reaches, of those the user may read; needs ``contacts.lists.read``."""
        self._require("contacts.lists.read")
        return self._lists.audience(source, medium, visible=self._visible())

    def audience_report(self, source: str, medium: str = "email") -> dict[str, int]:
        """Counts for :meth:`audience`, of the contacts the user may read; needs ``contacts.lists.read``."""
        self._require("contacts.lists.read")
        return self._lists.audience_report(source, medium, visible=self._visible())

    # -- distribution lists and labels ---------------------------------------------

    def distribution_list(self, source: str, out: IO[str], fmt: str = "csv") -> MailingCounts:
        """Write the e-mail audience of a list or segment; needs ``contacts.lists.send``, rows in the ``contacts.export`` scope."""
        self._require("contacts.lists.send")
        return self._mailings.distribution_list(source, out, fmt, visible=self._visible("contacts.export"))

    def labels_csv(self, source: str, out: IO[str]) -> MailingCounts:
        """Write the postal audience as CSV for a mail merge; needs ``contacts.lists.send``, rows in the ``contacts.export`` scope."""
        self._require("contacts.lists.send")
        return self._mailings.labels_csv(source, out, visible=self._visible("contacts.export"))

    def labels_pdf(self, source: str, out: str | os.PathLike[str] | IO[bytes]) -> MailingCounts:
        """Write the postal audience as a PDF of label sheets; needs ``contacts.lists.send``, rows in the ``contacts.export`` scope."""
        self._require("contacts.lists.send")
        return self._mailings.labels_pdf(source, out, visible=self._visible("contacts.export"))

    # -- imports and exports ---------------------------------------------------------

    def import_csv(
        self,
        source: str | os.PathLike[str] | IO[str],
        *,
        mapping: str | os.PathLike[str] | Mapping[str, str] | None = None,
        encoding: str | None = None,
        delimiter: str | None = None,
        dry_run: bool = False,
        all_or_nothing: bool = False,
        match_on: Sequence[str] = DEFAULT_MATCH_KEYS,
        on_conflict: str = "skip",
        list_name: str | None = None,
        actor: str | None = None,
        channel: str = "import",
        jobs: int = 1,
        start_line: int = 1,
        errors_to: str | os.PathLike[str] | IO[str] | None = None,
        progress: Callable[[int, int | None], None] | None = None,
        source_name: str | None = None,
        ignore_columns: Sequence[str] = (),
        on_batch: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import contacts from a CSV file (see :meth:`Transfer.import_csv`); needs ``contacts.import``.

        New contacts without an owner are owned by the acting user.
        """
        self._require("contacts.import")
        return self._transfer.import_csv(
            source,
            mapping=mapping,
            encoding=encoding,
            delimiter=delimiter,
            dry_run=dry_run,
            all_or_nothing=all_or_nothing,
            match_on=match_on,
            on_conflict=on_conflict,
            list_name=list_name,
            actor=self._actor(actor),
            channel=channel,
            jobs=jobs,
            start_line=start_line,
            errors_to=errors_to,
            progress=progress,
            source_name=source_name,
            ignore_columns=ignore_columns,
            default_owner=Owners(self.crm).default(),
            on_batch=on_batch,
        )

    def import_vcard(
        self,
        path: str | os.PathLike[str],
        *,
        encoding: str = "utf-8",
        dry_run: bool = False,
        all_or_nothing: bool = False,
        match_on: Sequence[str] = DEFAULT_MATCH_KEYS,
        on_conflict: str = "skip",
        list_name: str | None = None,
        actor: str | None = None,
        channel: str = "import",
        start_line: int = 1,
        errors_to: str | os.PathLike[str] | IO[str] | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import a vCard file (see :meth:`Transfer.import_vcard`); needs ``contacts.import``."""
        self._require("contacts.import")
        return self._transfer.import_vcard(
            path,
            encoding=encoding,
            dry_run=dry_run,
            all_or_nothing=all_or_nothing,
            match_on=match_on,
            on_conflict=on_conflict,
            list_name=list_name,
            actor=self._actor(actor),
            channel=channel,
            start_line=start_line,
            errors_to=errors_to,
            default_owner=Owners(self.crm).default(),
            on_batch=on_batch,
        )

    # -- imports queued for the worker (POST /imports) ----------------------------------

    def _own(self) -> str | None:
        user = self.crm.current_user
        return user.name if user is not None else None

    def submit_import(
        self, data: bytes, *, name: str, fmt: str, options: Mapping[str, Any] | None = None
    ) -> ImportRecord:
        """Queue a CSV or vCard file for the worker to import as the acting user; needs ``contacts.import``.

        ``options`` are :meth:`import_csv`'s (``dry_run``, ``mapping``,
        ``match_on``, ``on_conflict``, ``list_name``…), checked now; the
        file's format, encoding and rows are checked now too.
        """
        self._require("contacts.import")
        acting = self.crm.authz.acting
        scopes = sorted(acting.grants) if acting is not None and acting.token_id is not None else None
        return self._imports.submit(data, name=name, fmt=fmt, options=options or {}, user=self._own(), scopes=scopes)

    def import_run(self, import_id: int) -> ImportRecord:
        """One of the acting user's queued imports, with its progress and report (another's is not found)."""
        return self._imports.get(import_id, self._own())

    def import_runs(self, *, limit: int = 50, offset: int = 0) -> list[ImportRecord]:
        """The acting user's queued imports, newest first (the system sees everyone's)."""
        return self._imports.list(self._own(), limit=limit, offset=offset)

    def import_problems(self, import_id: int) -> tuple[str, bytes]:
        """A finished import's problem rows as CSV (its file name and content), to fix and import again."""
        return self._imports.problems(import_id, self._own())

    # -- files held for the desk's import wizard ----------------------------------------

    def hold_import(self, data: bytes, *, name: str, fmt: str, options: Mapping[str, Any] | None = None) -> HeldFile:
        """Keep an uploaded file (checked as :meth:`submit_import` checks it) for the acting user to map, try
        (a dry run) and import; needs ``contacts.import``. Held files are the user's own; one not imported
        within a day is deleted by the worker."""
        self._require("contacts.import")
        return self._imports.hold(data, name=name, fmt=fmt, options=options or {}, user=self._own())

    def held_import(self, held_id: int) -> HeldFile:
        """One of the acting user's held files (another's is not found); needs ``contacts.import``."""
        self._require("contacts.import")
        return self._imports.held(held_id, self._own())

    def change_held_import(self, held_id: int, options: Mapping[str, Any]) -> HeldFile:
        """Replace a held file's import options (:meth:`submit_import`'s); needs ``contacts.import``."""
        self._require("contacts.import")
        return self._imports.change_held(held_id, self._own(), options)

    def submit_held_import(self, held_id: int, *, dry_run: bool) -> ImportRecord:
        """Queue a held file with its options, as :meth:`submit_import` does: a dry run keeps the file held
        (to import it next), an import lets it go."""
        held = self.held_import(held_id)
        record = self.submit_import(
            held.data, name=held.file_name, fmt=held.format, options={**held.options, "dry_run": dry_run}
        )
        if not dry_run:
            self._imports.release(held.id, self._own())
        return record

    def release_held_import(self, held_id: int) -> None:
        """Delete a held file (the wizard's "Start again"); needs ``contacts.import``."""
        self._require("contacts.import")
        self._imports.release(held_id, self._own())

    def run_imports(self) -> int:
        """Run the queued imports, each as the user who posted it (the worker's job); return how many ran.

        A running import whose worker stopped is marked failed with the reason.
        """
        self._require("contacts.import")
        self._imports.abandon_expired()
        self._imports.expire_held()
        count = 0
        while (claimed := self._imports.claim()) is not None:
            self._run_import(*claimed)
            count += 1
        return count

    def _run_import(self, job: Any, token: str) -> None:
        import io
        import json
        import logging
        import tempfile

        from crm_contacts.importreport import ImportStopped
        from crm_core.errors import CRMError

        options = json.loads(job.options)
        scopes = json.loads(job.scopes) if job.scopes else None
        problems = io.StringIO()
        common: dict[str, Any] = {
            k: v for k, v in options.items() if k not in ("mapping", "delimiter", "ignore_columns")
        }
        if "match_on" in common:
            common["match_on"] = tuple(common["match_on"])
        data = bytes(job.data)
        progress = lambda rows: self._imports.progress(job.id, token, rows)  # noqa: E731
        import contextlib

        as_poster = self.crm.as_user(job.created_by, scopes=scopes) if job.created_by else contextlib.nullcontext()
        try:
            with as_poster:
                if job.format == "vcard":
                    with tempfile.TemporaryDirectory() as folder:
                        path = os.path.join(folder, job.file_name.replace("/", "_") or "import.vcf")
                        with open(path, "wb") as out:
                            out.write(data)
                        report = self.import_vcard(path, channel="api", errors_to=problems, on_batch=progress, **common)
                else:
                    encoding = common.pop("encoding", "utf-8-sig")
                    report = self.import_csv(
                        io.StringIO(data.decode(encoding)),
                        mapping=options.get("mapping"),
                        delimiter=options.get("delimiter"),
                        ignore_columns=options.get("ignore_columns", ()),
                        source_name=job.file_name,
                        channel="api",
                        errors_to=problems,
                        on_batch=progress,
                        **common,
                    )
        except ImportStopped as exc:
            self._imports.finish(job.id, token, exc.report, problems.getvalue(), str(exc))
        except CRMError as exc:
            self._imports.fail(job.id, token, str(exc))
        except Exception as exc:  # a bug must not leave the import running forever
            logging.getLogger("crm.contacts").error("import %s failed", job.id, exc_info=exc)
            self._imports.fail(job.id, token, f"unexpected {type(exc).__name__}: {exc}; the error is in the log")
        else:
            self._imports.finish(job.id, token, report, problems.getvalue(), None)

    def export_csv(
        self, out: IO[str], filters: Mapping[str, Any] | None = None, *, include_deleted: bool = False
    ) -> int:
        """Write the matching contacts in the user's ``contacts.export`` scope as CSV; returns how many."""
        visible = self._visible("contacts.export")
        return self._transfer.export_csv(out, filters, include_deleted=include_deleted, visible=visible)

    def export_vcard(
        self,
        out: IO[str],
        filters: Mapping[str, Any] | None = None,
        *,
        version: str = "4.0",
        include_deleted: bool = False,
    ) -> int:
        """Write the matching contacts in the user's ``contacts.export`` scope as vCards; returns how many."""
        visible = self._visible("contacts.export")
        return self._transfer.export_vcard(
            out, filters, version=version, include_deleted=include_deleted, visible=visible
        )

    # -- duplicates and merges ---------------------------------------------------------

    def find_duplicates(self, limit: int | None = 100, *, offset: int = 0) -> list[DuplicatePair]:
        """Likely duplicate pairs among the live contacts the user may read; needs ``contacts.merge``."""
        self._require("contacts.merge")
        return self._duplicates.find_duplicates(limit, offset=offset, visible=self._visible())

    def scan_duplicates(
        self, limit: int | None = 100, *, offset: int = 0, progress: Callable[[str, int], None] | None = None
    ) -> DuplicateScan:
        """:meth:`find_duplicates` with the total and the scan's counts; needs ``contacts.merge``."""
        self._require("contacts.merge")
        return self._duplicates.scan_duplicates(limit, offset=offset, progress=progress, visible=self._visible())

    def merge(
        self,
        survivor_id: int,
        merged_id: int,
        rules: Mapping[str, str] | None = None,
        *,
        actor: str | None = None,
        channel: str = "staff",
    ) -> int:
        """Fold ``merged_id`` into ``survivor_id`` (see :meth:`Merging.merge`); needs ``contacts.merge`` on both."""
        self._require_each("contacts.merge", [survivor_id, merged_id])
        return self._merging.merge(survivor_id, merged_id, rules, actor=self._actor(actor), channel=channel)

    def merges(self, contact_id: int | None = None) -> list[dict[str, Any]]:
        """Merges made (newest first) whose survivor the user may read."""
        return self._merging.merges(contact_id, visible=self._visible())

    def unmerge(self, merged_id: int, *, actor: str | None = None, channel: str = "staff") -> int:
        """Undo the latest merge of contact ``merged_id``; needs ``contacts.merge`` on both contacts."""
        if self._acting():
            _, survivor_id = self._merging.latest_merge(merged_id)
            self._require_each("contacts.merge", [survivor_id, merged_id])
        return self._merging.unmerge(merged_id, actor=self._actor(actor), channel=channel)

    # -- self-service (ContactsSelfService) ------------------------------------------

    def issue_update_link(
        self,
        contact_id: int,
        fields: Sequence[str] | None = None,
        ttl_hours: float | None = None,
        *,
        actor: str | None = None,
    ) -> UpdateLink:
        """A new self-service link for the contact; needs ``contacts.updates.create`` on it."""
        self._require("contacts.updates.create", contact_id)
        return self._self_service.issue_update_link(contact_id, fields, ttl_hours, actor=self._actor(actor))

    def revoke_update_links(self, contact_id: int) -> int:
        """Withdraw every unused link of a contact; needs ``contacts.updates.create`` on it."""
        self._require("contacts.updates.create", contact_id)
        return self._self_service.revoke_update_links(contact_id)

    def inspect_update_token(self, token: str) -> UpdateForm:
        """Check a link's token without using it up. The signed token is the customer's permission: no user is checked."""
        return self._self_service.inspect_update_token(token)

    def preview_update(self, token: str, changes: Mapping[str, Any]) -> UpdatePreview:
        """What ``changes`` would do; the token is the permission (see :meth:`inspect_update_token`)."""
        return self._self_service.preview_update(token, changes)

    def submit_update(self, token: str, changes: Mapping[str, Any]) -> UpdateResult:
        """Use the link once; the token is the permission (see :meth:`inspect_update_token`)."""
        return self._self_service.submit_update(token, changes)

    def pending_updates(self, status: str = "pending", contact_id: int | None = None) -> list[PendingChange]:
        """Queued self-service changes of the contacts the user may read; needs ``contacts.updates.review``."""
        self._require("contacts.updates.review")
        return self._self_service.pending_updates(status, contact_id, visible=self._visible())

    def pending_update(self, pending_id: int) -> PendingChange:
        """One queued change; needs ``contacts.updates.review`` and its contact readable."""
        self._require("contacts.updates.review")
        change = self._self_service.pending_update(pending_id)
        self._require(READ, change.contact_id)
        return change

    def approve_update(self, pending_id: int, *, actor: str | None = None, note: str = "") -> PendingChange:
        """Apply a queued change; needs ``contacts.updates.review`` and ``contacts.edit`` on its contact."""
        self._require("contacts.updates.review")
        if self._acting():
            self._require("contacts.edit", self._self_service.pending_update(pending_id).contact_id)
        return self._self_service.approve_update(pending_id, actor=self._actor(actor), note=note)

    def reject_update(self, pending_id: int, *, actor: str | None = None, note: str = "") -> PendingChange:
        """Refuse a queued change; needs ``contacts.updates.review`` and its contact readable."""
        self._require("contacts.updates.review")
        if self._acting():
            self._require(READ, self._self_service.pending_update(pending_id).contact_id)
        return self._self_service.reject_update(pending_id, actor=self._actor(actor), note=note)

    # -- personal data -----------------------------------------------------------------

    def export_personal_data(self, contact_id: int) -> dict[str, Any]:
        """Everything every enabled plugin holds about the contact; needs ``contacts.export`` on it."""
        self._require("contacts.export", contact_id)
        return self._personal.export_personal_data(contact_id)

    def erase(self, contact_id: int, *, actor: str | None = None, channel: str = "staff") -> dict[str, int]:
        """Anonymise the contact everywhere (see :meth:`PersonalData.erase`); needs ``contacts.erase`` on it."""
        self._require("contacts.erase", contact_id)
        return self._personal.erase(contact_id, actor=self._actor(actor), channel=channel)
