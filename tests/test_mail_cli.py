"""`crm mail queue|show|retry|deliver` against an app with the memory transport."""

from __future__ import annotations

import json

import pytest

# the commands format what the API returns; the API is tested on every backend
pytestmark = pytest.mark.sqlite_only


def test_mail_queue_lists_waiting_and_failed_messages(crm, crm_cli):
    crm.mail.transport.bounce("gone@example.com")
    crm.mail.queue("gone@example.com", "Bounces", "t", key="gone")
    crm.mail.queue("ok@example.com", "Goes", "t", key="ok")
    crm.mail.deliver()
    crm.mail.queue("Ana <ana@example.com>", "=SUM(A1)", "t", key="new")
    result = crm_cli.invoke(["mail", "queue"], app=crm)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split() == [
        "id",
        "key",
        "to",
        "subject",
        "status",
        "attempts",
        "next_attempt_at",
        "sent_at",
        "last_error",
    ]
    assert any("gone" in line and "failed" in line and "550" in line for line in lines)
    assert not any(" ok " in f" {line} " for line in lines[2:-2])  # sent messages only with --status
    assert lines[-1] == "1 queued, 0 sending, 1 sent, 1 failed, 0 cancelled"
    every = json.loads(crm_cli.invoke(["mail", "queue", "--status", "all", "--format", "json"], app=crm).output)
    assert [m["key"] for m in every] == ["new", "ok", "gone"]
    csv_text = crm_cli.invoke(["mail", "queue", "--status", "queued", "--format", "csv"], app=crm).output
    assert "'=SUM(A1)" in csv_text  # formula-safe CSV
    sent_only = json.loads(crm_cli.invoke(["mail", "queue", "--status", "sent", "--format", "json"], app=crm).output)
    assert [m["key"] for m in sent_only] == ["ok"]


def test_mail_show_text_json_and_raw(crm, crm_cli):
    queued = crm.mail.queue(
        "Zoë <zoe@example.com>",
        "Größe",
        "Hallo Zoë",
        html="<p>Hallo</p>",
        key="k",
        attachments=[("a.txt", b"abc")],
        headers={"X-Campaign": "7"},
    )
    text = crm_cli.invoke(["mail", "show", "k"], app=crm).output
    assert "Subject: Größe" in text and "To: Zoë <zoe@example.com>" in text and "X-Campaign: 7" in text
    assert "attachment: a.txt (text/plain, 3 bytes)" in text and "Hallo Zoë" in text
    data = json.loads(crm_cli.invoke(["mail", "show", str(queued.id), "--format", "json"], app=crm).output)
    assert data["key"] == "k" and data["html"] == "<p>Hallo</p>" and data["attachments"][0]["bytes"] == 3
    raw = crm_cli.invoke(["mail", "show", "k", "--raw"], app=crm).output
    assert f"Message-ID: {queued.message_id}" in raw and "Subject: =?utf-8?" in raw


def test_mail_show_of_an_unknown_message_is_one_line(crm, crm_cli):
    result = crm_cli.invoke(["mail", "show", "nope"], app=crm)
    assert result.exit_code == 5
    assert result.output.strip().splitlines() == [
        "Error: no queued message has the id or key 'nope'; list them with 'crm mail queue --status all'"
    ]


def test_mail_retry_and_deliver(crm, crm_cli):
    crm.mail.transport.bounce("gone@example.com")
    crm.mail.queue("gone@example.com", "s", "t", key="gone")
    assert crm_cli.invoke(["mail", "deliver"], app=crm).output.strip() == "0 sent, 0 to retry, 1 failed, 1 bounced"
    crm.mail.transport.clear()
    result = crm_cli.invoke(["mail", "retry", "gone", "--deliver"], app=crm)
    assert result.exit_code == 0
    assert result.output.splitlines() == ["1 message(s) queued again", "1 sent, 0 to retry, 0 failed, 0 bounced"]
    refused = crm_cli.invoke(["mail", "retry", "gone"], app=crm)
    assert refused.exit_code == 2 and "is sent; only failed or waiting messages can be retried" in refused.output
    assert crm_cli.invoke(["mail", "retry"], app=crm).output.strip() == "0 message(s) queued again"


def test_mail_retry_waiting_makes_backed_off_messages_due(crm, crm_cli):
    crm.mail.transport.defer("later@example.com")
    crm.mail.queue("later@example.com", "s", "t", key="later")
    crm.mail.deliver()
    crm.mail.transport.clear()
    assert crm.mail.deliver().sent == 0  # backing off
    assert crm_cli.invoke(["mail", "retry", "--waiting"], app=crm).output.strip() == "1 message(s) queued again"
    assert crm.mail.deliver().sent == 1


def test_mail_deliver_with_the_server_down_exits_non_zero(crm_factory, crm_cli):
    app = crm_factory(mail={"transport": "smtp", "smtp": {"host": "127.0.0.1", "port": 1, "timeout": 2.0}})
    app.mail.queue("a@example.com", "s", "t")
    result = crm_cli.invoke(["mail", "deliver"], app=app)
    assert result.exit_code == 1 and "cannot connect to the SMTP server 127.0.0.1:1" in result.output
