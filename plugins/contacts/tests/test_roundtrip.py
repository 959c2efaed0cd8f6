"""Lossless round trips (issue 12, finding 3): export an address book, import it into an empty CRM, get it back.

Hypothesis generates address books with every field a contact holds
(repeated e-mails, phones with extensions and kinds, addresses, notes with
line breaks, tags, custom fields, status and its date, owner, region,
language, do-not-contact, organizations and their members, phones kept
unverified, Exchange addresses) and each is exported as CSV, vCard 3.0 and
vCard 4.0, imported after the book is emptied, and compared field by field.
The same at 100,000 contacts runs from bench/bench_contacts_roundtrip.py.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings

from crm_core.errors import ValidationError


def _load_helpers():
    # the suite imports tests by path (--import-mode=importlib): load the
    # helpers module the same way; the benchmark shares it
    name = "crm_contacts_roundtrip_helpers"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, Path(__file__).with_name("roundtrip.py"))
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


_helpers = _load_helpers()
address_books, build, comparable, export, reimport, wipe = (
    _helpers.address_books,
    _helpers.build,
    _helpers.comparable,
    _helpers.export,
    _helpers.reimport,
    _helpers.wipe,
)


@pytest.fixture
def app(contacts_app):
    return contacts_app()


@pytest.mark.parametrize("how", ["csv", "3.0", "4.0"])
def test_export_then_import_gives_the_same_address_book(app, tmp_path, how):
    book = app.plugin("contacts")

    @settings(
        max_examples=int(__import__("os").environ.get("RT_EXAMPLES", "25")),
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(address_books())
    def round_trip(generated):
        wipe(app)
        build(book, *generated)
        before = comparable(book)
        text = export(book, how)
        wipe(app)  # a fresh database: another identity
        if not before:  # an export of nothing is a file with no row, which an import refuses
            with pytest.raises(ValidationError, match="a header and no rows|no BEGIN:VCARD"):
                reimport(book, how, text, tmp_path / f"book.{how}")
            return
        report = reimport(book, how, text, tmp_path / f"book.{how}")
        assert report.failed == 0, report.errors
        # the file's ids are the other database's: every row is created, none matched by id
        assert (report.created, report.updated, report.unchanged, report.conflicts) == (len(before), 0, 0, []), report
        assert any("not one of this database's" in note for note in report.notes), report.notes
        # organizations are in the file once and found by name: none is created twice
        assert report.organizations_created == 0
        assert comparable(book) == before

    round_trip()


@pytest.mark.parametrize("how", ["csv", "3.0", "4.0"])
def test_an_export_imported_into_its_own_database_finds_every_contact_by_id(app, tmp_path, how):
    book = app.plugin("contacts")

    @settings(
        max_examples=int(__import__("os").environ.get("RT_EXAMPLES", "25")) // 2 or 1,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(address_books())
    def same_database(generated):
        wipe(app)
        build(book, *generated)
        before = comparable(book)
        if not before:
            return
        ids = sorted(i for page in book.iter_ids({}) for i in page)
        # matched on the id alone: even contacts with no e-mail nor external id are found
        report = reimport(book, how, export(book, how), tmp_path / f"book.{how}", match_on=("id",))
        assert report.failed == 0, report.errors
        assert (report.created, report.updated, report.unchanged, report.organizations_created) == (
            0,
            0,
            len(before),
            0,
        ), report
        assert report.notes == []
        assert sorted(i for page in book.iter_ids({}) for i in page) == ids
        assert comparable(book) == before

    same_database()


def test_an_organization_is_never_a_member_of_itself(app, tmp_path):
    book = app.plugin("contacts")
    acme = book.create(kind="organization", display_name="Acme", email="info@acme.example")
    book.create(first_name="Ana", email="ana@acme.example", organization_id=acme.id)
    for how in ("csv", "3.0", "4.0"):
        text = export(book, how)
        wipe(app)
        report = reimport(book, how, text, tmp_path / f"book.{how}")
        assert (report.created, report.organizations_created) == (2, 0), (how, report)
        orgs = book.search(kind="organization").cards
        assert [(o.display_name, o.organization_id) for o in orgs] == [("Acme", None)], how
        assert book.search(kind="person").cards[0].organization_id == orgs[0].id


def test_names_that_differ_only_in_case_or_accents_are_two_custom_fields_and_two_tags(app, tmp_path):
    # found by the property test on MariaDB, whose default collation took
    # "Size" and "size" (and "i" and "ı") for one key of a unique index
    book = app.plugin("contacts")
    ana = book.create(
        first_name="Ana",
        email="ana@example.com",
        custom={"Size": "L", "size": "40", "ı": "1", "i": "2"},
        tags=["i", "ı"],
    )
    assert book.get(ana.id).custom == {"Size": "L", "i": "2", "size": "40", "ı": "1"} and book.get(ana.id).tags == (
        "i",
        "ı",
    )
    for how in ("csv", "4.0"):
        text = export(book, how)
        wipe(app)
        assert reimport(book, how, text, tmp_path / f"book.{how}").created == 1
        again = book.get(book.search(email="ana@example.com").cards[0].id)
        assert again.custom == {"Size": "L", "i": "2", "size": "40", "ı": "1"} and again.tags == ("i", "ı"), how


def test_a_dry_run_of_an_export_predicts_what_the_import_does(app, tmp_path):
    book = app.plugin("contacts")
    acme = book.create(kind="organization", display_name="Acme", email="info@acme.example")
    book.create(first_name="Ana", email="ana@acme.example", organization_id=acme.id)
    book.create(first_name="Ben", email="ben@acme.example", organization_id=acme.id)
    text = export(book, "csv")
    wipe(app)
    path = tmp_path / "book.csv"
    path.write_text(text, encoding="utf-8")
    dry = book.import_csv(path, dry_run=True)
    real = book.import_csv(path)
    assert (dry.created, dry.organizations_created) == (real.created, real.organizations_created) == (3, 0)


@pytest.mark.parametrize("how", ["csv", "3.0", "4.0"])
def test_values_that_start_with_an_apostrophe_and_a_formula_sign_come_back_as_they_were(app, tmp_path, how):
    """Found by the property test: CSV escapes "'=…" as "''=…" and must read it back; vCard never escapes."""
    book = app.plugin("contacts")
    for last in ("'=SUM(A1)", "=1+1", "'+34", "'plain"):
        wipe(app)
        book.create(first_name="Ana", last_name=last, email="ana@example.com")
        before = comparable(book)
        report = reimport(book, how, export(book, how), tmp_path / f"book.{how}", match_on=("id",))
        assert (report.updated, report.unchanged) == (0, 1), (last, report)
        assert comparable(book) == before, last
