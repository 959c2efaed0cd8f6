"""The mail queue API: queue(), queue_many(), validation, building, the memory transport."""

from __future__ import annotations

import datetime as dt
import email
import email.policy

import attrs
import pytest

from crm_core.errors import ConfigError, NotFoundError, ValidationError
from crm_core.mail import Attachment, OutgoingMessage, build_message


def test_queue_then_deliver_with_the_memory_transport(crm, crm_clock):
    queued = crm.mail.queue(
        "José Pérez <jose@example.com>",
        "Encuesta de satisfacción",
        "Hola José",
        html="<p>Hola José</p>",
        key="survey:1:contact:7",
        headers={"X-Campaign": "spring"},
    )
    assert queued is not None and queued.status == "queued" and queued.key == "survey:1:contact:7"
    assert crm.mail.transport.sent == []  # queued, not sent
    report = crm.mail.deliver()
    assert (report.sent, report.retried, report.failed) == (1, 0, 0)
    [sent] = crm.mail.sent
    assert sent.key == "survey:1:contact:7"
    assert sent.recipients == ("jose@example.com",)
    assert sent.subject == "Encuesta de satisfacción" and sent.html == "<p>Hola José</p>"
    parsed = sent.email
    assert parsed["Subject"] == "Encuesta de satisfacción"  # RFC 2047 round trip
    assert parsed["To"] == "José Pérez <jose@example.com>"
    assert parsed["Message-ID"] == queued.message_id
    assert parsed["X-Campaign"] == "spring"
    assert parsed.get_body(("plain",)).get_content().strip() == "Hola José"
    assert parsed.get_body(("html",)).get_content().strip() == "<p>Hola José</p>"
    assert crm.mail.get(queued.id).status == "sent"
    assert crm.mail.deliver().sent == 0  # nothing is sent twice


def test_an_existing_key_is_not_queued_again(crm):
    assert crm.mail.queue("a@example.com", "s", "t", key="welcome:1") is not None
    assert crm.mail.queue("b@example.com", "other", "other", key="welcome:1") is None
    crm.mail.deliver()
    assert crm.mail.queue("a@example.com", "s", "t", key="welcome:1") is None  # also after sending
    assert [m.recipients for m in crm.mail.sent] == [("a@example.com",)]


def test_a_message_exists_only_if_the_callers_transaction_commits(crm):
    with pytest.raises(RuntimeError):
        with crm.transaction():
            crm.mail.queue("a@example.com", "s", "t", key="rolled-back")
            raise RuntimeError("the change failed")
    with pytest.raises(NotFoundError):
        crm.mail.get("rolled-back")
    with crm.transaction():
        crm.mail.queue("a@example.com", "s", "t", key="committed")
    assert crm.mail.get("committed").status == "queued"
    # the key of a rolled-back message is free again
    assert crm.mail.queue("a@example.com", "s", "t", key="rolled-back") is not None


def test_several_recipients_and_a_reply_to(crm):
    crm.mail.queue(
        ["Ana <ana@example.com>", "bo@example.org"],
        "Hi",
        "t",
        reply_to="Help <help@example.com>",
        sender="Sales <sales@example.com>",
    )
    crm.mail.deliver()
    [sent] = crm.mail.sent
    assert sent.recipients == ("ana@example.com", "bo@example.org")
    assert sent.sender == "sales@example.com"
    assert sent.email["Reply-To"] == "Help <help@example.com>"
    assert sent.email["From"] == "Sales <sales@example.com>"


