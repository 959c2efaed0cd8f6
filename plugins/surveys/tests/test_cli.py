"""The `crm surveys` commands, run in-process against an app."""

from __future__ import annotations

import csv
import io
import json

import pytest

# the commands' parsing and output; what they call is tested on every backend in the other files
pytestmark = pytest.mark.sqlite_only


@pytest.fixture
def survey_file(tmp_path, crm_cli, app):
    path = tmp_path / "survey.toml"
    result = crm_cli.invoke(["surveys", "new", str(path)], app=app)
    assert result.exit_code == 0, result.output
    return path


def test_new_import_list_show(crm_cli, app, survey_file):
    result = crm_cli.invoke(["surveys", "new", str(survey_file)], app=app)
    assert result.exit_code == 2 and "already exists; use --force" in result.output
    result = crm_cli.invoke(["surveys", "import", str(survey_file)], app=app)
    assert result.exit_code == 0, result.output
    assert "created survey 1 'customer-satisfaction', version 1, with 6 question(s)" in result.output
    assert "is unchanged (version 1)" in crm_cli.invoke(["surveys", "import", str(survey_file)], app=app).output
    listed = crm_cli.invoke(["surveys", "list", "--format", "csv"], app=app)
    rows = list(csv.DictReader(io.StringIO(listed.output)))
    assert [(r["key"], r["version"], r["responses"]) for r in rows] == [("customer-satisfaction", "1", "0")]
    shown = crm_cli.invoke(["surveys", "show", "customer-satisfaction"], app=app)
    assert shown.exit_code == 0, shown.output
    assert "How did we do? (customer-satisfaction, id 1): version 1 of 1" in shown.output
    assert "recommend <= 6" in shown.output and "Phone | E-mail | In person" in shown.output
    as_json = json.loads(crm_cli.invoke(["surveys", "show", "1", "--format", "json"], app=app).output)
    assert as_json[0] == {
        "n": 1,
        "key": "recommend",
        "kind": "nps",
        "required": True,
        "answers": "0-10",
        "shown_if": "",
        "text": "How likely are you to recommend us to a friend or colleague?",
    }
    toml_text = crm_cli.invoke(["surveys", "show", "1", "--toml"], app=app).output
    assert 'kind = "multiple_choice"' in toml_text and toml_text.startswith('key = "customer-satisfaction"')


