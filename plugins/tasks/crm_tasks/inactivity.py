"""Inactivity rules: a task for each customer with no won sale in N days, once per period.

A customer is quiet from the **later** of its last won sale and the day it
(last) became a customer: one who arrived yesterday is not quiet, whenever
it last bought. Where the customers and those two dates come from:

* the warehouse, when it is enabled: its API's ``customers_quiet_since(since)``
  (one set-based query over its reporting tables: the last won sale from the
  sales facts, the day the current spell as a customer began from the status
  history). A warehouse that predates that call offers only
  ``customers_without_won_sale_since``, which knows no start day: then a
  customer who never bought counts as quiet at once;
* otherwise ``tasks_activity``, which this plugin keeps (while the warehouse
  does not answer) from the events it sees: the status and the day it became
  ``customer`` from ``ContactCreated``/``ContactChanged`` (the event's time,
  as a day of the app's time zone), the purchases from won ``SaleClosed``
  (their ``closed_on``, or the event's day). It knows only what happened
  after tasks was enabled; queried with one indexed statement per page.

A period is identified by its start: the firing key is ``<contact>:<last
purchase>`` when the quiet spell began with a purchase, ``<contact>:never``
for a customer who never bought, and ``<contact>:since-<day>`` for one who
bought before but became a customer again later; unique per rule, so a
customer gets one task per inactivity period however often the scan runs,
and a new one only after buying again and going quiet again.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

from crm_core.clock import naive_utc
from crm_core.errors import NotFoundError
from crm_core.memory import collector_paused
from crm_core.storage import batched, bulk_insert
from crm_tasks.notify import Notice

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.firing import RuleEngine
    from crm_tasks.notify import Notifications
    from crm_tasks.settings import TasksSettings
    from crm_tasks.staff import Staff
    from crm_tasks.store import TaskStore

__all__ = ["InactivityScan", "period", "source", "track", "warehouse_source"]

PAGE = 5000


# -- keeping tasks_activity from events -------------------------------------------


def track(crm: CRM, events: Sequence[Any]) -> None:
    """Fold a batch of events into ``tasks_activity`` (three statements per batch at most)."""
    from crm_tasks.models import Activity

    state: dict[int, dict[str, Any]] = {}
    gone: set[int] = set()
    for e in events:
        name = e.type_name
        if name == "ContactCreated":
            status = e.data.get("status") if isinstance(e.data, dict) else None
            day = _day(crm, e.occurred_at)
            state[e.contact_id] = {
                "status": status,
                "customer_since": day if status == "customer" else None,
                "new": True,
            }
            gone.discard(e.contact_id)
        elif name == "ContactChanged" and "status" in e.changes:
            new = e.changes["status"].new
            entry = state.setdefault(e.contact_id, {})
            entry["status"] = new
            if new == "customer":
                entry["customer_since"] = _day(crm, e.occurred_at)
        elif name == "SaleClosed" and e.won and e.contact_id is not None:
            day = e.closed_on or _day(crm, e.occurred_at)
            entry = state.setdefault(e.contact_id, {})
            if entry.get("last_purchase") is None or day > entry["last_purchase"]:
                entry["last_purchase"] = day
        elif name in ("ContactDeleted", "ContactErased"):
            state.pop(e.contact_id, None)
            gone.add(e.contact_id)
        elif name == "ContactsMerged":
            merged = state.pop(e.merged_id, {})
            gone.add(e.merged_id)
            entry = state.setdefault(e.survivor_id, {})  # its stored row is read below
            if merged.get("last_purchase"):
                if entry.get("last_purchase") is None or merged["last_purchase"] > entry["last_purchase"]:
                    entry["last_purchase"] = merged["last_purchase"]
    if not state and not gone:
        return
    ids = sorted(set(state) | gone)
    old: dict[int, dict[str, Any]] = {}
    for part in batched(ids, 500):
        for a in Activity.select().where(Activity.contact_id.in_(part)):
            old[a.contact_id] = {
                "status": a.status,
                "customer_since": a.customer_since,
                "last_purchase": a.last_purchase,
            }
    # a merged contact's last purchase moves to the survivor even when only the table knew it
    for e in events:
        if e.type_name == "ContactsMerged" and e.merged_id in old and old[e.merged_id].get("last_purchase"):
            entry = state.setdefault(e.survivor_id, {})
            last = old[e.merged_id]["last_purchase"]
            if entry.get("last_purchase") is None or last > entry["last_purchase"]:
                entry["last_purchase"] = last
    rows = []
    for cid, change in state.items():
        row = dict(old.get(cid, {"status": None, "customer_since": None, "last_purchase": None}))
        if change.pop("new", False):
            row["status"] = change.get("status")
            row["customer_since"] = change.get("customer_since")
        for key in ("status", "customer_since"):
            if key in change:
                row[key] = change[key]
        if change.get("last_purchase") and (
            row["last_purchase"] is None or change["last_purchase"] > row["last_purchase"]
        ):
            row["last_purchase"] = change["last_purchase"]
        rows.append((cid, row["status"], row["customer_since"], row["last_purchase"]))
    for part in batched(sorted(set(old)), 500):
        Activity.delete().where(Activity.contact_id.in_(part)).execute()
    bulk_insert(Activity, ("contact_id", "status", "customer_since", "last_purchase"), rows, database=crm.database)


def _day(crm: CRM, when: dt.datetime | None) -> dt.date:
    return (when or crm.clock.now()).astimezone(crm.tz).date()


# -- the candidates -----------------------------------------------------------------


def warehouse_source(crm: CRM) -> Any:
    """The warehouse's call giving the quiet customers, when it is enabled and offers one."""
    if not crm.has_plugin("warehouse"):
        return None
    warehouse = crm.plugin("warehouse")
    return getattr(warehouse, "customers_quiet_since", None) or getattr(
        warehouse, "customers_without_won_sale_since", None
    )


