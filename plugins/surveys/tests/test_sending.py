"""Sending by e-mail through the kernel's mail queue: audiences, templates, rounds, reminders, transports."""

from __future__ import annotations

import datetime as dt
import socket
import threading
from email import message_from_bytes
from email.policy import default as default_policy

import pytest

from crm_core.errors import NotFoundError, ValidationError


@pytest.fixture
def audience(app, people, definition):
    """List 'customers': three reachable contacts, one do-not-contact, one unsubscribed, one without e-mail."""
    contacts = app.plugin("contacts")
    contacts.create_list("customers")
    reachable = [people.add(region="ES"), people.add(region="FR"), people.add(region="ES")]
    dnc = people.add(do_not_contact=True)
    unsubscribed = people.add()
    no_email = people.add(email=False, address=True)
    contacts.add_to_list("customers", [*reachable, dnc, unsubscribed, no_email])
    contacts.unsubscribe(unsubscribed, "customers")
    app.plugin("surveys").save(definition)
    return reachable


def sent_messages(app):
    app.mail.deliver()
    return list(app.mail.transport.sent)


def test_send_to_a_list_renders_each_message_and_counts_the_skipped(app, audience):
    api = app.plugin("surveys")
    report = api.send("csat", "customers")
    assert (report.sent, report.do_not_contact, report.unsubscribed, report.no_address, report.already_invited) == (
        3,
        1,
        1,
        1,
        0,
    )
    assert report.skipped == 3 and report.round == "manual" and report.version == 1
    messages = sent_messages(app)
    assert len(messages) == 3
    cards = {c.email: c for c in app.plugin("contacts").cards(audience)}
    for message in messages:
        parsed = message_from_bytes(message.data, policy=default_policy)
        (recipient,) = message.recipients
        card = cards[recipient]
        assert parsed["Subject"] == f"{card.first_name}, how did we do?"
        assert parsed["To"] == f"{card.display_name} <{card.email}>"
        text = parsed.get_body(("plain",)).get_content()
        assert f"Dear {card.display_name} ({card.region})" in text
        link = next(line for line in text.splitlines() if line.startswith("answer here: ")).removeprefix(
            "answer here: "
        )
        assert link.startswith("http://localhost:8000/surveys/")
        form = api.form(link.rsplit("/", 1)[1])
        assert form.contact_id == card.id and form.expires_at == app.clock.now() + dt.timedelta(days=30)
        assert f"until {(app.clock.now() + dt.timedelta(days=30)).date().isoformat()}" in text
    events = app.events.recent(limit=20, type_name="SurveySent")
    assert sorted(e["payload"]["contact_id"] for e in events) == sorted(audience)
    assert api.get("csat").invited == 3


def test_sending_twice_or_to_an_overlapping_list_mails_each_person_once(app, audience, people):
    api = app.plugin("surveys")
    api.send("csat", "customers")
    contacts = app.plugin("contacts")
    contacts.create_list("vip")
    newcomer = people.add()
    contacts.add_to_list("vip", [audience[0], newcomer])
    again = api.send("csat", "customers")
    assert (again.sent, again.already_invited) == (0, 3)
    overlap = api.send("csat", "vip")
    assert (overlap.sent, overlap.already_invited) == (1, 1)
    assert len(sent_messages(app)) == 4
    spring = api.send("csat", "customers", round="2026-spring")
    assert (spring.sent, spring.round) == (3, "2026-spring")
    assert len(app.mail.list(limit=100)) == 7
    with pytest.raises(ValidationError, match="round 'direct' holds answers"):
        api.send("csat", "customers", round="direct")


def test_a_dry_run_writes_nothing(app, audience):
    api = app.plugin("surveys")
    report = api.send("csat", "customers", dry_run=True)
    assert report.dry_run and report.sent == 3 and report.do_not_contact == 1
    assert app.mail.list(limit=10) == [] and api.get("csat").invited == 0


def test_unknown_list_and_template_errors_send_nothing(app, audience, definition):
    api = app.plugin("surveys")
    with pytest.raises(NotFoundError):
        api.send("csat", "nobody")
    definition["email"]["text"] = "You live in {{ contact.address.city }}"
    api.save(definition)
    with pytest.raises(
        ValidationError, match=r"the survey's e-mail template cannot be rendered for contact \d+: .*fix the template"
    ):
        api.send("csat", "customers")
    assert app.mail.list(limit=10) == [] and api.get("csat").invited == 0
    assert app.events.recent(limit=10, type_name="SurveySent") == []


