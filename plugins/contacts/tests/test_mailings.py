"""List and segment commands, members files, e-mail distribution lists and postal labels."""

from __future__ import annotations

import csv
import io

import pytest

from crm_core.errors import NotFoundError, ValidationError


@pytest.fixture
def app(contacts_app):
    return contacts_app()


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def address(city="Madrid", country="ES", street="Calle Mayor 1", postal="28001"):
    return [{"street": street, "city": city, "postal_code": postal, "country": country}]


@pytest.fixture
def people(book):
    acme = book.create(kind="organization", display_name="Acme SL")
    return {
        "ana": book.create(
            first_name="Ana",
            last_name="García",
            email="ana@example.com",
            addresses=address(),
            organization_id=acme.id,
            language="es",
        ),
        "ben": book.create(
            first_name="Ben",
            last_name="Jones",
            email="ben@example.com",
            addresses=address("Leeds", "GB", "1 High Street", "LS1 1UR"),
        ),
        "cai": book.create(first_name="Cai", phone="+34612345678", addresses=address("Bilbao")),
        "dan": book.create(first_name="Dan", email="dan@example.com", addresses=address(), do_not_contact=True),
        "eva": book.create(first_name="Eva", email="eva@example.com"),
        "fay": book.create(first_name="Fay", email="fay@example.com", addresses=address("Sevilla")),
    }


@pytest.fixture
def newsletter(book, people):
    book.create_list("newsletter", "Monthly news")
    book.add_to_list("newsletter", [p.id for p in people.values()])
    book.unsubscribe(people["fay"].id, "newsletter")
    return "newsletter"


def test_distribution_list_honours_flags_and_counts_who_was_left_out(book, people, newsletter):
    out = io.StringIO()
    counts = book.distribution_list(newsletter, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["email"] for r in rows] == ["ana@example.com", "ben@example.com", "eva@example.com"]
    assert rows[0] == {
        "email": "ana@example.com",
        "name": "Ana García",
        "first_name": "Ana",
        "last_name": "García",
        "language": "es",
        "contact_id": str(people["ana"].id),
    }
    assert (counts.written, counts.do_not_contact, counts.unsubscribed, counts.no_address) == (3, 1, 1, 1)
    assert (
        counts.summary("addresses")
        == "3 addresses written; left out: 1 do-not-contact, 1 unsubscribed from the list, 1 without an e-mail address"
    )
    plain = io.StringIO()
    book.distribution_list(newsletter, plain, "addresses")
    assert plain.getvalue() == "ana@example.com\nben@example.com\neva@example.com\n"
    with pytest.raises(ValidationError, match="format 'xml' is not known"):
        book.distribution_list(newsletter, io.StringIO(), "xml")
    with pytest.raises(NotFoundError, match="no mailing list or segment named 'nope'"):
        book.distribution_list("nope", io.StringIO())


def test_labels_csv_for_mail_merge(book, people, newsletter):
    out = io.StringIO()
    counts = book.labels_csv(newsletter, out)
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [r["name"] for r in rows] == ["Ana García", "Ben Jones", "Cai"]
    assert (counts.written, counts.do_not_contact, counts.unsubscribed, counts.no_address) == (3, 1, 1, 1)
    assert rows[0]["organization"] == "Acme SL"
    # domestic labels leave the country out; a label abroad names it
    assert rows[0]["label"] == "Ana García\nAcme SL\nCalle Mayor 1\n28001 Madrid"
    assert rows[1]["label"] == "Ben Jones\n1 High Street\nLS1 1UR Leeds\nUNITED KINGDOM"


def test_labels_pdf_sheet_layout(contacts_app, tmp_path):
    from pypdf import PdfReader

    app = contacts_app(
        settings={
            "contacts": {
                "default_region": "ES",
                "labels": {"page_size": "letter", "columns": 2, "rows": 3, "margin_mm": 12},
            }
        }
    )
    book = app.plugin("contacts")
    ids = [
        book.create(first_name=f"Persona{i}", last_name="Núñez", addresses=address(street=f"Calle Łódź {i}")).id
        for i in range(8)
    ]
    book.create_segment("madrid", {"city": "Madrid"})
    path = tmp_path / "labels.pdf"
    counts = book.labels_pdf("madrid", path)
    assert counts.written == 8
    reader = PdfReader(str(path))
    assert len(reader.pages) == 2  # 6 labels a sheet
    assert [round(float(v)) for v in reader.pages[0].mediabox[2:]] == [612, 792]
    text = reader.pages[0].extract_text()
    assert "Persona0 Núñez" in text and "28001 Madrid" in text and "Calle Łódź 0" in text
    assert "Persona7" in reader.pages[1].extract_text()
    assert len(ids) == 8