#: a quiet customer: (contact id, last won sale or None, day it became a customer or None if unknown)
Quiet = tuple[int, "dt.date | None", "dt.date | None"]


def source(crm: CRM, cutoff: dt.date) -> Iterator[Quiet]:
    """Customers whose last won sale and becoming a customer are both before ``cutoff``."""
    finder = warehouse_source(crm)
    if finder is not None:
        for cid, value in sorted(finder(cutoff).items()):
            # customers_quiet_since gives (last, since); the older call the last purchase alone
            last, since = value if isinstance(value, tuple) else (value, None)
            yield cid, last, since
        return
    from crm_tasks.models import Activity

    last = 0
    while True:
        page = list(
            Activity.select(Activity.contact_id, Activity.last_purchase, Activity.customer_since)
            .where(
                (Activity.contact_id > last)
                & (Activity.status == "customer")
                & (Activity.last_purchase.is_null() | (Activity.last_purchase < cutoff))
                & (Activity.customer_since.is_null() | (Activity.customer_since < cutoff))
            )
            .order_by(Activity.contact_id)
            .limit(PAGE)
            .tuples()
            .iterator()
        )
        if not page:
            return
        yield from page
        last = page[-1][0]


def period(contact_id: int, last: dt.date | None, since: dt.date | None) -> tuple[str, dt.date | None]:
    """The firing key of a quiet customer's current period, and the day the period began."""
    if since is not None and (last is None or since > last):
        if last is None:
            return f"{contact_id}:never", since
        return f"{contact_id}:since-{since.isoformat()}", since
    return f"{contact_id}:{last.isoformat() if last else 'never'}", last


# -- the scan -------------------------------------------------------------------------


