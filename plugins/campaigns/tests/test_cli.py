"""``crm campaigns …``: every command, and its errors as one clear line."""

from __future__ import annotations

import datetime as dt
import json


def _files(tmp_path, text="Hello {{ first_name }}\n", html="<p>Hello {{ first_name }}</p>"):
    (tmp_path / "news.txt").write_text(text, encoding="utf-8")
    (tmp_path / "news.html").write_text(html, encoding="utf-8")
    return str(tmp_path / "news.txt"), str(tmp_path / "news.html")


def test_create_list_show_edit_preview_and_test(app, audience, manager, crm_cli, tmp_path, mailed):
    text, html = _files(tmp_path)
    ana = audience.add("news")
    made = crm_cli.invoke(
        ["campaigns", "create", "News", "--subject", "Hi {{ first_name }}", "--text", text, "--html", html], app=app
    )
    assert made.exit_code == 0, made.output
    assert "campaign 1 'News' created" in made.output
    listed = crm_cli.invoke(["campaigns", "list", "--format", "json"], app=app)
    assert json.loads(listed.output)[0]["name"] == "News"
    edited = crm_cli.invoke(["campaigns", "edit", "News", "--subject", "Hola {{ first_name }}", "--no-html"], app=app)
    assert edited.exit_code == 0 and "revision 2" in edited.output
    shown = crm_cli.invoke(["campaigns", "preview", "News", "--contact", str(ana)], app=app)
    assert "subject: Hola Ana1" in shown.output and "Hello Ana1" in shown.output
    tested = crm_cli.invoke(["--as", "boss", "campaigns", "test", "News"], app=app)
    assert tested.exit_code == 0 and "test queued to boss@example.com" in tested.output
    assert mailed(app) == ["boss@example.com"]
    show = crm_cli.invoke(["campaigns", "show", "News"], app=app)
    assert "subject: Hola {{ first_name }}" in show.output and "--- no html part ---" in show.output


def test_send_schedule_cancel_sends_recur_and_run(app, audience, manager, campaign, crm_cli, crm_clock, mailed):
    audience.add("news")
    audience.add("news", do_not_contact=True)
    dry = crm_cli.invoke(["--as", "boss", "campaigns", "send", "November news", "--to", "news", "--dry-run"], app=app)
    assert dry.exit_code == 0 and "would send campaign 'November news' to 1 contact(s) of 'news'" in dry.output
    assert "1 do-not-contact" in dry.output and app.mail.list() == []
    sent = crm_cli.invoke(["--as", "boss", "campaigns", "send", "November news", "--to", "news"], app=app)
    assert sent.exit_code == 0, sent.output
    assert "queued to 1 address(es) of 'news'" in sent.output and "1 do-not-contact" in sent.output
    at = f"{app.clock.now() + dt.timedelta(days=3):%Y-%m-%d} 09:00"
    later = crm_cli.invoke(
        ["--as", "boss", "campaigns", "schedule", "November news", "--to", "news", "--at", at], app=app
    )
    assert later.exit_code == 0 and f"scheduled for {at}" in later.output, later.output
    cancelled = crm_cli.invoke(["--as", "boss", "campaigns", "cancel", "2"], app=app)
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
    rows = json.loads(crm_cli.invoke(["campaigns", "sends", "--format", "json"], app=app).output)
    assert [(r["id"], r["status"], r["queued"]) for r in rows] == [(2, "cancelled", 0), (1, "sent", 1)]
    recur = crm_cli.invoke(
        ["--as", "boss", "campaigns", "recur", "November news", "--to", "news", "--rrule", "FREQ=DAILY;BYHOUR=9"],
        app=app,
    )
    assert recur.exit_code == 0 and "recurring newsletter 1" in recur.output
    listed = crm_cli.invoke(["campaigns", "recurring"], app=app)
    assert "FREQ=DAILY" in listed.output
    crm_clock.advance(dt.timedelta(days=1))
    ran = crm_cli.invoke(["campaigns", "run"], app=app)
    assert ran.exit_code == 0 and ran.output.startswith("1 send(s) queued")
    stopped = crm_cli.invoke(["--as", "boss", "campaigns", "stop", "1"], app=app)
    assert stopped.exit_code == 0 and "stopped" in stopped.output
    assert len(mailed(app)) == 2


def test_errors_are_one_clear_line(app, audience, seller, campaign, crm_cli, tmp_path):
    audience.add("news")
    missing = crm_cli.invoke(
        ["campaigns", "create", "X", "--subject", "s", "--text", str(tmp_path / "no.txt")], app=app
    )
    assert missing.exit_code == 2 and "there is no file" in missing.output and "--text" in missing.output
    (tmp_path / "latin1.txt").write_bytes("Caf\xe9".encode("latin-1"))
    latin = crm_cli.invoke(
        ["campaigns", "create", "X", "--subject", "s", "--text", str(tmp_path / "latin1.txt")], app=app
    )
    assert latin.exit_code == 2 and "is not UTF-8 text" in latin.output
    text, _ = _files(tmp_path, text="Hello {{ frist_name }}")
    bad = crm_cli.invoke(["campaigns", "create", "X", "--subject", "s", "--text", text], app=app)
    assert bad.exit_code == 2 and "text, line 1: 'frist_name' is undefined" in bad.output
    assert "Traceback" not in bad.output
    denied = crm_cli.invoke(["--as", "ana", "campaigns", "send", "November news", "--to", "news"], app=app)
    assert denied.exit_code == 6 and "campaigns.send" in denied.output
    when = crm_cli.invoke(["campaigns", "schedule", "November news", "--to", "news", "--at", "next tuesday"], app=app)
    assert when.exit_code == 2 and "is not a date and time" in when.output
    unknown = crm_cli.invoke(["campaigns", "send", "November news", "--to", "nope"], app=app)
    assert unknown.exit_code != 0 and "nope" in unknown.output
    gone = crm_cli.invoke(["campaigns", "cancel", "99"], app=app)
    assert gone.exit_code != 0 and "no send 99" in gone.output
    nothing = crm_cli.invoke(["campaigns", "edit", "November news"], app=app)
    assert nothing.exit_code == 2 and "nothing to change" in nothing.output


def test_a_send_stopped_by_an_error_shows_it_and_can_be_cancelled(app, audience, manager, crm_cli, tmp_path):
    audience.add("news")
    (tmp_path / "t.txt").write_text("Hello", encoding="utf-8")
    made = crm_cli.invoke(
        [
            "campaigns",
            "create",
            "Orgs",
            "--subject",
            "{{ contact.organization_name.upper() }}",
            "--text",
            str(tmp_path / "t.txt"),
        ],
        app=app,
    )
    assert made.exit_code == 0, made.output
    stopped = crm_cli.invoke(["--as", "boss", "campaigns", "send", "Orgs", "--to", "news"], app=app)
    assert stopped.exit_code == 2 and "send 1 stopped: subject, line 1" in stopped.output
    rows = json.loads(crm_cli.invoke(["campaigns", "sends", "--format", "json"], app=app).output)
    assert rows[0]["status"] == "sending" and rows[0]["error"].startswith("subject, line 1")
    cancelled = crm_cli.invoke(["--as", "boss", "campaigns", "cancel", "1"], app=app)
    assert cancelled.exit_code == 0 and "cancelled" in cancelled.output
