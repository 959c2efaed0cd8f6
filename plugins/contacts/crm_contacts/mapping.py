"""Column mappings for CSV imports: our own layout, Google Contacts, Outlook, or a mapping file.

A mapping sends each CSV column to a *target*:

* a contact field: ``external_id``, ``id``, ``kind``, ``first_name``,
  ``last_name``, ``display_name``, ``organization`` (an organization's name,
  created when missing), ``status``, ``region``, ``country``, ``owner``,
  ``language``, ``do_not_contact``, ``notes``, ``tags``;
* ``email``, ``phone`` with an optional slot and type: ``email_2``,
  ``phone:mobile``, ``phone_3:work``; ``email_2.type`` names a column that
  holds the type of slot 2;
* a postal address part: ``street``, ``extra``, ``city``, ``postal_code``,
  ``address_region``, ``address_country``, ``address_kind`` (slot 1), or
  ``address_2:home.city`` for other slots;
* ``custom.NAME`` for a custom field; ``-`` ignores the column.

A column no target claims is kept as a custom field named after its header,
unless it is ignored (``-`` in a mapping file, or ``ignore_columns``).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from crm_contacts.normalize import ADDRESS_KINDS, EMAIL_KINDS, PHONE_KINDS
from crm_core.errors import ValidationError

__all__ = [
    "LAYOUTS",
    "Mapping_",
    "Target",
    "detect",
    "duplicate_targets",
    "load_mapping_file",
    "mapping_file_text",
    "parse_target",
    "target_text",
]

SCALAR_TARGETS = (
    "id",
    "external_id",
    "kind",
    "first_name",
    "last_name",
    "display_name",
    "organization",
    "status",
    "region",
    "country",
    "owner",
    "language",
    "do_not_contact",
    "notes",
    "tags",
    "name_prefix",
    "middle_name",
    "name_suffix",
    "nickname",
    "title",
    "department",
    "birthday",
    "website",
    "status_changed_at",
)
ADDRESS_PARTS = ("street", "extra", "city", "postal_code", "region", "country", "kind")
_NATIVE_ADDRESS = {
    "street": "street",
    "extra": "extra",
    "city": "city",
    "postal_code": "postal_code",
    "address_region": "region",
    "address_country": "country",
    "address_kind": "kind",
}
_MULTI = re.compile(r"^(?P<base>email|phone|address)(?:_(?P<slot>\d+))?(?::(?P<kind>[a-z]+))?(?:\.(?P<part>[a-z_]+))?$")


@attrs.frozen
class Target:
    """Where one column goes: ``field`` with an optional ``slot``, ``kind`` and ``part``."""

    field: str
    slot: int = 1
    kind: str | None = None
    #: an address part, or ``type`` for a column holding a slot's type
    part: str | None = None


def parse_target(text: str) -> Target | None:
    """A :class:`Target` from its written form; ``None`` for ``-`` (ignore)."""
    value = text.strip()
    if value in ("-", ""):
        return None
    if value in SCALAR_TARGETS:
        return Target(value)
    if value in _NATIVE_ADDRESS:
        part = _NATIVE_ADDRESS[value]
        return Target("address", 1, None, part if part != "kind" else "type")
    if value.startswith("custom."):
        name = value[len("custom.") :].strip()
        if not name or len(name) > 100:
            raise ValidationError(f"mapping target {text!r}: name the custom field, e.g. custom.industry")
        return Target("custom", part=name)
    match = _MULTI.match(value)
    if match:
        base, slot, kind, part = match["base"], int(match["slot"] or 1), match["kind"], match["part"]
        allowed = {"email": EMAIL_KINDS, "phone": PHONE_KINDS, "address": ADDRESS_KINDS}[base]
        if kind is not None and kind not in allowed:
            raise ValidationError(
                f"mapping target {text!r}: {kind!r} is not a {base} type; use one of {', '.join(allowed)}"
            )
        if base == "address":
            if part is None or (part not in ADDRESS_PARTS and part != "type"):
                raise ValidationError(
                    f"mapping target {text!r}: an address target names a part: {', '.join(ADDRESS_PARTS)}, e.g. address_2.city"
                )
            part = "type" if part == "kind" else part
        elif part not in (None, "type"):
            raise ValidationError(f"mapping target {text!r}: only .type may follow {base}")
        if not 1 <= slot <= 20:
            raise ValidationError(f"mapping target {text!r}: slots go from 1 to 20")
        return Target(base, slot, kind, part)
    raise ValidationError(
        f"mapping target {text!r} is not known; use a contact field ({', '.join(SCALAR_TARGETS)}), email[_N][:type], "
        "phone[_N][:type], street/city/postal_code/address_country or address_N.part, custom.NAME, or - to ignore"
    )


def target_text(target: Target | None) -> str:
    """The written form of ``target`` (``-`` for ``None``): what :func:`parse_target` reads back to it."""
    if target is None:
        return "-"
    if target.field == "custom":
        return f"custom.{target.part}"
    if target.field not in ("email", "phone", "address"):
        return target.field
    text = f"{target.field}_{target.slot}"
    if target.kind is not None:
        text += f":{target.kind}"
    if target.part is not None:
        text += f".{target.part}"
    return text


def duplicate_targets(names: Sequence[str], targets: Sequence[Target | None]) -> list[tuple[str, str]]:
    """``(first column, later column)`` for each column sent to a target an earlier one has (tags may repeat)."""
    seen: dict[Target, str] = {}
    found = []
    for name, target in zip(names, targets):
        if target is None:
            continue
        if target in seen and target.field not in ("tags",):
            found.append((seen[target], name))
        else:
            seen[target] = name
    return found


def mapping_file_text(columns: Mapping[str, str], *, delimiter: str | None = None, encoding: str | None = None) -> str:
    """A TOML mapping file (what ``--mapping`` and :func:`load_mapping_file` read) of ``columns``."""

    def quoted(text: str) -> str:
        # a JSON string is a TOML basic string: the same escapes (\\, \", \n, \uXXXX)
        return json.dumps(text, ensure_ascii=False)

    lines = ["# a column mapping for 'crm contacts import --mapping FILE' (header = target; - ignores a column)"]
    if delimiter is not None:
        lines.append(f"delimiter = {quoted(delimiter)}")
    if encoding is not None:
        lines.append(f"encoding = {quoted(encoding)}")
    lines += ["", "[columns]"]
    lines += [f"{quoted(header)} = {quoted(target)}" for header, target in columns.items()]
    return "\n".join(lines) + "\n"


@attrs.frozen
class Mapping_:
    """A resolved mapping: the layout's name and, per column index, its target."""

    layout: str
    targets: tuple[Target | None, ...]
    ignored: tuple[str, ...] = ()
    #: columns no target claimed, kept as custom fields named after them
    kept_as_custom: tuple[str, ...] = ()


