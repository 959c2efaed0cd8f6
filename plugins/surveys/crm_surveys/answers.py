"""Answers: reading values (typed, or the strings a form or the CLI gives), conditions, scores.

:func:`check` is the one place that decides whether a set of answers fits
a survey version: every value is read into its kind's type, the conditions
are evaluated in question order (an answer to a question that is hidden by
the answers before it is dropped), and required questions are enforced
unless the answer is a draft.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import attrs

from crm_core.errors import ValidationError
from crm_hookspecs.records import SurveyCondition, SurveyQuestion

__all__ = ["AnswerError", "CheckedAnswers", "check", "holds", "read_value", "scores", "visible_keys"]

_YES = {"yes", "y", "true", "1", "si", "sí", "oui", "ja"}
_NO = {"no", "n", "false", "0", "non", "nein"}
_KIND_NAMES = {
    "nps": "NPS",
    "csat": "CSAT",
    "rating": "rating",
    "single_choice": "single choice",
    "multiple_choice": "multiple choice",
    "yes_no": "yes/no",
    "text": "free text",
}
#: the key under which problems that concern no single question are reported
FORM = ""


class AnswerError(ValidationError):
    """Answers do not fit the survey; ``problems`` maps question keys to what is wrong."""

    def __init__(self, problems: Mapping[str, str], where: str = "the answer") -> None:
        parts = [f"{key}: {text}" if key else text for key, text in problems.items()]
        super().__init__(f"{where} cannot be saved: " + "; ".join(parts))
        self.problems = dict(problems)


@attrs.frozen
class CheckedAnswers:
    """Answers that fit the survey: ``values`` by question key, in question order.

    ``dropped`` lists the questions whose answers were left out because
    their condition did not hold.
    """

    values: dict[str, Any]
    dropped: tuple[str, ...] = ()


def _empty(value: Any) -> bool:
    return (
        value is None
        or (isinstance(value, str) and not value.strip())
        or (isinstance(value, (list, tuple, set, frozenset)) and not value)
    )


def read_value(question: SurveyQuestion, value: Any) -> Any:
    """``value`` in ``question``'s type, or ``None`` when empty; raise ``ValueError`` with the reason.

    Accepts the typed value (an ``int``, a ``bool``, a list) and the strings
    a web form or the CLI gives (``"9"``, ``"yes"``, a choice or its number).
    """
    if _empty(value):
        return None
    kind = question.kind
    if kind in ("nps", "csat", "rating"):
        # a scale question always has both ends (definition.py gives them)
        assert question.min is not None and question.max is not None
        number = _whole_number(value)
        if number is None or not question.min <= number <= question.max:
            raise ValueError(
                f"({_KIND_NAMES[kind]}) takes a whole number from {question.min} to {question.max}, not {_show(value)}"
            )
        return number
    if kind == "single_choice":
        if isinstance(value, (list, tuple)):
            if len(value) != 1:
                raise ValueError(f"takes one choice, not {len(value)}")
            value = value[0]
        return _choice(question, value)
    if kind == "multiple_choice":
        items = [value] if isinstance(value, (str, int)) and not isinstance(value, bool) else value
        if not isinstance(items, (list, tuple, set, frozenset)):
            raise ValueError(f"takes a list of choices, not {_show(value)}")
        picked = {_choice(question, item) for item in items if not _empty(item)}
        return [c for c in question.choices if c in picked] or None
    if kind == "yes_no":
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            word = value.strip().casefold()
            if word in _YES:
                return True
            if word in _NO:
                return False
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        raise ValueError(f"takes yes or no, not {_show(value)}")
    if kind == "text":
        if not isinstance(value, str):
            raise ValueError(f"takes text, not {_show(value)}")
        text = value.strip()
        if len(text) > (question.max_length or 0):
            raise ValueError(f"takes at most {question.max_length} characters, not {len(text)}")
        return text
    raise ValueError(f"has an unknown kind {kind!r}")  # pragma: no cover - definitions are checked


def _whole_number(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("+-").isdigit():
            return int(text)
    return None


def _choice(question: SurveyQuestion, value: Any) -> str:
    if isinstance(value, str):
        text = value.strip()
        if text in question.choices:
            return text
        folded: dict[str, str] = {c.casefold(): c for c in question.choices}
        if text.casefold() in folded:
            return folded[text.casefold()]
    # a choice's number (1 = the first), as typed from a paper form
    number = _whole_number(value)
    if number is not None and 1 <= number <= len(question.choices):
        chosen: str = question.choices[number - 1]
        return chosen
    listed = ", ".join(f"{i}. {c}" for i, c in enumerate(question.choices, start=1))
    raise ValueError(f"{_show(value)} is not one of the choices: {listed}")


def _show(value: Any) -> str:
    return repr(value) if isinstance(value, str) else str(value)


def holds(condition: SurveyCondition, answers: Mapping[str, Any]) -> bool:
    """Whether ``condition`` holds for ``answers`` (already read into their types)."""
    value = answers.get(condition.question)
    if value is None:
        return False
    op, target = condition.op, condition.value
    if op == "answered":
        return True
    if op == "contains":
        return target in value
    if op == "in":
        return value in tuple(target)
    if op == "not in":
        return value not in tuple(target)
    if op == "=":
        return bool(value == target)
    if op == "!=":
        return bool(value != target)
    if op == "<":
        return bool(value < target)
    if op == "<=":
        return bool(value <= target)
    if op == ">":
        return bool(value > target)
    if op == ">=":
        return bool(value >= target)
    raise ValueError(f"unknown operator {op!r}")  # pragma: no cover - definitions are checked


def visible_keys(questions: Sequence[SurveyQuestion], answers: Mapping[str, Any]) -> list[str]:
    """The keys of the questions shown, in order, given answers already read into their types.

    A question hidden by its condition hides its answer too, so a later
    condition on it is false.
    """
    shown: list[str] = []
    seen: dict[str, Any] = {}
    for question in questions:
        if question.show_if is None or holds(question.show_if, seen):
            shown.append(question.key)
            if answers.get(question.key) is not None:
                seen[question.key] = answers[question.key]
    return shown


def check(
    questions: Sequence[SurveyQuestion], answers: Mapping[str, Any], *, partial: bool = False
) -> tuple[CheckedAnswers, dict[str, str]]:
    """Read and check ``answers``; return the result and the problems by question key.

    The result holds what could be read even when there are problems (a
    form shows both). With ``partial`` (a draft) required questions may be
    missing.
    """
    problems: dict[str, str] = {}
    by_key = {q.key: q for q in questions}
    if not isinstance(answers, Mapping):
        return CheckedAnswers({}), {
            FORM: f"answers must be a mapping of question keys to values, not {type(answers).__name__}"
        }
    for key in answers:
        if key not in by_key:
            problems[str(key)] = f"there is no question {key!r} in this survey; the questions are: {', '.join(by_key)}"
    read: dict[str, Any] = {}
    for question in questions:
        if question.key not in answers:
            continue
        try:
            value = read_value(question, answers[question.key])
        except ValueError as exc:
            problems[question.key] = f"question {question.key!r} {exc}"
            continue
        if value is not None:
            read[question.key] = value
    shown = visible_keys(questions, read)
    values = {key: read[key] for key in shown if key in read}
    dropped = tuple(key for key in read if key not in values)
    if not partial:
        for question in questions:
            if (
                question.required
                and question.key in shown
                and question.key not in values
                and question.key not in problems
            ):
                problems[question.key] = f"question {question.key!r} is required: {question.text}"
        if not values and not problems:
            problems[FORM] = "no question is answered; answer at least one"
    return CheckedAnswers(values, dropped), problems


def checked(
    questions: Sequence[SurveyQuestion], answers: Mapping[str, Any], *, partial: bool = False, where: str = "the answer"
) -> CheckedAnswers:
    """:func:`check`, raising :class:`AnswerError` when there is any problem."""
    result, problems = check(questions, answers, partial=partial)
    if problems:
        raise AnswerError(problems, where)
    return result


def scores(questions: Iterable[SurveyQuestion], values: Mapping[str, Any]) -> tuple[dict[str, float], bool]:
    """The numeric answers (NPS, CSAT, ratings) by key, and whether the answer is negative.

    Negative: an NPS answer of 0–6 or a CSAT answer of 1–2.
    """
    out: dict[str, float] = {}
    negative = False
    for question in questions:
        value = values.get(question.key)
        if value is None or question.kind not in ("nps", "csat", "rating"):
            continue
        out[question.key] = float(value)
        if (question.kind == "nps" and value <= 6) or (question.kind == "csat" and value <= 2):
            negative = True
    return out, negative
