"""The kernel's part of an erasure (crm_core.privacy): the outbox, the mail queue, error texts and run-once keys."""

from __future__ import annotations

import json

import pytest

from crm_core.errors import ValidationError
from crm_core.jobs import run_once
from crm_core.privacy import ERASED, Redactor
from crm_hookspecs.events import MailBounced, SaleClosed, TaskCreated, from_payload

EMAIL = "zed.quux@example.org"


@pytest.fixture
def app(crm_factory, crm_plugin):
    """``app(*plugins)``: contacts plus the given plugins, migrated."""

    def make(*plugins):
        return crm_factory(["contacts", *plugins])

    return make


def zed(app):
    return app.plugin("contacts").create(first_name="Zed", last_name="Quux", email=EMAIL, phone="+34699000111").id


def payloads(app, type_name):
    return [e["payload"] for e in app.events.recent(limit=1000, type_name=type_name)]


def test_the_redactor_finds_values_in_any_case_spacing_and_html_form():
    r = Redactor(["Zed O'Quux", "zed@example.org", "ab", ""])
    assert r.values[0] == "Zed O&#x27;Quux" and "ab" not in r.values  # too short to replace in other people's records
    assert r.text("Dear ZED  o'quux,\nwrite to Zed@Example.org") == f"Dear {ERASED},\nwrite to {ERASED}"
    assert r.text("<p>Zed O&#39;Quux</p>") == f"<p>{ERASED}</p>"  # Jinja2's escaping
    assert r.data({"Zed@example.org": ["Zed O'Quux", 3, None]}) == {ERASED: [ERASED, 3, None]}
    assert r.bytes(b"name\nzed O'QUUX\n") == b"name\n[erased]\n"
    assert r.addresses == frozenset({"zed@example.org"})
    assert not Redactor(["a", " "]) and Redactor([]).text("x") == "x"


def test_events_about_the_person_keep_type_time_ids_and_numbers_and_still_read_back(app):
    crm = app()
    contact_id = zed(crm)
    other = crm.plugin("contacts").create(first_name="Rosa", email="rosa@example.com").id
    with crm.transaction():
        crm.emit(
            SaleClosed(
                record_id=5, contact_id=contact_id, won=False, amount="12.50", region="north", lost_reason="Zed moved"
            )
        )
        crm.emit(TaskCreated(task_id=9, kind="call", title="Call Zed Quux about Rosa", contact_id=None))
        crm.emit(MailBounced(address=EMAIL, reason=f"550 <{EMAIL}> unknown"))
    before = {e["id"]: e for e in crm.events.recent(limit=100)}
    crm.plugin("contacts").erase(contact_id)
    after = {e["id"]: e for e in crm.events.recent(limit=100)}
    assert set(before) < set(after)  # nothing removed: ContactErased added
    for pk, event in before.items():
        assert (after[pk]["type"], after[pk]["occurred_at"]) == (event["type"], event["occurred_at"])
        assert after[pk]["payload"]["event_id"] == event["payload"]["event_id"]
        # every redacted event reads back as its own type, for handlers that have not seen it yet
        assert type(from_payload(after[pk]["type"], after[pk]["payload"])).__name__ == event["type"]
    (sale,) = payloads(crm, "SaleClosed")
    assert (sale["record_id"], sale["contact_id"], sale["amount"], sale["won"]) == (5, contact_id, "12.50", False)
    assert sale["lost_reason"] == ERASED and sale["region"] == ERASED and sale["closed_on"] is None
    created = {p["contact_id"]: p for p in payloads(crm, "ContactCreated")}
    data = created[contact_id]["data"]
    assert data["first_name"] == data["emails"][0]["address"] == data["phones"][0]["number"] == ERASED
    assert data["emails"][0]["primary"] is True and created[contact_id]["kind"] == ERASED
    assert EMAIL not in json.dumps(created[contact_id]) and "Zed" not in json.dumps(created[contact_id])
    assert created[other]["data"]["first_name"] == "Rosa"  # another person's event is untouched
    (task,) = payloads(crm, "TaskCreated")
    assert task["title"] == f"Call {ERASED} about Rosa"  # not about him by id: only his values go
    (bounce,) = payloads(crm, "MailBounced")
    assert bounce["address"] == ERASED and bounce["reason"] == f"550 <{ERASED}> unknown"


