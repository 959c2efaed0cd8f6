"""``crm surveys …``: the surveys plugin's commands. Imported only when one of them runs."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from crm_core.cli.main import CLIError, CLIState, pass_state
from crm_core.output import format_option, render

if TYPE_CHECKING:
    from crm_hookspecs.records import SurveyForm, SurveyQuestion
    from crm_surveys.api import Surveys
    from crm_surveys.collect import SavedResponse

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


def _api(state: CLIState) -> Surveys:
    api: Surveys = state.crm().plugin("surveys")
    return api


@click.group()
def surveys() -> None:
    """Surveys: import, send by e-mail or post, answers, results, schedules."""


# -- definitions ----------------------------------------------------------------


@surveys.command("new")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
def new(file: Path, force: bool) -> None:
    """Write a starter survey file to edit, with one question of each kind."""
    if file.exists() and not force:
        raise CLIError(f"{file} already exists; use --force to overwrite it, or name another file", 2)
    file.parent.mkdir(parents=True, exist_ok=True)
    file.write_text(STARTER, encoding="utf-8")
    click.echo(f"wrote {file}; edit it, then: crm surveys import {file}")


@surveys.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--key", default=None, help="The survey's key (default: the file's key, or one made from the title).")
@pass_state
def import_(state: CLIState, file: Path, key: str | None) -> None:
    """Create a survey from a TOML file, or update the survey with the same key."""
    result = _api(state).import_file(file, key=key)
    survey = result.survey
    name = f"survey {survey.id} {survey.key!r}"
    messages = {
        "created": f"created {name}, version 1, with {len(_api(state).definition(survey.id).questions)} question(s)",
        "updated": f"updated {name}: version {result.version} was not sent or answered yet, so it was changed in place",
        "new-version": f"{name} is now at version {result.version}; earlier versions were sent, and their answers keep them",
        "unchanged": f"{name} is unchanged (version {result.version})",
    }
    click.echo(messages[result.action])


@surveys.command("list")
@format_option()
@pass_state
def list_(state: CLIState, fmt: str) -> None:
    """List the surveys with their versions, invitations and answers."""
    rows = []
    for s in _api(state).list():
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


@surveys.command("show")
@click.argument("survey")
@click.option("--version", type=int, default=None, help="Show this version (default: the current one).")
@click.option("--toml", "as_toml", is_flag=True, help="Print the version as a TOML file (to edit and import again).")
@format_option()
@pass_state
def show(state: CLIState, survey: str, version: int | None, as_toml: bool, fmt: str) -> None:
    """Show a survey's questions and versions."""
    api = _api(state)
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


# -- sending ----------------------------------------------------------------------


def _send_lines(report: Any) -> list[str]:
    verb = "would send" if report.dry_run else "sent"
    lines = [
        f"{verb} survey {report.survey_key!r} version {report.version} to {report.sent} contact(s) of "
        f"{report.source!r} (round {report.round!r})",
        f"skipped: {report.already_invited} already invited in this round, {report.do_not_contact} do-not-contact, "
        f"{report.unsubscribed} unsubscribed, {report.no_address} without an address"
        + (f", {report.invalid} with an address the mail queue refused" if report.invalid else ""),
    ]
    lines += [f"  {p}" for p in report.problems]
    return lines


@surveys.command("send")
@click.argument("survey")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option(
    "--round",
    "round_",
    default="manual",
    show_default=True,
    help="Send again to people already invited by naming a new round.",
)
@click.option("--dry-run", is_flag=True, help="Count who would get it; send nothing.")
@pass_state
def send(state: CLIState, survey: str, source: str, round_: str, dry_run: bool) -> None:
    """E-mail the survey to a mailing list or segment, each with a personal link."""
    report = _api(state).send(survey, source, round=round_, dry_run=dry_run)
    for line in _send_lines(report):
        click.echo(line)
    if not dry_run and report.sent:
        click.echo("the messages are queued; `crm worker` (or `crm mail deliver`) sends them")


@surveys.command("remind")
@click.argument("survey", required=False)
@click.option(
    "--after-days",
    type=int,
    default=None,
    help="Remind those invited at least this many days ago (default: the survey's or the setting's).",
)
@click.option("--dry-run", is_flag=True, help="Count the reminders; send nothing.")
@pass_state
def remind(state: CLIState, survey: str | None, after_days: int | None, dry_run: bool) -> None:
    """Send the one reminder to those who have not answered after N days (all surveys by default)."""
    reports = _api(state).remind(survey, after_days=after_days, dry_run=dry_run)
    verb = "would remind" if dry_run else "reminded"
    for r in reports:
        if r.after_days == 0:
            click.echo(f"{r.survey_key}: reminders are off (after_days = 0)")
            continue
        extra = f" ({r.skipped} no longer reachable by e-mail)" if r.skipped else ""
        click.echo(f"{r.survey_key}: {verb} {r.sent} contact(s) invited {r.after_days}+ day(s) ago{extra}")
    if not reports:
        click.echo("there are no surveys")


@surveys.command("letters")
@click.argument("survey")
@click.option("--to", "source", required=True, help="The mailing list or segment whose postal addresses get a letter.")
@click.option(
    "--out",
    "directory",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="The folder for the PDF files.",
)
@click.option("--round", "round_", default="manual", show_default=True, help="The sending round (as for send).")
@click.option(
    "--combined", is_flag=True, help="Write one PDF with every letter, for printing, instead of one per recipient."
)
@pass_state
def letters(state: CLIState, survey: str, source: str, directory: Path, round_: str, combined: bool) -> None:
    """Print the survey as PDF letters for window envelopes, with a code to enter the answers."""
    report = _api(state).letters(survey, source, directory, round=round_, combined=combined)
    click.echo(
        f"wrote {report.letters} letter(s) to {report.directory} ({report.new} new, {report.reprinted} reprinted)"
    )
    click.echo(
        f"skipped: {report.already_invited} already invited by e-mail in this round, {report.do_not_contact} do-not-contact, "
        f"{report.unsubscribed} unsubscribed, {report.no_address} without a postal address"
    )


