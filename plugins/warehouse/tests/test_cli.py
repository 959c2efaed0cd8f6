"""``crm sales …`` and ``crm warehouse …``: output, formats, one-line errors and exit codes."""

from __future__ import annotations

import csv
import io
import json

import pytest

from crm_hookspecs.events import ContactChanged, ContactCreated
from crm_hookspecs.records import FieldChange


@pytest.fixture
def app(warehouse_app, emit, crm_user):
    crm = warehouse_app()
    for name in ("maria", "luis"):
        crm_user(crm, name=name, roles=["manager"])
    emit(
        crm,
        ContactCreated(contact_id=1, data={"first_name": "Ana", "status": "customer", "email": "a@x.es"}, actor="luis"),
    )
    emit(
        crm,
        ContactChanged(contact_id=1, changes={"email": FieldChange("a@x.es", "b@x.es")}, actor="luis", channel="staff"),
    )
    return crm


def run(crm_cli, app, *args, ok=True, user="maria"):
    """``crm --as USER ARGS…`` (maria unless told)."""
    result = crm_cli.invoke(["--as", user, *args], app=app)
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_sales_add_stage_close_show_list(app, crm_cli):
    out = run(crm_cli, app, "sales", "add", "rfq", "1", "--amount", "1200.5", "--title", "Boiler", "--region", "north",
              "--expected-close", "2026-03-31").output  # fmt: skip
    assert out.strip() == "sales record 1 added: rfq for contact 1, 1200.50 EUR, stage new"
    assert (
        "now at proposal (win probability 50%)"
        in run(crm_cli, app, "sales", "stage", "1", "proposal", user="luis").output
    )
    assert "closed as won on 2026-01-05: 1200.50 EUR" in run(crm_cli, app, "sales", "close", "1", "--won").output
    shown = json.loads(run(crm_cli, app, "sales", "show", "1", "--format", "json").output)[0]
    assert (shown["stage"], shown["amount"], shown["created_by"], shown["expected_close_on"]) == (
        "won",
        "1200.50",
        "maria",
        "2026-03-31",
    )
    assert [(m["old_stage"], m["new_stage"], m["actor"]) for m in shown["moves"]] == [
        (None, "new", "maria"),
        ("new", "proposal", "luis"),
        ("proposal", "won", "maria"),
    ]
    table = run(crm_cli, app, "sales", "show", "1").output
    assert "stages:" in table and "lost_reason" in table
    rows = list(
        csv.DictReader(io.StringIO(run(crm_cli, app, "sales", "list", "--outcome", "won", "--format", "csv").output))
    )
    assert [(r["id"], r["kind"], r["amount"], r["stage"]) for r in rows] == [("1", "rfq", "1200.50", "won")]
    assert run(crm_cli, app, "sales", "list", "--outcome", "open").output.strip() == "(none)"
    exported = list(csv.DictReader(io.StringIO(run(crm_cli, app, "sales", "export", "--kind", "rfq").output)))
    assert [(r["id"], r["title"], r["created_by"], r["lost_reason"]) for r in exported] == [
        ("1", "Boiler", "maria", "")
    ]


def test_sales_update_and_pipeline(app, crm_cli):
    run(crm_cli, app, "sales", "add", "quote", "1", "--amount", "100", "--stage", "proposal")
    run(crm_cli, app, "sales", "add", "quote", "1", "--amount", "50", "--currency", "USD", "--stage", "proposal")
    assert (
        run(crm_cli, app, "sales", "update", "1", "--amount", "300", "--owner", "tom").output.strip()
        == "sales record 1 updated: amount, owner"
    )
    rows = json.loads(run(crm_cli, app, "sales", "pipeline", "--format", "json").output)
    proposal = {r["currency"]: (r["records"], r["amount"], r["weighted"]) for r in rows if r["stage"] == "proposal"}
    assert proposal == {"EUR": (1, "300.00", "150.00"), "USD": (1, "50.00", "25.00")}
    assert [r["records"] for r in rows if r["stage"] == "new"] == [0]
    assert (
        json.loads(run(crm_cli, app, "sales", "pipeline", "--owner", "tom", "--format", "json").output)[2]["amount"]
        == "300.00"
    )


