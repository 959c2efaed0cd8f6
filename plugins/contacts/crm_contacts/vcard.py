"""vCard 2.1, 3.0 and 4.0 (RFC 2426, RFC 6350): reading cards into import rows, writing contacts.

Reading unfolds continuation lines (and vCard 2.1's quoted-printable soft
line breaks), reads ``group.NAME;PARAM=…:value`` properties with escaped
values and quoted parameters, and turns each card into a row of a column
layout made for the file (:func:`read_file`): as many e-mail, phone and
address slots as its fullest card and one column per custom field it
carries. Cards then go through the same validation, matching and batched
writes as CSV rows.

Writing uses the standard properties where there is one (``N``'s five
parts, ``NICKNAME``, ``ORG`` with the department as its unit, ``TITLE``,
``BDAY``, ``URL``, ``KIND``, ``LANG``…) and ``X-CRM-…`` properties for the
rest (status and its date, owner, region, country, do-not-contact, custom
fields), so that importing an export gives the same contacts. The ``UID``
is the contact's id with this database's identity (``crm:<uuid>:<id>``, see
:mod:`crm_contacts.identity`) and the external id is ``X-CRM-EXTERNAL-ID``;
reading, a ``UID`` of that form is the id and any other is an external id
(a file from another address book). Text is
escaped as RFC 6350 says (a line break, CR, LF or both, is ``\\n``); lines
are folded at 75 octets (never inside a UTF-8 character) and end with CRLF.
"""

from __future__ import annotations

import os
import quopri
from collections.abc import Iterator
from typing import IO, Any

import attrs

from crm_contacts.identity import format_id, parse_id
from crm_contacts.mapping import Target, parse_target
from crm_contacts.records import ContactRecord
from crm_core.errors import ValidationError

__all__ = ["CardFile", "read_file", "write_card"]

#: the one-value columns of a card's row, each a mapping target
_SCALARS = (
    "id",
    "external_id",
    "kind",
    "display_name",
    "first_name",
    "last_name",
    "middle_name",
    "name_prefix",
    "name_suffix",
    "nickname",
    "organization",
    "title",
    "department",
    "birthday",
    "website",
    "notes",
    "tags",
    "language",
    "status",
    "status_changed_at",
    "owner",
    "region",
    "country",
    "do_not_contact",
)
_ADDRESS_PARTS = ("extra", "street", "city", "region", "postal_code", "country")
#: our own properties: name -> column
_X_CRM = {
    "X-CRM-STATUS": "status",
    "X-CRM-STATUS-CHANGED": "status_changed_at",
    "X-CRM-OWNER": "owner",
    "X-CRM-REGION": "region",
    "X-CRM-COUNTRY": "country",
    "X-CRM-DO-NOT-CONTACT": "do_not_contact",
    "X-CRM-LANGUAGE": "language",
}
_TYPE_WORDS = {"work", "home", "cell", "mobile", "fax", "voice", "internet", "pref", "other", "text", "video", "pager"}
_ENCODINGS = {"quoted-printable", "base64", "b", "8bit", "7bit"}
# Apple writes a birthday without a year as this year, with X-APPLE-OMIT-YEAR
_OMITTED_YEAR = "1604"


# -- reading ---------------------------------------------------------------------


@attrs.frozen
class Property:
    line: int
    name: str
    params: dict[str, list[str]]
    value: str


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


def _is_quoted_printable(line: str) -> bool:
    head = line.split(":", 1)[0].upper()
    return "QUOTED-PRINTABLE" in head


def _unfold(stream: IO[str]) -> Iterator[tuple[int, str]]:
    """Logical lines with the number of the physical line they start on.

    A line starting with a space or tab continues the one before (RFC 6350
    3.2); a quoted-printable value ending with ``=`` continues on the next
    line whatever it starts with (vCard 2.1's soft line break).
    """
    current: str | None = None
    start = 0
    soft = False
    for number, raw in enumerate(stream, 1):
        line = raw.rstrip("\r\n")
        if current is not None and soft:
            current = current[:-1] + line
            soft = current.endswith("=") and _is_quoted_printable(current)
            continue
        if line[:1] in (" ", "\t") and current is not None:
            current += line[1:]
            continue
        if current is not None:
            yield start, current
        current, start = line, number
        soft = line.endswith("=") and _is_quoted_printable(line)
    if current is not None:
        yield start, current


