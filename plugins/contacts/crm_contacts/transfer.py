"""Imports and exports: CSV in (any layout), CSV out (spreadsheet-safe)."""

from __future__ import annotations

import contextlib
import csv
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import peewee

from crm_contacts import filters as search_filters
from crm_contacts import planner
from crm_contacts.csvread import check_encoding, check_text_file, open_csv
from crm_contacts.identity import database_id, format_id
from crm_contacts.importing import DEFAULT_MATCH_KEYS, Importer, ImportReport
from crm_contacts.importreport import PROBLEM_COLUMNS, ProblemFile
from crm_contacts.mapping import Target, detect, load_mapping_file
from crm_contacts.models import (
    Contact,
    ContactAddress,
    ContactCustomField,
    ContactEmail,
    ContactPhone,
    live_in_id_order,
)
from crm_core.errors import ValidationError

if TYPE_CHECKING:
    from crm_contacts.book import AddressBook
    from crm_core.app import CRM

__all__ = ["EXPORT_COLUMNS", "Transfer", "export_header"]

#: the leading columns of a CSV export, one value each; then come
#: ``email_N``/``email_N.type``, ``phone_N``/``phone_N.type``, the
#: ``address_N.*`` parts (N up to the most any contact has) and one
#: ``custom.NAME`` per custom field (see :func:`export_header`). An import
#: reads every one of them back.
EXPORT_COLUMNS = (
    "id",
    "external_id",
    "kind",
    "display_name",
    "name_prefix",
    "first_name",
    "middle_name",
    "last_name",
    "name_suffix",
    "nickname",
    "organization",
    "title",
    "department",
    "birthday",
    "website",
    "status",
    "status_changed_at",
    "owner",
    "region",
    "country",
    "language",
    "do_not_contact",
    "tags",
    "notes",
    "created_at",
)
_ADDRESS_COLUMNS = ("type", "street", "extra", "city", "postal_code", "region", "country")
EXPORT_PAGE = 5000


#: contacts created or updated by one import from which PostgreSQL's statistics are gathered at its end
ANALYZE_AFTER = 10_000