def test_labels_pdf_refuses_a_sheet_that_cannot_hold_labels(contacts_app, tmp_path):
    app = contacts_app(settings={"contacts": {"labels": {"columns": 40, "rows": 8}}})
    book = app.plugin("contacts")
    book.create_list("x")
    with pytest.raises(ValidationError, match="40 × 8 labels with a 10.0 mm margin do not fit on a A4 page"):
        book.labels_pdf("x", tmp_path / "labels.pdf")
    assert not (tmp_path / "labels.pdf").exists()


def test_labels_pdf_without_the_pdf_extra_names_the_fix_and_writes_nothing(book, people, tmp_path, monkeypatch):
    import sys

    from crm_contacts.mailings import PdfUnavailable

    for name in [n for n in sys.modules if n.startswith("reportlab")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "reportlab", None)  # as where crm-contacts is installed without [pdf]
    book.create_list("x")
    with pytest.raises(PdfUnavailable, match=r"pip install 'crm-contacts\[pdf\]'") as refused:
        book.labels_pdf("x", tmp_path / "labels.pdf")
    assert refused.value.exit_code == 1 and refused.value.code == "pdf_unavailable"
    assert not (tmp_path / "labels.pdf").exists()
    out = io.StringIO()
    assert book.labels_csv("x", out).written == 0  # CSV labels need nothing more


def test_members_file(book, people, tmp_path):
    book.create_list("fair")
    lines = [
        "# visitors of the trade fair",
        str(people["ana"].id),
        "BEN@example.com",
        "",
        "612 345 678",
        "nobody@example.com",
        "12",
        "not-an-email@",
    ]
    result = book.import_list_members("fair", lines)
    assert (result.added, result.already) == (3, 0)
    assert result.missing == (
        (6, "nobody@example.com", "no contact has it (or the contact is deleted)"),
        (7, "12", "no contact has it (or the contact is deleted)"),
        (8, "not-an-email@", result.missing[2][2]),
    )
    assert "not a valid e-mail address" in result.missing[2][2]
    again = book.import_list_members("fair", ["email;name", "ana@example.com;Ana", "eva@example.com;Eva"])
    assert (again.added, again.already, again.missing) == (1, 1, ())
    strict = book.import_list_members("fair", ["dan@example.com", "ghost@example.com"], all_or_nothing=True)
    assert (strict.written, strict.added) == (False, 0)
    assert people["dan"].id not in [m.contact_id for m in book.list_members("fair")]
    with pytest.raises(ValidationError, match="CSV header with no id, email or phone column"):
        book.import_list_members("fair", ["name,city", "Ana,Madrid"])
    with pytest.raises(NotFoundError, match="no mailing list named 'nope'"):
        book.import_list_members("nope", ["1"])


def test_list_members_show_each_state(book, people, newsletter):
    book.delete(people["eva"].id)
    states = {m.display_name: m.state for m in book.list_members(newsletter)}
    assert states == {
        "Ana García": "subscribed",
        "Ben Jones": "subscribed",
        "Cai": "subscribed",
        "Dan": "do-not-contact",
        "Eva": "deleted",
        "Fay": "unsubscribed",
    }
    assert [m.display_name for m in book.list_members(newsletter, limit=2, offset=1)] == ["Ben Jones", "Cai"]


