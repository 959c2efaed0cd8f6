"""Imports queued for the worker (``POST /imports``): the file, its options, the progress, the report.

An import posted over HTTP is stored (``contacts_import``) as ``queued``;
the worker job ``contacts.imports`` claims one at a time with a conditional
``UPDATE`` (only one worker's claim changes the row), runs it as the user
who posted it (narrowed to the token's permissions) and stores the report
and the problem rows. While it runs it renews its lease after every batch;
an import whose lease ran out (the worker died) is marked ``failed`` with
the reason and the line to resume from, never run twice.

This service checks no permission: :class:`crm_contacts.api.ContactsAPI`
does, and only ever shows users their own imports.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import json
import uuid
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import attrs

from crm_contacts.importreport import ImportReport
from crm_contacts.matching import CONFLICT_CHOICES, MATCH_KEYS
from crm_contacts.models import ImportRun
from crm_core.errors import NotFoundError, ValidationError

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["FORMATS", "HeldFile", "ImportProblem", "ImportRecord", "Imports", "check_options"]

FORMATS = ("csv", "vcard")
#: how long a worker may go without finishing a batch before its import counts as abandoned
LEASE = dt.timedelta(minutes=10)
#: how long a file uploaded to the desk's import wizard waits for its import before it is deleted
HELD_FOR = dt.timedelta(days=1)
#: the status of a file held for the wizard: never claimed by the worker, never listed as an import
HELD = "held"
_BOOLS = ("dry_run", "all_or_nothing")
_CSV_ONLY = ("mapping", "delimiter", "ignore_columns")


@attrs.frozen
class ImportProblem:
    """A row the import could not use (``error``), imported with a ``warning``, or left alone (``conflict``)."""

    kind: str
    line: int
    field: str
    reason: str


@attrs.frozen
class ImportRecord:
    """An import posted over HTTP: its file, options, status (``queued``, ``running``, ``done``, ``failed``),
    progress (``rows_done`` of ``rows_total``), counts and, once run, its report."""

    id: int
    created_by: str | None
    file_name: str
    format: str
    dry_run: bool
    options: dict[str, Any]
    status: str
    rows_done: int
    rows_total: int
    created: int
    updated: int
    unchanged: int
    organizations_created: int
    failed: int
    warnings: int
    conflicts: int
    #: the report's one-line summary, once it has run
    summary: str | None
    notes: list[str]
    #: every problem row (left empty in a listing: read the import)
    problems: list[ImportProblem]
    #: why a failed import stopped, and what to do
    error: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None


@attrs.frozen
class HeldFile:
    """A file uploaded to the desk's import wizard, held with its options until it is imported."""

    id: int
    file_name: str
    format: str
    options: dict[str, Any]
    rows_total: int
    created_at: dt.datetime
    data: bytes = attrs.field(repr=False)


def check_options(options: Mapping[str, Any], fmt: str) -> dict[str, Any]:
    """The import's options, checked (each bad one named with its fix); the CLI's ``crm contacts import`` options."""
    known = (*_BOOLS, "match_on", "on_conflict", "list_name", "encoding", "start_line", *_CSV_ONLY)
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ValidationError(f"unknown import option(s) {', '.join(unknown)}; the options are: {', '.join(known)}")
    out: dict[str, Any] = {}
    for key in _BOOLS:
        if key in options:
            if not isinstance(options[key], bool):
                raise ValidationError(f"{key} must be true or false")
            out[key] = options[key]
    if "match_on" in options:
        keys = options["match_on"]
        if not isinstance(keys, list) or not keys or not all(k in MATCH_KEYS for k in keys):
            raise ValidationError(f"match_on {keys!r} must be one or more of {', '.join(MATCH_KEYS)}")
        out["match_on"] = list(keys)
    if "on_conflict" in options:
        if options["on_conflict"] not in CONFLICT_CHOICES:
            raise ValidationError(f"on_conflict {options['on_conflict']!r} must be {' or '.join(CONFLICT_CHOICES)}")
        out["on_conflict"] = options["on_conflict"]
    for key in ("list_name", "encoding", "delimiter"):
        if key in options:
            if not isinstance(options[key], str) or not options[key]:
                raise ValidationError(f"{key} must be a non-empty text")
            out[key] = options[key]
    if "encoding" in out:
        try:
            codecs.lookup(out["encoding"])
        except LookupError:
            raise ValidationError(
                f"encoding {out['encoding']!r} is not an encoding Python knows; try utf-8, latin-1 or cp1252"
            ) from None
    if "delimiter" in out and len(out["delimiter"]) != 1:
        raise ValidationError(f"delimiter {out['delimiter']!r} must be one character (, ; | or a tab)")
    if "start_line" in options:
        line = options["start_line"]
        if not isinstance(line, int) or isinstance(line, bool) or line < 1:
            raise ValidationError(f"start_line {line!r} must be a whole number from 1 (the rows before it are skipped)")
        out["start_line"] = line
    if "mapping" in options:
        mapping = options["mapping"]
        if not isinstance(mapping, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in mapping.items()
        ):
            raise ValidationError('mapping must be an object of CSV headers to fields: {"E-mail": "email"}')
        out["mapping"] = dict(mapping)
    if "ignore_columns" in options:
        columns = options["ignore_columns"]
        if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
            raise ValidationError("ignore_columns must be a list of CSV headers")
        out["ignore_columns"] = list(columns)
    if fmt == "vcard":
        given = [k for k in _CSV_ONLY if k in out]
        if given:
            raise ValidationError(f"{', '.join(given)} are for CSV files, not vCard")
    return out


