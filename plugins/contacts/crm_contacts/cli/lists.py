"""``crm contacts lists|segments|distribution|labels``: mailing lists, segments and what they become."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from crm_contacts.cli.common import api, card_row, collect_filters, filter_options
from crm_core.cli.helpers import actor_name
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError
from crm_core.output import format_option, render

MAX_MISSING_SHOWN = 50


@click.group()
def lists() -> None:
    """Static mailing lists: members added by hand or from a file."""


@lists.command("list")
@format_option()
@pass_state
def lists_list(state: CLIState, fmt: str) -> None:
    """Every mailing list with its member and unsubscribe counts."""
    rows = [
        {"name": i.name, "members": i.members, "unsubscribed": i.unsubscribed, "description": i.description}
        for i in api(state).lists()
    ]
    click.echo(render(rows, ["name", "members", "unsubscribed", "description"], fmt))


@lists.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the list is for.")
@pass_state
def lists_create(state: CLIState, name: str, description: str) -> None:
    """Create an empty mailing list."""
    info = api(state).create_list(name, description)
    click.echo(f"mailing list {info.name!r} created (add members: crm contacts lists add {info.name} ID...)")


@lists.command("show")
@click.argument("name")
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, help="Members to show at most.")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Skip this many.")
@format_option()
@pass_state
def lists_show(state: CLIState, name: str, limit: int, offset: int, fmt: str) -> None:
    """Show a list's members and the state of each (subscribed, unsubscribed, do-not-contact, deleted)."""
    contacts_api = api(state)
    members = contacts_api.list_members(name, limit=limit, offset=offset)
    rows = [
        {"id": m.contact_id, "name": m.display_name, "email": m.email or "", "state": m.state, "added": m.added_at}
        for m in members
    ]
    click.echo(render(rows, ["id", "name", "email", "state", "added"], fmt))
    if fmt == "table":
        info = next(i for i in contacts_api.lists() if i.name == name)
        click.echo(f"({info.members} subscribed, {info.unsubscribed} unsubscribed)", err=True)


@lists.command("add")
@click.argument("name")
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@pass_state
def lists_add(state: CLIState, name: str, contact_ids: tuple[int, ...]) -> None:
    """Add contacts to a list (someone who unsubscribed stays unsubscribed)."""
    added = api(state).add_to_list(name, contact_ids)
    click.echo(f"{added} contact(s) added to {name!r} ({len(set(contact_ids)) - added} already on it)")


@lists.command("remove")
@click.argument("name")
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@pass_state
def lists_remove(state: CLIState, name: str, contact_ids: tuple[int, ...]) -> None:
    """Take contacts off a list (a staff correction, not an unsubscribe)."""
    removed = api(state).remove_from_list(name, contact_ids)
    click.echo(f"{removed} contact(s) removed from {name!r}")


@lists.command("import")
@click.argument("name")
@click.argument("file", type=click.File("r", encoding="utf-8-sig"))
@click.option("--all-or-nothing", is_flag=True, help="Add nobody if any line names no contact.")
@pass_state
def lists_import(state: CLIState, name: str, file: Any, all_or_nothing: bool) -> None:
    """Add the contacts a file names: one id, e-mail or phone per line, or a CSV with an id/email/phone column."""
    result = api(state).import_list_members(name, file, all_or_nothing=all_or_nothing)
    for line, value, reason in result.missing[:MAX_MISSING_SHOWN]:
        click.echo(f"  line {line}: {value}: {reason}", err=True)
    if len(result.missing) > MAX_MISSING_SHOWN:
        click.echo(f"  … and {len(result.missing) - MAX_MISSING_SHOWN} more", err=True)
    if not result.written:
        raise ValidationError(
            f"{len(result.missing)} line(s) of {file.name} name no contact; --all-or-nothing: nobody was added to {name!r}"
        )
    click.echo(
        f"{result.added} contact(s) added to {name!r}, {result.already} already on it, {len(result.missing)} line(s) not found"
    )


@lists.command("unsubscribe")
@click.argument("name")
@click.argument("contact_id", type=int)
@pass_state
def lists_unsubscribe(state: CLIState, name: str, contact_id: int) -> None:
    """Record that a contact asked to leave a list (he stays a member, and is never mailed from it)."""
    changed = api(state).unsubscribe(contact_id, name, actor=actor_name(state))
    click.echo(
        f"contact {contact_id} unsubscribed from {name!r}"
        if changed
        else f"contact {contact_id} was already unsubscribed from {name!r}"
    )


@lists.command("resubscribe")
@click.argument("name")
@click.argument("contact_id", type=int)
@pass_state
def lists_resubscribe(state: CLIState, name: str, contact_id: int) -> None:
    """Undo an unsubscribe, when the contact asks to come back."""
    changed = api(state).resubscribe(contact_id, name)
    click.echo(
        f"contact {contact_id} subscribed to {name!r} again"
        if changed
        else f"contact {contact_id} was not unsubscribed from {name!r}"
    )