def _google_targets() -> dict[str, str]:
    out = {
        "Name": "display_name",
        "Given Name": "first_name",
        "Family Name": "last_name",
        "First Name": "first_name",
        "Last Name": "last_name",
        "Notes": "notes",
        "Group Membership": "tags",
        "Labels": "tags",
        "Organization 1 - Name": "organization",
        "Organization Name": "organization",
        "Additional Name": "middle_name",
        "Middle Name": "middle_name",
        "Name Prefix": "name_prefix",
        "Name Suffix": "name_suffix",
        "Nickname": "nickname",
        "Birthday": "birthday",
        "Organization 1 - Title": "title",
        "Organization Title": "title",
        "Organization 1 - Department": "department",
        "Organization Department": "department",
        "Website 1 - Value": "website",
        # the address written out again in one cell: its parts are mapped
        **{f"Address {n} - Formatted": "-" for n in range(1, 6)},
    }
    for n in range(1, 6):
        out[f"E-mail {n} - Value"] = f"email_{n}"
        out[f"E-mail {n} - Type"] = f"email_{n}.type"
        out[f"E-mail {n} - Label"] = f"email_{n}.type"
        out[f"Phone {n} - Value"] = f"phone_{n}"
        out[f"Phone {n} - Type"] = f"phone_{n}.type"
        out[f"Phone {n} - Label"] = f"phone_{n}.type"
        out[f"Address {n} - Street"] = f"address_{n}.street"
        out[f"Address {n} - Extended Address"] = f"address_{n}.extra"
        out[f"Address {n} - City"] = f"address_{n}.city"
        out[f"Address {n} - Postal Code"] = f"address_{n}.postal_code"
        out[f"Address {n} - Region"] = f"address_{n}.region"
        out[f"Address {n} - Country"] = f"address_{n}.country"
        out[f"Address {n} - Type"] = f"address_{n}.type"
        out[f"Address {n} - Label"] = f"address_{n}.type"
    return out


