"""``crm contacts add|show|edit|list|search|delete|restore|tag``: the address book itself."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import click

from crm_contacts.cli.common import (
    LIST_COLUMNS,
    api,
    card_row,
    collect_fields,
    collect_filters,
    contact_options,
    filter_options,
    paging_options,
)
from crm_core import ids
from crm_core.cli.helpers import actor_name, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import CRMError, ValidationError
from crm_core.output import format_option, note, render

__all__ = ["COMMANDS"]


@click.command()
@contact_options
@pass_state
def add(state: CLIState, **options: Any) -> None:
    """Add a person (or, with --kind organization, an organization)."""
    fields = collect_fields(options, editing=False)
    record = api(state).create(actor=actor_name(state), channel="staff", **fields)
    click.echo(f"contact {record.id} added: {record.display_name}")


def _show_rows(record: Any) -> list[dict[str, Any]]:
    rows = [
        ("id", record.id),
        ("name", record.display_name),
        ("kind", record.kind),
        ("first name", record.first_name),
        ("last name", record.last_name),
        *(
            (label, value)
            for label, value in (
                ("name prefix", record.name_prefix),
                ("middle name", record.middle_name),
                ("name suffix", record.name_suffix),
                ("nickname", record.nickname),
                ("title", record.title),
                ("department", record.department),
                ("birthday", record.birthday),
                ("website", record.website),
            )
            if value
        ),
        ("organization", f"{record.organization_name} (#{record.organization_id})" if record.organization_id else ""),
        (
            "status",
            f"{record.status} (since {record.status_changed_at.date().isoformat()})"
            if record.status_changed_at
            else record.status,
        ),
        ("region", record.region or ""),
        ("country", record.country or ""),
        ("owner", record.owner or ""),
        ("language", record.language or ""),
        ("do not contact", "yes" if record.do_not_contact else "no"),
        ("external id", record.external_id or ""),
    ]
    for e in record.emails:
        unverified = ", unverified: not an e-mail address" if not e.verified else ""
        rows.append(("e-mail", f"{e.address} ({e.kind}{', primary' if e.primary else ''}{unverified})"))
    for p in record.phones:
        ext = f" ext. {p.extension}" if p.extension else ""
        unverified = ", unverified: kept as typed" if not p.verified else ""
        rows.append(("phone", f"{p.number}{ext} ({p.kind}{', primary' if p.primary else ''}{unverified})"))
    for a in record.addresses:
        rows.append(("address", f"{' / '.join(a.postal().lines())} ({a.kind}{', primary' if a.primary else ''})"))
    rows.append(("tags", ", ".join(record.tags)))
    for key, value in record.custom.items():
        rows.append((f"custom {key}", value))
    if record.notes:
        rows.append(("notes", record.notes))
    rows.append(("created", record.created_at.isoformat() if record.created_at else ""))
    rows.append(("updated", record.updated_at.isoformat() if record.updated_at else ""))
    if record.deleted_at:
        rows.append(
            (
                "deleted",
                record.deleted_at.isoformat() + (f" (merged into #{record.merged_into})" if record.merged_into else ""),
            )
        )
    if record.erased_at:
        rows.append(("erased", record.erased_at.isoformat()))
    return [{"field": k, "value": v} for k, v in rows]


def _parse_as_of(text: str) -> dt.date | dt.datetime:
    try:
        if "T" in text or " " in text.strip():
            when = dt.datetime.fromisoformat(text)
            if when.tzinfo is None:
                raise ValidationError(
                    f"--as-of {text!r}: give a time zone (e.g. {text}+00:00) or a plain date YYYY-MM-DD"
                )
            return when
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValidationError(
            f"--as-of {text!r} is not a date; write YYYY-MM-DD (or an ISO datetime with a time zone)"
        ) from None


@click.command()
@click.argument("contact_id", type=ids.cli_type())
@click.option(
    "--as-of", "as_of", metavar="DATE", help="Show the contact as it was on DATE (needs the warehouse plugin)."
)
@format_option()
@pass_state
def show(state: CLIState, contact_id: int, as_of: str | None, fmt: str) -> None:
    """Show one contact with everything kept about it."""
    app = state.crm()
    if as_of is not None:
        when = _parse_as_of(as_of)
        if not app.has_plugin("warehouse"):
            raise CRMError(
                "--as-of needs the warehouse plugin, which keeps the history of every contact; "
                "enable 'warehouse' in [plugins] enabled (and run 'crm migrate')"
            )
        data = app.plugin("warehouse").contact_as_of(contact_id, when)
        if fmt == "json":
            click.echo(json.dumps(to_json(data), indent=2, ensure_ascii=False))
        else:
            rows = [{"field": k, "value": v} for k, v in data.items()]
            click.echo(render(rows, ["field", "value"], fmt))
        return
    record = api(state).get(contact_id)
    if fmt == "json":
        click.echo(json.dumps(to_json(record), indent=2, ensure_ascii=False))
    else:
        click.echo(render(_show_rows(record), ["field", "value"], fmt))


@click.command()
@click.argument("contact_id", type=int)
@contact_options
@pass_state
def edit(state: CLIState, contact_id: int, **options: Any) -> None:
    """Change fields of a contact (only the options given; --email/--phone/--tag replace the lists)."""
    fields = collect_fields(options, editing=True)
    if not fields:
        raise click.UsageError("nothing to change: give at least one option, e.g. --status customer")
    contacts_api = api(state)
    before = contacts_api.get(contact_id)
    after = contacts_api.update(contact_id, actor=actor_name(state), channel="staff", **fields)
    if after == before:
        click.echo(f"contact {contact_id}: nothing changed")
    else:
        click.echo(f"contact {contact_id} updated: {after.display_name}")


def _print_page(page: Any, fmt: str) -> None:
    rows = [card_row(c) for c in page.cards]
    click.echo(render(rows, LIST_COLUMNS, fmt))
    if fmt == "table" and page.total > len(page.cards):
        note(f"({len(page.cards)} of {page.total}; next page: --offset {page.offset + len(page.cards)})")


@click.command("list")
@filter_options
@paging_options
@format_option()
@pass_state
def list_(state: CLIState, fmt: str, limit: int, offset: int, include_deleted: bool, **options: Any) -> None:
    """List contacts by name, a page at a time, optionally filtered."""
    page = api(state).search(limit=limit, offset=offset, include_deleted=include_deleted, **collect_filters(options))
    _print_page(page, fmt)


@click.command()
@click.argument("query", required=False)
@click.option("--name", help="Part of the name (case and accents ignored).")
@click.option("--email", help="An e-mail address (exact).")
@click.option("--phone", help="A phone number (any format; compared in E.164).")
@filter_options
@paging_options
@format_option()
@pass_state
def search(
    state: CLIState, query: str | None, fmt: str, limit: int, offset: int, include_deleted: bool, **options: Any
) -> None:
    """Search by free text (an e-mail, a phone or part of a name) and filters."""
    filters = collect_filters(options)
    for key in ("name", "email", "phone"):
        if options.get(key):
            filters[key] = options[key]
    if not query and not filters:
        raise click.UsageError("give a QUERY or at least one filter, e.g. crm contacts search ana or --tag vip")
    page = api(state).search(query, limit=limit, offset=offset, include_deleted=include_deleted, **filters)
    _print_page(page, fmt)


@click.command()
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@pass_state
def delete(state: CLIState, contact_ids: tuple[int, ...]) -> None:
    """Soft-delete contacts (restore brings them back)."""
    contacts_api = api(state)
    for contact_id in contact_ids:
        contacts_api.delete(contact_id, actor=actor_name(state))
        click.echo(f"contact {contact_id} deleted (undo: crm contacts restore {contact_id})")


@click.command()
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@pass_state
def restore(state: CLIState, contact_ids: tuple[int, ...]) -> None:
    """Restore soft-deleted contacts."""
    contacts_api = api(state)
    for contact_id in contact_ids:
        record = contacts_api.restore(contact_id, actor=actor_name(state))
        click.echo(f"contact {contact_id} restored: {record.display_name}")


@click.command()
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@click.option("--add", "add_tags", multiple=True, help="Tag to add (repeat for several).")
@click.option("--remove", "remove_tags", multiple=True, help="Tag to remove (repeat for several).")
@pass_state
def tag(state: CLIState, contact_ids: tuple[int, ...], add_tags: tuple[str, ...], remove_tags: tuple[str, ...]) -> None:
    """Add or remove tags on one or more contacts."""
    if not add_tags and not remove_tags:
        raise click.UsageError("give --add TAG or --remove TAG")
    changed = api(state).tag(contact_ids, add=add_tags, remove=remove_tags, actor=actor_name(state))
    click.echo(f"{changed} contact(s) changed")


COMMANDS = [add, show, edit, list_, search, delete, restore, tag]
