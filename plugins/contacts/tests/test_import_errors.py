"""Import errors a user can act on (issue 12, finding 6), and the bad files of the issue.

Every test runs on each configured backend (the test kit's ``crm_db_url``).
"""

from __future__ import annotations

import csv
import gzip
import io
import re
import tempfile
import zipfile

import pytest

from crm_contacts import rows as rows_module
from crm_contacts.importreport import ImportStopped
from crm_core.errors import ValidationError


@pytest.fixture
def app(contacts_app):
    return contacts_app()


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding) if isinstance(text, str) else text)
    return path


def names(book):
    return sorted(c.display_name for c in book.search(limit=1000).cards)


def test_every_bad_row_is_reported_by_the_api_and_the_cli(app, book, tmp_path, crm_cli):
    """Finding 6: the CLI showed 50 bad rows and the API kept 1,000."""
    bad = "".join(f"Bad{n},bad{n}-at-example.com\n" for n in range(1200))
    path = write(tmp_path, "bad.csv", "first_name,email\nGood,good@example.com\n" + bad)
    report = book.import_csv(path, dry_run=True)
    assert report.failed == len(report.errors) == 1200
    assert [e.line for e in report.errors] == list(range(3, 1203))
    result = crm_cli.invoke(["contacts", "import", str(path)], app=app)
    assert result.exit_code == 0, result.output
    assert len(re.findall(r"^  line \d+: emails: ", result.output, re.MULTILINE)) == 1200
    assert "line 1202: emails:" in result.output and "more row(s)" not in result.output
    assert names(book) == ["Good"]


def test_the_errors_file_holds_every_problem_row_and_can_be_fixed_and_imported(app, book, tmp_path, crm_cli):
    book.create(first_name="María José", last_name="Núñez", email="maria@example.com")
    path = write(
        tmp_path,
        "people.csv",
        "first_name,last_name,email,phone\n"
        "Ana,Ruiz,ana@example.com,612345678\n"
        "Ben,Ford,ben-at-example.com,\n"  # bad e-mail
        "Pedro,López,maria@example.com,\n"  # conflict
        "Eva,Sanz,eva@example.com,12\n",  # a phone that cannot be read: imported as typed, unverified, with a warning
    )
    errors = tmp_path / "errors.csv"
    result = crm_cli.invoke(["contacts", "import", str(path), "--errors", str(errors)], app=app)
    assert result.exit_code == 0, result.output
    assert f"the rows with problems are in {errors}" in result.output
    with open(errors, newline="", encoding="utf-8") as fh:
        problems = list(csv.reader(fh))
    assert problems[0] == ["import.line", "import.field", "import.problem", "first_name", "last_name", "email", "phone"]
    assert [(p[0], p[1], p[3:]) for p in problems[1:]] == [
        ("3", "emails", ["Ben", "Ford", "ben-at-example.com", ""]),
        ("5", "phones", ["Eva", "Sanz", "eva@example.com", "12"]),
        ("4", "name", ["Pedro", "López", "maria@example.com", ""]),
    ]
    assert "not a valid e-mail" in problems[1][2] and "--on-conflict update" in problems[3][2]
    # fix the file in place (a spreadsheet would) and import it again: the import.* columns are ignored
    fixed = (
        errors.read_text(encoding="utf-8")
        .replace("ben-at-example.com", "ben@example.com")
        .replace(",12\n", ",612000111\n")
    )
    fixed = fixed.replace("maria@example.com", "pedro@example.com")
    errors.write_text(fixed, encoding="utf-8")
    report = book.import_csv(errors)
    # Eva was imported the first time (her phone kept as typed): the fixed row finds her by e-mail and adds the number
    assert (report.created, report.updated, report.failed, report.ignored_columns, report.conflicts) == (
        2,
        1,
        0,
        (),
        [],
    ), report.errors
    assert names(book) == ["Ana Ruiz", "Ben Ford", "Eva Sanz", "María José Núñez", "Pedro López"]


