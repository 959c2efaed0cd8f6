"""CSV and vCard import and export: layouts, bad input, idempotence, formula escaping, CLI."""

from __future__ import annotations

import io
import json

import pytest

from crm_core.errors import ValidationError

HEADER = "external_id,first_name,last_name,email,phone,organization,city,address_country,tags,custom.industry,status\n"
GOOD = [
    'x1,Ana,García,ana@example.com,612345678,Acme,Madrid,ES,"vip,news",retail,customer\n',
    "x2,Ben,Smith,ben@example.com,+44 20 7946 0958,Acme,London,GB,,,\n",
]
BAD = [
    "x3,Bad,Mail,not-an-email,,,,,,,\n",
    "x4,Bad,Phone,bad@example.com,12,,,,,,\n",
    "x5,short\n",
]


@pytest.fixture
def app(contacts_app, crm_recorder):
    return contacts_app(("recorder", crm_recorder))


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_import_reports_bad_rows_and_imports_the_rest(book, tmp_path, crm_recorder):
    path = write(tmp_path, "people.csv", HEADER + "".join(GOOD + BAD))
    report = book.import_csv(path, actor="maria")
    # the row whose phone cannot be read is imported, the phone kept unverified
    assert (report.rows, report.created, report.failed, report.organizations_created) == (5, 3, 2, 1)
    assert [(e.line, e.field) for e in report.errors] == [(4, "emails"), (6, "-")]
    assert "not a valid e-mail" in report.errors[0].reason and "expected 11 fields" in report.errors[1].reason
    ana = book.search(email="ana@example.com").cards[0]
    assert (ana.phone, ana.organization_name, ana.tags, ana.status) == (
        "+34612345678",
        "Acme",
        ("news", "vip"),
        "customer",
    )
    created = [e for e in crm_recorder.events if e.type_name == "ContactCreated"]
    assert len(created) == 4 and {e.channel for e in created} == {"import"} and {e.actor for e in created} == {"maria"}