@pytest.mark.sqlite_only  # rendering and transports; the queueing is tested on every backend
def test_the_html_part_is_escaped(app, people, definition):
    contacts = app.plugin("contacts")
    contacts.create_list("l")
    contacts.add_to_list("l", [people.add(last_name="<b>Bold</b>")])
    definition["email"]["html"] = '<p>Dear {{ display_name }}, <a href="{{ link }}">answer</a></p>'
    api = app.plugin("surveys")
    api.save(definition)
    api.send("csat", "l")
    (message,) = sent_messages(app)
    html = message_from_bytes(message.data, policy=default_policy).get_body(("html",)).get_content()
    assert "&lt;b&gt;Bold&lt;/b&gt;" in html and '<a href="http://localhost:8000/surveys/' in html


def test_one_reminder_to_those_who_have_not_answered(app, audience, crm_clock):
    api = app.plugin("surveys")
    api.send("csat", "customers")
    sent_messages(app)
    app.mail.transport.clear()
    ana, bo, cy = audience
    api.answer("csat", ana, {"recommend": 9})
    api.answer("csat", bo, {"satisfaction": 3}, partial=True)  # a draft is no answer
    assert api.remind("csat")[0].sent == 0  # not 7 days yet
    crm_clock.advance(days=7)
    (report,) = api.remind("csat")
    assert (report.sent, report.after_days) == (2, 7)
    messages = sent_messages(app)
    assert sorted(m.recipients[0] for m in messages) == sorted(c.email for c in app.plugin("contacts").cards([bo, cy]))
    parsed = message_from_bytes(messages[0].data, policy=default_policy)
    assert parsed["Subject"].startswith("Reminder: ")
    link = next(w for w in parsed.get_body(("plain",)).get_content().split() if w.startswith("http://"))
    form = api.form(link.rsplit("/", 1)[1])
    assert form.contact_id in (bo, cy) and form.expires_at == crm_clock.now() - dt.timedelta(days=7) + dt.timedelta(
        days=30
    )
    crm_clock.advance(days=1)
    assert api.remind("csat")[0].sent == 0  # once
    assert len(app.mail.list(limit=100)) == 5


def test_no_reminder_to_the_unsubscribed_or_after_expiry(app, audience, crm_clock):
    api = app.plugin("surveys")
    api.send("csat", "customers")
    app.plugin("contacts").unsubscribe(audience[0], "customers")
    app.plugin("contacts").update(audience[1], do_not_contact=True)
    crm_clock.advance(days=8)
    (report,) = api.remind("csat")
    assert (report.sent, report.skipped) == (1, 2)
    crm_clock.advance(days=30)
    assert api.remind("csat", after_days=1)[0].sent == 0  # the others' links expired


def test_reminder_days_from_the_survey_or_the_setting(surveys_app, definition, crm_clock):
    app = surveys_app(reminder_after_days=3)
    contacts = app.plugin("contacts")
    contacts.create_list("l")
    contacts.add_to_list("l", [contacts.create(first_name="A", email="a@example.com").id])
    api = app.plugin("surveys")
    api.save(definition)
    api.send("csat", "l")
    crm_clock.advance(days=3)
    assert api.remind(dry_run=True)[0].sent == 1
    definition["reminder"] = {"after_days": 0}
    api.save(definition)  # unsent version? no: v1 was sent, so this is v2 with reminders off
    assert api.remind()[0].after_days == 0
    with pytest.raises(ValidationError, match="--after-days must be 1 or more"):
        api.remind("csat", after_days=0)


