"""``crm contacts update-link|review``: self-service links and the review of what customers sent."""

from __future__ import annotations

import json
import re
from typing import Any

import click

from crm_contacts.cli.common import api
from crm_core import ids
from crm_core.cli.helpers import actor_name, to_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.errors import ValidationError
from crm_core.output import format_option, render

_TTL = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([hd]?)\s*\Z", re.IGNORECASE)


def parse_ttl(text: str | None) -> float | None:
    """``48``, ``48h`` or ``3d`` as hours; ``None`` for the configured default."""
    if text is None:
        return None
    match = _TTL.match(text)
    if match is None:
        raise ValidationError(f"--ttl {text!r}: write hours or days, such as 48, 48h or 3d")
    value = float(match.group(1))
    return value * 24 if match.group(2).lower() == "d" else value


def _value(value: Any) -> str:
    if isinstance(value, list):
        parts = []
        for item in value:
            if isinstance(item, dict):
                main = (
                    item.get("address")
                    or item.get("number")
                    or " / ".join(
                        str(item[k])
                        for k in ("street", "extra", "postal_code", "city", "region", "country")
                        if item.get(k)
                    )
                )
                parts.append(f"{main}{' (primary)' if item.get('primary') and len(value) > 1 else ''}")
            else:
                parts.append(str(item))
        return ", ".join(parts) or "(none)"
    if value is None or value == "":
        return "(empty)"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


@click.command("update-link")
@click.argument("contact_id", type=int)
@click.option(
    "--fields", help="Comma-separated fields the contact may change [default: plugins.contacts.self_service.fields]."
)
@click.option(
    "--ttl",
    help="How long the link stays valid: hours (48, 48h) or days (3d) [default: plugins.contacts.self_service.ttl_hours].",
)
@click.option(
    "--send", is_flag=True, help="Also e-mail the link to the contact's primary address (through the mail queue)."
)
@click.option("--revoke", is_flag=True, help="Withdraw the contact's unused links instead of making one.")
@pass_state
def update_link(
    state: CLIState, contact_id: int, fields: str | None, ttl: str | None, send: bool, revoke: bool
) -> None:
    """Make a signed, single-use link with which a contact updates his own details."""
    contacts_api = api(state)
    if revoke:
        if fields or ttl or send:
            raise click.UsageError("--revoke takes no other option")
        count = contacts_api.revoke_update_links(contact_id)
        click.echo(f"{count} unused update link(s) of contact {contact_id} withdrawn")
        return
    hours = parse_ttl(ttl)
    chosen = [f.strip() for f in fields.split(",") if f.strip()] if fields is not None else None
    if send:
        record = contacts_api.get(contact_id)
        if record.do_not_contact:
            raise ValidationError(
                f"contact {contact_id} does not want to be contacted (do-not-contact); the link was not made"
            )
        if record.email is None:
            raise ValidationError(
                f"contact {contact_id} has no e-mail address to send the link to; run without --send and pass it on yourself"
            )
    link = contacts_api.issue_update_link(contact_id, chosen, hours, actor=actor_name(state))
    click.echo(
        f"update link for contact {contact_id}, valid until {link.expires_at:%Y-%m-%d %H:%M} UTC, once, "
        f"for: {', '.join(link.fields)}"
    )
    click.echo(link.url)
    if send:
        app = state.crm()
        text = (
            f"Hello {record.display_name},\n\n"
            "please check the details we keep about you and correct them if needed:\n\n"
            f"{link.url}\n\n"
            f"The link works once, until {link.expires_at:%Y-%m-%d %H:%M} UTC.\n"
        )
        with app.transaction():
            app.mail.queue(
                record.email,
                "Please check your contact details",
                text,
                key=f"contacts-update-link:{link.token.rsplit('.', 1)[0]}",
            )
        click.echo(f"queued for {record.email} (sent by 'crm worker' or 'crm mail deliver')")


@click.command()
@click.argument("change_id", type=ids.cli_type(), required=False)
@click.option("--approve", is_flag=True, help="Apply change CHANGE_ID to the contact.")
@click.option("--reject", is_flag=True, help="Refuse change CHANGE_ID.")
@click.option("--note", default="", help="Why (kept with the decision).")
@click.option(
    "--status",
    type=click.Choice(["pending", "approved", "rejected", "all"]),
    default="pending",
    show_default=True,
    help="Which changes to list.",
)
@click.option("--contact", "contact_id", type=ids.cli_type(), help="Only this contact's changes.")
@format_option()
@pass_state
def review(
    state: CLIState,
    change_id: int | None,
    approve: bool,
    reject: bool,
    note: str,
    status: str,
    contact_id: int | None,
    fmt: str,
) -> None:
    """List self-service changes waiting for review; show, approve or reject one."""
    contacts_api = api(state)
    if approve and reject:
        raise click.UsageError("give --approve or --reject, not both")
    if (approve or reject) and change_id is None:
        raise click.UsageError("name the change to decide: crm contacts review ID --approve (see crm contacts review)")
    if change_id is None:
        rows = [
            {
                "id": p.id,
                "contact": p.contact_id,
                "name": p.display_name,
                "submitted": p.submitted_at,
                "status": p.status,
                "fields": ", ".join(p.changes or p.submitted),
                "reviewed_by": p.reviewed_by or "",
            }
            for p in contacts_api.pending_updates(status, contact_id)
        ]
        click.echo(render(rows, ["id", "contact", "name", "submitted", "status", "fields", "reviewed_by"], fmt))
        return
    if approve:
        done = contacts_api.approve_update(change_id, actor=actor_name(state), note=note)
        fields = ", ".join(done.changes) or "nothing (the contact already had these values)"
        click.echo(f"change {change_id} approved: contact {done.contact_id} updated ({fields})")
        return
    if reject:
        done = contacts_api.reject_update(change_id, actor=actor_name(state), note=note)
        click.echo(f"change {change_id} rejected: contact {done.contact_id} left as it was")
        return
    change = contacts_api.pending_update(change_id)
    if fmt == "json":
        click.echo(json.dumps(to_json(change), indent=2, ensure_ascii=False))
        return
    click.echo(
        f"change {change.id} for contact {change.contact_id} ({change.display_name}), submitted {change.submitted_at:%Y-%m-%d %H:%M} UTC: {change.status}"
    )
    if change.status == "pending":
        rows = [{"field": k, "now": _value(c.old), "proposed": _value(c.new)} for k, c in change.changes.items()]
        click.echo(
            render(rows, ["field", "now", "proposed"], fmt) if rows else "(the contact already has these values)"
        )
        click.echo(
            f"approve: crm contacts review {change.id} --approve    reject: crm contacts review {change.id} --reject"
        )
    else:
        rows = [{"field": k, "submitted": _value(v)} for k, v in change.submitted.items()]
        click.echo(render(rows, ["field", "submitted"], fmt))
        by = f" by {change.reviewed_by}" if change.reviewed_by else ""
        click.echo(f"{change.status}{by}" + (f": {change.note}" if change.note else ""))


COMMANDS = [update_link, review]