def test_import_a_bad_file_is_one_line_and_exit_2(crm_cli, app, tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('title = "T"\n[[questions]]\nkey = "q"\nkind = "stars"\ntext = "?"\n', encoding="utf-8")
    result = crm_cli.invoke(["surveys", "import", str(path)], app=app)
    assert result.exit_code == 2
    assert result.output.strip().splitlines() == [
        f"Error: {path}: problem: question 1 'q': unknown kind 'stars'; the kinds are: nps, csat, rating, single_choice, multiple_choice, yes_no, text"
    ]
    missing = crm_cli.invoke(["surveys", "results", "nope"], app=app)
    assert missing.exit_code == 5 and "no survey 'nope'" in missing.output


def test_answer_with_set_and_results_in_three_formats(crm_cli, app, survey_file, people):
    crm_cli.invoke(["surveys", "import", str(survey_file)], app=app)
    ana = people.add(region="ES")
    result = crm_cli.invoke(
        [
            "surveys",
            "answer",
            "customer-satisfaction",
            "--contact",
            str(ana),
            "--set",
            "recommend=3",
            "--set",
            "why_not=Slow",
            "--set",
            "satisfaction=2",
            "--set",
            "topics=Offers,Events",
            "--set",
            "call_back=no",
            "--actor",
            "maria",
        ],
        app=app,
    )
    assert result.exit_code == 0, result.output
    assert "saved the answer to 'How did we do?' (response 1, complete)" in result.output
    assert "scores: recommend=3, satisfaction=2 (negative)" in result.output
    bad = crm_cli.invoke(["surveys", "answer", "1", "--contact", str(ana), "--set", "recommend=11"], app=app)
    assert bad.exit_code == 2 and "takes a whole number from 0 to 10, not '11'" in bad.output
    table = crm_cli.invoke(["surveys", "results", "1"], app=app)
    assert table.exit_code == 0 and "How did we do? (customer-satisfaction), version(s) 1" in table.output
    assert "Slow" in table.output
    rows = list(
        csv.DictReader(
            io.StringIO(
                crm_cli.invoke(["surveys", "results", "1", "--format", "csv", "--by", "region"], app=app).output
            )
        )
    )
    nps = [r for r in rows if r["measure"] == "nps"]
    assert [(r["segment"], r["value"]) for r in nps] == [("all", "-100.0"), ("ES", "-100.0")]
    data = json.loads(crm_cli.invoke(["surveys", "results", "1", "--format", "json"], app=app).output)
    assert {
        "segment": "all",
        "question": "topics",
        "kind": "multiple_choice",
        "measure": "count",
        "answer": "Events",
        "value": 1,
        "percent": 100.0,
    } in data
    bad_by = crm_cli.invoke(["surveys", "results", "1", "--since", "March"], app=app)
    assert bad_by.exit_code == 2 and "--since 'March' is not a month" in bad_by.output


def test_answer_interactively_asks_each_shown_question_again_until_it_fits(crm_cli, app, survey_file, people):
    crm_cli.invoke(["surveys", "import", str(survey_file)], app=app)
    ana = people.add()
    # recommend: 11 (refused) then 9; why_not is hidden; satisfaction: empty (required) then 4;
    # channel: 2; topics: 1,3; call_back: y
    answers = "11\n9\n\n4\n2\n1,3\ny\n"
    result = crm_cli.invoke(["surveys", "answer", "1", "--contact", str(ana)], app=app, input=answers)
    assert result.exit_code == 0, result.output
    assert "that does not fit: the question (NPS) takes a whole number from 0 to 10, not '11'" in result.output
    assert "this question is required" in result.output
    assert "What should we do better?" not in result.output
    form = app.plugin("surveys").form(app.plugin("surveys").token("1", ana))
    assert form.answers == {
        "recommend": 9,
        "satisfaction": 4,
        "channel": "E-mail",
        "topics": ["New products", "Events"],
        "call_back": True,
    }


def test_letters_and_enter_paper(crm_cli, app, survey_file, people, tmp_path):
    crm_cli.invoke(["surveys", "import", str(survey_file)], app=app)
    contacts = app.plugin("contacts")
    contacts.create_list("post")
    ids = [people.add(address=True), people.add(address=False)]
    contacts.add_to_list("post", ids)
    out = tmp_path / "letters"
    result = crm_cli.invoke(["surveys", "letters", "1", "--to", "post", "--out", str(out)], app=app)
    assert result.exit_code == 0, result.output
    assert "wrote 1 letter(s)" in result.output and "1 without a postal address" in result.output
    (pdf,) = out.glob("*.pdf")
    code = pdf.stem.removeprefix("customer-satisfaction-")
    typed = crm_cli.invoke(["surveys", "enter-paper", code.lower()], app=app, input="5\nToo expensive\n3\n\n\n\n")
    assert typed.exit_code == 0, typed.output
    assert "What should we do better?" in typed.output and "(response 1, complete)" in typed.output
    again = crm_cli.invoke(["surveys", "enter-paper", code, "--set", "recommend=8", "--set", "satisfaction=4"], app=app)
    assert "already answered on" in again.output and "updated the answer" in again.output
    wrong = crm_cli.invoke(["surveys", "enter-paper", "00001-AAA"], app=app)
    assert wrong.exit_code == 2 and "a character is mistyped" in wrong.output


def test_link_and_set_errors(crm_cli, app, survey_file, people):
    crm_cli.invoke(["surveys", "import", str(survey_file)], app=app)
    ana = people.add()
    result = crm_cli.invoke(["surveys", "link", "1", "--contact", str(ana)], app=app)
    assert result.output.startswith("http://localhost:8000/surveys/")
    token = result.output.strip().rsplit("/", 1)[1]
    assert app.plugin("surveys").form(token).contact_id == ana
    bad = crm_cli.invoke(["surveys", "answer", "1", "--contact", str(ana), "--set", "recommend"], app=app)
    assert bad.exit_code == 2 and "'recommend' is not KEY=VALUE" in bad.output
    twice = crm_cli.invoke(
        ["surveys", "answer", "1", "--contact", str(ana), "--set", "recommend=1", "--set", "recommend=2"], app=app
    )
    assert twice.exit_code == 2 and "given twice" in twice.output


def test_send_and_remind_commands(crm_cli, app, survey_file, people, crm_clock):
    crm_cli.invoke(["surveys", "import", str(survey_file)], app=app)
    contacts = app.plugin("contacts")
    contacts.create_list("customers")
    contacts.add_to_list("customers", [people.add(), people.add(), people.add(do_not_contact=True)])
    dry = crm_cli.invoke(["surveys", "send", "1", "--to", "customers", "--dry-run"], app=app)
    assert dry.exit_code == 0, dry.output
    assert (
        "would send survey 'customer-satisfaction' version 1 to 2 contact(s) of 'customers' (round 'manual')"
        in dry.output
    )
    sent = crm_cli.invoke(["surveys", "send", "1", "--to", "customers"], app=app)
    assert (
        "sent survey" in sent.output and "1 do-not-contact" in sent.output and "the messages are queued" in sent.output
    )
    unknown = crm_cli.invoke(["surveys", "send", "1", "--to", "nobody"], app=app)
    assert unknown.exit_code == 5 and len(unknown.output.strip().splitlines()) == 1
    crm_clock.advance(days=7)
    reminded = crm_cli.invoke(["surveys", "remind"], app=app)
    assert reminded.output.strip() == "customer-satisfaction: reminded 2 contact(s) invited 7+ day(s) ago"