def _caret_decode(value: str) -> str:
    """RFC 6868: ``^n`` is a line break, ``^'`` a double quote, ``^^`` a caret."""
    return value.replace("^^", "\x00").replace("^n", "\n").replace("^'", '"').replace("\x00", "^")


def _head_and_value(line: str) -> tuple[str, str]:
    """Split at the first ``:`` outside a quoted parameter value."""
    quoted = False
    for i, c in enumerate(line):
        if c == '"':
            quoted = not quoted
        elif c == ":" and not quoted:
            return line[:i], line[i + 1 :]
    raise ValueError("no ':' between the property name and its value")


def _split_outside_quotes(text: str, separator: str) -> list[str]:
    """``text`` split at ``separator``, except inside double quotes (which are kept)."""
    out, current, quoted = [], [], False
    for c in text:
        if c == '"':
            quoted = not quoted
            current.append(c)
        elif c == separator and not quoted:
            out.append("".join(current))
            current = []
        else:
            current.append(c)
    out.append("".join(current))
    return out


def _parse(line: str, number: int, encoding: str) -> Property:
    head, value = _head_and_value(line)
    pieces = _split_outside_quotes(head, ";")
    name = pieces[0].split(".")[-1].upper()
    params: dict[str, list[str]] = {}
    for param in pieces[1:]:
        key, eq, val = param.partition("=")
        if not eq:  # vCard 2.1/3.0 bare parameter: TEL;WORK;VOICE, NOTE;QUOTED-PRINTABLE
            bare = key.strip().lower()
            params.setdefault("ENCODING" if bare in _ENCODINGS else "TYPE", []).append(bare)
            continue
        values = []
        for item in _split_outside_quotes(val, ","):
            values.append(
                _caret_decode(item[1:-1]) if len(item) > 1 and item[0] == item[-1] == '"' else _caret_decode(item)
            )
        params.setdefault(key.strip().upper(), []).extend(values)
    encodings = {e.lower() for e in params.get("ENCODING", [])}
    if "quoted-printable" in encodings:
        charset = (params.get("CHARSET") or [encoding])[0]
        try:
            value = quopri.decodestring(value.encode("utf-8")).decode(charset)
        except LookupError:
            raise ValueError(f"CHARSET={charset} is not an encoding Python knows") from None
        except UnicodeDecodeError:
            raise ValueError(f"the quoted-printable value cannot be read as {charset}") from None
    return Property(number, name, params, value)


def _type(params: dict[str, list[str]]) -> str:
    types = [t.lower() for t in params.get("TYPE", [])]
    types = [t for t in types if t in _TYPE_WORDS and t not in ("pref", "voice", "internet", "text")]
    return types[0] if types else ""


def _pref(params: dict[str, list[str]]) -> int:
    """The property's preference: 1 is most preferred, 101 means none (RFC 6350 5.3)."""
    for value in params.get("PREF", []):
        if value.strip().isdigit():
            return int(value)
    if "pref" in [t.lower() for t in params.get("TYPE", [])]:
        return 1
    return 101


def _cards(path: str | os.PathLike[str], encoding: str) -> Iterator[tuple[int, list[Property] | str]]:
    """``(first line, properties)`` per card, or ``(first line, problem)`` for one that cannot be read."""
    try:
        stream = open(path, encoding=encoding, newline="")
    except OSError as exc:
        raise ValidationError(f"cannot read {path}: {exc.strerror}") from None
    with stream:
        props: list[Property] | None = None
        problem: str | None = None
        start = 0
        try:
            for number, line in _unfold(stream):
                if not line.strip():
                    continue
                upper = line.upper()
                if upper.startswith("BEGIN:VCARD"):
                    props, problem, start = [], None, number
                    continue
                if props is None:
                    raise ValidationError(
                        f"{path}: line {number}: {line[:40]!r} is outside BEGIN:VCARD … END:VCARD; is this a vCard file?"
                    )
                if upper.startswith("END:VCARD"):
                    yield start, (problem if problem else props)
                    props = None
                    continue
                if problem:
                    continue
                try:
                    prop = _parse(line, number, encoding)
                    if prop.name == "VERSION" and prop.value.strip() not in ("2.1", "3.0", "4.0"):
                        raise ValueError(f"vCard version {prop.value.strip()!r} is not supported; use 2.1, 3.0 or 4.0")
                    props.append(prop)
                except ValueError as exc:
                    problem = f"line {number}: {exc}"
        except UnicodeDecodeError as exc:
            raise ValidationError(
                f"{path}: cannot be read as {encoding} ({exc.reason}); nothing was imported"
            ) from None
        if props is not None:
            yield start, f"line {start}: the card has no END:VCARD"


