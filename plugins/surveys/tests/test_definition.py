"""Survey definitions: what a TOML file may say, and the errors when it is wrong."""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path

import pytest

from crm_core.errors import ValidationError
from crm_hookspecs.records import SurveyCondition
from crm_surveys.definition import SurveyDefinitionError, load_file, parse_definition


def problems(data: dict) -> str:
    with pytest.raises(SurveyDefinitionError) as info:
        parse_definition(data, "survey.toml")
    return str(info.value)


def test_every_kind_is_read_with_its_ranges_and_defaults(definition):
    parsed = parse_definition(definition, "survey.toml")
    assert parsed.key == "csat" and parsed.title == "How did we do?"
    kinds = {q.key: q for q in parsed.questions}
    assert (kinds["recommend"].min, kinds["recommend"].max, kinds["recommend"].required) == (0, 10, True)
    assert (kinds["satisfaction"].min, kinds["satisfaction"].max) == (1, 5)
    assert (kinds["speed"].min, kinds["speed"].max) == (1, 10)
    assert kinds["channel"].choices == ("Phone", "E-mail", "Shop")
    assert kinds["why"].show_if == SurveyCondition("recommend", "<=", 6)
    assert kinds["why"].max_length == 2000
    assert [q.kind for q in parsed.questions] == [
        "nps",
        "text",
        "csat",
        "rating",
        "single_choice",
        "multiple_choice",
        "yes_no",
    ]


def test_the_starter_file_of_the_cli_is_a_valid_survey(tmp_path):
    from crm_surveys.cli import STARTER

    path = tmp_path / "s.toml"
    path.write_text(STARTER, encoding="utf-8")
    parsed = load_file(path)
    assert parsed.key == "customer-satisfaction" and len(parsed.questions) == 6
    assert parsed.reminder_after_days == 7


def test_to_toml_reads_back_to_the_same_version(definition):
    definition["reminder"] = {"after_days": 3, "subject": "Still time: {{ survey.title }}"}
    definition["questions"][1]["show_if"] = {"question": "recommend", "op": "in", "value": [0, 1, 2]}
    parsed = parse_definition(definition)
    again = parse_definition(tomllib.loads(parsed.to_toml()))
    assert again == parsed
    assert again.digest() == parsed.digest()


def test_the_digest_ignores_the_key_but_not_the_content(definition):
    a = parse_definition(definition)
    definition["key"] = "other"
    b = parse_definition(definition)
    definition["questions"][0]["text"] = "Changed?"
    c = parse_definition(definition)
    assert a.digest() == b.digest() != c.digest()


def test_unknown_question_kind_names_the_question_and_suggests(definition):
    definition["questions"][2]["kind"] = "csta"
    message = problems(definition)
    assert "question 3 'satisfaction': unknown kind 'csta' (did you mean 'csat'?)" in message
    assert "the kinds are: nps, csat, rating, single_choice, multiple_choice, yes_no, text" in message
    assert message.startswith("survey.toml: problem:")


def test_condition_on_a_later_question_is_refused(definition):
    definition["questions"][0]["show_if"] = {"question": "channel", "op": "=", "value": "Phone"}
    assert "question 1 'recommend': show_if names question 'channel', which comes later (question 5)" in problems(
        definition
    )


def test_condition_on_a_missing_or_the_same_question_is_refused(definition):
    definition["questions"][1]["show_if"] = {"question": "recomend", "op": "<=", "value": 6}
    assert "which does not exist (did you mean 'recommend'?)" in problems(definition)
    definition["questions"][1]["show_if"] = {"question": "why", "op": "answered"}
    assert "names the question itself" in problems(definition)


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"question": "recommend", "op": "<=", "value": 11}, "takes whole numbers from 0 to 10, not 11"),
        (
            {"question": "channel", "op": "=", "value": "Fax"},
            "'Fax' is not one of the choices of 'channel': Phone, E-mail, Shop",
        ),
        (
            {"question": "channel", "op": "<", "value": "Phone"},
            "operator '<' does not apply to single_choice question 'channel'",
        ),
        (
            {"question": "topics", "op": "contains", "value": "Ofers"},
            "'Ofers' (did you mean 'Offers'?) is not one of the choices",
        ),
        ({"question": "call_back", "op": "=", "value": "yes"}, "is compared with true or false, not 'yes'"),
        ({"question": "recommend", "op": "in", "value": 3}, "op 'in' takes a list of values"),
        ({"question": "recommend", "op": "~", "value": 3}, "operator '~' does not apply"),
        ({"question": "recommend", "op": "<="}, "value is missing"),
        ("recommend <= 6", "show_if must be a table"),
    ],
)
def test_bad_conditions(definition, condition, expected):
    definition["questions"].append({"key": "last", "kind": "text", "text": "Anything else?", "show_if": condition})
    assert expected in problems(definition)


