"""``crm tasks …``: imported only when a tasks command runs."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

import attrs
import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError
from crm_core.output import format_option, render

TASK_COLUMNS = ["id", "due", "priority", "kind", "status", "assignee", "team", "contact_id", "title"]


def _by_option(fn: Any) -> Any:
    return click.option(
        "--by",
        "actor",
        default=lambda: os.environ.get("CRM_USER"),
        metavar="STAFF",
        help="Who is doing it, recorded as given [default: $CRM_USER].",
    )(fn)


def _api(state: CLIState) -> Any:
    return state.crm().plugin("tasks")


def _local(state: CLIState, value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(state.crm().tz).strftime("%Y-%m-%d %H:%M")


def _row(state: CLIState, task: Any) -> dict[str, Any]:
    return {
        "id": task.id,
        "due": _local(state, task.due_at),
        "priority": task.priority,
        "kind": task.kind,
        "status": task.status,
        "assignee": task.assignee,
        "team": task.team,
        "contact_id": task.contact_id,
        "title": task.title,
    }


def _plain(value: Any) -> Any:
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    return value


def _as_dict(obj: Any) -> dict[str, Any]:
    return attrs.asdict(obj, value_serializer=lambda _i, _f, v: _plain(v))


@click.group()
def tasks() -> None:
    """Tasks, to-do lists, reminders, recurring templates and rules."""


@tasks.command("add")
@click.argument("title")
@click.option(
    "--kind", default="to-do", show_default=True, type=click.Choice(["to-do", "call", "e-mail", "meeting", "follow-up"])
)
@click.option("--assignee", default=None, metavar="STAFF", help="The staff member who does it (e-mailed).")
@click.option("--team", default=None, help="The team it belongs to.")
@click.option(
    "--due",
    default=None,
    metavar="WHEN",
    help="'2026-03-02 10:00', '2026-03-02', 'today', 'tomorrow' or '+2d' (app time zone).",
)
@click.option("--priority", default="normal", show_default=True, type=click.Choice(["low", "normal", "high", "urgent"]))
@click.option("--contact", "contact_id", type=int, default=None, help="The contact the task is about.")
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="KIND:ID",
    help="Link a record: contact:ID, sale:ID or request:ID (repeatable).",
)
@click.option("--item", "items", multiple=True, metavar="TEXT", help="A checklist item (repeatable, in order).")
@click.option(
    "--question", "questions", multiple=True, metavar="TEXT", help="A question to ask (call tasks; repeatable)."
)
@click.option("--description", default="", help="Longer text.")
@_by_option
@pass_state
def add(
    state: CLIState,
    title: str,
    kind: str,
    assignee: str | None,
    team: str | None,
    due: str | None,
    priority: str,
    contact_id: int | None,
    links: tuple[str, ...],
    items: tuple[str, ...],
    questions: tuple[str, ...],
    description: str,
    actor: str | None,
) -> None:
    """Create a task."""
    parsed = []
    for link in links:
        kind_, _, ref = link.partition(":")
        if not ref.isdigit():
            raise click.BadParameter(f"{link!r} is not KIND:ID (e.g. sale:42)", param_hint="--link")
        parsed.append((kind_, int(ref)))
    task = _api(state).add(
        title,
        kind=kind,
        assignee=assignee,
        team=team,
        due=due,
        priority=priority,
        contact_id=contact_id,
        links=parsed,
        checklist=items,
        questions=questions,
        description=description,
        actor=actor,
    )
    due_text = f", due {_local(state, task.due_at)}" if task.due_at else ""
    click.echo(f"task #{task.id} created{f' for {task.assignee}' if task.assignee else ''}{due_text}")


@tasks.command("list")
@click.option("--assignee", default=None, metavar="STAFF")
@click.option("--team", default=None)
@click.option("--status", default="open", show_default=True, type=click.Choice(["open", "done", "cancelled", "all"]))
@click.option("--kind", default=None, type=click.Choice(["to-do", "call", "e-mail", "meeting", "follow-up"]))
@click.option("--contact", "contact_id", type=int, default=None, help="Tasks about this contact.")
@click.option("--unassigned", is_flag=True, help="Only tasks with no assignee.")
@click.option("--overdue", is_flag=True, help="Only tasks past their due time.")
@click.option("--rule", default=None, help="Only tasks created by this rule.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def list_(
    state: CLIState,
    assignee: str | None,
    team: str | None,
    status: str,
    kind: str | None,
    contact_id: int | None,
    unassigned: bool,
    overdue: bool,
    rule: str | None,
    limit: int,
    fmt: str,
) -> None:
    """List tasks, soonest due first."""
    api = _api(state)
    found = api.list(
        assignee=assignee,
        team=team,
        status=status,
        kind=kind,
        contact_id=contact_id,
        unassigned=unassigned,
        rule=rule,
        limit=limit,
        due_before=state.crm().clock.now() if overdue else None,
    )
    click.echo(render([_row(state, t) for t in found], TASK_COLUMNS, fmt))


@tasks.command("todo")
@click.argument("assignee")
@format_option()
@pass_state
def todo(state: CLIState, assignee: str, fmt: str) -> None:
    """A staff member's open tasks: overdue, today, this week (app time zone)."""
    lists = _api(state).todo(assignee)
    rows = [{"when": when.replace("_", " "), **_row(state, t)} for when, items in lists.items() for t in items]
    click.echo(render(rows, ["when"] + TASK_COLUMNS, fmt))


