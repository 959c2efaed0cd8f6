"""The import wizard of the desk: upload, layout, mapping, dry run, import with its progress, the problem rows."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from typing import Any

import pytest

from crm_core.testing import statements
from crm_desk.testing import DeskClient

PASSWORD = "Correct-horse-42!"
SECRET = "desk-secret-for-the-import-tests-0123456789"
ROLES = ("admin", "manager", "sales", "support", "read-only")
PEOPLE = (
    "first_name;last_name;email;Shoe size\nAna;García;ana@example.com;40\nLuis;Pérez;not-an-email;41\n"
    "Eva;Ruiz;eva@example.com;39\n"
).encode()
VCARD = b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Olga Sanz\r\nN:Sanz;Olga;;;\r\nEMAIL:olga@example.com\r\nEND:VCARD\r\n"


@pytest.fixture
def office(crm_factory: Callable[..., Any]) -> Any:
    """The desk and contacts; a user of each built-in role (only admin and manager hold contacts.import)."""
    crm = crm_factory(
        plugins=["desk", "contacts"],
        settings={"desk": {"base_url": "https://crm.example.com"}},
        core={"secret": SECRET},
        mail={"sender": "CRM <crm@example.com>"},
    )
    for role in ROLES:
        crm.authz.users.add(f"u-{role}", roles=[role], password=PASSWORD)
    crm.authz.users.add("boss", roles=["manager"], password=PASSWORD)
    return crm


def signed_in(crm: Any, name: str = "u-admin", language: str | None = None) -> DeskClient:
    desk = DeskClient(crm)
    assert desk.sign_in(name, PASSWORD).status_code == 302
    if language:
        desk.get("/")
        desk.post("/language", {"language": language, "next": "/"})
    return desk


def upload(desk: DeskClient, data: bytes, name: str = "people.csv", **fields: str) -> Any:
    desk.get("/contacts/import/")
    return desk.post(
        "/contacts/import/",
        {"file": (io.BytesIO(data), name), "encoding": "", "delimiter": "", **fields},
        content_type="multipart/form-data",
    )


def held_id(answer: Any) -> int:
    match = re.search(r"/contacts/import/files/(\d+)$", answer.headers["Location"])
    assert match, answer.headers["Location"]
    return int(match.group(1))


def work(crm: Any) -> str:
    """What ``crm worker`` does: run the contacts plugin's imports job."""
    job = {j.name: j for _, j in crm.hooks.worker_jobs(crm)}["contacts.imports"]
    return str(job.run(crm, crm.clock.now()))


def mapping_form(desk: DeskClient) -> dict[str, str]:
    """The mapping and options as the file's page shows them (the selected option of each menu, the boxes ticked)."""
    form: dict[str, Any] = {}
    for name, body in re.findall(r'<select id="f-[^"]+" name="([^"]+)"[^>]*>(.*?)</select>', desk.text, re.S):
        chosen = re.search(r'<option value="([^"]*)" selected>', body)
        form[name] = chosen.group(1) if chosen else re.search(r'<option value="([^"]*)"', body).group(1)
    form["match_on"] = re.findall(r'name="match_on" value="([^"]+)" checked', desk.text)
    form.pop("encoding", None)
    form.pop("delimiter", None)
    return form


