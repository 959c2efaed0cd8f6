"""The import's matching policy: nothing is merged into a stranger (issue 12, findings 1 and 2).

Every test runs on each configured backend (the test kit's ``crm_db_url``);
the "other CRM" whose export is imported is a separate SQLite database.
"""

from __future__ import annotations

import io

import pytest

from crm_contacts.identity import format_id, parse_id


@pytest.fixture
def app(contacts_app):
    return contacts_app()


@pytest.fixture
def book(app):
    return app.plugin("contacts")


@pytest.fixture
def other_book(crm_factory, tmp_path):
    """The contacts of another CRM: its own database, hence its own identity."""
    return crm_factory(
        plugins=["contacts"],
        settings={"contacts": {"default_region": "ES"}},
        database=f"sqlite:///{tmp_path / 'other.db'}",
    ).plugin("contacts")


def write(tmp_path, name, text, encoding="utf-8"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def state(book):
    """Every contact as (id, kind, name, e-mails, phones, organization), for comparing a whole book."""
    out = []
    for ids in book.iter_ids(None, include_deleted=True):
        records = book.records(ids)
        for cid in ids:
            r = records[cid]
            out.append(
                (
                    cid,
                    r.kind,
                    r.display_name,
                    tuple(e.address for e in r.emails),
                    tuple(p.number for p in r.phones),
                    r.organization_name,
                )
            )
    return out


def test_ids_carry_the_database_identity(app, book, other_book):
    ours = book.create(first_name="Ana", email="ana@example.com")
    out = io.StringIO()
    book.export_csv(out)
    cell = out.getvalue().splitlines()[1].split(",")[0]
    ref = parse_id(cell)
    assert ref is not None and ref.contact_id == ours.id
    assert format_id(ref.database, ours.id) == cell
    theirs = io.StringIO()
    other_book.create(first_name="Zoe")
    other_book.export_csv(theirs)
    assert parse_id(theirs.getvalue().splitlines()[1].split(",")[0]).database != ref.database
    vcard = io.StringIO()
    book.export_vcard(vcard)
    assert f"UID:{cell}\r\n" in vcard.getvalue()
    assert parse_id("42") is None and parse_id("crm:not-a-uuid:4") is None


def test_another_crms_export_never_matches_by_id(book, other_book, tmp_path):
    """Finding 1: contacts 1-3 of another CRM are not our contacts 1-3."""
    acme = book.create(kind="organization", display_name="Acme")
    maria = book.create(first_name="María José", last_name="Núñez", email="maria@example.com", organization_id=acme.id)
    pedro = book.create(first_name="Pedro", last_name="Ruiz")
    before = state(book)
    # the other CRM's contacts 1, 2 and 3: a person, an organization, a person (the other way round)
    other_book.create(first_name="Zoe", last_name="Lefèvre", email="zoe@example.com")
    globex = other_book.create(kind="organization", display_name="Globex")
    other_book.create(first_name="Luis", last_name="Gil", organization_id=globex.id)
    out = io.StringIO()
    other_book.export_csv(out)
    report = book.import_csv(write(tmp_path, "theirs.csv", out.getvalue()))
    assert (report.created, report.updated, report.unchanged, report.failed, report.conflicts) == (3, 0, 0, 0, [])
    assert report.organizations_created == 0  # Globex is a row of the file, created once
    assert any("not one of this database's" in n for n in report.notes)
    after = state(book)
    assert after[:3] == before  # untouched: same kinds, names, e-mails
    assert {(k, n) for _, k, n, _, _, _ in after[3:]} == {
        ("person", "Zoe Lefèvre"),
        ("organization", "Globex"),
        ("person", "Luis Gil"),
    }
    assert [r for r in after if r[2] == "Luis Gil"][0][5] == "Globex"
    # bare numbers (an old export, another system's ids) never match either
    bare = write(tmp_path, "bare.csv", f"id,first_name,last_name\n{maria.id},Eve,Stone\n{pedro.id},Max,Power\n")
    report = book.import_csv(bare)
    assert report.created == 2 and state(book)[:3] == before


def test_our_own_export_matches_by_id(book, tmp_path):
    ana = book.create(first_name="Ana", last_name="García", email="ana@example.com")
    out = io.StringIO()
    book.export_csv(out)
    edited = out.getvalue().replace("ana@example.com", "ana.garcia@example.com").replace("prospect", "customer")
    report = book.import_csv(write(tmp_path, "ours.csv", edited))
    assert (report.created, report.updated) == (0, 1)
    record = book.get(ana.id)
    assert record.status == "customer" and {e.address for e in record.emails} == {
        "ana@example.com",
        "ana.garcia@example.com",
    }


def test_a_phone_alone_creates_a_new_contact(book, tmp_path):
    """Finding 2: "Ana García" with María José Núñez's phone does not rename María José."""
    maria = book.create(first_name="María José", last_name="Núñez", phone="+34 612 345 678")
    path = write(tmp_path, "ana.csv", "first_name,last_name,email,phone\nAna,García,ana@example.com,+34 612 345 678\n")
    report = book.import_csv(path)
    assert (report.created, report.updated, report.unchanged) == (1, 0, 0)
    assert book.get(maria.id).display_name == "María José Núñez"
    ana = book.search(email="ana@example.com").cards[0]
    assert ana.display_name == "Ana García" and ana.id != maria.id
    # her own name with her phone is still not her, unless phones are asked for as a key
    again = write(tmp_path, "maria.csv", "first_name,last_name,phone,status\nMaria,Nunez,612345678,customer\n")
    assert book.import_csv(again, dry_run=True).created == 1
    # asked for: the phone finds her together with her name (fewer words, no accents)
    report = book.import_csv(again, match_on=("id", "external_id", "email", "phone"))
    assert (report.created, report.updated) == (0, 1) and book.get(maria.id).status == "customer"
    assert book.search().total == 2


def test_a_strongly_different_name_is_a_conflict_left_unchanged(book, tmp_path):
    maria = book.create(first_name="María José", last_name="Núñez", email="shared@example.com")
    acme = book.create(kind="organization", display_name="Acme", email="info@acme.example")
    path = write(
        tmp_path,
        "conflicts.csv",
        "kind,first_name,last_name,display_name,email,status\n"
        "person,Pedro,López,,shared@example.com,customer\n"  # e-mail matches María José
        "person,,,Acme Person,info@acme.example,customer\n"  # an organization's e-mail on a person row
        "person,Maria,Nunez,,shared@example.com,former\n",  # her, spelled differently: not a conflict
    )
    report = book.import_csv(path)
    assert (report.created, report.updated, report.unchanged) == (0, 1, 0)
    assert [(c.line, c.field) for c in report.conflicts] == [(2, "name"), (3, "kind")]
    assert (
        f"contact {maria.id} 'María José Núñez'" in report.conflicts[0].reason
        and "--on-conflict update" in report.conflicts[0].reason
    )
    assert book.get(maria.id).status == "former" and book.get(maria.id).first_name == "Maria"
    assert book.get(acme.id).kind == "organization" and book.get(acme.id).status == "prospect"
    forced = book.import_csv(path, on_conflict="update")
    assert forced.conflicts == [] and (forced.updated, forced.unchanged) == (
        1,
        1,
    )  # rows 2 and 4 fold into her as she is
    assert book.get(acme.id).kind == "person"
    assert book.search().total == 2


def test_a_row_matching_two_contacts_is_a_conflict(book, tmp_path):
    one = book.create(first_name="Ana", email="ana@example.com")
    two = book.create(first_name="Ana", email="ana@work.example")
    path = write(
        tmp_path, "both.csv", "first_name,email,email_2,status\nAna,ana@example.com,ana@work.example,customer\n"
    )
    report = book.import_csv(path)
    assert report.updated == 0 and len(report.conflicts) == 1
    assert f"contact {one.id}" in report.conflicts[0].reason and f"contact {two.id}" in report.conflicts[0].reason
    assert book.get(one.id).status == book.get(two.id).status == "prospect"


@pytest.mark.parametrize("batch_size", [1, 1000], ids=["batch-per-row", "one-batch"])
def test_two_rows_of_one_file_that_match_each_other(contacts_app, tmp_path, batch_size):
    """Documented: they become one contact, the later row's values winning, unless their names differ strongly."""
    book = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": batch_size}}).plugin(
        "contacts"
    )
    path = write(
        tmp_path,
        "dups.csv",
        "first_name,last_name,email,phone,status,tags\n"
        "Ana,Ruiz,ana@example.com,,prospect,a\n"
        "Ana,Ruiz,ANA@EXAMPLE.COM,+34612345678,customer,b\n"  # the same e-mail: folded into line 2
        "Pedro,López,ana@example.com,,former,c\n"  # the same e-mail, another person: a conflict
        "Ana,,,612 345 678,,d\n"  # no e-mail; the phone of line 3, with her name: folded too
        "Luis,Gil,,612345678,,e\n",  # the same phone, another name: a new contact
    )
    phones_too = ("id", "external_id", "email", "phone")  # line 5 is found by phone only when phones are asked for
    report = book.import_csv(path, match_on=phones_too)
    contacts = book.search().cards
    assert len(contacts) == 2 and report.created + report.updated + report.unchanged >= 2
    ana = book.get(book.search(email="ana@example.com").cards[0].id)
    assert (ana.display_name, ana.status, ana.tags) == ("Ana Ruiz", "customer", ("a", "b", "d"))
    assert [(c.line, c.field) for c in report.conflicts] == [(4, "name")]
    assert {c.display_name for c in contacts} == {"Ana Ruiz", "Luis Gil"}
    # the same file again leaves the book as it is and still reports the conflict (with a batch per
    # row, lines 2 and 3 each rewrite the status, and the report counts those two updates)
    before = state(book)
    again = book.import_csv(path, match_on=phones_too)
    assert (again.created, len(again.conflicts)) == (0, 1) and state(book) == before
    assert again.updated == (2 if batch_size == 1 else 0)