def test_warned_rows_are_imported_reported_and_written(app, book, tmp_path, monkeypatch):
    """fields.clean keeps an unreadable phone as typed with ``verified: False``: the row is a warning."""
    real = rows_module.clean

    def clean(fields, region=None):
        unreadable = [p for p in fields.get("phones", ()) if p["number"].startswith("ext")]
        out = real({**fields, "phones": [p for p in fields.get("phones", ()) if p not in unreadable]}, region=region)
        out["phones"] = out.get("phones", []) + [
            {"number": p["number"], "kind": "other", "primary": False, "verified": False} for p in unreadable
        ]
        return out

    monkeypatch.setattr(rows_module, "clean", clean)
    book.create(first_name="Zoe", phone="+34612345678")
    path = write(tmp_path, "warn.csv", "first_name,email,phone\nAna,ana@example.com,ext 12 34\nLuis,,ext 12 34\n")
    out = io.StringIO()
    report = book.import_csv(path, errors_to=out)
    assert (report.created, report.failed) == (2, 0)
    assert [(w.line, w.field) for w in report.warnings] == [(2, "phones"), (3, "phones")]
    assert "kept as typed, marked unverified" in report.warnings[0].reason
    assert [r[:2] + r[3:] for r in csv.reader(io.StringIO(out.getvalue()))][1:] == [
        ["2", "phones", "Ana", "ana@example.com", "ext 12 34"],
        ["3", "phones", "Luis", "", "ext 12 34"],
    ]
    assert "2 row(s) with warnings" in report.summary()
    assert book.search().total == 3  # the unverified phone never matched anybody


def test_a_fatal_error_late_in_a_stream_says_what_stays_and_a_rerun_finishes(contacts_app):
    book = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": 10}}).plugin("contacts")
    good = [f"P{n},Person,p{n}@example.com\n" for n in range(45)]
    broken = "first_name,last_name,email\n" + "".join(good[:25]) + '"Bad,quote"x,bad@example.com\n' + "".join(good[25:])
    with pytest.raises(ImportStopped) as caught:
        book.import_csv(io.StringIO(broken), source_name="people.csv")
    message = str(caught.value)
    assert "line 27: the CSV is malformed" in message
    assert "the 20 row(s) up to line 21 were already imported and stay (20 contact(s) created" in message
    assert (
        "re-run the import: the rows already imported find their contacts and change nothing (or skip them with --from-line 22)"
        in message
    )
    assert caught.value.report.created == 20 and book.search().total == 20
    fixed = broken.replace('"Bad,quote"x,bad@example.com\n', "")
    report = book.import_csv(io.StringIO(fixed), source_name="people.csv")
    assert (report.created, report.updated, report.unchanged) == (25, 0, 20)
    assert book.search(limit=100).total == 45


def test_a_stopped_import_of_rows_without_keys_says_to_resume_from_the_line(contacts_app):
    book = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": 5}}).plugin("contacts")
    rows = [f"Keyless{n}\n" for n in range(12)]
    broken = "first_name\n" + "".join(rows[:10]) + '"unclosed\n'
    with pytest.raises(ImportStopped) as caught:
        book.import_csv(io.StringIO(broken))
    assert "re-run the import with --from-line 12: 10 of the contacts created have no id" in str(caught.value)
    report = book.import_csv(io.StringIO("first_name\n" + "".join(rows)), start_line=12)
    assert report.created == 2 and book.search(limit=100).total == 12


def test_a_vcard_broken_late_is_refused_before_anything_is_written(contacts_app, crm_cli, tmp_path):
    # a vCard file is read twice (the first pass lays out its columns), so a
    # line outside any card is found before the first batch is written
    app = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": 3}})
    cards = "".join(
        f"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Card {n}\r\nEMAIL:c{n}@example.com\r\nEND:VCARD\r\n" for n in range(7)
    )
    path = write(tmp_path, "cards.vcf", cards + "this is not a card\r\n")
    result = crm_cli.invoke(["contacts", "import", str(path)], app=app)
    assert result.exit_code == 2
    assert "line 36: 'this is not a card' is outside BEGIN:VCARD" in result.output and "Traceback" not in result.output
    assert app.plugin("contacts").search().total == 0
    assert crm_cli.invoke(["contacts", "import", str(path), "--dry-run"], app=app).exit_code == 2
    path.write_text(cards, encoding="utf-8")
    result = crm_cli.invoke(["contacts", "import", str(path)], app=app)
    assert result.exit_code == 0 and "7 contact(s) were created, 0 updated, 0 unchanged" in result.output