def test_the_wizard_end_to_end_upload_layout_mapping_dry_run_import_and_problem_rows(office: Any) -> None:
    desk = signed_in(office)
    answer = upload(desk, PEOPLE)
    assert answer.status_code == 303
    number = held_id(answer)
    desk.get(f"/contacts/import/files/{number}")
    page = desk.text
    # the layout found: delimiter, encoding, columns, layout, rows
    assert "Semicolon (;)" in page and "<dd>UTF-8</dd>" in page and "first_name, last_name, email, Shoe size" in page
    assert "this CRM&#39;s export" in page and "<dd>3</dd>" in page
    assert "Ana · Luis · Eva" in page  # the first values of a column
    form = mapping_form(desk)
    assert form["map-0"] == "first_name" and form["map-2"] == "email_1" and form["map-3"] == "custom.Shoe size"
    assert form["match_on"] == ["id", "external_id", "email"]
    # change the mapping: the shoe size is ignored; save it as a mapping file the CLI takes
    form["map-3"] = "-"
    got = desk.post(f"/contacts/import/files/{number}", {**form, "action": "download"})
    assert got.status_code == 200 and "people-mapping.toml" in got.headers["Content-Disposition"]
    mapping_file = got.get_data(as_text=True)
    assert '"Shoe size" = "-"' in mapping_file and 'delimiter = ";"' in mapping_file
    # the dry run: queued for the worker, its report once it ran; nothing written
    desk.get(f"/contacts/import/files/{number}")
    answer = desk.post(f"/contacts/import/files/{number}", {**form, "action": "dry_run"})
    assert answer.status_code == 303 and f"file={number}" in answer.headers["Location"]
    run_page = answer.headers["Location"]
    desk.get(run_page)
    assert "Waiting for the worker" in desk.text and 'hx-trigger="every 1s"' in desk.text
    assert '<noscript><meta http-equiv="refresh" content="2"></noscript>' in desk.text
    assert "1 import(s) run" in work(office)
    desk.get(run_page)
    assert "Finished" in desk.text and "hx-trigger" not in desk.text and "noscript" not in desk.text
    assert re.search(r"Contacts that would be created</dt><dd>2</dd>", desk.text)
    assert re.search(r"Rows with errors \(not imported\)</dt><dd>1</dd>", desk.text)
    assert "&#39;not-an-email&#39; is not a valid e-mail address" in desk.text
    assert office.plugin("contacts").search("ana@example.com").total == 0
    # import it from the dry run's page
    answer = desk.post(f"/contacts/import/files/{number}/import")
    assert answer.status_code == 303
    import_page = answer.headers["Location"]
    assert "file=" not in import_page
    work(office)
    desk.get(import_page)
    assert re.search(r"Contacts created</dt><dd>2</dd>", desk.text) and "See the contacts" in desk.text
    assert desk.get(f"/contacts/import/files/{number}").status_code == 404  # the file went with its import
    found = office.plugin("contacts").search("eva@example.com")
    assert found.total == 1 and office.plugin("contacts").get(found.cards[0].id).custom == {}  # shoe size ignored
    # every problem row, with the file's own columns and the message, to fix and import again
    import_id = int(re.search(r"/runs/(\d+)", import_page).group(1))
    got = desk.get(f"/contacts/import/runs/{import_id}/problems")
    assert got.status_code == 200 and got.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(got.get_data(as_text=True))))
    assert [(r["import.line"], r["first_name"], r["Shoe size"]) for r in rows] == [("3", "Luis", "41")]
    assert "not a valid e-mail address" in rows[0]["import.problem"]
    # the start page lists both runs
    desk.get("/contacts/import/")
    assert desk.text.count("people.csv") == 2 and "Dry run" in desk.text


def test_the_mapping_file_the_wizard_saves_is_the_one_the_cli_takes(office: Any, tmp_path: Any) -> None:
    from crm_contacts.mapping import load_mapping_file

    desk = signed_in(office)
    number = held_id(upload(desk, PEOPLE))
    desk.get(f"/contacts/import/files/{number}")
    form = mapping_form(desk)
    form["map-3"] = "custom.shoe"
    form["map-1"] = "display_name"
    text = desk.post(f"/contacts/import/files/{number}", {**form, "action": "download"}).get_data(as_text=True)
    (tmp_path / "people.toml").write_text(text, encoding="utf-8")
    loaded = load_mapping_file(tmp_path / "people.toml")
    assert loaded["columns"] == {
        "first_name": "first_name",
        "last_name": "display_name",
        "email": "email_1",
        "Shoe size": "custom.shoe",
    }
    (tmp_path / "people.csv").write_bytes(PEOPLE)
    with office.as_user(office.authz.users.get("u-admin")):
        report = office.plugin("contacts").import_csv(tmp_path / "people.csv", mapping=tmp_path / "people.toml")
    assert report.created == 2
    record = office.plugin("contacts").get(office.plugin("contacts").search("ana@example.com").cards[0].id)
    assert record.custom == {"shoe": "40"} and record.display_name == "García"