BAD_COMMANDS = [
    (["sales", "add", "rfq", "1", "--amount", "-3"], 2, "Error: amount -3 is negative"),
    (["sales", "add", "rfq", "1", "--currency", "EURO"], 2, "Error: currency 'EURO' is not an ISO 4217 currency code"),
    (["sales", "add", "rfq", "1", "--stage", "maybe"], 2, "Error: stage 'maybe' is not in the pipeline"),
    (["sales", "add", "order", "1"], 2, "'order' is not one of 'rfp'"),
    (["sales", "add", "rfq", "1", "--expected-close", "soon"], 2, "Error: --expected-close 'soon' is not a date"),
    (["sales", "show", "9"], 5, "Error: sales record 9 does not exist"),
    (["sales", "stage", "9", "qualified"], 5, "Error: sales record 9 does not exist"),
    (["sales", "close", "9", "--won"], 5, "Error: sales record 9 does not exist"),
    (["sales", "close", "9"], 2, "say how it ended: --won or --lost"),
    (["sales", "update", "9"], 2, "nothing to change"),
    (["warehouse", "log", "fax", "hello", "--contact", "1"], 2, "'fax' is not one of 'note'"),
    (["warehouse", "log", "note", "hello"], 2, "Error: a staff action is logged against a contact or a sale"),
    (["warehouse", "log", "call", "x", "--contact", "1", "--at", "2026-01-01T10:00"], 2, "give a time zone"),
    (
        ["warehouse", "attach", "/no/such/file.pdf", "--contact", "1"],
        2,
        "Error: cannot read /no/such/file.pdf: no such file",
    ),
    (["warehouse", "attach", "/etc/hostname"], 2, "Error: a document is attached to a contact or a sale"),
    (["warehouse", "document", "4"], 5, "Error: document 4 does not exist"),
    (["warehouse", "timeline", "1", "--before", "last week"], 2, "Error: --before 'last week' is not a date"),
    (["warehouse", "audit", "--since", "01/01/2026"], 2, "Error: --since '01/01/2026' is not a date"),
]


def test_bad_input_is_one_line_and_an_exit_code(app, crm_cli):
    for args, code, message in BAD_COMMANDS:
        result = run(crm_cli, app, *args, ok=False)
        assert (result.exit_code, message in result.output) == (code, True), (args, result.output)
        assert "Traceback" not in result.output
    assert app.plugin("warehouse").sales.list() == []


def test_log_actions_and_read_the_text_from_a_file(app, crm_cli, tmp_path):
    run(crm_cli, app, "sales", "add", "rfq", "1")
    out = run(
        crm_cli, app, "warehouse", "log", "call", "Called about the offer", "--sale", "1", "--subject", "Follow-up"
    ).output
    assert out.strip() == "call 1 logged for contact 1, sales record 1"
    notes = tmp_path / "minutes.txt"
    notes.write_text("Met the finance director.\nBudget approved.", encoding="utf-8")
    run(
        crm_cli,
        app,
        "warehouse",
        "log",
        "meeting",
        "--contact",
        "1",
        "--file",
        str(notes),
        "--at",
        "2026-01-04T15:00+01:00",
    )
    rows = json.loads(run(crm_cli, app, "warehouse", "actions", "--contact", "1", "--format", "json").output)
    assert [(r["kind"], r["author"], r["occurred_at"]) for r in rows] == [
        ("call", "maria", "2026-01-05T09:00:00+00:00"),
        ("meeting", "maria", "2026-01-04T14:00:00+00:00"),
    ]
    assert rows[1]["body"] == "Met the finance director.\nBudget approved."
    assert "Follow-up" in run(crm_cli, app, "warehouse", "actions", "--kind", "call").output


