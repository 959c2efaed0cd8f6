"""The import engine: validate per row, match and write per batch.

For each batch of rows (``import_batch_size``):

1. rows are checked (:func:`crm_contacts.rows.validate_rows`), in worker
   processes for big files (:mod:`crm_contacts.importworkers`);
2. existing contacts are looked up with one ``IN`` query per key (deleted
   contacts never match), and each row is matched as
   :mod:`crm_contacts.matching` says: to an existing contact, to an earlier
   row of the same file (the two become one contact), or to nothing (a new
   contact); a match whose name or kind differs strongly is a conflict,
   reported and skipped unless ``on_conflict="update"``;
3. organizations are found by name, the missing ones created once;
4. the batch is written by :class:`crm_contacts.importwrite.BatchWriter`,
   in its own transaction.

A dry run is the same run in one transaction that is rolled back at the
end, so it reports exactly what the real run will. An import that stops
(a bad file found late, a lost connection, Ctrl-C) raises
:class:`ImportStopped`, which says how many rows were already committed and
how to finish.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_contacts.book import check_channel
from crm_contacts.identity import database_id
from crm_contacts.importreport import ImportReport, ImportStopped, ProblemFile, RowError
from crm_contacts.importwrite import BatchWriter, defaults, fold, reserve_ids
from crm_contacts.mapping import Target
from crm_contacts.matching import (
    CONFLICT_CHOICES,
    DEFAULT_MATCH_KEYS,
    MATCH_KEYS,
    Candidate,
    MatchKey,
    conflict,
    contact_names,
    describe,
    row_keys,
    same_person,
)
from crm_contacts.models import MailingList
from crm_contacts.normalize import name_key
from crm_contacts.owners import Owners
from crm_contacts.planner import GrowingBook
from crm_contacts.rows import BadRow, CheckedRow, validate_rows
from crm_core.errors import CRMError, ValidationError
from crm_core.memory import collector_paused
from crm_core.storage import batched, page_cache

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["DEFAULT_MATCH_KEYS", "ImportReport", "ImportStopped", "Importer", "RowError", "MATCH_KEYS"]

#: values per IN (...) of the matching queries
MATCH_CHUNK = 2000
#: SQLite's page cache while an import writes (MB): with the default 2 MB, a 200,000-row import spent a
#: fifth more CPU on its INSERTs, re-reading the index pages each batch touches at random
IMPORT_CACHE_MB = 64
# Each gives (value, contact id, deleted_at) rows; deleted contacts are left
# out in Python, not in SQL: with "deleted_at IS NULL" in the WHERE clause and
# no statistics, SQLite walks the deleted_at index (every live contact)
# instead of the external_id one, and each batch reads the whole table.
_MATCH_SQL = {
    "id": "SELECT id, id, deleted_at FROM contacts_contact WHERE id IN ({})",
    "external_id": "SELECT external_id, id, deleted_at FROM contacts_contact WHERE external_id IN ({}) ORDER BY id",
    "email": (
        "SELECT e.address, e.contact_id, c.deleted_at FROM contacts_email e JOIN contacts_contact c ON c.id = e.contact_id "
        "WHERE e.address IN ({}) ORDER BY e.contact_id"
    ),
    "phone": (
        "SELECT p.number, p.contact_id, c.deleted_at FROM contacts_phone p JOIN contacts_contact c ON c.id = p.contact_id "
        "WHERE p.number IN ({}) ORDER BY p.contact_id"
    ),
    "org": "SELECT name_key, id, deleted_at FROM contacts_contact WHERE name_key IN ({}) AND kind = 'organization' ORDER BY id",
}
_CANDIDATE_SQL = (
    "SELECT id, kind, display_name, first_name, last_name, external_id FROM contacts_contact WHERE id IN ({})"
)
#: keys that identify a contact on their own; a phone or an organization's name is used only without them
_IDENTIFYING = ("id", "external_id", "email")


class _Rollback(Exception):
    """Undoes a dry run, or an all-or-nothing import with bad rows."""


class _Matches:
    """Existing contacts found for one batch's keys."""

    def __init__(self) -> None:
        #: (key, value) -> the oldest live contact, for the identifying keys
        self.one: dict[tuple[str, Any], int] = {}
        #: (key, value) -> every live contact, oldest first, for phones and organization names
        self.many: dict[tuple[str, Any], list[int]] = {}
        self.contacts: dict[int, Candidate] = {}