def test_a_mapping_file_saved_before_maps_the_next_file(office: Any) -> None:
    desk = signed_in(office)
    saved = '[columns]\n"Nombre" = "first_name"\n"Correo" = "email"\n"Zapato" = "-"\n'
    data = b"Nombre|Correo|Zapato|Ciudad\nAna|ana@example.com|40|Sevilla\n"
    desk.get("/contacts/import/")
    answer = desk.post(
        "/contacts/import/",
        {
            "file": (io.BytesIO(data), "mes.csv"),
            "mapping": (io.BytesIO(saved.encode()), "mine.toml"),
            "delimiter": "bar",
        },
        content_type="multipart/form-data",
    )
    assert answer.status_code == 303
    desk.get(answer.headers["Location"])
    form = mapping_form(desk)
    assert (form["map-0"], form["map-1"], form["map-2"], form["map-3"]) == (
        "first_name",
        "email_1",
        "-",
        "custom.Ciudad",
    )
    for mapping, message in (
        ("columns = 3", "it needs a &#39;columns&#39; table"),
        ('[columns]\n"Apellido" = "last_name"\n', "names columns that mes.csv does not have: Apellido"),
        ('[columns]\n"Nombre" = "shoe"\n', "mapping target &#39;shoe&#39; is not known"),
    ):
        desk.get("/contacts/import/")
        answer = desk.post(
            "/contacts/import/",
            {"file": (io.BytesIO(data), "mes.csv"), "mapping": (io.BytesIO(mapping.encode()), "mine.toml")},
            content_type="multipart/form-data",
        )
        assert answer.status_code == 422, mapping
        assert re.search(rf'id="f-mapping-note">[^<]*{re.escape(message)}', desk.text), desk.text
        assert "/tmp" not in desk.text


def test_reading_the_file_again_in_another_encoding_and_with_another_delimiter(office: Any) -> None:
    desk = signed_in(office)
    latin = "first_name,last_name\nJosé,Núñez\n".encode("cp1252")
    number = held_id(upload(desk, latin))
    desk.get(f"/contacts/import/files/{number}")
    assert "Windows-1252" in desk.text and "(the file is not UTF-8: check that" in desk.text and "José" in desk.text
    answer = desk.post(f"/contacts/import/files/{number}/layout", {"encoding": "utf-8-sig", "delimiter": "comma"})
    assert answer.status_code == 422
    assert "Line 2 of people.csv cannot be read as UTF-8" in desk.text and "“José,Núñez”" in desk.text
    answer = desk.post(f"/contacts/import/files/{number}/layout", {"encoding": "latin-1", "delimiter": "semicolon"})
    assert answer.status_code == 303
    desk.get(f"/contacts/import/files/{number}")
    assert "Semicolon (;)" in desk.text and "<dd>first_name,last_name</dd>" in desk.text
    assert "no column name the import knows" in desk.text  # one column "first_name,last_name": nothing maps
    answer = desk.post(f"/contacts/import/files/{number}/layout", {"encoding": "klingon", "delimiter": "tab"})
    assert answer.status_code == 422 and "Choose one of the encodings offered." in desk.text


def test_mapping_mistakes_stand_beside_their_column(office: Any) -> None:
    desk = signed_in(office)
    number = held_id(upload(desk, PEOPLE))
    desk.get(f"/contacts/import/files/{number}")
    form = mapping_form(desk)
    twice = {**form, "map-1": "first_name", "action": "save"}
    assert desk.post(f"/contacts/import/files/{number}", twice).status_code == 422
    assert re.search(r'id="f-map-1-note">Column “first_name” goes to this field already', desk.text)
    assert 'aria-invalid="true"' in desk.text
    nothing = {**form, "map-0": "-", "map-1": "-", "map-2": "-", "map-3": "-", "action": "dry_run"}
    assert desk.post(f"/contacts/import/files/{number}", nothing).status_code == 422
    assert "Every column is ignored" in desk.text
    forged = {**form, "map-2": "shoe", "action": "save"}
    assert desk.post(f"/contacts/import/files/{number}", forged).status_code == 422
    assert re.search(r'id="f-map-2-note">mapping target &#39;shoe&#39; is not known', desk.text)
    no_keys = {**form, "match_on": [], "action": "save"}
    assert desk.post(f"/contacts/import/files/{number}", no_keys).status_code == 422
    assert "Choose at least one way to find a contact" in desk.text
    assert office.plugin("contacts").import_runs() == []  # nothing was queued


def test_a_vcard_file_is_shown_by_its_cards_and_imported(office: Any) -> None:
    desk = signed_in(office)
    answer = upload(desk, VCARD + b"BEGIN:VCARD\r\nVERSION:4.0\r\nFN:Broken\r\n", name="phone.vcf")
    number = held_id(answer)
    desk.get(f"/contacts/import/files/{number}")
    assert "vCard" in desk.text and "Olga Sanz" in desk.text and "olga@example.com" in desk.text
    assert "(1 cards cannot be read; the dry run lists them)" in desk.text and "map-0" not in desk.text
    form = {"match_on": ["email"], "on_conflict": "skip", "list_name": "", "action": "import"}
    assert desk.post(f"/contacts/import/files/{number}", form).status_code == 303
    work(office)
    assert office.plugin("contacts").search("olga@example.com").total == 1


