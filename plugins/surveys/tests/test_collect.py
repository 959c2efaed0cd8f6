"""Collecting answers: the web form's API (tokens), staff answers, drafts, SurveyAnswered."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core.errors import NotFoundError, ValidationError
from crm_hookspecs.apis import SurveysAPI
from crm_surveys.answers import AnswerError
from crm_surveys.tokens import TokenError


@pytest.fixture
def survey(app, definition):
    return app.plugin("surveys").save(definition).survey


def answered_events(app):
    return [e["payload"] for e in reversed(app.events.recent(limit=100, type_name="SurveyAnswered"))]


def test_the_api_object_implements_the_contract(app):
    assert isinstance(app.plugin("surveys"), SurveysAPI)


def test_web_form_flow_load_answer_and_answer_again(app, people, survey):
    api = app.plugin("surveys")
    ana = people.add(region="ES")
    token = api.token("csat", ana)
    form = api.form(token, survey_id=survey.id)
    assert (form.survey_id, form.version, form.contact_id, form.complete) == (survey.id, 1, ana, False)
    assert form.answers == {} and [q.key for q in form.questions][0] == "recommend"
    # what a web form posts: strings
    posted = {
        "recommend": "3",
        "why": "Too slow",
        "satisfaction": "2",
        "topics": ["Offers", "Events"],
        "call_back": "yes",
    }
    assert api.check_answers(form, posted) == {}
    assert api.visible_questions(form, {"recommend": "9"}) == [
        "recommend",
        "satisfaction",
        "speed",
        "channel",
        "topics",
        "call_back",
    ]
    assert "why" in api.visible_questions(form, {"recommend": "6"})
    first = api.submit(token, posted)
    again = api.form(token)
    assert again.complete and again.answers["recommend"] == 3 and again.answers["topics"] == ["Offers", "Events"]
    assert again.answered_at == app.clock.now()
    # answering twice updates the same response
    second = api.submit(token, {"recommend": "10", "satisfaction": "5"})
    assert second == first
    assert api.form(token).answers == {"recommend": 10, "satisfaction": 5}
    with app.activate():
        from crm_surveys.models import Answer, Response

        assert Response.select().count() == 1
        assert sorted(Answer.select(Answer.question).tuples()) == [("recommend",), ("satisfaction",)]
    events = answered_events(app)
    assert len(events) == 2
    assert events[0]["scores"] == {"recommend": 3.0, "satisfaction": 2.0} and events[0]["negative"] is True
    assert events[1]["scores"] == {"recommend": 10.0, "satisfaction": 5.0} and events[1]["negative"] is False
    assert events[1]["region"] == "ES" and events[1]["contact_id"] == ana and events[1]["response_id"] == first
    assert events[1]["channel"] == "self-service" and events[1]["version"] == 1


def test_check_answers_reports_each_problem_for_the_form(app, people, survey):
    api = app.plugin("surveys")
    form = api.form(api.token("csat", people.add()))
    problems = api.check_answers(form, {"recommend": "11", "channel": "Fax"})
    assert set(problems) == {"recommend", "channel"}
    assert "from 0 to 10, not '11'" in problems["recommend"]
    assert api.check_answers(form, {"satisfaction": 4}) == {
        "recommend": "question 'recommend' is required: Would you recommend us?"
    }
    assert api.check_answers(form, {"satisfaction": 4}, partial=True) == {}


def test_bad_answers_save_nothing(app, people, survey):
    api = app.plugin("surveys")
    token = api.token("csat", people.add())
    with pytest.raises(
        AnswerError, match=r"recommend: question 'recommend' \(NPS\) takes a whole number from 0 to 10, not 11"
    ):
        api.submit(token, {"recommend": 11})
    with pytest.raises(AnswerError, match=r"'Fax' is not one of the choices"):
        api.submit(token, {"recommend": 8, "channel": "Fax"})
    with app.activate():
        from crm_surveys.models import Answer, Response

        assert Response.select().count() == 0 and Answer.select().count() == 0
    assert answered_events(app) == []


def test_forged_expired_and_other_survey_tokens(app, people, survey, definition, crm_clock):
    api = app.plugin("surveys")
    ana = people.add()
    token = api.token("csat", ana)
    signature = token.rsplit(".", 1)[1]
    another_contact = api.token("csat", people.add()).rsplit(".", 1)[0]
    with pytest.raises(TokenError, match="damaged, cut short, or was changed"):
        api.form(another_contact + "." + signature)
    with pytest.raises(TokenError, match="damaged, cut short, or was changed"):
        api.submit(token[:-2] + ("AA" if not token.endswith("AA") else "BB"), {"recommend": 9})
    definition["key"] = "other"
    other = api.save(definition).survey
    with pytest.raises(TokenError, match=f"for another survey \\(survey {survey.id}, not survey {other.id}\\)"):
        api.form(token, survey_id=other.id)
    crm_clock.advance(days=31)
    with pytest.raises(TokenError, match="expired on"):
        api.form(token)
    with pytest.raises(TokenError, match="expired on"):
        api.submit(token, {"recommend": 9})


def test_a_token_signed_with_another_secret_is_refused(crm_factory, people, survey):
    api = people.crm.plugin("surveys")
    token = api.token("csat", people.add())
    assert api.form(token)
    # another CRM (its own database, so its own key), or the key changed
    other = crm_factory(
        plugins=["contacts", "surveys"], core={"secret": "another-crm-key-of-at-least-32-chars!"}, database=None
    )
    with pytest.raises(TokenError, match="damaged, cut short, or was changed"):
        other.plugin("surveys").form(token)


def test_without_a_configured_secret_one_is_made_and_kept(crm_factory, definition):
    app = crm_factory(plugins=["contacts", "surveys"])
    api = app.plugin("surveys")
    api.save(definition)
    ana = app.plugin("contacts").create(first_name="Ana", email="ana@example.com").id
    token = api.token("csat", ana)
    assert api.form(token).contact_id == ana
    with app.activate():
        from crm_core.models import Secret

        assert len(Secret.get(Secret.name == "signing").value) >= 40


def test_drafts_are_kept_without_an_event_and_cannot_undo_a_complete_answer(app, people, survey):
    api = app.plugin("surveys")
    ana = people.add()
    draft = api.answer("csat", ana, {"satisfaction": 4}, partial=True)
    assert draft.complete is False and answered_events(app) == []
    assert api.results("csat").drafts == 1 and api.results("csat").overall.responses == 0
    done = api.answer("csat", ana, {"recommend": 8, "satisfaction": 4})
    assert done.response_id == draft.response_id and done.complete
    with pytest.raises(AnswerError, match="already answered; send complete answers to change them"):
        api.answer("csat", ana, {"satisfaction": 1}, partial=True)


def test_staff_answers_a_contact_never_invited(app, people, survey):
    api = app.plugin("surveys")
    ana = people.add(region="FR")
    saved = api.answer("csat", ana, {"recommend": "0", "why": "Rude"}, actor="maria")
    assert saved.negative and saved.values == {"recommend": 0, "why": "Rude"}
    event = answered_events(app)[0]
    assert (event["actor"], event["channel"], event["region"]) == ("maria", "staff", "FR")
    with pytest.raises(NotFoundError):
        api.answer("csat", 9999, {"recommend": 1})
    with pytest.raises(ValidationError, match="channel 'fax' is not one of"):
        api.answer("csat", ana, {"recommend": 1}, channel="fax")


def test_the_region_is_the_contacts_when_he_answers(app, people, survey):
    api = app.plugin("surveys")
    ana = people.add(region="ES")
    token = api.token("csat", ana)
    app.plugin("contacts").update(ana, region="PT")
    api.submit(token, {"recommend": 9})
    assert answered_events(app)[0]["region"] == "PT"


def test_a_link_for_a_contact_works_for_the_days_asked(app, people, survey, crm_clock):
    api = app.plugin("surveys")
    ana = people.add()
    token = api.token("csat", ana, days=2)
    assert api.link(token) == f"http://localhost:8000/surveys/{token}"
    crm_clock.advance(dt.timedelta(days=2, seconds=1))
    with pytest.raises(TokenError, match="expired"):
        api.form(token)
    with pytest.raises(ValidationError, match="at least 1 day"):
        api.token("csat", ana, days=0)


def test_contact_erased_between_the_check_and_the_lock_is_refused(app, people, survey, monkeypatch):
    """The locked invitation row is the one that counts: an erasure that commits just before it wins."""
    from crm_surveys import collect
    from crm_surveys.models import Invitation, Response

    api = app.plugin("surveys")
    ana = people.add(region="ES")
    token = api.token("csat", ana)
    locking = collect.for_update

    def erase_then_lock(query, database):
        # what another transaction's erasure leaves behind by the time the lock is granted
        Invitation.update(contact_id=None).where(Invitation.contact_id == ana).execute()
        return locking(query, database)

    monkeypatch.setattr(collect, "for_update", erase_then_lock)
    with pytest.raises(TokenError, match="contact was erased"):
        api.submit(token, {"recommend": "9", "satisfaction": "5"})
    with app.activate():
        assert Response.select().count() == 0
    assert answered_events(app) == []
