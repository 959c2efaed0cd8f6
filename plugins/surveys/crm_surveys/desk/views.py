"""The surveys pages of the desk (imported only when the desk builds its app: this module imports Flask).

Every page calls ``crm.plugin("surveys")`` as the signed-in user, so the
API checks the permission (``surveys.read``, ``surveys.send``,
``surveys.answers.create``) and counts and reaches only the contacts of the
user's ``contacts.read`` scope. An unknown survey, and a paper code whose
contact is out of the user's scope, are answered as unknown.
"""

from __future__ import annotations

from typing import Any

import flask
from flask import abort, g, redirect, request, url_for

from crm_core.errors import NotFoundError, PermissionDenied, ValidationError
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = ["blueprint"]

KIND_LABELS = {
    "nps": N_("Likelihood to recommend (0–10)"),
    "csat": N_("Satisfaction (1–5)"),
    "rating": N_("Rating"),
    "single_choice": N_("One choice"),
    "multiple_choice": N_("Several choices"),
    "yes_no": N_("Yes or no"),
    "text": N_("Free text"),
}


def _api() -> Any:
    return g.crm.plugin("surveys")


def _can(permission: str) -> bool:
    return bool(g.crm.authz.can(permission))


def _survey(survey_id: int) -> Any:
    try:
        return _api().get(survey_id)
    except NotFoundError:
        abort(404)


def _rate(info: Any) -> str:
    return f"{round(100 * info.responded / info.invited)} %" if info.invited else "–"


# -- the questions, as the recipient sees them --------------------------------------


def _scale(question: Any) -> list[tuple[str, str]]:
    return [(str(n), str(n)) for n in range(question.min, question.max + 1)]


