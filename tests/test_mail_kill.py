"""A worker SIGKILLed while it hands a batch to SMTP sends at most one message twice.

A real SMTP server (aiosmtpd, in this process) receives the mail; the
sender is a child process delivering the queue, as ``crm worker`` does. The
server holds its reply to one DATA (it has the message: a real server would
deliver it) until the test has killed the child, which therefore dies
waiting for that "250". Three such kills, each at a different point of a
batch of 100, then an undisturbed delivery of the rest: every message
arrives, and only the three held ones arrive twice, each time with the
Message-ID it was queued with, so receivers can drop the copy.
"""

from __future__ import annotations

import asyncio
import collections
import datetime as dt
import os
import re
import signal
import socket
import subprocess
import sys
import textwrap
import threading
from email import message_from_bytes
from email.policy import default as default_policy
from pathlib import Path

import pytest
from aiosmtpd.controller import Controller

UTC = dt.UTC
NOW = dt.datetime(2026, 1, 5, 9, 0, tzinfo=UTC)  # the crm_clock fixture's start
LEASE = 30.0

CHILD = textwrap.dedent(
    """
    import datetime as dt, sys
    from crm_core.app import CRM
    from crm_core.clock import FakeClock
    from crm_core.config import Config, CoreSettings, structure_section

    url, now_iso, port, lease = sys.argv[1:5]
    mail = {"transport": "smtp", "batch_size": 100, "lease": float(lease),
            "smtp": {"host": "127.0.0.1", "port": int(port), "timeout": 60.0}}
    core = structure_section({"database": url, "mail": mail}, CoreSettings, "child", "crm")
    app = CRM(config=Config(core=core, enabled=()), clock=FakeClock(dt.datetime.fromisoformat(now_iso)), strict=True)
    print(app.mail.deliver(), flush=True)  # killed before it returns
    app.close()
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class HoldingServer:
    """Keeps every message it accepts; holds the reply to the ``hold_at``-th DATA until released."""

    def __init__(self) -> None:
        self.received: list[tuple[str, str]] = []  # (recipient, Message-ID)
        self.lock = threading.Lock()
        self.datas = 0
        self.hold_at: int | None = None
        self.holding = threading.Event()
        self.release = threading.Event()

    def arm(self, hold_at: int) -> None:
        with self.lock:
            self.datas, self.hold_at = 0, hold_at
        self.holding.clear()
        self.release.clear()

    async def handle_DATA(self, server, session, envelope):  # noqa: ANN001
        parsed = message_from_bytes(envelope.content, policy=default_policy)
        with self.lock:
            self.datas += 1
            hold = self.datas == self.hold_at
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, parsed["Message-ID"]))
        if hold:  # the message is the server's now; the client waits for the 250
            self.holding.set()
            while not self.release.is_set():
                await asyncio.sleep(0.01)
        return "250 Message accepted for delivery"


@pytest.fixture
def holding_server():
    handler = HoldingServer()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=5)
    controller.start()
    try:
        yield handler, port
    finally:
        handler.release.set()
        controller.stop()


def _kill_at(tmp_path: Path, url: str, port: int, server: HoldingServer, now: dt.datetime, hold_at: int) -> None:
    """Run a delivering child until the server holds its ``hold_at``-th message, then SIGKILL it."""
    script = tmp_path / "child.py"
    script.write_text(CHILD, encoding="utf-8")
    env = dict(os.environ)
    env.pop("CRM_PLUGINS", None)
    server.arm(hold_at)
    child = subprocess.Popen(
        [sys.executable, str(script), url, now.isoformat(), str(port), str(LEASE)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    try:
        if not server.holding.wait(timeout=60):
            child.kill()
            out, err = child.communicate(timeout=30)
            raise AssertionError(f"the child never reached message {hold_at}: {out.decode()} {err.decode()}")
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
        server.release.set()
    assert child.returncode == -signal.SIGKILL


def test_three_kills_mid_batch_duplicate_one_message_each_with_its_message_id(
    crm_factory, crm_db_url, crm_clock, holding_server, tmp_path
):
    server, port = holding_server
    app = crm_factory(
        mail={"transport": "smtp", "batch_size": 100, "lease": LEASE, "smtp": {"host": "127.0.0.1", "port": port}}
    )
    total = 450
    for i in range(total):
        app.mail.queue(f"user{i}@example.com", f"Survey {i}", "Two minutes of your time?", key=f"m{i}")
    # each kill comes after the lease of the one before ran out, so the
    # next child takes the dead one's batch back first
    for round_, hold_at in enumerate([37, 150, 77]):
        _kill_at(tmp_path, crm_db_url, port, server, NOW + dt.timedelta(seconds=round_ * (LEASE + 1)), hold_at)
        counts = app.mail.counts()
        # at most the held message is still "sending"; every one before it is recorded as sent
        assert counts["sending"] <= 100 and counts["sent"] >= len({r for r, _ in server.received}) - 1
    crm_clock.set(NOW + dt.timedelta(seconds=3 * (LEASE + 1)))
    report = app.mail.deliver()
    assert report.reclaimed > 0 and report.error is None
    assert app.mail.counts() == {"queued": 0, "sending": 0, "sent": total, "failed": 0, "cancelled": 0}

    copies = collections.Counter(rcpt for rcpt, _ in server.received)
    assert set(copies) == {f"user{i}@example.com" for i in range(total)}  # nothing lost
    twice = sorted(rcpt for rcpt, n in copies.items() if n > 1)
    assert len(twice) <= 3 and max(copies.values()) <= 2, f"{len(twice)} duplicates after 3 kills: {twice[:10]}"
    assert len(twice) == 3  # the server held one message per kill: exactly those came again
    for rcpt in twice:
        ids = {mid for r, mid in server.received if r == rcpt}
        queued = app.mail.get(f"m{rcpt.removeprefix('user').split('@')[0]}").message_id
        assert ids == {queued}, f"{rcpt}: Message-IDs {ids}, queued as {queued}"


def test_a_plugin_batch_transport_still_gets_whole_batches(crm_factory, crm_plugin):
    """A transport with ``send`` only (no ``send_each``) is handed the batch at once, as before."""
    from crm_core.mail import SendResult
    from crm_hookspecs.records import MailTransportSpec

    calls: list[int] = []

    class Batch:
        name = "batchonly"

        def send(self, envelopes):
            calls.append(len(envelopes))
            return [SendResult.sent() for _ in envelopes]

    plugin = crm_plugin(
        "batchy",
        crm_mail_transports=lambda: [MailTransportSpec(name="batchonly", factory=lambda crm, options: Batch())],
    )
    app = crm_factory(plugins=[plugin], mail={"transport": "batchonly", "batch_size": 10})
    for i in range(25):
        app.mail.queue(f"u{i}@example.com", "s", "t", key=f"b{i}")
    assert app.mail.deliver().sent == 25
    assert calls == [10, 10, 5]


def test_a_send_each_transport_is_asked_for_the_next_message_only_after_the_last_is_recorded(crm_factory, crm_plugin):
    from crm_core.mail import SendResult
    from crm_core.mail.models import MailMessage
    from crm_hookspecs.records import MailTransportSpec

    seen: list[tuple[str, dict[str, str]]] = []
    holder: dict = {}

    class Stepwise:
        name = "stepwise"

        def send(self, envelopes):
            return list(self.send_each(envelopes))

        def send_each(self, envelopes):
            for env in envelopes:
                app = holder["app"]
                with app.activate():
                    statuses = {m.key: m.status for m in MailMessage.select(MailMessage.key, MailMessage.status)}
                seen.append((env.key, statuses))
                yield SendResult.sent()

    plugin = crm_plugin(
        "stepper",
        crm_mail_transports=lambda: [MailTransportSpec(name="stepwise", factory=lambda crm, options: Stepwise())],
    )
    app = holder["app"] = crm_factory(plugins=[plugin], mail={"transport": "stepwise", "batch_size": 50})
    for i in range(5):
        app.mail.queue(f"u{i}@example.com", "s", "t", key=f"s{i}")
    assert app.mail.deliver().sent == 5
    for n, (key, statuses) in enumerate(seen):
        assert key == f"s{n}"
        # every message before this one is already recorded as sent; this one and the rest are "sending"
        assert [statuses[f"s{i}"] for i in range(5)] == ["sent"] * n + ["sending"] * (5 - n)


def test_a_send_each_transport_that_breaks_midway_keeps_what_it_sent(crm_factory, crm_plugin):
    from crm_core.mail import SendResult
    from crm_hookspecs.records import MailTransportSpec

    class Breaks:
        name = "breaks"

        def send(self, envelopes):
            return list(self.send_each(envelopes))

        def send_each(self, envelopes):
            yield SendResult.sent()
            yield SendResult.sent()
            raise ConnectionResetError("the API went away")

    plugin = crm_plugin(
        "breaker", crm_mail_transports=lambda: [MailTransportSpec(name="breaks", factory=lambda crm, options: Breaks())]
    )
    app = crm_factory(plugins=[plugin], mail={"transport": "breaks"})
    for i in range(5):
        app.mail.queue(f"u{i}@example.com", "s", "t", key=f"x{i}")
    report = app.mail.deliver()
    assert (report.sent, report.retried) == (2, 3)
    assert [app.mail.get(f"x{i}").status for i in range(5)] == ["sent", "sent", "queued", "queued", "queued"]
    assert "transport 'breaks' raised ConnectionResetError: the API went away" in app.mail.get("x2").last_error


def test_each_accepted_message_is_one_single_row_update_and_leaves_the_session_as_it_was(crm_factory, caplog):
    import logging

    from crm_core.storage import dialect

    app = crm_factory(mail={"batch_size": 20})
    for i in range(20):
        app.mail.queue(f"u{i}@example.com", "s", "t", key=f"c{i}")
    caplog.set_level(logging.DEBUG, logger="peewee")
    assert app.mail.deliver().sent == 20
    statements = [r.msg for r in caplog.records if r.name == "peewee" and isinstance(r.msg, tuple)]  # (sql, params)
    marks = [
        (sql, params)
        for sql, params in statements
        if "UPDATE" in sql and "crm_mail_message" in sql and "sent" in params
    ]
    assert len(marks) == 20  # one per message…
    assert all(re.search(r"WHERE .*[`\"]id[`\"] = ", sql) for sql, _ in marks)  # …each by its own id
    assert len(statements) - len(marks) <= 12  # and the two claims (the second finds nothing)
    if dialect(app.database) == "postgresql":
        assert all(sql.startswith("SET LOCAL synchronous_commit TO OFF; UPDATE") for sql, _ in marks)
        with app.activate():
            assert app.database.execute_sql("SHOW synchronous_commit").fetchone()[0] == "on"


def test_a_failed_record_stops_the_batch_before_the_next_message_is_sent(
    crm_factory, crm_clock, holding_server, monkeypatch
):
    """The database fails while message 3 is being written down: message 4 is never sent, the
    delivery raises, and after the lease only message 3 goes twice."""
    import peewee

    from crm_core.mail.recorder import SentStatement

    server, port = holding_server
    app = crm_factory(
        mail={
            "transport": "smtp",
            "batch_size": 10,
            "lease": LEASE,
            "smtp": {"host": "127.0.0.1", "port": port, "timeout": 10.0},
        }
    )
    for i in range(6):
        app.mail.queue(f"user{i}@example.com", "s", "t", key=f"f{i}")
    real = SentStatement.run
    calls = {"n": 0}

    def flaky(self, pk, now):
        calls["n"] += 1
        if calls["n"] == 3:
            raise peewee.OperationalError("server closed the connection unexpectedly")
        return real(self, pk, now)

    monkeypatch.setattr(SentStatement, "run", flaky)
    with pytest.raises(peewee.OperationalError, match="server closed the connection"):
        app.mail.deliver()
    assert [rcpt for rcpt, _ in server.received] == [f"user{i}@example.com" for i in range(3)]
    assert app.mail.counts()["sent"] == 2
    monkeypatch.setattr(SentStatement, "run", real)
    crm_clock.advance(seconds=LEASE + 1)
    assert app.mail.deliver().sent == 4
    copies = collections.Counter(rcpt for rcpt, _ in server.received)
    assert [r for r, n in copies.items() if n > 1] == ["user2@example.com"] and len(copies) == 6


def test_a_failed_record_with_the_memory_transport_sends_nothing_more(crm_factory, crm_clock, monkeypatch):
    """The test kit's transport keeps the same bound."""
    import peewee

    from crm_core.mail.recorder import SentStatement

    app = crm_factory(mail={"batch_size": 10, "lease": LEASE})
    for i in range(6):
        app.mail.queue(f"user{i}@example.com", "s", "t", key=f"g{i}")
    real = SentStatement.run
    calls = {"n": 0}

    def flaky(self, pk, now):
        calls["n"] += 1
        if calls["n"] == 3:
            raise peewee.OperationalError("database is locked")
        return real(self, pk, now)

    monkeypatch.setattr(SentStatement, "run", flaky)
    with pytest.raises(peewee.OperationalError, match="database is locked"):
        app.mail.deliver()
    assert [m.key for m in app.mail.sent] == ["g0", "g1", "g2"]
    monkeypatch.setattr(SentStatement, "run", real)
    crm_clock.advance(seconds=LEASE + 1)
    assert app.mail.deliver().sent == 4
    assert sorted(m.key for m in app.mail.sent) == sorted(["g0", "g1", "g2", "g2", "g3", "g4", "g5"])
