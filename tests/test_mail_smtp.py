"""The SMTP transport against a real SMTP server (aiosmtpd) on loopback.

Each fault the issue names is played by the server: 451 and 550 replies (at
RCPT and at DATA), a connection dropped mid-batch, a server that is down, a
server that never answers; and STARTTLS, implicit TLS and login. Time moves
with the fake clock; the only real waits are the server's replies.
"""

from __future__ import annotations

import datetime as dt
import shutil
import socket
import ssl
import subprocess
import threading
from collections.abc import Callable
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from crm_core.config import load_config


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Recorder:
    """An aiosmtpd handler that keeps what it accepted and misbehaves on demand.

    ``rcpt_replies`` maps an address to the reply its RCPT gets (default 250);
    ``data_reply(n, envelope)`` may return a reply for the n-th DATA (1-based),
    or the string ``"drop"`` to cut the connection instead of answering.
    """

    def __init__(self) -> None:
        self.messages: list[Any] = []
        self.rcpt_replies: dict[str, str] = {}
        self.mail_reply: str | None = None
        self.data_reply: Callable[[int, Any], str | None] = lambda n, envelope: None
        self.connections = 0
        self.datas = 0
        self.lock = threading.Lock()

    async def handle_EHLO(self, server, session, envelope, hostname, responses):  # noqa: ANN001
        if not getattr(session, "counted", False):  # EHLO comes again after STARTTLS
            session.counted = True
            with self.lock:
                self.connections += 1
        session.host_name = hostname
        return responses

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # noqa: ANN001
        if self.mail_reply:
            return self.mail_reply
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # noqa: ANN001
        reply = self.rcpt_replies.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        with self.lock:
            self.datas += 1
            n = self.datas
        reply = self.data_reply(n, envelope)
        if reply == "drop":
            server.transport.close()
            return "421 gone"  # never reaches the client: the connection is closed
        if reply:
            return reply
        parsed = message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.messages.append((envelope.mail_from, tuple(envelope.rcpt_tos), parsed))
        return "250 Message accepted for delivery"

    def message_ids(self) -> list[str]:
        return [m[2]["Message-ID"] for m in self.messages]


@pytest.fixture
def smtp_server():
    """A plain SMTP server on loopback: ``(recorder, port)``."""
    handler = Recorder()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