@lists.command("delete")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def lists_delete(state: CLIState, name: str, yes: bool) -> None:
    """Delete a list and its memberships (the contacts stay)."""
    contacts_api = api(state)
    info = next((i for i in contacts_api.lists() if i.name == name), None)
    if info is not None and not yes:
        click.confirm(f"delete mailing list {name!r} with {info.members + info.unsubscribed} member(s)?", abort=True)
    count = contacts_api.delete_list(name)
    click.echo(f"mailing list {name!r} deleted ({count} membership(s) removed; the contacts stay)")


@click.group()
def segments() -> None:
    """Segments: saved searches, evaluated each time they are used."""


@segments.command("list")
@format_option()
@pass_state
def segments_list(state: CLIState, fmt: str) -> None:
    """Every segment with its filters."""
    from crm_contacts.filters import describe

    rows = [
        {"name": s.name, "filters": describe(s.filters), "description": s.description} for s in api(state).segments()
    ]
    click.echo(render(rows, ["name", "filters", "description"], fmt))


@segments.command("create")
@click.argument("name")
@click.option("--description", default="", help="What the segment is for.")
@click.option(
    "--name-contains", "name_filter", help="Only contacts whose name contains this (case and accents ignored)."
)
@filter_options
@pass_state
def segments_create(
    state: CLIState, name: str, description: str, name_filter: str | None, include_deleted: bool, **options: Any
) -> None:
    """Save the filters given (as for 'crm contacts list') as a segment."""
    if include_deleted:
        raise click.UsageError("--deleted cannot be saved in a segment: mailings never reach deleted contacts")
    filters = collect_filters(options)
    if name_filter:
        filters["name"] = name_filter
    info = api(state).create_segment(name, filters, description)
    from crm_contacts.filters import describe

    click.echo(f"segment {info.name!r} created: {describe(info.filters)}")


@segments.command("show")
@click.argument("name")
@click.option(
    "--limit", type=click.IntRange(min=1), default=50, show_default=True, help="Matching contacts to show at most."
)
@format_option()
@pass_state
def segments_show(state: CLIState, name: str, limit: int, fmt: str) -> None:
    """Show a segment's filters and the contacts it matches now."""
    from crm_contacts.cli.common import LIST_COLUMNS
    from crm_contacts.filters import describe

    contacts_api = api(state)
    info = contacts_api.segment(name)
    page = contacts_api.search(limit=limit, **info.filters)
    if fmt == "table":
        click.echo(f"segment {info.name!r}: {describe(info.filters)}; {page.total} contact(s) match now")
    click.echo(render([card_row(c) for c in page.cards], LIST_COLUMNS, fmt))


@segments.command("delete")
@click.argument("name")
@pass_state
def segments_delete(state: CLIState, name: str) -> None:
    """Delete a segment (the contacts stay)."""
    api(state).delete_segment(name)
    click.echo(f"segment {name!r} deleted")


def _write(output: str | None, write: Any) -> Any:
    """``write(stream)`` to standard output or to ``output``, which is removed again if writing fails."""
    if output is None:
        return write(sys.stdout)
    try:
        with open(output, "w", encoding="utf-8", newline="") as out:
            return write(out)
    except BaseException:
        os.unlink(output)
        raise


@click.command()
@click.argument("source")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "addresses"]),
    default="csv",
    show_default=True,
    help="CSV with names and languages, or one address per line.",
)
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False, writable=True), help="File to write [default: standard output]."
)
@pass_state
def distribution(state: CLIState, source: str, fmt: str, output: str | None) -> None:
    """Write the e-mail distribution list of a mailing list or segment (SOURCE; prefix list: or segment: if both exist)."""
    counts = _write(output, lambda out: api(state).distribution_list(source, out, fmt))
    click.echo(counts.summary("addresses") + (f" to {output}" if output else ""), err=not output)


@click.command()
@click.argument("source")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "pdf"]),
    default="pdf",
    show_default=True,
    help="PDF label sheets, or CSV for a mail merge.",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, writable=True),
    help="File to write [default: standard output for CSV; required for PDF].",
)
@pass_state
def labels(state: CLIState, source: str, fmt: str, output: str | None) -> None:
    """Write postal address labels for a mailing list or segment (SOURCE)."""
    if fmt == "pdf" and output is None:
        raise click.UsageError("a PDF needs a file: add --output labels.pdf (or use --format csv)")
    contacts_api = api(state)
    if fmt == "pdf":
        assert output is not None  # refused above
        counts = contacts_api.labels_pdf(source, output)
    else:
        counts = _write(output, lambda out: contacts_api.labels_csv(source, out))
    click.echo(counts.summary("labels") + (f" to {output}" if output else ""), err=not output)


COMMANDS = [lists, segments, distribution, labels]
