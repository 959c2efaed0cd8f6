"""The import engine: validate per row, match and write per batch.

For each batch of rows (``import_batch_size``):

1. rows are checked (:func:`crm_contacts.rows.validate_rows`), in worker
   processes for big files;
2. existing contacts are matched with one ``IN`` query per key: the contact
   id, then the external id, then any normalised e-mail, then any E.164
   phone (deleted contacts never match), and rows of the same file that
   share a key are folded together;
3. new contacts get ids reserved in one statement and are written with
   ``bulk_insert`` (contacts, e-mails, phones, addresses, tags, custom
   fields); matched ones are updated with one ``executemany`` per table,
   only when something changes;
4. ``ContactCreated`` / ``ContactChanged`` events go out with
   ``crm.events.emit_many``, in the batch's transaction.

A matched contact gains the row's e-mails, phones, addresses, tags and
custom fields, and the row's non-empty scalar fields replace its own, so
running the same import twice changes nothing the second time.
"""

from __future__ import annotations

import datetime as dt
import time
from collections import deque
from typing import TYPE_CHECKING, Any, Callable, Iterable, Iterator, Sequence

import attrs
from crm_hookspecs.events import ContactChanged, ContactCreated
from crm_hookspecs.records import FieldChange

from crm_core.errors import ValidationError
from crm_core.storage import bulk_insert, dialect

from crm_contacts.book import check_channel, chunks, stored_time
from crm_contacts.fields import DETAIL_FIELDS, display_name_for
from crm_contacts.mapping import Target
from crm_contacts.models import Contact, ListMember, MailingList
from crm_contacts.normalize import name_key
from crm_contacts.records import DATA_FIELDS, compact, snapshot
from crm_contacts.rows import validate_rows

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["ImportReport", "Importer", "RowError", "MATCH_KEYS"]

MATCH_KEYS = ("id", "external_id", "email", "phone")
#: errors kept in the report (all are counted)
MAX_ERRORS_KEPT = 1000
_SCALARS = (
    "kind", "display_name", "first_name", "last_name", "organization_id", "status", "region", "country", "owner", "language",
    "do_not_contact", "external_id", "notes", *DETAIL_FIELDS,
)
_CONTACT_COLUMNS = (
    "id", "kind", "display_name", "first_name", "last_name", "name_key", "organization_id", "status", "status_changed_at",
    "region", "country", "owner", "language", "do_not_contact", "external_id", "notes", "created_at", "updated_at", *DETAIL_FIELDS,
)


@attrs.frozen
class RowError:
    """A row that could not be used: where, which field, why."""

    line: int
    field: str
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.field}: {self.reason}"


@attrs.define
class ImportReport:
    source: str = ""
    layout: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    organizations_created: int = 0
    failed: int = 0
    errors: list[RowError] = attrs.field(factory=list)
    ignored_columns: tuple[str, ...] = ()
    dry_run: bool = False
    aborted: bool = False
    #: seconds spent per phase: read, validate, match, prepare (rows for the
    #: tables), write (the INSERT/UPDATE statements), events (building and
    #: writing them to the outbox), commit (each batch's, outbox included)
    timings: dict[str, float] = attrs.field(
        factory=lambda: {"read": 0.0, "validate": 0.0, "match": 0.0, "prepare": 0.0, "write": 0.0, "events": 0.0, "commit": 0.0}
    )
    contact_ids: list[int] = attrs.field(factory=list, repr=False)

    def add_error(self, error: RowError) -> None:
        self.failed += 1
        if len(self.errors) < MAX_ERRORS_KEPT:
            self.errors.append(error)

    def summary(self) -> str:
        verb = "would be" if self.dry_run else "were"
        text = (
            f"{self.rows} row(s) read from {self.source} ({self.layout} layout): {self.created} contact(s) {verb} created, "
            f"{self.updated} updated, {self.unchanged} unchanged, {self.failed} row(s) with errors"
        )
        if self.organizations_created:
            text += f"; {self.organizations_created} organization(s) {verb} created"
        if self.aborted:
            text += "; --all-or-nothing: nothing was imported"
        return text


#: values per IN (...) of the matching queries
MATCH_CHUNK = 2000
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
}


class _Abort(Exception):
    """Rolls back an all-or-nothing import."""


