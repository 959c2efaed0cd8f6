"""``crm contacts …``: the address book's commands.

Imported only when a ``crm contacts`` command runs. Every listing goes
through :func:`crm_core.output.render`; every user error is a ``CRMError``
that the kernel shows as one line.
"""

from __future__ import annotations

import datetime as dt
import getpass
import json
import os
from collections.abc import Sequence
from typing import Any

import attrs
import click

from crm_core import ids
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import CRMError, ValidationError
from crm_core.output import format_option, note, render

__all__ = ["contacts"]

LIST_COLUMNS = ["id", "name", "kind", "email", "phone", "status", "region", "owner", "tags"]


def actor() -> str:
    """Who is at the keyboard: ``$CRM_USER``, else the login name."""
    try:
        return os.environ.get("CRM_USER") or getpass.getuser()
    except Exception:  # no login name in some containers
        return "staff"


def api(state: CLIState) -> Any:
    return state.crm().plugin("contacts")


def plain(value: Any) -> Any:
    """JSON-ready copies of records (attrs classes, datetimes)."""
    if attrs.has(type(value)):
        return plain(attrs.asdict(value, recurse=False))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (dt.datetime, dt.date)):
        return value.isoformat()
    return value


def card_row(card: Any) -> dict[str, Any]:
    return {
        "id": card.id,
        "name": card.display_name,
        "kind": card.kind,
        "email": card.email or "",
        "phone": card.phone or "",
        "status": card.status,
        "region": card.region or "",
        "owner": card.owner or "",
        "tags": ", ".join(card.tags),
        "organization": card.organization_name or "",
        "country": card.country or "",
    }


