"""vCard 2.1, 3.0 and 4.0 (issue 12, finding 3): what other address books write, and what they read."""

from __future__ import annotations

import io

import pytest


@pytest.fixture
def book(contacts_app):
    return contacts_app().plugin("contacts")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def export(book, version):
    out = io.StringIO(newline="")
    book.export_vcard(out, version=version)
    return out.getvalue()


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_line_breaks_in_values_are_escaped_never_written_bare(book, tmp_path, version):
    book.create(first_name="Ana", email="ana@example.com", notes="first\rsecond\r\nthird\nfourth", custom={"k": "v"})
    text = export(book, version)
    assert "\r" not in text.replace("\r\n", "") and "\n" not in text.replace("\r\n", "")
    assert "NOTE:first\\nsecond\\nthird\\nfourth\r\n" in text
    wiped = write(tmp_path, "ana.vcf", text)
    assert book.import_vcard(wiped).unchanged == 1
    assert book.get(1).notes == "first\nsecond\nthird\nfourth"


@pytest.mark.parametrize("version", ["3.0", "4.0"])
def test_status_owner_region_country_custom_fields_and_do_not_contact_survive(contacts_app, tmp_path, version):
    source = contacts_app().plugin("contacts")
    source.create(
        first_name="Ana",
        email="ana@example.com",
        status="customer",
        owner="maria",
        region="Norte",
        country="ES",
        custom={"industry": "retail", "size; class": "big, really"},
        do_not_contact=True,
        language="es",
        title="CFO",
        department="Finance",
        birthday="--02-29",
        nickname="Anita",
        middle_name="Luz",
        name_prefix="Dra.",
        website="https://ana.example",
    )
    text = export(source, version)
    assert "X-CRM-DO-NOT-CONTACT:TRUE" in text and "X-CRM-STATUS:customer" in text
    target = contacts_app(database=f"sqlite:///{tmp_path / 'other.db'}").plugin("contacts")
    assert target.import_vcard(write(tmp_path, "ana.vcf", text)).created == 1
    ana = target.get(target.search(email="ana@example.com").cards[0].id)
    assert ana.do_not_contact is True, "a person who opted out must not come back mailable"
    assert (ana.status, ana.owner, ana.region, ana.country, ana.language) == ("customer", "maria", "Norte", "ES", "es")
    assert ana.custom == {"industry": "retail", "size; class": "big, really"}
    assert (ana.title, ana.department, ana.birthday, ana.nickname, ana.middle_name, ana.name_prefix, ana.website) == (
        "CFO",
        "Finance",
        "--02-29",
        "Anita",
        "Luz",
        "Dra.",
        "https://ana.example",
    )


def test_vcard_3_writes_kind_the_way_apple_and_google_read_it(book, tmp_path):
    book.create(kind="organization", display_name="Acme", email="info@acme.example")
    text = export(book, "3.0")
    assert (
        "X-ADDRESSBOOKSERVER-KIND:org\r\n" in text and "X-ABShowAs:COMPANY\r\n" in text and "KIND:org\r\nFN" not in text
    )
    apple = write(
        tmp_path,
        "apple.vcf",
        (
            "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;;;;\r\nFN:Globex\r\nORG:Globex;\r\nX-ABShowAs:COMPANY\r\n"
            "EMAIL;type=INTERNET;type=WORK;type=pref:hello@globex.example\r\nEND:VCARD\r\n"
        ),
    )
    report = book.import_vcard(apple)
    assert (report.created, report.organizations_created) == (1, 0)
    globex = book.get(book.search(email="hello@globex.example").cards[0].id)
    assert (globex.kind, globex.display_name, globex.organization_id) == ("organization", "Globex", None)


def test_lang_pref_1_is_the_language(book, tmp_path):
    card = write(
        tmp_path,
        "lang.vcf",
        (
            "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Jean\r\nEMAIL:jean@example.fr\r\n"
            "LANG;PREF=2:en\r\nLANG;PREF=1:fr\r\nEND:VCARD\r\n"
        ),
    )
    assert book.import_vcard(card).created == 1
    assert book.get(1).language == "fr"


def test_vcard_2_1_quoted_printable_with_soft_line_breaks_and_charset(book, tmp_path):
    # as phones and Outlook write it: bare parameters, QUOTED-PRINTABLE with
    # soft line breaks, one value in Latin-1 and one in UTF-8
    text = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:N=C3=BA=C3=B1ez;Jos=C3=A9;;;\r\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:Jos=C3=A9 N=C3=BA=C3=B1ez\r\n"
        "TEL;CELL;PREF:+34612345678\r\nTEL;WORK;VOICE:+34912345678\r\n"
        "EMAIL;INTERNET:jose@example.es\r\n"
        "NOTE;CHARSET=ISO-8859-1;QUOTED-PRINTABLE:Primera l=EDnea=0D=0A=\r\nsegunda l=EDnea, muy larga para caber en =\r\nuna sola\r\n"
        "ADR;HOME;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;;Calle Mayor 1;M=C3=A1laga;;29001;Espa=C3=B1a\r\n"
        "END:VCARD\r\n"
    )
    report = book.import_vcard(write(tmp_path, "phone.vcf", text))
    assert report.created == 1 and report.failed == 0, report.errors
    jose = book.get(1)
    assert (jose.first_name, jose.last_name, jose.display_name) == ("José", "Núñez", "José Núñez")
    assert jose.notes == "Primera línea\nsegunda línea, muy larga para caber en una sola"
    assert [(p.number, p.kind, p.primary) for p in jose.phones] == [
        ("+34612345678", "mobile", True),
        ("+34912345678", "work", False),
    ]
    assert (jose.address.city, jose.address.country, jose.address.kind) == ("Málaga", "ES", "home")


def test_a_bad_charset_is_reported_on_its_card(book, tmp_path):
    text = (
        "BEGIN:VCARD\r\nVERSION:2.1\r\nFN;CHARSET=KLINGON;QUOTED-PRINTABLE:Q=FA\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:2.1\r\nFN:Fine\r\nEMAIL:fine@example.com\r\nEND:VCARD\r\n"
    )
    report = book.import_vcard(write(tmp_path, "bad.vcf", text))
    assert report.created == 1 and report.failed == 1
    assert "CHARSET=KLINGON" in report.errors[0].reason and report.errors[0].line == 1


def test_phone_extensions_and_unverified_phones_in_4_0(book, tmp_path):
    book.create(
        first_name="Eva", phones=[{"number": "+34 912 345 678", "extension": "21", "kind": "work"}, "not a phone"]
    )
    text = export(book, "4.0")
    assert "TEL;VALUE=uri;TYPE=work;PREF=1:tel:+34912345678;ext=21" in text
    assert "TEL;VALUE=text;TYPE=voice:not a phone" in text
    assert book.import_vcard(write(tmp_path, "eva.vcf", text)).unchanged == 1
