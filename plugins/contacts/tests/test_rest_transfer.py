"""Imports and exports over HTTP: exports in the caller's scope, imports queued, run by the worker as the poster."""

from __future__ import annotations

import csv
import io

import pytest

pytest.importorskip("crm_api")

CSV = (
    "first_name,last_name,email,owner\n"
    "Ana,García,ana@example.com,\n"
    "Luis,Pérez,not-an-email,\n"
    "Eva,Ruiz,eva@example.com,\n"
).encode()
VCARD = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Olga Sanz\r\nN:Sanz;Olga;;;\r\nEMAIL:olga@example.com\r\nEND:VCARD\r\n"


@pytest.fixture
def office(crm_factory, crm_user):
    from crm_api import create_app

    crm = crm_factory(plugins=["contacts", "api"], settings={"api": {"max_body_kb": 4}})
    crm.authz.roles.add("importer", permissions=["contacts.import"])
    crm_user(crm, name="ana", roles=["sales", "importer"])
    crm_user(crm, name="bea", roles=["sales", "importer"])
    crm_user(crm, name="vera", roles=["read-only"])
    contacts = crm.plugin("contacts")
    contacts.create(first_name="Own", last_name="Customer", owner="ana", email="own@example.com")
    contacts.create(first_name="Their", last_name="Customer", owner="bea", status="customer")
    tokens = {name: crm.authz.tokens.create(name, "erp").text for name in ("ana", "bea", "vera")}
    tokens["ana-read"] = crm.authz.tokens.create("ana", "read only", scopes=["contacts.read"]).text
    client = create_app(crm).test_client()

    def call(method, path, user="ana", headers=None, **kwargs):
        return client.open(
            path, method=method, headers={"Authorization": f"Bearer {tokens[user]}", **(headers or {})}, **kwargs
        )

    call.crm = crm
    return call


def post_file(office, data, media="text/csv", query="", user="ana"):
    return office("POST", f"/api/v1/imports{query}", user=user, data=data, headers={"Content-Type": media})


def work(office):
    """What ``crm worker`` does: run the contacts plugin's imports job."""
    job = {j.name: j for _, j in office.crm.hooks.worker_jobs(office.crm)}["contacts.imports"]
    return job.run(office.crm, office.crm.clock.now())


def test_an_export_holds_what_the_caller_may_export_with_the_lists_filters(office):
    got = office("GET", "/api/v1/contacts/export")
    assert got.status_code == 200, got.data
    assert got.headers["Content-Type"].startswith("text/csv") and "contacts.csv" in got.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(got.data.decode())))
    assert [r["first_name"] for r in rows] == ["Own"]  # not bea's customer
    vera = office("GET", "/api/v1/contacts/export", user="vera")  # read-only may not export
    assert vera.status_code == 403 and "contacts.export" in vera.json["detail"]
    everyone = office("GET", "/api/v1/contacts/export?status=prospect&name=own").data.decode()
    assert "Own" in everyone
    none = list(csv.DictReader(io.StringIO(office("GET", "/api/v1/contacts/export?status=customer").data.decode())))
    assert none == []
    card = office("GET", "/api/v1/contacts/export?format=vcard&version=3.0")
    assert card.headers["Content-Type"].startswith("text/vcard") and b"FN:Own Customer" in card.data
    assert b"VERSION:3.0" in card.data
    assert office("GET", "/api/v1/contacts/export", user="ana-read").status_code == 403


def test_an_import_is_queued_run_by_the_worker_as_its_poster_and_followed(office):
    posted = post_file(office, CSV, query="?name=people.csv")
    assert posted.status_code == 202, posted.json
    record = posted.json
    assert record["status"] == "queued" and record["rows_total"] == 3 and record["rows_done"] == 0
    assert posted.headers["Location"].endswith(f"/api/v1/imports/{record['id']}")
    assert "1 import(s) run" in work(office)
    assert work(office) == "no import queued"  # a second worker finds nothing to do again
    done = office("GET", posted.headers["Location"]).json
    assert done["status"] == "done" and done["rows_done"] == 3 and done["created"] == 2 and done["failed"] == 1
    [problem] = done["problems"]
    assert (problem["kind"], problem["line"], problem["field"]) == ("error", 3, "emails")
    assert "'not-an-email' is not a valid e-mail address" in problem["reason"]
    assert "3 row(s) read from people.csv" in done["summary"]
    # the contacts are ana's: the import ran as her
    contacts = office.crm.plugin("contacts")
    found = contacts.search("eva@example.com")
    assert found.total == 1 and contacts.get(found.cards[0].id).owner == "ana"
    problems = office("GET", f"/api/v1/imports/{record['id']}/problems")
    assert problems.status_code == 200 and problems.headers["Content-Type"].startswith("text/csv")
    assert "not-an-email" in problems.data.decode() and "people-problems.csv" in problems.headers["Content-Disposition"]
    listed = office("GET", "/api/v1/imports").json["data"]
    assert [i["id"] for i in listed] == [record["id"]] and listed[0]["problems"] == []