def test_mail_to_him_and_others_goes_on_to_the_others_without_him(app):
    crm = app()
    contact_id = zed(crm)
    crm.mail.queue(
        [f"Zed Quux <{EMAIL}>", "rosa@example.com"], "Meeting with Zed Quux", "Zed Quux and Rosa", key="both"
    )
    # partly delivered: the server deferred him, took Rosa
    crm.mail.transport.defer(EMAIL)
    crm.mail.queue([EMAIL, "luis@example.com"], "Offer", "Hello", key="partial")
    crm.mail.deliver()
    assert crm.mail.get("partial").remaining == (EMAIL,)
    crm.plugin("contacts").erase(contact_id)
    both = crm.mail.get("both")
    assert (both.to, both.subject, both.text) == (("rosa@example.com",), f"Meeting with {ERASED}", f"{ERASED} and Rosa")
    partial = crm.mail.get("partial")
    assert (partial.status, partial.to, partial.remaining) == ("cancelled", ("luis@example.com",), None)


def test_sent_mail_to_him_is_scrubbed_and_shows_only_its_state(app, crm_cli):
    crm = app()
    contact_id = zed(crm)
    crm.mail.queue(EMAIL, "Hello Zed", "Dear Zed Quux", attachments=[("zed.txt", b"Zed Quux")], key=f"welcome:{EMAIL}")
    crm.mail.deliver()
    sent = crm.mail.list("sent")[0]
    crm.plugin("contacts").erase(contact_id)
    after = crm.mail.get(sent.id)
    assert (after.status, after.sent_at, after.message_id) == ("sent", sent.sent_at, sent.message_id)
    assert (after.to, after.subject, after.text, after.html, after.attachments, after.key) == (
        (ERASED,), ERASED, ERASED, None, (), f"erased:{sent.id}",
    )  # fmt: skip
    shown = crm_cli.invoke(["mail", "show", str(sent.id)], app=crm)
    assert shown.exit_code == 0 and "sent" in shown.output and "Zed" not in shown.output
    raw = crm_cli.invoke(["mail", "show", str(sent.id), "--raw"], app=crm)
    assert raw.exit_code != 0 and "was scrubbed when its recipient's personal data was erased" in raw.output
    with pytest.raises(ValidationError, match="only failed or waiting messages can be retried"):
        crm.mail.retry([sent.id])


def test_a_cancelled_message_is_never_sent_nor_retried(app):
    crm = app()
    contact_id = zed(crm)
    crm.mail.queue(EMAIL, "Later", "text", key="later")
    crm.plugin("contacts").erase(contact_id)
    assert crm.mail.get("later").status == "cancelled"
    assert crm.mail.retry() == 0 and crm.mail.retry(waiting=True) == 0
    with pytest.raises(ValidationError, match="message 1 is cancelled"):
        crm.mail.retry(["later"])
    assert crm.mail.deliver().sent == 0 and crm.mail.sent == []


def test_a_third_party_plugins_values_and_the_kernels_records_are_erased(app, crm_plugin):
    crm = app(crm_plugin("loyalty", crm_personal_values=lambda crm, contact_id: ["LOY-778899"]))
    contact_id = zed(crm)
    crm.mail.queue("staff@example.com", "Card LOY-778899", "Card loy-778899 belongs to Zed Quux", key="staff")
    with crm.transaction():
        assert run_once(crm, f"loyalty.card:LOY-778899:{contact_id}")
    crm.plugin("contacts").erase(contact_id)
    staff = crm.mail.get("staff")
    assert (staff.to, staff.subject, staff.text) == (
        ("staff@example.com",),
        f"Card {ERASED}",
        f"Card {ERASED} belongs to {ERASED}",
    )
    with crm.transaction():
        assert not run_once(crm, f"loyalty.card:{ERASED}:{contact_id}")  # the claim stays, without the value


def test_a_failed_erasure_leaves_the_kernels_tables_as_they_were(app, crm_plugin):
    def refuse(crm, contact_id):
        raise RuntimeError("cannot erase now")

    crm = app(crm_plugin("stubborn", crm_erase_personal_data=refuse))
    contact_id = zed(crm)
    crm.mail.queue(EMAIL, "Later", "Dear Zed Quux", key="later")
    events = json.dumps(crm.events.recent(limit=100))
    with pytest.raises(Exception, match="cannot erase now"):
        crm.plugin("contacts").erase(contact_id)
    assert crm.mail.get("later").status == "queued" and crm.mail.get("later").text == "Dear Zed Quux"
    assert json.dumps(crm.events.recent(limit=100)) == events


def test_a_key_that_grows_when_redacted_still_fits_its_column(app, crm_plugin):
    crm = app(crm_plugin("codes", crm_personal_values=lambda contact_id: ["X7Q"]))
    contact_id = zed(crm)
    key = "codes:X7Q:X7Q:" + "k" * 176
    with crm.transaction():
        assert run_once(crm, key)
    crm.plugin("contacts").erase(contact_id)
    from crm_core.jobs import RunOnce

    with crm.activate():
        (kept,) = [k for (k,) in RunOnce.select(RunOnce.key).tuples()]
    assert kept.startswith(f"codes:{ERASED}:{ERASED}:") and len(kept) == 190
