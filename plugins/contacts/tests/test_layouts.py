"""Every column of Google and Outlook exports kept (issue 12, finding 5) and Spanish country names (finding 9)."""

from __future__ import annotations

import io

import pytest

from crm_contacts.mapping import detect, parse_target, target_text
from crm_core.errors import ValidationError


@pytest.fixture
def app(contacts_app):
    return contacts_app()


@pytest.fixture
def book(app):
    return app.plugin("contacts")


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


GOOGLE = (
    "First Name,Middle Name,Last Name,Name Prefix,Name Suffix,Nickname,Birthday,Notes,Labels,"
    "E-mail 1 - Label,E-mail 1 - Value,Phone 1 - Label,Phone 1 - Value,Address 1 - Label,Address 1 - Formatted,"
    "Address 1 - Street,Address 1 - Extended Address,Address 1 - City,Address 1 - Postal Code,Address 1 - Country,"
    "Organization Name,Organization Title,Organization Department,Website 1 - Label,Website 1 - Value,Relation 1 - Value\n"
    "Luis,Alberto,Pérez,Dr.,Jr.,Lucho,1980-05-17,Met at the fair,* myContacts ::: Clients,Work,luis@example.mx,Mobile,"
    '+52 55 1234 5678,Work,"Av. Reforma 1, Piso 3, CDMX",Av. Reforma 1,Piso 3,CDMX,06600,México,Globex,CTO,'
    "Engineering,Work,https://luis.example,Marta\n"
)


def test_google_columns_are_all_kept(book, tmp_path):
    report = book.import_csv(write(tmp_path, "google.csv", GOOGLE))
    assert report.layout == "google" and (report.created, report.failed) == (1, 0), report.errors
    luis = book.get(book.search(email="luis@example.mx").cards[0].id)
    assert (luis.first_name, luis.middle_name, luis.last_name, luis.name_prefix, luis.name_suffix, luis.nickname) == (
        "Luis",
        "Alberto",
        "Pérez",
        "Dr.",
        "Jr.",
        "Lucho",
    )
    assert (luis.birthday, luis.title, luis.department, luis.website, luis.organization_name) == (
        "1980-05-17",
        "CTO",
        "Engineering",
        "https://luis.example",
        "Globex",
    )
    assert (luis.address.street, luis.address.extra, luis.address.country) == ("Av. Reforma 1", "Piso 3", "MX")
    # columns no field takes are kept as custom fields named after them; the
    # formatted address repeats the address's parts and is left out
    assert luis.custom == {"Relation 1 - Value": "Marta", "Website 1 - Label": "Work"}
    assert report.ignored_columns == ("Address 1 - Formatted",)


OUTLOOK = (
    "Title,First Name,Middle Name,Last Name,Suffix,Company,Department,Job Title,Business Street,Business Street 2,"
    "Business City,Business Postal Code,Business Country/Region,Business Phone,E-mail Address,E-mail Type,"
    "E-mail Display Name,Birthday,Web Page,Categories,Spouse,Notes\n"
    "Mr.,John,Q.,Public,III,Initech,Sales,Account Manager,1 Main St,Suite 200,Austin,78701,United States,"
    "(512) 200-0002,john@initech.example,SMTP,John Public (john@initech.example),5/17/1980,https://initech.example,"
    "Clients,Jane,Likes golf\n"
)


def test_outlook_columns_are_all_kept(contacts_app, tmp_path):
    book = contacts_app(settings={"contacts": {"default_region": "US"}}).plugin("contacts")
    report = book.import_csv(write(tmp_path, "outlook.csv", OUTLOOK))
    assert report.layout == "outlook" and (report.created, report.failed) == (1, 0), report.errors
    john = book.get(book.search(email="john@initech.example").cards[0].id)
    assert (john.name_prefix, john.first_name, john.middle_name, john.last_name, john.name_suffix) == (
        "Mr.",
        "John",
        "Q.",
        "Public",
        "III",
    )
    assert (john.title, john.department, john.birthday, john.website) == (
        "Account Manager",
        "Sales",
        "1980-05-17",
        "https://initech.example",
    )
    assert (john.address.street, john.address.extra, john.address.kind) == ("1 Main St", "Suite 200", "work")
    assert john.phone == "+15122000002" and john.notes == "Likes golf"
    assert john.custom == {"E-mail Display Name": "John Public (john@initech.example)", "Spouse": "Jane"}