def test_a_dry_run_and_a_vcard(office):
    dry = post_file(office, CSV, query="?dry_run=true&on_conflict=update&match=email,phone")
    assert dry.status_code == 202 and dry.json["dry_run"] is True
    assert dry.json["options"] == {"dry_run": True, "on_conflict": "update", "match_on": ["email", "phone"]}
    card = post_file(office, VCARD, media="text/vcard")
    assert card.status_code == 202 and card.json["format"] == "vcard" and card.json["rows_total"] == 1
    work(office)
    assert office("GET", f"/api/v1/imports/{dry.json['id']}").json["created"] == 2
    assert office.crm.plugin("contacts").search("ana@example.com").total == 0  # a dry run writes nothing
    assert office("GET", f"/api/v1/imports/{card.json['id']}").json["created"] == 1
    assert office.crm.plugin("contacts").search("olga@example.com").total == 1


@pytest.mark.parametrize(
    ("data", "media", "query", "status", "message"),
    [
        (b"%PDF-1.4 \x00\x01", "application/pdf", "", 415, "'application/pdf' is not a file an import takes"),
        (b"\x89PNG\x00\x00\x00", "text/csv", "", 422, "is not a text file"),
        (b"first_name\nAna\n", "text/csv", "?format=vcard", 415, "?format=vcard but the body is text/csv"),
        (b"hello", "text/vcard", "", 422, "no BEGIN:VCARD"),
        (b"first_name\n", "text/csv", "", 422, "no row after the header"),
        (b"first_name\nAna\n", "text/csv", "?mapping=nope", 422, "must be a JSON object"),
        (b"first_name\nAna\n", "text/csv", "?encoding=klingon", 422, "not an encoding Python knows"),
        (b"first_name\nAna\n", "text/csv", "?match=colour", 400, "does not have the form"),
        (b"first_name\nAn\xe9\n", "text/csv", "", 422, "line 2 is not utf-8-sig"),
        (b"x" * 5000, "text/csv", "", 413, "size limit"),
    ],
)
def test_bad_imports_are_refused_clearly(office, data, media, query, status, message):
    got = post_file(office, data, media=media, query=query)
    assert got.status_code == status, got.json
    assert message in got.json["detail"]


def test_imports_are_the_posters_own_and_need_the_permission(office):
    posted = post_file(office, CSV).json
    assert office("GET", f"/api/v1/imports/{posted['id']}", user="bea").status_code == 404
    assert office("GET", f"/api/v1/imports/{posted['id']}/problems", user="bea").status_code == 404
    assert office("GET", "/api/v1/imports", user="bea").json["data"] == []
    refused = post_file(office, CSV, user="ana-read")
    assert refused.status_code == 403 and "contacts.import" in refused.json["detail"]
    assert post_file(office, CSV, user="vera").status_code == 403
    waiting = office("GET", f"/api/v1/imports/{posted['id']}/problems")
    assert waiting.status_code == 422 and "queued" in waiting.json["detail"]


def test_a_list_that_does_not_exist_fails_the_import_with_the_reason(office):
    posted = post_file(office, CSV, query="?list=newsletter").json
    work(office)
    failed = office("GET", f"/api/v1/imports/{posted['id']}").json
    assert failed["status"] == "failed" and "'newsletter': no such mailing list" in failed["error"]


def test_an_import_whose_worker_died_is_failed_with_the_reason_not_run_twice(office, crm_clock):
    import datetime as dt

    posted = post_file(office, CSV).json
    imports = office.crm.plugin("contacts")._imports
    claimed = imports.claim()
    assert claimed is not None and imports.claim() is None  # one worker's claim: the next finds nothing
    crm_clock.advance(dt.timedelta(minutes=11))
    assert work(office) == "no import queued"
    failed = office("GET", f"/api/v1/imports/{posted['id']}").json
    assert failed["status"] == "failed" and "lease ran out" in failed["error"]
