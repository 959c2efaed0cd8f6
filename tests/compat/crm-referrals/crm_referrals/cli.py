import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render


@click.group()
def group():
    """Who brought whom."""


@group.command()
@click.argument("referrer", type=int)
@click.argument("referred", type=int)
@click.option("--note", default="")
@pass_state
def add(state: CLIState, referrer: int, referred: int, note: str) -> None:
    """Record that REFERRER brought REFERRED."""
    number = state.crm().plugin("referrals").add(referrer, referred, note)
    click.echo(f"referral {number} added")


@group.command("list")
@click.argument("contact", type=int)
@format_option()
@pass_state
def list_(state: CLIState, contact: int, fmt: str) -> None:
    """The referrals a contact is part of."""
    rows = state.crm().plugin("referrals").of(contact)
    click.echo(render(rows, ["id", "referrer_id", "referred_id", "note", "void"], fmt))