@tasks.command("show")
@click.argument("task_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def show(state: CLIState, task_id: int, fmt: str) -> None:
    """One task with its checklist, questions, links and reminders."""
    task = _api(state).get(task_id)
    if fmt == "json":
        click.echo(json.dumps(_as_dict(task), indent=2, ensure_ascii=False))
        return
    fields = [
        ("task", f"#{task.id} {task.title}"),
        ("kind", task.kind),
        ("status", task.status),
        ("priority", task.priority),
        ("assignee", task.assignee or ""),
        ("team", task.team or ""),
        ("due", _local(state, task.due_at)),
        ("contact", task.contact_id or ""),
        (
            "created",
            f"{_local(state, task.created_at)} by {task.created_by or 'system'}"
            + (f" (rule {task.rule})" if task.rule else f" ({task.origin})"),
        ),
    ]
    if task.closed_at:
        fields.append((task.status, f"{_local(state, task.closed_at)} by {task.closed_by or 'unknown'}"))
    if task.links:
        fields.append(("links", ", ".join(f"{k}:{i}" for k, i in task.links)))
    if task.description:
        fields.append(("description", task.description))
    click.echo(render([{"field": k, "value": v} for k, v in fields], ["field", "value"]))
    if task.checklist:
        click.echo("\nchecklist")
        click.echo(
            render(
                [
                    {
                        "n": c.position,
                        "done": "x" if c.done else "",
                        "item": c.text,
                        "ticked": f"{_local(state, c.done_at)} {c.done_by or ''}".strip(),
                    }
                    for c in task.checklist
                ],
                ["n", "done", "item", "ticked"],
            )
        )
    if task.questions:
        click.echo("\nquestions")
        click.echo(
            render(
                [{"n": q.position, "question": q.text, "answer": q.answer or ""} for q in task.questions],
                ["n", "question", "answer"],
            )
        )
    if task.reminders:
        click.echo("\nreminders sent")
        click.echo(
            render(
                [{"kind": r.kind, "to": r.recipient, "sent": _local(state, r.sent_at)} for r in task.reminders],
                ["kind", "to", "sent"],
            )
        )


@tasks.command("done")
@click.argument("task_id", type=int)
@_by_option
@pass_state
def done(state: CLIState, task_id: int, actor: str | None) -> None:
    """Mark a task done."""
    task = _api(state).done(task_id, actor=actor)
    click.echo(f"task #{task.id} done")


@tasks.command("cancel")
@click.argument("task_id", type=int)
@click.option("--reason", default="", help="Why (added to the description).")
@_by_option
@pass_state
def cancel(state: CLIState, task_id: int, reason: str, actor: str | None) -> None:
    """Cancel a task."""
    task = _api(state).cancel(task_id, actor=actor, reason=reason)
    click.echo(f"task #{task.id} cancelled")


@tasks.command("check")
@click.argument("task_id", type=int)
@click.argument("item")
@click.option("--undo", is_flag=True, help="Untick the item instead.")
@_by_option
@pass_state
def check(state: CLIState, task_id: int, item: str, undo: bool, actor: str | None) -> None:
    """Tick a checklist item, by number (1, 2…) or exact text."""
    task = _api(state).check(task_id, item, actor=actor, undo=undo)
    ticked = sum(1 for c in task.checklist if c.done)
    click.echo(f"task #{task.id}: {ticked} of {len(task.checklist)} item(s) ticked")


@tasks.command("answer")
@click.argument("task_id", type=int)
@click.argument("question")
@click.argument("answer")
@_by_option
@pass_state
def answer(state: CLIState, task_id: int, question: str, answer: str, actor: str | None) -> None:
    """Record the answer to a call task's question (by number or exact text)."""
    task = _api(state).answer(task_id, question, answer, actor=actor)
    answered = sum(1 for q in task.questions if q.answer)
    click.echo(f"task #{task.id}: {answered} of {len(task.questions)} question(s) answered")


@tasks.command("assign")
@click.argument("task_id", type=int)
@click.argument("assignee", required=False)
@click.option("--team", default=None, help="Move the task to this team.")
@_by_option
@pass_state
def assign(state: CLIState, task_id: int, assignee: str | None, team: str | None, actor: str | None) -> None:
    """Give a task to a staff member (who is e-mailed) and/or a team."""
    task = _api(state).assign(task_id, assignee, team=team, actor=actor)
    click.echo(
        f"task #{task.id} assigned to {task.assignee or 'nobody'}" + (f" (team {task.team})" if task.team else "")
    )


@tasks.command("reschedule")
@click.argument("task_id", type=int)
@click.argument("due", metavar="WHEN")
@pass_state
def reschedule(state: CLIState, task_id: int, due: str) -> None:
    """Move a task's due time ('2026-03-02 10:00', 'tomorrow', '+2d'…)."""
    task = _api(state).reschedule(task_id, due)
    click.echo(f"task #{task.id} now due {_local(state, task.due_at)}")


@tasks.command("staff")
@format_option()
@pass_state
def staff(state: CLIState, fmt: str) -> None:
    """The staff members tasks can be given to, and their teams."""
    rows = [
        {"name": m.name, "full_name": m.full_name, "email": m.email, "teams": list(m.teams), "active": m.active}
        for m in _api(state).staff()
    ]
    click.echo(render(rows, ["name", "full_name", "email", "teams", "active"], fmt))


@tasks.command("remind")
@pass_state
def remind(state: CLIState) -> None:
    """Send the due-soon and overdue reminders now (the worker does it every 5 minutes)."""
    counts = _api(state).send_reminders()
    click.echo(f"{counts['due']} due-soon and {counts['overdue']} overdue reminder(s) queued")


@tasks.command("scan")
@click.option("--rule", default=None, help="Only this inactivity rule.")
@click.option("--dry-run", is_flag=True, help="Show what would be created, create nothing.")
@format_option()
@pass_state
def scan(state: CLIState, rule: str | None, dry_run: bool, fmt: str) -> None:
    """Run the inactivity rules now (the worker does it daily)."""
    result = _api(state).scan_inactivity(rule=rule, dry_run=dry_run)
    if dry_run:
        click.echo(render(result, ["rule", "contact_id", "title", "assignee", "due_at", "detail"], fmt))
    else:
        click.echo(f"{result} inactivity firing(s)")


# -- rules ------------------------------------------------------------------------


@tasks.group("rules")
def rules() -> None:
    """The rules that create tasks and send notifications."""


@rules.command("list")
@format_option()
@pass_state
def rules_list(state: CLIState, fmt: str) -> None:
    """Every rule: where it comes from, its trigger and its action."""
    rows = [
        {
            "name": r.name,
            "enabled": r.settings.enabled,
            "source": r.source,
            "trigger": r.describe_trigger(),
            "action": r.describe_action(),
        }
        for r in _api(state).rules().rules
    ]
    click.echo(render(rows, ["name", "enabled", "source", "trigger", "action"], fmt))


PREVIEW_COLUMNS = ["rule", "trigger", "key", "state", "when", "action", "title", "assignee", "to", "due_at", "detail"]


def _read_events(path: Path) -> list[Any]:
    from crm_hookspecs.events import UnknownEvent, from_payload, registered_types

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    except json.JSONDecodeError as exc:
        raise ValidationError(
            f'{path} is not JSON ({exc}); write {{"type": "SurveyAnswered", "contact_id": 7, ...}}'
        ) from None
    items = data if isinstance(data, list) else [data]
    events = []
    for n, item in enumerate(items, 1):
        where = f"{path}" + (f" (event {n})" if len(items) > 1 else "")
        if not isinstance(item, dict) or not isinstance(item.get("type"), str):
            raise ValidationError(
                f'{where}: an event is an object with a "type" (e.g. "SurveyAnswered") and its fields'
            )
        payload = item.get("payload", {k: v for k, v in item.items() if k not in ("type", "id")})
        cls = registered_types().get(item["type"])
        if cls is None:
            raise ValidationError(
                f"{where}: unknown event type {item['type']!r}; known: {', '.join(sorted(registered_types()))}"
            )
        missing = [f.name for f in attrs.fields(cls) if f.default is attrs.NOTHING and f.name not in payload]
        if missing:
            raise ValidationError(f"{where}: a {item['type']} event needs the field(s) {', '.join(missing)}")
        event = from_payload(item["type"], payload)
        if isinstance(event, UnknownEvent):
            raise ValidationError(f"{where}: the fields do not fit a {item['type']} event; check their types")
        events.append(event)
    return events


@rules.command("test")
@click.argument("rule")
@click.option(
    "--event",
    "event_file",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help='A JSON file: one event {"type": ..., fields...} or a list of them.',
)
@format_option()
@pass_state
def rules_test(state: CLIState, rule: str, event_file: Path, fmt: str) -> None:
    """Show what RULE would do for the event(s) in a file; nothing is created."""
    api = _api(state)
    rows = []
    events = _read_events(event_file)
    for event in events:
        rows += api.test_rule(rule, event)
    if not rows and fmt == "table":
        click.echo(f"rule {rule} does not fire for {'this event' if len(events) == 1 else 'these events'}")
        return
    click.echo(render(rows, PREVIEW_COLUMNS, fmt))


@rules.command("preview")
@click.option("--rule", default=None, help="Only this rule.")
@click.option("--since", default=None, metavar="WHEN", help="Events since this time [default: 7 days ago].")
@click.option(
    "--limit", default=1000, show_default=True, type=click.IntRange(1, 100_000), help="At most this many recent events."
)
@format_option()
@pass_state
def rules_preview(state: CLIState, rule: str | None, since: str | None, limit: int, fmt: str) -> None:
    """Show what the rules would create from recent events and the inactivity scan; nothing is created."""
    api = _api(state)
    since_at = api.parse_due(since, day_time="00:00") if since else None  # a date means from its start
    rows = api.preview(rule=rule, since=since_at, limit=limit)
    click.echo(render(rows, PREVIEW_COLUMNS, fmt))


@rules.command("log")
@click.option("--rule", default=None, help="Only this rule.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def rules_log(state: CLIState, rule: str | None, limit: int, fmt: str) -> None:
    """Each firing: the rule, the event, the outcome and the task, newest first."""
    rows = [{**_as_dict(f), "fired_at": _local(state, f.fired_at)} for f in _api(state).firings(rule=rule, limit=limit)]
    click.echo(
        render(rows, ["id", "fired_at", "rule", "event_type", "key", "contact_id", "outcome", "task_id", "detail"], fmt)
    )


# -- recurring templates ---------------------------------------------------------------


@tasks.group("recurring")
def recurring() -> None:
    """Recurring task templates (RFC 5545 rules)."""


@recurring.command("add")
@click.argument("name")
@click.argument("title")
@click.option("--rrule", required=True, help="RFC 5545 rule, e.g. 'FREQ=WEEKLY;BYDAY=MO;BYHOUR=9;BYMINUTE=0'.")
@click.option("--start", default=None, metavar="WHEN", help="First occurrence, wall time in the zone [default: now].")
@click.option("--timezone", default=None, help="IANA time zone of the rule [default: the app's].")
@click.option(
    "--lead", default="0m", show_default=True, help="Create each task this long before it is due ('2d', '4h')."
)
@click.option(
    "--kind", default="to-do", show_default=True, type=click.Choice(["to-do", "call", "e-mail", "meeting", "follow-up"])
)
@click.option("--assignee", default=None, metavar="STAFF")
@click.option("--team", default=None)
@click.option("--priority", default="normal", show_default=True, type=click.Choice(["low", "normal", "high", "urgent"]))
@click.option("--item", "items", multiple=True, metavar="TEXT", help="A checklist item of each task (repeatable).")
@pass_state
def recurring_add(
    state: CLIState,
    name: str,
    title: str,
    rrule: str,
    start: str | None,
    timezone: str | None,
    lead: str,
    kind: str,
    assignee: str | None,
    team: str | None,
    priority: str,
    items: tuple[str, ...],
) -> None:
    """Add a template that creates a task for each occurrence of a rule."""
    info = _api(state).add_recurring(
        name,
        title,
        rrule,
        start=start,
        timezone=timezone,
        lead=lead,
        kind=kind,
        assignee=assignee,
        team=team,
        priority=priority,
        checklist=items,
    )
    nxt = info.next_occurrence.strftime("%Y-%m-%d %H:%M %Z") if info.next_occurrence else "none"
    click.echo(f"recurring template {info.name!r} added; next occurrence {nxt}")


@recurring.command("list")
@format_option()
@pass_state
def recurring_list(state: CLIState, fmt: str) -> None:
    """The recurring templates and their next occurrence."""
    rows = [
        {
            "name": t.name,
            "title": t.title,
            "rrule": t.rrule,
            "timezone": t.timezone,
            "lead": str(t.lead),
            "assignee": t.assignee,
            "active": t.active,
            "next": t.next_occurrence.strftime("%Y-%m-%d %H:%M %Z") if t.next_occurrence else "",
        }
        for t in _api(state).recurring()
    ]
    click.echo(render(rows, ["name", "title", "rrule", "timezone", "lead", "assignee", "active", "next"], fmt))


@recurring.command("remove")
@click.argument("name")
@pass_state
def recurring_remove(state: CLIState, name: str) -> None:
    """Delete a template (the tasks it created stay)."""
    _api(state).remove_recurring(name)
    click.echo(f"recurring template {name!r} removed")


@recurring.command("run")
@pass_state
def recurring_run(state: CLIState) -> None:
    """Create the occurrences that are due now (the worker does it every 15 minutes)."""
    click.echo(f"{_api(state).run_recurring()} task(s) created")
