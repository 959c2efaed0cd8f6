"""Imports and exports: CSV in (any layout), CSV out (spreadsheet-safe)."""

from __future__ import annotations

import contextlib
import csv
import os
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Mapping, Sequence

from crm_core.errors import ValidationError

from crm_contacts import filters as search_filters
from crm_contacts.csvread import check_encoding, check_text_file, open_csv
from crm_contacts.identity import database_id, format_id
from crm_contacts.importing import DEFAULT_MATCH_KEYS, ImportReport, Importer
from crm_contacts.importreport import PROBLEM_COLUMNS, ProblemFile
from crm_contacts.mapping import Target, detect, load_mapping_file
from crm_contacts.rows import target_name
from crm_contacts.models import Contact

__all__ = ["EXPORT_COLUMNS", "Transfer"]

#: the columns of a CSV export; an import reads them back as they are
EXPORT_COLUMNS = (
    "id", "external_id", "kind", "display_name", "first_name", "last_name", "organization", "email", "phone",
    "street", "extra", "city", "postal_code", "address_region", "address_country", "country", "region", "status",
    "owner", "language", "do_not_contact", "tags", "created_at",
)
EXPORT_PAGE = 5000


class Transfer:
    """The import and export part of ``crm.plugin("contacts")``."""

    crm: Any

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
        ``progress(bytes_read, file_size)`` is called after each batch.
        Raises :class:`~crm_contacts.importreport.ImportStopped` when the
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
            resolved = detect([header[i] for i in kept], columns)
            targets: list[Target | None] = [None] * len(header)
            for i, target in zip(kept, resolved.targets):
                targets[i] = target
            with _problem_file(errors_to, [header[i] for i in kept]) as problems:
                importer = Importer(
                    self.crm, actor=actor, channel=channel, dry_run=dry_run, all_or_nothing=all_or_nothing, match_on=match_on,
                    on_conflict=on_conflict, list_name=list_name, jobs=jobs, start_line=start_line, problems=problems,
                    progress=(lambda _: progress(csv_source.progress(), csv_source.size)) if progress else None,
                )
                report = importer.report
                report.source = csv_source.name
                report.layout = resolved.layout
                report.ignored_columns = resolved.ignored
                report.problem_file = _problem_name(errors_to)
                importer.run(csv_source.rows(), targets, len(header), cells=lambda c: [c[i] for i in kept] if len(c) == len(header) else c)
        finally:
            csv_source.close()
        if not report.rows and start_line <= 1 and csv_source.count is None:  # a file with no rows was refused before reading
            raise ValidationError(f"{csv_source.name}: no row after the header has anything to import")
        return report

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
    ) -> ImportReport:
        """Import a vCard 3.0/4.0 file (one or many cards); matching and reporting as for CSV.

        A card that cannot be read is reported with the line of its problem
        and the other cards are imported (or nothing, with ``all_or_nothing``).
        The problem file (``errors_to``) has the columns of this plugin's CSV
        layout, so it can be fixed and imported as CSV.
        """
        from crm_contacts.vcard import TARGETS, read_cards, vcard_rows_width

        file = Path(path)
        if not file.is_file():
            raise ValidationError(f"{file}: no such file")
        check_text_file(file, encoding)
        check_encoding(file, encoding)
        width = vcard_rows_width()
        with _problem_file(errors_to, [target_name(t) for t in TARGETS]) as problems:
            importer = Importer(
                self.crm, actor=actor, channel=channel, dry_run=dry_run, all_or_nothing=all_or_nothing, match_on=match_on,
                on_conflict=on_conflict, list_name=list_name, start_line=start_line, problems=problems,
            )
            report = importer.report
            report.source = file.name
            report.layout = "vcard"
            report.problem_file = _problem_name(errors_to)
            importer.run(read_cards(file, encoding), TARGETS, width, cells=lambda c: c if len(c) == width else [""] * width)
        if not report.rows and start_line <= 1:
            raise ValidationError(f"{file.name}: no BEGIN:VCARD … END:VCARD card found; is this a vCard file?")
        return report

    def export_vcard(
        self, out: IO[str], filters: Mapping[str, Any] | None = None, *, version: str = "4.0", include_deleted: bool = False
    ) -> int:
        """Write the matching contacts as vCards (``version`` 3.0 or 4.0); returns how many."""
        from crm_contacts.vcard import write_card

        database_uuid = database_id(self.crm)
        if version not in ("3.0", "4.0"):
            raise ValidationError(f"vCard version {version!r} is not supported; use 3.0 or 4.0")
        book: Any = self
        count = 0
        for ids in book.iter_ids(filters, include_deleted=include_deleted):
            records = book._records(ids)
            for cid in ids:
                write_card(out, records[cid], version, database=database_uuid)
                count += 1
        return count

    def export_csv(self, out: IO[str], filters: Mapping[str, Any] | None = None, *, include_deleted: bool = False) -> int:
        """Write the contacts matching ``filters`` (all by default) as CSV; returns how many.

        One row per contact with its primary e-mail, phone and address; cells
        a spreadsheet would run as formulas are prefixed with ``'`` (an
        import strips it again). Streams a page at a time.
        """
        book: Any = self
        checked = search_filters.check(dict(filters or {}), book.region)
        writer = csv.writer(out)
        writer.writerow(EXPORT_COLUMNS)
        database_uuid = database_id(self.crm)
        count = 0
        last = 0
        database = self.crm.database
        p = database.param
        with self.crm.activate():
            base = book._card_query().select_extend(Contact.external_id, Contact.created_at)
            if not include_deleted:
                base = base.where(Contact.deleted_at.is_null())
            base = search_filters.apply(base, checked, book.region)
            tags_sql = (
                f"SELECT contact_id, tag FROM contacts_tag WHERE contact_id BETWEEN {p} AND {p} ORDER BY contact_id, tag"
            )
            while True:
                # the page's SQL is peewee's; its rows are read with the driver's
                # fetchall, without peewee's per-value conversion (a third of the time)
                sql, params = base.where(Contact.id > last).order_by(Contact.id).limit(EXPORT_PAGE).sql()
                rows = database.execute_sql(sql, params).fetchall()
                if not rows:
                    break
                first, last = rows[0][0], rows[-1][0]
                tags: dict[int, list[str]] = {}
                for cid, tag in database.execute_sql(tags_sql, (first, last)).fetchall():
                    tags.setdefault(cid, []).append(tag)
                writer.writerows(_export_row(r, tags.get(r[0]), database_uuid) for r in rows)
                count += len(rows)
        return count


