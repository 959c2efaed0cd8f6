"""The kernel's own commands. Imported only when one of them runs."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from crm_core.cli.main import KERNEL_COMMANDS, CLIError, CLIState, pass_state
from crm_core.errors import CRMError
from crm_core.output import format_option, render

CONFIG_TEMPLATE = """\
# CRM configuration. Reference: docs/configuration.md
# Any string value "env:NAME" is read from the environment variable NAME.

[crm]
# sqlite:///file.db (relative to this file), postgresql://user@host/db, mysql://user@host/db
database = "{database}"
# IANA time zone for schedules, reports and "today"
timezone = "{timezone}"

[crm.mail]
# file (writes .eml files to the outbox folder), smtp, memory, or a plugin's transport
transport = "file"
outbox = "outbox"
sender = "CRM <crm@localhost>"

# [crm.mail.smtp]
# host = "smtp.example.com"
# port = 587
# security = "starttls"
# username = "crm"
# password = "env:CRM_SMTP_PASSWORD"

[plugins]
# installed plugins to enable; CRM_PLUGINS="a,b" overrides this list
enabled = [{plugins}]
"""


@click.command()
@click.option("--database", default="sqlite:///crm.db", show_default=True, help="Database URL.")
@click.option("--timezone", default="UTC", show_default=True, help="IANA time zone.")
@click.option(
    "--plugins", "plugin_list", default=None, help="Comma-separated plugins to enable [default: every installed one]."
)
@click.option("--force", is_flag=True, help="Overwrite an existing configuration file.")
@pass_state
def init(state: CLIState, database: str, timezone: str, plugin_list: str | None, force: bool) -> None:
    """Write a commented crm.toml and create the database."""
    from crm_core.app import CRM
    from crm_core.config import load_config, parse_plugin_list
    from crm_core.plugins import discover

    path = state.config_path
    if path.exists() and not force:
        raise CLIError(f"{path} already exists; use --force to overwrite it, or --config to write another file", 2)
    installed = discover()
    names = parse_plugin_list(plugin_list) if plugin_list is not None else tuple(sorted(installed))
    unknown = [n for n in names if n not in installed]
    if unknown:
        raise CLIError(
            f"--plugins names {', '.join(repr(n) for n in unknown)}, which {'is' if len(unknown) == 1 else 'are'} not "
            f"installed (installed: {', '.join(sorted(installed)) or 'none'}); install it with pip or fix the list",
            2,
        )
    from crm_core.config import CoreSettings, structure_section

    # check the options before anything is written; messages name the option
    try:
        structure_section({"database": database, "timezone": timezone}, CoreSettings, "crm init", "crm")
    except CRMError as exc:
        raise CLIError(str(exc).replace("crm init: crm.", "crm init --", 1), 2) from None
    text = CONFIG_TEMPLATE.format(database=database, timezone=timezone, plugins=", ".join(json.dumps(n) for n in names))
    path.parent.mkdir(parents=True, exist_ok=True)
    config = None
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    try:
        config = load_config(tmp, environ={})  # validate before it replaces anything
    finally:
        if config is None:
            tmp.unlink()
    tmp.replace(path)
    click.echo(f"wrote {path}")
    _make_sqlite_folder(config)
    with CRM.from_config(path, strict=state.strict) as app:
        steps = app.migrate()
    click.echo(f"created the database ({len(steps)} migration(s) applied); plugins: {', '.join(names) or 'none'}")


def _make_sqlite_folder(config: Any) -> None:
    """Create the folder of a SQLite database file, so that a new CRM can start there."""
    from peewee import SqliteDatabase

    from crm_core.storage import connect

    database = connect(config.core.database, config.base_dir)
    if isinstance(database, SqliteDatabase) and database.database != ":memory:":
        Path(database.database).parent.mkdir(parents=True, exist_ok=True)


@click.command()
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Replace FILE if it exists.")
@pass_state
def backup(state: CLIState, file: str, force: bool) -> None:
    """Copy the database into FILE while the CRM runs (SQLite online backup, pg_dump or mysqldump)."""
    from crm_core.backup import backup as make_backup

    config = state.config()
    report = make_backup(config.core.database, file, base_dir=config.base_dir, overwrite=force)
    click.echo(report.summary())


@click.command()
@click.option("--dry-run", is_flag=True, help="Show the pending migrations without applying them.")
@pass_state
def migrate(state: CLIState, dry_run: bool) -> None:
    """Apply pending migrations of the kernel and every enabled plugin."""
    app = state.crm()
    steps = app.migrate(dry_run=dry_run)
    if not steps:
        click.echo("nothing to migrate: the database is up to date")
        return
    verb = "would apply" if dry_run else "applied"
    for step in steps:
        click.echo(f"{verb} {step.owner}/{step.name}")
    if dry_run:
        click.echo(f"{len(steps)} migration(s) pending; nothing was applied (dry run)")
    else:
        click.echo(f"{len(steps)} migration(s) applied")


def _plugin_rows(state: CLIState) -> list[dict[str, Any]]:
    from crm_core.plugins import discover, load_plugins
    from crm_core.plugins.report import plugin_rows, settings_errors

    installed = discover()
    config = state.config(missing_ok=not state.config_explicit)
    if state._app is not None:
        return plugin_rows(state._app.plugins, installed)
    loaded = load_plugins(list(config.enabled or ()), installed=installed, enabled_source=config.enabled_source)
    return plugin_rows(loaded.records, installed, settings_errors(config, loaded))


@click.command()
@format_option()
@pass_state
def plugins(state: CLIState, fmt: str) -> None:
    """List installed plugins: version, state, contract, hooks, errors.

    With ``crm --strict`` it exits with an error after the list when an
    enabled plugin failed to load or its settings are wrong.
    """
    rows = _plugin_rows(state)
    columns = ["name", "version", "state", "contract", "requires", "hooks", "error"]
    if fmt == "json":
        columns.append("traceback")
    click.echo(render(rows, columns, fmt))
    failed = [row for row in rows if row["error"]]
    if state.strict and failed:
        first = failed[0]
        raise CLIError(f"{len(failed)} enabled plugin(s) cannot be used (--strict): {first['error']}", 3)


@click.group()
def config() -> None:
    """Show the effective configuration."""


@config.command("show")
@click.option("--format", "fmt", type=click.Choice(["toml", "json"]), default="toml", show_default=True)
@pass_state
def config_show(state: CLIState, fmt: str) -> None:
    """Print the effective configuration, secrets redacted."""
    data = state.config(missing_ok=not state.config_explicit).redacted()
    if fmt == "json":
        click.echo(json.dumps(data, indent=2))
    else:
        from crm_core.config import dump_toml

        click.echo(dump_toml(data).rstrip())


@click.group()
def events() -> None:
    """Inspect, deliver and retry events."""


@events.command("list")
@click.option("--type", "type_name", default=None, help="Only events of this type.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000))
@format_option()
@pass_state
def events_list(state: CLIState, type_name: str | None, limit: int, fmt: str) -> None:
    """The newest events in the outbox."""
    rows = state.crm().events.recent(limit=limit, type_name=type_name)
    click.echo(render(rows, ["id", "type", "occurred_at", "payload"], fmt))


@events.command("status")
@format_option()
@pass_state
def events_status(state: CLIState, fmt: str) -> None:
    """Each handler's position, pending events and open failures."""
    click.echo(render(state.crm().events.status(), ["handler", "enabled", "position", "pending", "failed"], fmt))


