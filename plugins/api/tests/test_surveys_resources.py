"""The surveys plugin's resources over HTTP: build, answer, read results, under the token's scope."""

from __future__ import annotations

import pytest

DEFINITION = {
    "key": "csat",
    "title": "How did we do?",
    "email": {"subject": "How did we do?", "text": "Answer here: {{ link }}\n"},
    "questions": [
        {"key": "recommend", "kind": "nps", "text": "Would you recommend us?", "required": True},
        {"key": "satisfaction", "kind": "csat", "text": "How satisfied are you?"},
    ],
}


@pytest.fixture
def survey_shop(crm_factory, crm_user):
    from crm_api import create_app

    crm = crm_factory(
        plugins=["contacts", "surveys", "api"],
        settings={"surveys": {"secret": "test-secret-for-surveys"}},
    )
    crm_user(crm, name="ana", roles=["sales"])
    crm_user(crm, name="bea", roles=["sales"])
    crm_user(crm, name="boss", roles=["manager"])
    contacts = crm.plugin("contacts")
    ids = {
        o: contacts.create(first_name=o.title(), last_name="Client", owner=o, email=f"{o}@example.com").id
        for o in ("ana", "bea")
    }
    tokens = {name: crm.authz.tokens.create(name, "surveys").text for name in ("ana", "boss")}
    client = create_app(crm).test_client()

    def call(method, path, user="boss", **kwargs):
        return client.open(path, method=method, headers={"Authorization": f"Bearer {tokens[user]}"}, **kwargs)

    return call, ids


def test_build_answer_and_score_a_survey_over_http(survey_shop):
    call, ids = survey_shop
    made = call("POST", "/api/v1/surveys", json=DEFINITION)
    assert made.status_code == 201, made.json
    assert made.json["action"] == "created"
    assert [s["key"] for s in call("GET", "/api/v1/surveys").json["data"]] == ["csat"]
    assert call("GET", "/api/v1/surveys/csat").json["title"] == "How did we do?"
    for who, score in (("ana", 10), ("bea", 2)):
        saved = call(
            "POST", "/api/v1/surveys/csat/responses", json={"contact_id": ids[who], "answers": {"recommend": score}}
        )
        assert saved.status_code == 201, saved.json
    everything = call("GET", "/api/v1/surveys/csat/results").json
    assert everything["overall"]["responses"] == 2
    mine = call("GET", "/api/v1/surveys/csat/results", user="ana").json
    assert mine["overall"]["responses"] == 1
    page = call("GET", "/api/v1/surveys/csat/responses?count=true", user="ana").json
    assert page["total"] == 1 and page["data"][0]["contact_id"] == ids["ana"]
    bad = call("GET", "/api/v1/surveys/csat/results?since=last-year")
    assert bad.status_code == 400 and "since" in bad.json["detail"]
    assert call("GET", "/api/v1/surveys/nope").status_code == 404
