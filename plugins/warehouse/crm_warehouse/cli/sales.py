"""``crm sales …``: requests, quotes and sales moving through the pipeline."""

from __future__ import annotations

from typing import Any

import attrs
import click

from crm_core.cli.helpers import acting_user_option, actor_name, plugin_api, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_warehouse.cli.common import parse_date, render_record
from crm_warehouse.sales import KINDS, OUTCOMES, Sale

__all__ = ["COMMANDS"]

ALL_COLUMNS = [f.name for f in attrs.fields(Sale)]
LIST_COLUMNS = [
    "id",
    "kind",
    "title",
    "contact_id",
    "owner",
    "region",
    "amount",
    "currency",
    "stage",
    "expected_close_on",
    "closed_on",
]


@click.command("add")
@click.argument("kind", type=click.Choice(KINDS))
@click.argument("contact_id", type=int)
@click.option("--title", default="", help="What is asked or sold.")
@click.option("--amount", default="0", show_default=True, help="Amount, e.g. 1200.50 (not negative).")
@click.option("--currency", default=None, help="ISO 4217 code [default: plugins.warehouse.default_currency].")
@click.option("--owner", default=None, help="User in charge [default: the acting user, else the contact's owner].")
@click.option("--region", default=None, help="Sales region [default: the contact's region].")
@click.option(
    "--organization", "organization_id", type=int, default=None, help="Organization id [default: the contact's]."
)
@click.option("--product-line", default=None, help="Product line, for reports.")
@click.option("--stage", default=None, help="Open stage to start at [default: the pipeline's first].")
@click.option("--expected-close", default=None, metavar="DATE", help="Expected close date, YYYY-MM-DD.")
@click.option("--description", default="", help="Longer description.")
@acting_user_option
@format_option()
@pass_state
def add(state: CLIState, kind: str, contact_id: int, title: str, amount: str, currency: str | None, owner: str | None,
        region: str | None, organization_id: int | None, product_line: str | None, stage: str | None,
        expected_close: str | None, description: str, fmt: str) -> None:  # fmt: skip
    """Record a request for proposal (rfp) or quotation (rfq), an appointment request, a quote or a sale."""
    record = plugin_api(state, "warehouse").sales.add(
        kind,
        contact_id,
        title=title,
        amount=amount,
        currency=currency,
        owner=owner,
        region=region,
        organization_id=organization_id,
        product_line=product_line,
        stage=stage,
        expected_close_on=parse_date(expected_close, "--expected-close"),
        description=description,
        actor=actor_name(state),
        channel="staff",
    )
    if fmt == "table":
        click.echo(
            f"sales record {record.id} added: {record.kind} for contact {record.contact_id}, {record.amount} {record.currency}, stage {record.stage}"
        )
    else:
        click.echo(render([to_json(record)], ALL_COLUMNS, fmt))


@click.command("show")
@click.argument("sale_id", type=int)
@format_option()
@pass_state
def show(state: CLIState, sale_id: int, fmt: str) -> None:
    """One record with its way through the pipeline, its notes and its documents."""
    api = plugin_api(state, "warehouse")
    authz = state.crm().authz
    record = to_json(api.sales.get(sale_id))
    moves = [to_json(m) for m in api.sales.moves(sale_id)]
    # notes and documents the user may not read are left out, not an error
    actions = (
        [to_json(a) for a in api.actions.list(sale_id=sale_id, limit=1000)]
        if authz.can("warehouse.actions.read")
        else []
    )
    documents = (
        [to_json(d) for d in api.documents.list(sale_id=sale_id, limit=1000)]
        if authz.can("warehouse.documents.read")
        else []
    )
    if fmt == "json":
        click.echo(render([{**record, "moves": moves, "actions": actions, "documents": documents}], None, "json"))
        return
    click.echo(render_record(record, fmt))
    if fmt == "table":
        click.echo("\nstages:")
        click.echo(render(moves, ["moved_at", "old_stage", "new_stage", "actor"], "table"))
        if actions:
            click.echo("\nnotes and calls:")
            click.echo(render(actions, ["id", "kind", "occurred_at", "author", "subject"], "table"))
        if documents:
            click.echo("\ndocuments:")
            click.echo(render(documents, ["id", "name", "content_type", "size", "uploaded_by", "uploaded_at"], "table"))