@pytest.mark.parametrize(
    ("data", "name", "fields", "field", "message"),
    [
        (b"", "empty.csv", {}, "file", "empty.csv is empty. Choose the file you exported"),
        (b"PK\x03\x04rest", "book.xlsx", {}, "file", "book.xlsx is a ZIP archive or a spreadsheet workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1\x00", "old.xls", {}, "file", "save the sheet as CSV (UTF-8)"),
        (b"%PDF-1.4", "list.pdf", {}, "file", "list.pdf is a PDF document, not a CSV or vCard file"),
        (b"a\x00b\x00", "x.csv", {}, "file", "x.csv is a binary file"),
        ("first_name\nJosé\n".encode("cp1252"), "p.csv", {"encoding": "utf-8-sig"}, "encoding", "Line 2 of p.csv"),
        (b"\n\nfirst_name\nAna\n", "p.csv", {}, "file", "The first line of p.csv is blank"),
        (b"Ana,ana@example.com\nLuis,luis@example.com\n", "p.csv", {}, "file", "the file has no header line"),
        (b'first_name,notes\nAna,"open\n', "p.csv", {}, "file", "Line 2 of p.csv is not valid CSV"),
        (b"first_name,last_name\n", "p.csv", {}, "file", "has the line of column names and no contact after it"),
        (b"FN:Olga\r\n", "p.vcf", {}, "file", "p.vcf holds no contact card (no BEGIN:VCARD line)"),
        (
            b"BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\nFN:stray\r\n",
            "p.vcf",
            {},
            "file",
            "line 4: &#39;FN:stray&#39; is outside",
        ),
    ],
)
def test_a_bad_file_is_refused_naming_the_problem_and_the_fix(office, data, name, fields, field, message) -> None:
    desk = signed_in(office)
    answer = upload(desk, data, name=name, **fields)
    assert answer.status_code == 422
    assert re.search(rf'id="f-{field}-note">[^<]*{re.escape(message)}', desk.text), desk.text
    assert "/tmp" not in desk.text  # the reader's temporary path never shows
    assert office.plugin("contacts").import_runs() == []


def test_no_file_chosen_and_a_file_over_the_limit(office: Any, monkeypatch: Any) -> None:
    from crm_contacts.desk import imports

    desk = signed_in(office)
    desk.get("/contacts/import/")
    answer = desk.post("/contacts/import/", {"encoding": ""}, content_type="multipart/form-data")
    assert answer.status_code == 422 and "Choose the CSV or vCard file to import." in desk.text
    monkeypatch.setattr(imports, "MAX_UPLOAD", 64)
    answer = upload(desk, PEOPLE)
    assert answer.status_code == 413
    assert "people.csv is larger than 1 kB, the most the import wizard takes" in desk.text
    assert "crm contacts import, which has no size limit" in desk.text
    # a body over what the page reads at all is refused unread, with the same advice
    monkeypatch.setattr(imports.start, "desk_max_body", 512)
    answer = upload(desk, PEOPLE * 10)
    assert answer.status_code == 413 and "the most the import wizard takes" in desk.text
    # another contacts form over the desk's own limit says so, without the wizard's advice
    desk.get("/contacts/new")
    answer = desk.post("/contacts/new", {"notes": "x" * 300_000})
    assert answer.status_code == 413 and "What you sent is too large." in desk.text and "wizard" not in desk.text


def test_each_role_opens_the_wizard_exactly_when_it_may_import(office: Any) -> None:
    for role in ROLES:
        desk = signed_in(office, f"u-{role}")
        with office.as_user(office.authz.users.get(f"u-{role}")):
            allowed = office.authz.can("contacts.import")
        assert allowed == (role in ("admin", "manager"))
        assert desk.get("/contacts/import/").status_code == (200 if allowed else 403), role
        desk.get("/contacts/")
        assert ("Import contacts from a file" in desk.text) == allowed, role  # the empty state's offer
        if not allowed:
            desk.get("/contacts/import/")
            answer = desk.post(
                "/contacts/import/",
                {"file": (io.BytesIO(PEOPLE), "p.csv")},
                content_type="multipart/form-data",
            )
            assert answer.status_code == 403


