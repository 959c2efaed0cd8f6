"""The campaigns plugin's resources over HTTP: the API's conventions (ETag and If-Match, Idempotency-Key, problems)."""

from __future__ import annotations

import pytest


@pytest.fixture
def office(crm_factory, crm_user):
    from crm_api import create_app

    crm = crm_factory(
        plugins=["contacts", "surveys", "portal", "campaigns", "api"],
        settings={"portal": {"secret": "portal-test-secret-0123456789abcdef"}},
    )
    crm_user(crm, name="ana", roles=["sales"], email="ana@example.org")
    crm_user(crm, name="boss", roles=["manager"], email="boss@example.org")
    contacts = crm.plugin("contacts")
    contacts.create_list("news")
    ids = [contacts.create(first_name=f"C{i}", last_name="X", email=f"c{i}@example.com").id for i in range(3)]
    contacts.add_to_list("news", ids)
    tokens = {name: crm.authz.tokens.create(name, "campaigns").text for name in ("ana", "boss")}
    client = create_app(crm).test_client()

    def call(method, path, user="boss", headers=None, **kwargs):
        return client.open(
            path, method=method, headers={"Authorization": f"Bearer {tokens[user]}", **(headers or {})}, **kwargs
        )

    return crm, call


BODY = {"name": "News", "subject": "Hi {{ first_name }}", "text": "Hello {{ first_name }}", "html": None}


def test_write_preview_test_and_send_a_campaign_over_http(office):
    crm, call = office
    made = call("POST", "/api/v1/campaigns", json=BODY, headers={"Idempotency-Key": "news-1"})
    assert made.status_code == 201, made.json
    again = call("POST", "/api/v1/campaigns", json=BODY, headers={"Idempotency-Key": "news-1"})
    assert again.status_code == 201 and again.headers["Idempotent-Replayed"] == "true"
    assert again.json["id"] == made.json["id"] and len(call("GET", "/api/v1/campaigns").json["data"]) == 1
    path = made.headers["Location"]
    assert path.endswith(f"/api/v1/campaigns/{made.json['id']}")
    tag = call("GET", path).headers["ETag"]
    changed = call("PATCH", path, json={"subject": "Hola {{ first_name }}"}, headers={"If-Match": tag})
    assert changed.status_code == 200 and changed.json["revision"] == 2
    stale = call("PATCH", path, json={"subject": "x"}, headers={"If-Match": tag})
    assert stale.status_code == 412
    shown = call("POST", f"{path}/preview", json={"contact_id": 1})
    assert shown.status_code == 200 and shown.json["subject"] == "Hola C0"
    tested = call("POST", f"{path}/test", json={})
    assert tested.status_code == 202 and tested.json["to"] == "boss@example.org"
    sent = call("POST", f"{path}/sends", json={"source": "news"})
    assert sent.status_code == 201, sent.json
    assert sent.json["status"] == "sent" and sent.json["counts"]["queued"] == 3
    assert call("GET", sent.headers["Location"]).json["id"] == sent.json["id"]
    later = call("POST", f"{path}/sends", json={"source": "news", "at": "2099-01-01T09:00:00Z"})
    assert later.status_code == 422 and later.json["errors"][0]["field"] == "at"
    soon = crm.clock.now().replace(microsecond=0).isoformat().replace("+00:00", "Z")
    soon = soon[:11] + "23:59:00Z"
    scheduled = call("POST", f"{path}/sends", json={"source": "news", "at": soon})
    assert scheduled.status_code == 201 and scheduled.json["status"] == "scheduled", scheduled.json
    cancelled = call("POST", f"/api/v1/campaign-sends/{scheduled.json['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json["status"] == "cancelled"
    listed = call("GET", f"{path}/sends?count=true").json
    assert listed["total"] == 2
    every = call("GET", "/api/v1/campaign-sends?status=sent").json
    assert [s["id"] for s in every["data"]] == [sent.json["id"]]
    monthly = call("POST", f"{path}/recurring", json={"source": "news", "rule": "FREQ=MONTHLY;BYHOUR=9"})
    assert monthly.status_code == 201 and monthly.json["active"] is True
    stopped = call("POST", f"/api/v1/campaign-recurrences/{monthly.json['id']}/stop")
    assert stopped.json["active"] is False


def test_errors_and_permissions_over_http(office):
    crm, call = office
    bad = call("POST", "/api/v1/campaigns", json={**BODY, "text": "{{ frist_name }}"})
    assert (
        bad.status_code == 422
        and bad.json["errors"] == [{"field": "text", "message": bad.json["detail"]}]
        and "line 1" in bad.json["detail"]
    )
    made = call("POST", "/api/v1/campaigns", user="ana", json=BODY)
    assert made.status_code == 201  # a seller writes campaigns
    denied = call("POST", f"/api/v1/campaigns/{made.json['id']}/sends", user="ana", json={"source": "news"})
    assert denied.status_code == 403 and "campaigns.send" in denied.json["detail"]
    unknown = call("POST", f"/api/v1/campaigns/{made.json['id']}/sends", json={"source": "nope"})
    assert unknown.status_code == 422 and unknown.json["errors"][0]["field"] == "source"
    assert call("GET", "/api/v1/campaigns/999").status_code == 404
    wrong = call("POST", f"/api/v1/campaigns/{made.json['id']}/preview", json={"contact_id": "one"})
    assert wrong.status_code == 422 and wrong.json["errors"][0]["field"] == "contact_id"


def test_the_openapi_document_lists_the_campaign_operations(office):
    from openapi_spec_validator import validate

    crm, call = office
    document = call("GET", "/api/v1/openapi.json").json
    validate(document)
    schemas = document["components"]["schemas"]
    untyped = [
        f"{name}.{field}"
        for name, schema in schemas.items()
        if name.startswith(("Campaign", "Send", "Recurring", "Preview", "TestMail", "ContactChoice"))
        for field, prop in schema.get("properties", {}).items()
        if prop == {}
    ]
    assert untyped == []
    assert {
        "CampaignInput",
        "CampaignChangeInput",
        "CampaignSendInput",
        "CampaignRecurrenceInput",
        "SendCounts",
    } <= set(schemas)
    assert "/campaigns/{id}/sends" in document["paths"]
    assert document["paths"]["/campaigns"]["post"]["requestBody"]["required"] is True
    assert "CampaignInfo" in document["components"]["schemas"]
