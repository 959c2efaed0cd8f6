"""``crm contacts import`` and ``crm contacts export``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError

from crm_contacts.cli import actor, api, collect_filters, contacts, filter_options

MAX_ERRORS_SHOWN = 50


def _print_report(report: Any) -> None:
    for error in report.errors[:MAX_ERRORS_SHOWN]:
        click.echo(f"  {error}", err=True)
    if report.failed > MAX_ERRORS_SHOWN:
        click.echo(f"  … and {report.failed - MAX_ERRORS_SHOWN} more row(s) with errors", err=True)
    if report.ignored_columns:
        click.echo(f"ignored column(s): {', '.join(report.ignored_columns)}", err=True)
    click.echo(report.summary())


@contacts.command("import")
@click.argument("file", type=click.Path(dir_okay=False, exists=True))
@click.option("--format", "file_format", type=click.Choice(["auto", "csv", "vcard"]), default="auto", show_default=True, help="File format (auto: by extension).")
@click.option("--mapping", type=click.Path(dir_okay=False, exists=True), help="TOML or JSON file mapping CSV headers to fields.")
@click.option("--encoding", help="The file's encoding [default: utf-8, with or without BOM].")
@click.option("--delimiter", help="CSV delimiter [default: guessed from the header among , ; tab |].")
@click.option("--dry-run", is_flag=True, help="Check and match every row, report what would happen, write nothing.")
@click.option("--all-or-nothing", is_flag=True, help="Write nothing if any row is bad.")
@click.option("--match", "match_on", default="id,external_id,email,phone", show_default=True, help="Keys that find an existing contact, in order.")
@click.option("--list", "list_name", help="Also add every imported contact to this mailing list.")
@click.option("--jobs", type=click.IntRange(min=1), default=None, help="Processes that validate rows [default: all cores for files over 10 MB].")
@click.option("--ignore-column", "ignore_columns", multiple=True, metavar="NAME", help="Do not keep this CSV column as a custom field (repeatable).")
@pass_state
def import_(state: CLIState, file: str, file_format: str, mapping: str | None, encoding: str | None, delimiter: str | None,
            dry_run: bool, all_or_nothing: bool, match_on: str, list_name: str | None, jobs: int | None,
            ignore_columns: tuple[str, ...]) -> None:
    """Import contacts from a CSV or vCard file (re-running it updates instead of duplicating)."""
    keys = tuple(k.strip() for k in match_on.split(",") if k.strip())
    if file_format == "auto":
        file_format = "vcard" if file.lower().endswith((".vcf", ".vcard")) else "csv"
    contacts_api = api(state)
    size = os.path.getsize(file)
    if jobs is None:
        jobs = (os.cpu_count() or 1) if size > 10 * 1024 * 1024 else 1
    if file_format == "vcard":
        if mapping or delimiter or ignore_columns:
            raise ValidationError("--mapping, --delimiter and --ignore-column are for CSV files, not vCard")
        report = contacts_api.import_vcard(file, dry_run=dry_run, all_or_nothing=all_or_nothing, match_on=keys, list_name=list_name, actor=actor())
        _print_report(report)
    else:
        with click.progressbar(length=size, label="importing", file=sys.stderr, show_eta=True) as bar:
            done = [0]

            def progress(read: int, total: int | None) -> None:
                bar.update(read - done[0])
                done[0] = read

            report = contacts_api.import_csv(
                file, mapping=mapping, encoding=encoding, delimiter=delimiter, dry_run=dry_run, all_or_nothing=all_or_nothing,
                match_on=keys, list_name=list_name, actor=actor(), jobs=jobs, progress=progress, ignore_columns=ignore_columns,
            )
        _print_report(report)
    if report.aborted or (report.failed and not report.created and not report.updated and not report.unchanged):
        raise click.exceptions.Exit(1)


@contacts.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write [default: standard output].")
@click.option("--format", "file_format", type=click.Choice(["csv", "vcard"]), default="csv", show_default=True, help="CSV (one row per contact) or vCard.")
@click.option("--vcard-version", type=click.Choice(["3.0", "4.0"]), default="4.0", show_default=True, help="vCard version.")
@filter_options
@pass_state
def export(state: CLIState, output: str | None, file_format: str, vcard_version: str, include_deleted: bool, **options: Any) -> None:
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