def test_cli_lists(app, book, people, crm_cli, tmp_path):
    def run(*args):
        return crm_cli.invoke(["contacts", *args], app=app)

    assert run("lists", "create", "vip", "--description", "Best customers").output.startswith(
        "mailing list 'vip' created"
    )
    assert (
        "2 contact(s) added to 'vip' (0 already on it)"
        in run("lists", "add", "vip", str(people["ana"].id), str(people["ben"].id)).output
    )
    members = tmp_path / "members.txt"
    members.write_text("cai@nowhere.example\n+34 612 345 678\n", encoding="utf-8")
    result = run("lists", "import", "vip", str(members))
    assert "1 contact(s) added to 'vip', 0 already on it, 1 line(s) not found" in result.output
    assert "line 1: cai@nowhere.example: no contact has it" in result.output
    strict = run("lists", "import", "vip", str(members), "--all-or-nothing")
    assert strict.exit_code == 2 and "--all-or-nothing: nobody was added to 'vip'" in strict.output
    assert (
        "contact {} unsubscribed from 'vip'".format(people["ben"].id)
        in run("lists", "unsubscribe", "vip", str(people["ben"].id)).output
    )
    shown = run("lists", "show", "vip", "--format", "csv")
    assert "unsubscribed" in shown.output and "Ana García" in shown.output
    listing = run("lists", "list", "--format", "json")
    assert '"members": 2' in listing.output and '"unsubscribed": 1' in listing.output
    assert "subscribed to 'vip' again" in run("lists", "resubscribe", "vip", str(people["ben"].id)).output
    assert "1 contact(s) removed" in run("lists", "remove", "vip", str(people["cai"].id)).output
    out = tmp_path / "vip.txt"
    dist = run("distribution", "vip", "--format", "addresses", "-o", str(out))
    assert out.read_text() == "ana@example.com\nben@example.com\n"
    assert (
        "2 addresses written; left out: 0 do-not-contact, 0 unsubscribed from the list, 0 without an e-mail address"
        in dist.output
    )
    pdf = tmp_path / "vip.pdf"
    assert "2 labels written" in run("labels", "vip", "-o", str(pdf)).output and pdf.read_bytes().startswith(b"%PDF")
    assert "Ana García" in run("labels", "vip", "--format", "csv").output
    no_file = run("labels", "vip")
    assert no_file.exit_code == 2 and "a PDF needs a file" in no_file.output
    missing = run("distribution", "nope", "-o", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 5 and missing.output.startswith("Error: no mailing list or segment named 'nope'")
    assert not (tmp_path / "nope.csv").exists()
    assert "deleted (2 membership(s) removed" in run("lists", "delete", "vip", "--yes").output
    assert run("lists", "show", "vip").exit_code == 5


def test_cli_segments(app, book, people, crm_cli):
    def run(*args):
        return crm_cli.invoke(["contacts", *args], app=app)

    created = run("segments", "create", "madrid", "--city", "Madrid", "--description", "People in Madrid")
    assert created.output.startswith("segment 'madrid' created: city=Madrid")
    shown = run("segments", "show", "madrid")
    assert "2 contact(s) match now" in shown.output and "Ana García" in shown.output and "Dan" in shown.output
    assert "city=Madrid" in run("segments", "list").output
    out = run("distribution", "segment:madrid")
    assert any(line.startswith("ana@example.com,Ana García,") for line in out.output.splitlines())
    assert "1 do-not-contact" in out.output
    bad = run("segments", "create", "x", "--custom", "oops")
    assert bad.exit_code == 2 and "--custom 'oops': write NAME=VALUE" in bad.output
    empty = run("segments", "create", "x")
    assert empty.exit_code == 2 and "needs at least one filter" in empty.output
    assert run("segments", "create", "y", "--deleted", "--city", "Madrid").exit_code == 2
    assert "segment 'madrid' deleted" in run("segments", "delete", "madrid").output
    assert run("segments", "show", "madrid").exit_code == 5


def test_a_label_needs_a_street_and_a_city(book):
    book.create_list("post")
    full = book.create(first_name="Ana", addresses=address())
    city_only = book.create(first_name="Ben", addresses=[{"city": "Madrid", "postal_code": "28001"}])
    book.add_to_list("post", [full.id, city_only.id])
    out = io.StringIO()
    counts = book.labels_csv("post", out)
    assert [r["name"] for r in csv.DictReader(io.StringIO(out.getvalue()))] == ["Ana"]
    assert (counts.written, counts.no_address) == (1, 1)