_OUTLOOK = {
    "First Name": "first_name",
    "Last Name": "last_name",
    "Company": "organization",
    "Notes": "notes",
    "Categories": "tags",
    "E-mail Address": "email_1",
    "E-mail 2 Address": "email_2",
    "E-mail 3 Address": "email_3",
    "Mobile Phone": "phone_1:mobile",
    "Business Phone": "phone_2:work",
    "Home Phone": "phone_3:home",
    "Business Phone 2": "phone_4:work",
    "Business Fax": "phone_5:fax",
    "Other Phone": "phone_6:other",
    "Business Street": "address_1:work.street",
    "Business City": "address_1:work.city",
    "Business State": "address_1:work.region",
    "Business Postal Code": "address_1:work.postal_code",
    "Business Country/Region": "address_1:work.country",
    "Home Street": "address_2:home.street",
    "Home City": "address_2:home.city",
    "Home State": "address_2:home.region",
    "Home Postal Code": "address_2:home.postal_code",
    "Home Country/Region": "address_2:home.country",
    "Title": "name_prefix",
    "Middle Name": "middle_name",
    "Suffix": "name_suffix",
    "Nickname": "nickname",
    "Job Title": "title",
    "Department": "department",
    "Birthday": "birthday",
    "Web Page": "website",
    "E-mail Type": "email_1.type",
    "E-mail 2 Type": "email_2.type",
    "E-mail 3 Type": "email_3.type",
    "Business Street 2": "address_1:work.extra",
    "Home Street 2": "address_2:home.extra",
    "Other Street": "address_3:other.street",
    "Other Street 2": "address_3:other.extra",
    "Other City": "address_3:other.city",
    "Other State": "address_3:other.region",
    "Other Postal Code": "address_3:other.postal_code",
    "Other Country/Region": "address_3:other.country",
    "Home Phone 2": "phone_7:home",
    "Home Fax": "phone_8:fax",
    "Other Fax": "phone_9:fax",
    "Company Main Phone": "phone_10:work",
    "Primary Phone": "phone_11:other",
    "Car Phone": "phone_12:mobile",
    "Pager": "phone_13:other",
    "Assistant's Phone": "phone_14:work",
}
_NATIVE = {t: t for t in (*SCALAR_TARGETS, *_NATIVE_ADDRESS, "email", "phone")}
_NATIVE["name"] = "display_name"
# our export's own record of when the contact was created: not a field to set
_NATIVE["created_at"] = "-"

#: the layouts :func:`detect` recognises: name -> (header -> target, headers that identify it)
LAYOUTS: dict[str, tuple[dict[str, str], tuple[str, ...]]] = {
    "google": (_google_targets(), ("E-mail 1 - Value",)),
    "outlook": (_OUTLOOK, ("E-mail Address", "Business Phone")),
    "crm": (_NATIVE, ()),
}


