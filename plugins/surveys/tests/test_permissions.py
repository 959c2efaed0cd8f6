"""Who may do what with surveys: every public method of ``SurveysAPI`` checks, answers and results are scoped.

The office: two sellers (``sam``, and ``olga`` of team north), a support
user of team north (``sue``), a manager (``max``) and a user with no role
(``nobody``). Sam and olga own contacts that were sent the survey; some
answered. A seller sees the answers of his own contacts only, and results
computed over them; support sees their team's; the manager and the system
see everything.
"""

from __future__ import annotations

import inspect
from types import SimpleNamespace
from typing import Any

import pytest

from crm_core.errors import PermissionDenied
from crm_surveys.api import Surveys, SurveysAPI

#: sam may also send surveys (built-in sales may not): the scope of what he sends is his contacts.read scope
SENDER = {"name": "survey-sender", "permissions": ["surveys.send"]}


@pytest.fixture
def app(crm_factory):
    from .conftest import SECRET, UNSUBSCRIBE

    return crm_factory(
        plugins=["contacts", "surveys"],
        settings={"surveys": {"secret": SECRET}},
        mail={"unsubscribe_mailto": UNSUBSCRIBE},
        core={"roles": [SENDER]},
    )


@pytest.fixture
def office(app, people, crm_user, definition, tmp_path):
    from crm_surveys.models import Invitation, Round

    users = SimpleNamespace(
        nobody=crm_user(app, name="nobody"),
        sam=crm_user(app, name="sam", roles=["sales", "survey-sender"]),
        olga=crm_user(app, name="olga", roles=["sales"], teams=["north"]),
        sue=crm_user(app, name="sue", roles=["support"], teams=["north"]),
        max=crm_user(app, name="max", roles=["manager"]),
    )
    contacts = app.plugin("contacts")
    o = SimpleNamespace(users=users, tmp=tmp_path)
    o.sam1 = people.add(region="ES", owner="sam", address=True)
    o.sam2 = people.add(region="ES", owner="sam")
    o.sam3 = people.add(region="FR", owner="sam")
    o.olga1 = people.add(region="FR", owner="olga", address=True)
    o.olga2 = people.add(region="FR", owner="olga")
    o.unowned = people.add(region="DE")
    contacts.create_list("customers")
    contacts.add_to_list("customers", [o.sam1, o.sam2, o.sam3, o.olga1, o.olga2, o.unowned])
    api = app.plugin("surveys")
    api.save(definition)
    api.send("csat", "customers")
    api.answer("csat", o.sam1, {"recommend": 10, "satisfaction": 5})
    api.answer("csat", o.sam2, {"recommend": 3, "why": "Slow", "satisfaction": 2})
    api.answer("csat", o.olga1, {"recommend": 5, "why": "Olga's customer", "satisfaction": 4})
    api.answer("csat", o.unowned, {"recommend": 0, "why": "Nobody's", "satisfaction": 1})
    # links to the e-mailed invitations (a contact's link is to his newest invitation)
    o.sam1_token = api.token("csat", o.sam1)
    o.olga1_token = api.token("csat", o.olga1)
    api.letters("csat", "customers", tmp_path / "letters", round="paper")
    with app.activate():
        paper = Round.get(Round.key == "paper")
        o.olga1_letter = Invitation.get((Invitation.round == paper.id) & (Invitation.contact_id == o.olga1)).id
        o.sam1_letter = Invitation.get((Invitation.round == paper.id) & (Invitation.contact_id == o.sam1)).id
    o.olga1_code = api.paper_code(o.olga1_letter)
    o.sam1_code = api.paper_code(o.sam1_letter)
    o.form = api.form(o.sam1_token)
    o.file = tmp_path / "survey.toml"
    o.file.write_text(api.definition("csat").to_toml(), encoding="utf-8")
    o.schedule = api.schedule("csat", "customers", "FREQ=MONTHLY;BYMONTHDAY=1;BYHOUR=9")
    return o


OTHER = {"title": "Another", "questions": [{"key": "q", "kind": "yes_no", "text": "Yes?"}]}

