"""The survey form: the personal link from a survey e-mail, its answers, the thank-you page.

Every question of the version the person was sent is on the page; those
whose condition does not hold are ``hidden`` and disabled, so they are not
sent. A script shows and hides them as the answers change. Without the
script the server does it: the page lists the questions it showed
(``shown``), and when an answer reveals a question the person has not
seen, the page comes back with it instead of being saved. Which questions
are required, and what each accepts, is the surveys plugin's to decide
(``check_answers``); the portal only words the problems in the person's
language.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import flask
from flask import g, request

from crm_core.errors import NotFoundError, ValidationError
from crm_core.signing import UnknownLinkError
from crm_hookspecs.apis import SurveysAPI
from crm_portal.i18n import N_
from crm_portal.i18n import gettext as _
from crm_portal.web.app import set_language
from crm_portal.web.render import link_refused, page
from crm_portal.web.security import rate_limit

__all__ = ["register"]

SCALES = {"nps": (0, 10), "csat": (1, 5)}


def register(blueprint: flask.Blueprint) -> None:
    blueprint.add_url_rule("/surveys/<token>", "survey", survey_view, methods=["GET", "POST"])
    blueprint.add_url_rule("/surveys/<token>/thanks", "survey_thanks", thanks_view)


def _load(token: str) -> Any:
    """The form behind ``token``, in the contact's language; a ValidationError when the link is refused."""
    form = g.crm.plugin("surveys", SurveysAPI).form(token)
    if form.contact_id is None:  # his personal data was erased: the invitation can no longer be answered
        raise UnknownLinkError("this survey link is no longer valid: its invitation was erased")
    set_language(g.site.contact_language(form.contact_id))
    return form


def _gone(exc: Exception) -> Exception:
    """A survey that no longer exists is refused like a withdrawn link (404)."""
    if isinstance(exc, NotFoundError):
        return UnknownLinkError(str(exc))
    return exc


def scale(question: Any) -> list[int]:
    low, high = SCALES.get(
        question.kind,
        (question.min if question.min is not None else 1, question.max if question.max is not None else 5),
    )
    return list(range(low, high + 1))


def as_form_values(questions: Any, answers: Mapping[str, Any]) -> dict[str, Any]:
    """Saved answers as a form shows them: numbers and yes/no as text, choices as lists."""
    out: dict[str, Any] = {}
    for question in questions:
        value = answers.get(question.key)
        if value is None:
            continue
        if question.kind == "yes_no":
            out[question.key] = "yes" if value else "no"
        elif question.kind == "multiple_choice":
            out[question.key] = [str(v) for v in value]
        else:
            out[question.key] = str(value)
    return out


def _posted(questions: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for question in questions:
        if question.kind == "multiple_choice":
            values = [v for v in request.form.getlist(question.key) if v]
            if values:
                out[question.key] = values
        else:
            value = request.form.get(question.key, "")
            if value.strip():
                out[question.key] = value
    return out


def survey_view(token: str) -> Any:
    surveys = g.crm.plugin("surveys", SurveysAPI)
    try:
        form = _load(token)
    except (ValidationError, NotFoundError) as exc:  # NotFoundError: the survey itself was deleted since
        return link_refused(_gone(exc), "survey")
    if request.method == "GET":
        values = as_form_values(form.questions, form.answers)
        return _page(form, token, values)
    rate_limit("survey")
    posted = _posted(form.questions)
    visible = surveys.visible_questions(form, posted)
    shown = set(request.form.getlist("shown"))
    answers = {key: value for key, value in posted.items() if key in visible}
    conditional = {q.key for q in form.questions if q.show_if is not None}
    unseen = [key for key in visible if key in conditional and key not in shown]
    if unseen:
        # without the script the person has not seen these yet: show them, save nothing
        return _page(
            form,
            token,
            posted,
            notice=_("Your answers make more questions apply to you. Please look at them and send the form again."),
            focus=unseen[0],
        )
    problems = surveys.check_answers(form, answers)
    if problems:
        return _page(form, token, posted, problems=_worded(form, problems, answers), status=400)
    try:
        surveys.submit(token, answers, channel="web")
    except ValidationError as exc:
        problems = getattr(exc, "problems", None)
        if isinstance(problems, dict) and problems:
            return _page(form, token, posted, problems=_worded(form, problems, answers), status=400)
        return link_refused(exc, "survey")
    return flask.redirect(flask.url_for("portal.survey_thanks", token=token), code=303)


def thanks_view(token: str) -> Any:
    try:
        form = _load(token)
    except (ValidationError, NotFoundError) as exc:
        return link_refused(_gone(exc), "survey")
    if not form.complete:
        return flask.redirect(flask.url_for("portal.survey", token=token), code=303)
    return page("portal/survey/thanks.html", form=form, token=token)


def _page(
    form: Any,
    token: str,
    values: Mapping[str, Any],
    *,
    problems: dict[str, str] | None = None,
    notice: str | None = None,
    status: int = 200,
    focus: str | None = None,
) -> Any:
    visible = set(g.crm.plugin("surveys", SurveysAPI).visible_questions(form, values))
    conditions = {
        q.key: json.dumps({"question": q.show_if.question, "op": q.show_if.op, "value": q.show_if.value})
        for q in form.questions
        if q.show_if is not None
    }
    return page(
        "portal/survey/form.html",
        status=status,
        form=form,
        token=token,
        values=values,
        visible=visible,
        conditions=conditions,
        problems=problems or {},
        notice=notice,
        focus=focus,
        scale=scale,
        anchors={q.key: f"q-{q.key}" for q in form.questions},
        labels={q.key: q.text for q in form.questions},
    )


def _worded(form: Any, problems: Mapping[str, str], answers: Mapping[str, Any]) -> dict[str, str]:
    """The surveys plugin's problems, worded for the person, in his language, by question key."""
    questions = {q.key: q for q in form.questions}
    out: dict[str, str] = {}
    for key, message in problems.items():
        question = questions.get(key)
        if question is None:
            out[""] = _("Your answers could not be saved: %(reason)s", reason=message)
            continue
        value = answers.get(key)
        if value in (None, "", []):
            out[key] = _("Please answer this question.")
        elif question.kind in ("nps", "csat", "rating"):
            numbers = scale(question)
            out[key] = _("Choose a number from %(low)s to %(high)s.", low=numbers[0], high=numbers[-1])
        elif question.kind == "single_choice":
            out[key] = _("Choose one of the options.")
        elif question.kind == "multiple_choice":
            out[key] = _("Choose among the options offered.")
        elif question.kind == "yes_no":
            out[key] = _("Answer yes or no.")
        elif (
            question.kind == "text"
            and question.max_length
            and isinstance(value, str)
            and len(value) > question.max_length
        ):
            out[key] = _(
                "Write at most %(max)s characters (this has %(length)s).", max=question.max_length, length=len(value)
            )
        else:
            out[key] = _("This answer cannot be saved: %(reason)s", reason=message)
    return out


#: words the templates use for yes/no answers (marked here so that extraction finds them once)
YES_NO = (N_("Yes"), N_("No"))
