"""Writing one import batch: new contacts, changed contacts, list members, with their events.

New contacts get ids reserved in one statement and are written with
``bulk_insert`` (contacts, e-mails, phones, addresses, tags, custom
fields); matched ones are updated with one ``executemany`` per table, only
when something changes. ``ContactCreated`` / ``ContactChanged`` events go
out with ``crm.events.emit_many``, in the batch's transaction.

A matched contact gains the row's e-mails, phones, addresses, tags and
custom fields, and the row's non-empty scalar fields replace its own
(:func:`fold`), so running the same import twice changes nothing the
second time.

A row's ``status_changed_at`` (an export's status date) is kept as the
contact's status date, for a new contact and for a status the row changes,
instead of the time of the import.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import TYPE_CHECKING, Any

from crm_contacts import words
from crm_contacts.book import IN_CHUNK
from crm_contacts.fields import DETAIL_FIELDS, display_name_for
from crm_contacts.importreport import ImportReport
from crm_contacts.models import ContactEmail, ContactPhone, ListMember
from crm_contacts.normalize import name_key
from crm_contacts.records import DATA_FIELDS, EMPTY_VALUES, snapshot
from crm_core.clock import naive_utc
from crm_core.storage import batched, bulk_insert, dialect
from crm_hookspecs.events import ContactChanged, ContactCreated
from crm_hookspecs.records import FieldChange

if TYPE_CHECKING:
    from crm_core.app import CRM

__all__ = ["BatchWriter", "CHILD_TABLES", "child_rows", "defaults", "fold", "reserve_ids"]

_SCALARS = (
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "organization_id",
    "status",
    "region",
    "country",
    "owner",
    "language",
    "do_not_contact",
    "external_id",
    "notes",
    *DETAIL_FIELDS,
)
_CONTACT_COLUMNS = (
    "id",
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "name_key",
    "organization_id",
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
    *DETAIL_FIELDS,
)
# an e-mail or phone kept as typed is stored unverified once the tables have the column
_EMAIL_VERIFIED = "verified" in ContactEmail._meta.fields
_PHONE_VERIFIED = "verified" in ContactPhone._meta.fields


def _record_key(record: Any) -> str:
    """The ``name_key`` a contact has now, from its record."""
    return name_key(record.display_name, record.first_name, record.last_name)


def reserve_ids(database: Any, count: int) -> list[int]:
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


class BatchWriter:
    """Writes batches for one import run, adding to its report's counts and timings."""

    def __init__(self, crm: CRM, report: ImportReport, actor: str | None, channel: str, list_id: int | None) -> None:
        self.crm = crm
        self.report = report
        self.actor = actor
        self.channel = channel
        self.list_id = list_id

    def write_new(self, new: list[dict[str, Any]], ids: list[int], now: dt.datetime) -> None:
        """Insert ``new`` contacts with the ``ids`` reserved for them (organizations before their members)."""
        database = self.crm.database
        timings = self.report.timings
        clock = time.perf_counter
        start = clock()
        at: Any = naive_utc(now)
        if dialect(database) == "sqlite":
            # the text sqlite3's datetime adapter would store, made once per
            # batch instead of by an adapter call per value
            at = str(at)
        contacts, emails, phones, addresses, tags, custom = [], [], [], [], [], []
        word_rows: list[tuple[int, str]] = []
        for cid, f in zip(ids, new):
            key = name_key(f["display_name"], f["first_name"], f["last_name"])
            word_rows += words.rows(cid, key)
            contacts.append(
                (
                    cid,
                    f["kind"],
                    f["display_name"],
                    f["first_name"],
                    f["last_name"],
                    key,
                    f.get("organization_id"),
                    f["status"],
                    _stored_at(f.get("status_changed_at"), at),
                    f.get("region"),
                    f.get("country"),
                    f.get("owner"),
                    f.get("language"),
                    f.get("do_not_contact", False),
                    f.get("external_id"),
                    f.get("notes"),
                    at,
                    at,
                    *(f.get(k) for k in DETAIL_FIELDS),
                )
            )
            emails += child_rows("emails", cid, f.get("emails", ()))
            phones += child_rows("phones", cid, f.get("phones", ()))
            for a in f.get("addresses", ()):
                addresses.append(
                    (
                        cid,
                        a["kind"],
                        a["street"],
                        a["extra"],
                        a["city"],
                        a["postal_code"],
                        a["region"],
                        a["country"],
                        a["primary"],
                    )
                )
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
            "contacts_address",
            ("contact_id", "kind", "street", "extra", "city", "postal_code", "region", "country", "is_primary"),
            addresses,
            database=database,
            batch_size=size,
        )
        bulk_insert("contacts_tag", ("contact_id", "tag"), tags, database=database, batch_size=size)
        bulk_insert("contacts_custom", ("contact_id", "key", "value"), custom, database=database, batch_size=size)
        # a contact has two or more words: all of the batch's in one statement (one COPY on PostgreSQL)
        bulk_insert("contacts_word", words.COLUMNS, word_rows, database=database, batch_size=max(len(word_rows), 1000))
        timings["write"] += clock() - start
        start = clock()
        events = []
        empty = EMPTY_VALUES
        for cid, f in zip(ids, new):
            # compact(): the fields without empty values, picked and filtered in one pass
            data = {k: v for k in DATA_FIELDS if k in f and (v := f[k]) not in empty}
            if "custom" in data:
                kept = {k: v for k, v in data["custom"].items() if v is not None}
                if kept:
                    data["custom"] = kept
                else:
                    del data["custom"]
            events.append(
                ContactCreated(
                    contact_id=cid,
                    kind=f["kind"],
                    data=data,
                    actor=self.actor,
                    channel=self.channel,
                    occurred_at=now,
                )
            )
        self.crm.events.emit_many(events)
        timings["events"] += clock() - start
        self.report.contact_ids.extend(ids)

    def update(self, updates: dict[int, list[dict[str, Any]]], now: dt.datetime) -> None:
        """Fold each matched contact's rows into it; write and count the ones that change."""
        if not updates:
            return
        report = self.report
        clock = time.perf_counter
        start = clock()
        from crm_contacts.book import AddressBook

        records = AddressBook(self.crm).records(list(updates))
        changed: list[tuple[int, dict[str, Any], dict[str, Any], Any]] = []
        for cid, rows in updates.items():
            record = records.get(cid)
            if record is None:
                continue
            old = snapshot(record)
            new = dict(old)
            for fields in rows:
                new = fold(new, fields)
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
        if not changed:
            return
        start = clock()
        database = self.crm.database
        at = naive_utc(now)
        p = database.param
        q = database.quote[0] + "{}" + database.quote[1]
        columns = [c for c in _CONTACT_COLUMNS if c not in ("id", "created_at")]
        sql = (
            f"UPDATE {q.format('contacts_contact')} SET "
            + ", ".join(f"{q.format(c)} = {p}" for c in columns)
            + f" WHERE {q.format('id')} = {p}"
        )
        params = []
        events = []
        renamed: list[tuple[int, str]] = []
        for cid, old, new, record in changed:
            status_date = new.pop("status_changed_at", None)
            status_at = (
                naive_utc(status_date or now)
                if new["status"] != old["status"]
                else naive_utc(record.status_changed_at or now)
            )
            values = {
                **{k: new[k] for k in _SCALARS},
                "name_key": name_key(new["display_name"], new["first_name"], new["last_name"]),
                "status_changed_at": status_at,
                "updated_at": at,
            }
            params.append([values[c] for c in columns] + [cid])
            if values["name_key"] != _record_key(record):
                renamed.append((cid, values["name_key"]))
            changes = {k: FieldChange(old=old[k], new=new[k]) for k in DATA_FIELDS if old[k] != new[k]}
            events.append(
                ContactChanged(contact_id=cid, changes=changes, actor=self.actor, channel=self.channel, occurred_at=now)
            )
        cursor = database.cursor()
        cursor.executemany(sql, params)
        words.rewrite(database, renamed)
        rewrite: dict[str, list[tuple[int, dict[str, Any]]]] = {
            k: [] for k in ("emails", "phones", "addresses", "tags", "custom")
        }
        for cid, old, new, _ in changed:
            for key in rewrite:
                if old[key] != new[key]:
                    rewrite[key].append((cid, new))
        for key, items in rewrite.items():
            if not items:
                continue
            table, child_columns = CHILD_TABLES[key]
            for part in batched([cid for cid, _ in items], IN_CHUNK):
                database.execute_sql(
                    f"DELETE FROM {q.format(table)} WHERE {q.format('contact_id')} IN ({', '.join([p] * len(part))})",
                    list(part),
                )
            new_rows = [row for cid, new in items for row in child_rows(key, cid, new[key])]
            bulk_insert(table, child_columns, new_rows, database=database)
        report.timings["write"] += clock() - start
        start = clock()
        self.crm.events.emit_many(events)
        report.timings["events"] += clock() - start

    def add_to_list(self, ids: list[int], now: dt.datetime) -> None:
        if self.list_id is None:
            return
        have: set[int] = set()
        for part in batched(ids, IN_CHUNK):
            have |= {
                r[0]
                for r in ListMember.select(ListMember.contact)
                .where((ListMember.mailing_list == self.list_id) & ListMember.contact.in_(part))
                .tuples()
                .iterator()
            }
        at = naive_utc(now)
        bulk_insert(
            ListMember,
            ("mailing_list_id", "contact_id", "added_at"),
            [(self.list_id, i, at) for i in dict.fromkeys(ids) if i not in have],
            database=self.crm.database,
        )


