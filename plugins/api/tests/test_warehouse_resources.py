"""The warehouse's resources over HTTP: sales through the pipeline, staff actions, documents, a contact's history."""

from __future__ import annotations

import pytest


@pytest.fixture
def office(crm_factory, crm_user, tmp_path):
    from crm_api import create_app

    crm = crm_factory(
        plugins=["contacts", "warehouse", "api"], settings={"warehouse": {"documents_dir": str(tmp_path / "docs")}}
    )
    crm_user(crm, name="ana", roles=["sales"])
    crm_user(crm, name="bea", roles=["sales"])
    crm_user(crm, name="boss", roles=["manager"])
    contacts = crm.plugin("contacts")
    ids = {o: contacts.create(first_name=o.title(), last_name="Client", owner=o).id for o in ("ana", "bea")}
    tokens = {name: crm.authz.tokens.create(name, "erp").text for name in ("ana", "bea", "boss")}
    client = create_app(crm).test_client()

    def call(method, path, user="ana", headers=None, **kwargs):
        return client.open(
            path, method=method, headers={"Authorization": f"Bearer {tokens[user]}", **(headers or {})}, **kwargs
        )

    return call, ids


def test_a_sale_through_the_pipeline(office):
    call, ids = office
    made = call(
        "POST",
        "/api/v1/sales",
        json={"kind": "quote", "contact_id": ids["ana"], "title": "50 chairs", "amount": "1234.50"},
    )
    assert made.status_code == 201, made.json
    sale = made.json
    assert sale["owner"] == "ana" and made.headers["Location"].endswith(f"/api/v1/sales/{sale['id']}")
    stages = call("GET", "/api/v1/sales/" + str(sale["id"])).json
    moved = call(
        "PATCH", made.headers["Location"], json={"title": "60 chairs"}, headers={"If-Match": made.headers["ETag"]}
    )
    assert moved.status_code == 200 and moved.json["title"] == "60 chairs" and stages["id"] == sale["id"]
    won = call("PATCH", made.headers["Location"], json={"stage": "won"}, headers={"If-Match": moved.headers["ETag"]})
    assert won.status_code == 200, won.json
    assert won.json["stage"] == "won"
    assert [m["new_stage"] for m in call("GET", f"{made.headers['Location']}/moves").json["data"]][-1] == "won"
    # bea's customer: ana may not sell to them, nor see bea's sales
    theirs = call("POST", "/api/v1/sales", json={"kind": "quote", "contact_id": ids["bea"]})
    assert theirs.status_code in (403, 404)
    bea_sale = call("POST", "/api/v1/sales", user="bea", json={"kind": "quote", "contact_id": ids["bea"]}).json
    assert call("GET", f"/api/v1/sales/{bea_sale['id']}").status_code == 404
    listed = call("GET", "/api/v1/sales?count=true").json
    assert [s["id"] for s in listed["data"]] == [sale["id"]] and listed["total"] == 1
    assert call("GET", "/api/v1/sales?count=true", user="boss").json["total"] == 2


def test_actions_documents_and_history(office):
    call, ids = office
    logged = call(
        "POST", "/api/v1/actions", json={"kind": "call", "contact_id": ids["ana"], "subject": "Asked for prices"}
    )
    assert logged.status_code == 201, logged.json
    assert logged.json["author"] == "ana"
    assert [a["subject"] for a in call("GET", "/api/v1/actions").json["data"]] == ["Asked for prices"]
    assert call("GET", "/api/v1/actions", user="bea").json["data"] == []
    upload = call(
        "POST",
        f"/api/v1/documents?contact_id={ids['ana']}&name=brochure.pdf",
        data=b"%PDF-1.4 chairs",
        headers={"Content-Type": "application/pdf"},
    )
    assert upload.status_code == 201, upload.json
    content = call("GET", f"/api/v1/documents/{upload.json['id']}/content")
    assert content.status_code == 200 and content.data == b"%PDF-1.4 chairs"
    assert (
        content.headers["Content-Type"] == "application/pdf"
        and "brochure.pdf" in content.headers["Content-Disposition"]
    )
    assert call("GET", f"/api/v1/documents/{upload.json['id']}/content", user="bea").status_code == 404
    empty = call("POST", f"/api/v1/documents?contact_id={ids['ana']}&name=x.txt", data=b"")
    assert empty.status_code == 422
    timeline = call("GET", f"/api/v1/contacts/{ids['ana']}/timeline")
    assert timeline.status_code == 200, timeline.json
    assert timeline.json["data"], timeline.json
    assert call("GET", f"/api/v1/contacts/{ids['bea']}/timeline").status_code == 404
    as_of = call("GET", f"/api/v1/contacts/{ids['ana']}/as-of?date=2026-12-31")
    assert as_of.status_code == 200 and as_of.json["first_name"] == "Ana"


def test_the_pipeline_and_a_contacts_audit(office):
    call, ids = office
    for who, amount in (("ana", "100.00"), ("bea", "250.00")):
        made = call("POST", "/api/v1/sales", user=who, json={"kind": "quote", "contact_id": ids[who], "amount": amount})
        assert made.status_code == 201, made.json
    mine = call("GET", "/api/v1/pipeline").json["data"]
    counted = [row for row in mine if row["records"]]
    assert [(row["records"], row["amount"]) for row in counted] == [(1, "100.00")]
    everyone = call("GET", "/api/v1/pipeline", user="boss").json["data"]
    assert sum(row["records"] for row in everyone) == 2
    assert all({"stage", "probability", "currency", "weighted"} <= set(row) for row in everyone)
    changed = call("GET", f"/api/v1/contacts/{ids['ana']}", user="boss")
    if changed.status_code == 200:  # the contacts plugin's resource: change a field, then read its audit
        tag = changed.headers["ETag"]
        call(
            "PATCH", f"/api/v1/contacts/{ids['ana']}", user="boss", json={"region": "north"}, headers={"If-Match": tag}
        )
    audit = call("GET", f"/api/v1/contacts/{ids['ana']}/audit?field=region").json["data"]
    assert [(a["field"], a["old"], a["new"], a["channel"]) for a in audit] == [("region", None, "north", "api")]
    assert call("GET", f"/api/v1/contacts/{ids['bea']}/audit").status_code == 404
    assert call("GET", f"/api/v1/contacts/{ids['ana']}/audit?since=yesterday").status_code == 400


def test_the_timeline_pages_through_entries_of_the_same_instant(office):
    call, ids = office
    for n in range(5):  # the test clock stands still: every note has the same time
        assert (
            call(
                "POST", "/api/v1/actions", json={"kind": "note", "contact_id": ids["ana"], "subject": f"n{n}"}
            ).status_code
            == 201
        )
    seen = []
    url = f"/api/v1/contacts/{ids['ana']}/timeline?limit=2"
    while url:
        page = call("GET", url)
        assert page.status_code == 200, page.json
        seen += [entry["event_id"] for entry in page.json["data"]]
        url = page.json["next"]
    assert len(seen) == len(set(seen)) == 6  # the creation and five notes, none skipped, none twice