#: the headers people write by hand, in English and Spanish, for this plugin's fields (compared as
#: :func:`_header_key` folds them: lower case, no accents, words joined by ``_``)
_HEADER_ALIASES = {
    **dict.fromkeys(
        (
            "e_mail",
            "email_address",
            "e_mail_address",
            "mail",
            "correo",
            "correo_electronico",
            "correo_e",
            "e_mail_adresse",
        ),
        "email",
    ),
    **dict.fromkeys(("telephone", "tel", "phone_number", "telefono", "numero_de_telefono", "tlf"), "phone"),
    **dict.fromkeys(
        ("mobile", "mobile_phone", "cell", "cell_phone", "movil", "celular", "telefono_movil"), "phone:mobile"
    ),
    **dict.fromkeys(("first", "given_name", "forename", "nombre_de_pila"), "first_name"),
    **dict.fromkeys(("last", "surname", "family_name", "apellido", "apellidos"), "last_name"),
    **dict.fromkeys(("full_name", "nombre_completo", "nombre"), "display_name"),
    **dict.fromkeys(("company", "organisation", "company_name", "empresa", "organizacion", "compania"), "organization"),
    **dict.fromkeys(("job_title", "position", "cargo", "puesto"), "title"),
    "departamento": "department",
    **dict.fromkeys(("town", "ciudad", "localidad", "municipio", "poblacion"), "city"),
    **dict.fromkeys(("zip", "zip_code", "postcode", "post_code", "codigo_postal", "cp"), "postal_code"),
    **dict.fromkeys(("address", "street_address", "direccion", "calle", "domicilio"), "street"),
    **dict.fromkeys(("state", "province", "county", "provincia"), "address_region"),
    **dict.fromkeys(("pais",), "country"),
    **dict.fromkeys(("region_de_ventas", "zona"), "region"),
    **dict.fromkeys(("web", "web_page", "url", "sitio_web", "pagina_web"), "website"),
    **dict.fromkeys(("date_of_birth", "birth_date", "dob", "fecha_de_nacimiento", "cumpleanos"), "birthday"),
    **dict.fromkeys(("note", "comments", "notas", "comentarios", "observaciones"), "notes"),
    **dict.fromkeys(("tag", "labels", "categories", "etiquetas", "categorias"), "tags"),
    **dict.fromkeys(("idioma", "lengua"), "language"),
    **dict.fromkeys(("estado_del_cliente", "customer_status"), "status"),
    **dict.fromkeys(("propietario", "responsable", "account_owner"), "owner"),
}


def _spread_slots(texts: Sequence[str | None]) -> list[str | None]:
    """Give each type of an e-mail, phone or address written without a slot a slot of its own.

    ``phone`` and ``phone:mobile`` are both slot 1 as written, and the later
    column's number would replace the earlier's: the first type keeps slot 1
    (unless a column names it explicitly), each other type gets the next free
    slot (``phone_2:mobile``), so both numbers are imported. Parts of one
    typed address (``address:home.city``, ``address:home.street``) stay together.
    """
    matches = [_MULTI.match(t.strip()) if t else None for t in texts]
    used: dict[str, set[int]] = {}
    for text, m in zip(texts, matches):
        if m and m["slot"]:
            used.setdefault(m["base"], set()).add(int(m["slot"]))
        elif text and text.strip() in _NATIVE_ADDRESS:  # street, city…: the parts of address slot 1
            used.setdefault("address", set()).add(1)
    assigned: dict[tuple[str, str], int] = {}
    out: list[str | None] = []
    for text, m in zip(texts, matches):
        if m is None or m["slot"]:
            out.append(text)
            continue
        base, kind = m["base"], m["kind"] or ""
        taken = used.setdefault(base, set())
        if (base, kind) not in assigned:
            slot = 1
            while slot in taken:
                slot += 1
            assigned[base, kind] = slot
            taken.add(slot)
        slot = assigned[base, kind]
        out.append(
            text if slot == 1 else f"{base}_{slot}{':' + kind if kind else ''}{'.' + m['part'] if m['part'] else ''}"
        )
    return out


def _header_key(header: str) -> str:
    """``header`` folded for comparing: lower case, no accents or dots, runs of spaces, dashes and slashes as one ``_``."""
    import unicodedata

    plain = "".join(c for c in unicodedata.normalize("NFKD", header.strip().lower()) if not unicodedata.combining(c))
    return re.sub(r"[\s\-_/]+", "_", plain.replace(".", "")).strip("_")


def _native_target(header: str) -> str | None:
    key = header.strip()
    if key in _NATIVE:
        return _NATIVE[key]
    lowered = key.lower().replace(" ", "_").replace("-", "_")
    if lowered in _NATIVE:
        return _NATIVE[lowered]
    if key.startswith("custom.") or _MULTI.match(key):
        return key
    folded = _header_key(key)
    return _NATIVE.get(folded) or _HEADER_ALIASES.get(folded)


def _unmapped(name: str) -> Target:
    """The custom field an unmapped column is kept in."""
    if len(name) > 100:
        raise ValidationError(
            f"column {name[:30]!r}… maps to no field and its header is too long to name a custom field (100 characters); "
            "ignore it with --ignore-column or map it in a mapping file"
        )
    return Target("custom", part=name)


