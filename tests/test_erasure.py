"""Erasure that erases: a person who appears in every plugin and in the kernel, erased, then looked for in every column of every table.

The scan reads the database's own catalogue (every table, every column),
not the models, so a table or column that no code knows about is searched
too. It runs on every configured backend.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from typing import Any

import pytest

from crm_core.worker.runner import Worker
from crm_hookspecs import hookimpl
from crm_hookspecs.records import JobSpec

FIRST, LAST = "Zebulon", "Quixwright"
EMAIL = "zeb.quixwright@example.org"
PHONE = "+34699887766"
STREET = "Paseo Xalocar 41"
#: what must not be found anywhere after the erasure (the phone also without its country code)
VALUES = (FIRST, LAST, EMAIL, PHONE, PHONE[3:], STREET)

STAFF = [{"name": "maria", "email": "maria@example.com", "full_name": "María Soto"}]
SURVEY = {
    "key": "service",
    "title": "How did we do?",
    "email": {
        "subject": "{{ first_name }}, how did we do?",
        "text": "Dear {{ display_name }},\nanswer here: {{ link }}\n",
        "html": '<p>Dear {{ display_name }}, <a href="{{ link }}">answer here</a></p>',
    },
    "questions": [
        {"key": "recommend", "kind": "nps", "text": "Would you recommend us?", "required": True},
        {"key": "why", "kind": "text", "text": "Why?"},
    ],
}
#: a rule that e-mails staff about him at once, one that does it a day later (kept as done in tasks_pending)
RULES = [
    {
        "name": "unhappy",
        "trigger": "event",
        "event": "SurveyAnswered",
        "when": {"negative": True},
        "action": "notify",
        "notify": {
            "to": ["maria"],
            "subject": "Unhappy: {contact.display_name}",
            "text": "Call {contact.display_name} at {contact.phone}",
        },
    },
    {
        "name": "follow-up",
        "trigger": "event",
        "event": "ContactCreated",
        "action": "notify",
        "delay": "1d",
        "notify": {"to": ["maria"], "subject": "Follow up {contact.display_name}", "text": "Write to {contact.email}"},
    },
]
NEWSLETTER = {
    "name": "newsletter",
    "title": {"en": "Our newsletter"},
    "consent": {"en": "I agree to receive the newsletter."},
    "lists": ["newsletter"],
}


class Nosy:
    """A third-party plugin: its event handler and its worker job fail with the person's address in the message."""

    def __init__(self) -> None:
        self.address: str | None = None

    @hookimpl
    def crm_handle_events(self, crm: Any, events: Any) -> None:
        for event in events:
            if event.type_name == "ContactCreated" and EMAIL in str(event.data):
                raise RuntimeError(f"cannot file {event.data.get('email')} for {FIRST} {LAST}")

    @hookimpl
    def crm_worker_jobs(self, crm: Any) -> list[JobSpec]:
        def run(crm: Any, scheduled_at: Any) -> str:
            raise RuntimeError(f"mailbox of {EMAIL} is full")

        return [JobSpec("nosy.check", run, interval=dt.timedelta(hours=1))]


def build(crm_factory: Any, tmp_path: Any) -> Any:
    settings = {
        "contacts": {"default_region": "ES", "self_service": {"secret": "contacts-secret-for-erasure-tests"}},
        "surveys": {"secret": "surveys-secret-for-erasure-tests", "base_url": "https://crm.example.com/surveys"},
        "tasks": {"staff": STAFF, "rules": RULES},
        "warehouse": {"documents_dir": str(tmp_path / "documents")},
        "portal": {
            "secret": "portal-secret-for-erasure-tests",
            "base_url": "https://crm.example.com",
            "signup_forms": [NEWSLETTER],
        },
    }
    plugins = ["contacts", "surveys", "tasks", "warehouse", "analytics", "portal", ("nosy", Nosy())]
    return crm_factory(plugins=plugins, settings=settings, mail={"sender": "ACME <crm@example.com>"})