#: one call of each public method of SurveysAPI, as the system would make it
CALLS: dict[str, Any] = {
    "parse": lambda api, o: api.parse(OTHER),
    "save": lambda api, o: api.save(OTHER, key="another"),
    "import_file": lambda api, o: api.import_file(o.file),
    "get": lambda api, o: api.get("csat"),
    "list": lambda api, o: api.list(),
    "definition": lambda api, o: api.definition("csat"),
    "versions": lambda api, o: api.versions("csat"),
    "form": lambda api, o: api.form(o.sam1_token),
    "visible_questions": lambda api, o: api.visible_questions(o.form, {"recommend": "3"}),
    "check_answers": lambda api, o: api.check_answers(o.form, {"recommend": "11"}),
    "submit": lambda api, o: api.submit(o.sam1_token, {"recommend": "9"}),
    "token": lambda api, o: api.token("csat", o.sam1),
    "link": lambda api, o: api.link(o.sam1_token),
    "paper_code": lambda api, o: api.paper_code(o.sam1_letter),
    "answer": lambda api, o: api.answer("csat", o.sam3, {"recommend": 8}),
    "answer_form": lambda api, o: api.answer_form("csat", o.sam3),
    "paper_form": lambda api, o: api.paper_form(o.sam1_code),
    "enter_paper": lambda api, o: api.enter_paper(o.sam1_code, {"recommend": 7}),
    "responses": lambda api, o: api.responses("csat"),
    "results": lambda api, o: api.results("csat"),
    "send": lambda api, o: api.send("csat", "customers", round="again"),
    "send_test": lambda api, o: api.send_test("csat", to="me@example.com"),
    "remind": lambda api, o: api.remind("csat", dry_run=True),
    "letters": lambda api, o: api.letters("csat", "customers", o.tmp / "more", round="paper-2"),
    "schedule": lambda api, o: api.schedule("csat", "customers", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9"),
    "schedules": lambda api, o: api.schedules(),
    "unschedule": lambda api, o: api.unschedule(o.schedule.id),
    "run_schedules": lambda api, o: api.run_schedules(),
}

#: calls on one contact's record, made by sam on olga's contact: refused by his scope
ON_OLGAS: dict[str, Any] = {
    "form": lambda api, o: api.form(o.olga1_token),
    "submit": lambda api, o: api.submit(o.olga1_token, {"recommend": "9"}),
    "token": lambda api, o: api.token("csat", o.olga1),
    "paper_code": lambda api, o: api.paper_code(o.olga1_letter),
    "answer": lambda api, o: api.answer("csat", o.olga1, {"recommend": 8}),
    "answer_form": lambda api, o: api.answer_form("csat", o.olga1),
    "paper_form": lambda api, o: api.paper_form(o.olga1_code),
    "enter_paper": lambda api, o: api.enter_paper(o.olga1_code, {"recommend": 7}),
}


def public_methods() -> set[str]:
    return {name for name, _ in inspect.getmembers(SurveysAPI, inspect.isfunction) if not name.startswith("_")}


def test_every_public_method_is_in_the_table():
    assert public_methods() - set(CALLS) == set(), (
        "a new public method of SurveysAPI needs a permission check and a row here"
    )
    assert set(CALLS) - public_methods() == set()


def test_the_old_class_name_is_the_same_class():
    assert Surveys is SurveysAPI


@pytest.mark.parametrize("name", sorted(CALLS))
def test_a_user_without_a_role_is_refused(app, office, name):
    api = app.plugin("surveys")
    with app.as_user(office.users.nobody), pytest.raises(PermissionDenied, match="user 'nobody' may not surveys"):
        CALLS[name](api, office)


#: what each call of CALLS gives the system (which sees every contact)
SYSTEM_GETS: dict[str, Any] = {
    "parse": lambda r, api, o: r.title == "Another",
    "save": lambda r, api, o: r.action == "created",
    "import_file": lambda r, api, o: r.action == "unchanged",
    "get": lambda r, api, o: (r.invited, r.responded) == (8, 4),
    "list": lambda r, api, o: [(s.key, s.invited, s.responded) for s in r] == [("csat", 8, 4)],
    "definition": lambda r, api, o: r.title == "How did we do?",
    "versions": lambda r, api, o: [(v["invited"], v["responded"]) for v in r] == [(8, 4)],
    "form": lambda r, api, o: r.contact_id == o.sam1 and r.answers["recommend"] == 10,
    "visible_questions": lambda r, api, o: "why" in r,
    "check_answers": lambda r, api, o: set(r) == {"recommend"},
    "submit": lambda r, api, o: api.responses("csat", contact_id=o.sam1).items[0].id == r,
    "token": lambda r, api, o: api.form(r).contact_id == o.sam1,
    "link": lambda r, api, o: r.endswith("/" + o.sam1_token),
    "paper_code": lambda r, api, o: r == o.sam1_code,
    "answer": lambda r, api, o: r.complete and r.created,
    "answer_form": lambda r, api, o: r.contact_id == o.sam3 and r.answers == {},
    "paper_form": lambda r, api, o: r.contact_id == o.sam1 and r.invitation_id == o.sam1_letter,
    "enter_paper": lambda r, api, o: r.complete and r.values == {"recommend": 7},
    "responses": lambda r, api, o: r.total == 4,
    "results": lambda r, api, o: (r.overall.invited, r.overall.responses) == (8, 4),
    "send": lambda r, api, o: (r.sent, r.out_of_scope) == (6, 0),
    "send_test": lambda r, api, o: r == "me@example.com" and api.get("csat").invited == 8,
    "remind": lambda r, api, o: [(x.sent, x.after_days) for x in r] == [(0, 7)],
    "letters": lambda r, api, o: (r.letters, r.out_of_scope) == (2, 0),
    "schedule": lambda r, api, o: r.next_at is not None and len(api.schedules()) == 2,
    "schedules": lambda r, api, o: [s.id for s in r] == [o.schedule.id],
    "unschedule": lambda r, api, o: [s.active for s in api.schedules()] == [False],
    "run_schedules": lambda r, api, o: r == [],
}


def test_every_call_has_an_expected_result():
    assert set(SYSTEM_GETS) == set(CALLS)


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_system_does_everything(app, office, name):
    api = app.plugin("surveys")
    assert SYSTEM_GETS[name](CALLS[name](api, office), api, office)


@pytest.mark.parametrize("name", sorted(ON_OLGAS))
def test_a_seller_is_refused_another_sellers_contact(app, office, name):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam), pytest.raises(PermissionDenied, match="owned by 'olga'.*scope .* is 'own'"):
        ON_OLGAS[name](api, office)