def _shown(questions: Any, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Each question as the template draws it: its field's name, kind of control, options and hint."""
    shown = []
    for question in questions:
        hint = question.help
        if question.kind in ("nps", "csat", "rating") and (question.min_label or question.max_label):
            ends = _("%(low)s: %(low_label)s · %(high)s: %(high_label)s", low=question.min, high=question.max,
                     low_label=question.min_label, high_label=question.max_label)  # fmt: skip
            hint = f"{hint} ({ends})" if hint else ends
        if question.show_if is not None:
            asked = _("Asked only after certain answers to an earlier question.")
            hint = f"{hint} {asked}" if hint else asked
        if question.kind in ("nps", "csat", "rating"):
            control, options = "radios", _scale(question)
        elif question.kind == "single_choice":
            control, options = "radios", [(c, c) for c in question.choices]
        elif question.kind == "yes_no":
            control, options = "radios", [("yes", _("Yes")), ("no", _("No"))]
        elif question.kind == "multiple_choice":
            control, options = "checkboxes", [(c, c) for c in question.choices]
        else:
            control, options = "text", []
        value = (values or {}).get(question.key)
        if isinstance(value, bool):
            value = "yes" if value else "no"
        shown.append(
            {
                "name": f"q-{question.key}",
                "key": question.key,
                "label": question.text + (" " + _("(required)") if question.required else ""),
                "kind": _(KIND_LABELS.get(question.kind, question.kind)),
                "control": control,
                "options": options,
                "hint": hint,
                "value": value if isinstance(value, list) else ("" if value is None else str(value)),
            }
        )
    return shown


# -- the list and a survey ---------------------------------------------------------------


def index() -> Any:
    """Every survey: its title, key, version, invitations and answers (over the user's contacts)."""
    surveys = _api().list()
    rows = [{"info": s, "rate": _rate(s)} for s in surveys]
    return flask.render_template("surveys/list.html", rows=rows, can_send=_can("surveys.send"),
                                 can_paper=_can("surveys.answers.create"))  # fmt: skip


def survey_page(survey_id: int) -> Any:
    """A survey: its versions, and a version's questions as the recipient sees them (``?version=``)."""
    info = _survey(survey_id)
    version = request.args.get("version", "")
    number = int(version) if version.isdigit() else None
    try:
        definition = _api().definition(info.id, number)
    except (NotFoundError, ValidationError):
        abort(404)
    return flask.render_template(
        "surveys/survey.html",
        info=info,
        definition=definition,
        shown_version=number or info.version,
        questions=_shown(definition.questions),
        versions=_api().versions(info.id),
        rate=_rate(info),
        can_send=_can("surveys.send"),
        can_paper=_can("surveys.answers.create"),
        can_results=_can("surveys.results.run"),
        can_responses=_can("surveys.answers.read"),
    )


# -- responses ------------------------------------------------------------------------------

#: responses per page
PAGE = 50


def responses(survey_id: int) -> Any:
    """Who answered what, newest first, 50 a page: each response's contact, channel, date and answers; the
    negative ones marked, with the follow-up task a rule of the tasks plugin made of each (if it is installed)."""
    info = _survey(survey_id)
    g.crm.authz.require("surveys.answers.read")
    page_number = request.args.get("page", "1")
    number = max(1, min(int(page_number), 10_000)) if page_number.isdigit() else 1
    found = _api().responses(info.id, limit=PAGE, offset=(number - 1) * PAGE)
    questions = {q.key: q.text for q in _api().definition(info.id).questions}
    ids = [r.contact_id for r in found.items if r.contact_id is not None]
    cards = {c.id: c for c in g.crm.plugin("contacts").cards(ids)} if ids else {}
    follow_ups, tasks = _follow_ups([r.id for r in found.items])
    rows = []
    for response in found.items:
        answers = []
        for key, value in response.answers.items():
            if isinstance(value, bool):
                value = _("Yes") if value else _("No")
            elif isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            answers.append((questions.get(key, key), value))
        rows.append(
            {
                "response": response,
                "contact": cards.get(response.contact_id or 0),
                "answers": answers,
                "follow_ups": follow_ups.get(response.id, []),
            }
        )
    pages = {}
    if number > 1:
        pages["previous"] = url_for("surveys.responses", survey_id=info.id, page=number - 1)
    if found.offset + len(found.items) < found.total:
        pages["next"] = url_for("surveys.responses", survey_id=info.id, page=number + 1)
    return flask.render_template(
        "surveys/responses.html",
        info=info,
        found=found,
        rows=rows,
        pages=pages,
        first=found.offset + 1 if found.items else 0,
        last=found.offset + len(found.items),
        channels={"web": _("Web form"), "paper": _("Paper"), "staff": _("Typed in by staff"), "api": _("API")},
        tasks=tasks,
        task_pages="tasks.task" in flask.current_app.view_functions,
        task_statuses={"open": _("open"), "done": _("done"), "cancelled": _("cancelled")},
    )


def _follow_ups(response_ids: list[int]) -> tuple[dict[int, list[Any]], bool]:
    """The tasks linked to each response (a rule's follow-up of a negative answer), and whether they can be told.

    Through the contract's ``TasksAPI.linked_tasks`` (one query for the
    page), when the tasks plugin is installed and the user may read tasks:
    only those in the user's scope come back. Without it: none, and no error.
    """
    crm = g.crm
    if not crm.has_plugin("tasks") or not _can("tasks.read"):
        return {}, False
    if not response_ids:
        return {}, True
    found: dict[int, list[Any]] = crm.plugin("tasks").linked_tasks("survey_response", response_ids)
    return found, True


# -- sending --------------------------------------------------------------------------------


def _sources() -> list[tuple[str, str]]:
    """The mailing lists to send to, if the user may see them (a segment is named in a field of its own; without
    the lists, the form asks ``list:NAME`` or ``segment:NAME``)."""
    if not _can("contacts.lists.read"):
        return []
    return [(f"list:{item.name}", _("List: %(name)s", name=item.name)) for item in g.crm.plugin("contacts").lists()]


def _chosen(field: str) -> tuple[str, str | None]:
    """The source the form names in ``field`` (a list) or ``field_segment`` (a segment's name), or the problem."""
    listed = request.form.get(field, "").strip()
    segment = request.form.get(f"{field}_segment", "").strip()
    if listed and segment:
        return listed, _("Choose a list or a segment, not both.")
    if segment:
        return f"segment:{segment}", None
    if listed:
        return listed, None
    return "", _("Choose the mailing list or segment to send to.")


def send(survey_id: int) -> Any:
    """GET: choose a list or segment; POST ``action=check``: who it reaches (a dry run), ``action=send``: send,
    ``action=test``: the invitation to oneself."""
    info = _survey(survey_id)
    g.crm.authz.require("surveys.send")
    [reminder] = _api().remind(info.id, dry_run=True)
    values: dict[str, Any] = {
        "info": info,
        "sources": _sources(),
        "source": "",
        "segment": "",
        "errors": {},
        "report": None,
        "reminder": reminder,
    }
    if request.method == "GET":
        return flask.render_template("surveys/send.html", **values)
    action = request.form.get("action") or request.args.get("action", "check")
    if action == "test":
        try:
            address = _api().send_test(info.id)
        except ValidationError as exc:
            values["problem"] = str(exc)
            return flask.render_template("surveys/send.html", **values), 422
        flask.flash(_("A test was sent to %(address)s; it shows the invitation as a recipient gets it.",
                      address=address), "success")  # fmt: skip
        return redirect(url_for("surveys.send", survey_id=info.id), 303)
    source, problem = _chosen("source")
    values["source"] = source
    values["segment"] = request.form.get("source_segment", "").strip()
    if problem:
        values["errors"] = {"source": problem}
        return flask.render_template("surveys/send.html", **values), 422
    try:
        report = _api().send(info.id, source, dry_run=action != "send")
    except (ValidationError, NotFoundError) as exc:
        values["errors"] = {"source": str(exc)}
        return flask.render_template("surveys/send.html", **values), 422
    if action == "send":
        flask.flash(_("%(title)s was sent to %(count)s contacts.", title=info.title, count=report.sent), "success")
        return redirect(url_for("surveys.survey", survey_id=info.id), 303)
    values["report"] = report
    return flask.render_template("surveys/send.html", **values)


def remind(survey_id: int) -> Any:
    """Queue the one reminder to those invited by e-mail who have not answered (as the send page counted)."""
    info = _survey(survey_id)
    g.crm.authz.require("surveys.send")
    [report] = _api().remind(info.id)
    flask.flash(_("A reminder was queued for %(count)s contacts.", count=report.sent), "success")
    return redirect(url_for("surveys.send", survey_id=info.id), 303)


def letters(survey_id: int) -> Any:
    """The survey as one PDF of letters to the postal addresses of a list or segment, to print and post."""
    import tempfile
    from pathlib import Path

    info = _survey(survey_id)
    g.crm.authz.require("surveys.send")
    source, problem = _chosen("letters_source")
    if problem:
        flask.flash(problem if source else _("Choose the mailing list or segment to print letters for."), "error")
        return redirect(url_for("surveys.send", survey_id=info.id), 303)
    with tempfile.TemporaryDirectory() as folder:
        try:
            report = _api().letters(info.id, source, folder, combined=True)
        except (ValidationError, NotFoundError) as exc:
            flask.flash(_("No letters were printed: %(problem)s", problem=str(exc)), "error")
            return redirect(url_for("surveys.send", survey_id=info.id), 303)
        if not report.files:
            flask.flash(_("No contact of %(source)s can get a letter: none has a postal address, or all were "
                          "left out.", source=source), "error")  # fmt: skip
            return redirect(url_for("surveys.send", survey_id=info.id), 303)
        data = Path(report.files[0]).read_bytes()
    answer = flask.Response(data, mimetype="application/pdf")
    answer.headers["Content-Disposition"] = f'attachment; filename="{info.key}-letters.pdf"'
    answer.headers["X-Surveys-Letters"] = str(report.letters)
    return answer


# -- paper answers ----------------------------------------------------------------------------


def _paper_form(code: str) -> tuple[Any, Any]:
    """The letter's form and its contact's card; ``NotFoundError`` for a code unknown or out of the user's scope."""
    try:
        form = _api().paper_form(code)
    except PermissionDenied as exc:
        if not exc.record:
            raise
        raise NotFoundError(f"no letter has the code {code!r}") from None
    contact = g.crm.plugin("contacts").card(form.contact_id) if form.contact_id is not None else None
    return form, contact


def _answers(form: Any) -> dict[str, Any]:
    answers: dict[str, Any] = {}
    for question in form.questions:
        name = f"q-{question.key}"
        if question.kind == "multiple_choice":
            picked = [v for v in request.form.getlist(name) if v]
            if picked:
                answers[question.key] = picked
        else:
            value = request.form.get(name, "").strip()
            if value:
                answers[question.key] = value
    return answers


def paper() -> Any:
    """Type in the answers written on a paper letter: its code first, then its questions."""
    g.crm.authz.require("surveys.answers.create")
    code = (request.form.get("code") if request.method == "POST" else request.args.get("code", "")) or ""
    code = code.strip()[:40]
    values: dict[str, Any] = {"code": code, "errors": {}, "form": None, "contact": None, "questions": []}
    if not code:
        if request.method == "POST":
            values["errors"] = {"code": _("Type the code printed on the letter.")}
            return flask.render_template("surveys/paper.html", **values), 422
        return flask.render_template("surveys/paper.html", **values)
    try:
        form, contact = _paper_form(code)
    except (NotFoundError, ValidationError):
        values["errors"] = {"code": _("No letter has the code %(code)s: check it against the letter.", code=code)}
        return flask.render_template("surveys/paper.html", **values), 422
    values.update(form=form, contact=contact)
    if request.method == "GET" or request.form.get("step") == "code":
        values["questions"] = _shown(form.questions, form.answers)
        return flask.render_template("surveys/paper.html", **values)
    answers = _answers(form)
    errors = _api().check_answers(form, answers)
    if errors:
        values["questions"] = _shown(form.questions, answers)
        values["errors"] = {f"q-{key}": message for key, message in errors.items()}
        return flask.render_template("surveys/paper.html", **values), 422
    saved = _api().enter_paper(code, answers)
    name = contact.display_name if contact is not None else code
    if saved.negative:
        flask.flash(_("The answers of %(name)s were saved. They count as negative: a follow-up task is made if a task "
                      "rule asks for one.", name=name), "success")  # fmt: skip
    else:
        flask.flash(_("The answers of %(name)s were saved.", name=name), "success")
    return redirect(url_for("surveys.paper"), 303)


def blueprint() -> flask.Blueprint:
    """The surveys pages, mounted by the desk at ``/surveys``."""
    from crm_surveys.desk import results

    page = flask.Blueprint("surveys", __name__)
    page.add_url_rule("/", "index", index)
    page.add_url_rule("/<int:survey_id>", "survey", survey_page)
    page.add_url_rule("/<int:survey_id>/send", "send", send, methods=["GET", "POST"])
    page.add_url_rule("/<int:survey_id>/results", "results", results.results)
    page.add_url_rule(results.CHART_ROUTE, "results_chart", results.chart)
    page.add_url_rule("/<int:survey_id>/responses", "responses", responses)
    page.add_url_rule("/<int:survey_id>/remind", "remind", remind, methods=["POST"])
    page.add_url_rule("/<int:survey_id>/letters", "letters", letters, methods=["POST"])
    page.add_url_rule("/paper", "paper", paper, methods=["GET", "POST"])
    return page