def parse_custom(values: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValidationError(f"--custom {item!r}: write NAME=VALUE (NAME= removes the field)")
        out[key.strip()] = value if value.strip() else None
    return out


def contact_options(command: Any) -> Any:
    """The field options shared by ``add`` and ``edit``."""
    options = [
        click.option("--kind", type=click.Choice(["person", "organization"]), help="person (default) or organization."),
        click.option("--first-name", help="Given name."),
        click.option("--last-name", help="Family name."),
        click.option(
            "--name", "display_name", help="Name shown (default: first and last name); an organization's name."
        ),
        click.option("--middle-name", help="Middle name."),
        click.option("--name-prefix", help="Name prefix, e.g. Dr."),
        click.option("--name-suffix", help="Name suffix, e.g. Jr."),
        click.option("--nickname", help="Nickname."),
        click.option("--title", help="Job title."),
        click.option("--department", help="Department at the organization."),
        click.option("--birthday", help="Birthday: YYYY-MM-DD, or --MM-DD without the year."),
        click.option("--website", help="Web page."),
        click.option(
            "--organization", "organization_id", type=int, help="Id of the organization the person belongs to."
        ),
        click.option(
            "--email", "emails", multiple=True, help="E-mail address (repeat for several; the first is primary)."
        ),
        click.option(
            "--phone",
            "phones",
            multiple=True,
            help="Phone number, international or in the default region (repeat for several).",
        ),
        click.option("--street", help="Postal address: street and number."),
        click.option("--city", help="Postal address: city."),
        click.option("--postal-code", help="Postal address: postal code."),
        click.option("--address-country", help="Postal address: ISO 3166 country code."),
        click.option("--status", type=click.Choice(["prospect", "customer", "former"]), help="Lifecycle status."),
        click.option("--region", help="Sales region."),
        click.option("--country", help="ISO 3166-1 alpha-2 country code."),
        click.option("--owner", help="Salesperson responsible."),
        click.option("--language", help="BCP 47 language tag, e.g. es or en-GB."),
        click.option("--tag", "tags", multiple=True, help="Tag (repeat for several)."),
        click.option(
            "--custom", "custom", multiple=True, metavar="NAME=VALUE", help="Custom field (repeat; NAME= removes it)."
        ),
        click.option("--external-id", help="Id of the contact in another system (used to match imports)."),
        click.option("--notes", help="Free notes."),
        click.option(
            "--do-not-contact/--contact-ok",
            "do_not_contact",
            default=None,
            help="Never mail or print for this contact.",
        ),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def collect_fields(options: dict[str, Any], editing: bool) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in (
        "kind",
        "first_name",
        "last_name",
        "display_name",
        "organization_id",
        "status",
        "region",
        "country",
        "owner",
        "language",
        "external_id",
        "notes",
        "do_not_contact",
        "middle_name",
        "name_prefix",
        "name_suffix",
        "nickname",
        "title",
        "department",
        "birthday",
        "website",
    ):
        if options.get(name) is not None:
            fields[name] = options[name]
    if options.get("emails"):
        fields["emails"] = list(options["emails"])
    if options.get("phones"):
        fields["phones"] = list(options["phones"])
    if options.get("tags"):
        fields["tags"] = list(options["tags"])
    if options.get("custom"):
        fields["custom"] = parse_custom(options["custom"])
    parts = {k: options.get(k) for k in ("street", "city", "postal_code")}
    if options.get("address_country"):
        parts["country"] = options["address_country"]
    if any(parts.values()):
        fields["addresses"] = [{k: v for k, v in parts.items() if v}]
    return fields


@click.group()
def contacts() -> None:
    """Address book: contacts, imports, lists, duplicates, GDPR."""


@contacts.command()
@contact_options
@pass_state
def add(state: CLIState, **options: Any) -> None:
    """Add a person (or, with --kind organization, an organization)."""
    fields = collect_fields(options, editing=False)
    record = api(state).create(actor=actor(), channel="staff", **fields)
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


@contacts.command()
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
            click.echo(json.dumps(plain(data), indent=2, ensure_ascii=False))
        else:
            rows = [{"field": k, "value": v} for k, v in data.items()]
            click.echo(render(rows, ["field", "value"], fmt))
        return
    record = api(state).get(contact_id)
    if fmt == "json":
        click.echo(json.dumps(plain(record), indent=2, ensure_ascii=False))
    else:
        click.echo(render(_show_rows(record), ["field", "value"], fmt))


@contacts.command()
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
    after = contacts_api.update(contact_id, actor=actor(), channel="staff", **fields)
    if after == before:
        click.echo(f"contact {contact_id}: nothing changed")
    else:
        click.echo(f"contact {contact_id} updated: {after.display_name}")


def filter_options(command: Any) -> Any:
    options = [
        click.option("--status", type=click.Choice(["prospect", "customer", "former"]), help="Only this status."),
        click.option("--region", help="Only this sales region."),
        click.option("--owner", help="Only this salesperson's contacts."),
        click.option("--country", help="Only this country (ISO code)."),
        click.option("--city", help="Only contacts with an address in this city."),
        click.option(
            "--kind", type=click.Choice(["person", "organization"]), help="Only people or only organizations."
        ),
        click.option("--tag", "tag", multiple=True, help="Only contacts with this tag (repeat: all of them)."),
        click.option(
            "--custom",
            "custom",
            multiple=True,
            metavar="NAME=VALUE",
            help="Only contacts with this custom field value.",
        ),
        click.option("--list", "list_name", help="Only members of this mailing list."),
        click.option(
            "--organization", "organization_id", type=ids.cli_type(), help="Only members of this organization."
        ),
        click.option("--deleted", "include_deleted", is_flag=True, help="Include deleted contacts."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def paging_options(command: Any) -> Any:
    from crm_contacts.book import MAX_PAGE

    command = click.option(
        "--offset", type=click.IntRange(0, ids.MAX_ID), default=0, show_default=True, help="Skip this many."
    )(command)
    return click.option(
        "--limit",
        type=click.IntRange(1, MAX_PAGE),
        default=50,
        show_default=True,
        help=f"Contacts per page (at most {MAX_PAGE:,}).",
    )(command)


def collect_filters(options: dict[str, Any]) -> dict[str, Any]:
    filters = {
        k: options[k]
        for k in ("status", "region", "owner", "country", "city", "kind", "organization_id")
        if options.get(k) is not None
    }
    if options.get("tag"):
        filters["tag"] = list(options["tag"])
    if options.get("custom"):
        filters["custom"] = {k: v or "" for k, v in parse_custom(options["custom"]).items()}
    if options.get("list_name"):
        filters["list"] = options["list_name"]
    return filters


def _print_page(page: Any, fmt: str) -> None:
    rows = [card_row(c) for c in page.cards]
    click.echo(render(rows, LIST_COLUMNS, fmt))
    if fmt == "table" and page.total > len(page.cards):
        note(f"({len(page.cards)} of {page.total}; next page: --offset {page.offset + len(page.cards)})")


@contacts.command("list")
@filter_options
@paging_options
@format_option()
@pass_state
def list_(state: CLIState, fmt: str, limit: int, offset: int, include_deleted: bool, **options: Any) -> None:
    """List contacts by name, a page at a time, optionally filtered."""
    page = api(state).search(limit=limit, offset=offset, include_deleted=include_deleted, **collect_filters(options))
    _print_page(page, fmt)


@contacts.command()
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


@contacts.command()
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@pass_state
def delete(state: CLIState, contact_ids: tuple[int, ...]) -> None:
    """Soft-delete contacts (restore brings them back)."""
    contacts_api = api(state)
    for contact_id in contact_ids:
        contacts_api.delete(contact_id, actor=actor())
        click.echo(f"contact {contact_id} deleted (undo: crm contacts restore {contact_id})")


@contacts.command()
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@pass_state
def restore(state: CLIState, contact_ids: tuple[int, ...]) -> None:
    """Restore soft-deleted contacts."""
    contacts_api = api(state)
    for contact_id in contact_ids:
        record = contacts_api.restore(contact_id, actor=actor())
        click.echo(f"contact {contact_id} restored: {record.display_name}")


@contacts.command()
@click.argument("contact_ids", nargs=-1, type=int, required=True)
@click.option("--add", "add_tags", multiple=True, help="Tag to add (repeat for several).")
@click.option("--remove", "remove_tags", multiple=True, help="Tag to remove (repeat for several).")
@pass_state
def tag(state: CLIState, contact_ids: tuple[int, ...], add_tags: tuple[str, ...], remove_tags: tuple[str, ...]) -> None:
    """Add or remove tags on one or more contacts."""
    if not add_tags and not remove_tags:
        raise click.UsageError("give --add TAG or --remove TAG")
    changed = api(state).tag(contact_ids, add=add_tags, remove=remove_tags, actor=actor())
    click.echo(f"{changed} contact(s) changed")


from crm_contacts import cli_admin as _cli_admin  # noqa: E402,F401  (registers duplicates, merge, GDPR)
from crm_contacts import cli_lists as _cli_lists  # noqa: E402,F401  (registers lists, segments, distribution, labels)
from crm_contacts import cli_selfservice as _cli_selfservice  # noqa: E402,F401  (registers update-link, review)
from crm_contacts import cli_transfer as _cli_transfer  # noqa: E402,F401  (registers import/export)
