"""The import wizard's words: the labels of its menus and the message for each file it refuses, in the user's language.

Kept apart from the pages (:mod:`crm_contacts.desk.imports`), which use them.
"""

from __future__ import annotations

from crm_contacts.importpreview import FileRefused
from crm_core.i18n import N_
from crm_core.i18n import gettext as _

__all__ = [
    "DELIMITER_LABELS",
    "DELIMITER_VALUES",
    "ENCODING_LABELS",
    "LAYOUT_LABELS",
    "MATCH_LABELS",
    "TARGETS",
    "refusal",
    "size",
]

ENCODING_LABELS = {
    "utf-8-sig": N_("UTF-8"),
    "cp1252": N_("Windows-1252 (Excel on Windows)"),
    "latin-1": N_("Latin-1 (ISO-8859-1)"),
    "utf-16": N_("UTF-16"),
}
DELIMITER_LABELS = {",": N_("Comma (,)"), ";": N_("Semicolon (;)"), "\t": N_("Tab"), "|": N_("Vertical bar (|)")}
DELIMITER_VALUES = {",": "comma", ";": "semicolon", "\t": "tab", "|": "bar"}
MATCH_LABELS = {
    "id": N_("Id of this CRM"),
    "external_id": N_("External id"),
    "email": N_("E-mail"),
    "phone": N_("Phone and name"),
}
LAYOUT_LABELS = {
    "crm": N_("this CRM's export (or column names it knows)"),
    "google": N_("Google Contacts export"),
    "outlook": N_("Outlook export"),
    "none": N_("no column name the import knows: map the columns below"),
    "vcard": N_("vCard"),
}
#: the targets offered for a column, in the menu's order (each column also gets its own custom field and
#: the target detected for it); the written form is :func:`crm_contacts.mapping.target_text`'s
TARGETS = (
    ("-", N_("Ignore this column")),
    ("first_name", N_("First name")),
    ("last_name", N_("Last name")),
    ("display_name", N_("Full name")),
    ("organization", N_("Organization")),
    ("title", N_("Job title")),
    ("department", N_("Department")),
    ("email_1", N_("E-mail")),
    ("email_2", N_("Second e-mail")),
    ("phone_1", N_("Phone")),
    ("phone_2", N_("Second phone")),
    ("phone_3:mobile", N_("Mobile phone")),
    ("address_1.street", N_("Street")),
    ("address_1.extra", N_("Address, second line")),
    ("address_1.postal_code", N_("Postal code")),
    ("address_1.city", N_("City")),
    ("address_1.region", N_("Province or state")),
    ("address_1.country", N_("Country of the address")),
    ("kind", N_("Kind (person or organization)")),
    ("status", N_("Status")),
    ("owner", N_("Owner")),
    ("region", N_("Region")),
    ("country", N_("Country")),
    ("language", N_("Language")),
    ("tags", N_("Tags")),
    ("notes", N_("Notes")),
    ("do_not_contact", N_("Do not contact")),
    ("birthday", N_("Birthday")),
    ("website", N_("Website")),
    ("external_id", N_("External id")),
    ("id", N_("Id of this CRM")),
)
#: what each kind of binary file is, and what to do with it
BINARY = {
    "gzip": (N_("a compressed (gzip) file"), N_("Decompress it and upload the CSV or vCard file inside.")),
    "zip": (
        N_("a ZIP archive or a spreadsheet workbook (.xlsx, .ods)"),
        N_("Open it in your spreadsheet, save the sheet as CSV (UTF-8) and upload that file."),
    ),
    "xls": (
        N_("an Excel 97-2003 workbook (.xls)"),
        N_("Open it in your spreadsheet, save the sheet as CSV (UTF-8) and upload that file."),
    ),
    "pdf": (N_("a PDF document"), N_("Export the contacts as CSV or vCard from where they are kept instead.")),
    "sqlite": (N_("a database file"), N_("Export the contacts as CSV or vCard from where they are kept instead.")),
}
_ARCHIVE = (N_("a compressed archive"), N_("Extract it and upload the CSV or vCard file inside."))
_BINARY = (N_("a binary file"), N_("Upload the contacts as a CSV or vCard text file."))


def size(count: int) -> str:
    """``10 MB``, ``64 kB`` (rounded up), in the user's locale."""
    from babel.numbers import format_decimal

    from crm_core.i18n import current_language

    if count >= 1024 * 1024:
        return _("%(size)s MB", size=format_decimal(round(count / 1024 / 1024, 1), locale=current_language()))
    return _("%(size)s kB", size=format_decimal(-(-count // 1024), locale=current_language()))


def refusal(exc: FileRefused) -> str:
    """The message for a file no import can read, in the user's language, naming the problem and the fix."""
    values = dict(exc.params)
    if exc.problem == "binary":
        what, fix = BINARY.get(values["kind"], _BINARY if values["kind"] == "binary" else _ARCHIVE)
        return _(
            "%(name)s is %(what)s, not a CSV or vCard file. %(fix)s", name=values["name"], what=_(what), fix=_(fix)
        )
    if exc.problem == "encoding":
        values["encoding"] = _(ENCODING_LABELS.get(values["encoding"], values["encoding"]))
    messages = {
        "empty": N_(
            "%(name)s is empty. Choose the file you exported: a CSV file with a line of column names and a line "
            "per contact, or a vCard (.vcf) file."
        ),
        "encoding": N_(
            "Line %(line)s of %(name)s cannot be read as %(encoding)s. Choose the file's encoding: if “%(shown)s” "
            "is how that line should read, it is Windows-1252."
        ),
        "blank_header": N_(
            "The first line of %(name)s is blank. It must name the columns (for example first_name, last_name, "
            "email): remove the blank lines at the top and upload the file again."
        ),
        "no_header": N_(
            "The first line of %(name)s holds “%(value)s”, a contact's value, not a column name: the file has no "
            "header line. Add a first line naming the columns (for example first_name, last_name, email) and "
            "upload it again."
        ),
        "malformed": N_(
            'Line %(line)s of %(name)s is not valid CSV (%(detail)s): a quote (") is probably not closed. Fix '
            "that line in a spreadsheet or a text editor and upload the file again."
        ),
        "no_rows": N_("%(name)s has the line of column names and no contact after it: there is nothing to import."),
        "not_vcard": N_(
            "%(name)s holds no contact card (no BEGIN:VCARD line). Is it a vCard file? Upload a .vcf file, or a "
            "spreadsheet saved as CSV."
        ),
        "vcard": N_(
            "%(name)s is not a vCard file the import can read: %(detail)s. Export the contacts again as vCard "
            "(3.0 or 4.0) and upload that file."
        ),
    }
    return _(messages[exc.problem], **values)