@pytest.mark.parametrize("batch_size", [1, 1000], ids=["batch-per-row", "one-batch"])
def test_organizations_are_never_created_twice(contacts_app, other_book, tmp_path, batch_size):
    book = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": batch_size}}).plugin(
        "contacts"
    )
    acme = other_book.create(
        kind="organization", display_name="Acme Ltd", email="info@acme.example", external_id="es-1"
    )
    for n in range(3):
        other_book.create(
            first_name=f"Person{n}", last_name="Acme", email=f"p{n}@acme.example", organization_id=acme.id
        )
    out = io.StringIO()
    other_book.export_csv(out)
    lines = out.getvalue().splitlines(keepends=True)
    for text in (out.getvalue(), lines[0] + "".join(lines[2:]) + lines[1]):  # the organization's row first, then last
        report = book.import_csv(write(tmp_path, "acme.csv", text))
        orgs = [c for c in book.search().cards if c.kind == "organization"]
        assert len(orgs) == 1 and report.failed == 0, report
        assert {book.get(c.id).organization_id for c in book.search().cards if c.kind == "person"} == {orgs[0].id}
    # an organization column naming one by another spelling finds it too
    report = book.import_csv(write(tmp_path, "more.csv", "first_name,organization\nNew,ACME  ltd\n"))
    assert report.organizations_created == 0 and book.search().total == 5
    # same name, other external id: another organization
    report = book.import_csv(write(tmp_path, "uk.csv", "kind,display_name,external_id\norganization,Acme Ltd,uk-1\n"))
    assert report.created == 1 and len([c for c in book.search().cards if c.kind == "organization"]) == 2