@attrs.frozen
class CardFile:
    """A vCard file laid out as import rows: the columns' targets and the rows."""

    columns: tuple[str, ...]
    targets: tuple[Target | None, ...]
    path: str
    encoding: str

    @property
    def width(self) -> int:
        return len(self.columns)

    def rows(self) -> Iterator[tuple[int, list[str]]]:
        """``(line, cells)`` per card; a card that cannot be read gives ``(line, ["\\x00", problem])``."""
        index = {c: i for i, c in enumerate(self.columns)}
        for start, card in _cards(self.path, self.encoding):
            if isinstance(card, str):
                yield start, ["\x00", card]
                continue
            cells = [""] * len(self.columns)
            for column, value in _card_values(card).items():
                cells[index[column]] = value
            yield start, cells


def read_file(path: str | os.PathLike[str], encoding: str = "utf-8") -> CardFile:
    """The layout of a vCard file: one pass counts each card's e-mails, phones, addresses and custom fields."""
    counts = {"email": 1, "phone": 1, "address": 1}
    custom: set[str] = set()
    for _, card in _cards(path, encoding):
        if isinstance(card, str):
            continue
        names = [p.name for p in card]
        counts["email"] = max(counts["email"], names.count("EMAIL"))
        counts["phone"] = max(counts["phone"], names.count("TEL"))
        counts["address"] = max(counts["address"], names.count("ADR"))
        custom.update(_custom_name(p) for p in card if p.name == "X-CRM-CUSTOM")
    columns = list(_SCALARS)
    for n in range(1, counts["email"] + 1):
        columns += [f"email_{n}", f"email_{n}.type"]
    for n in range(1, counts["phone"] + 1):
        columns += [f"phone_{n}", f"phone_{n}.type"]
    for n in range(1, counts["address"] + 1):
        columns += [f"address_{n}.{p}" for p in (*_ADDRESS_PARTS, "type")]
    targets = [parse_target(c) for c in columns]
    for name in sorted(custom):
        columns.append(f"custom.{name}")
        targets.append(Target("custom", part=name))
    return CardFile(tuple(columns), tuple(targets), os.fspath(path), encoding)


def _custom_name(prop: Property) -> str:
    names = prop.params.get("X-NAME") or [""]
    return names[0]


def _text(prop: Property) -> str:
    return _unescape(prop.value)


def _birthday(prop: Property) -> str:
    value = prop.value.strip()
    omit = (prop.params.get("X-APPLE-OMIT-YEAR") or [""])[0]
    if omit and value.startswith(omit):
        return "--" + value[len(omit) :].lstrip("-")
    return value


