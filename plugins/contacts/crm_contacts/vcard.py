"""vCard 3.0 and 4.0 (RFC 2426, RFC 6350): reading cards into import rows, writing contacts.

Reading unfolds continuation lines, reads ``group.NAME;PARAM=…:value``
properties with escaped values, and turns each card into a row of a fixed
column layout (:data:`TARGETS`), so cards go through the same validation,
matching and batched writes as CSV rows. Writing folds lines at 75 octets
(never inside a UTF-8 character) and ends them with CRLF.
"""

from __future__ import annotations

import os
from typing import IO, Iterator

from crm_core.errors import ValidationError

from crm_contacts.identity import format_id, parse_id
from crm_contacts.mapping import Target, parse_target
from crm_contacts.records import ContactRecord

__all__ = ["TARGETS", "read_cards", "write_card"]

MAX_EMAILS, MAX_PHONES, MAX_ADDRESSES = 10, 10, 5
_COLUMNS = ["id", "external_id", "kind", "display_name", "first_name", "last_name", "organization", "notes", "tags", "language"]
for _n in range(1, MAX_EMAILS + 1):
    _COLUMNS += [f"email_{_n}", f"email_{_n}.type"]
for _n in range(1, MAX_PHONES + 1):
    _COLUMNS += [f"phone_{_n}", f"phone_{_n}.type"]
for _n in range(1, MAX_ADDRESSES + 1):
    _COLUMNS += [f"address_{_n}.{p}" for p in ("extra", "street", "city", "region", "postal_code", "country", "type")]
#: the row layout a card becomes
TARGETS: tuple[Target | None, ...] = tuple(parse_target(c) for c in _COLUMNS)
_INDEX = {c: i for i, c in enumerate(_COLUMNS)}
_TYPE_WORDS = {"work", "home", "cell", "mobile", "fax", "voice", "internet", "pref", "other", "text", "video", "pager"}


