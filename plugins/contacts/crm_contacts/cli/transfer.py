"""``crm contacts import|export``: CSV and vCard in and out."""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

import click

from crm_contacts.cli.common import api, collect_filters, filter_options
from crm_contacts.importreport import ImportStopped
from crm_core.cli.helpers import actor_name
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError


def _print_report(report: Any) -> None:
    # every problem row, however many: the summary on standard output stays the last line
    for error in report.errors:
        click.echo(f"  {error}", err=True)
    for conflict in report.conflicts:
        click.echo(f"  conflict: {conflict}", err=True)
    for warning in report.warnings:
        click.echo(f"  warning: {warning}", err=True)
    if report.ignored_columns:
        click.echo(f"ignored column(s): {', '.join(report.ignored_columns)}", err=True)
    for note in report.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(report.summary())


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM stops the import as Ctrl-C does: the batch in hand is rolled back and the error says what stays."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["auto", "csv", "vcard"]),
    default="auto",
    show_default=True,
    help="File format (auto: by extension).",
)
@click.option(
    "--mapping", type=click.Path(dir_okay=False, exists=True), help="TOML or JSON file mapping CSV headers to fields."
)
@click.option("--encoding", help="The file's encoding [default: utf-8, with or without BOM].")
@click.option("--delimiter", help="CSV delimiter [default: guessed from the header among , ; tab |].")
@click.option(
    "--dry-run", is_flag=True, help="Check and match every row, report exactly what would happen, write nothing."
)
@click.option("--all-or-nothing", is_flag=True, help="Write nothing if any row is bad.")
@click.option(
    "--match",
    "match_on",
    default="id,external_id,email",
    show_default=True,
    help="Keys that find an existing contact: id, external_id, email, phone (a phone together with the same name).",
)
@click.option(
    "--on-conflict",
    type=click.Choice(["skip", "update"]),
    default="skip",
    show_default=True,
    help="A row whose match has another name or kind: report it and leave the contact unchanged, or update it anyway.",
)
@click.option(
    "--errors",
    "errors_to",
    type=click.Path(dir_okay=False, writable=True),
    help="Write every bad, warned or conflicting row (line, field, problem, then its cells) to this CSV file.",
)
@click.option(
    "--from-line",
    "start_line",
    type=click.IntRange(min=1),
    default=1,
    help="Skip the rows before this line (to finish a stopped import).",
)
@click.option("--list", "list_name", help="Also add every imported contact to this mailing list.")
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=None,
    help="Processes that validate rows [default: all cores for files over 10 MB].",
)
@click.option(
    "--ignore-column",
    "ignore_columns",
    multiple=True,
    metavar="NAME",
    help="Do not keep this CSV column as a custom field (repeatable).",
)
@pass_state
def import_(
    state: CLIState,
    file: str,
    file_format: str,
    mapping: str | None,
    encoding: str | None,
    delimiter: str | None,
    dry_run: bool,
    all_or_nothing: bool,
    match_on: str,
    on_conflict: str,
    errors_to: str | None,
    start_line: int,
    list_name: str | None,
    jobs: int | None,
    ignore_columns: tuple[str, ...],
) -> None:
    """Import contacts from a CSV or vCard file (re-running it updates instead of duplicating)."""
    keys = tuple(k.strip() for k in match_on.split(",") if k.strip())
    if file_format == "auto":
        file_format = "vcard" if file.lower().endswith((".vcf", ".vcard")) else "csv"
    contacts_api = api(state)
    size = os.path.getsize(file)
    if jobs is None:
        jobs = (os.cpu_count() or 1) if size > 10 * 1024 * 1024 else 1
    common: dict[str, Any] = dict(
        dry_run=dry_run,
        all_or_nothing=all_or_nothing,
        match_on=keys,
        on_conflict=on_conflict,
        list_name=list_name,
        actor=actor_name(state),
        start_line=start_line,
        errors_to=errors_to,
    )
    try:
        with _sigterm_interrupts():
            if file_format == "vcard":
                if mapping or delimiter or ignore_columns:
                    raise ValidationError("--mapping, --delimiter and --ignore-column are for CSV files, not vCard")
                report = contacts_api.import_vcard(file, encoding=encoding or "utf-8", **common)
            else:
                with click.progressbar(length=size, label="importing", file=sys.stderr, show_eta=True) as bar:
                    done = [0]

                    def progress(read: int, total: int | None) -> None:
                        bar.update(read - done[0])
                        done[0] = read

                    report = contacts_api.import_csv(
                        file,
                        mapping=mapping,
                        encoding=encoding,
                        delimiter=delimiter,
                        jobs=jobs,
                        progress=progress,
                        ignore_columns=ignore_columns,
                        **common,
                    )
    except ImportStopped as exc:
        _print_report(exc.report)
        raise
    _print_report(report)
    if report.aborted or (report.failed and not report.created and not report.updated and not report.unchanged):
        raise click.exceptions.Exit(1)


@click.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write [default: standard output]."
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["csv", "vcard"]),
    default="csv",
    show_default=True,
    help="CSV (one row per contact) or vCard.",
)
@click.option(
    "--vcard-version", type=click.Choice(["3.0", "4.0"]), default="4.0", show_default=True, help="vCard version."
)
@filter_options
@pass_state
def export(
    state: CLIState, output: str | None, file_format: str, vcard_version: str, include_deleted: bool, **options: Any
) -> None:
    """Export contacts (all, or those matching the filters) as CSV or vCard."""
    filters = collect_filters(options)
    contacts_api = api(state)
    out = open(output, "w", encoding="utf-8", newline="") if output else sys.stdout
    try:
        if file_format == "csv":
            count = contacts_api.export_csv(out, filters, include_deleted=include_deleted)
        else:
            count = contacts_api.export_vcard(out, filters, version=vcard_version, include_deleted=include_deleted)
    finally:
        if output:
            out.close()
    if output:
        click.echo(f"{count} contact(s) written to {output}")


COMMANDS = [import_, export]