def test_ignore_column_leaves_a_column_out(app, book, tmp_path, crm_cli):
    path = write(tmp_path, "google.csv", GOOGLE)
    result = crm_cli.invoke(
        [
            "contacts",
            "import",
            str(path),
            "--ignore-column",
            "Relation 1 - Value",
            "--ignore-column",
            "Website 1 - Label",
        ],
        app=app,
    )
    assert result.exit_code == 0, result.output
    assert book.get(1).custom == {}
    assert "ignored column(s): Address 1 - Formatted, Website 1 - Label, Relation 1 - Value" in result.output
    result = crm_cli.invoke(["contacts", "import", str(path), "--ignore-column", "Nope"], app=app)
    assert result.exit_code != 0 and "--ignore-column 'Nope': the file has no such column" in result.output


def test_our_own_export_reads_back_without_extra_custom_fields(book, tmp_path):
    book.create(first_name="Ana", email="ana@example.com", custom={"industry": "retail"})
    out = io.StringIO(newline="")
    book.export_csv(out)
    report = book.import_csv(write(tmp_path, "export.csv", out.getvalue()))
    assert report.unchanged == 1 and report.ignored_columns == ("created_at",)
    assert book.get(1).custom == {"industry": "retail"}


def test_a_header_too_long_to_name_a_custom_field_is_a_clear_error():
    with pytest.raises(ValidationError, match="too long to name a custom field.*--ignore-column"):
        detect(["email", "x" * 101])


def test_spanish_country_names_in_addresses_and_columns(book, tmp_path):
    rows = (
        "first_name,email,address_country,country\n"
        "Jonas,jonas@example.de,Alemania,Alemania\nMarie,marie@example.fr,Francia,Francia\nTom,tom@example.uk,Reino Unido,Reino Unido\n"
    )
    report = book.import_csv(write(tmp_path, "paises.csv", rows))
    assert (report.created, report.failed) == (3, 0), report.errors
    assert [(c.country, c.address.country) for c in book.search(limit=10).cards] == [
        ("DE", "DE"),
        ("FR", "FR"),
        ("GB", "GB"),
    ]


def test_the_new_fields_are_erased_with_the_rest(book):
    c = book.create(
        first_name="Ana",
        middle_name="Luz",
        name_prefix="Dra.",
        name_suffix="II",
        nickname="Anita",
        title="CFO",
        department="Finance",
        birthday="1980-05-17",
        website="https://ana.example",
        email="ana@example.com",
    )
    book.erase(c.id, actor="dpo")
    after = book.get(c.id)
    assert [
        getattr(after, f)
        for f in ("middle_name", "name_prefix", "name_suffix", "nickname", "title", "department", "birthday", "website")
    ] == [None] * 8


def test_add_and_show_the_new_fields_from_the_command_line(app, book, crm_cli):
    result = crm_cli.invoke(
        [
            "contacts",
            "add",
            "--first-name",
            "Ana",
            "--middle-name",
            "Luz",
            "--title",
            "CFO",
            "--department",
            "Finance",
            "--birthday",
            "17/05/1980",
            "--nickname",
            "Anita",
            "--website",
            "https://ana.example",
        ],
        app=app,
    )
    assert result.exit_code == 0, result.output
    ana = book.get(1)
    assert (ana.middle_name, ana.title, ana.department, ana.birthday, ana.nickname) == (
        "Luz",
        "CFO",
        "Finance",
        "1980-05-17",
        "Anita",
    )
    shown = crm_cli.invoke(["contacts", "show", "1"], app=app).output
    assert "birthday" in shown and "1980-05-17" in shown and "CFO" in shown