@contextlib.contextmanager
def _problem_file(target: str | os.PathLike[str] | IO[str] | None, header: Sequence[str]) -> Iterator[ProblemFile | None]:
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


def _export_row(r: tuple[Any, ...], tags: list[str] | None, database: str) -> list[Any]:
    (cid, kind, display, first, last, _org_id, org_name, email, phone, street, city, postal_code, a_region, a_country, extra,
     status, region, country, owner, language, dnc, external_id, created_at) = r
    if created_at.__class__ is str:  # SQLite gives the stored text: naive UTC "YYYY-MM-DD HH:MM:SS[.ffffff]"
        created = created_at.replace(" ", "T", 1) + "+00:00"
    else:
        created = created_at.isoformat() + "+00:00" if created_at else ""
    row = [
        format_id(database, cid), external_id or "", kind, display, first, last, org_name or "", email or "", phone or "", street or "", extra or "",
        city or "", postal_code or "", a_region or "", a_country or "", country or "", region or "", status, owner or "",
        language or "", "yes" if dnc else "", ",".join(tags) if tags else "", created,
    ]
    # csv_safe, inlined: this runs for every cell of every exported contact
    return [("'" + v) if v.__class__ is str and v and v[0] in _FORMULA_START else v for v in row]


def _check_columns(columns: Sequence[str]) -> None:
    unknown = [c for c in columns if c not in EXPORT_COLUMNS]
    if unknown:
        raise ValidationError(f"unknown export column(s) {', '.join(unknown)}; the columns are: {', '.join(EXPORT_COLUMNS)}")