def _ids_for(database: Any, count: int) -> list[int]:
    """Reserve ``count`` new contact ids (inside the caller's write transaction)."""
    kind = dialect(database)
    if kind == "postgresql":
        cursor = database.execute_sql(
            "SELECT nextval(pg_get_serial_sequence('contacts_contact', 'id')) FROM generate_series(1, %s)", (count,)
        )
        return [r[0] for r in cursor.fetchall()]
    sql = "SELECT MAX(id) FROM contacts_contact" + (" FOR UPDATE" if kind == "mysql" else "")
    start = (database.execute_sql(sql).fetchone()[0] or 0) + 1
    return list(range(start, start + count))


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
        match_on: Sequence[str] = MATCH_KEYS,
        list_name: str | None = None,
        batch_size: int | None = None,
        jobs: int = 1,
        progress: Callable[[int], None] | None = None,
    ) -> None:
        check_channel(channel)
        unknown = [k for k in match_on if k not in MATCH_KEYS]
        if unknown:
            raise ValidationError(f"cannot match on {unknown[0]!r}; the keys are: {', '.join(MATCH_KEYS)}")
        self.crm = crm
        self.settings = crm.settings("contacts")
        self.region = self.settings.default_region or None
        self.actor = actor
        self.channel = channel
        self.dry_run = dry_run
        self.all_or_nothing = all_or_nothing
        self.match_on = tuple(match_on)
        self.list_name = list_name
        self.batch_size = batch_size or self.settings.import_batch_size
        self.jobs = max(1, jobs)
        self.progress = progress
        self.report = ImportReport(dry_run=dry_run)
        #: dry runs remember the keys of the contacts they would create
        self._dry_keys: dict[tuple[str, Any], int] = {}
        self._list_id: int | None = None

    # -- driving -------------------------------------------------------------

    def run(self, rows: Iterable[tuple[int, list[str]]], targets: Sequence[Target | None], width: int) -> ImportReport:
        report = self.report
        database = self.crm.database
        if self.list_name is not None:
            with self.crm.activate():
                found = MailingList.get_or_none(MailingList.name == self.list_name)
            if found is None:
                raise ValidationError(f"--list {self.list_name!r}: no such mailing list; create it with 'crm contacts lists create'")
            self._list_id = found.id
        previous = self.crm.deliver_events
        # handlers get the events after the import, not batch by batch in its middle
        self.crm.deliver_events = "worker"
        try:
            with self.crm.activate():
                if self.all_or_nothing and not self.dry_run:
                    try:
                        with database.atomic():
                            self._loop(rows, targets, width)
                            if report.failed:
                                raise _Abort()
                    except _Abort:
                        report.aborted = True
                        report.created = report.updated = report.unchanged = report.organizations_created = 0
                        report.contact_ids = []
                else:
                    self._loop(rows, targets, width)
        finally:
            self.crm.deliver_events = previous
        if previous == "after-commit" and not self.dry_run and not report.aborted and (report.created or report.updated):
            self.crm.events.deliver()
        return report

    def _validated(self, rows: Iterable[tuple[int, list[str]]], targets: Sequence[Target | None], width: int) -> Iterator[list[Any]]:
        """Batches of checked rows, in file order (validated in worker processes when jobs > 1)."""
        report = self.report
        clock = time.perf_counter
        source = iter(rows)

        def next_batch() -> list[tuple[int, list[str]]]:
            start = clock()
            batch = []
            for item in source:
                batch.append(item)
                if len(batch) >= self.batch_size:
                    break
            report.timings["read"] += clock() - start
            return batch

        if self.jobs == 1:
            while batch := next_batch():
                start = clock()
                checked = validate_rows(batch, targets, width, self.region)
                report.timings["validate"] += clock() - start
                yield checked
            return
        import concurrent.futures
        import multiprocessing

        context = multiprocessing.get_context("forkserver")
        with concurrent.futures.ProcessPoolExecutor(self.jobs, mp_context=context) as pool:
            pending: deque[Any] = deque()
            while True:
                while len(pending) < self.jobs * 2:
                    batch = next_batch()
                    if not batch:
                        break
                    pending.append(pool.submit(validate_rows, batch, targets, width, self.region))
                if not pending:
                    return
                start = clock()
                checked = pending.popleft().result()
                report.timings["validate"] += clock() - start  # time waited for the workers
                yield checked

    def _loop(self, rows: Iterable[tuple[int, list[str]]], targets: Sequence[Target | None], width: int) -> None:
        report = self.report
        for checked in self._validated(rows, targets, width):
            good = []
            for item in checked:
                if item[0] == "error":
                    report.add_error(RowError(item[1], item[2], item[3]))
                else:
                    good.append(item)
            report.rows += len(checked)
            if good and not (self.all_or_nothing and report.failed):
                if self.dry_run or self.all_or_nothing:
                    self._batch(good)
                else:
                    with self.crm.database.atomic():
                        self._batch(good)
                        committing = time.perf_counter()
                    report.timings["commit"] += time.perf_counter() - committing
            if self.progress is not None:
                self.progress(len(checked))

    # -- one batch -------------------------------------------------------------

    def _match(self, good: list[Any]) -> dict[tuple[str, Any], int]:
        """Existing contacts for the batch's keys: ``{(key, value): contact id}``."""
        wanted: dict[str, set[Any]] = {k: set() for k in MATCH_KEYS}
        for _, _, fields, _, contact_id in good:
            if contact_id is not None:
                wanted["id"].add(contact_id)
            if fields.get("external_id"):
                wanted["external_id"].add(fields["external_id"])
            for e in fields.get("emails", ()):
                wanted["email"].add(e["address"])
            for p in fields.get("phones", ()):
                wanted["phone"].add(p["number"])
        found: dict[tuple[str, Any], int] = {}
        database = self.crm.database
        p = database.param
        for key in self.match_on:
            values = sorted(wanted[key])
            # plain SQL: one statement per chunk of values, without building a
            # peewee expression (and converting) per value
            sql = _MATCH_SQL[key]
            for part in chunks(values, MATCH_CHUNK):
                cursor = database.execute_sql(sql.format(", ".join([p] * len(part))), list(part))
                for value, cid, deleted_at in cursor.fetchall():
                    if deleted_at is None:
                        found.setdefault((key, value), cid)  # the oldest live contact wins
        return found

    @staticmethod
    def _keys(fields: dict[str, Any], contact_id: int | None, match_on: Sequence[str]) -> list[tuple[str, Any]]:
        keys: list[tuple[str, Any]] = []
        if "id" in match_on and contact_id is not None:
            keys.append(("id", contact_id))
        if "external_id" in match_on and fields.get("external_id"):
            keys.append(("external_id", fields["external_id"]))
        if "email" in match_on:
            keys += [("email", e["address"]) for e in fields.get("emails", ())]
        if "phone" in match_on:
            keys += [("phone", p["number"]) for p in fields.get("phones", ())]
        return keys

    def _organizations(self, good: list[Any], now: dt.datetime) -> dict[str, int]:
        """Ids of the organizations the batch names, creating the missing ones."""
        names: dict[str, str] = {}
        for item in good:
            if item[3]:
                names.setdefault(name_key(item[3]), item[3])
        if not names:
            return {}
        out: dict[str, int] = {}
        for part in chunks(sorted(names)):
            # deleted ones are skipped here, not in SQL (see _MATCH_SQL)
            query = (
                Contact.select(Contact.name_key, Contact.id, Contact.deleted_at)
                .where(Contact.name_key.in_(part) & (Contact.kind == "organization"))
                .order_by(Contact.id)
            )
            for key, cid, deleted_at in query.tuples():
                if deleted_at is None:
                    out.setdefault(key, cid)
        missing = [k for k in sorted(names) if k not in out]
        if self.dry_run:
            # organizations this dry run has already counted (rows of the file, or names)
            out.update({k: -1 for k in missing if ("organization", k) in self._dry_keys})
            missing = [k for k in missing if k not in out]
            self._dry_keys.update({("organization", k): -1 for k in missing})
        if missing:
            new = [_defaults({"kind": "organization", "display_name": names[k]}) for k in missing]
            ids = self._write_new(new, now) if not self.dry_run else [-(i + 1) for i in range(len(new))]
            out.update(zip(missing, ids))
            self.report.organizations_created += len(missing)
        return out

    def _batch(self, good: list[Any]) -> None:
        # a file's organization rows go first, so that its people find them by
        # name instead of creating them a second time
        orgs_first = [item for item in good if item[2].get("kind") == "organization"]
        if orgs_first and len(orgs_first) < len(good):
            self._batch(orgs_first)
            self._batch([item for item in good if item[2].get("kind") != "organization"])
            return
        report = self.report
        clock = time.perf_counter
        now = self.crm.clock.now()
        start = clock()
        found = self._match(good)
        if self.dry_run:
            found = {**self._dry_keys, **found}
        orgs = self._organizations(good, now)
        report.timings["match"] += clock() - start
        # fold the rows: into an existing contact (by id) or a new one (by index)
        new: list[dict[str, Any]] = []
        new_keys: dict[tuple[str, Any], int] = {}
        updates: dict[int, list[dict[str, Any]]] = {}
        for _, _, fields, organization, contact_id in good:
            if organization:
                fields["organization_id"] = orgs[name_key(organization)]
            keys = self._keys(fields, contact_id, self.match_on)
            existing = next((found[k] for k in keys if k in found), None)
            if existing is not None and existing > 0:
                updates.setdefault(existing, []).append(fields)
                continue
            index = next((new_keys[k] for k in keys if k in new_keys), None)
            if index is None and existing is not None:
                continue  # dry run: already counted as created in an earlier batch
            if index is None:
                new.append(_defaults(fields))
                index = len(new) - 1
            else:
                new[index] = _fold(new[index], fields)
            for k in keys:
                new_keys.setdefault(k, index)
        if self.dry_run:
            report.created += len(new)
            for key, index in new_keys.items():
                self._dry_keys[key] = -1
            for f in new:
                if f["kind"] == "organization":
                    self._dry_keys[("organization", name_key(f["display_name"]))] = -1
            self._count_updates(updates, write=False, now=now)
            return
        ids = self._write_new(new, now) if new else []  # times itself
        report.created += len(new)
        report.contact_ids.extend(ids)
        self._count_updates(updates, write=True, now=now)
        if self._list_id is not None:
            self._add_to_list(ids + list(updates), now)

    # -- writing ---------------------------------------------------------------

    def _write_new(self, new: list[dict[str, Any]], now: dt.datetime) -> list[int]:
        database = self.crm.database
        timings = self.report.timings
        clock = time.perf_counter
        start = clock()
        ids = _ids_for(database, len(new))
        timings["write"] += clock() - start
        start = clock()
        at: Any = stored_time(now)
        if dialect(database) == "sqlite":
            # the text sqlite3's datetime adapter would store, made once per
            # batch instead of by an adapter call per value
            at = str(at)
        contacts, emails, phones, addresses, tags, custom = [], [], [], [], [], []
        for cid, f in zip(ids, new):
            contacts.append((
                cid, f["kind"], f["display_name"], f["first_name"], f["last_name"],
                name_key(f["display_name"], f["first_name"], f["last_name"]), f.get("organization_id"), f["status"],
                _stored_at(f.get("status_changed_at"), at),
                f.get("region"), f.get("country"), f.get("owner"), f.get("language"), f.get("do_not_contact", False),
                f.get("external_id"), f.get("notes"), at, at, *(f.get(k) for k in DETAIL_FIELDS),
            ))
            emails += child_rows("emails", cid, f.get("emails", ()))
            phones += child_rows("phones", cid, f.get("phones", ()))
            for a in f.get("addresses", ()):
                addresses.append((cid, a["kind"], a["street"], a["extra"], a["city"], a["postal_code"], a["region"], a["country"], a["primary"]))
            for t in f.get("tags", ()):
                tags.append((cid, t))
            for k, v in (f.get("custom") or {}).items():
                if v is not None:
                    custom.append((cid, k, v))
        timings["prepare"] += clock() - start
        start = clock()
        size = max(len(contacts), 1000)
        bulk_insert("contacts_contact", _CONTACT_COLUMNS, contacts, database=database, batch_size=size)
        bulk_insert("contacts_email", CHILD_TABLES["emails"][1], emails, database=database, batch_size=size)
        bulk_insert("contacts_phone", CHILD_TABLES["phones"][1], phones, database=database, batch_size=size)
        bulk_insert(
            "contacts_address", ("contact_id", "kind", "street", "extra", "city", "postal_code", "region", "country", "is_primary"),
            addresses, database=database, batch_size=size,
        )
        bulk_insert("contacts_tag", ("contact_id", "tag"), tags, database=database, batch_size=size)
        bulk_insert("contacts_custom", ("contact_id", "key", "value"), custom, database=database, batch_size=size)
        timings["write"] += clock() - start
        start = clock()
        events = []
        for cid, f in zip(ids, new):
            data = {k: f[k] for k in DATA_FIELDS if k in f}
            if "custom" in data:
                data["custom"] = {k: v for k, v in data["custom"].items() if v is not None}
            events.append(ContactCreated(contact_id=cid, kind=f["kind"], data=compact(data), actor=self.actor, channel=self.channel, occurred_at=now))
        self.crm.events.emit_many(events)
        timings["events"] += clock() - start
        return ids

    def _count_updates(self, updates: dict[int, list[dict[str, Any]]], *, write: bool, now: dt.datetime) -> None:
        if not updates:
            return
        report = self.report
        clock = time.perf_counter
        start = clock()
        api = self.crm.plugin("contacts")
        records = api._records(list(updates))
        changed: list[tuple[int, dict[str, Any], dict[str, Any], Any]] = []
        for cid, rows in updates.items():
            record = records.get(cid)
            if record is None:
                continue
            old = snapshot(record)
            new = dict(old)
            for fields in rows:
                new = _fold(new, fields)
            # the file's status date is not a field of its own: it dates a status change
            status_date = new.pop("status_changed_at", None)
            if new == old:
                report.unchanged += 1
                continue
            report.updated += 1
            if status_date is not None:
                new["status_changed_at"] = status_date
            changed.append((cid, old, new, record))
        report.timings["match"] += clock() - start
        if not write or not changed:
            return
        start = clock()
        database = self.crm.database
        at = stored_time(now)
        p = database.param
        q = database.quote[0] + "{}" + database.quote[1]
        columns = [c for c in _CONTACT_COLUMNS if c not in ("id", "created_at")]
        sql = f"UPDATE {q.format('contacts_contact')} SET " + ", ".join(f"{q.format(c)} = {p}" for c in columns) + f" WHERE {q.format('id')} = {p}"
        params = []
        events = []
        for cid, old, new, record in changed:
            status_date = new.pop("status_changed_at", None)
            status_at = stored_time(status_date or now) if new["status"] != old["status"] else stored_time(record.status_changed_at or now)
            values = {
                **{k: new[k] for k in _SCALARS},
                "name_key": name_key(new["display_name"], new["first_name"], new["last_name"]),
                "status_changed_at": status_at,
                "updated_at": at,
            }
            params.append([values[c] for c in columns] + [cid])
            changes = {k: FieldChange(old=old[k], new=new[k]) for k in DATA_FIELDS if old[k] != new[k]}
            events.append(ContactChanged(contact_id=cid, changes=changes, actor=self.actor, channel=self.channel, occurred_at=now))
        cursor = database.cursor()
        cursor.executemany(sql, params)
        rewrite: dict[str, list[tuple[int, dict[str, Any]]]] = {k: [] for k in ("emails", "phones", "addresses", "tags", "custom")}
        for cid, old, new, _ in changed:
            for key in rewrite:
                if old[key] != new[key]:
                    rewrite[key].append((cid, new))
        for key, items in rewrite.items():
            if not items:
                continue
            table, columns = CHILD_TABLES[key]
            for part in chunks([cid for cid, _ in items]):
                database.execute_sql(f"DELETE FROM {q.format(table)} WHERE {q.format('contact_id')} IN ({', '.join([p] * len(part))})", list(part))
            rows = [row for cid, new in items for row in child_rows(key, cid, new[key])]
            bulk_insert(table, columns, rows, database=database)
        report.timings["write"] += clock() - start
        start = clock()
        self.crm.events.emit_many(events)
        report.timings["events"] += clock() - start

    def _add_to_list(self, ids: list[int], now: dt.datetime) -> None:
        have: set[int] = set()
        for part in chunks(ids):
            have |= {r[0] for r in ListMember.select(ListMember.contact).where((ListMember.mailing_list == self._list_id) & ListMember.contact.in_(part)).tuples()}
        at = stored_time(now)
        bulk_insert(ListMember, ("mailing_list_id", "contact_id", "added_at"), [(self._list_id, i, at) for i in dict.fromkeys(ids) if i not in have], database=self.crm.database)