def test_a_users_files_and_imports_are_their_own(office: Any) -> None:
    admin = signed_in(office)
    number = held_id(upload(admin, PEOPLE))
    admin.get(f"/contacts/import/files/{number}")
    admin.post(f"/contacts/import/files/{number}", {**mapping_form(admin), "action": "dry_run"})
    run = int(re.search(r"/runs/(\d+)", admin.page.headers["Location"]).group(1))
    work(office)
    boss = signed_in(office, "boss")  # a manager may import, but not see another's file or import
    for url in (
        f"/contacts/import/files/{number}",
        f"/contacts/import/runs/{run}",
        f"/contacts/import/runs/{run}/progress",
        f"/contacts/import/runs/{run}/problems",
    ):
        assert boss.get(url).status_code == 404, url
    boss.get("/contacts/import/")
    for url in (f"/contacts/import/files/{number}/import", f"/contacts/import/files/{number}/discard"):
        assert boss.post(url).status_code == 404, url
    assert "people.csv" not in boss.get("/contacts/import/").get_data(as_text=True)


def test_every_post_needs_the_csrf_token(office: Any) -> None:
    desk = signed_in(office)
    number = held_id(upload(desk, PEOPLE))
    refused = desk.post(
        "/contacts/import/", {"file": (io.BytesIO(PEOPLE), "p.csv")}, content_type="multipart/form-data", csrf=False
    )
    assert refused.status_code == 403
    for url in ("", "/layout", "/import", "/discard"):
        assert desk.post(f"/contacts/import/files/{number}{url}", {"action": "import"}, csrf=False).status_code == 403
    assert office.plugin("contacts").import_runs() == []
    assert desk.get(f"/contacts/import/files/{number}").status_code == 200  # still held: nothing was done
    assert desk.post(f"/contacts/import/files/{number}/discard").status_code == 303
    assert desk.get(f"/contacts/import/files/{number}").status_code == 404


def test_the_progress_is_the_databases_and_the_partial_reloads_the_page_at_the_end(office: Any) -> None:
    from crm_contacts.imports import Imports

    desk = signed_in(office)
    number = held_id(upload(desk, PEOPLE))
    desk.get(f"/contacts/import/files/{number}")
    desk.post(f"/contacts/import/files/{number}", {**mapping_form(desk), "action": "import"})
    run = int(re.search(r"/runs/(\d+)", desk.page.headers["Location"]).group(1))
    imports = Imports(office)
    job, token = imports.claim()
    imports.progress(job.id, token, 2)  # what the worker stores after a batch
    for reader in (desk, signed_in(office)):  # another tab, or the page reloaded
        reader.get(f"/contacts/import/runs/{run}")
        assert "2 of 3 rows (67 %)" in reader.text and 'max="3" value="2"' in reader.text
    part = desk.get(f"/contacts/import/runs/{run}/progress", headers={"HX-Request": "true"})
    assert "<html" not in desk.text and "hx-trigger" in desk.text and "HX-Refresh" not in part.headers
    imports.fail(job.id, token, "the test stopped it")
    part = desk.get(f"/contacts/import/runs/{run}/progress", headers={"HX-Request": "true"})
    assert part.headers["HX-Refresh"] == "true" and "hx-trigger" not in desk.text
    desk.get(f"/contacts/import/runs/{run}")
    assert "Stopped" in desk.text and "the test stopped it" in desk.text


def test_the_pages_run_as_many_statements_for_many_problem_rows_and_imports_as_for_few(office: Any) -> None:
    desk = signed_in(office)

    def statements_of(bad_rows: int) -> tuple[int, int]:
        body = "first_name,email\n" + "".join(f"P{n},bad{n}\n" for n in range(bad_rows))
        number = held_id(upload(desk, body.encode()))
        desk.get(f"/contacts/import/files/{number}")
        desk.post(f"/contacts/import/files/{number}", {**mapping_form(desk), "action": "dry_run"})
        run = desk.page.headers["Location"]
        work(office)
        with statements(office) as run_sql:
            desk.get(run)
        with statements(office) as list_sql:
            desk.get("/contacts/import/")
        return len(run_sql), len(list_sql)

    few = statements_of(2)
    many = statements_of(40)
    assert many == few, (few, many)


def test_the_wizard_speaks_spanish(office: Any) -> None:
    desk = signed_in(office, language="es")
    desk.get("/contacts/")
    assert "Importar contactos de un archivo" in desk.text and "Añadir un contacto" in desk.text
    desk.get("/contacts/import/")
    assert "Importar contactos" in desk.text and "Archivo que importar" in desk.text
    upload(desk, b"")
    assert "empty.csv" not in desk.text and "people.csv está vacío" in desk.text
    number = held_id(upload(desk, PEOPLE))
    desk.get(f"/contacts/import/files/{number}")
    assert "Dónde va cada columna" in desk.text and "Punto y coma (;)" in desk.text