def test_reimport_is_idempotent_and_updates_matches(book, tmp_path, crm_recorder):
    path = write(tmp_path, "people.csv", HEADER + "".join(GOOD))
    book.import_csv(path)
    again = book.import_csv(path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    assert book.search().total == 3
    # a new file matches Ana by e-mail (no external id); Ben, by phone confirmed by his name, only when asked
    changed = write(
        tmp_path,
        "changed.csv",
        "first_name,email,phone,status,tags\nAna,ANA@example.com,,former,partner\nBen,,+442079460958,customer,\n",
    )
    assert book.import_csv(changed, dry_run=True).created == 1
    report = book.import_csv(changed, match_on=("external_id", "email", "phone"))
    assert (report.created, report.updated) == (0, 2)
    ana = book.get(book.search(email="ana@example.com").cards[0].id)
    assert ana.status == "former" and ana.tags == ("news", "partner", "vip") and ana.external_id == "x1"
    event = [e for e in crm_recorder.events if e.type_name == "ContactChanged" and e.contact_id == ana.id][-1]
    assert event.changes["status"].old == "customer" and event.changes["status"].new == "former"
    assert book.search(phone="+442079460958").cards[0].status == "customer"


def test_rows_of_one_file_sharing_a_key_become_one_contact(book, tmp_path):
    path = write(
        tmp_path,
        "dups.csv",
        "first_name,last_name,email,phone\nAna,Ruiz,ana@example.com,\nAna,Ruiz,ANA@EXAMPLE.COM,+34612345678\n",
    )
    report = book.import_csv(path)
    assert report.created == 1 and book.search().total == 1
    assert book.search(phone="612345678").total == 1


def test_all_or_nothing_and_dry_run_write_nothing(app, book, tmp_path):
    path = write(tmp_path, "people.csv", HEADER + "".join(GOOD + BAD))
    report = book.import_csv(path, all_or_nothing=True)
    assert report.aborted and report.failed == 2 and report.created == 0
    assert book.search(include_deleted=True).total == 0 and app.events.recent(5) == []
    dry = book.import_csv(path, dry_run=True)
    assert (dry.created, dry.failed, dry.organizations_created) == (3, 2, 1)
    assert book.search(include_deleted=True).total == 0 and app.events.recent(5) == []


def test_google_and_outlook_layouts_are_detected(book, tmp_path):
    google = (
        "Name,Given Name,Family Name,Group Membership,E-mail 1 - Type,E-mail 1 - Value,E-mail 2 - Type,E-mail 2 - Value,"
        "Phone 1 - Type,Phone 1 - Value,Address 1 - Type,Address 1 - Street,Address 1 - City,Address 1 - Postal Code,Address 1 - Country,Organization 1 - Name\n"
        "Zoë Lefèvre,Zoë,Lefèvre,* myContacts ::: Friends,* Work,zoe@work.example,Home,zoe@home.example,Mobile,+33 6 12 34 56 78,Home,1 Rue X,Paris,75001,FR,Atlas\n"
    )
    report = book.import_csv(write(tmp_path, "google.csv", google))
    assert report.layout == "google" and report.created == 1, report.errors
    zoe = book.get(book.search(email="zoe@work.example").cards[0].id)
    assert [(e.address, e.kind, e.primary) for e in zoe.emails] == [
        ("zoe@work.example", "work", True),
        ("zoe@home.example", "home", False),
    ]
    assert (
        zoe.phones[0].kind == "mobile"
        and zoe.tags == ("friends",)
        and zoe.address.city == "Paris"
        and zoe.organization_name == "Atlas"
    )
    outlook = (
        "First Name,Last Name,Company,E-mail Address,Business Phone,Mobile Phone,Business Street,Business City,Business Postal Code,Business Country/Region,Categories\n"
        "Tom,Jones,Acme,tom@acme.example,+44 20 7946 0000,+44 7400 123456,1 High St,London,SW1A 1AA,United Kingdom,Clients;VIP\n"
    )
    report = book.import_csv(write(tmp_path, "outlook.csv", outlook))
    assert report.layout == "outlook" and report.created == 1, report.errors
    tom = book.get(book.search(email="tom@acme.example").cards[0].id)
    assert (
        {p.kind for p in tom.phones} == {"mobile", "work"}
        and tom.address.kind == "work"
        and tom.address.country == "GB"
    )
    assert tom.tags == ("clients", "vip")


def test_mapping_file(book, tmp_path):
    mapping = write(
        tmp_path,
        "map.toml",
        '[columns]\n"Correo" = "email:work"\n"Nombre" = "first_name"\n"Móvil" = "phone:mobile"\n"Nada" = "-"\n',
    )
    data = write(tmp_path, "es.csv", "Nombre;Correo;Móvil;Nada\nLucía;lucia@example.es;612 000 111;x\n")
    report = book.import_csv(data, mapping=mapping)
    assert report.created == 1 and report.layout == "mapping file"
    assert book.search(email="lucia@example.es").cards[0].phone == "+34612000111"
    json_map = write(tmp_path, "map.json", json.dumps({"columns": {"Correo": "email"}, "delimiter": ";"}))
    # columns the mapping leaves out are kept as custom fields unless ignored
    assert book.import_csv(data, mapping=json_map, ignore_columns=["Nombre", "Móvil", "Nada"]).unchanged == 1


@pytest.mark.parametrize(
    "name, content, kwargs, message",
    [
        ("nomatch.csv", "foo,bar\n1,2\n", {}, "the header matches nothing"),
        (
            "semicolon.csv",
            "first_name;email\nAna;a@example.com\n",
            {"delimiter": ","},
            "single column.*--delimiter ';'",
        ),
        ("latin1.csv", "first_name,email\nJosé,j@example.com\n", {}, "line 2 cannot be read as utf-8.*--encoding"),
        ("empty.csv", "", {}, "the file is empty"),
        ("quote.csv", 'first_name,email\n"Ana,a@example.com\n', {}, "malformed|expected 2 fields"),
        (
            "badmap.csv",
            "first_name\nAna\n",
            {"mapping": {"first_name": "favourite_colour"}},
            "mapping target 'favourite_colour' is not known",
        ),
        ("missingcol.csv", "first_name\nAna\n", {"mapping": {"Nombre": "first_name"}}, "names column\\(s\\) 'Nombre'"),
    ],
)
def test_bad_files_are_refused_before_anything_is_written(app, book, tmp_path, name, content, kwargs, message):
    encoding = "latin-1" if name.startswith("latin1") else "utf-8"
    path = write(tmp_path, name, content, encoding)
    try:
        report = book.import_csv(path, **kwargs)
    except ValidationError as exc:
        assert __import__("re").search(message, str(exc)), str(exc)
    else:
        assert report.created == 0 and report.failed and __import__("re").search(message, str(report.errors[0]))
    assert book.search(include_deleted=True).total == 0


def test_export_escapes_formulas_and_reimports(book, tmp_path):
    book.create(
        first_name='=HYPERLINK("http://evil")',
        last_name="@SUM",
        email="x@example.com",
        phone="+34612345678",
        tags=["-1"],
    )
    out = io.StringIO()
    assert book.export_csv(out) == 1
    text = out.getvalue()
    assert "'=HYPERLINK" in text and "'@SUM" in text and "'+34612345678" in text and "'-1" in text
    path = write(tmp_path, "export.csv", text)
    report = book.import_csv(path)
    assert report.unchanged == 1 and report.created == 0
    assert book.get(1).first_name == '=HYPERLINK("http://evil")'


def test_vcard_round_trip_and_broken_card(book, tmp_path):
    book.create(
        first_name="José",
        last_name="Núñez",
        emails=[{"address": "jose@example.com", "kind": "work"}, "pepe@example.org"],
        phones=[{"number": "+34612345678", "kind": "mobile"}, {"number": "+34912345678", "kind": "work"}],
        addresses=[
            {"street": "Calle Mayor, 1; 2º", "city": "Madrid", "postal_code": "28001", "country": "ES", "kind": "home"}
        ],
        notes="línea 1\n" + "ñ" * 60,
        tags=["vip"],
    )
    for version in ("3.0", "4.0"):
        out = io.StringIO()
        book.export_vcard(out, version=version)
        text = out.getvalue()
        assert all(len(line.encode()) <= 75 for line in text.split("\r\n")), "lines are folded at 75 octets"
        path = write(tmp_path, f"c{version}.vcf", text)
        assert book.import_vcard(path).unchanged == 1
    bad = write(
        tmp_path,
        "bad.vcf",
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Good One\r\nEMAIL:g@example.com\r\nEND:VCARD\r\nBEGIN:VCARD\r\nVERSION:4.0\r\nFN:Broken\r\nno colon here\r\nEND:VCARD\r\n",
    )
    report = book.import_vcard(bad)
    assert report.created == 1 and report.errors[0].line == 6 and "line 9: no ':'" in report.errors[0].reason
    card = book.search(email="g@example.com").cards[0]
    assert card.display_name == "Good One"


def test_import_and_export_commands(app, crm_cli, tmp_path):
    path = write(tmp_path, "people.csv", HEADER + "".join(GOOD + BAD))
    result = crm_cli.invoke(["contacts", "import", str(path), "--dry-run"], app=app)
    assert result.exit_code == 0 and "3 contact(s) would be created" in result.output
    assert "line 4: emails:" in result.output
    result = crm_cli.invoke(["contacts", "import", str(path), "--all-or-nothing"], app=app)
    assert result.exit_code == 1 and "nothing was imported" in result.output
    result = crm_cli.invoke(["contacts", "import", str(path)], app=app)
    assert result.exit_code == 0 and "3 contact(s) were created" in result.output
    out = tmp_path / "out.csv"
    result = crm_cli.invoke(["contacts", "export", "-o", str(out), "--tag", "vip"], app=app)
    assert result.exit_code == 0 and "1 contact(s) written" in result.output
    assert "ana@example.com" in out.read_text() and "ben@example.com" not in out.read_text()
    result = crm_cli.invoke(["contacts", "export", "--format", "vcard", "--vcard-version", "3.0"], app=app)
    assert result.output.count("BEGIN:VCARD") == 4


def test_a_large_import_gathers_the_planners_statistics_on_postgresql(book, app, crm_backend, tmp_path, monkeypatch):
    from crm_contacts import transfer

    ran = []
    run = app.database.execute_sql

    def watch(sql, *args, **kwargs):
        if str(sql).startswith("ANALYZE"):
            ran.append(sql)
        return run(sql, *args, **kwargs)

    monkeypatch.setattr(app.database, "execute_sql", watch)
    monkeypatch.setattr(transfer, "ANALYZE_AFTER", 2)  # what 10,000 contacts are to a real import
    book.import_csv(write(tmp_path, "dry.csv", HEADER + "".join(GOOD)), dry_run=True)
    assert ran == []  # a dry run writes nothing to gather
    book.import_csv(write(tmp_path, "two.csv", HEADER + "".join(GOOD)))
    if crm_backend == "postgresql":
        assert len(ran) == 1 and "contacts_word" in ran[0] and "contacts_email" in ran[0]
    else:
        assert ran == []  # SQLite and MariaDB keep their statistics themselves


def test_postgresql_plans_each_batch_for_the_book_as_it_grows(contacts_app, crm_backend, tmp_path, monkeypatch):
    """A large import gathers the planner's statistics as the book doubles: its look-ups stay index probes."""
    from crm_contacts import planner

    app = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": 2}})
    with app.activate():
        planner.analyze(app.database)  # the planner counts the empty book (an earlier test may have left a count)
    ran = []
    run = app.database.execute_sql

    def watch(sql, *args, **kwargs):
        if str(sql).startswith("ANALYZE"):
            ran.append(sql)
        return run(sql, *args, **kwargs)

    monkeypatch.setattr(app.database, "execute_sql", watch)
    monkeypatch.setattr(planner, "FIRST_ANALYZE", 2)  # what 5,000 contacts are to a real import
    rows = "".join(f"p{i},Ana,Persona{i},persona{i}@example.com\n" for i in range(10))
    report = app.plugin("contacts").import_csv(
        write(tmp_path, "ten.csv", "external_id,first_name,last_name,email\n" + rows)
    )
    assert report.created == 10
    if crm_backend == "postgresql":
        # after 2 contacts (never counted), then each time the book doubled: 4 and 8
        assert len(ran) == 3 and all("contacts_contact" in s and "contacts_email" in s for s in ran), ran
    else:
        assert ran == []


def test_an_import_on_sqlite_writes_with_a_larger_page_cache_and_gives_it_back(book, app, crm_backend, tmp_path):
    from crm_contacts import importing

    if crm_backend != "sqlite":
        pytest.skip("a SQLite connection's own cache")
    seen = []

    def pragma():
        return app.database.execute_sql("PRAGMA cache_size").fetchone()[0]

    before = pragma()
    report = book.import_csv(
        write(tmp_path, "people.csv", HEADER + "".join(GOOD)), on_batch=lambda rows: seen.append(pragma())
    )
    assert report.created == 2 and seen == [-importing.IMPORT_CACHE_MB * 1024]
    assert pragma() == before


def test_free_text_owners_are_looked_up_once_per_name_not_per_row(book, app, tmp_path):
    from crm_core.testing import statements

    def user_reads(first, count):
        rows = "".join(
            f"o{i},Ana,Owner{i},owner{i}@example.com,{'Maria' if i % 2 else 'luis'}\n"
            for i in range(first, first + count)
        )
        path = write(tmp_path, f"owned{first}.csv", "external_id,first_name,last_name,email,owner\n" + rows)
        with statements(app) as sql:
            assert book.import_csv(path).created == count
        return [s for s in sql if "crm_user" in s]

    # on PostgreSQL the first import on a connection also prepares its statements: count the later ones
    user_reads(200, 1)
    # as many look-ups for 60 rows as for 2 rows naming the same two owners
    assert len(user_reads(0, 60)) == len(user_reads(100, 2)) <= 4
    # before any user exists an owner is free text, kept as typed
    assert {c.owner for c in book.search(limit=100).cards} == {"Maria", "luis"}