def test_a_vcard_organization_is_not_its_own_member(book, tmp_path):
    card = "BEGIN:VCARD\r\nVERSION:4.0\r\nKIND:org\r\nFN:Globex\r\nORG:Globex\r\nEND:VCARD\r\n"
    report = book.import_vcard(write(tmp_path, "org.vcf", card))
    assert (report.created, report.organizations_created) == (1, 0)
    org = book.get(book.search().cards[0].id)
    assert org.kind == "organization" and org.organization_id is None


def test_dry_run_predicts_exactly_what_the_real_run_does(contacts_app, tmp_path):
    book = contacts_app(settings={"contacts": {"default_region": "ES", "import_batch_size": 2}}).plugin("contacts")
    book.create(first_name="María José", last_name="Núñez", email="maria@example.com")
    book.create(first_name="Old", last_name="Friend", email="old@example.com", status="customer")
    path = write(
        tmp_path,
        "mix.csv",
        "first_name,last_name,email,organization,status\n"
        "Ana,Ruiz,ana@example.com,Acme,\n"
        "Ana,Ruiz,ana@example.com,Acme,customer\n"  # folds into the row above (another batch)
        "Pedro,López,maria@example.com,,\n"  # conflict
        "Old,Friend,old@example.com,,customer\n"  # unchanged
        "Luis,Gil,luis@example.com,Acme,\n"
        "Eva,Sanz,eva@example.com,Globex,\n"
        "Eva,Sanz,eva@example.com,Globex,former\n"
        "bad,row,not-an-email,,\n",
    )
    before = state(book)
    dry = book.import_csv(path, dry_run=True)
    assert state(book) == before
    real = book.import_csv(path)

    def counts(r):
        return (
            r.rows,
            r.created,
            r.updated,
            r.unchanged,
            r.failed,
            r.organizations_created,
            len(r.conflicts),
            len(r.warnings),
        )

    assert counts(dry) == counts(real) == (8, 3, 1, 1, 1, 2, 1, 0)
    assert len(state(book)) == len(before) + 5


