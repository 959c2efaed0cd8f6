"""``crm surveys answer|enter-paper|responses|results``: answers taken by staff, who answered what, results."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from crm_core.cli.main import CLIState, pass_state
from crm_core.output import format_option, render
from crm_surveys.cli.common import recorded_actor, surveys_api

if TYPE_CHECKING:
    from crm_hookspecs.records import SurveyForm
    from crm_surveys.api import SurveysAPI
    from crm_surveys.collect import SavedResponse

__all__ = ["COMMANDS"]


def _parse_sets(values: tuple[str, ...], form: SurveyForm) -> dict[str, Any]:
    kinds = {q.key: q for q in form.questions}
    out: dict[str, Any] = {}
    for item in values:
        key, sep, value = item.partition("=")
        key = key.strip()
        if not sep or not key:
            raise click.BadParameter(f"{item!r} is not KEY=VALUE (e.g. --set recommend=9)", param_hint="--set")
        question = kinds.get(key)
        if question is not None and question.kind == "multiple_choice":
            parts = [value] if value.strip() in question.choices else [p for p in value.split(",")]
            out.setdefault(key, []).extend(parts)
        elif key in out:
            raise click.BadParameter(f"question {key!r} is given twice; give it once", param_hint="--set")
        else:
            out[key] = value
    return out


def _prompt_answers(form: SurveyForm, api: SurveysAPI) -> dict[str, Any]:
    """Ask each shown question in turn; an answer that does not fit is asked again."""
    from crm_surveys.answers import read_value

    click.echo(f"{form.title} (version {form.version})")
    given: dict[str, Any] = {}
    for number, question in enumerate(form.questions, start=1):
        if question.key not in api.visible_questions(form, given):
            continue
        click.echo("")
        click.echo(f"{number}. {question.text}" + (" *" if question.required else ""))
        if question.choices:
            for i, choice in enumerate(question.choices, start=1):
                click.echo(f"   {i}. {choice}")
        hint = {
            "multiple_choice": "numbers or choices, separated by commas",
            "single_choice": "a number or the choice",
            "yes_no": "y or n",
            "text": "text",
        }.get(question.kind, f"{question.min}-{question.max}")
        previous = form.answers.get(question.key)
        default = ", ".join(previous) if isinstance(previous, list) else ("" if previous is None else str(previous))
        if isinstance(previous, bool):
            default = "y" if previous else "n"
        while True:
            raw = click.prompt(
                f"   ({hint}{', Enter to skip' if not question.required else ''})",
                default=default,
                show_default=bool(default),
            )
            value: Any = raw
            if question.kind == "multiple_choice" and raw.strip() not in question.choices:
                value = [p for p in raw.split(",") if p.strip()]
            try:
                read = read_value(question, value)
            except ValueError as exc:
                click.echo(f"   that does not fit: the question {exc}")
                continue
            if read is None and question.required:
                click.echo("   this question is required")
                continue
            if read is not None:
                given[question.key] = value
            break
    return given


def _saved_lines(saved: SavedResponse, title: str) -> list[str]:
    state = "complete" if saved.complete else "draft"
    verb = "saved" if saved.created else "updated"
    lines = [f"{verb} the answer to {title!r} (response {saved.response_id}, {state})"]
    if saved.scores:
        lines.append(
            "scores: "
            + ", ".join(f"{k}={v:g}" for k, v in saved.scores.items())
            + (" (negative)" if saved.negative else "")
        )
    if saved.dropped:
        lines.append("left out (their condition does not hold): " + ", ".join(saved.dropped))
    return lines


@click.command("answer")
@click.argument("survey")
@click.option("--contact", "contact_id", type=int, required=True, help="The contact who answers.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="An answer; repeat for each question (and for each choice of a multiple choice). Without --set, each question is asked.",
)
@click.option(
    "--partial", is_flag=True, help="Save as a draft: required questions may be missing, no SurveyAnswered event."
)
@click.option("--actor", default=None, metavar="NAME", help="Deprecated: use 'crm --as USER'. Who took the answer.")
@pass_state
def answer(
    state: CLIState, survey: str, contact_id: int, sets: tuple[str, ...], partial: bool, actor: str | None
) -> None:
    """Enter a contact's answers (taken by phone or in person)."""
    api = surveys_api(state)
    by = recorded_actor(state, actor)
    form = api.answer_form(survey, contact_id)
    given = _parse_sets(sets, form) if sets else _prompt_answers(form, api)
    saved = api.answer(survey, contact_id, given, partial=partial, actor=by)
    for line in _saved_lines(saved, form.title):
        click.echo(line)


