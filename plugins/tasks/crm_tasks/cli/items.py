"""``crm tasks add|list|todo|show|done|cancel|reopen|delete|check|answer|assign|reschedule``."""

from __future__ import annotations

import click

from crm_core.cli.helpers import acting_user_option, actor_name, echo_json
from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_tasks.cli.common import KINDS, PRIORITIES, TASK_COLUMNS, api, local, task_row

__all__ = ["COMMANDS"]


@click.command("add")
@click.argument("title")
@click.option("--kind", default="to-do", show_default=True, type=click.Choice(KINDS))
@click.option("--assignee", default=None, metavar="USER", help="The user who does it (e-mailed) [default: you].")
@click.option("--team", default=None, help="The team it belongs to.")
@click.option(
    "--due",
    default=None,
    metavar="WHEN",
    help="'2026-03-02 10:00', '2026-03-02', 'today', 'tomorrow' or '+2d' (app time zone).",
)
@click.option("--priority", default="normal", show_default=True, type=click.Choice(PRIORITIES))
@click.option("--contact", "contact_id", type=int, default=None, help="The contact the task is about.")
@click.option(
    "--link",
    "links",
    multiple=True,
    metavar="KIND:ID",
    help="Link a record: contact:ID, sale:ID or request:ID (repeatable).",
)
@click.option("--item", "items", multiple=True, metavar="TEXT", help="A checklist item (repeatable, in order).")
@click.option(
    "--question", "questions", multiple=True, metavar="TEXT", help="A question to ask (call tasks; repeatable)."
)
@click.option("--description", default="", help="Longer text.")
@acting_user_option
@pass_state
def add(
    state: CLIState,
    title: str,
    kind: str,
    assignee: str | None,
    team: str | None,
    due: str | None,
    priority: str,
    contact_id: int | None,
    links: tuple[str, ...],
    items: tuple[str, ...],
    questions: tuple[str, ...],
    description: str,
) -> None:
    """Create a task."""
    parsed = []
    for link in links:
        kind_, _, ref = link.partition(":")
        if not ref.isdigit():
            raise click.BadParameter(f"{link!r} is not KIND:ID (e.g. sale:42)", param_hint="--link")
        parsed.append((kind_, int(ref)))
    task = api(state).add(
        title,
        kind=kind,
        assignee=assignee,
        team=team,
        due=due,
        priority=priority,
        contact_id=contact_id,
        links=parsed,
        checklist=items,
        questions=questions,
        description=description,
        actor=actor_name(state),
    )
    due_text = f", due {local(state, task.due_at)}" if task.due_at else ""
    click.echo(f"task #{task.id} created{f' for {task.assignee}' if task.assignee else ''}{due_text}")


@click.command("list")
@click.option("--assignee", default=None, metavar="USER")
@click.option("--team", default=None)
@click.option("--status", default="open", show_default=True, type=click.Choice(["open", "done", "cancelled", "all"]))
@click.option("--kind", default=None, type=click.Choice(KINDS))
@click.option("--contact", "contact_id", type=int, default=None, help="Tasks about this contact.")
@click.option("--unassigned", is_flag=True, help="Only tasks with no assignee.")
@click.option("--overdue", is_flag=True, help="Only tasks past their due time.")
@click.option("--rule", default=None, help="Only tasks created by this rule.")
@click.option("--limit", default=200, show_default=True, type=click.IntRange(1, 100_000))
@format_option()
@pass_state
def list_(
    state: CLIState,
    assignee: str | None,
    team: str | None,
    status: str,
    kind: str | None,
    contact_id: int | None,
    unassigned: bool,
    overdue: bool,
    rule: str | None,
    limit: int,
    fmt: str,
) -> None:
    """List tasks, soonest due first."""
    tasks = api(state)
    found = tasks.list(
        assignee=assignee,
        team=team,
        status=status,
        kind=kind,
        contact_id=contact_id,
        unassigned=unassigned,
        rule=rule,
        limit=limit,
        due_before=state.crm().clock.now() if overdue else None,
    )
    click.echo(render([task_row(state, t) for t in found], TASK_COLUMNS, fmt))


@click.command("todo")
@click.argument("assignee", required=False)
@format_option()
@pass_state
def todo(state: CLIState, assignee: str | None, fmt: str) -> None:
    """A user's open tasks (yours by default): overdue, today, this week (app time zone)."""
    lists = api(state).todo(assignee)
    rows = [{"when": when.replace("_", " "), **task_row(state, t)} for when, items in lists.items() for t in items]
    click.echo(render(rows, ["when"] + TASK_COLUMNS, fmt))