def test_condition_forms_that_are_accepted(definition):
    definition["questions"].append(
        {
            "key": "a",
            "kind": "text",
            "text": "A",
            "show_if": {"question": "topics", "op": "contains", "value": "Offers"},
        }
    )
    definition["questions"].append(
        {"key": "b", "kind": "text", "text": "B", "show_if": {"question": "call_back", "value": True}}
    )
    definition["questions"].append({"key": "c", "kind": "text", "text": "C", "show_if": {"question": "why"}})
    parsed = parse_definition(definition)
    assert parsed.question("a").show_if == SurveyCondition("topics", "contains", "Offers")
    assert parsed.question("b").show_if == SurveyCondition("call_back", "=", True)
    assert parsed.question("c").show_if == SurveyCondition("why", "answered", None)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["questions"][4].update(choices=["Phone"]), "give from 2 to 50 choices, not 1"),
        (lambda d: d["questions"][4].update(choices=["Phone", "phone"]), "choice 'phone' is listed twice"),
        (lambda d: d["questions"][4].pop("choices"), "choices are missing"),
        (
            lambda d: d["questions"][0].update(choices=["a", "b"]),
            "choices is only for multiple_choice and single_choice questions, not nps",
        ),
        (lambda d: d["questions"][3].update(min=5, max=5), "the scale 5..5 must go up"),
        (lambda d: d["questions"][3].update(max=50), "at most 21 points"),
        (lambda d: d["questions"][1].update(max_length=0), "max_length must be a whole number from 1 to 20000"),
        (lambda d: d["questions"][0].update(required="yes"), "required must be true or false"),
        (lambda d: d["questions"][0].update(requird=True), "unknown key 'requird' (did you mean 'required'?)"),
        (lambda d: d["questions"][1].update(key="recommend"), "key 'recommend' is already used by question 1"),
        (lambda d: d["questions"][1].update(key="Why Not"), "key 'Why Not' is not valid"),
        (lambda d: d["questions"][1].pop("text"), "question 2 'why': text is missing"),
        (lambda d: d.pop("title"), "title is missing"),
        (lambda d: d.update(questions=[]), "the survey has no questions"),
        (lambda d: d.update(colour="red"), "the survey: unknown key 'colour'"),
        (lambda d: d.update(key="Bad Key!"), "key 'Bad Key!' is not valid"),
        (
            lambda d: d["email"].update(text="Hi {{ frist_name }}"),
            "email.text uses {{ frist_name }} (did you mean 'first_name'?), which is not a template variable",
        ),
        (lambda d: d["email"].update(subject="{% if %}"), "email.subject: template syntax error on line 1"),
        (lambda d: d["email"].pop("subject"), "email.subject is missing"),
        (lambda d: d.update(reminder={"after_days": -1}), "reminder.after_days must be a whole number of days from 0"),
    ],
)
def test_bad_definitions(definition, change, expected):
    change(definition)
    assert expected in problems(definition)


def test_every_problem_is_reported_at_once(definition):
    definition["questions"][0]["kind"] = "stars"
    definition["questions"][4]["choices"] = ["Phone"]
    definition.pop("title")
    with pytest.raises(SurveyDefinitionError) as info:
        parse_definition(definition, "survey.toml")
    assert len(info.value.problems) == 3
    assert str(info.value).startswith("survey.toml: 3 problems:")


def test_a_reminder_may_override_only_the_subject(definition):
    definition["reminder"] = {"after_days": 5, "subject": "Last chance, {{ first_name }}"}
    parsed = parse_definition(definition)
    assert parsed.reminder_after_days == 5
    assert parsed.reminder_template().subject == "Last chance, {{ first_name }}"
    plain = parse_definition({**copy.deepcopy(definition), "reminder": {"after_days": 5}})
    assert plain.reminder_template().subject.startswith("Reminder: ")


def test_load_file_errors_name_the_file(tmp_path):
    missing = tmp_path / "none.toml"
    with pytest.raises(ValidationError, match=r"none.toml: no such survey file"):
        load_file(missing)
    broken = tmp_path / "broken.toml"
    broken.write_text('title = "x\n', encoding="utf-8")
    with pytest.raises(ValidationError, match=r"broken.toml: TOML syntax error"):
        load_file(broken)
    bad = tmp_path / "bad.toml"
    bad.write_text('title = "x"\n[[questions]]\nkey = "q"\nkind = "stars"\ntext = "?"\n', encoding="utf-8")
    with pytest.raises(SurveyDefinitionError, match=r"bad.toml: problem: question 1 'q': unknown kind 'stars'"):
        load_file(bad)
    assert isinstance(Path(bad), Path)
