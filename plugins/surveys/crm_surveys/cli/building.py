"""``crm surveys new|import|list|show``: building surveys and reading them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from crm_core.cli.main import CLIError, CLIState, pass_state
from crm_core.output import format_option, render
from crm_surveys.cli.common import surveys_api

if TYPE_CHECKING:
    from crm_hookspecs.records import SurveyQuestion

__all__ = ["COMMANDS", "STARTER"]

STARTER = '''\
# A survey for the CRM: import it with `crm surveys import FILE`.
# Reference: the surveys page of the documentation.
key = "customer-satisfaction"
title = "How did we do?"
introduction = "Two minutes of your time help us serve you better."

[email]
subject = "{{ first_name or display_name }}, how did we do?"
text = """
Dear {{ display_name }},

{{ survey.introduction }}

Answer here: {{ link }}
(the link is personal and works until {{ expires_on }})
"""

[reminder]
after_days = 7

[[questions]]
key = "recommend"
kind = "nps"
text = "How likely are you to recommend us to a friend or colleague?"
required = true
min_label = "Not at all likely"
max_label = "Extremely likely"

[[questions]]
key = "why_not"
kind = "text"
text = "What should we do better?"
show_if = { question = "recommend", op = "<=", value = 6 }

[[questions]]
key = "satisfaction"
kind = "csat"
text = "How satisfied are you with our service?"
required = true

[[questions]]
key = "channel"
kind = "single_choice"
text = "How do you usually contact us?"
choices = ["Phone", "E-mail", "In person"]

[[questions]]
key = "topics"
kind = "multiple_choice"
text = "What would you like to hear more about?"
choices = ["New products", "Offers", "Events"]

[[questions]]
key = "call_back"
kind = "yes_no"
text = "May we call you about your answers?"
'''


@click.command("new")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new(file: Path, force: bool) -> None:
    """Write a starter survey file to edit, with one question of each kind."""
    if file.exists() and not force:
        raise CLIError(f"{file} already exists; use --force to overwrite it, or name another file", 2)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(STARTER, encoding="utf-8")
    click.echo(f"wrote {file}; edit it, then: crm surveys import {file}")


@click.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", default=None, help="The survey's key (default: the file's key, or one made from the title).")
@pass_state
def import_(state: CLIState, file: Path, key: str | None) -> None:
    """Create a survey from a TOML file, or update the survey with the same key."""
    result = surveys_api(state).import_file(file, key=key)
    survey = result.survey
    name = f"survey {survey.id} {survey.key!r}"
    messages = {
        "created": f"created {name}, version 1, with {len(surveys_api(state).definition(survey.id).questions)} question(s)",
        "updated": f"updated {name}: version {result.version} was not sent or answered yet, so it was changed in place",
        "new-version": f"{name} is now at version {result.version}; earlier versions were sent, and their answers keep them",
        "unchanged": f"{name} is unchanged (version {result.version})",
    }
    click.echo(messages[result.action])


@click.command("list")
@format_option()
@pass_state
def list_(state: CLIState, fmt: str) -> None:
    """List the surveys with their versions, invitations and answers."""
    rows = []
    for s in surveys_api(state).list():
        rate = round(100.0 * s.responded / s.invited, 1) if s.invited else None
        rows.append(
            {
                "id": s.id,
                "key": s.key,
                "title": s.title,
                "version": s.version,
                "invited": s.invited,
                "responses": s.responded,
                "response_rate": rate,
                "updated_at": s.updated_at,
            }
        )
    click.echo(
        render(rows, ["id", "key", "title", "version", "invited", "responses", "response_rate", "updated_at"], fmt)
    )


def _describe_condition(question: SurveyQuestion) -> str:
    cond = question.show_if
    if cond is None:
        return ""
    if cond.op == "answered":
        return f"{cond.question} answered"
    value = cond.value
    if isinstance(value, tuple):
        value = "[" + ", ".join(str(v) for v in value) + "]"
    elif isinstance(value, bool):
        value = "yes" if value else "no"
    return f"{cond.question} {cond.op} {value}"


def _answers_described(question: SurveyQuestion) -> str:
    if question.kind in ("nps", "csat", "rating"):
        return f"{question.min}-{question.max}"
    if question.choices:
        return " | ".join(question.choices)
    if question.kind == "yes_no":
        return "yes | no"
    return f"text, up to {question.max_length} characters"


@click.command("show")
@click.argument("survey")
@click.option("--version", type=int, default=None, help="Show this version (default: the current one).")
@click.option("--toml", "as_toml", is_flag=True, help="Print the version as a TOML file (to edit and import again).")
@format_option()
@pass_state
def show(state: CLIState, survey: str, version: int | None, as_toml: bool, fmt: str) -> None:
    """Show a survey's questions and versions."""
    api = surveys_api(state)
    definition = api.definition(survey, version)
    if as_toml:
        click.echo(definition.to_toml().rstrip())
        return
    info = api.get(survey)
    rows = [
        {
            "n": n,
            "key": q.key,
            "kind": q.kind,
            "required": q.required,
            "answers": _answers_described(q),
            "shown_if": _describe_condition(q),
            "text": q.text,
        }
        for n, q in enumerate(definition.questions, start=1)
    ]
    if fmt == "table":
        shown = version or info.version
        click.echo(f"{info.title} ({info.key}, id {info.id}): version {shown} of {info.version}")
        if definition.introduction:
            click.echo(definition.introduction)
        click.echo("")
    click.echo(render(rows, ["n", "key", "kind", "required", "answers", "shown_if", "text"], fmt))
    if fmt == "table":
        click.echo("")
        click.echo(render(api.versions(survey), ["version", "created_at", "questions", "invited", "responded"], fmt))


COMMANDS = (new, import_, list_, show)
