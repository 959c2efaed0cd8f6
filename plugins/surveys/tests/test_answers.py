"""Reading answers, conditions, required questions and scores (no database needed)."""

from __future__ import annotations

import pytest

from crm_surveys.answers import AnswerError, check, checked, read_value, scores, visible_keys
from crm_surveys.definition import parse_definition


@pytest.fixture
def questions(definition):
    return parse_definition(definition).questions


def q(questions, key):
    return next(x for x in questions if x.key == key)


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("recommend", 0, 0),
        ("recommend", "10", 10),
        ("recommend", 9.0, 9),
        ("satisfaction", " 4 ", 4),
        ("speed", 10, 10),
        ("channel", "E-mail", "E-mail"),
        ("channel", "e-mail", "E-mail"),
        ("channel", "3", "Shop"),
        ("channel", ["Phone"], "Phone"),
        ("topics", ["Events", "Products", "Events"], ["Products", "Events"]),
        ("topics", "Offers", ["Offers"]),
        ("topics", ["1", "3"], ["Products", "Events"]),
        ("call_back", True, True),
        ("call_back", "no", False),
        ("call_back", "Y", True),
        ("why", "  too slow ", "too slow"),
        ("why", "", None),
        ("recommend", None, None),
        ("topics", [], None),
    ],
)
def test_values_are_read_into_their_kind(questions, key, given, expected):
    assert read_value(q(questions, key), given) == expected


@pytest.mark.parametrize(
    ("key", "given", "expected"),
    [
        ("recommend", 11, "(NPS) takes a whole number from 0 to 10, not 11"),
        ("recommend", -1, "from 0 to 10, not -1"),
        ("recommend", 7.5, "not 7.5"),
        ("recommend", True, "not True"),
        ("recommend", "ten", "not 'ten'"),
        ("satisfaction", 0, "(CSAT) takes a whole number from 1 to 5, not 0"),
        ("speed", 11, "(rating) takes a whole number from 1 to 10"),
        ("channel", "Fax", "'Fax' is not one of the choices: 1. Phone, 2. E-mail, 3. Shop"),
        ("channel", "4", "'4' is not one of the choices"),
        ("channel", ["Phone", "Shop"], "takes one choice, not 2"),
        ("topics", ["Offers", "Gifts"], "'Gifts' is not one of the choices"),
        ("call_back", "maybe", "takes yes or no, not 'maybe'"),
        ("why", 42, "takes text, not 42"),
        ("why", "x" * 2001, "takes at most 2000 characters, not 2001"),
    ],
)
def test_values_that_do_not_fit(questions, key, given, expected):
    with pytest.raises(ValueError) as info:
        read_value(q(questions, key), given)
    assert expected in str(info.value)


def test_a_hidden_question_drops_its_answer_and_a_later_condition_on_it(definition):
    definition["questions"].append(
        {"key": "more", "kind": "yes_no", "text": "More?", "show_if": {"question": "why", "op": "answered"}}
    )
    questions = parse_definition(definition).questions
    result, problems = check(questions, {"recommend": 9, "why": "nothing", "more": "yes"})
    assert problems == {}
    assert result.values == {"recommend": 9}
    assert result.dropped == ("why", "more")
    shown = visible_keys(questions, {"recommend": 3, "why": "slow"})
    assert "why" in shown and "more" in shown
    assert "why" not in visible_keys(questions, {"recommend": 7})


def test_required_questions_unless_partial(questions):
    _, problems = check(questions, {"satisfaction": 4})
    assert problems == {"recommend": "question 'recommend' is required: Would you recommend us?"}
    result, problems = check(questions, {"satisfaction": 4}, partial=True)
    assert problems == {} and result.values == {"satisfaction": 4}


def test_an_empty_complete_answer_is_refused(definition):
    definition["questions"][0]["required"] = False
    questions = parse_definition(definition).questions
    _, problems = check(questions, {"why": ""})
    assert problems == {"": "no question is answered; answer at least one"}


def test_unknown_questions_and_bad_values_are_all_reported(questions):
    with pytest.raises(AnswerError) as info:
        checked(questions, {"recommend": 11, "colour": "red", "channel": "Fax"}, where="the answer to 'x'")
    err = info.value
    assert set(err.problems) == {"recommend", "colour", "channel"}
    assert "there is no question 'colour' in this survey" in err.problems["colour"]
    assert str(err).startswith("the answer to 'x' cannot be saved: ")
    assert "recommend: question 'recommend' (NPS) takes a whole number from 0 to 10, not 11" in str(err)


@pytest.mark.parametrize(
    ("op", "value", "answer", "holds"),
    [
        ("=", 5, 5, True),
        ("!=", 5, 5, False),
        ("<", 5, 4, True),
        ("<=", 5, 5, True),
        (">", 5, 5, False),
        (">=", 5, 5, True),
        ("in", [1, 2], 2, True),
        ("not in", [1, 2], 2, False),
    ],
)
def test_operators_on_numbers(definition, op, value, answer, holds):
    definition["questions"].append(
        {"key": "x", "kind": "text", "text": "X", "show_if": {"question": "speed", "op": op, "value": value}}
    )
    questions = parse_definition(definition).questions
    assert ("x" in visible_keys(questions, {"speed": answer})) is holds
    assert "x" not in visible_keys(questions, {})  # no answer: the condition is false


def test_scores_and_negative(questions):
    values = {"recommend": 7, "satisfaction": 3, "speed": 2, "channel": "Phone", "call_back": True}
    assert scores(questions, values) == ({"recommend": 7.0, "satisfaction": 3.0, "speed": 2.0}, False)
    assert scores(questions, {"recommend": 6})[1] is True  # a detractor
    assert scores(questions, {"recommend": 10, "satisfaction": 2})[1] is True  # CSAT 1-2
    assert scores(questions, {"recommend": 10, "speed": 1})[1] is False  # a low rating is not negative