def detect(
    header: Sequence[str], columns: Mapping[str, str] | None = None, ignore_columns: Sequence[str] = ()
) -> Mapping_:
    """The mapping for ``header``: ``columns`` (from a mapping file) if given, else a known layout.

    A column that maps to nothing is kept as a custom field named after its
    header, unless the mapping file maps it to ``-`` or ``ignore_columns``
    names it. Raises :class:`ValidationError` when no column maps to
    anything, or ``ignore_columns`` names a column the file does not have.
    """
    names = [h.strip() for h in header]
    ignore = {c.strip() for c in ignore_columns}
    missing = sorted(ignore - set(names))
    if missing:
        raise ValidationError(
            f"--ignore-column {', '.join(repr(c) for c in missing)}: the file has no such column; its columns are: {', '.join(names)}"
        )
    if columns is not None:
        unknown = [c for c in columns if c not in names]
        if unknown:
            raise ValidationError(
                f"the mapping names column(s) {', '.join(repr(c) for c in unknown)} that the file does not have; "
                f"its columns are: {', '.join(names)}"
            )
        written = _spread_slots([columns[n] if n in columns else None for n in names])
        targets = tuple(parse_target(t) if t is not None else None for t in written)
        explicit = {n for n in names if n in columns}
        layout = "mapping file"
    else:
        layout = "crm"
        table: dict[str, str] | None = None
        for name, (known, markers) in LAYOUTS.items():
            if markers and all(m in names for m in markers):
                layout, table = name, known
                break
        if table is not None:
            targets = tuple(parse_target(table[n]) if n in table else None for n in names)
            explicit = {n for n in names if n in table}
        else:
            native = [_native_target(n) for n in names]
            if "last_name" in native and "first_name" not in native:
                # "Nombre" / "Name" beside "Apellidos" / "Surname" is the given name, not the whole one
                native = [
                    "first_name" if t == "display_name" and _header_key(n) in ("nombre", "name") else t
                    for n, t in zip(names, native)
                ]
            targets = tuple(parse_target(t) if t else None for t in _spread_slots(native))
            explicit = {n for n, t in zip(names, native) if t}
    if not any(targets):
        raise ValidationError(
            f"the header matches nothing: columns {', '.join(repr(n) for n in names[:8])}{'…' if len(names) > 8 else ''}; "
            "use the column names of 'crm contacts export', a Google Contacts or Outlook CSV export, "
            "or give a mapping file with --mapping (or check the delimiter with --delimiter)"
        )
    # what no target claims is kept, named after its header (checked after the
    # "matches nothing" test: a file of only unknown columns is the wrong file)
    targets = tuple(
        None if n in ignore else t if t is not None or n in explicit or not n else _unmapped(n)
        for n, t in zip(names, targets)
    )
    for first, later in duplicate_targets(names, targets)[:1]:
        raise ValidationError(f"columns {first!r} and {later!r} both map to the same target; map one of them to '-'")
    ignored = tuple(n for n, t in zip(names, targets) if t is None)
    kept = tuple(n for n, t in zip(names, targets) if t is not None and n not in explicit)
    return Mapping_(layout, targets, ignored, kept)


def load_mapping_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML or JSON mapping file: ``{"columns": {header: target}, "delimiter": …, "encoding": …}``."""
    file = Path(path)
    try:
        raw = file.read_bytes()
    except OSError as exc:
        raise ValidationError(f"cannot read the mapping file {file}: {exc.strerror}") from None
    try:
        if file.suffix.lower() == ".json":
            data = json.loads(raw.decode("utf-8"))
        else:
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValidationError(
            f'mapping file {file}: {exc}; write TOML ([columns] "Header" = "target") or JSON'
        ) from None
    if not isinstance(data, dict) or not isinstance(data.get("columns"), dict):
        raise ValidationError(f'mapping file {file}: it needs a \'columns\' table of "CSV header" = "target"')
    unknown = set(data) - {"columns", "delimiter", "encoding"}
    if unknown:
        raise ValidationError(
            f"mapping file {file}: unknown key(s) {', '.join(sorted(unknown))}; the keys are columns, delimiter, encoding"
        )
    for header, target in data["columns"].items():
        if not isinstance(target, str):
            raise ValidationError(
                f'mapping file {file}: column {header!r} maps to {target!r}; a target is text such as "email"'
            )
        parse_target(target)  # report a bad target before reading the CSV
    return data