@surveys.command("link")
@click.argument("survey")
@click.option("--contact", "contact_id", type=int, required=True, help="The contact's id.")
@click.option(
    "--days", type=int, default=None, help="How long the link works [default: plugins.surveys.token_ttl_days]."
)
@pass_state
def link(state: CLIState, survey: str, contact_id: int, days: int | None) -> None:
    """Print a fresh personal answer link for a contact (to send him by hand)."""
    api = _api(state)
    click.echo(api.link(api.token(survey, contact_id, days=days)))


# -- answers ------------------------------------------------------------------------


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


def _prompt_answers(form: SurveyForm, api: Surveys) -> dict[str, Any]:
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


@surveys.command("answer")
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
@click.option("--actor", default=None, help="The staff member who took the answer.")
@pass_state
def answer(
    state: CLIState, survey: str, contact_id: int, sets: tuple[str, ...], partial: bool, actor: str | None
) -> None:
    """Enter a contact's answers (taken by phone or in person)."""
    from crm_surveys import catalog
    from crm_surveys.collect import form_for, invitation_for_contact

    api = _api(state)
    app = state.crm()
    with app.activate():
        invitation = invitation_for_contact(app, catalog.find(survey), contact_id)
        form = form_for(app, invitation)
    given = _parse_sets(sets, form) if sets else _prompt_answers(form, api)
    saved = api.answer(survey, contact_id, given, partial=partial, actor=actor)
    for line in _saved_lines(saved, form.title):
        click.echo(line)


@surveys.command("enter-paper")
@click.argument("code")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="KEY=VALUE",
    help="An answer; repeat for each question. Without --set, each question is asked.",
)
@click.option("--actor", default=None, help="The staff member typing the answers in.")
@pass_state
def enter_paper(state: CLIState, code: str, sets: tuple[str, ...], actor: str | None) -> None:
    """Type in the answers of a paper letter, named by the code printed on it."""
    api = _api(state)
    form = api.paper_form(code)
    if form.complete:
        click.echo(
            f"note: this letter was already answered on {form.answered_at:%Y-%m-%d}; the new answers replace those"
        )
    given = _parse_sets(sets, form) if sets else _prompt_answers(form, api)
    saved = api.enter_paper(code, given, actor=actor)
    for line in _saved_lines(saved, form.title):
        click.echo(line)


# -- results --------------------------------------------------------------------------


@surveys.command("results")
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

    outcome = _api(state).results(survey, version=version, by=by, since=since, until=until, texts=texts)
    if fmt == "table":
        versions = ", ".join(str(v) for v in outcome.versions)
        click.echo(
            f"{outcome.title} ({outcome.key}), version(s) {versions}"
            + (f"; {outcome.drafts} draft(s) not counted" if outcome.drafts else "")
        )
    click.echo(render(outcome.rows(), ROW_COLUMNS, fmt))


# -- schedules ------------------------------------------------------------------------


@surveys.group("schedule")
def schedule() -> None:
    """Send a survey to a list on a recurrence, run by `crm worker`."""


def _parse_start(value: str | None, app: Any) -> dt.datetime | None:
    if value is None:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a date and time such as 2026-04-01T09:00", param_hint="--start"
        ) from None
    return when if when.tzinfo else when.replace(tzinfo=app.tz)


@schedule.command("add")
@click.argument("survey")
@click.option("--to", "source", required=True, help="The mailing list or segment to send to.")
@click.option(
    "--rule", required=True, help='An RFC 5545 recurrence rule, e.g. "FREQ=MONTHLY;INTERVAL=3;BYMONTHDAY=1;BYHOUR=9".'
)
@click.option("--start", default=None, help="The first possible occurrence, in the app's time zone [default: now].")
@pass_state
def schedule_add(state: CLIState, survey: str, source: str, rule: str, start: str | None) -> None:
    """Schedule a survey: each occurrence sends it to the list once, in a round of its own."""
    info = _api(state).schedule(survey, source, rule, start=_parse_start(start, state.crm()))
    click.echo(
        f"schedule {info.id}: survey {info.survey_key!r} to {info.source!r}, {info.rule}; next at {info.next_at:%Y-%m-%d %H:%M %Z}"
        if info.next_at
        else f"schedule {info.id} added; the rule has no further occurrence"
    )


@schedule.command("list")
@click.argument("survey", required=False)
@format_option()
@pass_state
def schedule_list(state: CLIState, survey: str | None, fmt: str) -> None:
    """List the schedules with their next occurrence."""
    import attrs

    rows = [attrs.asdict(s) for s in _api(state).schedules(survey)]
    click.echo(render(rows, ["id", "survey_key", "source", "rule", "active", "last_occurrence", "next_at"], fmt))


@schedule.command("stop")
@click.argument("schedule_id", type=int)
@pass_state
def schedule_stop(state: CLIState, schedule_id: int) -> None:
    """Stop a schedule (its rounds and answers stay)."""
    _api(state).unschedule(schedule_id)
    click.echo(f"schedule {schedule_id} stopped")