@pytest.mark.sqlite_only  # rendering and transports; the queueing is tested on every backend
def test_the_file_transport_writes_one_eml_per_message(crm_factory, tmp_path, definition):
    outbox = tmp_path / "outbox"
    app = crm_factory(
        plugins=["contacts", "surveys"],
        settings={"surveys": {"secret": "s"}},
        mail={"transport": "file", "outbox": str(outbox), "unsubscribe_mailto": "unsubscribe@example.com"},
    )
    contacts = app.plugin("contacts")
    contacts.create_list("l")
    contacts.add_to_list("l", [contacts.create(first_name=f"P{i}", email=f"p{i}@example.com").id for i in range(4)])
    api = app.plugin("surveys")
    api.save(definition)
    assert api.send("csat", "l").sent == 4
    assert app.mail.deliver().sent == 4
    files = sorted(outbox.rglob("*.eml"))
    assert len(files) == 4
    parsed = message_from_bytes(files[0].read_bytes(), policy=default_policy)
    assert (
        parsed["Subject"].endswith(", how did we do?")
        and "http://localhost:8000/surveys/" in parsed.get_body(("plain",)).get_content()
    )


def test_letters_skip_those_invited_by_email_in_the_round(app, audience, people, tmp_path):
    contacts = app.plugin("contacts")
    with_address = people.add(address=True)
    contacts.add_to_list("customers", [with_address])
    api = app.plugin("surveys")
    api.send("csat", "customers")
    report = api.letters("csat", "customers", tmp_path)
    # the address-only contact gets a letter; the one with both was mailed already
    assert (report.letters, report.already_invited) == (1, 1)


# -- SMTP on loopback -------------------------------------------------------------


class Server:
    """An aiosmtpd handler that refuses with 451 while ``refuse`` is set."""

    def __init__(self) -> None:
        self.refuse = True
        self.messages: list = []
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001, N802
        if self.refuse:
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001, N802
        with self.lock:
            self.messages.append(message_from_bytes(envelope.content, policy=default_policy))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.sqlite_only  # rendering and transports; the queueing is tested on every backend
def test_smtp_down_then_refusing_then_accepting_sends_each_survey_once(crm_factory, definition, crm_clock):
    from aiosmtpd.controller import Controller

    port = free_port()
    app = crm_factory(
        plugins=["contacts", "surveys"],
        settings={"surveys": {"secret": "s"}},
        mail={
            "transport": "smtp",
            "retry_backoff": 60.0,
            "smtp": {"host": "127.0.0.1", "port": port, "timeout": 5.0},
            "unsubscribe_mailto": "unsubscribe@example.com",
        },  # fmt: skip
    )
    contacts = app.plugin("contacts")
    contacts.create_list("l")
    contacts.add_to_list("l", [contacts.create(first_name=f"P{i}", email=f"p{i}@example.com").id for i in range(3)])
    api = app.plugin("surveys")
    api.save(definition)
    assert api.send("csat", "l").sent == 3
    # the server is down: nothing is lost, everything stays queued
    report = app.mail.deliver()
    assert report.sent == 0 and report.error
    assert {m.status for m in app.mail.list(limit=10)} == {"queued"}
    handler = Server()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        crm_clock.advance(minutes=10)
        refused = app.mail.deliver()  # 451: retried later with back-off
        assert refused.sent == 0 and refused.retried == 3 and handler.messages == []
        assert {m.status for m in app.mail.list(limit=10)} == {"queued"}
        handler.refuse = False
        crm_clock.advance(hours=1)
        assert app.mail.deliver().sent == 3
        crm_clock.advance(hours=1)
        assert app.mail.deliver().sent == 0
        assert api.send("csat", "l").sent == 0  # and a second send queues nothing new
        crm_clock.advance(hours=1)
        app.mail.deliver()
    finally:
        controller.stop()
    assert sorted(m["To"] for m in handler.messages) == [f"P{i} <p{i}@example.com>" for i in range(3)]
    token = (
        handler.messages[0].get_body(("plain",)).get_content().split("answer here: ")[1].split()[0].rsplit("/", 1)[1]
    )
    assert api.form(token).survey_id == api.get("csat").id


