"""The rules engine's database part: firing rules once, logging, delaying, previewing.

:meth:`RuleEngine.handle` is the plugin's event handler. For a batch of events it
finds the matches (:mod:`crm_tasks.rules`), drops those already fired (the
``tasks_firing`` log has one row per rule and event, unique), and then, with
a few set-based statements, creates the tasks (:meth:`crm_tasks.store.TaskStore.create_many`),
queues the notifications, schedules the delayed actions and logs each firing.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import attrs

from crm_core.clock import naive_utc
from crm_core.errors import ConfigError, CRMError, PluginError
from crm_core.storage import batched, bulk_insert, for_update
from crm_tasks.records import Draft, FiringInfo
from crm_tasks.rules import (
    Context,
    Match,
    MissingContact,
    Rule,
    RuleSet,
    compile_rules,
    compiled,
    people_named,
    render,
)
from crm_tasks.settings import PRIORITIES, RuleSettings, parse_duration
from crm_tasks.store import db_time

if TYPE_CHECKING:
    from crm_core.app import CRM
    from crm_tasks.notify import Notifications
    from crm_tasks.settings import TasksSettings
    from crm_tasks.staff import Roster, Staff
    from crm_tasks.store import TaskStore

__all__ = ["FIRING_COLUMNS", "Planned", "RuleEngine", "firing_row"]

CHUNK = 500
FIRING_COLUMNS = ("rule", "key", "event_type", "contact_id", "fired_at", "outcome", "task_id", "detail")


@attrs.frozen
class Planned:
    """What one match would do: a task draft or notices, or why it cannot."""

    match: Match
    draft: Draft | None = None
    notices: tuple[Any, ...] = ()
    detail: str = ""
    failed: bool = False


@attrs.frozen
class _Shared:
    """What every draft of one task rule gets, whatever the match: worked out once per batch."""

    team: str | None
    due_at: dt.datetime | None
    priority: int
    origin: str

    @classmethod
    def of(cls, rule: Rule, now: dt.datetime, roster: Roster) -> _Shared:
        t = rule.settings.task
        return cls(
            team=(roster.team(t.team) or t.team) if t.team else None,
            due_at=(now + parse_duration(t.due_in)) if t.due_in else None,
            priority=PRIORITIES[t.priority],
            origin="inactivity" if rule.trigger == "inactivity" else "rule",
        )


def firing_row(m: Match, fired_at: dt.datetime, outcome: str, task_id: int | None, detail: str) -> tuple[Any, ...]:
    """A ``tasks_firing`` row (columns: ``FIRING_COLUMNS``) for what a match did.

    ``fired_at`` is already in its stored form (naive UTC, whole seconds: converted once per batch).
    """
    event_type = m.event.type_name if m.event is not None else None
    return (m.rule.name, m.key, event_type, m.contact_id, fired_at, outcome, task_id, detail)


class RuleEngine:
    """The rules of one app: loading them, firing them on events, their delayed actions and log.

    It creates tasks through the :class:`~crm_tasks.store.TaskStore` and sends
    notices through :class:`~crm_tasks.notify.Notifications`; the people the
    rules name are looked up in a :class:`~crm_tasks.staff.Roster` taken once
    per batch.
    """

    def __init__(self, crm: CRM, staff: Staff, store: TaskStore, notifications: Notifications) -> None:
        self.crm = crm
        self._staff = staff
        self._store = store
        self._notifications = notifications
        self._rules: RuleSet | None = None

    @property
    def settings(self) -> TasksSettings:
        settings: TasksSettings = self.crm.settings("tasks")
        return settings

    def rules(self) -> RuleSet:
        """The rules from the configuration and from plugins' ``crm_task_rules``, compiled once."""
        if self._rules is None:
            self._rules = self.load_rules()
        return self._rules

    # -- loading --------------------------------------------------------------------

    def load_rules(self) -> RuleSet:
        """The config's rules, then each plugin's ``crm_task_rules``, compiled and checked."""
        from crm_core.config import structure_section

        crm = self.crm
        sources: list[tuple[str, Sequence[RuleSettings]]] = [("plugins.tasks.rules", self.settings.rules)]
        for plugin in crm.hooks.implementers("crm_task_rules"):
            fn = crm.hooks.function("crm_task_rules", plugin)
            assert fn is not None  # implementers() named the plugin
            source = f"plugin {plugin!r} (crm_task_rules)"
            try:
                tables = fn(crm=crm) or ()
            except CRMError:
                raise
            except Exception as exc:  # third-party code: say whose hook failed
                raise PluginError(plugin, f"{source} failed: {type(exc).__name__}: {exc}") from exc
            if not isinstance(tables, (list, tuple)):
                raise ConfigError(f"{source}: return a list of rule dicts, not {type(tables).__name__}")
            items = []
            for i, table in enumerate(tables):
                if isinstance(table, RuleSettings):
                    items.append(table)
                    continue
                if not isinstance(table, dict):
                    raise ConfigError(
                        f"{source}: rule {i} must be a dict in the [[plugins.tasks.rules]] format, not {type(table).__name__}"
                    )
                items.append(structure_section(dict(table), RuleSettings, source, f"rules[{i}]"))
            sources.append((source, items))
        # the people the rules name, looked up once (by name when they are few; everyone for teams)
        people, teams = people_named([item for _, batch in sources for item in batch])
        roster = self._staff.roster(None if teams else people) if people or teams else None
        rules: list[Rule] = []
        names: dict[str, str] = {}
        for source, batch in sources:
            try:
                compiled = compile_rules(batch, roster, source=source)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
            for rule in compiled:
                if rule.name in names:
                    raise ConfigError(
                        f"{source}: rule {rule.name!r} is already defined by {names[rule.name]}; rule names must be unique"
                    )
                names[rule.name] = source
                rules.append(rule)
        return RuleSet(rules)

    # -- handling events ------------------------------------------------------------

    def handle(self, events: Sequence[Any]) -> int:
        """Track activity, cancel delayed actions of closed records, fire the rules; return the firings."""
        from crm_tasks import inactivity

        crm = self.crm
        rules = self.rules()
        if not inactivity.warehouse_source(crm):
            inactivity.track(crm, events)
        if any(r.only_if_open for r in rules.rules):
            self._cancel_closed(events)
        matches = rules.match(events)
        if not matches:
            return 0
        matches = self.not_fired(matches)
        if not matches:
            return 0
        now = crm.clock.now().replace(microsecond=0)
        delayed = [m for m in matches if m.rule.delay is not None]
        if delayed:
            self._schedule(delayed, now)
        immediate = [m for m in matches if m.rule.delay is None]
        rows = self.execute(immediate, now)
        fired_at = naive_utc(now)  # now has whole seconds already
        bulk_insert(
            "tasks_firing",
            FIRING_COLUMNS,
            [firing_row(m, fired_at, outcome, task_id, detail) for m, outcome, task_id, detail in rows],
            database=crm.database,
        )
        return len(matches)

    def log_mark(self) -> int | None:
        """On SQLite, the firing log's largest id; ``None`` on the servers.

        While it stays the same nobody logged a firing: on SQLite writers take
        turns, a new row's id is above every other, and the log's rows are
        never deleted. On PostgreSQL and MariaDB a transaction may commit
        rows with ids below one already seen, so there is no such mark.
        """
        from crm_core.storage import dialect

        database = self.crm.database
        if dialect(database) != "sqlite":
            return None
        return int(database.execute_sql("SELECT MAX(id) FROM tasks_firing").fetchone()[0] or 0)

    def has_fired(self, rule: str) -> bool:
        """Whether the firing log holds any firing of ``rule`` (one probe of its unique index)."""
        database = self.crm.database
        sql = f"SELECT 1 FROM tasks_firing WHERE rule = {database.param} LIMIT 1"
        return database.execute_sql(sql, (rule,)).fetchone() is not None

    def fired_keys(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which ``(rule, key)`` pairs the firing log already holds.

        Looked up rule by rule (``rule = ? AND key IN (…)``), so that the unique
        index on ``(rule, key)`` serves every look-up.
        """
        from crm_tasks.store import quote, rows_in

        crm = self.crm
        database = crm.database
        by_rule: dict[str, set[str]] = {}
        for rule, key in pairs:
            by_rule.setdefault(rule, set()).add(key)
        key_col = quote(database, "key")
        sql = f"SELECT {key_col} FROM tasks_firing WHERE rule = {database.param} AND {key_col} {{in}}"
        found: set[tuple[str, str]] = set()
        for rule, keys in by_rule.items():
            found.update((rule, k) for (k,) in rows_in(database, sql, sorted(keys), params=(rule,)))
        return found

    def not_fired(self, matches: Sequence[Match]) -> list[Match]:
        """The matches the firing log does not hold yet (each once)."""
        fired = self.fired_keys((m.rule.name, m.key) for m in matches)
        out = []
        for m in matches:
            if (m.rule.name, m.key) not in fired:
                fired.add((m.rule.name, m.key))  # an event twice in one batch fires once
                out.append(m)
        return out

    def _schedule(self, matches: Sequence[Match], now: dt.datetime) -> None:
        from crm_hookspecs.events import to_payload

        crm = self.crm
        rows = []
        fired = []
        fired_at = naive_utc(now)  # now has whole seconds already
        for m in matches:
            assert m.rule.delay is not None  # only rules with a delay are scheduled
            due = now + m.rule.delay
            type_name, payload = to_payload(m.event)
            rows.append(
                (
                    m.rule.name,
                    m.key,
                    type_name,
                    json.dumps(payload, default=str),
                    db_time(due),
                    m.record_id,
                    m.contact_id,
                )
            )
            fired.append(firing_row(m, fired_at, "scheduled", None, f"due {due.isoformat()}"))
        bulk_insert(
            "tasks_pending",
            ("rule", "key", "event_type", "payload", "run_at", "record_id", "contact_id"),
            rows,
            database=crm.database,
        )
        bulk_insert(
            "tasks_firing",
            FIRING_COLUMNS,
            fired,
            database=crm.database,
        )

    def _cancel_closed(self, events: Sequence[Any]) -> None:
        """A sales record that closes cancels the delayed actions waiting for it to stay open."""
        from crm_tasks.models import Pending

        crm = self.crm
        settings = self.settings
        closed = set()
        for e in events:
            name = e.type_name
            if name == "SaleClosed" or (name == "StageChanged" and e.new_stage in settings.closed_stages):
                closed.add(e.record_id)
        if not closed:
            return
        from crm_tasks.models import Firing

        now = crm.clock.now()
        for ids in batched(sorted(closed), CHUNK):
            waiting = (
                Pending.select(Pending.id, Pending.rule, Pending.key, Pending.record_id)
                .where(Pending.record_id.in_(ids) & Pending.done_at.is_null())
                .tuples()
                .iterator()
            )
            rows = list(waiting)
            if not rows:
                continue
            Pending.update(done_at=now, outcome="cancelled").where(Pending.id.in_([r[0] for r in rows])).execute()
            for _, rule, key, record_id in rows:  # few: the requests closed in this batch
                Firing.update(outcome="cancelled", detail=f"record {record_id} closed before the delay was over").where(
                    (Firing.rule == rule) & (Firing.key == key)
                ).execute()

    # -- doing what the rules say ------------------------------------------------

    def plan(self, matches: Sequence[Match], now: dt.datetime) -> list[Planned]:
        """Render each match's task or notification (no writes)."""
        cards = self._cards([m.contact_id for m in matches if m.contact_id is not None])
        roster = self._staff.roster()
        local = now.astimezone(self.crm.tz)  # the templates' {now} and {today}: once, not per match
        # what a task rule's drafts share (team, due time, priority), worked out once per rule, not per match
        shared: dict[str, _Shared | None] = {}
        return [self._plan_one(m, cards, now, local, roster, shared) for m in matches]

    def _cards(self, ids: Sequence[int]) -> dict[int, Any]:
        crm = self.crm
        if not ids or not crm.has_plugin("contacts"):
            return {}
        contacts = crm.plugin("contacts")
        out: dict[int, Any] = {}
        for part in batched(sorted(set(ids)), CHUNK):
            out.update((c.id, c) for c in contacts.cards(part))
        return out

    def _plan_one(
        self,
        m: Match,
        cards: dict[int, Any],
        now: dt.datetime,
        local: dt.datetime,
        roster: Roster,
        shared: dict[str, _Shared | None] | None = None,
    ) -> Planned:
        rule = m.rule
        contact = cards.get(m.contact_id) if m.contact_id is not None else None
        if contact is None:
            contact = MissingContact(m.contact_id)
        ctx = Context(m, contact, local)
        try:
            if rule.action == "task":
                t = rule.settings.task
                notes = []
                assignee = compiled(t.assignee).render(ctx).strip() if t.assignee else None
                member = roster.member(assignee) if assignee else None
                if assignee and member is None:
                    notes.append(f"assignee {assignee!r} is not a staff member: task left unassigned")
                    assignee = None
                elif member is not None:
                    assignee = member.name
                elif assignee == "" and t.assignee:
                    notes.append(f"{t.assignee} is empty for this event: task left unassigned")
                    assignee = None
                links: list[tuple[str, int]] = []
                if m.record_id is not None:
                    links.append(
                        (
                            "request" if m.event is not None and m.event.type_name == "RequestReceived" else "sale",
                            m.record_id,
                        )
                    )
                if m.event is not None:  # an inactivity match has no event, and so no more links
                    response = getattr(m.event, "response_id", None)
                    if response is not None and m.event.type_name == "SurveyAnswered":
                        links.append(("survey_response", int(response)))  # the answer it follows up
                    for other in m.event.contact_ids()[1:]:
                        links.append(("contact", other))
                title = compiled(t.title).render(ctx).strip()[:300] or rule.name
                fixed = shared.get(rule.name) if shared is not None else None
                if fixed is None:
                    # raises here, after the title as it always did, for a rule whose due_in cannot be read
                    fixed = _Shared.of(rule, now, roster)
                    if shared is not None:
                        shared[rule.name] = fixed
                draft = Draft(
                    title=title,
                    kind=t.kind,
                    assignee=assignee,
                    team=fixed.team,
                    due_at=fixed.due_at,
                    priority=fixed.priority,
                    description=compiled(t.description).render(ctx),
                    contact_id=m.contact_id,
                    links=tuple(links),
                    checklist=tuple([compiled(s).render(ctx) for s in t.checklist]) if t.checklist else (),
                    questions=tuple([compiled(s).render(ctx) for s in t.questions]) if t.questions else (),
                    origin=fixed.origin,
                    origin_key=f"{fixed.origin}:{rule.name}:{m.key}",
                    rule=rule.name,
                )
                return Planned(m, draft=draft, detail="; ".join(notes))
            from crm_tasks.notify import Notice  # here, not for every task: an import statement per call costs

            n = rule.settings.notify
            members: dict[str, Any] = {}
            notes = []
            for recipient in n.to:
                name = render(recipient, ctx).strip()
                if name.startswith("team:"):
                    found = roster.team(name[5:])
                    team = roster.teams.get(found) if found else None
                    if not team:
                        notes.append(f"{name!r} is not a team")
                    for member in team or ():
                        if member.active:
                            members.setdefault(member.name, member)
                elif (person := roster.member(name)) is not None:
                    members.setdefault(person.name, person)
                else:
                    notes.append(f"{recipient} gave {name!r}, not a staff member")
            if not members:
                return Planned(m, detail="nobody to notify: " + "; ".join(notes), failed=True)
            subject, text = render(n.subject, ctx), render(n.text, ctx)
            notices = tuple(
                Notice(
                    key=f"tasks:rule:{rule.name}:{m.key}:{name}", kind="rule", member=member, subject=subject, text=text
                )
                for name, member in members.items()
            )
            return Planned(m, notices=notices, detail="; ".join(notes))
        except Exception as exc:  # a template that cannot render for this event: logged as a failed firing
            return Planned(m, detail=f"{type(exc).__name__}: {exc}", failed=True)

    def execute(
        self, matches: Sequence[Match], now: dt.datetime, *, checked: bool = True
    ) -> list[tuple[Match, str, int | None, str]]:
        """Do what the matches say; return ``(match, outcome, task id, detail)`` for the log.

        ``checked``: the matches were filtered through the firing log already.
        """
        crm = self.crm
        if not matches:
            return []
        planned = self.plan(matches, now)
        drafts = [p.draft for p in planned if p.draft is not None]
        created = {d.origin_key: tid for d, tid in self._store.create_many(drafts, checked=checked)} if drafts else {}
        notices = [n for p in planned for n in p.notices]
        if notices:
            self._notifications.send(notices)
        out: list[tuple[Match, str, int | None, str]] = []
        for p in planned:
            if p.failed:
                crm.log.error("tasks rule %s failed for %s: %s", p.match.rule.name, p.match.key, p.detail)
                out.append((p.match, "failed", None, p.detail))
            elif p.draft is not None:
                task_id = created.get(p.draft.origin_key)
                outcome, detail = (
                    ("created", p.detail) if task_id is not None else ("skipped", "the task already exists")
                )
                out.append((p.match, outcome, task_id, detail))
            else:
                who = ", ".join(n.member.name for n in p.notices)
                out.append((p.match, "notified", None, f"to {who}" + (f"; {p.detail}" if p.detail else "")))
        return out

    # -- delayed actions --------------------------------------------------------------

    def run_pending(self) -> int:
        """Carry out the delayed actions whose time has come (worker job ``tasks.pending``)."""
        from crm_hookspecs.events import from_payload
        from crm_tasks.models import Firing, Pending, Task, TaskLink

        crm = self.crm
        rules = self.rules()
        now = crm.clock.now().replace(microsecond=0)
        with crm.transaction():
            rows = list(
                for_update(
                    Pending.select()
                    .where(Pending.done_at.is_null() & (Pending.run_at <= now))
                    .order_by(Pending.run_at, Pending.id),
                    crm.database,
                )
            )
            if not rows:
                return 0
            # a record counts as handled once a task linked to it is done
            records = sorted({r.record_id for r in rows if r.record_id is not None})
            handled: set[int] = set()
            for part in batched(records, CHUNK):
                handled.update(
                    ref
                    for (ref,) in TaskLink.select(TaskLink.ref_id)
                    .join(Task)
                    .where(TaskLink.kind.in_(("request", "sale")) & TaskLink.ref_id.in_(part) & (Task.status == "done"))
                    .tuples()
                    .iterator()
                )
            results: list[tuple[Any, str, int | None, str]] = []
            matches = []
            for row in rows:
                rule = rules.by_name.get(row.rule)
                if rule is None:
                    results.append((row, "failed", None, f"rule {row.rule!r} no longer exists"))
                    continue
                if rule.only_if_open and row.record_id in handled:
                    results.append((row, "cancelled", None, f"a task for record {row.record_id} is done"))
                    continue
                event = from_payload(row.event_type, json.loads(row.payload))
                ids = event.contact_ids()
                matches.append(
                    (
                        row,
                        Match(
                            rule=rule,
                            key=row.key,
                            event=event,
                            contact_id=ids[0] if ids else None,
                            record_id=row.record_id,
                        ),
                    )
                )
            done = self.execute([m for _, m in matches], now)
            results += [
                (row, outcome, task_id, detail) for (row, _), (_, outcome, task_id, detail) in zip(matches, done)
            ]
            for row, outcome, task_id, detail in results:
                Pending.update(done_at=now, outcome=outcome if outcome != "skipped" else "done").where(
                    Pending.id == row.id
                ).execute()
                Firing.update(outcome=outcome, task=task_id, detail=detail, fired_at=now).where(
                    (Firing.rule == row.rule) & (Firing.key == row.key)
                ).execute()
        return len(results)

    # -- reading the log, previews -----------------------------------------------------

    def firings(self, rule: str | None = None, limit: int = 50) -> list[FiringInfo]:
        """The firing log, newest first (of one rule, with ``rule``)."""
        from crm_tasks.models import Firing

        crm = self.crm
        with crm.activate():
            query = Firing.select().order_by(Firing.id.desc()).limit(limit)
            if rule is not None:
                query = query.where(Firing.rule == rule)
            return [
                FiringInfo(f.id, f.rule, f.key, f.event_type, f.contact_id, f.fired_at, f.outcome, f.task_id, f.detail)
                for f in query
            ]

    def preview(self, matches: Sequence[Match], check_done: bool = True) -> list[dict[str, Any]]:
        """What the matches would do, as rows for the CLI (nothing is written)."""
        crm = self.crm
        with crm.activate():
            now = crm.clock.now().replace(microsecond=0)
            fired: set[tuple[str, str]] = set()
            if check_done and matches:
                fired = self.fired_keys((m.rule.name, m.key) for m in matches)
            rows = []
            for p in self.plan(matches, now):
                m = p.match
                row: dict[str, Any] = {
                    "rule": m.rule.name,
                    "trigger": m.event.type_name if m.event is not None else "inactivity",
                    "key": m.key,
                    "contact_id": m.contact_id,
                    "action": m.rule.action,
                    "when": (now + m.rule.delay).isoformat() if m.rule.delay else "now",
                    "state": "already fired"
                    if (m.rule.name, m.key) in fired
                    else ("fails" if p.failed else "would fire"),
                    "detail": p.detail,
                }
                if p.draft is not None:
                    d = p.draft
                    row.update(
                        title=d.title,
                        kind=d.kind,
                        assignee=d.assignee,
                        team=d.team,
                        due_at=d.due_at.astimezone(crm.tz).isoformat() if d.due_at else None,
                        checklist=list(d.checklist),
                        questions=list(d.questions),
                    )
                elif p.notices:
                    row.update(
                        title=p.notices[0].subject, to=[n.member.name for n in p.notices], text=p.notices[0].text
                    )
                rows.append(row)
            return rows

    def preview_recent(self, *, rule: str | None, since: dt.datetime | None, limit: int) -> list[dict[str, Any]]:
        """Run the event and change rules (or ``rule`` alone) over recent events of the outbox, dry."""
        crm = self.crm
        rules = self.rules()
        only = rules.by_name.get(rule) if rule else None
        since = since or (crm.clock.now() - dt.timedelta(days=7))
        rows: list[dict[str, Any]] = []
        types = sorted(
            {only.event_type}
            if only is not None and only.event_type
            else (rules.event_types if only is None else set())
        )
        with crm.activate():
            if types:
                logged = crm.events.read(types=types, since=since, limit=limit, newest_first=True)
                rows += self.preview(rules.match([entry.event for entry in reversed(logged)], only=only))
        return rows