def _card_values(card: list[Property]) -> dict[str, str]:
    """One card's values by column (see :func:`read_file`)."""
    out: dict[str, str] = {}
    emails: list[tuple[int, str, str]] = []
    phones: list[tuple[int, str, str]] = []
    addresses: list[tuple[int, list[str], str]] = []
    languages: list[tuple[int, str]] = []
    org: list[str] | None = None
    is_org = False
    for prop in card:
        name = prop.name
        if name == "FN":
            out["display_name"] = _text(prop)
        elif name == "N":
            parts = (_split(prop.value, ";") + [""] * 5)[:5]
            # a part with several values ("Jr.,M.D.") is kept as written: one name
            out.update(zip(("last_name", "first_name", "middle_name", "name_prefix", "name_suffix"), parts))
        elif name == "NICKNAME":
            out["nickname"] = ", ".join(_split(prop.value, ","))
        elif name == "ORG":
            org = _split(prop.value, ";")
        elif name == "TITLE":
            out["title"] = _text(prop)
        elif name == "BDAY":
            out["birthday"] = _birthday(prop)
        elif name == "URL" and "website" not in out:
            out["website"] = _text(prop)
        elif name == "NOTE":
            out["notes"] = _text(prop)
        elif name == "CATEGORIES":
            out["tags"] = ",".join(_split(prop.value, ","))
        elif name == "UID":
            # our export's UID is the contact id with the database's identity; any other is an external id
            uid = _text(prop).strip()
            if parse_id(uid) is not None:
                out["id"] = uid
            else:
                out.setdefault("external_id", uid)
        elif name == "X-CRM-EXTERNAL-ID":
            out["external_id"] = _text(prop)
        elif name == "X-CRM-ID":
            out.setdefault("id", prop.value.strip())  # written by older exports: a bare number, never matched
        elif name == "LANG":
            languages.append((_pref(prop.params), prop.value.strip()))
        elif name in ("KIND", "X-ADDRESSBOOKSERVER-KIND"):
            is_org = prop.value.strip().lower() in ("org", "organization")
        elif name == "X-ABSHOWAS":
            is_org = is_org or prop.value.strip().upper() == "COMPANY"
        elif name in _X_CRM:
            out[_X_CRM[name]] = _text(prop)
        elif name == "X-CRM-CUSTOM":
            out[f"custom.{_custom_name(prop)}"] = _text(prop)
        elif name == "EMAIL":
            emails.append((_pref(prop.params), _text(prop), _type(prop.params)))
        elif name == "TEL":
            number = _text(prop)
            if number.lower().startswith("tel:"):
                number = number[4:].replace(";ext=", " ext. ")
            phones.append((_pref(prop.params), number, _type(prop.params)))
        elif name == "ADR":
            parts = (_split(prop.value, ";") + [""] * 7)[:7]
            extra = " ".join(p for p in parts[:2] if p)
            addresses.append(
                (_pref(prop.params), [v.replace("\n", ", ") for v in (extra, *parts[2:])], _type(prop.params))
            )
    if is_org:
        out["kind"] = "organization"
    if org is not None:
        name, units = org[0], [u for u in org[1:] if u]
        if is_org:
            # an organization's ORG is its own name, never an organization it belongs to
            out.setdefault("display_name", name)
        elif name:
            out["organization"] = name
        if units:
            out["department"] = ", ".join(units)
    if languages:
        out["language"] = min(languages, key=lambda item: item[0])[1]  # LANG;PREF=1 wins
    # the preferred one first: the import makes the first of each the primary
    for n, (_, address, kind) in enumerate(sorted(emails, key=lambda item: item[0]), 1):
        out[f"email_{n}"], out[f"email_{n}.type"] = address, kind
    for n, (_, number, kind) in enumerate(sorted(phones, key=lambda item: item[0]), 1):
        out[f"phone_{n}"], out[f"phone_{n}.type"] = number, kind
    for n, (_, parts, kind) in enumerate(sorted(addresses, key=lambda item: item[0]), 1):
        for part, value in zip(_ADDRESS_PARTS, parts):
            out[f"address_{n}.{part}"] = value
        out[f"address_{n}.type"] = kind
    return out


# -- writing ---------------------------------------------------------------------


def _escape(value: str) -> str:
    text = value.replace("\\", "\\\\").replace("\r\n", "\n").replace("\r", "\n")
    return text.replace("\n", "\\n").replace(";", "\\;").replace(",", "\\,")


def _param(value: str) -> str:
    """A parameter value, quoted and caret-encoded (RFC 6868) so that any text fits."""
    return '"' + value.replace("^", "^^").replace("\r\n", "\n").replace("\n", "^n").replace('"', "^'") + '"'


def _fold(line: str) -> str:
    """Fold at 75 octets, never inside a UTF-8 sequence (RFC 6350 3.2)."""
    out: list[str] = []
    current: list[str] = []
    size = 0
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


def _bday(value: str, version: str) -> str:
    if version == "4.0":
        return (
            "BDAY:" + value.replace("-", "") if not value.startswith("--") else "BDAY:--" + value[2:].replace("-", "")
        )
    if value.startswith("--"):  # 3.0 has no date without a year: Apple's way
        return f"BDAY;X-APPLE-OMIT-YEAR={_OMITTED_YEAR}:{_OMITTED_YEAR}-{value[2:]}"
    return f"BDAY:{value}"