CHILD_TABLES = {
    "emails": ("contacts_email", ("contact_id", "address", "kind", "is_primary", "verified")),
    "phones": ("contacts_phone", ("contact_id", "number", "extension", "kind", "is_primary", "verified")),
    "addresses": ("contacts_address", ("contact_id", "kind", "street", "extra", "city", "postal_code", "region", "country", "is_primary")),
    "tags": ("contacts_tag", ("contact_id", "tag")),
    "custom": ("contacts_custom", ("contact_id", "key", "value")),
}


def child_rows(key: str, cid: int, value: Any) -> list[tuple[Any, ...]]:
    """Rows of ``CHILD_TABLES[key]`` for one contact's list (or dict) of ``key``."""
    if key == "emails":
        return [(cid, e["address"], e["kind"], e["primary"], e.get("verified", True)) for e in value]
    if key == "phones":
        return [(cid, p["number"], p.get("extension"), p["kind"], p["primary"], p.get("verified", True)) for p in value]
    if key == "addresses":
        return [(cid, a["kind"], a["street"], a["extra"], a["city"], a["postal_code"], a["region"], a["country"], a["primary"]) for a in value]
    if key == "tags":
        return [(cid, t) for t in value]
    return [(cid, k, v) for k, v in sorted(value.items()) if v is not None]


