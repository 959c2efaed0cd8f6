"""``crm campaigns list|show|create|edit|preview|test``: writing campaigns and trying them out."""

from __future__ import annotations

import click

from crm_campaigns.cli.common import SEND_COLUMNS, api, local, read_template, send_row
from crm_core.cli.helpers import echo_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render

__all__ = ["COMMANDS"]


@click.command("list")
@format_option()
@pass_state
def list_campaigns(state: CLIState, fmt: str) -> None:
    """The campaigns, the most recently changed first."""
    rows = [
        {
            "id": c.id,
            "name": c.name,
            "subject": c.subject,
            "html": c.html is not None,
            "updated": local(state, c.updated_at),
        }
        for c in api(state).list()
    ]
    click.echo(render(rows, ["id", "name", "subject", "html", "updated"], fmt))


@click.command("show")
@click.argument("campaign")
@format_option()
@pass_state
def show(state: CLIState, campaign: str, fmt: str) -> None:
    """A campaign's templates, its sends with their counts, and its recurring newsletters."""
    campaigns = api(state)
    info = campaigns.get(campaign)
    sends = campaigns.sends(info.id)
    recurring = campaigns.recurring(info.id)
    if fmt == "json":
        echo_json({"campaign": info, "sends": sends, "recurring": recurring})
        return
    click.echo(f"campaign {info.id}: {info.name} (revision {info.revision}, changed {local(state, info.updated_at)})")
    click.echo(f"subject: {info.subject}")
    click.echo("--- text ---")
    click.echo(info.text.rstrip("\n"))
    click.echo("--- html ---" if info.html is not None else "--- no html part ---")
    if info.html is not None:
        click.echo(info.html.rstrip("\n"))
    click.echo("--- sends ---")
    click.echo(render([send_row(state, s) for s in sends], SEND_COLUMNS, fmt))
    if recurring:
        click.echo("--- recurring ---")
        rows = [
            {"id": r.id, "to": r.source, "rule": r.rule, "active": r.active, "next": local(state, r.next_at)}
            for r in recurring
        ]
        click.echo(render(rows, ["id", "to", "rule", "active", "next"], fmt))


@click.command("create")
@click.argument("name")
@click.option("--subject", required=True, help="The subject, a template: 'News for {{ first_name }}'.")
@click.option("--text", "text_file", required=True, metavar="FILE", help="The text part's template file (UTF-8).")
@click.option(
    "--html", "html_file", default=None, metavar="FILE", help="The HTML part's template file [default: none]."
)
@pass_state
def create(state: CLIState, name: str, subject: str, text_file: str, html_file: str | None) -> None:
    """Write a campaign from template files; it is checked by rendering it for a sample contact."""
    text = read_template(text_file, "--text")
    assert text is not None
    info = api(state).create(name, subject, text, read_template(html_file, "--html"))
    click.echo(f"campaign {info.id} {info.name!r} created; try it with 'crm campaigns test {info.id}'")


@click.command("edit")
@click.argument("campaign")
@click.option("--name", default=None, help="A new name.")
@click.option("--subject", default=None, help="A new subject template.")
@click.option("--text", "text_file", default=None, metavar="FILE", help="A new text part from this file.")
@click.option("--html", "html_file", default=None, metavar="FILE", help="A new HTML part from this file.")
@click.option("--no-html", is_flag=True, help="Remove the HTML part (text-only mail).")
@pass_state
def edit(
    state: CLIState,
    campaign: str,
    name: str | None,
    subject: str | None,
    text_file: str | None,
    html_file: str | None,
    no_html: bool,
) -> None:
    """Change a campaign's name, subject or parts."""
    if html_file and no_html:
        raise click.UsageError("--html and --no-html contradict each other; give one")
    changes: dict[str, str | None] = {}
    if name is not None:
        changes["name"] = name
    if subject is not None:
        changes["subject"] = subject
    if text_file is not None:
        changes["text"] = read_template(text_file, "--text")
    if html_file is not None:
        changes["html"] = read_template(html_file, "--html")
    if no_html:
        changes["html"] = None
    if not changes:
        raise click.UsageError("nothing to change: give --name, --subject, --text, --html or --no-html")
    info = api(state).update(campaign, **changes)
    click.echo(f"campaign {info.id} {info.name!r} changed (revision {info.revision})")


@click.command("preview")
@click.argument("campaign")
@click.option("--contact", "contact_id", type=int, default=None, help="Render for this contact [default: a sample].")
@click.option("--html", "show_html", is_flag=True, help="Show the HTML part instead of the text part.")
@pass_state
def preview(state: CLIState, campaign: str, contact_id: int | None, show_html: bool) -> None:
    """Show a campaign rendered for a contact (or for a made-up sample contact)."""
    shown = api(state).preview(campaign, contact_id)
    click.echo(f"to: {shown.contact_name} (contact {shown.contact_id or 'sample'})")
    click.echo(f"subject: {shown.subject}")
    click.echo("")
    if show_html:
        if shown.html is None:
            raise click.UsageError("this campaign has no HTML part; leave --html out")
        click.echo(shown.html.rstrip("\n"))
    else:
        click.echo(shown.text.rstrip("\n"))


@click.command("test")
@click.argument("campaign")
@click.option("--contact", "contact_id", type=int, default=None, help="Render for this contact [default: a sample].")
@pass_state
def test(state: CLIState, campaign: str, contact_id: int | None) -> None:
    """Queue a test of the campaign to your own e-mail address (run as yourself: crm --as USER)."""
    sent = api(state).test(campaign, contact_id)
    click.echo(f"test queued to {sent.to}: {sent.subject!r}; `crm worker` (or `crm mail deliver`) sends it")


COMMANDS = [list_campaigns, show, create, edit, preview, test]