@click.command("list")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only records of this kind.")
@click.option("--stage", default=None, help="Only records at this stage.")
@click.option("--outcome", type=click.Choice(OUTCOMES), default=None, help="Only open, won or lost records.")
@click.option("--owner", default=None, help="Only this staff member's records.")
@click.option("--region", default=None, help="Only this region's records.")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's records.")
@click.option("--limit", default=100, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def list_sales(state: CLIState, kind: str | None, stage: str | None, outcome: str | None, owner: str | None,
               region: str | None, contact_id: int | None, limit: int, fmt: str) -> None:  # fmt: skip
    """Sales records, newest first."""
    records = plugin_api(state, "warehouse").sales.list(
        kind=kind, stage=stage, outcome=outcome, owner=owner, region=region, contact_id=contact_id, limit=limit
    )
    click.echo(render([to_json(r) for r in records], LIST_COLUMNS if fmt == "table" else ALL_COLUMNS, fmt))


@click.command("stage")
@click.argument("sale_id", type=int)
@click.argument("stage")
@click.option("--reopen", is_flag=True, help="Move a closed record back into the pipeline.")
@acting_user_option
@pass_state
def stage(state: CLIState, sale_id: int, stage: str, reopen: bool) -> None:
    """Move a record to STAGE (the won or lost stage closes it, as 'crm sales close' does)."""
    record = plugin_api(state, "warehouse").sales.move(
        sale_id, stage, actor=actor_name(state), channel="staff", reopen=reopen
    )
    click.echo(f"sales record {record.id} is now at {record.stage} (win probability {record.probability:.0%})")


@click.command("close")
@click.argument("sale_id", type=int)
@click.option("--won/--lost", default=None, help="How it ended (one of the two is required).")
@click.option("--reason", default=None, help="Why it was lost.")
@click.option("--date", "closed_on", default=None, metavar="DATE", help="Closed date, YYYY-MM-DD [default: today].")
@click.option("--amount", default=None, help="The final amount, if it changed.")
@acting_user_option
@pass_state
def close(state: CLIState, sale_id: int, won: bool | None, reason: str | None, closed_on: str | None,
          amount: str | None) -> None:  # fmt: skip
    """Close a record as won or lost."""
    if won is None:
        raise click.UsageError("say how it ended: --won or --lost")
    record = plugin_api(state, "warehouse").sales.close(
        sale_id,
        won=won,
        lost_reason=reason,
        closed_on=parse_date(closed_on, "--date"),
        amount=amount,
        actor=actor_name(state),
        channel="staff",
    )
    click.echo(
        f"sales record {record.id} closed as {record.outcome} on {record.closed_on}: {record.amount} {record.currency}"
    )


@click.command("update")
@click.argument("sale_id", type=int)
@click.option(
    "--kind", type=click.Choice(KINDS), default=None, help="Turn a request into a quote, a quote into a sale."
)
@click.option("--title", default=None)
@click.option("--amount", default=None)
@click.option("--currency", default=None)
@click.option("--owner", default=None)
@click.option("--region", default=None)
@click.option("--organization", "organization_id", type=int, default=None)
@click.option("--product-line", default=None)
@click.option("--expected-close", default=None, metavar="DATE")
@click.option("--description", default=None)
@acting_user_option
@pass_state
def update(state: CLIState, /, sale_id: int, **options: Any) -> None:
    """Change a record's details (its stage moves with 'stage' and 'close')."""
    changes = {k: v for k, v in options.items() if v is not None}
    if "expected_close" in changes:
        changes["expected_close_on"] = parse_date(changes.pop("expected_close"), "--expected-close")
    if not changes:
        raise click.UsageError("nothing to change: give at least one option (see --help)")
    record = plugin_api(state, "warehouse").sales.update(sale_id, actor=actor_name(state), **changes)
    click.echo(f"sales record {record.id} updated: {', '.join(sorted(changes))}")


@click.command("pipeline")
@click.option("--owner", default=None, help="Only this staff member's records.")
@click.option("--region", default=None, help="Only this region's records.")
@format_option()
@pass_state
def pipeline(state: CLIState, owner: str | None, region: str | None, fmt: str) -> None:
    """Open records per stage: count, amount and probability-weighted amount, per currency."""
    rows = plugin_api(state, "warehouse").sales.forecast(owner=owner, region=region)
    click.echo(render(rows, ["stage", "probability", "records", "currency", "amount", "weighted"], fmt))


@click.command("export")
@click.option("--kind", type=click.Choice(KINDS), default=None, help="Only records of this kind.")
@click.option("--stage", default=None, help="Only records at this stage.")
@click.option("--outcome", type=click.Choice(OUTCOMES), default=None, help="Only open, won or lost records.")
@click.option("--owner", default=None, help="Only this user's records.")
@click.option("--region", default=None, help="Only this region's records.")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's records.")
@click.option(
    "--format", "fmt", type=click.Choice(["csv", "json"]), default="csv", show_default=True, help="Output format."
)
@pass_state
def export(state: CLIState, kind: str | None, stage: str | None, outcome: str | None, owner: str | None,
           region: str | None, contact_id: int | None, fmt: str) -> None:  # fmt: skip
    """Every matching sales record with all its fields, oldest first (CSV or JSON)."""
    records = plugin_api(state, "warehouse").sales.export(
        kind=kind, stage=stage, outcome=outcome, owner=owner, region=region, contact_id=contact_id
    )
    click.echo(render([to_json(r) for r in records], ALL_COLUMNS, fmt))


#: the commands of ``crm sales``, in the order ``--help`` lists them
COMMANDS = [add, show, list_sales, stage, close, update, pipeline, export]