def _text(data: bytes, fmt: str, encoding: str, name: str) -> str:
    """The file as text, refused with the reason when it is not a CSV or vCard file in ``encoding``."""
    if b"\x00" in data[:65536]:
        raise ValidationError(f"{name} is not a text file (a {fmt.upper()} file was expected); check what you sent")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ValidationError(
            f"{name}: line {line} is not {encoding}; give the file's encoding (encoding=latin-1, cp1252…)"
        ) from None
    if fmt == "vcard" and "BEGIN:VCARD" not in text.upper():
        raise ValidationError(f"{name}: no BEGIN:VCARD … END:VCARD card found; is this a vCard file?")
    return text


def _checked(data: bytes, name: str, fmt: str, options: Mapping[str, Any]) -> tuple[dict[str, Any], int]:
    """The options checked, and the number of rows of the file (refused when it cannot be read or has none)."""
    if fmt not in FORMATS:
        raise ValidationError(f"format {fmt!r} is not one of {', '.join(FORMATS)}")
    checked = check_options(options, fmt)
    text = _text(data, fmt, checked.get("encoding", "utf-8-sig"), name)
    total = _count_rows(text, fmt, checked.get("delimiter"))
    if total == 0:
        raise ValidationError(f"{name}: no row after the header has anything to import")
    return checked, total


def _count_rows(text: str, fmt: str, delimiter: str | None) -> int:
    if fmt == "vcard":
        return text.upper().count("BEGIN:VCARD")
    try:
        records = sum(1 for row in csv.reader(io.StringIO(text), delimiter=delimiter or ",") if any(row))
    except csv.Error as exc:
        raise ValidationError(f"the file is not a CSV file the import can read: {exc}") from None
    return max(0, records - 1)