@click.command("show")
@click.argument("task_id", type=int)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table", show_default=True)
@pass_state
def show(state: CLIState, task_id: int, fmt: str) -> None:
    """One task with its checklist, questions, links and reminders."""
    task = api(state).get(task_id)
    if fmt == "json":
        echo_json(task)
        return
    fields = [
        ("task", f"#{task.id} {task.title}"),
        ("kind", task.kind),
        ("status", task.status),
        ("priority", task.priority),
        ("assignee", task.assignee or ""),
        ("team", task.team or ""),
        ("due", local(state, task.due_at)),
        ("contact", task.contact_id or ""),
        (
            "created",
            f"{local(state, task.created_at)} by {task.created_by or 'system'}"
            + (f" (rule {task.rule})" if task.rule else f" ({task.origin})"),
        ),
    ]
    if task.closed_at:
        fields.append((task.status, f"{local(state, task.closed_at)} by {task.closed_by or 'unknown'}"))
    if task.links:
        fields.append(("links", ", ".join(f"{k}:{i}" for k, i in task.links)))
    if task.description:
        fields.append(("description", task.description))
    click.echo(render([{"field": k, "value": v} for k, v in fields], ["field", "value"]))
    if task.checklist:
        click.echo("\nchecklist")
        click.echo(
            render(
                [
                    {
                        "n": c.position,
                        "done": "x" if c.done else "",
                        "item": c.text,
                        "ticked": f"{local(state, c.done_at)} {c.done_by or ''}".strip(),
                    }
                    for c in task.checklist
                ],
                ["n", "done", "item", "ticked"],
            )
        )
    if task.questions:
        click.echo("\nquestions")
        click.echo(
            render(
                [{"n": q.position, "question": q.text, "answer": q.answer or ""} for q in task.questions],
                ["n", "question", "answer"],
            )
        )
    if task.reminders:
        click.echo("\nreminders sent")
        click.echo(
            render(
                [{"kind": r.kind, "to": r.recipient, "sent": local(state, r.sent_at)} for r in task.reminders],
                ["kind", "to", "sent"],
            )
        )


@click.command("done")
@click.argument("task_id", type=int)
@acting_user_option
@pass_state
def done(state: CLIState, task_id: int) -> None:
    """Mark a task done."""
    task = api(state).done(task_id, actor=actor_name(state))
    click.echo(f"task #{task.id} done")


@click.command("cancel")
@click.argument("task_id", type=int)
@click.option("--reason", default="", help="Why (added to the description).")
@acting_user_option
@pass_state
def cancel(state: CLIState, task_id: int, reason: str) -> None:
    """Cancel a task."""
    task = api(state).cancel(task_id, actor=actor_name(state), reason=reason)
    click.echo(f"task #{task.id} cancelled")


@click.command("reopen")
@click.argument("task_id", type=int)
@pass_state
def reopen(state: CLIState, task_id: int) -> None:
    """Open a done or cancelled task again."""
    task = api(state).reopen(task_id)
    click.echo(f"task #{task.id} is open again")


@click.command("delete")
@click.argument("task_id", type=int)
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_state
def delete(state: CLIState, task_id: int, yes: bool) -> None:
    """Delete a task with its checklist, questions and links (cancelling keeps it; this does not)."""
    tasks = api(state)
    task = tasks.get(task_id)
    if not yes:
        click.confirm(f"delete task #{task.id} ({task.title})?", abort=True)
    tasks.delete(task_id)
    click.echo(f"task #{task_id} deleted")


@click.command("check")
@click.argument("task_id", type=int)
@click.argument("item")
@click.option("--undo", is_flag=True, help="Untick the item instead.")
@acting_user_option
@pass_state
def check(state: CLIState, task_id: int, item: str, undo: bool) -> None:
    """Tick a checklist item, by number (1, 2…) or exact text."""
    task = api(state).check(task_id, item, actor=actor_name(state), undo=undo)
    ticked = sum(1 for c in task.checklist if c.done)
    click.echo(f"task #{task.id}: {ticked} of {len(task.checklist)} item(s) ticked")


@click.command("answer")
@click.argument("task_id", type=int)
@click.argument("question")
@click.argument("answer")
@acting_user_option
@pass_state
def answer(state: CLIState, task_id: int, question: str, answer: str) -> None:
    """Record the answer to a call task's question (by number or exact text)."""
    task = api(state).answer(task_id, question, answer, actor=actor_name(state))
    answered = sum(1 for q in task.questions if q.answer)
    click.echo(f"task #{task.id}: {answered} of {len(task.questions)} question(s) answered")


@click.command("assign")
@click.argument("task_id", type=int)
@click.argument("assignee", required=False)
@click.option("--team", default=None, help="Move the task to this team.")
@acting_user_option
@pass_state
def assign(state: CLIState, task_id: int, assignee: str | None, team: str | None) -> None:
    """Give a task to a user (who is e-mailed) and/or a team."""
    task = api(state).assign(task_id, assignee, team=team, actor=actor_name(state))
    click.echo(
        f"task #{task.id} assigned to {task.assignee or 'nobody'}" + (f" (team {task.team})" if task.team else "")
    )


@click.command("reschedule")
@click.argument("task_id", type=int)
@click.argument("due", metavar="WHEN")
@pass_state
def reschedule(state: CLIState, task_id: int, due: str) -> None:
    """Move a task's due time ('2026-03-02 10:00', 'tomorrow', '+2d'…)."""
    task = api(state).reschedule(task_id, due)
    click.echo(f"task #{task.id} now due {local(state, task.due_at)}")


COMMANDS = [add, list_, todo, show, done, cancel, reopen, delete, check, answer, assign, reschedule]