def test_a_seller_answers_for_his_own_contacts(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam):
        assert api.form(office.sam1_token).answers["recommend"] == 10
        saved = api.answer("csat", office.sam3, {"recommend": 9})
        assert api.answer_form("csat", office.sam3).answers == {"recommend": 9}
        assert api.paper_form(office.sam1_code).contact_id == office.sam1
    with app.activate():
        from crm_surveys.models import Response

        assert Response.get_by_id(saved.response_id).contact_id == office.sam3


def test_a_seller_lists_and_counts_only_his_contacts_responses(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam):
        page = api.responses("csat")
        assert page.total == 2 and sorted(r.contact_id for r in page.items) == sorted([office.sam1, office.sam2])
        first = api.responses("csat", limit=1)
        assert first.total == 2 and len(first.items) == 1
        assert api.responses("csat", contact_id=office.olga1).total == 0
        (listed,) = api.list()
        # 3 e-mails and sam1's letter; sam1 and sam2 answered
        assert (listed.invited, listed.responded) == (4, 2)
        assert (api.get("csat").invited, api.get("csat").responded) == (4, 2)
        assert [(v["invited"], v["responded"]) for v in api.versions("csat")] == [(4, 2)]
    everyone = api.responses("csat")
    assert everyone.total == 4
    assert (api.get("csat").invited, api.get("csat").responded) == (8, 4)


def recommend(results):
    return next(q for q in results.overall.questions if q.key == "recommend")


def texts(results):
    return sorted(t.text for t in next(q for q in results.overall.questions if q.key == "why").texts)


def test_a_sellers_results_are_computed_over_his_contacts_only(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam):
        mine = api.results("csat", by=["region"])
    assert (mine.overall.invited, mine.overall.responses, mine.overall.answered_invitations) == (4, 2, 2)
    nps = recommend(mine)
    assert (nps.answered, nps.promoters, nps.detractors, nps.nps) == (1 + 1, 1, 1, 0.0)
    assert texts(mine) == ["Slow"]
    assert {s.name: s.responses for s in mine.segments} == {"ES": 2, "FR": 0}
    everything = api.results("csat", by=["region"])
    assert (everything.overall.invited, everything.overall.responses) == (8, 4)
    assert texts(everything) == ["Nobody's", "Olga's customer", "Slow"]
    assert {s.name: s.responses for s in everything.segments} == {"DE": 1, "ES": 2, "FR": 1}


def test_support_sees_their_teams_contacts(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sue):
        page = api.responses("csat")
        results = api.results("csat")
        form = api.form(office.olga1_token)
        with pytest.raises(PermissionDenied, match="owned by 'sam'"):
            api.form(office.sam1_token)
    assert page.total == 1 and [r.contact_id for r in page.items] == [office.olga1]
    assert page.items[0].answers == {"recommend": 5, "why": "Olga's customer", "satisfaction": 4}
    # olga1's e-mail and letter, olga2's e-mail
    assert (results.overall.invited, results.overall.responses) == (3, 1)
    assert recommend(results).detractors == 1 and texts(results) == ["Olga's customer"]
    assert form.contact_id == office.olga1