CHILD_TABLES = {
    "emails": (
        "contacts_email",
        ("contact_id", "address", "kind", "is_primary") + (("verified",) if _EMAIL_VERIFIED else ()),
    ),
    "phones": (
        "contacts_phone",
        ("contact_id", "number", "extension", "kind", "is_primary") + (("verified",) if _PHONE_VERIFIED else ()),
    ),
    "addresses": (
        "contacts_address",
        ("contact_id", "kind", "street", "extra", "city", "postal_code", "region", "country", "is_primary"),
    ),
    "tags": ("contacts_tag", ("contact_id", "tag")),
    "custom": ("contacts_custom", ("contact_id", "key", "value")),
}


def child_rows(key: str, cid: int, value: Any) -> list[tuple[Any, ...]]:
    """Rows of ``CHILD_TABLES[key]`` for one contact's list (or dict) of ``key``."""
    if key == "emails":
        return [_email_row(cid, e) for e in value]
    if key == "phones":
        return [_phone_row(cid, p) for p in value]
    if key == "addresses":
        return [
            (
                cid,
                a["kind"],
                a["street"],
                a["extra"],
                a["city"],
                a["postal_code"],
                a["region"],
                a["country"],
                a["primary"],
            )
            for a in value
        ]
    if key == "tags":
        return [(cid, t) for t in value]
    return [(cid, k, v) for k, v in sorted(value.items()) if v is not None]