class Transfer:
    """The imports and exports service (CSV and vCard), built on the address book.

    It checks no permission: :class:`crm_contacts.api.ContactsAPI` does, and
    passes the exporter's scope as ``visible``. The contacts an import adds
    without an owner are owned by the user who imports (``default_owner``).
    """

    def __init__(self, crm: CRM, book: AddressBook) -> None:
        self.crm = crm
        self._book = book

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
        default_owner: str | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import contacts from a CSV file (a path or a text stream); see :mod:`crm_contacts.importing`.

        ``mapping`` is a mapping file (TOML or JSON) or a dict of
        ``{"CSV header": "target"}``; without it the layout is detected
        (this plugin's export, Google Contacts, Outlook). Rows are matched
        as :mod:`crm_contacts.matching` says; a row that conflicts with the
        contact it matches is reported and skipped unless ``on_conflict`` is
        ``"update"``. Every bad row is reported in ``report.errors`` with
        line, field and reason, and the rest is imported; with
        ``all_or_nothing`` any bad row means nothing is written.
        ``dry_run`` writes nothing and reports what would happen.
        ``errors_to`` (a path or text stream) receives every bad, warned or
        conflicting row as CSV, with its original cells. ``start_line``
        skips the rows before that line (to finish a stopped import).
        ``progress(bytes_read, file_size)`` is called after each batch, and
        ``on_batch(rows)`` with the batch's rows (after its commit). A
        column that maps to nothing is kept as a custom field named after its
        header, unless ``ignore_columns`` names it. Raises :class:`~crm_contacts.importreport.ImportStopped` when the
        import stops before the end of the file.
        """
        columns: Mapping[str, str] | None = None
        if mapping is not None:
            if isinstance(mapping, Mapping):
                columns = dict(mapping)
            else:
                data = load_mapping_file(mapping)
                columns = data["columns"]
                encoding = encoding or data.get("encoding")
                delimiter = delimiter or data.get("delimiter")
        csv_source = open_csv(source, encoding=encoding or "utf-8", delimiter=delimiter, name=source_name)
        try:
            header = csv_source.header
            # the line, field and problem columns of a problem file being imported again
            kept = [i for i, h in enumerate(header) if h not in PROBLEM_COLUMNS]
            resolved = detect([header[i] for i in kept], columns, ignore_columns)
            targets: list[Target | None] = [None] * len(header)
            for i, target in zip(kept, resolved.targets):
                targets[i] = target
            with _problem_file(errors_to, [header[i] for i in kept]) as problems:
                importer = Importer(
                    self.crm,
                    actor=actor,
                    channel=channel,
                    dry_run=dry_run,
                    all_or_nothing=all_or_nothing,
                    match_on=match_on,
                    on_conflict=on_conflict,
                    list_name=list_name,
                    jobs=jobs,
                    start_line=start_line,
                    problems=problems,
                    progress=_batch_progress(progress, on_batch, csv_source),
                    default_owner=default_owner,
                )
                report = importer.report
                report.source = csv_source.name
                report.layout = resolved.layout
                report.ignored_columns = resolved.ignored
                report.problem_file = _problem_name(errors_to)
                importer.run(
                    csv_source.rows(),
                    targets,
                    len(header),
                    cells=lambda c: [c[i] for i in kept] if len(c) == len(header) else c,
                )
        finally:
            csv_source.close()
        if (
            not report.rows and start_line <= 1 and csv_source.count is None
        ):  # a file with no rows was refused before reading
            raise ValidationError(f"{csv_source.name}: no row after the header has anything to import")
        self._refresh_statistics(report)
        return report

    def _refresh_statistics(self, report: ImportReport) -> None:
        """After a large import on PostgreSQL, the planner's statistics of the contacts tables, gathered now.

        Autovacuum gathers them eventually; until it does, PostgreSQL guesses
        the word and e-mail lookups of a search wrong and reads an index once
        per contact (seconds on a large book). SQLite and MariaDB keep what
        they need themselves. (During the import, :mod:`crm_contacts.planner`
        gathers them as the book grows.)
        """
        if report.dry_run or report.created + report.updated < ANALYZE_AFTER:
            return
        with self.crm.activate():
            planner.analyze(self.crm.database)

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
        default_owner: str | None = None,
        on_batch: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """Import a vCard 2.1/3.0/4.0 file (one or many cards); matching and reporting as for CSV.

        A card that cannot be read is reported with the line of its problem
        and the other cards are imported (or nothing, with ``all_or_nothing``).
        The problem file (``errors_to``) has the columns of this plugin's CSV
        layout, so it can be fixed and imported as CSV.
        """
        from crm_contacts.vcard import read_file

        file = Path(path)
        if not file.is_file():
            raise ValidationError(f"{file}: no such file")
        check_text_file(file, encoding)
        check_encoding(file, encoding)
        cards = read_file(file, encoding)  # a first pass lays out the rows: slots and custom fields
        width = cards.width
        with _problem_file(errors_to, cards.columns) as problems:
            importer = Importer(
                self.crm,
                actor=actor,
                channel=channel,
                dry_run=dry_run,
                all_or_nothing=all_or_nothing,
                match_on=match_on,
                on_conflict=on_conflict,
                list_name=list_name,
                start_line=start_line,
                problems=problems,
                spreadsheet_cells=False,
                default_owner=default_owner,
                progress=on_batch,
            )
            report = importer.report
            report.source = file.name
            report.layout = "vcard"
            report.problem_file = _problem_name(errors_to)
            importer.run(cards.rows(), cards.targets, width, cells=lambda c: c if len(c) == width else [""] * width)
        if not report.rows and start_line <= 1:
            raise ValidationError(f"{file.name}: no BEGIN:VCARD … END:VCARD card found; is this a vCard file?")
        self._refresh_statistics(report)
        return report

    def export_vcard(
        self,
        out: IO[str],
        filters: Mapping[str, Any] | None = None,
        *,
        version: str = "4.0",
        include_deleted: bool = False,
        visible: Any = None,
    ) -> int:
        """Write the matching contacts as vCards (``version`` 3.0 or 4.0); returns how many.

        Organizations come first, so that importing the file finds each one
        before the people who name it. Each card's ``UID`` is the contact's id
        with this database's identity (``crm:<uuid>:<id>``).
        """
        from crm_contacts.vcard import write_card

        database_uuid = database_id(self.crm)
        if version not in ("3.0", "4.0"):
            raise ValidationError(f"vCard version {version!r} is not supported; use 3.0 or 4.0")
        book = self._book
        count = 0
        chosen = dict(filters or {})
        passes = [chosen] if chosen.get("kind") else [{**chosen, "kind": "organization"}, {**chosen, "kind": "person"}]
        for kind_filters in passes:
            for ids in book.iter_ids(kind_filters, include_deleted=include_deleted, visible=visible):
                records = book.records(ids)
                for cid in ids:
                    write_card(out, records[cid], version, database=database_uuid)
                    count += 1
        return count

    def export_csv(
        self,
        out: IO[str],
        filters: Mapping[str, Any] | None = None,
        *,
        include_deleted: bool = False,
        visible: Any = None,
    ) -> int:
        """Write the contacts matching ``filters`` (all by default) as CSV; returns how many.

        One row per contact with everything kept about it, in the layout of
        :func:`export_header` (documented under "Export layouts"), so that
        importing the file into an empty CRM gives the same address book.
        Organizations come first, so that an import finds each one before the
        people who name it. The ``id`` column is the contact's id with this
        database's identity (``crm:<uuid>:<id>``). Cells a spreadsheet would run as formulas are
        prefixed with ``'`` (an import strips it again). Streams a page at a
        time, with one query per table and page.
        """
        book = self._book
        checked = search_filters.check(dict(filters or {}), book.region)
        database = self.crm.database
        database_uuid = database_id(self.crm)
        count = 0
        with self.crm.activate():
            slots, custom_keys = _export_shape(database) if visible is None else _scoped_shape(visible)
            header = export_header(slots, custom_keys)
            writer = csv.writer(out)
            writer.writerow(header)
            org = Contact.alias("org")
            columns = [
                Contact.id,
                Contact.external_id,
                Contact.kind,
                Contact.display_name,
                Contact.name_prefix,
                Contact.first_name,
                Contact.middle_name,
                Contact.last_name,
                Contact.name_suffix,
                Contact.nickname,
                org.display_name,
                Contact.title,
                Contact.department,
                Contact.birthday,
                Contact.website,
                Contact.status,
                Contact.status_changed_at,
                Contact.owner,
                Contact.region,
                Contact.country,
                Contact.language,
                Contact.do_not_contact,
                Contact.notes,
                Contact.created_at,
            ]
            base = Contact.select(*columns).join_from(
                Contact, org, peewee.JOIN.LEFT_OUTER, on=(org.id == Contact.organization)
            )
            if not include_deleted:
                base = base.where(live_in_id_order(database))
            base = search_filters.apply(base, checked, book.region)
            if visible is not None:
                base = base.where(visible)
            shape = _RowShape(slots, custom_keys, database_uuid)
            for kind_filter in (Contact.kind == "organization", Contact.kind != "organization"):
                last = 0
                while True:
                    # the page's SQL is peewee's; its rows are read with the driver's
                    # fetchall, without peewee's per-value conversion (a third of the time)
                    sql, params = (
                        base.where(kind_filter & (Contact.id > last)).order_by(Contact.id).limit(EXPORT_PAGE).sql()
                    )
                    rows = database.execute_sql(sql, params).fetchall()
                    if not rows:
                        break
                    last = rows[-1][0]
                    children = _children(database, rows[0][0], last, None if visible is None else [r[0] for r in rows])
                    writer.writerows(shape.row(r, children) for r in rows)
                    count += len(rows)
        return count


def _batch_progress(
    progress: Callable[[int, int | None], None] | None, on_batch: Callable[[int], None] | None, source: Any
) -> Callable[[int], None] | None:
    """The importer's per-batch callback: bytes read for ``progress``, the batch's rows for ``on_batch``."""
    if progress is None and on_batch is None:
        return None

    def done(rows: int) -> None:
        if progress is not None:
            progress(source.progress(), source.size)
        if on_batch is not None:
            on_batch(rows)

    return done


@contextlib.contextmanager
def _problem_file(
    target: str | os.PathLike[str] | IO[str] | None, header: Sequence[str]
) -> Iterator[ProblemFile | None]:
    """A :class:`ProblemFile` writing to ``target`` (a path is opened, and closed after), or ``None``."""
    if target is None:
        yield None
    elif isinstance(target, (str, os.PathLike)):
        try:
            out = open(target, "w", encoding="utf-8", newline="")
        except OSError as exc:
            raise ValidationError(f"--errors {target}: cannot write it: {exc.strerror}") from None
        with out:
            yield ProblemFile(out, header)
    else:
        yield ProblemFile(target, header)


def _problem_name(target: str | os.PathLike[str] | IO[str] | None) -> str | None:
    if target is None:
        return None
    return os.fspath(target) if isinstance(target, (str, os.PathLike)) else getattr(target, "name", "the errors stream")


_FORMULA_START = frozenset("=+-@\t\r")


_CHILD_SQL = {
    "emails": "SELECT contact_id, address, kind FROM contacts_email WHERE contact_id BETWEEN {p} AND {p} "
    "ORDER BY contact_id, is_primary DESC, id",
    "phones": "SELECT contact_id, number, extension, kind FROM contacts_phone WHERE contact_id BETWEEN {p} AND {p} "
    "ORDER BY contact_id, is_primary DESC, id",
    "addresses": "SELECT contact_id, kind, street, extra, city, postal_code, region, country FROM contacts_address "
    "WHERE contact_id BETWEEN {p} AND {p} ORDER BY contact_id, is_primary DESC, id",
    "tags": "SELECT contact_id, tag FROM contacts_tag WHERE contact_id BETWEEN {p} AND {p} ORDER BY contact_id, tag",
    "custom": "SELECT contact_id, {q}key{q}, value FROM contacts_custom WHERE contact_id BETWEEN {p} AND {p}",
}


def _export_shape(database: Any) -> tuple[dict[str, int], list[str]]:
    """How many e-mail, phone and address slots the export needs, and every custom field's name."""
    slots = {}
    for table, key in (("contacts_email", "emails"), ("contacts_phone", "phones"), ("contacts_address", "addresses")):
        sql = f"SELECT MAX(n) FROM (SELECT COUNT(*) AS n FROM {table} GROUP BY contact_id) counted"
        slots[key] = max(1, database.execute_sql(sql).fetchone()[0] or 0)
    q = database.quote[0]
    keys = sorted(r[0] for r in database.execute_sql(f"SELECT DISTINCT {q}key{q} FROM contacts_custom").fetchall())
    return slots, keys


def export_header(slots: Mapping[str, int], custom_keys: Sequence[str]) -> list[str]:
    """The header of a CSV export with ``slots`` e-mails, phones and addresses and these custom fields."""
    header = list(EXPORT_COLUMNS)
    for n in range(1, slots["emails"] + 1):
        header += [f"email_{n}", f"email_{n}.type"]
    for n in range(1, slots["phones"] + 1):
        header += [f"phone_{n}", f"phone_{n}.type"]
    for n in range(1, slots["addresses"] + 1):
        header += [f"address_{n}.{part}" for part in _ADDRESS_COLUMNS]
    header += [f"custom.{key}" for key in custom_keys]
    return header


def _scoped_shape(visible: Any) -> tuple[dict[str, int], list[str]]:
    """:func:`_export_shape` of the contacts ``visible`` keeps only (a scoped export shows nothing of the others)."""
    kept = Contact.select(Contact.id).where(visible)
    slots = {}
    for model, key in ((ContactEmail, "emails"), (ContactPhone, "phones"), (ContactAddress, "addresses")):
        counts = (
            model.select(peewee.fn.COUNT(model.id))
            .where(model.contact.in_(kept))
            .group_by(model.contact)
            .order_by(peewee.fn.COUNT(model.id).desc())
            .limit(1)
            .scalar()
        )
        slots[key] = max(1, counts or 0)
    names: Any = (
        ContactCustomField.select(ContactCustomField.key)
        .where(ContactCustomField.contact.in_(kept))
        .distinct()
        .tuples()
    )
    keys = sorted(name for (name,) in names)
    return slots, keys


def _children(
    database: Any, first: int, last: int, only: list[int] | None = None
) -> dict[str, dict[int, list[tuple[Any, ...]]]]:
    """The page's child rows by table and contact (primary first); with ``only``, of those contacts alone."""
    p, q = database.param, database.quote[0]
    out: dict[str, dict[int, list[tuple[Any, ...]]]] = {}
    for key, sql in _CHILD_SQL.items():
        found: dict[int, list[tuple[Any, ...]]] = {}
        params: list[Any] = [first, last]
        if only is not None:
            # a scoped export reads the children of its own rows, not those of every id in the range
            sql = sql.replace("BETWEEN {p} AND {p}", f"IN ({', '.join(['{p}'] * len(only))})")
            params = list(only)
        for row in database.execute_sql(sql.format(p=p, q=q), params).fetchall():
            found.setdefault(row[0], []).append(row[1:])
        out[key] = found
    return out


def _iso(value: Any) -> str:
    """A stored naive-UTC datetime (text on SQLite) as ISO 8601 with its zone."""
    if not value:
        return ""
    if value.__class__ is str:  # SQLite gives the stored text: "YYYY-MM-DD HH:MM:SS[.ffffff]"
        return value.replace(" ", "T", 1) + "+00:00"
    return value.isoformat() + "+00:00"


class _RowShape:
    """Lays one contact and its child rows out as an export row."""

    def __init__(self, slots: Mapping[str, int], custom_keys: Sequence[str], database: str) -> None:
        self.database = database
        self.slots = slots
        self.custom_index = {key: i for i, key in enumerate(custom_keys)}

    def row(self, r: tuple[Any, ...], children: Mapping[str, Mapping[int, list[tuple[Any, ...]]]]) -> list[Any]:
        (
            cid,
            external_id,
            kind,
            display,
            prefix,
            first,
            middle,
            last,
            suffix,
            nickname,
            org_name,
            title,
            department,
            birthday,
            website,
            status,
            status_at,
            owner,
            region,
            country,
            language,
            dnc,
            notes,
            created_at,
        ) = r
        tags = children["tags"].get(cid)
        row: list[Any] = [
            format_id(self.database, cid),
            external_id or "",
            kind,
            display,
            prefix or "",
            first,
            middle or "",
            last,
            suffix or "",
            nickname or "",
            org_name or "",
            title or "",
            department or "",
            birthday or "",
            website or "",
            status,
            _iso(status_at),
            owner or "",
            region or "",
            country or "",
            language or "",
            "yes" if dnc else "",
            ",".join(t for (t,) in tags) if tags else "",
            notes or "",
            _iso(created_at),
        ]
        emails = children["emails"].get(cid, ())
        for n in range(self.slots["emails"]):
            row += [emails[n][0], emails[n][1]] if n < len(emails) else ["", ""]
        phones = children["phones"].get(cid, ())
        for n in range(self.slots["phones"]):
            if n < len(phones):
                number, extension, phone_kind = phones[n]
                row += [f"{number} ext. {extension}" if extension else number, phone_kind]
            else:
                row += ["", ""]
        addresses = children["addresses"].get(cid, ())
        for n in range(self.slots["addresses"]):
            row += list(addresses[n]) if n < len(addresses) else [""] * len(_ADDRESS_COLUMNS)
        custom = [""] * len(self.custom_index)
        for key, value in children["custom"].get(cid, ()):
            custom[self.custom_index[key]] = value
        row += custom
        # csv_safe, inlined: this runs for every cell of every exported contact
        return [
            ("'" + v)
            if v.__class__ is str and v and (v[0] in _FORMULA_START or (v[0] == "'" and v[1:2] in _FORMULA_START))
            else v
            for v in row
        ]


def _check_columns(columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in EXPORT_COLUMNS]
    if unknown:
        raise ValidationError(
            f"unknown export column(s) {', '.join(unknown)}; the columns are: {', '.join(EXPORT_COLUMNS)}"
        )