def _gzip(text):
    return gzip.compress(text.encode(), mtime=0)  # the same bytes, and test id, in every pytest-xdist worker


def _zip(text):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("contacts.csv", text)
    return out.getvalue()


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("header.csv", "first_name,email\n", "has a header and no rows"),
        ("header-blank.csv", "first_name,email\n\n\n", "has a header and no rows"),
        ("contacts.csv.gz", _gzip("first_name,email\nAna,a@example.com\n"), "is a gzip-compressed file.*gunzip"),
        ("contacts.zip", _zip("first_name,email\nAna,a@example.com\n"), r"is a ZIP archive \(an .xlsx"),
        ("contacts.bin", bytes(range(256)) * 4, "is a binary file"),
        ("utf16.csv", "first_name,email\nAna,a@example.com\n".encode("utf-16"), "UTF-16.*--encoding utf-16"),
        (
            "late.csv",
            "first_name,email\n" + "Ana,a@example.com\n" * 50 + '"Bad,x"y,z\n',
            "line 52: the CSV is malformed.*nothing was imported",
        ),
    ],
)
def test_files_that_cannot_be_imported_are_clear_errors(app, book, crm_cli, tmp_path, name, content, message):
    path = write(tmp_path, name, content)
    with pytest.raises(ValidationError, match=message):
        book.import_csv(path)
    result = crm_cli.invoke(["contacts", "import", str(path), "--format", "csv"], app=app)
    assert result.exit_code == 2 and re.search(message, result.output), result.output
    assert f"Error: {name}" in result.output  # names the file
    assert book.search(include_deleted=True).total == 0


def test_binary_and_empty_vcards_are_clear_errors(book, tmp_path):
    with pytest.raises(ValidationError, match="is a gzip-compressed file"):
        book.import_vcard(write(tmp_path, "cards.vcf", _gzip("BEGIN:VCARD\r\n")))
    with pytest.raises(ValidationError, match="no BEGIN:VCARD"):
        book.import_vcard(write(tmp_path, "empty.vcf", "\r\n"))


def test_a_cp1252_file_with_semicolons(app, book, crm_cli, tmp_path):
    """Excel in Spain: cp1252 and ';'. Without --encoding: a clear error and nothing written; with it: imported."""
    text = "first_name;last_name;email;notes\nJosé;Núñez;jose@example.com;Debe 50 €\nÍñigo;Peña;inigo@example.com;\n"
    path = write(tmp_path, "excel.csv", text, "cp1252")
    result = crm_cli.invoke(["contacts", "import", str(path)], app=app)
    assert result.exit_code == 2
    assert (
        "line 2 cannot be read as utf-8" in result.output and "'José;Núñez;jose@example.com;Debe 50 €'" in result.output
    )
    assert "--encoding cp1252" in result.output and book.search().total == 0
    result = crm_cli.invoke(["contacts", "import", str(path), "--encoding", "cp1252"], app=app)
    assert result.exit_code == 0 and "2 contact(s) were created" in result.output
    jose = book.get(book.search(email="jose@example.com").cards[0].id)
    assert (jose.display_name, jose.notes) == ("José Núñez", "Debe 50 €")
    assert names(book) == ["José Núñez", "Íñigo Peña"]


def test_a_stream_with_a_header_only_is_a_clear_error(book):
    with pytest.raises(ValidationError, match="people.csv: no row after the header has anything to import"):
        book.import_csv(io.StringIO("first_name,email\n\n"), source_name="people.csv")


def test_a_stream_without_a_usable_name_is_called_the_csv(book):
    # a spooled temporary file's name is None, a file opened on a descriptor has an int
    spooled = tempfile.SpooledTemporaryFile(mode="w+", newline="")
    spooled.write("first_name,email\n\n")
    spooled.seek(0)
    with pytest.raises(ValidationError, match="^the CSV: no row after the header has anything to import"):
        book.import_csv(spooled, source_name=None)
