"""``crm tasks rules list|test|preview|log``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs
import click

from crm_core.cli.helpers import to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError
from crm_core.output import format_option, render
from crm_tasks.cli.common import api, local

__all__ = ["rules"]


@click.group("rules")
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
        for r in api(state).rules().rules
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
    tasks = api(state)
    rows = []
    events = _read_events(event_file)
    for event in events:
        rows += tasks.test_rule(rule, event)
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
    tasks = api(state)
    since_at = tasks.parse_due(since, day_time="00:00") if since else None  # a date means from its start
    rows = tasks.preview(rule=rule, since=since_at, limit=limit)
    click.echo(render(rows, PREVIEW_COLUMNS, fmt))


@rules.command("log")
@click.option("--rule", default=None, help="Only this rule.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def rules_log(state: CLIState, rule: str | None, limit: int, fmt: str) -> None:
    """Each firing: the rule, the event, the outcome and the task, newest first."""
    rows = [{**to_json(f), "fired_at": local(state, f.fired_at)} for f in api(state).firings(rule=rule, limit=limit)]
    click.echo(
        render(rows, ["id", "fired_at", "rule", "event_type", "key", "contact_id", "outcome", "task_id", "detail"], fmt)
    )