def test_documents_attach_list_get_and_verify(app, crm_cli, tmp_path):
    deck = tmp_path / "deck.pdf"
    deck.write_bytes(b"%PDF deck")
    assert (
        "document 1 attached: deck.pdf, 9 bytes"
        in run(crm_cli, app, "warehouse", "attach", str(deck), "--contact", "1").output
    )
    again = run(crm_cli, app, "warehouse", "attach", str(deck), "--contact", "1", "--name", "copy.pdf").output
    assert "document 2 attached" in again and "already stored: kept once" in again
    listed = json.loads(run(crm_cli, app, "warehouse", "documents", "--contact", "1", "--format", "json").output)
    assert [d["name"] for d in listed] == ["copy.pdf", "deck.pdf"]
    out = tmp_path / "out.pdf"
    run(crm_cli, app, "warehouse", "document", "2", "--output", str(out))
    assert out.read_bytes() == b"%PDF deck"
    assert "sha256" in run(crm_cli, app, "warehouse", "document", "1").output
    assert run(crm_cli, app, "warehouse", "verify").output.strip() == "all 1 stored file(s) are present and intact"
    app.plugin("warehouse").documents.path_of(listed[0]["sha256"]).write_bytes(b"changed")
    result = run(crm_cli, app, "warehouse", "verify", ok=False)
    assert result.exit_code == 1
    assert "altered" in result.output and "1 of 1 stored file(s) missing or altered" in result.output


def test_timeline_audit_events_status_tables_rebuild(app, crm_cli, emit, make_unknown):
    emit(app, make_unknown("acme.ParcelShipped", contact_id=1, tracking="XY1"))
    run(crm_cli, app, "sales", "add", "rfq", "1")
    timeline = run(crm_cli, app, "warehouse", "timeline", "1").output
    assert "acme.ParcelShipped (unknown)" in timeline and "created (person): Ana" in timeline
    rows = json.loads(run(crm_cli, app, "warehouse", "timeline", "1", "--kind", "contact", "--format", "json").output)
    assert [r["type"] for r in rows] == ["ContactChanged", "ContactCreated"]
    assert run(crm_cli, app, "warehouse", "timeline", "1", "--before", "2026-01-01").output.strip() == "(none)"
    audit = list(
        csv.DictReader(
            io.StringIO(run(crm_cli, app, "warehouse", "audit", "--field", "email", "--format", "csv").output)
        )
    )
    assert [(r["contact_id"], r["actor"], r["old"], r["new"]) for r in audit] == [("1", "luis", "a@x.es", "b@x.es")]
    events = json.loads(run(crm_cli, app, "warehouse", "events", "--unknown", "--format", "json").output)
    assert [(e["type"], e["payload"]["tracking"]) for e in events] == [("acme.ParcelShipped (unknown)", "XY1")]
    status = {r["type"]: r for r in json.loads(run(crm_cli, app, "warehouse", "status", "--format", "json").output)}
    assert status["acme.ParcelShipped"]["known"] is False and status["ContactCreated"]["events"] == 1
    tables = {
        r["role"]: r["rows"] for r in json.loads(run(crm_cli, app, "warehouse", "tables", "--format", "json").output)
    }
    assert tables["sales"] == 1 and tables["events"] == sum(r["events"] for r in status.values())
    # 2 contact events, the parcel, the request and its entry; and the creation of the two users
    assert sum(r["events"] for t, r in status.items() if r["kind"] != "other") == 4
    assert status["acme.ParcelShipped"]["events"] == 1
    rebuilt = run(crm_cli, app, "warehouse", "rebuild").output
    assert "events copied from the outbox: 0" in rebuilt and "sales: 1 row(s)" in rebuilt


def test_the_deprecated_by_option_acts_as_that_user(app, crm_cli):
    result = crm_cli.invoke(["sales", "add", "rfq", "1", "--by", "luis"], app=app)
    assert result.exit_code == 0, result.output
    assert "--by is deprecated" in result.output
    assert app.plugin("warehouse").sales.get(1).created_by == "luis"
    both = run(crm_cli, app, "sales", "stage", "1", "qualified", "--by", "luis", ok=False)
    assert both.exit_code == 2 and "disagree" in both.output and "Traceback" not in both.output


def test_without_a_user_the_system_records_the_deprecated_crm_user_label(app, crm_cli, monkeypatch):
    monkeypatch.setenv("CRM_USER", "temp-clerk")
    result = crm_cli.invoke(["sales", "add", "rfq", "1"], app=app)
    assert result.exit_code == 0, result.output
    assert "$CRM_USER is deprecated" in result.output
    assert app.plugin("warehouse").sales.get(1).created_by == "temp-clerk"


def test_the_commands_are_listed_in_crm_help(app, crm_cli):
    out = run(crm_cli, app, "--help").output
    assert "sales" in out and "warehouse" in out
