"""One import row to contact fields: pure, so import workers can run it in other processes.

:func:`validate_rows` takes raw CSV cells and a mapping's targets and gives,
per row, either a :class:`CheckedRow` (the cleaned fields as
:func:`crm_contacts.fields.clean` makes them, the organization name, the
contact id the file gives, and warnings) or a :class:`BadRow` naming the
field and the reason it cannot be used.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

from crm_contacts.csvread import unquote_cell
from crm_contacts.fields import FieldError, clean, display_name_for
from crm_contacts.identity import ContactRef, parse_id
from crm_contacts.mapping import Target
from crm_contacts.normalize import ADDRESS_KINDS, EMAIL_KINDS, PHONE_KINDS, InvalidValue, normalize_kind

__all__ = ["BadRow", "CheckedRow", "target_name", "validate_rows"]

_KINDS = {"email": EMAIL_KINDS, "phone": PHONE_KINDS, "address": ADDRESS_KINDS}
_SYSTEM_GROUPS = {"mycontacts", "starred", "* mycontacts", "* starred"}


class CheckedRow(NamedTuple):
    """A row that can be imported."""

    line: int
    fields: dict[str, Any]
    organization: str | None
    #: the row's id, when it is one an export of this CRM wrote (its database not yet compared)
    ref: ContactRef | None
    #: the id cell held something else (another system's id, an old bare number)
    other_id: bool
    #: ``(field, reason)`` for each value kept with a warning
    warnings: tuple[tuple[str, str], ...] = ()


class BadRow(NamedTuple):
    """A row that cannot be imported: where, which field, why."""

    line: int
    field: str
    reason: str


def target_name(target: Target | None) -> str:
    """The written form of ``target`` (what :func:`crm_contacts.mapping.parse_target` reads), ``-`` for none."""
    if target is None:
        return "-"
    if target.field == "custom":
        return f"custom.{target.part}"
    if target.field not in ("email", "phone", "address"):
        return target.field
    text = f"{target.field}_{target.slot}" + (f":{target.kind}" if target.kind else "")
    return text + (f".{target.part}" if target.part else "")


def _kind(base: str, value: str) -> str:
    try:
        return normalize_kind(value, _KINDS[base], base)
    except InvalidValue:
        return "other"  # address books invent labels ("Custom", "Skype"); keep the value, not the label


def _split_tags(value: str) -> list[str]:
    parts = value.replace(":::", ",").replace(";", ",").split(",")
    out = []
    for part in parts:
        tag = part.strip().lstrip("*").strip()
        if tag and tag.lower() not in _SYSTEM_GROUPS:
            out.append(tag)
    return out


def row_fields(
    cells: Sequence[str], targets: Sequence[Target | None], spreadsheet_cells: bool = True
) -> tuple[dict[str, Any], str | None, str | None]:
    """Raw fields of one row (not yet checked), the organization name and the id cell.

    ``spreadsheet_cells``: the cells come from a CSV file, where our export
    puts a ``'`` before a formula-like value; it is taken off here.
    """
    fields: dict[str, Any] = {}
    slots: dict[str, dict[int, dict[str, str]]] = {"email": {}, "phone": {}, "address": {}}
    custom: dict[str, str] = {}
    tags: list[str] = []
    organization = contact_id = None
    for cell, target in zip(cells, targets):
        if target is None:
            continue
        value = cell.strip()
        if not value:
            continue
        if spreadsheet_cells:
            value = unquote_cell(value)
        field = target.field
        if field in slots:
            slot = slots[field].setdefault(target.slot, {})
            if target.kind and "kind" not in slot:
                slot["kind"] = target.kind
            if target.part == "type":
                slot["kind"] = _kind(field, value)
            elif field == "address":
                slot[target.part or "street"] = value
            else:
                slot["address" if field == "email" else "number"] = value
        elif field == "custom":
            custom[target.part or ""] = value
        elif field == "tags":
            tags.extend(_split_tags(value))
        elif field == "organization":
            organization = value
        elif field == "id":
            contact_id = value
        else:
            fields[field] = value
    emails = [s for _, s in sorted(slots["email"].items()) if "address" in s]
    phones = [s for _, s in sorted(slots["phone"].items()) if "number" in s]
    addresses = [s for _, s in sorted(slots["address"].items()) if set(s) - {"kind"}]
    if emails:
        fields["emails"] = emails
    if phones:
        fields["phones"] = phones
    if addresses:
        fields["addresses"] = addresses
    if tags:
        fields["tags"] = tags
    if custom:
        fields["custom"] = custom
    return fields, organization, contact_id


def _warnings(fields: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    """A warning per e-mail or phone that :func:`clean` kept as typed, marked unverified."""
    out = []
    for e in fields.get("emails", ()):
        if e.get("verified", True) is False:
            out.append(
                (
                    "emails",
                    f"{e['address']!r} is not a valid e-mail address; kept as typed, marked unverified and never used to match",
                )
            )
    for p in fields.get("phones", ()):
        if p.get("verified", True) is False:
            out.append(
                (
                    "phones",
                    f"{p['number']!r} could not be read as a phone number; kept as typed, marked unverified and never used to match",
                )
            )
    return tuple(out)


def validate_rows(
    rows: Sequence[tuple[int, list[str]]],
    targets: Sequence[Target | None],
    width: int,
    region: str | None,
    spreadsheet_cells: bool = True,
) -> list[CheckedRow | BadRow]:
    """Check a batch of rows: a :class:`CheckedRow` or :class:`BadRow` per row (blank rows give nothing)."""
    out: list[CheckedRow | BadRow] = []
    for line, cells in rows:
        if cells and cells[0] == "\x00":  # a card the vCard reader could not read
            out.append(BadRow(line, "vcard", cells[1]))
            continue
        if len(cells) != width:
            if not any(c.strip() for c in cells):
                continue  # a blank line
            out.append(
                BadRow(
                    line,
                    "-",
                    f"expected {width} fields as in the header, found {len(cells)} (check the delimiter and the quoting)",
                )
            )
            continue
        try:
            raw, organization, contact_id = row_fields(cells, targets, spreadsheet_cells)
            if not raw and organization is None:
                continue  # every mapped cell empty: nothing to import
            fields = clean(raw, region=region)
            kind = fields.get("kind", "person")
            # a name must be derivable; _defaults derives it for new contacts
            display_name_for(
                kind,
                fields.get("first_name", ""),
                fields.get("last_name", ""),
                fields.get("display_name"),
                fields.get("emails"),
            )
            if organization is not None and len(organization) > 300:
                raise FieldError("organization", "is longer than 300 characters")
            ref = parse_id(contact_id) if contact_id else None
            out.append(CheckedRow(line, fields, organization, ref, bool(contact_id) and ref is None, _warnings(fields)))
        except FieldError as exc:
            out.append(BadRow(line, exc.field, exc.reason))
    return out