def test_a_manager_sees_what_the_system_sees(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.max):
        managed = api.results("csat")
        total = api.responses("csat").total
        api.schedule("csat", "customers", "FREQ=WEEKLY;BYDAY=MO;BYHOUR=9")
    assert managed.rows() == api.results("csat").rows() and total == 4


def test_a_seller_sends_to_his_contacts_of_a_list_only(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam):
        report = api.send("csat", "customers", round="second")
        letters = api.letters("csat", "customers", office.tmp / "mine", round="paper-2")
    # the contacts plugin's audience holds only the contacts the seller may read: the others are neither sent nor counted
    assert (report.sent, report.out_of_scope) == (3, 0)
    assert (letters.letters, letters.out_of_scope) == (1, 0)
    with app.activate():
        from crm_surveys.models import Round

        second = Round.get(Round.key == "second").id
    keys = [m.key for m in app.mail.list(limit=100) if m.key.startswith(f"surveys:invite:{second}:")]
    assert sorted(int(k.rsplit(":", 1)[1]) for k in keys) == sorted([office.sam1, office.sam2, office.sam3])
    # the system's send in the same round reaches the others, once
    assert api.send("csat", "customers", round="second").sent == 3


def test_a_seller_reminds_only_his_contacts(app, office, crm_clock):
    api = app.plugin("surveys")
    crm_clock.advance(days=8)
    with app.as_user(office.users.sam):
        (mine,) = api.remind("csat", dry_run=True)
    (everyone,) = api.remind("csat", dry_run=True)
    assert (mine.sent, everyone.sent) == (1, 2)  # sam3; sam3 and olga2


def test_a_scoped_user_may_not_schedule_sends_to_a_whole_list(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam):
        with pytest.raises(PermissionDenied, match="scheduled sends run as the system.*scope for contacts.read is own"):
            api.schedule("csat", "customers", "FREQ=DAILY;BYHOUR=9")
        with pytest.raises(PermissionDenied, match="run the survey schedules"):
            api.run_schedules()
        assert [s.id for s in api.schedules()] == [office.schedule.id]


def test_answers_are_recorded_as_the_acting_users(app, office):
    api = app.plugin("surveys")
    with app.as_user(office.users.sam):
        api.answer("csat", office.sam3, {"recommend": 9})
        api.enter_paper(office.sam1_code, {"recommend": 6})
    by_contact = {e["payload"]["contact_id"]: e for e in app.events.recent(limit=2, type_name="SurveyAnswered")}
    assert {cid: (e["payload"]["actor"], e["payload"]["channel"]) for cid, e in by_contact.items()} == {
        office.sam3: ("sam", "staff"),
        office.sam1: ("sam", "staff"),
    }


@pytest.mark.sqlite_only
def test_the_cli_refuses_a_user_without_the_permission_in_one_line(crm_cli, app, office):
    result = crm_cli.invoke(["--as", "nobody", "surveys", "results", "csat"], app=app)
    assert result.exit_code == 6
    assert result.output.strip().splitlines() == [
        "Error: user 'nobody' may not surveys.results.run (Score surveys and see their results (over the contacts "
        "the user may read)): none of their roles (none) grants it"
    ]
    assert "Traceback" not in result.output


@pytest.mark.sqlite_only
def test_the_cli_lists_a_sellers_responses_and_refuses_another_actor(crm_cli, app, office):
    listed = crm_cli.invoke(["--as", "sam", "surveys", "responses", "csat", "--format", "json"], app=app)
    assert listed.exit_code == 0, listed.output
    import json

    assert sorted(r["contact_id"] for r in json.loads(listed.output)) == sorted([office.sam1, office.sam2])
    refused = crm_cli.invoke(
        [
            "--as",
            "sam",
            "surveys",
            "answer",
            "csat",
            "--contact",
            str(office.sam3),
            "--set",
            "recommend=9",
            "--actor",
            "olga",
        ],
        app=app,
    )
    assert refused.exit_code == 2 and "--actor 'olga' is not the acting user 'sam'" in refused.output
    other = crm_cli.invoke(
        ["--as", "sam", "surveys", "answer", "csat", "--contact", str(office.olga2), "--set", "recommend=9"], app=app
    )
    assert other.exit_code == 6 and "owned by 'olga'" in other.output and "Traceback" not in other.output
    sent = crm_cli.invoke(["--as", "sam", "surveys", "send", "csat", "--to", "customers", "--round", "third"], app=app)
    assert sent.exit_code == 0, sent.output
    assert "to 3 contact(s) of 'customers'" in sent.output and "may not read" not in sent.output