@events.command("failed")
@click.option("--full", is_flag=True, help="Show each handler's whole traceback, not only its last line.")
@format_option()
@pass_state
def events_failed(state: CLIState, full: bool, fmt: str) -> None:
    """Events a handler failed on, with the error and the next attempt."""
    import attrs

    failures = state.crm().events.failed()
    rows = [attrs.asdict(f) for f in failures]
    columns = ["id", "handler", "event_pk", "event_type", "attempts", "next_attempt_at", "error"]
    if full and fmt != "table":
        columns.append("traceback")
    click.echo(render(rows, columns, fmt))
    if full and fmt == "table":
        for failure in failures:  # below the table: a traceback does not fit a cell
            click.echo(
                f"\nfailure {failure.id}: handler {failure.handler}, event {failure.event_pk} ({failure.event_type})"
            )
            click.echo(failure.traceback.rstrip())


@events.command("retry")
@click.option(
    "--all", "retry_all", is_flag=True, help="Retry every failure now, not only those whose back-off has passed."
)
@pass_state
def events_retry(state: CLIState, retry_all: bool) -> None:
    """Re-deliver failed events to their handlers."""
    report = state.crm().events.retry(due_only=not retry_all)
    click.echo(f"{report.retried_ok} delivered, {report.failed} failed again")
    if report.failed:
        raise click.exceptions.Exit(1)