def test_the_export_layouts_are_documented():
    from pathlib import Path

    from crm_contacts.transfer import EXPORT_COLUMNS

    docs = (Path(__file__).resolve().parents[3] / "docs" / "plugins" / "contacts.md").read_text(encoding="utf-8")
    layouts = docs[docs.index("#### Export layouts") :]
    missing = [
        c for c in (*EXPORT_COLUMNS, "email_N", "phone_N", "address_N.street", "custom.NAME") if f"`{c}`" not in layouts
    ]
    assert not missing, f"document these export columns under 'Export layouts' in docs/plugins/contacts.md: {missing}"


# -- headers written by hand, in English and Spanish ----------------------------------------------

SPANISH = (
    "Nombre;Apellidos;Correo electrónico;Teléfono;Móvil;Empresa;Cargo;Dirección;C.P.;Ciudad;Provincia;País;Notas\n"
    "Lucía;Fernández Ruiz;lucia@example.es;912 345 678;612 345 678;Aceros del Norte;Directora;Calle Mayor 5;"
    "28013;Madrid;Madrid;España;Prefiere llamadas\n"
)


def test_a_spanish_header_written_by_hand_is_recognised(contacts_app, tmp_path):
    book = contacts_app(settings={"contacts": {"default_region": "ES"}}).plugin("contacts")
    report = book.import_csv(write(tmp_path, "clientes.csv", SPANISH), delimiter=";")
    assert (report.created, report.failed) == (1, 0), report.errors
    lucia = book.get(book.search(email="lucia@example.es").cards[0].id)
    assert (lucia.first_name, lucia.last_name, lucia.organization_name, lucia.title) == (
        "Lucía",
        "Fernández Ruiz",
        "Aceros del Norte",
        "Directora",
    )
    assert sorted((p.kind, p.number) for p in lucia.phones) == [("mobile", "+34612345678"), ("other", "+34912345678")]
    assert (lucia.address.street, lucia.address.postal_code, lucia.address.city, lucia.address.region) == (
        "Calle Mayor 5",
        "28013",
        "Madrid",
        "Madrid",
    )
    assert lucia.country == "ES" and lucia.notes == "Prefiere llamadas" and lucia.custom == {}


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("E-mail", "email"),
        ("Email Address", "email"),
        ("correo-e", "email"),
        ("Phone Number", "phone"),
        ("Mobile", "phone:mobile"),
        ("Surname", "last_name"),
        ("Full Name", "display_name"),
        ("ZIP code", "postal_code"),
        ("Company", "organization"),
        ("Date of birth", "birthday"),
        ("Etiquetas", "tags"),
    ],
)
def test_common_headers_map_to_their_field(header, target):
    mapping = detect([header, "Spouse"])
    assert mapping.layout == "crm"
    assert mapping.targets[0] == parse_target(target)
    assert mapping.kept_as_custom == ("Spouse",)  # an unknown header is still kept as a custom field


def test_a_name_column_is_the_whole_name_alone_and_the_given_name_beside_a_surname():
    assert detect(["Nombre", "Email"]).targets[0] == parse_target("display_name")
    assert detect(["Nombre", "Apellidos", "Email"]).targets[0] == parse_target("first_name")
    assert detect(["Name", "Surname"]).targets[0] == parse_target("first_name")


def test_two_headers_for_one_field_are_refused_with_the_fix():
    with pytest.raises(
        ValidationError, match="columns 'Email' and 'E-mail' both map to the same target; map one of them to '-'"
    ):
        detect(["Email", "E-mail"])


def test_a_plain_and_a_typed_column_of_one_kind_get_slots_of_their_own():
    # phone and phone:mobile were both slot 1: the mobile number replaced the other on import
    written = [target_text(t) for t in detect(["phone", "phone:mobile", "email", "email_2", "email:work"]).targets]
    assert written == ["phone_1", "phone_2:mobile", "email_1", "email_2", "email_3:work"]
    address = detect(["address:home.city", "address:home.street", "city"]).targets
    assert [target_text(t) for t in address] == ["address_2:home.city", "address_2:home.street", "address_1.city"]
