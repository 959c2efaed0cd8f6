"""What the ``crm contacts`` commands share: the API, field and filter options, table rows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import click

from crm_core import ids
from crm_core.cli.helpers import plugin_api
from crm_core.errors import ValidationError

if TYPE_CHECKING:
    from crm_contacts.api import ContactsAPI
    from crm_core.cli.main import CLIState

LIST_COLUMNS = ["id", "name", "kind", "email", "phone", "status", "region", "owner", "tags"]


def api(state: CLIState) -> ContactsAPI:
    """The contacts plugin's API for a command (a one-line error when the plugin is not enabled)."""
    return plugin_api(state, "contacts")  # type: ignore[no-any-return]


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
