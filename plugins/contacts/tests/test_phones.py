"""Phones read in the row's own country first, unreadable values kept unverified (issue 12, finding 4)."""

from __future__ import annotations

import pytest

from crm_contacts.fields import FieldError, clean
from crm_contacts.normalize import InvalidValue, normalize_country, read_phone


@pytest.fixture
def app(contacts_app):
    return contacts_app()  # default_region = "ES"


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_a_google_row_is_read_in_its_address_country(book, tmp_path):
    google = (
        "Given Name,Family Name,E-mail 1 - Value,Phone 1 - Type,Phone 1 - Value,Address 1 - City,Address 1 - Country\n"
        "Ann,Lee,ann@example.com,Work,(512) 200-0002,Austin,United States\n"
    )
    report = book.import_csv(write(tmp_path, "google.csv", google))
    assert report.created == 1 and report.failed == 0, report.errors
    ann = book.get(1)
    assert [(p.number, p.verified) for p in ann.phones] == [("+15122000002", True)]


def test_a_card_is_read_in_its_address_country_before_the_default_region(contacts_app, tmp_path):
    book = contacts_app(settings={"contacts": {"default_region": "US"}}).plugin("contacts")
    card = (
        "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Pilar Gil\r\nEMAIL:pilar@example.es\r\nTEL;TYPE=work:91 123 45 67\r\n"
        "ADR;TYPE=work:;;Gran Vía 1;Madrid;;28013;España\r\nEND:VCARD\r\n"
    )
    report = book.import_vcard(write(tmp_path, "pilar.vcf", card))
    assert report.created == 1 and report.failed == 0, report.errors
    assert book.get(1).phones[0].number == "+34911234567"


def test_the_country_column_reads_phones_too_by_code_or_by_name(book, tmp_path):
    rows = "first_name,email,phone,country\nHans,hans@example.de,030 1234567,Alemania\nLou,lou@example.fr,01 42 68 53 00,fr\n"
    report = book.import_csv(write(tmp_path, "c.csv", rows))
    assert report.created == 2 and report.failed == 0, report.errors
    assert [book.get(i).phone for i in (1, 2)] == ["+49301234567", "+33142685300"]


def test_a_phone_no_country_reads_keeps_the_contact_and_is_marked_unverified(app, book, tmp_path, crm_cli):
    rows = "first_name,email,phone\nAna,ana@example.com,(512) 200-0002\nBen,ben@example.com,612 345 678\n"
    report = book.import_csv(write(tmp_path, "p.csv", rows))
    assert (report.created, report.failed) == (2, 0), report.errors
    ana = book.get(book.search(email="ana@example.com").cards[0].id)
    assert [(p.number, p.verified) for p in ana.phones] == [("(512) 200-0002", False)]
    assert book.get(book.search(email="ben@example.com").cards[0].id).phones[0].verified is True
    shown = crm_cli.invoke(["contacts", "show", str(ana.id)], app=app)
    assert shown.exit_code == 0 and "(512) 200-0002 (other, primary, unverified: kept as typed)" in shown.output


def test_an_exchange_address_from_outlook_is_kept_unverified(book, tmp_path):
    outlook = (
        "First Name,Last Name,E-mail Address,E-mail Type,E-mail 2 Address,Business Phone\n"
        "Tom,Jones,/o=ExchangeLabs/ou=Exchange Administrative Group (FYDIBOHF23SPDLT)/cn=Recipients/cn=tom,EX,"
        "tom@acme.example,+44 20 7946 0000\n"
    )
    report = book.import_csv(write(tmp_path, "outlook.csv", outlook))
    assert report.layout == "outlook" and (report.created, report.failed) == (1, 0), report.errors
    tom = book.get(1)
    assert [(e.address.split("/cn=")[-1], e.verified) for e in tom.emails] == [
        ("tom", False),
        ("tom@acme.example", True),
    ]


def test_clean_marks_what_it_could_not_check():
    cleaned = clean({"phones": ["12 34", "+34612345678"], "emails": ["/o=Org/ou=X/cn=Recipients/cn=a"]}, region="ES")
    assert cleaned["phones"] == [
        {"number": "12 34", "kind": "other", "primary": True, "verified": False},
        {"number": "+34612345678", "kind": "other", "primary": False},
    ]
    assert cleaned["emails"][0]["verified"] is False
    with pytest.raises(FieldError, match="not a valid phone number in the default region ES"):
        clean({"phones": ["12 34"]}, region="ES", keep_unreadable=False)


def test_read_phone_tries_each_country_in_order():
    assert read_phone("612 345 678", ["US", "ES"]) == ("+34612345678", None, True)
    assert read_phone("01 42 68 53 00", ["FR", "ES"]) == ("+33142685300", None, True)
    assert read_phone("+1 212 555 0100", []) == ("+12125550100", None, True)
    assert read_phone("  nada  que  ver ", ["ES"]) == ("nada que ver", None, False)


@pytest.mark.parametrize(
    "name, code",
    [
        ("Alemania", "DE"),
        ("Francia", "FR"),
        ("Reino Unido", "GB"),
        ("Estados Unidos", "US"),
        ("Royaume-Uni", "GB"),
        ("Deutschland", "DE"),
        ("Japón", "JP"),
        ("ESPAÑA", "ES"),
        ("united kingdom", "GB"),
        ("UK", "GB"),
        ("nz", "NZ"),
    ],
)
def test_country_names_in_any_language(name, code):
    assert normalize_country(name) == code


def test_an_unknown_country_says_what_to_write():
    with pytest.raises(InvalidValue, match="'Narnia' is not a country: write an ISO 3166-1 alpha-2 code"):
        normalize_country("Narnia")


def test_the_country_index_is_not_built_by_crm_help(tmp_path):
    import os
    import subprocess
    import sys

    code = (
        "import sys\nfrom crm_core.cli.main import main\ntry:\n    main(['contacts', '--help'])\nexcept SystemExit:\n    pass\n"
        "print('babel loaded:', 'babel' in sys.modules)"
    )
    env = {**os.environ, "CRM_PLUGINS": "contacts"}
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, env=env)
    assert "import" in run.stdout and run.stdout.strip().endswith("babel loaded: False"), run.stdout + run.stderr


def test_the_shipped_table_of_country_names_is_cldrs_as_babel_has_it():
    """If this fails after a Babel upgrade, rewrite the table: python -m crm_contacts.countries."""
    pytest.importorskip("babel")
    from crm_contacts.countries import build_index, country_index
    from crm_contacts.normalize import countries

    assert country_index() == build_index(countries())
    assert normalize_country("Alemania") == "DE" and normalize_country("Reino Unido") == "GB"
    assert normalize_country("Deutschland") == "DE" and normalize_country("ee.uu.") == "US"