def test_attachments_are_stored_and_sent(crm, tmp_path):
    path = tmp_path / "notes.txt"
    path.write_bytes(b"plain notes")
    big = bytes(range(256)) * 400  # 100 KiB: more than MySQL's plain BLOB
    queued = crm.mail.queue(
        "a@example.com",
        "Files",
        "see attached",
        attachments=[
            Attachment("report.pdf", big),
            ("data.csv", b"a,b\n1,2\n"),
            path,
            ("factura ñ.bin", b"\x00\x01", "application/x-custom"),
        ],
    )
    stored = crm.mail.get(queued.id)
    assert [a.filename for a in stored.attachments] == ["report.pdf", "data.csv", "notes.txt", "factura ñ.bin"]
    assert stored.attachments[0].content == big and stored.attachments[0].content_type == "application/pdf"
    plain = crm.mail.queue("b@example.com", "No files", "nothing attached")
    # what delivery builds the messages with: every claimed message's files at once, by id
    by_id = crm.mail.attachments([queued.id, plain.id])
    assert list(by_id) == [queued.id] and list(by_id[queued.id]) == list(stored.attachments)
    assert crm.mail.attachments([]) == {}
    crm.mail.deliver()
    parsed = next(m.email for m in crm.mail.sent if m.email["Subject"] == "Files")
    files = {part.get_filename(): part.get_payload(decode=True) for part in parsed.iter_attachments()}
    assert files["report.pdf"] == big
    assert files["data.csv"] == b"a,b\n1,2\n"
    assert files["factura ñ.bin"] == b"\x00\x01"


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
@pytest.mark.parametrize(
    ("to", "problem"),
    [
        ("not-an-address", "not an e-mail address"),
        ("ana@example", "not a valid host name"),
        ("ana smith@example.com", "part before @"),
        ("ana@exa_mple.com", "not a valid host name"),
        ("Ana, Bo <ana@example.com>", "holds 2 addresses"),
        ("ana@example.com\r\nBcc: victim@example.com", "line break"),
        ("", "empty"),
        ([], "no recipient"),
        (42, "must be an address"),
    ],
)
def test_bad_recipients_are_refused_naming_the_address(crm, to, problem):
    with pytest.raises(ValidationError, match=problem):
        crm.mail.queue(to, "s", "t")
    assert crm.mail.counts()["queued"] == 0


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
@pytest.mark.parametrize(
    ("kwargs", "problem"),
    [
        ({"subject": "Hello\r\nBcc: victim@example.com"}, "the subject .* line break"),
        ({"subject": "Hello\nX-Spam: no"}, "line break"),
        ({"headers": {"X-Tag": "a\nBcc: victim@example.com"}}, "header 'X-Tag' value .* line break"),
        ({"headers": {"Bcc": "victim@example.com"}}, "cannot be set through headers"),
        ({"headers": {"Message-ID": "<x@y>"}}, "cannot be set through headers"),
        ({"headers": {"Bad Name": "x"}}, "header name 'Bad Name' is not valid"),
        ({"reply_to": "nobody"}, "reply_to 'nobody' is not an e-mail address"),
        ({"sender": "x@y.com\nBcc: z@z.com"}, "the sender .* line break"),
        ({"key": ""}, "idempotency key"),
        ({"key": "k" * 191}, "191 characters"),
        ({"attachments": [("../etc/passwd", b"x")]}, "plain file name"),
        ({"attachments": [("a.txt", "text, not bytes")]}, "must be bytes"),
        ({"attachments": [("a\r\n.txt", b"x")]}, "line break"),
        ({"attachments": [("a.bin", b"x", "nonsense")]}, "type/subtype"),
        ({"attachments": ["/no/such/file.pdf"]}, "cannot be read"),
        ({"attachments": [("a" * 252 + ".pdf", b"x")]}, "longer than 255 characters"),
        ({"sender": "N" * 400 + " <crm@example.com>"}, "keep it under 401"),
        ({"reply_to": "N" * 400 + " <help@example.com>"}, "keep it under 401"),
    ],
)
def test_bad_fields_are_refused(crm, kwargs, problem):
    args = {"subject": "s", **kwargs}
    subject = args.pop("subject")
    with pytest.raises(ValidationError, match=problem):
        crm.mail.queue("a@example.com", subject, "t", **args)
    assert crm.mail.counts()["queued"] == 0


def test_queue_many_is_bulk_and_skips_existing_keys(crm):
    crm.mail.queue("first@example.com", "s", "t", key="m:0")
    messages = [
        OutgoingMessage(f"user{i}@example.com", f"Survey {i}", "Please answer", key=f"m:{i}") for i in range(1200)
    ]
    messages.append(OutgoingMessage("dup@example.com", "s", "t", key="m:5"))  # repeated in the batch
    messages.append(OutgoingMessage("files@example.com", "s", "t", key="m:files", attachments=[("a.txt", b"A")]))
    assert crm.mail.queue_many(messages) == 1200  # 1199 new + the one with a file; m:0 and the repeat skipped
    assert crm.mail.counts()["queued"] == 1201
    assert crm.mail.get("m:files").attachments[0].content == b"A"
    assert crm.mail.get("m:5").to == ("user5@example.com",)
    assert crm.mail.queue_many(messages) == 0
    report = crm.mail.deliver()
    assert report.sent == 1201
    assert len({m.key for m in crm.mail.sent}) == 1201


