"""``crm warehouse status|events|rebuild|tables|summaries``: the event store, the reporting tables, their summaries."""

from __future__ import annotations

import click

from crm_core.cli.helpers import plugin_api
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_warehouse.catalog import KINDS

__all__ = ["COMMANDS"]


@click.command("status")
@format_option()
@pass_state
def status(state: CLIState, fmt: str) -> None:
    """Stored events per type: how many, first and last, and whether the type is known."""
    rows = plugin_api(state, "warehouse").status()
    click.echo(render(rows, ["type", "kind", "events", "first", "last", "known"], fmt))


@click.command("events")
@click.option("--type", "type_name", default=None, help="Only events of this type.")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only events of this kind.")
@click.option("--unknown", is_flag=True, help="Only events of types no installed plugin defines.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def events(state: CLIState, type_name: str | None, kind: str | None, unknown: bool, limit: int, fmt: str) -> None:
    """The newest stored events (unknown types are shown as such, never dropped)."""
    stored = plugin_api(state, "warehouse").events(type_name=type_name, kind=kind, unknown=unknown, limit=limit)
    rows = [
        {
            "event_id": s.event_id,
            "type": s.type if s.known else f"{s.type} (unknown)",
            "kind": s.kind,
            "occurred_at": s.occurred_at,
            "actor": s.actor,
            "channel": s.channel,
            "payload": s.payload,
        }
        for s in stored
    ]
    click.echo(render(rows, ["event_id", "type", "kind", "occurred_at", "actor", "channel", "payload"], fmt))


@click.command("rebuild")
@click.option("--no-outbox", is_flag=True, help="Do not first copy the kernel outbox's events that the store lacks.")
@pass_state
def rebuild(state: CLIState, no_outbox: bool) -> None:
    """Rebuild the reporting tables from the event store (and the sales records)."""
    counts = plugin_api(state, "warehouse").rebuild(from_outbox=not no_outbox)
    if "events_added" in counts:
        click.echo(f"events copied from the outbox: {counts.pop('events_added')}")
    for table, n in counts.items():
        click.echo(f"{table}: {n} row(s)")


@click.command("tables")
@format_option()
@pass_state
def tables(state: CLIState, fmt: str) -> None:
    """The reporting tables other plugins and reports may query, with their row counts."""
    sizes = plugin_api(state, "warehouse").table_sizes()
    rows = [{"role": role, "table": table, "rows": n} for role, (table, n) in sizes.items()]
    click.echo(render(rows, ["role", "table", "rows"], fmt))


@click.command("summaries")
@click.option("--rebuild", "rebuild_all", is_flag=True, help="Add the summary tables up again (one transaction).")
@click.option("--check", is_flag=True, help="Compare them with a rebuild that is rolled back; exit 1 if they differ.")
@format_option()
@pass_state
def summaries(state: CLIState, rebuild_all: bool, check: bool, fmt: str) -> None:
    """The summary tables reports read (the reporting tables added up per day and month): state, rebuild, check."""
    from crm_core.errors import CRMError

    if rebuild_all and check:
        raise click.UsageError("--rebuild and --check are two commands; give one of them")
    api = plugin_api(state, "warehouse")
    if rebuild_all:
        counts = api.rebuild_summaries(progress=lambda step: click.echo(f"adding up: {step}", err=True))
        for table, n in counts.items():
            click.echo(f"{table}: {n} row(s)")
        return
    if check:
        found = api.check_summaries()
        rows = [
            {"table": d.table, "rows": d.rows, "missing": d.missing, "extra": d.extra, "different": d.different}
            for d in found
        ]
        click.echo(render(rows, ["table", "rows", "missing", "extra", "different"], fmt))
        if any(d.drifted for d in found):
            raise CRMError(
                "the summary tables differ from the reporting tables (rows written around the warehouse, or a "
                "time zone changed); run 'crm warehouse summaries --rebuild'"
            )
        return
    info = api.summaries()
    rows = [
        {
            "table": t,
            "rows": n,
            "complete": info["complete"],
            "timezone": info["timezone"],
            "rebuilt_at": info["rebuilt_at"],
        }
        for t, n in info["tables"].items()
    ]
    click.echo(render(rows, ["table", "rows", "complete", "timezone", "rebuilt_at"], fmt))


#: the commands of this topic, in the order ``--help`` lists them
COMMANDS = [status, events, rebuild, tables, summaries]
