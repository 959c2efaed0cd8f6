"""GDPR and merges: crm_export_personal_data, crm_erase_personal_data, crm_contacts_merged, crm_contacts_unmerged."""

from __future__ import annotations

import pytest


@pytest.fixture
def answered(app, people, definition):
    api = app.plugin("surveys")
    api.save(definition)
    ana, bo = people.add(region="ES"), people.add(region="FR")
    api.answer("csat", ana, {"recommend": 2, "why": "I am Ana from Calle Mayor 3", "satisfaction": 1})
    api.answer("csat", bo, {"recommend": 9})
    return api, ana, bo


def test_export_personal_data(app, answered):
    api, ana, _ = answered
    exported = app.hooks.export_personal_data(app, ana)["surveys"]
    (item,) = exported["invitations"]
    assert (item["survey"], item["version"], item["medium"], item["round"]) == ("csat", 1, "direct", "direct")
    assert item["response"]["answers"] == {"recommend": 2, "why": "I am Ana from Calle Mayor 3", "satisfaction": 1}
    assert item["response"]["complete"] is True
    assert app.hooks.export_personal_data(app, 9999).get("surveys") is None


def test_erase_keeps_anonymous_scores_and_removes_free_text(app, answered):
    api, ana, bo = answered
    with app.transaction():
        counts = app.hooks.erase_personal_data(app, ana)
    assert counts["surveys"] == 2  # his response and his invitation
    assert app.hooks.export_personal_data(app, ana).get("surveys") is None
    results = api.results("csat")
    recommend = next(q for q in results.overall.questions if q.key == "recommend")
    why = next(q for q in results.overall.questions if q.key == "why")
    assert recommend.answered == 2 and recommend.detractors == 1
    assert why.texts == ()
    with app.activate():
        from crm_surveys.models import Answer, Invitation, Response

        assert Response.select().where(Response.contact_id == ana).count() == 0
        assert Invitation.select().where(Invitation.original_contact_id == ana).count() == 0
        assert Answer.select().where(Answer.text.contains("Calle")).count() == 0
        assert all("Calle" not in r.data for r in Response.select())
    # his colleague is untouched
    assert app.hooks.export_personal_data(app, bo)["surveys"]["invitations"][0]["response"]["answers"] == {
        "recommend": 9
    }


def test_merge_moves_invitations_and_responses_and_unmerge_moves_them_back(app, answered):
    api, ana, bo = answered
    token = api.token("csat", ana)
    with app.transaction():
        moved = app.hooks.contacts_merged(app, bo, ana)["surveys"]
    assert set(moved) == {"surveys_invitation", "surveys_response"}
    exported = app.hooks.export_personal_data(app, bo)["surveys"]["invitations"]
    assert len(exported) == 2
    # his old link still works, and the answer now belongs to the survivor
    api.submit(token, {"recommend": 10})
    assert app.events.recent(limit=1, type_name="SurveyAnswered")[0]["payload"]["contact_id"] == bo
    with app.transaction():
        app.hooks.contacts_unmerged(app, bo, ana, {"surveys": moved})
    assert len(app.hooks.export_personal_data(app, bo)["surveys"]["invitations"]) == 1
    assert len(app.hooks.export_personal_data(app, ana)["surveys"]["invitations"]) == 1


def test_merge_with_nothing_to_move(app, answered, people):
    lone = people.add()
    with app.transaction():
        assert app.hooks.contacts_merged(app, lone, people.add())["surveys"] == {}


def test_through_the_contacts_plugin_merge_unmerge_and_erase(app, answered):
    """The same hooks, called by the contacts plugin itself."""
    api, ana, bo = answered
    contacts = app.plugin("contacts")
    contacts.merge(bo, ana)
    assert len(contacts.export_personal_data(bo)["plugins"]["surveys"]["invitations"]) == 2
    contacts.unmerge(ana)
    assert len(contacts.export_personal_data(ana)["plugins"]["surveys"]["invitations"]) == 1
    counts = contacts.erase(ana)
    assert counts["surveys"] == 2
    assert contacts.export_personal_data(ana)["plugins"].get("surveys") is None
    assert next(q for q in api.results("csat").overall.questions if q.key == "recommend").answered == 2