@attrs.define
class _Plan:
    """What one batch will write."""

    #: new contacts, and the line of the row each comes from (0: an organization made for a name)
    new: list[dict[str, Any]] = attrs.field(factory=list)
    lines: list[int] = attrs.field(factory=list)
    #: (key, value) -> index in ``new``, for the rows after it
    in_file: dict[MatchKey, int] = attrs.field(factory=dict)
    #: existing contact id -> the rows folded into it
    updates: dict[int, list[dict[str, Any]]] = attrs.field(factory=dict)
    #: (index in ``new``, or the fields of an update; the organization name the row gives)
    members: list[tuple[Any, str]] = attrs.field(factory=list)
    #: organizations this batch updates, by the name it gives them
    named: dict[str, int] = attrs.field(factory=dict)


class Importer:
    """One import run. Build it with the API's ``import_csv``/``import_vcard``."""

    def __init__(
        self,
        crm: CRM,
        *,
        actor: str | None = None,
        channel: str = "import",
        dry_run: bool = False,
        all_or_nothing: bool = False,
        match_on: Sequence[str] = DEFAULT_MATCH_KEYS,
        on_conflict: str = "skip",
        list_name: str | None = None,
        batch_size: int | None = None,
        jobs: int = 1,
        start_line: int = 1,
        problems: ProblemFile | None = None,
        progress: Callable[[int], None] | None = None,
        spreadsheet_cells: bool = True,
        default_owner: str | None = None,
    ) -> None:
        check_channel(channel)
        unknown = [k for k in match_on if k not in MATCH_KEYS]
        if unknown:
            raise ValidationError(f"cannot match on {unknown[0]!r}; the keys are: {', '.join(MATCH_KEYS)}")
        if on_conflict not in CONFLICT_CHOICES:
            raise ValidationError(f"on_conflict {on_conflict!r} is not known; use {' or '.join(CONFLICT_CHOICES)}")
        self.crm = crm
        self.settings = crm.settings("contacts")
        self.region = self.settings.default_region or None
        self.actor = actor
        self.channel = channel
        self.dry_run = dry_run
        self.all_or_nothing = all_or_nothing
        self.match_on = tuple(match_on)
        self.on_conflict = on_conflict
        self.list_name = list_name
        self.batch_size = batch_size or self.settings.import_batch_size
        self.jobs = max(1, jobs)
        self.start_line = start_line
        self.problems = problems
        self.progress = progress
        #: CSV cells may carry the ``'`` our export puts before a formula-like value; vCard values never do
        self.spreadsheet_cells = spreadsheet_cells
        self.report = ImportReport(dry_run=dry_run)
        #: the owner of the contacts the import adds without one (the user who imports)
        self.default_owner = default_owner
        self._owners = Owners(crm)
        self._database = ""
        self._writer: BatchWriter | None = None
        #: rows whose id cell is not this database's
        self._other_ids = 0
        #: new contacts made from rows with no key to find them again, and the same as of the last commit
        self._keyless = 0
        self._committed: dict[str, int] = {
            "rows": 0,
            "line": 0,
            "created": 0,
            "updated": 0,
            "unchanged": 0,
            "organizations": 0,
            "keyless": 0,
        }
        self._line = 0
        self._cells: Callable[[list[str]], list[Any]] = lambda cells: cells

    # -- driving -------------------------------------------------------------

    def run(
        self,
        rows: Iterable[tuple[int, list[str]]],
        targets: Sequence[Target | None],
        width: int,
        cells: Callable[[list[str]], list[Any]] | None = None,
    ) -> ImportReport:
        """Import ``rows`` (``(line, cells)``); ``cells`` turns a row's cells into what the problem file shows."""
        report = self.report
        database = self.crm.database
        self._cells = cells or (lambda c: c)
        list_id = None
        if self.list_name is not None:
            with self.crm.activate():
                found = MailingList.get_or_none(MailingList.name == self.list_name)
            if found is None:
                raise ValidationError(
                    f"--list {self.list_name!r}: no such mailing list; create it with 'crm contacts lists create'"
                )
            list_id = found.id
        self._database = database_id(self.crm)
        self._writer = BatchWriter(self.crm, report, self.actor, self.channel, list_id)
        with self.crm.activate():
            self._planner = GrowingBook(database)
        previous = self.crm.deliver_events
        # handlers get the events after the import, not batch by batch in its middle
        self.crm.deliver_events = "worker"
        try:
            with self.crm.activate(), page_cache(database, IMPORT_CACHE_MB):
                if self.all_or_nothing or self.dry_run:
                    try:
                        with database.atomic():
                            self._loop(rows, targets, width)
                            if self.all_or_nothing and report.failed:
                                report.aborted = not self.dry_run
                                raise _Rollback()
                            if self.dry_run:
                                raise _Rollback()
                    except _Rollback:
                        report.contact_ids = []
                        if report.aborted:
                            report.created = report.updated = report.unchanged = report.organizations_created = 0
                else:
                    self._loop(rows, targets, width)
        except ImportStopped:
            raise
        except (Exception, KeyboardInterrupt) as exc:
            raise self._stopped(exc) from exc
        finally:
            self.crm.deliver_events = previous
        if self._other_ids:
            report.notes.append(
                f"{self._other_ids} row(s) have an id that is not one of this database's (another CRM's export, or one made "
                "before exports carried the database's identity): they were matched on their external id, e-mail, "
                "or phone and name instead"
            )
        if (
            previous == "after-commit"
            and not self.dry_run
            and not report.aborted
            and (report.created or report.updated)
        ):
            self.crm.events.deliver()
        return report

    def _stopped(self, exc: BaseException) -> ImportStopped:
        """The error for an import that stopped at ``exc``, saying what stays and how to finish."""
        report = self.report
        if isinstance(exc, KeyboardInterrupt):
            cause, code = f"the import was interrupted at line {self._line}", 130
        elif isinstance(exc, CRMError):
            cause, code = str(exc), exc.exit_code
        else:
            cause, code = f"unexpected {type(exc).__name__} at line {self._line}: {exc}", 1
        done = self._committed
        if self.dry_run or self.all_or_nothing or not (done["created"] or done["updated"] or done["organizations"]):
            report.created = report.updated = report.unchanged = report.organizations_created = 0
            report.contact_ids = []
            return ImportStopped(f"{cause}; nothing was imported", report, code)
        report.rows, report.created, report.updated = done["rows"], done["created"], done["updated"]
        report.unchanged, report.organizations_created = done["unchanged"], done["organizations"]
        resume = done["line"] + 1
        text = (
            f"{cause}; the {done['rows']} row(s) up to line {done['line']} were already imported and stay "
            f"({done['created']} contact(s) created, {done['updated']} updated, {done['organizations']} organization(s) created); "
        )
        if done["keyless"]:
            text += (
                f"to finish, fix the problem and re-run the import with --from-line {resume}: {done['keyless']} of the contacts "
                "created have no id, external id, e-mail, or phone with a name to be found by, so a whole re-run would create them again"
            )
        else:
            text += (
                "to finish, fix the problem and re-run the import: the rows already imported find their contacts and change "
                f"nothing (or skip them with --from-line {resume})"
            )
        return ImportStopped(text, report, code)

    def _batches(self, rows: Iterable[tuple[int, list[str]]]) -> Iterator[list[tuple[int, list[str]]]]:
        report = self.report
        clock = time.perf_counter
        source = iter(rows)
        while True:
            start = clock()
            batch = []
            for item in source:
                if item[0] < self.start_line:
                    continue
                batch.append(item)
                if len(batch) >= self.batch_size:
                    break
            report.timings["read"] += clock() - start
            if not batch:
                return
            yield batch

    def _validated(
        self, rows: Iterable[tuple[int, list[str]]], targets: Sequence[Target | None], width: int
    ) -> Generator[tuple[Any, list[Any]], None, None]:
        """``(batch, checked rows)`` in file order (checked in worker processes when jobs > 1)."""
        report = self.report
        if self.jobs == 1:
            for batch in self._batches(rows):
                start = time.perf_counter()
                checked = validate_rows(batch, targets, width, self.region, self.spreadsheet_cells)
                report.timings["validate"] += time.perf_counter() - start
                yield batch, checked
            return
        from crm_contacts.importworkers import ValidationPool

        def waited(seconds: float) -> None:
            report.timings["validate"] += seconds  # time waited for the workers

        with ValidationPool(self.jobs, validate_rows, (targets, width, self.region, self.spreadsheet_cells)) as pool:
            yield from pool.map(self._batches(rows), waited)

    def _loop(self, rows: Iterable[tuple[int, list[str]]], targets: Sequence[Target | None], width: int) -> None:
        report = self.report
        # the collector would walk every batch's rows over and over (a tenth of the importing process's CPU)
        with collector_paused() as tidy, contextlib.closing(self._validated(rows, targets, width)) as batches:
            for batch, checked in batches:
                self._line = batch[0][0]
                raw = {line: cells for line, cells in batch} if self.problems is not None else {}
                good: list[CheckedRow] = []
                for item in checked:
                    if not isinstance(item, BadRow) and item.fields.get("owner"):
                        try:
                            item.fields["owner"] = self._owners.resolve(item.fields["owner"])
                        except ValidationError as exc:
                            item = BadRow(item.line, "owner", str(exc))
                    if isinstance(item, BadRow):
                        report.add_error(RowError(item.line, item.field, item.reason))
                        self._problem(item.line, [(item.field, item.reason)], raw)
                        continue
                    good.append(item)
                    if item.warnings:
                        report.warnings.extend(RowError(item.line, f, r) for f, r in item.warnings)
                        self._problem(item.line, item.warnings, raw)
                report.rows += len(checked)
                written = report.created + report.updated
                if good and not (self.all_or_nothing and report.failed):
                    if self.dry_run or self.all_or_nothing:
                        self._batch(good, raw)
                    else:
                        with self.crm.database.atomic():
                            self._batch(good, raw)
                            committing = time.perf_counter()
                        report.timings["commit"] += time.perf_counter() - committing
                    # the next batch's look-ups are planned for the book as it is now
                    self._planner.wrote(report.created + report.updated - written)
                self._line = batch[-1][0]
                self._committed = {
                    "rows": report.rows,
                    "line": batch[-1][0],
                    "created": report.created,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "organizations": report.organizations_created,
                    "keyless": self._keyless,
                }
                if self.progress is not None:
                    self.progress(len(checked))
                tidy()

    def _problem(self, line: int, problems: Sequence[tuple[str, str]], raw: dict[int, list[str]]) -> None:
        if self.problems is not None:
            self.problems.write(line, problems, self._cells(raw.get(line, [])))

    # -- one batch -------------------------------------------------------------

    def _own_id(self, item: CheckedRow) -> int | None:
        if item.ref is not None and item.ref.database == self._database:
            return item.ref.contact_id
        if item.ref is not None or item.other_id:
            self._other_ids += 1
        return None

    def _match(self, keyed: list[tuple[CheckedRow, list[MatchKey]]], names: Iterable[str]) -> _Matches:
        """Existing live contacts for the batch's keys and for the organization names it gives."""
        wanted: dict[str, set[Any]] = {k: set() for k in _MATCH_SQL}
        for _, keys in keyed:
            for k in keys:
                wanted[k[0]].add(k[1])
        wanted["org"].update(names)
        matches = _Matches()
        database = self.crm.database
        p = database.param
        for key, sql in _MATCH_SQL.items():
            # plain SQL: one statement per chunk of values, without building a
            # peewee expression (and converting) per value
            for part in batched(sorted(wanted[key]), MATCH_CHUNK):
                cursor = database.execute_sql(sql.format(", ".join([p] * len(part))), list(part))
                for value, cid, deleted_at in cursor.fetchall():
                    if deleted_at is not None:
                        continue
                    if key in _IDENTIFYING:
                        matches.one.setdefault((key, value), cid)  # the oldest live contact wins
                    else:
                        matches.many.setdefault((key, value), []).append(cid)
        ids = sorted({*matches.one.values(), *(c for cids in matches.many.values() for c in cids)})
        for part in batched(ids, MATCH_CHUNK):
            cursor = database.execute_sql(_CANDIDATE_SQL.format(", ".join([p] * len(part))), list(part))
            for cid, kind, display, first, last, external_id in cursor.fetchall():
                matches.contacts[cid] = Candidate(cid, kind, display, first or "", last or "", external_id)
        return matches

    def _existing(self, fields: dict[str, Any], keys: list[MatchKey], matches: _Matches) -> list[tuple[MatchKey, int]]:
        """``(key, contact id)`` of the existing contacts the row matches, most trusted key first."""
        hits = [(k, matches.one[(k[0], k[1])]) for k in keys if k[0] in _IDENTIFYING and (k[0], k[1]) in matches.one]
        if hits:
            return hits
        for key in keys:
            if key[0] == "phone":
                for cid in matches.many.get(("phone", key[1]), ()):
                    if same_person(key[2], contact_names(matches.contacts[cid])):
                        return [(key, cid)]
            elif key[0] == "org":
                for cid in matches.many.get(("org", key[1]), ()):
                    if _same_external(fields, matches.contacts[cid].external_id):
                        return [(key, cid)]
        return []

    def _conflict(self, item: CheckedRow, field: str, reason: str, raw: dict[int, list[str]]) -> None:
        advice = "left unchanged (import with --on-conflict update to apply the row anyway)"
        self.report.conflicts.append(RowError(item.line, field, f"{reason}; {advice}"))
        self._problem(item.line, [(field, f"{reason}; {advice}")], raw)

    def _batch(self, good: list[CheckedRow], raw: dict[int, list[str]]) -> None:
        report = self.report
        writer = self._writer
        assert writer is not None
        now = self.crm.clock.now()
        start = time.perf_counter()
        keyed = []
        for item in good:
            organization = item.organization
            if (
                organization
                and item.fields.get("kind") == "organization"
                and name_key(organization) == name_key(item.fields.get("display_name"))
            ):
                organization = None  # an organization is not a member of itself
            keyed.append((item, row_keys(item.fields, self._own_id(item), self.match_on), organization))
        names = {name_key(org): org for _, _, org in keyed if org}
        matches = self._match([(item, keys) for item, keys, _ in keyed], names)
        # organizations first, so that people of the same batch find the ones it creates
        keyed.sort(key=lambda r: r[0].fields.get("kind") != "organization")
        plan = _Plan()
        for item, keys, organization in keyed:
            self._place(plan, item, keys, organization, matches, raw)
        report.timings["match"] += time.perf_counter() - start
        ids = self._organizations(plan, names, matches)
        if plan.new:
            order = _parents_first(plan.new, ids)
            writer.write_new([plan.new[i] for i in order], [ids[i] for i in order], now)
        rows_ids = [cid for cid, line in zip(ids, plan.lines) if line]  # not the organizations made for a name
        report.created += len(rows_ids)
        writer.update(plan.updates, now)
        writer.add_to_list(rows_ids + list(plan.updates), now)

    def _place(
        self,
        plan: _Plan,
        item: CheckedRow,
        keys: list[MatchKey],
        organization: str | None,
        matches: _Matches,
        raw: dict[int, list[str]],
    ) -> None:
        """Put one row in the plan: an update of the contact it matches, a fold into an earlier row, a new contact, or a conflict."""
        fields = item.fields
        hits = self._existing(fields, keys, matches)
        if hits:
            key, cid = hits[0]
            # this database's own id names the contact; another one sharing an e-mail is a duplicate already there
            others = {c: k for k, c in hits if c != cid} if key[0] != "id" else {}
            if others:
                problem: tuple[str, str] | None = (
                    key[0],
                    f"matches contact {cid} by {describe(key)} and "
                    + " and ".join(f"contact {c} by {describe(k)}" for c, k in others.items()),
                )
            else:
                contact = matches.contacts[cid]
                problem = conflict(
                    fields, contact.kind, contact_names(contact), f"contact {cid} {contact.display_name!r}", key
                )
            if problem is not None and self.on_conflict == "skip":
                self._conflict(item, *problem, raw)
                return
            plan.updates.setdefault(cid, []).append(fields)
            if fields.get("kind") == "organization" and fields.get("display_name"):
                plan.named.setdefault(name_key(fields["display_name"]), cid)  # perhaps renamed by this row
            if organization:
                plan.members.append((fields, organization))
            return
        new = plan.new
        index, file_key = self._in_file(fields, keys, plan.in_file, new)
        if index is not None and file_key is not None:
            problem = conflict(
                fields,
                new[index]["kind"],
                contact_names(new[index]),
                f"line {plan.lines[index]} {new[index]['display_name']!r}",
                file_key,
            )
            if problem is not None and self.on_conflict == "skip":
                self._conflict(item, *problem, raw)
                return
            new[index] = fold(new[index], fields)
        else:
            new.append(defaults(fields))
            if self.default_owner and not new[-1].get("owner"):
                new[-1]["owner"] = self.default_owner
            plan.lines.append(item.line)
            index = len(new) - 1
            if not keys:
                self._keyless += 1
        for k in keys:
            plan.in_file.setdefault(k[:2], index)
        if organization:
            plan.members.append((index, organization))

    def _organizations(self, plan: _Plan, names: dict[str, str], matches: _Matches) -> list[int]:
        """Give the rows the ids of the organizations they name, adding the missing ones to ``plan.new``; the new contacts' ids.

        A name is the organization a row of this batch updates or creates,
        else an existing one, else one created now.
        """
        by_name: dict[str, Any] = {}  # ("new", index) until the new contacts have ids
        for key, name in sorted(names.items()):
            existing = matches.many.get(("org", key))
            if key in plan.named:
                by_name[key] = plan.named[key]
            elif ("org", key) in plan.in_file:
                by_name[key] = ("new", plan.in_file[("org", key)])
            elif existing:
                by_name[key] = existing[0]
            else:
                made = {"kind": "organization", "display_name": name}
                if self.default_owner:
                    made["owner"] = self.default_owner
                plan.new.append(defaults(made))
                plan.lines.append(0)
                by_name[key] = ("new", len(plan.new) - 1)
                self.report.organizations_created += 1
        ids = reserve_ids(self.crm.database, len(plan.new)) if plan.new else []
        for target, organization in plan.members:
            org = by_name[name_key(organization)]
            org_id = ids[org[1]] if isinstance(org, tuple) else org
            if isinstance(target, int):
                if org_id != ids[target]:
                    plan.new[target]["organization_id"] = org_id
            else:
                target["organization_id"] = org_id
        return ids

    @staticmethod
    def _in_file(
        fields: dict[str, Any], keys: list[MatchKey], in_file: dict[MatchKey, int], new: list[dict[str, Any]]
    ) -> tuple[int | None, MatchKey | None]:
        """The earlier row of this batch the row matches, by the same rules as an existing contact."""
        for key in keys:
            if key[0] in _IDENTIFYING and key in in_file:
                return in_file[key], key
        for key in keys:
            index = in_file.get(key[:2])
            if index is None:
                continue
            if key[0] == "phone" and same_person(key[2], contact_names(new[index])):
                return index, key
            if key[0] == "org" and _same_external(fields, new[index].get("external_id")):
                return index, key
        return None, None


def _same_external(fields: dict[str, Any], external_id: str | None) -> bool:
    """Organizations of one name are one unless both have external ids and they differ."""
    mine = fields.get("external_id")
    return not mine or not external_id or mine == external_id


def _parents_first(new: list[dict[str, Any]], ids: list[int]) -> list[int]:
    """Indexes of ``new`` with each organization before the contacts that name it (MySQL checks each row's key at once)."""
    index_of = {cid: i for i, cid in enumerate(ids)}
    order: list[int] = []
    state: dict[int, int] = {}

    def visit(i: int) -> None:
        if state.get(i) == 2:
            return
        if state.get(i) == 1:  # a cycle of organizations naming each other: break it here
            new[i].pop("organization_id", None)
            return
        state[i] = 1
        parent = index_of.get(new[i].get("organization_id"))  # type: ignore[arg-type]
        if parent is not None:
            visit(parent)
        state[i] = 2
        order.append(i)

    for i in range(len(new)):
        visit(i)
    return order