class InactivityScan:
    """The inactivity rules of one app, fired by the daily scan (worker job ``tasks.inactivity``)."""

    def __init__(
        self, crm: CRM, staff: Staff, store: TaskStore, engine: RuleEngine, notifications: Notifications
    ) -> None:
        self.crm = crm
        self._staff = staff
        self._store = store
        self._engine = engine
        self._notifications = notifications

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    @overload
    def scan(self, *, rule: str | None = None, dry_run: Literal[True]) -> list[dict[str, Any]]: ...
    @overload
    def scan(self, *, rule: str | None = None, dry_run: bool = False) -> list[dict[str, Any]] | int: ...
    def scan(self, *, rule: str | None = None, dry_run: bool = False) -> list[dict[str, Any]] | int:
        """Fire the inactivity rules (or preview them, ``dry_run``); return the count or the preview rows.

        Each page of candidates is its own transaction: a long scan commits as
        it goes and, being keyed, resumes where it stopped if interrupted.
        """
        from crm_tasks.rules import Match

        crm, engine = self.crm, self._engine
        rules = engine.rules()
        selected = rules.inactivity_rules()
        if rule is not None:
            selected = [r for r in selected if r.name == rule]
            if not selected and rule not in rules.by_name:
                raise NotFoundError(f"no rule {rule!r}; the rules are: {', '.join(rules.by_name) or 'none'}")
        total = 0
        preview: list[dict[str, Any]] = []
        today = crm.today()
        # a first scan makes a quarter of a million tasks, drafts and events: the cyclic collector
        # walked them over and over (7% of its CPU) and found nothing, so it waits for the end of each page
        with crm.activate(), collector_paused() as tidy:
            for r in selected:
                assert r.days is not None  # compiling an inactivity rule checked that it has days
                cutoff = today - dt.timedelta(days=r.days)
                # what the log held when it was read (SQLite: its largest id), taken before reading it
                mark = engine.log_mark()
                # a rule that never fired (its first scan) has nothing to drop: the look-up below is left
                # out. Only a saving: inside each page's transaction the log is checked again in any case
                logged = engine.has_fired(r.name)
                candidates = source(crm, cutoff)
                while True:
                    page = list(itertools.islice(candidates, PAGE))
                    if not page:
                        break
                    tidy()
                    # most candidates were handled on an earlier day: drop them by key first
                    keys = [period(cid, last, since) for cid, last, since in page]
                    fired = {key for _, key in engine.fired_keys((r.name, key) for key, _ in keys)} if logged else set()
                    matches = [
                        Match(
                            rule=r,
                            key=key,
                            event=None,
                            contact_id=cid,
                            extra={
                                "contact_id": cid,
                                "last_purchase": last.isoformat() if last else "never",
                                "customer_since": since.isoformat() if since else None,
                                # days quiet: since the period began (None when a warehouse cannot tell)
                                "days": (today - began).days if began else None,
                            },
                        )
                        for (cid, last, since), (key, began) in zip(page, keys)
                        if key not in fired  # the keys of this rule
                    ]
                    if not matches:
                        continue
                    if dry_run:
                        preview += engine.preview(matches, check_done=False)
                        continue
                    count, mark = self._fire(matches, mark)
                    total += count
        return preview if dry_run else total

    def _fire(self, matches: Sequence[Any], mark: int | None) -> tuple[int, int | None]:
        """Fire one page of an inactivity rule's matches in one transaction; return how many fired, and the new mark.

        The tasks (or notices) are rendered before the transaction begins, so
        the write lock (SQLite's ``BEGIN IMMEDIATE``, the outbox lock on the
        servers) is held only while the rows are written. Inside it the firing
        log is read again: what another worker fired meanwhile is dropped.
        On SQLite, where the log's largest id (``mark``, taken before the
        scan read the log and after each page's writes) shows whether anyone
        logged a firing since, the keys are read again only if someone did.
        """
        from crm_tasks.firing import FIRING_COLUMNS, firing_row
        from crm_tasks.store import bound_time

        crm, engine = self.crm, self._engine
        now = crm.clock.now().replace(microsecond=0)
        # now has whole seconds already; as the driver binds it, made once for every row
        fired_at = bound_time(crm.database, naive_utc(now))
        planned = engine.plan(matches, now)
        with crm.transaction():
            now_mark = engine.log_mark()
            if mark is None or now_mark != mark:  # someone may have fired some of them meanwhile
                fresh = {id(m) for m in engine.not_fired(matches)}  # again, inside the transaction that writes
                planned = [p for p in planned if id(p.match) in fresh]
            if not planned:
                return 0, now_mark
            drafts = [p.draft for p in planned if p.draft is not None]
            created = {d.origin_key: tid for d, tid in self._store.create_many(drafts, notify=False, checked=True)}
            rows = []
            notices: list[Notice] = []
            per_assignee: dict[str, list[tuple[int, str]]] = {}
            for p in planned:
                if p.failed:
                    rows.append(firing_row(p.match, fired_at, "failed", None, p.detail))
                elif p.draft is not None:
                    tid = created.get(p.draft.origin_key)
                    rows.append(firing_row(p.match, fired_at, "created" if tid else "skipped", tid, p.detail))
                    if tid and p.draft.assignee:
                        per_assignee.setdefault(p.draft.assignee, []).append((tid, p.draft.title))
                else:
                    notices.extend(p.notices)
                    rows.append(firing_row(p.match, fired_at, "notified", None, p.detail))
            # the page's notices in one go (a look-up, an insert, a queueing), not per customer
            self._notifications.send(notices)
            bulk_insert("tasks_firing", FIRING_COLUMNS, rows, database=crm.database)
            mark = engine.log_mark()  # what this page logged, inside its transaction
            if self.settings.reminders.on_assign:
                self._digest(matches[0].rule.name, per_assignee, now)
        return len(planned), mark

    def _digest(self, rule: str, per_assignee: dict[str, list[tuple[int, str]]], now: dt.datetime) -> None:
        """One e-mail per assignee for a page of new tasks, not one per task."""
        roster = self._staff.roster(per_assignee)
        notices = []
        for name, tasks in per_assignee.items():
            member = roster.member(name)
            if member is None:
                continue
            lines = "\n".join(f"  #{tid}  {title}" for tid, title in tasks[:50])
            more = f"\n  … and {len(tasks) - 50} more (crm tasks list --assignee {name})" if len(tasks) > 50 else ""
            notices.append(
                Notice(
                    key=f"tasks:digest:{rule}:{name}:{now.strftime('%Y%m%dT%H%M%S')}:{tasks[0][0]}",
                    kind="assigned",
                    member=member,
                    subject=f"{len(tasks)} new task(s) for you from rule {rule}",
                    text=f"Rule {rule} gave you {len(tasks)} task(s):\n\n{lines}{more}\n",
                )
            )
        self._notifications.send(notices)