def test_an_organization_renamed_in_our_own_export_is_not_created_again(book, tmp_path):
    acme = book.create(kind="organization", display_name="Acme")
    ana = book.create(first_name="Ana", email="ana@example.com", organization_id=acme.id)
    out = io.StringIO()
    book.export_csv(out)
    report = book.import_csv(write(tmp_path, "renamed.csv", out.getvalue().replace("Acme", "Acme Ltd")))
    assert (report.created, report.updated, report.organizations_created) == (0, 1, 0)
    assert book.get(acme.id).display_name == "Acme Ltd" and book.get(ana.id).organization_id == acme.id
    assert book.search().total == 2


def test_our_own_id_wins_over_a_duplicate_already_in_the_book(book, tmp_path):
    book.create(first_name="Ana", last_name="Ruiz", email="ana@example.com")
    book.create(first_name="Ana", last_name="Ruiz", email="ana@example.com")  # a duplicate nobody merged yet
    out = io.StringIO()
    book.export_csv(out)
    lines = out.getvalue().splitlines(keepends=True)
    report = book.import_csv(write(tmp_path, "second.csv", lines[0] + lines[2].replace("prospect", "customer")))
    assert (report.updated, report.conflicts) == (1, [])
    assert [c.status for c in sorted(book.search().cards, key=lambda c: c.id)] == ["prospect", "customer"]


def test_a_vcard_whose_org_names_a_person_of_the_file(book, tmp_path):
    """Bad input of issue 12: ORG names an organization, never a person; the person with that name stays a person."""
    cards = (
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Ana García\r\nN:García;Ana;;;\r\nEMAIL:ana@example.com\r\nEND:VCARD\r\n"
        "BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Luis Gil\r\nN:Gil;Luis;;;\r\nORG:Ana García\r\nEMAIL:luis@example.com\r\nEND:VCARD\r\n"
    )
    report = book.import_vcard(write(tmp_path, "people.vcf", cards))
    assert (report.created, report.organizations_created, report.failed) == (2, 1, 0)
    ana = book.search(email="ana@example.com").cards[0]
    luis = book.search(email="luis@example.com").cards[0]
    assert (ana.kind, ana.organization_id) == ("person", None)
    org = book.card(luis.organization_id)
    assert (org.kind, org.display_name) == ("organization", "Ana García") and org.id != ana.id
    # the same file again: the organization is found by its name, not made twice, and nobody changes
    again = book.import_vcard(write(tmp_path, "people.vcf", cards))
    assert (again.created, again.organizations_created) == (0, 0)
    assert book.search(kind="organization").total == 1 and book.search(kind="person").total == 2