def _email_row(cid: int, e: dict[str, Any]) -> tuple[Any, ...]:
    row = (cid, e["address"], e["kind"], e["primary"])
    return row + (e.get("verified", True),) if _EMAIL_VERIFIED else row


def _phone_row(cid: int, p: dict[str, Any]) -> tuple[Any, ...]:
    row = (cid, p["number"], p.get("extension"), p["kind"], p["primary"])
    return row + (p.get("verified", True),) if _PHONE_VERIFIED else row


def _stored_at(when: dt.datetime | None, default: Any) -> Any:
    """A row's own status date (an export's ``status_changed_at``) as stored, else ``default``."""
    if when is None:
        return default
    stored = naive_utc(when)
    return str(stored) if isinstance(default, str) else stored


def defaults(fields: dict[str, Any]) -> dict[str, Any]:
    out = dict(fields)
    out.setdefault("kind", "person")
    out.setdefault("first_name", "")
    out.setdefault("last_name", "")
    if not out.get("display_name"):
        out["display_name"] = display_name_for(
            out["kind"], out["first_name"], out["last_name"], None, out.get("emails")
        )
    out.setdefault("status", "prospect")
    if "custom" in out:
        out["custom"] = {k: v for k, v in out["custom"].items() if v is not None}
    return out


def fold(current: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
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
            custom = dict(out.get("custom") or {})
            custom.update({k: v for k, v in value.items() if v is not None})
            out["custom"] = custom
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