def _unescape(value: str) -> str:
    out, i = [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            nxt = value[i + 1]
            out.append("\n" if nxt in "nN" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _split(value: str, sep: str) -> list[str]:
    """Split on ``sep`` not preceded by a backslash, then unescape each part."""
    parts, current, i = [], [], 0
    while i < len(value):
        c = value[i]
        if c == "\\" and i + 1 < len(value):
            current.append(value[i : i + 2])
            i += 2
            continue
        if c == sep:
            parts.append(_unescape("".join(current)))
            current = []
        else:
            current.append(c)
        i += 1
    parts.append(_unescape("".join(current)))
    return parts


def _unfold(stream: IO[str]) -> Iterator[tuple[int, str]]:
    """Logical lines with the number of the physical line they start on."""
    current: str | None = None
    start = 0
    for number, raw in enumerate(stream, 1):
        line = raw.rstrip("\r\n")
        if line[:1] in (" ", "\t") and current is not None:
            current += line[1:]
            continue
        if current is not None:
            yield start, current
        current, start = line, number
    if current is not None:
        yield start, current


def _parse(line: str) -> tuple[str, dict[str, list[str]], str]:
    head, sep, value = line.partition(":")
    if not sep:
        raise ValueError("no ':' between the property name and its value")
    parts = head.split(";")
    name = parts[0].split(".")[-1].upper()
    params: dict[str, list[str]] = {}
    for param in parts[1:]:
        key, eq, val = param.partition("=")
        if not eq:  # vCard 3.0 bare type: TEL;WORK;VOICE
            params.setdefault("TYPE", []).append(key.lower())
        else:
            params.setdefault(key.upper(), []).extend(v.strip('"').lower() for v in val.split(","))
    if "QUOTED-PRINTABLE" in [e.upper() for e in params.get("ENCODING", [])]:
        raise ValueError("quoted-printable values are vCard 2.1; export the cards as vCard 3.0 or 4.0")
    return name, params, value


def _type(params: dict[str, list[str]]) -> str:
    types = [t for t in params.get("TYPE", []) if t in _TYPE_WORDS and t not in ("pref", "voice", "internet", "text")]
    return types[0] if types else ""


def read_cards(path: str | os.PathLike[str], encoding: str = "utf-8") -> Iterator[tuple[int, list[str]]]:
    """``(line, cells)`` per card, cells laid out as :data:`TARGETS`; a broken card gives an error row."""
    try:
        stream = open(path, encoding=encoding, newline="")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        cells: list[str] | None = None
        counts = {"email": 0, "phone": 0, "address": 0}
        problem: str | None = None
        start = 0
        try:
            for number, line in _unfold(stream):
                if not line.strip():
                    continue
                upper = line.upper()
                if upper.startswith("BEGIN:VCARD"):
                    cells, counts, problem, start = [""] * len(_COLUMNS), {"email": 0, "phone": 0, "address": 0}, None, number
                    continue
                if cells is None:
                    raise ValidationError(f"{path}: line {number}: {line[:40]!r} is outside BEGIN:VCARD … END:VCARD; is this a vCard file?")
                if upper.startswith("END:VCARD"):
                    if problem:
                        yield start, ["\x00", problem]
                    else:
                        yield start, cells
                    cells = None
                    continue
                if problem:
                    continue
                try:
                    _apply(cells, counts, *_parse(line))
                except ValueError as exc:
                    problem = f"line {number}: {exc}"
        except UnicodeDecodeError as exc:
            raise ValidationError(f"{path}: cannot be read as {encoding} ({exc.reason}); nothing was imported") from None
        if cells is not None:
            yield start, ["\x00", f"line {start}: the card has no END:VCARD"]


def _apply(cells: list[str], counts: dict[str, int], name: str, params: dict[str, list[str]], value: str) -> None:
    def put(column: str, text: str) -> None:
        cells[_INDEX[column]] = text

    if name == "VERSION":
        if value.strip() not in ("3.0", "4.0"):
            raise ValueError(f"vCard version {value.strip()!r} is not supported; use 3.0 or 4.0")
    elif name == "FN":
        put("display_name", _unescape(value))
    elif name == "N":
        parts = _split(value, ";") + [""] * 5
        put("last_name", parts[0])
        put("first_name", " ".join(p for p in (parts[1], parts[2]) if p))
    elif name == "ORG":
        put("organization", _split(value, ";")[0])
    elif name == "NOTE":
        put("notes", _unescape(value))
    elif name == "CATEGORIES":
        put("tags", ",".join(_split(value, ",")))
    elif name == "UID":
        # our export's UID is the contact id with the database's identity; any other is an external id
        uid = _unescape(value).strip()
        if parse_id(uid) is not None:
            put("id", uid)
        elif not cells[_INDEX["external_id"]]:
            put("external_id", uid)
    elif name == "X-CRM-EXTERNAL-ID":
        put("external_id", _unescape(value))
    elif name == "X-CRM-ID" and not cells[_INDEX["id"]]:
        put("id", value.strip())  # written by older exports: a bare number, never matched
    elif name == "LANG":
        put("language", value.strip())
    elif name == "KIND":
        put("kind", "organization" if value.strip().lower() in ("org", "organization") else "person")
    elif name == "EMAIL":
        counts["email"] += 1
        if counts["email"] > MAX_EMAILS:
            raise ValueError(f"more than {MAX_EMAILS} e-mail addresses")
        put(f"email_{counts['email']}", _unescape(value))
        put(f"email_{counts['email']}.type", _type(params))
    elif name == "TEL":
        counts["phone"] += 1
        if counts["phone"] > MAX_PHONES:
            raise ValueError(f"more than {MAX_PHONES} phone numbers")
        number = _unescape(value)
        if number.lower().startswith("tel:"):
            number = number[4:]
        put(f"phone_{counts['phone']}", number.replace(";ext=", " ext. "))
        put(f"phone_{counts['phone']}.type", _type(params))
    elif name == "ADR":
        counts["address"] += 1
        if counts["address"] > MAX_ADDRESSES:
            raise ValueError(f"more than {MAX_ADDRESSES} postal addresses")
        parts = (_split(value, ";") + [""] * 7)[:7]
        n = counts["address"]
        extra = " ".join(p for p in parts[:2] if p)
        for part, text in zip(("extra", "street", "city", "region", "postal_code", "country"), [extra, *parts[2:]]):
            put(f"address_{n}.{part}", text.replace("\n", ", "))
        put(f"address_{n}.type", _type(params))


# -- writing ---------------------------------------------------------------------


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace(";", "\\;").replace(",", "\\,")


def _fold(line: str) -> str:
    """Fold at 75 octets, never inside a UTF-8 sequence (RFC 6350 3.2)."""
    out, current, size = [], [], 0
    limit = 75
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > limit:
            out.append("".join(current))
            current, size, limit = [], 0, 74  # continuation lines start with a space
        current.append(char)
        size += width
    out.append("".join(current))
    return "\r\n ".join(out) + "\r\n"


_TEL_TYPES = {"mobile": "cell", "work": "work", "home": "home", "fax": "fax", "other": "voice"}


def write_card(out: IO[str], record: ContactRecord, version: str = "4.0", *, database: str | None = None) -> None:
    """One contact as a vCard; with ``database`` (this database's UUID) its UID is the contact's id."""
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if version == "4.0" and record.kind == "organization":
        lines.append("KIND:org")
    lines.append(f"FN:{_escape(record.display_name)}")
    lines.append(f"N:{_escape(record.last_name)};{_escape(record.first_name)};;;")
    if record.organization_name:
        lines.append(f"ORG:{_escape(record.organization_name)}")
    elif record.kind == "organization":
        lines.append(f"ORG:{_escape(record.display_name)}")
    for e in record.emails:
        pref = (";PREF=1" if version == "4.0" else ",pref") if e.primary else ""
        lines.append(f"EMAIL;TYPE={e.kind if e.kind != 'other' else 'internet'}{pref}:{_escape(e.address)}")
    for p in record.phones:
        kind = _TEL_TYPES.get(p.kind, "voice")
        if version == "4.0":
            ext = f";ext={p.extension}" if p.extension else ""
            pref = ";PREF=1" if p.primary else ""
            lines.append(f"TEL;VALUE=uri;TYPE={kind}{pref}:tel:{p.number}{ext}")
        else:
            pref = ",pref" if p.primary else ""
            ext = f" ext. {p.extension}" if p.extension else ""
            lines.append(f"TEL;TYPE={kind}{pref}:{p.number}{ext}")
    for a in record.addresses:
        pref = (";PREF=1" if version == "4.0" else ",pref") if a.primary else ""
        parts = ["", _escape(a.extra), _escape(a.street), _escape(a.city), _escape(a.region), _escape(a.postal_code), _escape(a.country)]
        lines.append(f"ADR;TYPE={a.kind}{pref}:{';'.join(parts)}")
    if record.tags:
        lines.append("CATEGORIES:" + ",".join(_escape(t) for t in record.tags))
    if record.notes:
        lines.append(f"NOTE:{_escape(record.notes)}")
    if record.language and version == "4.0":
        lines.append(f"LANG:{record.language}")
    if database is not None:
        lines.append(f"UID:{format_id(database, record.id)}")
    if record.external_id:
        lines.append(f"{'X-CRM-EXTERNAL-ID' if database is not None else 'UID'}:{_escape(record.external_id)}")
    lines.append("END:VCARD")
    out.write("".join(_fold(line) for line in lines))


def vcard_rows_width() -> int:
    return len(_COLUMNS)


def error_row(cells: list[str]) -> str | None:
    """The problem of a card that could not be read, or ``None``."""
    return cells[1] if cells and cells[0] == "\x00" else None

