"""``crm worker``: run the timed jobs (until stopped, or once for cron)."""

from __future__ import annotations

import logging
import sys

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render


@click.group(invoke_without_command=True)
@click.option("--once", is_flag=True, help="Run what is due now, then exit (for cron).")
@click.option("--quiet", is_flag=True, help="Print only failures and warnings.")
@pass_state
@click.pass_context
def worker(ctx: click.Context, state: CLIState, once: bool, quiet: bool) -> None:
    """Run the timed jobs until SIGTERM or Ctrl-C (finishing the job in hand)."""
    if ctx.invoked_subcommand is not None:
        return
    from crm_core.worker import RunOutcome, Worker

    if not logging.getLogger().handlers:
        logging.basicConfig(
            level=logging.WARNING if quiet else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    crm = state.crm()
    runner = Worker(crm)
    failed = 0

    def report(outcome: RunOutcome) -> None:
        nonlocal failed
        when = outcome.scheduled_at.astimezone(crm.tz).isoformat(timespec="seconds")
        attempt = f" (attempt {outcome.attempt})" if outcome.attempt > 1 else ""
        if outcome.status == "failed":
            failed += 1
            click.echo(f"{outcome.job} {when}{attempt}: failed: {outcome.error}", err=True)
        elif not quiet:
            click.echo(f"{outcome.job} {when}{attempt}: {outcome.result or 'done'}")

    if not once and not quiet:
        jobs = ", ".join(runner.jobs)
        click.echo(f"worker {runner.id} running {len(runner.jobs)} job(s): {jobs}; stop with Ctrl-C or SIGTERM")
    runner.run(once=once, on_outcome=report)
    if not once and not quiet:
        click.echo(f"worker {runner.id} stopped")
    if once and failed:
        raise click.exceptions.Exit(1)


@worker.command("status")
@format_option()
@pass_state
def worker_status(state: CLIState, fmt: str) -> None:
    """Each job's schedule, last run, next run, current runner and last error."""
    from crm_core.worker import status

    rows = status(state.crm())
    columns = ["job", "owner", "schedule", "last_run", "last_status", "next_run", "running", "last_error"]
    if fmt != "table":
        columns += ["catch_up", "skipped", "last_result"]
    click.echo(render(rows, columns, fmt))