def test_a_few_plain_messages_are_one_insert_that_skips_keys_queued_before(crm):
    """No key check first and no savepoint: the INSERT itself leaves out a key queued before (issue 19)."""
    from crm_core.testing import statements

    crm.mail.queue("first@example.com", "s", "t", key="few:0")
    few = [OutgoingMessage(f"u{i}@example.com", "s", "t", key=f"few:{i}") for i in range(3)]
    few.append(OutgoingMessage("again@example.com", "s", "t", key="few:2"))  # repeated in the batch
    with statements(crm) as sql, crm.transaction():
        assert crm.mail.queue_many(few) == 2  # few:0 was queued before, few:2 is queued once
    work = [s for s in sql if s.split()[0].upper() not in ("BEGIN", "COMMIT")]
    assert len(work) == 1 and work[0].startswith("INSERT"), sql
    assert crm.mail.get("few:2").to == ("u2@example.com",) and crm.mail.get("few:0").to == ("first@example.com",)
    with statements(crm) as sql, crm.transaction():
        assert crm.mail.queue_many(few[:1]) == 0
    assert not [s for s in sql if "SAVEPOINT" in s.upper()], sql


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_queue_many_refuses_something_else_than_records(crm):
    with pytest.raises(ValidationError, match="OutgoingMessage"):
        crm.mail.queue_many([{"to": "a@example.com"}])


def test_queue_many_in_a_rolled_back_transaction_leaves_nothing(crm):
    with pytest.raises(RuntimeError):
        with crm.transaction():
            crm.mail.queue_many(OutgoingMessage(f"u{i}@example.com", "s", "t") for i in range(10))
            raise RuntimeError("boom")
    assert sum(crm.mail.counts().values()) == 0


def test_the_memory_transport_can_bounce_and_defer(crm, crm_recorder, crm_factory):
    app = crm_factory(plugins=[("recorder", crm_recorder)])
    app.mail.transport.bounce("gone@example.com")
    app.mail.transport.defer("later@example.com")
    app.mail.queue("gone@example.com", "s", "t", key="gone")
    app.mail.queue("later@example.com", "s", "t", key="later")
    app.mail.queue("ok@example.com", "s", "t", key="ok")
    report = app.mail.deliver()
    assert (report.sent, report.retried, report.failed, report.bounced) == (1, 1, 1, 1)
    assert app.mail.get("gone").status == "failed"
    assert app.mail.get("later").status == "queued" and app.mail.get("later").attempts == 1
    bounced = [e for e in crm_recorder.events if e.type_name == "MailBounced"]
    assert [(e.address, e.message_id) for e in bounced] == [("gone@example.com", app.mail.get("gone").message_id)]
    assert app.mail.transport.to("ok@example.com")[0].key == "ok"


def test_list_get_counts_and_retry(crm, crm_clock):
    crm.mail.transport.bounce("gone@example.com")
    crm.mail.queue("gone@example.com", "s", "t", key="gone")
    crm.mail.queue("ok@example.com", "s", "t", key="ok")
    crm.mail.deliver()
    assert crm.mail.counts() == {"queued": 0, "sending": 0, "sent": 1, "failed": 1, "cancelled": 0}
    assert [m.key for m in crm.mail.list("failed")] == ["gone"]
    assert [m.key for m in crm.mail.list()] == ["ok", "gone"]
    with pytest.raises(ValidationError, match="unknown mail status 'lost'"):
        crm.mail.list("lost")
    with pytest.raises(NotFoundError, match="no queued message"):
        crm.mail.get("nope")
    with pytest.raises(ValidationError, match="is sent"):
        crm.mail.retry(["ok"])
    crm.mail.transport.clear()  # the address works again
    assert crm.mail.retry() == 1
    assert crm.mail.get("gone").attempts == 0
    assert crm.mail.deliver().sent == 1


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_unknown_transport_is_a_config_error_naming_the_choices(crm_factory):
    app = crm_factory(mail={"transport": "pigeon"})
    with pytest.raises(ConfigError, match="'pigeon' is not a known transport; use one of: file, memory, smtp"):
        app.mail.deliver()


def test_build_message_encodes_and_refuses_nothing_valid():
    data = build_message(
        sender="Équipe CRM <crm@exämple.com>",
        to=["Zoë <zoe@example.com>", "x@example.com"],
        subject="Un sujet très long " * 8,
        text="ligne\n" * 3,
        message_id="<abc@example.com>",
        date=dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC),
    )
    assert data.isascii() and b"\r\n" in data
    assert all(len(line) <= 998 for line in data.split(b"\r\n"))
    parsed = email.message_from_bytes(data, policy=email.policy.default)
    assert parsed["Subject"] == "Un sujet très long " * 8
    assert parsed["From"].addresses[0].display_name == "Équipe CRM"
    assert parsed["From"].addresses[0].domain == "xn--exmple-cua.com"
    assert parsed["Date"].datetime == dt.datetime(2026, 1, 5, 9, tzinfo=dt.UTC)