def populate(crm: Any, clock: Any) -> int:
    """The person everywhere; returns his contact id."""
    from crm_portal import create_app

    book = crm.plugin("contacts")
    book.create_list("newsletter", "The newsletter")
    book.create_list("customers", "Customers")
    # imported, with a bystander who must keep his data
    csv_text = (
        "First,Last,Email,Phone,Street,City\n"
        f"{FIRST},{LAST},{EMAIL},{PHONE},{STREET},Madrid\n"
        "Rosa,Bystander,rosa@example.com,+34600111222,Calle Mayor 1,Madrid\n"
    )
    mapping = {
        "First": "first_name",
        "Last": "last_name",
        "Email": "email",
        "Phone": "phone",
        "Street": "street",
        "City": "city",
    }
    report = book.import_csv(io.StringIO(csv_text), mapping=mapping, list_name="customers", source_name="people.csv")
    assert not report.errors, report.errors
    (card,) = book.search(email=EMAIL).cards
    contact_id = card.id
    # signed up through the portal (double opt-in), then a second sign-up left unconfirmed
    web = create_app(crm).test_client()

    def sign_up() -> None:
        page = web.get("/signup/newsletter").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
        data = {"email": EMAIL, "first_name": FIRST, "last_name": LAST, "consent": "yes", "csrf_token": token}
        assert web.post("/signup/newsletter", data=data).status_code == 303

    sign_up()
    crm.mail.deliver()
    (confirmation,) = crm.mail.transport.to(EMAIL)
    link = re.search(r"https://crm\.example\.com(/signup/confirm/\S+)", confirmation.text).group(1)
    page = web.get(link).get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    assert web.post(link, data={"csrf_token": token}).status_code == 200
    # surveyed: invited by e-mail (sent), and he answered with a text naming himself
    surveys = crm.plugin("surveys")
    surveys.save(SURVEY)
    assert surveys.send("service", "customers").sent == 2
    crm.mail.deliver()
    surveys.submit(surveys.token("service", contact_id), {"recommend": 3, "why": f"I am {FIRST} {LAST}, call {PHONE}"})
    # tasked: a task about him, its assignee e-mailed
    crm.plugin("tasks").add(
        f"Call {FIRST} {LAST} back", contact_id=contact_id, assignee="maria", description=f"at {PHONE}"
    )
    # sold to, with a note and a document
    warehouse = crm.plugin("warehouse")
    sale = warehouse.sales.add("sale", contact_id, title=f"Boiler for {FIRST} {LAST}", amount="900.00")
    warehouse.sales.close(sale.id, won=True)
    warehouse.actions.log(
        "call", contact_id=contact_id, subject=f"{FIRST} called", body=f"new address {STREET}", author="maria"
    )
    warehouse.documents.attach(io.BytesIO(f"ID card of {FIRST} {LAST}".encode()), contact_id=contact_id, name="id.txt")
    # mailed by hand, to him and to a colleague about him
    crm.mail.queue(f"{FIRST} {LAST} <{EMAIL}>", f"Hello {FIRST}", f"Dear {FIRST} {LAST}, we call {PHONE}.", key="hello")
    crm.mail.queue(
        "maria@example.com",
        f"About {FIRST} {LAST}",
        f"{FIRST} {LAST} lives at {STREET}.",
        attachments=[("visit.csv", f"name,street\n{FIRST} {LAST},{STREET}\n".encode())],
    )
    crm.mail.queue([EMAIL, "rosa@example.com"], "Our offer", "Hello both")
    # a worker job and an event handler that failed, quoting him (the worker delivers the mail above);
    # a day later the worker carries out the delayed rule
    Worker(crm).run_pending()
    clock.advance(days=1, minutes=10)
    Worker(crm).run_pending()
    crm.events.deliver()
    # waiting in the queue: a second sign-up's confirmation and a message; the erasure must cancel both
    sign_up()
    crm.mail.queue(EMAIL, f"Still there, {FIRST}?", "A message not sent yet", key="later")
    return contact_id


def scan(crm: Any, values: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """Every (table, column, value) where a value is found, in any column of any table."""
    database = crm.database
    found = []
    for table in sorted(database.get_tables()):
        columns = [c.name for c in database.get_columns(table)]
        quoted = ", ".join(c.join(database.quote) for c in columns)
        for row in database.execute_sql(f"SELECT {quoted} FROM {table.join(database.quote)}").fetchall():
            for column, cell in zip(columns, row):
                if isinstance(cell, (bytes, bytearray, memoryview)):
                    text = bytes(cell).decode("utf-8", "replace")
                elif isinstance(cell, str):
                    text = cell
                else:
                    continue
                for value in values:
                    if value.casefold() in text.casefold():
                        found.append((table, column, value))
    return sorted(set(found))


@pytest.mark.crm_allow_delivery_failures  # a handler fails on purpose, quoting the person
def test_an_erased_person_is_found_in_no_column_of_any_table(crm_factory, crm_clock, tmp_path):
    crm = build(crm_factory, tmp_path)
    contact_id = populate(crm, crm_clock)
    before = scan(crm, VALUES)
    tables = {t for t, _, _ in before}
    # the person is everywhere before: every plugin's tables and the kernel's
    assert {"crm_event", "crm_mail_message", "crm_mail_attachment", "crm_event_failure", "crm_job"} <= tables
    assert {
        "contacts_contact",
        "portal_signup",
        "surveys_response",
        "tasks_task",
        "tasks_pending",
        "tasks_reminder",
        "warehouse_sale",
    } <= tables
    sent_before = len(crm.mail.transport.sent)

    counts = crm.plugin("contacts").erase(contact_id, actor="dpo")

    left = scan(crm, VALUES)
    assert left == [], "\n".join(map(str, left))
    assert counts["kernel"] > 0
    # the bystander keeps everything
    assert scan(crm, ("rosa@example.com", "Bystander", "Calle Mayor 1")) != []
    assert crm.plugin("contacts").search(email="rosa@example.com").total == 1
    # the confirmation and the message queued before the erasure are never sent; mail to
    # others waiting in the queue (the delayed rule's notices to staff) goes without his values
    crm.mail.deliver()
    after = crm.mail.transport.sent[sent_before:]
    assert sorted(m.subject for m in after) == ["Follow up Rosa Bystander", "Follow up [erased]"]
    assert all(m.recipients == ("maria@example.com",) for m in after)
    assert not [v for m in after for v in VALUES if v.casefold() in m.data.decode("utf-8", "replace").casefold()]
    cancelled = crm.mail.list("cancelled")
    assert len(cancelled) == 2 and "later" in {m.key for m in cancelled}
    assert all(m.to == ("[erased]",) and m.subject == "[erased]" for m in cancelled)
    # what an erasure keeps: ids, types, times, and that it happened
    events = crm.events.recent(limit=1000)
    types = [e["type"] for e in events]
    assert "ContactErased" in types and types.count("ContactCreated") == 2
    created = next(
        e for e in reversed(events) if e["type"] == "ContactCreated" and e["payload"]["contact_id"] == contact_id
    )
    assert created["payload"]["data"]["first_name"] == "[erased]" and created["occurred_at"]
    sale = next(e for e in events if e["type"] == "SaleClosed")
    assert (
        sale["payload"]["contact_id"] == contact_id
        and sale["payload"]["amount"] == "900.00"
        and sale["payload"]["won"] is True
    )