def test_a_concurrent_send_in_the_same_round_fails_cleanly(app, audience, monkeypatch):
    """Another worker invites the same people after this send read the round: its insert must not half-write."""
    from crm_surveys import sending
    from crm_surveys.models import Invitation, Round

    real_pages = sending.batched

    def racing_pages(items, size):
        round_ = Round.get(Round.key == "manual")
        Invitation.insert(
            survey=round_.survey_id,
            round=round_.id,
            version=1,
            contact_id=audience[0],
            original_contact_id=audience[0],
            medium="email",
            month="2026-01",
            sent_at=app.clock.now(),
        ).execute()
        yield from real_pages(items, size)

    monkeypatch.setattr(sending, "batched", racing_pages)
    with pytest.raises(ValidationError, match="another send of survey 'csat' in round 'manual' ran at the same time"):
        app.plugin("surveys").send("csat", "customers")
    monkeypatch.setattr(sending, "batched", real_pages)
    assert app.mail.list(limit=10) == [] and app.plugin("surveys").get("csat").invited == 0
    assert app.plugin("surveys").send("csat", "customers").sent == 3


def test_settings_are_checked(crm_factory):
    from crm_core.errors import ConfigError

    with pytest.raises(ConfigError, match=r"plugins.surveys.base_url: must be an http:// or https:// address"):
        crm_factory(plugins=["contacts", "surveys"], settings={"surveys": {"base_url": "crm.example.com/s"}})
    with pytest.raises(ConfigError, match=r"plugins.surveys.letters.page_size: must be 'A4' or 'letter'"):
        crm_factory(plugins=["contacts", "surveys"], settings={"surveys": {"letters": {"page_size": "A5"}}})
    with pytest.raises(ConfigError, match=r"plugins.surveys.token_ttl_days"):
        crm_factory(plugins=["contacts", "surveys"], settings={"surveys": {"token_ttl_days": 0}})


def test_templates_render_each_part_apart_when_a_value_holds_the_separator():
    from crm_surveys.definition import EmailTemplate
    from crm_surveys.sending import Templates

    templates = Templates(EmailTemplate("Hi {{ first_name }}", "Text {{ first_name }}", "<p>{{ first_name }}</p>"))
    assert templates.render({"first_name": "Ana <3"}, "x") == ("Hi Ana <3", "Text Ana <3", "<p>Ana &lt;3</p>")
    odd = "A" + Templates.SEPARATOR + "B"
    # (a subject is one line: separators and other control characters become spaces)
    assert templates.render({"first_name": odd}, "x") == ("Hi A surveys-part B", f"Text {odd}", f"<p>{odd}</p>")
    plain = Templates(EmailTemplate("S", "T\n"))
    assert plain.render({}, "x") == ("S", "T\n", None)


def test_invitations_are_bulk_mail_with_the_way_to_unsubscribe(app, audience):
    """Without the portal the app's unsubscribe_mailto is the way out (the conftest sets it)."""
    app.plugin("surveys").send("csat", "customers")
    for sent in sent_messages(app):
        assert sent.headers["List-Unsubscribe"] == "<mailto:unsubscribe@example.com?subject=unsubscribe>"
        assert "List-Unsubscribe-Post" not in sent.headers  # one-click needs an https page
        assert sent.text.endswith(
            "To stop receiving these e-mails: mailto:unsubscribe@example.com?subject=unsubscribe\n"
        )


def test_the_unsubscribe_link_names_the_list_sent_to_or_none_for_a_segment(crm_factory, crm_plugin, definition):
    asked = []

    def crm_unsubscribe_urls(contact_ids, mailing_list):
        asked.append((sorted(contact_ids), mailing_list))
        return [f"https://crm.example.com/u/{mailing_list}/{c}" for c in contact_ids]

    app = crm_factory(
        plugins=["contacts", "surveys", crm_plugin("pages", crm_unsubscribe_urls=crm_unsubscribe_urls)],
        settings={"surveys": {"secret": "s"}},
    )
    contacts = app.plugin("contacts")
    ids = [contacts.create(first_name=f"P{i}", email=f"p{i}@example.com", region="ES").id for i in range(2)]
    contacts.create_list("customers")
    contacts.add_to_list("customers", ids)
    contacts.create_segment("spain", {"region": "ES"})
    api = app.plugin("surveys")
    api.save(definition)
    api.send("csat", "customers")
    api.send("csat", "spain", round="second")
    assert asked == [(ids, "customers"), (ids, None)]
    app.mail.deliver()
    links = sorted(m.headers["List-Unsubscribe"] for m in app.mail.sent)
    assert (
        links[0] == f"<https://crm.example.com/u/None/{ids[0]}>"
        and f"<https://crm.example.com/u/customers/{ids[1]}>" in links
    )