def _iso(value: Any) -> str:
    return value.isoformat() + ("+00:00" if value.tzinfo is None else "")


def write_card(out: IO[str], record: ContactRecord, version: str = "4.0", *, database: str | None = None) -> None:
    """One contact as a vCard; with ``database`` (this database's UUID) its UID is the contact's id."""
    v4 = version == "4.0"
    lines = ["BEGIN:VCARD", f"VERSION:{version}"]
    if record.kind == "organization":
        # 3.0 has no KIND: Apple's and Google's own properties say "company"
        lines += ["KIND:org"] if v4 else ["X-ADDRESSBOOKSERVER-KIND:org", "X-ABShowAs:COMPANY"]
    lines.append(f"FN:{_escape(record.display_name)}")
    name_parts = (record.last_name, record.first_name, record.middle_name, record.name_prefix, record.name_suffix)
    lines.append("N:" + ";".join(_escape(p or "") for p in name_parts))
    if record.nickname:
        lines.append(f"NICKNAME:{_escape(record.nickname)}")
    org_name = record.display_name if record.kind == "organization" else record.organization_name
    if org_name or record.department:
        lines.append(f"ORG:{_escape(org_name or '')}" + (f";{_escape(record.department)}" if record.department else ""))
    if record.title:
        lines.append(f"TITLE:{_escape(record.title)}")
    if record.birthday:
        lines.append(_bday(record.birthday, version))
    if record.website:
        lines.append(f"URL:{_escape(record.website)}")
    for e in record.emails:
        pref = (";PREF=1" if v4 else ",pref") if e.primary else ""
        lines.append(f"EMAIL;TYPE={e.kind if e.kind != 'other' else 'internet'}{pref}:{_escape(e.address)}")
    for p in record.phones:
        kind = _TEL_TYPES.get(p.kind, "voice")
        if v4:
            pref = ";PREF=1" if p.primary else ""
            if p.verified:
                ext = f";ext={p.extension}" if p.extension else ""
                lines.append(f"TEL;VALUE=uri;TYPE={kind}{pref}:tel:{p.number}{ext}")
            else:  # kept as typed: not a tel: URI
                lines.append(f"TEL;VALUE=text;TYPE={kind}{pref}:{_escape(p.number)}")
        else:
            pref = ",pref" if p.primary else ""
            ext = f" ext. {p.extension}" if p.extension else ""
            lines.append(f"TEL;TYPE={kind}{pref}:{_escape(p.number + ext)}")
    for a in record.addresses:
        pref = (";PREF=1" if v4 else ",pref") if a.primary else ""
        parts = [
            "",
            _escape(a.extra),
            _escape(a.street),
            _escape(a.city),
            _escape(a.region),
            _escape(a.postal_code),
            _escape(a.country),
        ]
        lines.append(f"ADR;TYPE={a.kind}{pref}:{';'.join(parts)}")
    if record.tags:
        lines.append("CATEGORIES:" + ",".join(_escape(t) for t in record.tags))
    if record.notes:
        lines.append(f"NOTE:{_escape(record.notes)}")
    if record.language:
        lines.append(f"LANG:{_escape(record.language)}" if v4 else f"X-CRM-LANGUAGE:{_escape(record.language)}")
    if database is not None:
        lines.append(f"UID:{format_id(database, record.id)}")
    if record.external_id:
        lines.append(f"{'X-CRM-EXTERNAL-ID' if database is not None else 'UID'}:{_escape(record.external_id)}")
    lines.append(f"X-CRM-STATUS:{record.status}")
    if record.status_changed_at:
        lines.append(f"X-CRM-STATUS-CHANGED:{_escape(_iso(record.status_changed_at))}")
    for prop, value in (
        ("X-CRM-OWNER", record.owner),
        ("X-CRM-REGION", record.region),
        ("X-CRM-COUNTRY", record.country),
    ):
        if value:
            lines.append(f"{prop}:{_escape(value)}")
    if record.do_not_contact:
        lines.append("X-CRM-DO-NOT-CONTACT:TRUE")
    for key, value in sorted(record.custom.items()):
        lines.append(f"X-CRM-CUSTOM;X-NAME={_param(key)}:{_escape(value)}")
    lines.append("END:VCARD")
    out.write("".join(_fold(line) for line in lines))