class Imports:
    """The queue of imports posted over HTTP, in ``contacts_import``."""

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    def submit(self, data: bytes, *, name: str, fmt: str, options: Mapping[str, Any], user: str | None,
               scopes: list[str] | None) -> ImportRecord:  # fmt: skip
        """Store a file to import (checked: its format, encoding and options) as ``queued``."""
        checked, total = _checked(data, name, fmt, options)
        with self.crm.transaction():
            row = ImportRun.create(
                created_by=user,
                scopes=None if scopes is None else json.dumps(sorted(scopes)),
                file_name=name[:255],
                format=fmt,
                options=json.dumps(checked),
                data=data,
                status="queued",
                rows_total=total,
                created_at=self.crm.clock.now(),
            )
        return self.get(row.id, None)

    # -- files held for the desk's import wizard --------------------------------------

    def hold(self, data: bytes, *, name: str, fmt: str, options: Mapping[str, Any], user: str | None) -> HeldFile:
        """Keep a file (checked as :meth:`submit` checks it) for its owner to map, try and import."""
        checked, total = _checked(data, name, fmt, options)
        with self.crm.transaction():
            row = ImportRun.create(
                created_by=user,
                file_name=name[:255],
                format=fmt,
                options=json.dumps(checked),
                data=data,
                status=HELD,
                rows_total=total,
                created_at=self.crm.clock.now(),
            )
        return self.held(row.id, user)

    def held(self, held_id: int, user: str | None) -> HeldFile:
        """A held file of ``user``'s (another's, or one deleted, is not found)."""
        with self.crm.activate():
            row = ImportRun.select().where((ImportRun.id == held_id) & (ImportRun.status == HELD)).first()
        if row is None or (user is not None and row.created_by != user):
            raise NotFoundError(f"there is no uploaded file {held_id} of yours; upload it again")
        return HeldFile(
            row.id, row.file_name, row.format, json.loads(row.options), row.rows_total, row.created_at, bytes(row.data)
        )

    def change_held(self, held_id: int, user: str | None, options: Mapping[str, Any]) -> HeldFile:
        """Replace a held file's options (checked as :meth:`hold` checks them)."""
        held = self.held(held_id, user)
        checked, total = _checked(held.data, held.file_name, held.format, options)
        with self.crm.transaction():
            ImportRun.update(options=json.dumps(checked), rows_total=total).where(ImportRun.id == held.id).execute()
        return self.held(held_id, user)

    def release(self, held_id: int, user: str | None) -> None:
        """Delete a held file."""
        held = self.held(held_id, user)
        with self.crm.transaction():
            ImportRun.delete().where((ImportRun.id == held.id) & (ImportRun.status == HELD)).execute()

    def expire_held(self) -> int:
        """Delete the held files older than :data:`HELD_FOR` (an upload nobody finished); return how many."""
        with self.crm.transaction():
            return int(
                ImportRun.delete()
                .where((ImportRun.status == HELD) & (ImportRun.created_at < self.crm.clock.now() - HELD_FOR))
                .execute()
            )

    def _row(self, import_id: int, user: str | None) -> ImportRun:
        with self.crm.activate():
            row = ImportRun.select(*_SHOWN).where((ImportRun.id == import_id) & (ImportRun.status != HELD)).first()
        if row is None or (user is not None and row.created_by != user):
            # another user's import is answered as none, so ids do not leak
            raise NotFoundError(f"there is no import {import_id} of yours")
        return row

    def get(self, import_id: int, user: str | None) -> ImportRecord:
        """An import (``user``'s only, unless ``None``: the system's view)."""
        return _record(self._row(import_id, user))

    def list(self, user: str | None, *, limit: int = 50, offset: int = 0) -> list[ImportRecord]:
        """``user``'s imports (everyone's for ``None``), newest first, without their problem rows."""
        with self.crm.activate():
            query = ImportRun.select(*_SHOWN).where(ImportRun.status != HELD).order_by(ImportRun.id.desc())
            if user is not None:
                query = query.where(ImportRun.created_by == user)
            return [_record(row, problems=False) for row in query.limit(limit).offset(offset)]

    def problems(self, import_id: int, user: str | None) -> tuple[str, bytes]:
        """The problem rows of an import as CSV (its name and content), to fix and import again."""
        row = self._row(import_id, user)
        if row.status in ("queued", "running"):
            raise ValidationError(f"import {import_id} is {row.status}; its problem rows are ready when it is done")
        with self.crm.activate():
            data = ImportRun.select(ImportRun.problems).where(ImportRun.id == import_id).scalar()
        stem = row.file_name.rsplit(".", 1)[0] or "import"
        return f"{stem}-problems.csv", bytes(data or b"")

    # -- the worker's side ---------------------------------------------------------

    def abandon_expired(self) -> int:
        """Mark ``failed`` the running imports whose worker stopped renewing its lease; return how many."""
        now = self.crm.clock.now()
        count = 0
        with self.crm.activate():
            expired = list(
                ImportRun.select(ImportRun.id, ImportRun.rows_done, ImportRun.options).where(
                    (ImportRun.status == "running") & (ImportRun.lease_until < now)
                )
            )
        for row in expired:
            dry = json.loads(row.options).get("dry_run") or json.loads(row.options).get("all_or_nothing")
            reason = (
                "the worker running this import stopped (its lease ran out); nothing was imported"
                if dry
                else f"the worker running this import stopped (its lease ran out) after {row.rows_done} row(s); "
                "those rows stay imported: post the file again (the rows already imported find their contacts "
                "and change nothing)"
            )
            with self.crm.transaction():
                count += (
                    ImportRun.update(status="failed", error=reason, finished_at=now, data=None, lease_owner=None)
                    .where((ImportRun.id == row.id) & (ImportRun.status == "running") & (ImportRun.lease_until < now))
                    .execute()
                )
        return count

    def claim(self) -> tuple[ImportRun, str] | None:
        """The oldest queued import, now ``running`` under this call's lease (``None`` when none is queued)."""
        token = uuid.uuid4().hex
        while True:
            with self.crm.activate():
                first = (
                    ImportRun.select(ImportRun.id).where(ImportRun.status == "queued").order_by(ImportRun.id).first()
                )
            if first is None:
                return None
            now = self.crm.clock.now()
            with self.crm.transaction():
                claimed = (
                    ImportRun.update(status="running", lease_owner=token, lease_until=now + LEASE, started_at=now)
                    .where((ImportRun.id == first.id) & (ImportRun.status == "queued"))
                    .execute()
                )
            if claimed == 1:  # another worker's claim would have changed nothing
                with self.crm.activate():
                    return ImportRun.get_by_id(first.id), token

    def progress(self, import_id: int, token: str, rows: int) -> None:
        """``rows`` more rows done; the lease is renewed (one UPDATE per batch)."""
        now = self.crm.clock.now()
        with self.crm.transaction():
            ImportRun.update(rows_done=ImportRun.rows_done + rows, lease_until=now + LEASE).where(
                (ImportRun.id == import_id) & (ImportRun.lease_owner == token)
            ).execute()

    def finish(self, import_id: int, token: str, report: ImportReport, problems: str, error: str | None) -> None:
        """Store the report and the problem rows; ``error`` (a stopped import) makes it ``failed``."""
        data = {
            "summary": report.summary(),
            "rows": report.rows,
            "created": report.created,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "organizations_created": report.organizations_created,
            "failed": report.failed,
            "notes": list(report.notes),
            "ignored_columns": list(report.ignored_columns),
            "problems": [
                {"kind": kind, "line": e.line, "field": e.field, "reason": e.reason}
                for kind, rows in (
                    ("error", report.errors),
                    ("warning", report.warnings),
                    ("conflict", report.conflicts),
                )
                for e in rows
            ],
        }
        with self.crm.transaction():
            ImportRun.update(
                status="failed" if error else "done",
                report=json.dumps(data),
                problems=problems.encode("utf-8"),
                error=error,
                rows_done=report.rows if not error else ImportRun.rows_done,
                finished_at=self.crm.clock.now(),
                data=None,
                lease_owner=None,
            ).where((ImportRun.id == import_id) & (ImportRun.lease_owner == token)).execute()

    def fail(self, import_id: int, token: str, error: str) -> None:
        """The import could not run at all (a bad mapping, an unknown list, a user disabled since)."""
        with self.crm.transaction():
            ImportRun.update(
                status="failed", error=error, finished_at=self.crm.clock.now(), data=None, lease_owner=None
            ).where((ImportRun.id == import_id) & (ImportRun.lease_owner == token)).execute()


#: every column but the file and the problem rows, which can be large
_SHOWN = [f for f in ImportRun._meta.sorted_fields if f.name not in ("data", "problems")]


def _record(row: ImportRun, *, problems: bool = True) -> ImportRecord:
    report = json.loads(row.report) if row.report else {}
    found = report.get("problems", [])
    kinds = [p["kind"] for p in found]
    options = json.loads(row.options)
    return ImportRecord(
        id=row.id,
        created_by=row.created_by,
        file_name=row.file_name,
        format=row.format,
        dry_run=bool(options.get("dry_run")),
        options=options,
        status=row.status,
        rows_done=row.rows_done,
        rows_total=row.rows_total,
        created=report.get("created", 0),
        updated=report.get("updated", 0),
        unchanged=report.get("unchanged", 0),
        organizations_created=report.get("organizations_created", 0),
        failed=report.get("failed", 0),
        warnings=kinds.count("warning"),
        conflicts=kinds.count("conflict"),
        summary=report.get("summary"),
        notes=report.get("notes", []),
        problems=[ImportProblem(**p) for p in found] if problems else [],
        error=row.error,
        created_at=row.created_at,
        started_at=row.started_at,
        finished_at=row.finished_at,
    )