@pytest.fixture
def smtp_app(crm_factory, crm_recorder, smtp_server):
    """``make(**smtp_settings)``: an app that sends to the test server, with an event recorder."""
    handler, port = smtp_server

    def make(mail: dict | None = None, **smtp: Any):
        settings = {"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port, "timeout": 5.0, **smtp}}
        settings.update(mail or {})
        return crm_factory(plugins=[("recorder", crm_recorder)], mail=settings)

    return make


def bounces(recorder) -> list[tuple[str, str]]:
    return [(e.address, e.reason) for e in recorder.events if e.type_name == "MailBounced"]


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_batch_goes_through_one_connection(smtp_app, smtp_server):
    handler, _ = smtp_server
    app = smtp_app()
    for i in range(25):
        app.mail.queue(f"Zoë {i} <user{i}@example.com>", f"Encuesta {i}", "Hola", html="<b>Hola</b>", key=f"k{i}")
    report = app.mail.deliver()
    assert report.sent == 25 and report.error is None
    assert handler.connections == 1
    assert len(handler.messages) == 25
    sender, rcpts, parsed = handler.messages[0]
    assert sender == "crm@localhost" and rcpts == ("user0@example.com",)
    assert parsed["Subject"] == "Encuesta 0" and parsed["To"] == "Zoë 0 <user0@example.com>"
    assert {m.status for m in app.mail.list("sent", limit=100)} == {"sent"}


def test_451_is_retried_with_exponential_backoff(smtp_app, smtp_server, crm_clock):
    handler, _ = smtp_server
    handler.rcpt_replies["later@example.com"] = "451 4.7.1 greylisted, try again later"
    app = smtp_app(mail={"retry_backoff": 60.0})
    app.mail.queue("later@example.com", "s", "t", key="later")
    t0 = crm_clock.now()
    report = app.mail.deliver()
    assert (report.sent, report.retried) == (0, 1)
    message = app.mail.get("later")
    assert message.status == "queued" and message.attempts == 1
    assert "451 4.7.1 greylisted" in message.last_error
    assert message.next_attempt_at == t0 + dt.timedelta(seconds=60)
    assert app.mail.deliver().sent == 0  # not due yet: nothing is tried
    crm_clock.advance(seconds=60)
    app.mail.deliver()
    assert app.mail.get("later").next_attempt_at == crm_clock.now() + dt.timedelta(seconds=120)  # doubled
    del handler.rcpt_replies["later@example.com"]
    crm_clock.advance(seconds=120)
    assert app.mail.deliver().sent == 1
    assert app.mail.get("later").status == "sent" and app.mail.get("later").attempts == 3
    assert len(handler.messages) == 1


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_temporary_failure_gives_up_after_max_attempts(smtp_app, smtp_server, crm_clock, crm_recorder):
    handler, _ = smtp_server
    handler.rcpt_replies["later@example.com"] = "452 4.2.2 mailbox full"
    app = smtp_app(mail={"max_attempts": 3, "retry_backoff": 1.0})
    app.mail.queue("later@example.com", "s", "t", key="k")
    for _ in range(3):
        app.mail.deliver()
        crm_clock.advance(seconds=10)
    message = app.mail.get("k")
    assert message.status == "failed" and message.attempts == 3
    assert message.last_error.startswith("gave up after 3 attempts") and "452 4.2.2 mailbox full" in message.last_error
    assert bounces(crm_recorder) == []  # a temporary failure is no bounce, even at the end


def test_550_at_rcpt_fails_for_good_and_emits_mail_bounced(smtp_app, smtp_server, crm_recorder):
    handler, _ = smtp_server
    handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    app = smtp_app()
    app.mail.queue("gone@example.com", "s", "t", key="gone")
    app.mail.queue("ok@example.com", "s", "t", key="ok")
    report = app.mail.deliver()
    assert (report.sent, report.failed, report.bounced) == (1, 1, 1)
    message = app.mail.get("gone")
    assert message.status == "failed" and "550 5.1.1 no such user" in message.last_error
    assert bounces(crm_recorder) == [("gone@example.com", "550 5.1.1 no such user")]
    [event] = [e for e in crm_recorder.events if e.type_name == "MailBounced"]
    assert event.message_id == message.message_id
    assert app.mail.deliver().failed == 0  # never retried


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_550_at_data_bounces_every_recipient(smtp_app, smtp_server, crm_recorder):
    handler, _ = smtp_server
    handler.data_reply = lambda n, envelope: "554 5.7.1 rejected as spam"
    app = smtp_app()
    app.mail.queue(["a@example.com", "b@example.com"], "s", "t", key="spam")
    report = app.mail.deliver()
    assert (report.failed, report.bounced) == (1, 2)
    assert [a for a, _ in bounces(crm_recorder)] == ["a@example.com", "b@example.com"]
    assert "554 5.7.1 rejected as spam" in app.mail.get("spam").last_error


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_refused_sender_fails_without_bouncing_the_recipient(smtp_app, smtp_server, crm_recorder):
    handler, _ = smtp_server
    handler.mail_reply = "553 5.7.1 sender not allowed"
    app = smtp_app()
    app.mail.queue("a@example.com", "s", "t", key="k")
    report = app.mail.deliver()
    assert report.failed == 1 and report.bounced == 0
    assert "check [crm.mail] sender" in app.mail.get("k").last_error
    assert bounces(crm_recorder) == []


def test_partial_delivery_retries_only_the_deferred_recipient(smtp_app, smtp_server, crm_recorder, crm_clock):
    handler, _ = smtp_server
    handler.rcpt_replies["gone@example.com"] = "550 5.1.1 no such user"
    handler.rcpt_replies["later@example.com"] = "450 4.2.1 try later"
    app = smtp_app()
    app.mail.queue(["ok@example.com", "gone@example.com", "later@example.com"], "s", "t", key="k")
    report = app.mail.deliver()
    assert report.bounced == 1 and report.retried == 1
    assert [m[1] for m in handler.messages] == [("ok@example.com",)]
    message = app.mail.get("k")
    assert message.status == "queued" and message.remaining == ("later@example.com",)
    del handler.rcpt_replies["later@example.com"]
    crm_clock.advance(minutes=5)
    assert app.mail.deliver().sent == 1
    assert [m[1] for m in handler.messages] == [("ok@example.com",), ("later@example.com",)]
    assert app.mail.get("k").status == "sent" and app.mail.get("k").remaining is None
    # the To header still shows everyone, and both copies are the same message
    assert handler.messages[0][2]["Message-ID"] == handler.messages[1][2]["Message-ID"]


def test_a_connection_dropped_mid_batch_loses_nothing_and_sends_nothing_twice(smtp_app, smtp_server, crm_clock):
    handler, _ = smtp_server
    handler.data_reply = lambda n, envelope: "drop" if n == 3 else None
    app = smtp_app()
    for i in range(6):
        app.mail.queue(f"user{i}@example.com", f"message {i}", "t", key=f"k{i}")
    report = app.mail.deliver()
    assert report.sent == 2 and report.error is not None and "closed the connection" in report.error
    statuses = {m.key: (m.status, m.attempts) for m in app.mail.list(limit=10)}
    assert statuses["k0"] == ("sent", 1) and statuses["k1"] == ("sent", 1)
    assert statuses["k2"] == ("queued", 1)  # in flight when the line dropped: retried later
    assert all(statuses[f"k{i}"] == ("queued", 0) for i in (3, 4, 5))  # never tried: no attempt counted
    assert app.mail.deliver().sent == 3  # the untried ones are due at once
    crm_clock.advance(minutes=2)
    assert app.mail.deliver().sent == 1
    ids = handler.message_ids()
    assert len(ids) == 6 and len(set(ids)) == 6
    assert sorted(m[2]["Subject"] for m in handler.messages) == [f"message {i}" for i in range(6)]


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_server_that_is_down_is_retried(crm_factory, crm_clock):
    port = free_port()  # nothing listens there
    app = crm_factory(mail={"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port, "timeout": 2.0}})
    for i in range(3):
        app.mail.queue(f"user{i}@example.com", "s", "t", key=f"k{i}")
    report = app.mail.deliver()
    assert report.sent == 0 and report.retried == 3
    assert f"cannot connect to the SMTP server 127.0.0.1:{port}" in report.error
    assert {m.status for m in app.mail.list()} == {"queued"}
    assert "Connection refused" in app.mail.get("k0").last_error


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_a_server_that_never_answers_times_out_and_is_retried(crm_factory):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(5)  # accepts connections (in the backlog) but never says hello
    try:
        port = listener.getsockname()[1]
        app = crm_factory(mail={"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": port, "timeout": 0.5}})
        app.mail.queue("a@example.com", "s", "t", key="k")
        report = app.mail.deliver()
    finally:
        listener.close()
    assert report.retried == 1 and "timed out" in report.error
    assert app.mail.get("k").status == "queued"


def test_the_rate_limit_holds_the_rest_back(smtp_app, smtp_server, crm_clock):
    handler, _ = smtp_server
    app = smtp_app(mail={"rate_limit": 5})
    for i in range(12):
        app.mail.queue(f"user{i}@example.com", "s", "t", key=f"k{i}")
    first = app.mail.deliver()
    assert first.sent == 5 and first.rate_limited
    assert app.mail.deliver().sent == 0  # still inside the same minute
    crm_clock.advance(seconds=61)
    assert app.mail.deliver().sent == 5
    crm_clock.advance(seconds=61)
    last = app.mail.deliver()
    assert last.sent == 2 and not last.rate_limited
    assert len(handler.messages) == 12


@pytest.mark.sqlite_only  # what this checks does not depend on the backend
def test_deliver_with_a_limit_sends_at_most_that_many(smtp_app, smtp_server):
    app = smtp_app(mail={"batch_size": 3})
    for i in range(10):
        app.mail.queue(f"user{i}@example.com", "s", "t")
    assert app.mail.deliver(limit=7).sent == 7
    assert app.mail.deliver().sent == 3


# -- TLS and login -----------------------------------------------------------


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is needed to make a test certificate")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return cert, key


def _authenticator(server, session, envelope, mechanism, auth_data):  # noqa: ANN001
    ok = isinstance(auth_data, LoginPassword) and auth_data.login == b"crm" and auth_data.password == b"s3cret"
    return AuthResult(success=ok, handled=False)  # handled=False: aiosmtpd answers 535 itself


@pytest.fixture
def tls_server(certificate):
    cert, key = certificate
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(cert), str(key))
    servers = []

    def start(implicit: bool):
        handler = Recorder()
        port = free_port()
        if implicit:
            # aiosmtpd does not count implicit TLS as TLS for AUTH: allow it explicitly
            controller = Controller(
                handler,
                hostname="127.0.0.1",
                port=port,
                ssl_context=context,
                authenticator=_authenticator,
                auth_require_tls=False,
                ready_timeout=5,
                auth_exclude_mechanism=["LOGIN"],
            )
        else:
            controller = Controller(
                handler,
                hostname="127.0.0.1",
                port=port,
                tls_context=context,
                require_starttls=True,
                authenticator=_authenticator,
                auth_require_tls=True,
                ready_timeout=5,
                # smtplib's AUTH LOGIN with an initial response stalls aiosmtpd
                auth_exclude_mechanism=["LOGIN"],
            )
        controller.start()
        servers.append(controller)
        return handler, port

    yield start
    for controller in servers:
        controller.stop()


def _tls_app(tmp_path, port: int, certificate, security: str, password: str, crm_factory):
    cert, _ = certificate
    (tmp_path / "crm.toml").write_text(
        f"""
[crm.mail]
transport = "smtp"
[crm.mail.smtp]
host = "localhost"
port = {port}
security = "{security}"
username = "crm"
password = "env:CRM_TEST_SMTP_PASSWORD"
ca_file = "{cert}"
timeout = 5.0
""",
        encoding="utf-8",
    )
    config = load_config(tmp_path / "crm.toml", environ={"CRM_TEST_SMTP_PASSWORD": password})
    assert config.redacted()["crm"]["mail"]["smtp"]["password"] == "***"
    return crm_factory(mail={"transport": "smtp", "smtp": {k: v for k, v in vars_of(config.core.mail.smtp).items()}})


def vars_of(settings) -> dict:
    import attrs

    return attrs.asdict(settings)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("security", ["starttls", "tls"])
def test_tls_and_login_with_a_password_from_the_environment(tls_server, certificate, crm_factory, tmp_path, security):
    handler, port = tls_server(implicit=security == "tls")
    app = _tls_app(tmp_path, port, certificate, security, "s3cret", crm_factory)
    app.mail.queue("a@example.com", "over TLS", "t", key="k")
    assert app.mail.deliver().sent == 1
    assert handler.messages[0][2]["Subject"] == "over TLS"


@pytest.mark.sqlite_only
def test_a_wrong_password_is_retried_and_says_what_to_check(tls_server, certificate, crm_factory, tmp_path):
    handler, port = tls_server(implicit=False)
    app = _tls_app(tmp_path, port, certificate, "starttls", "wrong", crm_factory)
    app.mail.queue("a@example.com", "s", "t", key="k")
    report = app.mail.deliver()
    assert report.retried == 1 and handler.messages == []
    assert "SMTP login to localhost" in report.error and "check [crm.mail.smtp] username and password" in report.error


@pytest.mark.sqlite_only
def test_an_untrusted_certificate_is_refused(tls_server, crm_factory):
    handler, port = tls_server(implicit=False)
    app = crm_factory(
        mail={"transport": "smtp", "smtp": {"host": "localhost", "port": port, "security": "starttls", "timeout": 5.0}}
    )
    app.mail.queue("a@example.com", "s", "t", key="k")
    report = app.mail.deliver()
    assert report.retried == 1 and "CERTIFICATE_VERIFY_FAILED" in report.error


@pytest.mark.sqlite_only
def test_starttls_required_but_not_offered(smtp_app):
    app = smtp_app(security="starttls")
    app.mail.queue("a@example.com", "s", "t", key="k")
    report = app.mail.deliver()
    assert "does not offer STARTTLS" in report.error


@pytest.mark.sqlite_only
def test_a_username_without_a_password_is_a_config_error(smtp_app):
    from crm_core.errors import ConfigError

    app = smtp_app(username="crm")
    app.mail.queue("a@example.com", "s", "t", key="k")
    with pytest.raises(ConfigError, match="username is set but password is not"):
        app.mail.deliver()
    assert app.mail.get("k").status == "queued"  # nothing claimed, nothing lost