def _stored_at(when: dt.datetime | None, default: Any) -> Any:
    """A row's own status date (an export's ``status_changed_at``) as stored, else ``default``."""
    if when is None:
        return default
    stored = stored_time(when)
    return str(stored) if isinstance(default, str) else stored


def _defaults(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    out.setdefault("kind", "person")
    out.setdefault("first_name", "")
    out.setdefault("last_name", "")
    if not out.get("display_name"):
        out["display_name"] = display_name_for(out["kind"], out["first_name"], out["last_name"], None, out.get("emails"))
    out.setdefault("status", "prospect")
    if "custom" in out:
        out["custom"] = {k: v for k, v in out["custom"].items() if v is not None}
    return out


def _fold(current: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """``current`` (a snapshot-shaped dict) with a row's values added: scalars replace, lists grow."""
    out = dict(current)
    for key, value in fields.items():
        if key == "emails":
            have = {e["address"] for e in out.get("emails", ())}
            extra = [dict(e, primary=False) for e in value if e["address"] not in have]
            merged = [dict(e) for e in out.get("emails", ())] + extra
            if merged and not any(e["primary"] for e in merged):
                merged[0]["primary"] = True
            out["emails"] = merged
        elif key == "phones":
            have = {p["number"] for p in out.get("phones", ())}
            extra = [dict(p, primary=False) for p in value if p["number"] not in have]
            merged = [dict(p) for p in out.get("phones", ())] + extra
            if merged and not any(p["primary"] for p in merged):
                merged[0]["primary"] = True
            out["phones"] = merged
        elif key == "addresses":
            parts = ("street", "extra", "city", "postal_code", "region", "country")
            have = {tuple(a[k] for k in parts) for a in out.get("addresses", ())}
            extra = [dict(a, primary=False) for a in value if tuple(a[k] for k in parts) not in have]
            merged = [dict(a) for a in out.get("addresses", ())] + extra
            if merged and not any(a["primary"] for a in merged):
                merged[0]["primary"] = True
            out["addresses"] = merged
        elif key == "tags":
            out["tags"] = sorted(set(out.get("tags", ())) | set(value))
        elif key == "custom":
            merged = dict(out.get("custom") or {})
            merged.update({k: v for k, v in value.items() if v is not None})
            out["custom"] = merged
        elif value is not None and value != "":
            out[key] = value
    if "display_name" not in fields and ("first_name" in fields or "last_name" in fields):
        # a name derived from first and last name follows them (as in update())
        before = " ".join(p for p in (current.get("first_name"), current.get("last_name")) if p)
        if not current.get("display_name") or current.get("display_name") == before:
            derived = " ".join(p for p in (out.get("first_name"), out.get("last_name")) if p)
            if derived:
                out["display_name"] = derived
    return out