@events.command("deliver")
@pass_state
def events_deliver(state: CLIState) -> None:
    """Deliver events that are waiting (normally done after each commit)."""
    report = state.crm().events.deliver()
    click.echo(f"{report.delivered} delivered, {report.failed} failed")


@click.command()
@pass_state
def doctor(state: CLIState) -> None:
    """Check configuration, database, migrations and plugins."""
    from crm_core.doctor import run_checks

    problems = 0
    # warn=False: the plugin checks list the plugins that failed to load
    for check in run_checks(state.config, lambda: state.crm(warn=False), kernel_commands=KERNEL_COMMANDS):
        mark = "ok " if check.ok else "!! "
        if check.warning:
            mark = "?? "
        click.echo(f"{mark} {check.name}: {check.detail}")
        if check.warning and check.fix:
            click.echo(f"    fix: {check.fix}")
        elif not check.ok:
            problems += 1
            if check.fix:
                click.echo(f"    fix: {check.fix}")
    if problems:
        click.echo(f"{problems} problem(s) found")
        raise click.exceptions.Exit(1)
    click.echo("everything looks fine")


@click.command()
@click.option("--reset", is_flag=True, help="Delete the demo's SQLite database first, so the demo can be run again.")
@pass_state
def demo(state: CLIState, reset: bool) -> None:
    """Build a demo CRM and load every enabled plugin's demo data."""
    from crm_core.storage import connect

    config = state.config()
    database = connect(config.core.database, config.base_dir)
    from peewee import SqliteDatabase

    if reset:
        if not isinstance(database, SqliteDatabase) or database.database == ":memory:":
            raise CLIError("--reset only deletes SQLite files; point [crm] database at a SQLite file for the demo", 2)
        for suffix in ("", "-wal", "-shm"):
            Path(database.database + suffix).unlink(missing_ok=True)
    if isinstance(database, SqliteDatabase) and database.database != ":memory:":
        Path(database.database).parent.mkdir(parents=True, exist_ok=True)
    app = state.crm()
    steps = app.migrate()
    click.echo(f"database: {app.config.core.database} ({len(steps)} migration(s) applied)")
    click.echo(f"plugins: {', '.join(app.enabled_plugins) or 'none'}")
    for name, record in app.plugins.items():
        if record.error:
            click.echo(f"  skipped {name}: {record.error}")
    from crm_core.models import OutboxEvent

    with app.activate():
        if OutboxEvent.select().exists() and not reset:
            raise CLIError("the demo database already has data; run 'crm demo --reset' to start again", 2)
    any_data = False
    for name, lines in app.hooks.demo_data(app):
        any_data = True
        for line in lines:
            click.echo(f"[{name}] {line}")
    if not any_data:
        click.echo("no enabled plugin has demo data (enable some in [plugins] enabled)")
    with app.activate():
        total = OutboxEvent.select().count()
    handlers = ", ".join(f"{s['handler']} {s['pending']} pending" for s in app.events.status())
    click.echo(f"events: {total} recorded" + (f" ({handlers})" if handlers else ""))
    if state.config_explicit:
        # the commands the plugins suggest above run on this demo only with its configuration
        shown = os.path.relpath(state.config_path)
        if shown.startswith(".."):
            shown = str(state.config_path.resolve())
        click.echo(f"to run the commands above on this demo: source .venv/bin/activate; export CRM_CONFIG={shown}")


@click.group()
def plugin() -> None:
    """Tools for plugin authors."""


@plugin.command("new")
@click.argument("name")
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False),
    default=".",
    show_default=True,
    help="Where to create the plugin's folder.",
)
@pass_state
def plugin_new(state: CLIState, name: str, directory: str) -> None:
    """Write a working plugin distribution crm-NAME: a hook, a migration, a command, a test."""
    from crm_core.scaffold import scaffold

    root = scaffold(name, Path(directory))
    click.echo(f"created {root}")
    click.echo(f"next: pip install -e {root} && crm plugins")
