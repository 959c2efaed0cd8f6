"""``crm contacts duplicates|merge|unmerge|merges|export-personal-data|erase``: duplicates, merges, personal data."""

from __future__ import annotations

import json
from typing import Any

import click

from crm_contacts.cli.common import api
from crm_core import ids
from crm_core.cli.helpers import actor_name, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError
from crm_core.output import format_option, render


@click.command()
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Pairs to show at most.")
@click.option(
    "--offset",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Pairs to skip first (the next page: --offset 100).",
)
@format_option()
@pass_state
def duplicates(state: CLIState, limit: int, offset: int, fmt: str) -> None:
    """List likely duplicate pairs and why each pair matched."""
    scan = api(state).scan_duplicates(limit, offset=offset, progress=_progress)
    rows = [
        {
            "first": p.first_id,
            "second": p.second_id,
            "first_name": p.first_name,
            "second_name": p.second_name,
            "reasons": "; ".join(p.reasons),
        }
        for p in scan.pairs
    ]
    click.echo(render(rows, ["first", "second", "first_name", "second_name", "reasons"], fmt))
    more = f"; next page: --offset {offset + len(scan.pairs)}" if offset + len(scan.pairs) < scan.total else ""
    click.echo(f"({len(scan.pairs)} of {scan.total} pairs{more})", err=True)


def _progress(phase: str, count: int) -> None:
    """A long scan says where it is, on standard error (the pairs may go to standard output)."""
    if count and count % 100_000 == 0:
        click.echo(f"  {phase}: {count:,}", err=True)


@click.command()
@click.argument("survivor_id", type=int)
@click.argument("merged_id", type=int)
@click.option(
    "--rule",
    "rules",
    multiple=True,
    metavar="FIELD=RULE",
    help="survivor (default), merged or newest, per field (repeat).",
)
@pass_state
def merge(state: CLIState, survivor_id: int, merged_id: int, rules: tuple[str, ...]) -> None:
    """Merge contact MERGED_ID into SURVIVOR_ID (undo with unmerge)."""
    parsed: dict[str, str] = {}
    for item in rules:
        field, sep, rule = item.partition("=")
        if not sep:
            raise ValidationError(f"--rule {item!r}: write FIELD=RULE, e.g. --rule status=newest")
        parsed[field.strip()] = rule.strip()
    merge_id = api(state).merge(survivor_id, merged_id, parsed, actor=actor_name(state))
    click.echo(
        f"contact {merged_id} merged into {survivor_id} (merge {merge_id}; undo: crm contacts unmerge {merged_id})"
    )


@click.command()
@click.argument("merged_id", type=int)
@pass_state
def unmerge(state: CLIState, merged_id: int) -> None:
    """Undo the latest merge of contact MERGED_ID."""
    merge_id = api(state).unmerge(merged_id, actor=actor_name(state))
    click.echo(f"merge {merge_id} undone: contact {merged_id} is back")


@click.command()
@click.argument("contact_id", type=ids.cli_type(), required=False)
@format_option()
@pass_state
def merges(state: CLIState, contact_id: int | None, fmt: str) -> None:
    """List merges (of one contact, if given), newest first."""
    rows = api(state).merges(contact_id)
    click.echo(render(rows, ["id", "survivor_id", "merged_id", "actor", "at", "undone_at"], fmt))


@click.command("export-personal-data")
@click.argument("contact_id", type=int)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write [default: standard output]."
)
@pass_state
def export_personal_data(state: CLIState, contact_id: int, output: str | None) -> None:
    """Write everything every enabled plugin holds about one contact, as JSON (GDPR)."""
    data = api(state).export_personal_data(contact_id)
    text = json.dumps(to_json(data), indent=2, ensure_ascii=False, default=str)
    if output:
        with open(output, "w", encoding="utf-8") as fh:
            fh.write(text + "\n")
        click.echo(f"personal data of contact {contact_id} written to {output}")
    else:
        click.echo(text)


@click.command()
@click.argument("contact_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def erase(state: CLIState, contact_id: int, yes: bool) -> None:
    """Anonymise a contact in every enabled plugin (GDPR); cannot be undone."""
    contacts_api = api(state)
    record = contacts_api.get(contact_id)
    if not yes:
        click.confirm(
            f"erase contact {contact_id} ({record.display_name}) in every plugin? This cannot be undone", abort=True
        )
    counts: dict[str, Any] = contacts_api.erase(contact_id, actor=actor_name(state))
    detail = ", ".join(f"{name}: {n}" for name, n in counts.items())
    click.echo(f"contact {contact_id} erased ({detail})")


COMMANDS = [duplicates, merge, unmerge, merges, export_personal_data, erase]