def test_outgoing_message_is_a_frozen_record():
    message = OutgoingMessage("a@example.com", "s", "t", headers={"X-A": "1"})
    assert message.to == ("a@example.com",) and message.headers == (("X-A", "1"),)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        message.subject = "other"  # type: ignore[misc]


class ApiTransport:
    """A plugin's transport (think of an HTTP mail API), built from [crm.mail.transport_options]."""

    def __init__(self, options):
        self.options = options
        self.calls: list[list[str]] = []
        self.fail_with: Exception | None = None
        self.short = False

    def send(self, envelopes):
        from crm_core.mail import SendResult

        if self.fail_with is not None:
            raise self.fail_with
        self.calls.append([e.key for e in envelopes])
        results = [SendResult.sent() for _ in envelopes]
        return results[:-1] if self.short else results


def _api_app(crm_factory, crm_plugin, **options):
    from crm_hookspecs.records import MailTransportSpec

    made = []

    def factory(crm, opts):
        made.append(ApiTransport(opts))
        return made[-1]

    plugin = crm_plugin("api", crm_mail_transports=lambda: [MailTransportSpec(name="api", factory=factory)])
    app = crm_factory(plugins=[plugin], mail={"transport": "api", "transport_options": options, "batch_size": 2})
    return app, made


def test_a_plugin_transport_from_crm_mail_transports(crm_factory, crm_plugin):
    app, made = _api_app(crm_factory, crm_plugin, endpoint="https://mail.example.com", token="t0k3n")
    for i in range(5):
        app.mail.queue(f"u{i}@example.com", "s", "t", key=f"k{i}")
    assert app.mail.deliver().sent == 5
    [transport] = made
    assert transport.options == {"endpoint": "https://mail.example.com", "token": "t0k3n"}
    assert transport.calls == [["k0", "k1"], ["k2", "k3"], ["k4"]]  # one call per batch
    assert {m.transport for m in app.mail.list("sent")} == {"api"}


def test_a_plugin_transport_that_raises_loses_nothing(crm_factory, crm_plugin, crm_clock):
    app, made = _api_app(crm_factory, crm_plugin)
    app.mail.queue("a@example.com", "s", "t", key="k")
    app.mail.transport.fail_with = ConnectionError("api.example.com unreachable")
    report = app.mail.deliver()
    assert report.retried == 1 and "transport 'api' raised ConnectionError: api.example.com unreachable" in report.error
    app.mail.transport.fail_with = None
    crm_clock.advance(minutes=2)
    assert app.mail.deliver().sent == 1


def test_a_plugin_transport_returning_too_few_results_is_retried(crm_factory, crm_plugin):
    app, made = _api_app(crm_factory, crm_plugin)
    app.mail.queue("a@example.com", "s", "t", key="a")
    app.mail.queue("b@example.com", "s", "t", key="b")
    app.mail.transport.short = True
    report = app.mail.deliver()
    assert report.retried == 2 and "returned 1 results for 2 messages" in report.error


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_plugin_transport_may_not_take_a_kernel_name(crm_factory, crm_plugin):
    from crm_core.errors import PluginError
    from crm_hookspecs.records import MailTransportSpec

    plugin = crm_plugin(
        "api", crm_mail_transports=lambda: [MailTransportSpec(name="smtp", factory=lambda crm, o: None)]
    )
    app = crm_factory(plugins=[plugin], mail={"transport": "api"})
    with pytest.raises(PluginError, match="'api' offers a mail transport named 'smtp', which is a kernel transport"):
        app.mail.deliver()


def test_a_row_edited_by_hand_into_something_unsendable_fails_alone(crm):
    from crm_core.mail.models import MailMessage

    crm.mail.queue("a@example.com", "s", "t", key="injected")
    crm.mail.queue("b@example.com", "s", "t", key="odd-address")
    crm.mail.queue("c@example.com", "s", "t", key="good")
    with crm.activate():
        MailMessage.update(subject="x\r\nBcc: victim@example.com").where(MailMessage.key == "injected").execute()
        # valid, but not as the queue writes it: parsed the slow way
        MailMessage.update(recipients='["  Bo   <b@example.com> "]').where(MailMessage.key == "odd-address").execute()
    report = crm.mail.deliver()
    assert (report.sent, report.failed) == (2, 1)
    error = crm.mail.get("injected").last_error
    assert error.startswith("the message cannot be built: ValidationError: the subject") and "line break" in error
    assert sorted(r for m in crm.mail.sent for r in m.recipients) == ["b@example.com", "c@example.com"]