@click.command("enter-paper")
@click.argument("code")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="An answer; repeat for each question. Without --set, each question is asked.",
)
@click.option(
    "--actor", default=None, metavar="NAME", help="Deprecated: use 'crm --as USER'. Who typed the answers in."
)
@pass_state
def enter_paper(state: CLIState, code: str, sets: tuple[str, ...], actor: str | None) -> None:
    """Type in the answers of a paper letter, named by the code printed on it."""
    api = surveys_api(state)
    by = recorded_actor(state, actor)
    form = api.paper_form(code)
    if form.complete:
        click.echo(
            f"note: this letter was already answered on {form.answered_at:%Y-%m-%d}; the new answers replace those"
        )
    given = _parse_sets(sets, form) if sets else _prompt_answers(form, api)
    saved = api.enter_paper(code, given, actor=by)
    for line in _saved_lines(saved, form.title):
        click.echo(line)


@click.command("results")
@click.argument("survey")
@click.option("--version", type=int, default=None, help="Only answers to this version (default: every version).")
@click.option(
    "--by",
    "by",
    multiple=True,
    type=click.Choice(["region", "month", "quarter", "year"]),
    help="Break the results down; repeat to combine (--by region --by quarter).",
)
@click.option("--since", default=None, metavar="YYYY-MM", help="Only answers from this month on.")
@click.option("--until", default=None, metavar="YYYY-MM", help="Only answers up to this month.")
@click.option(
    "--texts",
    default=10,
    show_default=True,
    type=click.IntRange(0, 10_000),
    help="Free-text answers to list per question, newest first.",
)
@format_option()
@pass_state
def results(
    state: CLIState,
    survey: str,
    version: int | None,
    by: tuple[str, ...],
    since: str | None,
    until: str | None,
    texts: int,
    fmt: str,
) -> None:
    """Response rate, NPS, CSAT, choices and free text, overall and per region or period."""
    from crm_surveys.results import ROW_COLUMNS

    outcome = surveys_api(state).results(survey, version=version, by=by, since=since, until=until, texts=texts)
    if fmt == "table":
        versions = ", ".join(str(v) for v in outcome.versions)
        click.echo(
            f"{outcome.title} ({outcome.key}), version(s) {versions}"
            + (f"; {outcome.drafts} draft(s) not counted" if outcome.drafts else "")
        )
    click.echo(render(outcome.rows(), ROW_COLUMNS, fmt))


@click.command("responses")
@click.argument("survey")
@click.option("--contact", "contact_id", type=int, default=None, help="Only this contact's responses.")
@click.option("--drafts", is_flag=True, help="List drafts (partial answers) too.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 1000), help="Responses per page.")
@click.option("--offset", default=0, show_default=True, type=click.IntRange(0), help="Responses to skip.")
@format_option()
@pass_state
def responses(
    state: CLIState, survey: str, contact_id: int | None, drafts: bool, limit: int, offset: int, fmt: str
) -> None:
    """Who answered what: each response with its answers, newest first (the contacts you may read)."""
    import json

    page = surveys_api(state).responses(survey, contact_id=contact_id, drafts=drafts, limit=limit, offset=offset)
    rows = [
        {
            "id": r.id,
            "contact_id": r.contact_id,
            "version": r.version,
            "medium": r.medium,
            "channel": r.channel,
            "complete": r.complete,
            "negative": r.negative,
            "answered_at": r.answered_at,
            "answers": r.answers if fmt == "json" else json.dumps(r.answers, ensure_ascii=False),
        }
        for r in page.items
    ]
    columns = ["id", "contact_id", "version", "medium", "channel", "complete", "negative", "answered_at", "answers"]
    click.echo(render(rows, columns, fmt))
    if fmt == "table":
        shown = f"{offset + 1}-{offset + len(page.items)}" if page.items else "none"
        click.echo(f"{shown} of {page.total} response(s)")


COMMANDS = (answer, enter_paper, responses, results)
